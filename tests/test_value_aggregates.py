"""The value figures from aggregates (no Spark): holdout cells, tracking day counts, the
report's tables, and a per-customer table fetched only when read.

A Spark run brings only these small tables to the driver, so each is checked here against
the per-customer computation it replaces.
"""

from __future__ import annotations

import datetime as dt
import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.report.section import Section
from segmentum.value import aggregates as agg_module
from segmentum.value import validation as validation_module
from segmentum.value.aggregates import (
    clv_histogram,
    complete_rfm_grid,
    decile_profile,
    histogram_edges,
    value_aggregates,
)
from segmentum.value.models import BetaGeoModel
from segmentum.value.report import report_section
from segmentum.value.rfm import rfm_grid
from segmentum.value.stage import ValueConfig, ValueResult, run_value
from segmentum.value.steps import OnDemand
from segmentum.value.summary import summarize
from segmentum.value.validation import (
    holdout_cells,
    holdout_metrics,
    holdout_metrics_from_cells,
    holdout_validation,
    holdout_validation_from_cells,
    tracking_counts_sql,
    tracking_data,
    tracking_from_counts,
)

CAL_END, END = dt.date(1997, 9, 30), dt.date(1998, 6, 30)


@pytest.fixture(scope="module")
def cdnow_tx(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")


@pytest.fixture(scope="module")
def holdout(cdnow_tx: pd.DataFrame) -> tuple[pd.DataFrame, BetaGeoModel]:
    cal = summarize(
        cdnow_tx, amount="dollar_value", calibration_end=CAL_END, holdout_end=END, time_unit="W"
    )
    return cal, BetaGeoModel().fit(cal)


@pytest.fixture(scope="module")
def result(cdnow_tx: pd.DataFrame) -> ValueResult:
    from segmentum.value.cost import CostRules

    cfg = ValueConfig(holdout_periods=39, cost=CostRules(cost_per_order=8.0))
    return run_value(
        cdnow_tx, customer_id="customer_id", timestamp="date", amount="dollar_value", config=cfg
    )


def test_doctests_of_the_aggregate_helpers() -> None:
    for module in (agg_module, validation_module):
        failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failed == 0, module.__name__


def test_holdout_from_cells_is_the_per_customer_holdout(holdout) -> None:  # type: ignore[no-untyped-def]
    cal, model = holdout
    cells = holdout_cells(cal)
    assert len(cells) < len(cal) / 2 and cells["customers"].sum() == len(cal)
    duration = float(cal["duration_holdout"].iloc[0])
    pred = model.expected_purchases(duration, cells).to_numpy()
    want = holdout_validation(model, cal)
    got = holdout_validation_from_cells(cells, pred)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert want["calibration_frequency"].tolist()[-2:] == ["7+", "all"]
    metrics, from_cells = holdout_metrics(model, cal), holdout_metrics_from_cells(cells, pred)
    assert set(from_cells) == set(metrics)
    for name, value in metrics.items():
        assert from_cells[name] == pytest.approx(value, rel=1e-12), name
    # constant predictions: no correlation, as per customer
    flat = holdout_metrics_from_cells(cells, np.full(len(cells), 0.5))
    assert np.isnan(flat["correlation"]) and flat["mae"] > 0
    with pytest.raises(ValueError, match="predicted has 3 values"):
        holdout_validation_from_cells(cells, pred[:3])
    with pytest.raises(ValueError, match=r"holdout_cells needs \['frequency_holdout'\]"):
        holdout_cells(cal.drop(columns="frequency_holdout"))


def _tracking_per_customer(tx: pd.DataFrame, model: BetaGeoModel) -> pd.DataFrame:
    """The tracking curves counted customer by customer (the definition, no SQL)."""
    days = pd.DataFrame(
        {"cid": tx["customer_id"], "day": pd.to_datetime(tx["date"]).dt.normalize()}
    ).drop_duplicates()
    days = days[days["day"] <= pd.Timestamp(END)]
    first = days.groupby("cid")["day"].transform("min")
    days = days[first <= pd.Timestamp(CAL_END)].assign(first=first)
    origin = days["first"].min()
    t0 = (days.drop_duplicates("cid")["first"] - origin).dt.days.to_numpy() / 7
    repeat_t = (days.loc[days["day"] > days["first"], "day"] - origin).dt.days.to_numpy() / 7
    horizon = (pd.Timestamp(END) - origin).days / 7
    grid = np.append(np.arange(1, int(horizon) + 1, dtype=float), horizon)
    grid = np.unique(grid)
    actual = np.array([(repeat_t <= g).sum() for g in grid], dtype=float)
    expected = np.array(
        [model.expected_purchases_up_to(np.clip(g - t0, 0, None)).sum() for g in grid]
    )
    return pd.DataFrame({"period": grid, "actual": actual, "expected": expected})


def test_tracking_from_day_counts_is_the_per_customer_tracking(cdnow_tx, holdout) -> None:  # type: ignore[no-untyped-def]
    _, model = holdout
    got = tracking_data(
        cdnow_tx, model, customer_id="customer_id", timestamp="date",
        calibration_end=CAL_END, end=END,
    )  # fmt: skip
    want = _tracking_per_customer(cdnow_tx, model)
    np.testing.assert_allclose(got["period"], want["period"], rtol=1e-12)
    np.testing.assert_array_equal(got["actual"], want["actual"])
    np.testing.assert_allclose(got["expected"], want["expected"], rtol=1e-10)
    cal = got["calibration"].to_numpy()
    assert (got["date"][cal] <= pd.Timestamp(CAL_END)).all() and cal[0] and not cal[-1]
    assert got["actual"].iloc[-1] > 1_000
    # the day counts in any order give the same table
    import duckdb

    con = duckdb.connect()
    con.register("tx", cdnow_tx)
    sql = tracking_counts_sql(
        "tx", customer_id="customer_id", timestamp="date", calibration_end=CAL_END, end=END
    )
    counts = con.execute(sql).df()
    con.close()
    assert int(counts.loc[~counts["is_repeat"], "n"].sum()) == cdnow_tx["customer_id"].nunique()
    shuffled = counts.sample(frac=1.0, random_state=3)
    again = tracking_from_counts(shuffled, model, calibration_end=CAL_END, end=END)
    pd.testing.assert_frame_equal(again, got)


def test_value_aggregates_are_the_per_customer_figures(result: ValueResult) -> None:
    pc = result.per_customer
    agg = result.aggregates
    assert agg is not None and agg.columns == tuple(pc.columns)
    # per decile: the means of the customers in it
    prof = agg.decile_profile.set_index("decile")
    for decile, rows in pc.groupby("value_decile"):
        p = prof.loc[decile]
        assert p["customers"] == len(rows)
        assert p["frequency_mean"] == pytest.approx(rows["frequency"].mean(), rel=1e-12)
        assert p["revenue_mean"] == pytest.approx(rows["revenue"].mean(), rel=1e-12)
        want = rows["expected_purchases"].mean()
        assert p["expected_purchases_mean"] == pytest.approx(want, rel=1e-12)
        assert p["unprofitable"] == (rows["profit"] < 0).sum()
    assert prof["unprofitable"].sum() == agg.totals["unprofitable_customers"] > 0
    assert agg.totals["transactions"] == pc["n_transactions"].sum()
    assert agg.totals["clv_total"] == pytest.approx(pc["clv"].sum(), rel=1e-12)
    assert result.summary["clv_total"] == pytest.approx(agg.totals["clv_total"], rel=1e-12)
    pd.testing.assert_frame_equal(agg.rfm_grid, rfm_grid(pc, bins=5))
    counts, edges = np.histogram(pc["clv"], bins=50)
    hist = agg.clv_histogram
    assert hist is not None
    np.testing.assert_array_equal(hist["customers"], counts)
    np.testing.assert_array_equal(hist["left"], edges[:-1])
    np.testing.assert_array_equal(hist["right"], edges[1:])


def test_rfm_grid_from_cell_counts_and_histogram_edges() -> None:
    rng = np.random.default_rng(4)
    pc = pd.DataFrame(
        {
            "recency_score": rng.integers(1, 5, 300),  # score 5 never occurs
            "frequency_score": rng.integers(1, 6, 300),
            "revenue": rng.gamma(2.0, 30.0, 300),
        }
    )
    g = pc.groupby(["recency_score", "frequency_score"])["revenue"]
    cells = pd.DataFrame({"customers": g.size(), "mean_revenue": g.mean()}).reset_index()
    got = complete_rfm_grid(cells.sample(frac=1.0, random_state=1), bins=5)
    pd.testing.assert_frame_equal(got, rfm_grid(pc, bins=5))
    assert (got.loc[got["recency_score"] == 5, "customers"] == 0).all()
    for values in ([3.0, 3.0], [-2.5, 7.25, 1.0], [1e-9, 2e-9, 1.5e-9], [0.0, 1e12]):
        _, want = np.histogram(np.asarray(values), bins=50)
        np.testing.assert_array_equal(histogram_edges(min(values), max(values), 50), want)
    # values on the edges fall as numpy puts them (the last bin is closed)
    on_edges = np.linspace(0.0, 10.0, 11)
    np.testing.assert_array_equal(
        clv_histogram(on_edges, bins=10)["customers"], np.histogram(on_edges, bins=10)[0]
    )
    assert clv_histogram(np.array([np.nan, np.inf])).empty
    assert decile_profile(
        pd.DataFrame({"value_decile": [1], "frequency": [1.0], "revenue": [2.0]})
    )["customers"].tolist() == [1]


def _blocks(section: Section) -> list[tuple[str, str, str]]:
    """A section's blocks as comparable text (figures and tables as their JSON)."""
    out = []
    for b in section.blocks:
        content = b.content
        if hasattr(content, "to_json"):
            content = content.to_json()
        out.append((b.kind, b.caption, str(content)))
    return out


def test_per_customer_is_fetched_only_when_read(result: ValueResult) -> None:
    loads: list[int] = []

    def load() -> pd.DataFrame:
        loads.append(1)
        return result.per_customer

    lazy = ValueResult(
        per_customer=OnDemand(load), deciles=result.deciles, models=result.models,
        validation=result.validation, warnings=result.warnings, summary=result.summary,
        tracking=result.tracking, config=result.config, aggregates=result.aggregates,
    )  # fmt: skip
    assert not lazy.per_customer_fetched and "per_customer_fetched=False" in repr(lazy)
    # the report section is built from the aggregates: the customers stay where they are
    section = report_section(lazy)
    assert loads == [] and not lazy.per_customer_fetched
    # … and it is the section the per-customer table gives (aggregates computed from it)
    eager = ValueResult(
        per_customer=result.per_customer, deciles=result.deciles, models=result.models,
        validation=result.validation, warnings=result.warnings, summary=result.summary,
        tracking=result.tracking, config=result.config,
    )  # fmt: skip
    assert eager.aggregates is None
    assert _blocks(report_section(eager)) == _blocks(section)
    assert any(caption == "CLV distribution" for _, caption, _ in _blocks(section))
    assert lazy.per_customer is lazy.per_customer and loads == [1]  # fetched once, kept
    assert lazy.per_customer_fetched
    assert value_aggregates(lazy.per_customer).totals == result.aggregates.totals  # type: ignore[union-attr]
