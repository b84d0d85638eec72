"""The value stage end to end: run_value, the report section, plots and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.report.section import Section
from segmentum.value import plots
from segmentum.value.cost import CostRules, cost_to_serve
from segmentum.value.report import report_section
from segmentum.value.rfm import assign_deciles, decile_table, rfm_scores
from segmentum.value.stage import PER_CUSTOMER_COLUMNS, ValueConfig, ValueResult, run_value


@pytest.fixture(scope="module")
def cdnow_tx(shared_data: Path) -> pd.DataFrame:
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    tx["margin"] = tx["dollar_value"] * 0.3
    tx["channel"] = np.where(tx.index % 3 == 0, "phone", "web")
    return tx


@pytest.fixture(scope="module")
def result(cdnow_tx: pd.DataFrame) -> ValueResult:
    events = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "date": ["1997-02-01"] * 4,
            "event_type": ["support", "support", "visit", "support"],
        }
    )
    customers = pd.DataFrame({"customer_id": [1, 2], "cac": [10.0, 20.0]})
    cfg = ValueConfig(
        holdout_periods=39,
        cost=CostRules(
            cost_per_order=1.0,
            cost_per_support_contact=5.0,
            channel_costs={"phone": 3.0},
            acquisition_cost_column="cac",
        ),
    )
    return run_value(
        cdnow_tx,
        customer_id="customer_id",
        timestamp="date",
        amount="dollar_value",
        margin="margin",
        channel="channel",
        events=events,
        customers=customers,
        config=cfg,
    )


def test_per_customer_has_every_column(result: ValueResult) -> None:
    pc = result.per_customer
    assert list(pc.columns) == ["customer_id", *PER_CUSTOMER_COLUMNS]
    assert len(pc) == 2357 and pc["customer_id"].is_unique
    assert pc["value_decile"].between(1, 10).all()
    assert (pc.groupby("value_decile")["revenue"].min().diff().dropna() <= 0).all()
    assert pc["p_alive"].between(0, 1).all()
    assert np.isfinite(pc[["clv", "profit_clv", "expected_spend"]].to_numpy()).all()
    c1 = pc.set_index("customer_id").loc[1]
    # 4 orders × 1 + 2 support × 5 + acquisition 10 + phone orders × 3
    phone = 3.0 * 2  # rows 0 and 3 of the sample belong to customer 1
    assert c1["cost_to_serve"] == pytest.approx(4 + 10 + 10 + phone)
    assert c1["profit"] == pytest.approx(c1["margin"] - c1["cost_to_serve"])
    assert result.warnings == []


def test_deciles_validation_and_summary(result: ValueResult) -> None:
    d = result.deciles
    assert d["customers"].sum() == 2357
    assert d["revenue_cum_share"].iloc[-1] == pytest.approx(1.0)
    assert d["revenue_share"].is_monotonic_decreasing
    v = result.validation.set_index("calibration_frequency")
    assert v.loc["all", "actual_total"] == 1882
    assert v.loc["all", "predicted_total"] == pytest.approx(1653.4, abs=0.5)
    json.dumps(result.summary)  # serialisable
    assert result.summary["purchase_model"]["name"] == "BG/NBD"
    assert set(result.models) == {"purchase", "purchase_calibration", "spend"}
    assert result.tracking is not None and result.tracking["actual"].is_monotonic_increasing


def test_report_section(result: ValueResult) -> None:
    sec = report_section(result)
    assert isinstance(sec, Section) and sec.key == "value"
    kinds = [b.kind for b in sec.blocks]
    assert kinds.count("figure") == 5 and "table" in kinds
    texts = " ".join(b.content for b in sec.blocks if b.kind == "text")
    assert "top decile" in texts and "bottom decile" in texts
    assert "51 %" in sec.summary


def test_pareto_nbd_choice_and_no_costs(cdnow_tx: pd.DataFrame) -> None:
    r = run_value(
        cdnow_tx,
        customer_id="customer_id",
        timestamp="date",
        amount="dollar_value",
        config=ValueConfig(model="pareto_nbd", holdout_periods=0, decile_by="clv"),
    )
    assert r.summary["purchase_model"]["name"] == "Pareto/NBD"
    assert "cost_to_serve" not in r.per_customer and "margin" not in r.per_customer
    assert "cost_to_serve" in r.summary["skipped"] and "margin" in r.summary["skipped"]
    assert any("revenue-based" in w for w in r.warnings)
    assert r.validation.empty
    top = r.per_customer.loc[r.per_customer["value_decile"] == 1, "clv"].min()
    assert top >= r.per_customer.loc[r.per_customer["value_decile"] == 2, "clv"].max()


def test_no_repeat_buyers_warns_and_skips() -> None:
    n = 1203
    tx = pd.DataFrame(
        {
            "cid": np.arange(n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 200, "D"),
            "amt": np.linspace(5, 50, n),
        }
    )
    r = run_value(
        tx, customer_id="cid", timestamp="ts", amount="amt", config=ValueConfig(model="pareto_nbd")
    )
    assert "Pareto/NBD needs repeat purchases: 0 of 1,203 customers bought twice" in " ".join(
        r.warnings
    )
    assert "clv" not in r.per_customer and "p_alive" not in r.per_customer
    assert {"value_decile", "rfm_score", "revenue"} <= set(r.per_customer.columns)
    assert "clv" in r.summary["skipped"]
    sec = report_section(r)
    assert any("needs repeat purchases" in w for w in sec.warnings)


def test_config_choices_are_closed() -> None:
    tx = pd.DataFrame({"c": [1], "t": ["2024-01-01"], "a": [1.0]})
    with pytest.raises(ValueError, match="bgnbd"):
        run_value(tx, customer_id="c", timestamp="t", amount="a", config=ValueConfig(model="x"))  # type: ignore[arg-type]


def test_rfm_and_deciles_units() -> None:
    s = pd.DataFrame(
        {
            "T": [10.0] * 6,
            "recency": [9, 8, 1, 0, 5, 0],
            "frequency": [3, 2, 1, 0, 2, 0],
            "revenue": [90, 60, 20, 10, 50, 5],
        }
    )
    sc = rfm_scores(s, bins=3)
    assert sc["recency_score"].tolist()[0] == 3 and sc["recency_score"].tolist()[3] == 1
    assert sc["frequency_score"].iloc[3] == sc["frequency_score"].iloc[5]  # ties share a score
    dec = assign_deciles(pd.Series(np.arange(100.0)))
    assert dec.iloc[-1] == 1 and dec.iloc[0] == 10 and (dec.value_counts() == 10).all()
    table = decile_table(pd.DataFrame({"value_decile": dec, "revenue": np.arange(100.0)}))
    assert table["revenue_cum_share"].iloc[-1] == pytest.approx(1)
    with pytest.raises(ValueError, match="between 2 and 9"):
        rfm_scores(s, bins=12)


def test_cost_rules_warn_when_inputs_missing() -> None:
    tx = pd.DataFrame(
        {"c": [1, 1, 2], "t": ["2024-01-01"] * 3, "a": [1.0, 2.0, 3.0], "k": [0.5, 0.5, 1]}
    )
    out, warns = cost_to_serve(
        tx,
        CostRules(
            cost_per_order=2,
            channel_costs={"x": 1},
            cost_columns=("k", "nope"),
            cost_per_support_contact=3,
        ),
        customer_id="c",
        timestamp="t",
    )
    assert out.set_index("c")["cost_to_serve"].to_dict() == {1: 5.0, 2: 3.0}
    assert len(warns) == 3


def test_plots_build(result: ValueResult) -> None:
    from segmentum.value.rfm import rfm_grid

    figs = [
        plots.decile_chart(result.deciles),
        plots.rfm_heatmap(rfm_grid(result.per_customer)),
        plots.clv_distribution(result.per_customer),
        plots.conditional_expectations(result.validation),
        plots.tracking_plot(result.tracking),
    ]
    for f in figs:
        assert f.to_dict()["data"]


def test_docstring_examples_run() -> None:
    import doctest

    import segmentum.value.models.bgbb
    import segmentum.value.models.bgnbd
    import segmentum.value.models.gamma_gamma
    import segmentum.value.models.pareto_nbd
    import segmentum.value.models.sbg
    import segmentum.value.rfm
    import segmentum.value.summary

    for mod in (
        segmentum.value.summary,
        segmentum.value.rfm,
        segmentum.value.models.bgnbd,
        segmentum.value.models.pareto_nbd,
        segmentum.value.models.gamma_gamma,
        segmentum.value.models.sbg,
        segmentum.value.models.bgbb,
    ):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, mod.__name__


def test_pipeline_style_inputs(cdnow_tx: pd.DataFrame) -> None:
    """What the run pipeline passes: renamed events/customers tables, a dict of cost rules."""
    tx = cdnow_tx.rename(columns={"customer_id": "cust"}).assign(line_cost=0.5)
    events = pd.DataFrame(
        {
            "customer_id": ["1", "1"],
            "timestamp": ["1997-02-01", "1999-01-01"],
            "event_type": ["support", "support"],
        }
    )
    customers = pd.DataFrame({"customer_id": ["1", "2"], "acquisition_cost": [10.0, 20.0]})
    cfg = ValueConfig(**{"holdout_periods": 0, "cost": {"cost_per_support_contact": 5.0}})
    r = run_value(
        tx,
        customer_id="cust",
        timestamp="date",
        amount="dollar_value",
        events=events,
        customers=customers,
        config=cfg,
        cost="line_cost",
    )
    c = r.per_customer.set_index("cust")["cost_to_serve"]
    # 4 lines × 0.5 + one support contact before the analysis date + acquisition 10
    assert c.loc[1] == pytest.approx(2.0 + 5.0 + 10.0)
    assert c.loc[3] == pytest.approx(0.5 * (cdnow_tx["customer_id"] == 3).sum())


def test_weakly_identified_parameters_are_named_not_left_as_silent_nan(
    cdnow_tx: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on large data without churn a fit can end off the bounds with a singular information
    # matrix (seen on 2 M customers: a = 1e-5, r and alpha huge); its NaN standard errors
    # must reach the report as words
    from segmentum.value.models.bgnbd import BetaGeoModel

    real_fit = BetaGeoModel.fit

    def singular_fit(self: BetaGeoModel, df: pd.DataFrame) -> BetaGeoModel:
        real_fit(self, df)
        self.standard_errors_ = {**self.standard_errors_, "a": float("nan")}
        return self

    monkeypatch.setattr(BetaGeoModel, "fit", singular_fit)
    r = run_value(
        cdnow_tx,
        customer_id="customer_id",
        timestamp="date",
        amount="dollar_value",
        config=ValueConfig(holdout_periods=0),
    )
    assert any("BG/NBD: the data barely identify a " in w for w in r.warnings), r.warnings


def test_clv_histogram_is_binned_whatever_the_number_of_customers() -> None:
    rng = np.random.default_rng(0)
    many = pd.DataFrame({"clv": rng.gamma(2.0, 50.0, 100_000)})
    bars = plots.clv_distribution(many, bins=40).data[0]
    assert bars.type == "bar" and len(bars.y) == 40
    assert int(np.sum(bars.y)) == 100_000  # every customer in a bar
    # the bars tile the range: each is its bin's width, centred on it
    assert np.isclose(np.sum(bars.width), many["clv"].max() - many["clv"].min())
    assert np.allclose(np.asarray(bars.x) - np.asarray(bars.width) / 2, bars.customdata[:, 0])
    empty = plots.clv_distribution(pd.DataFrame({"clv": [np.nan]})).data[0]
    assert len(empty.y) == 0
