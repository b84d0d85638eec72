"""Issue 13's last gaps: scenarios that cannot run say why, and what-if totals cover everyone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segmentum.activation.lifecycle import STAGE_NAMES
from segmentum.activation.settings import ActivationConfig
from segmentum.activation.stage import _scenarios
from segmentum.value import BetaGeoModel, GammaGammaModel
from segmentum.value.models.simulate import simulate_bgnbd_covariates
from segmentum.value.stage import ValueConfig
from segmentum.value.whatif import customer_table, load_scenario, scenario_whatif


class _Data(dict):  # type: ignore[type-arg]
    """The clean tables by name (``in`` and ``get`` as the run's ``Ingested`` has them)."""


def _ctx(value: object | None, tables: dict[str, pd.DataFrame]) -> SimpleNamespace:
    sources = SimpleNamespace(customers=SimpleNamespace(id="cid"), transactions=None)
    return SimpleNamespace(
        config=SimpleNamespace(sources=sources),
        data=_Data(tables),
        optional=lambda kind: value,
        seed=0,
    )


def test_declared_scenarios_without_the_value_stage_say_why() -> None:
    cfg = ActivationConfig(scenarios=["scenarios/push.toml"])
    outcomes, note = _scenarios(_ctx(None, {}), cfg)  # type: ignore[arg-type]
    assert outcomes == ()
    assert note is not None
    assert "scenarios/push.toml" in note and "not computed" in note
    assert "value stage did not run" in note and "[sources.transactions]" in note
    # nothing declared: nothing to say
    assert _scenarios(_ctx(None, {}), ActivationConfig()) == ((), None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def value_and_ctx() -> tuple[SimpleNamespace, SimpleNamespace]:
    """A value stage's result on 1,500 buyers and a customers table with 300 more people."""
    rng = np.random.default_rng(2)
    n = 1500
    z = pd.DataFrame({"bundle": rng.integers(0, 2, n).astype(float)})
    df = simulate_bgnbd_covariates(
        {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}, z, 52,
        purchase={}, dropout={"bundle": 0.8}, seed=3,
    )  # fmt: skip
    df["monetary_value"] = rng.gamma(4.0, 10.0, n)
    df["customer_id"] = [f"c{i}" for i in range(n)]
    purchase = BetaGeoModel().fit(df)
    spend = GammaGammaModel().fit(df[df["frequency"] > 0])
    per = df.drop(columns="bundle").assign(
        expected_spend=spend.expected_spend(df).to_numpy(),
        n_transactions=df["frequency"] + 1,
    )
    value = SimpleNamespace(
        per_customer=per,
        customer_id="customer_id",
        config=ValueConfig(time_unit="W"),
        models={"purchase": purchase, "spend": spend},
    )
    ids = [f"c{i}" for i in range(n + 300)]
    customers = pd.DataFrame(
        {"cid": ids, "bundle": np.r_[z["bundle"], rng.integers(0, 2, 300)].astype(float)}
    )
    return value, _ctx(value, {"customers": customers})


def test_customer_table_holds_every_customer(value_and_ctx: tuple) -> None:
    value, ctx = value_and_ctx
    table = customer_table(ctx, {"value": value})
    assert len(table) == 1800 and table["customer_id"].is_unique
    rest = table[~table["purchased"]]
    assert len(rest) == 300
    assert (rest[["frequency", "recency", "T"]] == 0).all().all()
    assert rest["bundle"].notna().all()  # their covariates come from the customers table


def test_whatif_totals_cover_customers_without_purchases(value_and_ctx: tuple) -> None:
    value, ctx = value_and_ctx
    table = customer_table(ctx, {"value": value})
    table["segment"] = np.where(np.arange(len(table)) % 2 == 0, "1", "2")
    sc, _ = load_scenario(
        {"model": {"dropout_covariates": ["bundle"], "draws": 0},
         "change": [{"segment": 1, "retention": 0.2}]}
    )  # fmt: skip
    out = scenario_whatif(value, table, sc, seed=0).set_index("segment")
    assert out.loc["total", "customers"] == 1800
    # the same scenario on the buyers only: everyone adds the non-buyers' CLV
    buyers = scenario_whatif(value, table[table["purchased"]], sc, seed=0).set_index("segment")
    assert buyers.loc["total", "customers"] == 1500
    extra = out.loc["total", "clv_before"] - buyers.loc["total", "clv_before"]
    # a just-acquired customer's CLV: the model's purchases of a new customer x mean spend
    assert extra > 0
    assert extra / 300 < buyers.loc["total", "clv_before"] / 1500 * 3
    assert out.loc["1", "difference"] > buyers.loc["1", "difference"] > 0
    assert out.loc["2", "difference"] == 0


TODAY = pd.Timestamp("2025-06-30")


def _flow_activation() -> object:
    from segmentum.activation.customers import customer_activation

    days = pd.Timedelta(days=1)
    pc = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "f"],
            "n_transactions": [1, 6, 3, 5, 1],
            "first_purchase": [TODAY - 10 * days, TODAY - 700 * days, TODAY - 600 * days,
                               TODAY - 500 * days, TODAY - 20 * days],
            "last_purchase": [TODAY - 10 * days, TODAY - 5 * days, TODAY - 300 * days,
                              TODAY - 2 * days, TODAY - 20 * days],
            "p_alive": [0.9, 0.99, 0.05, 0.95, 0.9],
        }
    )  # fmt: skip
    events = pd.DataFrame(
        {"customer_id": ["e", "e", "e", "f", "f"],
         "timestamp": [TODAY - 3 * days, TODAY - 2 * days, TODAY - 1 * days,
                       TODAY - 110 * days, TODAY - 100 * days],
         "event_type": ["visit", "visit", "visit", "visit", "visit"]}
    )  # fmt: skip
    customers = pd.DataFrame({"customer_id": list("abcdef"), "segment": [1, 1, 2, 2, 1, 2]})
    # 90 days before: b loyal, c repeat (alive), d lost (came back since), f browsing
    before = pc.iloc[[1, 2, 3]].assign(
        p_alive=[0.99, 0.9, 0.01], n_transactions=[5, 3, 4],
        last_purchase=[TODAY - 95 * days, TODAY - 300 * days, TODAY - 400 * days],
    )  # fmt: skip
    return customer_activation(
        customers, TODAY, per_customer=pc, events=events, earlier=(TODAY - 90 * days, before)
    )


def test_the_stage_flow_is_a_sankey_with_its_counts_in_report_json() -> None:
    from segmentum.activation.report import customer_blocks, flow_moves, flow_sankey
    from segmentum.activation.stage import ActivationResult, report_section

    ca = _flow_activation()
    moves = flow_moves(ca.flow).set_index(["from_stage", "to_stage"])  # type: ignore[attr-defined]
    kinds = moves["move"].to_dict()
    assert kinds[("repeat", "lost")] == "lapsed"
    assert kinds[("lost", "loyal")] == "came back"
    assert kinds[("loyal", "loyal")] == "stayed"
    assert kinds[("browsing", "new")] == "converted"
    assert kinds[("not yet known", "new")] == "arrived"
    assert kinds[("not yet known", "browsing")] == "arrived"
    assert moves["customers"].sum() == 6
    fig = flow_sankey(ca.flow, list(STAGE_NAMES))  # type: ignore[attr-defined]
    sankey = fig.data[0]
    assert sankey.type == "sankey"
    assert sum(sankey.link.value) == 6
    labels = list(sankey.node.label)
    pairs = {
        (labels[s], labels[t]): v
        for s, t, v in zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True)
    }
    assert pairs[("repeat (before)", "lost (now)")] == 1
    assert pairs[("browsing (before)", "new (now)")] == 1
    sec = report_section(ActivationResult(customers=ca))  # type: ignore[arg-type]
    ctx = sec.to_context()
    blocks = ctx["blocks"] if "blocks" in ctx else ctx["items"]
    figures = [b["figure"] for b in blocks if b["kind"] == "figure"]
    assert any(f["data"][0]["type"] == "sankey" for f in figures)
    assert not any(f["data"][0]["type"] == "heatmap" and "stage before" in str(f) for f in figures)
    tables = [b for b in blocks if b["kind"] == "table" and "Moves between stages" in b["caption"]]
    assert len(tables) == 1 and tables[0]["n_rows"] == len(moves)
    text = " ".join(b.get("text", "") for b in blocks)
    assert "1 prospects became customers" in text and "1 active customers lapsed" in text
    assert "1 lapsing or lost customers came back" in text
    assert customer_blocks  # the section is built by it


def test_whatif_prices_clv_on_margin_like_the_value_stage(value_and_ctx: tuple) -> None:
    from segmentum.value.whatif import margin_rates, whatif

    t = pd.DataFrame({"revenue": [100.0, 50.0, 0.0], "margin": [20.0, -80.0, 0.0]})
    np.testing.assert_allclose(margin_rates(t), [0.2, -1.0, -60 / 150])
    assert margin_rates(t.drop(columns="margin")) == 1.0
    value, ctx = value_and_ctx
    table = customer_table(ctx, {"value": value})[lambda d: d["purchased"]]
    table = table.assign(segment="1", spend=table["expected_spend"])
    sc = {"change": [{"retention": 0.2}]}
    model = value.models["purchase"]
    rate = np.linspace(0.1, 0.5, len(table))
    on_margin = whatif(model, table, sc, spend="spend", margin_rate=rate, n_draws=0)
    folded = whatif(model, table.assign(spend=table["spend"] * rate), sc, spend="spend", n_draws=0)
    np.testing.assert_allclose(
        on_margin[["clv_before", "clv_after"]], folded[["clv_before", "clv_after"]], rtol=1e-12
    )
