"""What-if scenarios and the offers' CLV uplift computed in Spark equal the pandas ones (needs
the ``spark`` extra).

A small demo market (600 customers) is summarised and fitted in pandas; the same customer
table goes to a local Spark session. :func:`scenario_whatif_spark` (per-segment sums from
``mapInPandas`` batches) must give :func:`scenario_whatif`'s table, and
:func:`offer_uplift_frame` the per-customer uplift and summary of :func:`offer_clv_uplift`,
counts identical and money within 1e-9 relative, on several partitions (so the sums really
are added up across batches).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from segmentum.activation.settings import OfferCovariate  # noqa: E402
from segmentum.activation.spark_whatif import (  # noqa: E402
    margin_overall_spark,
    offer_uplift_frame,
    scenario_whatif_spark,
)
from segmentum.activation.uplift import offer_clv_uplift  # noqa: E402
from segmentum.demo import make_market  # noqa: E402
from segmentum.demo.project import DEMO_SCENARIO  # noqa: E402
from segmentum.value import BetaGeoModel, GammaGammaModel, summarize  # noqa: E402
from segmentum.value.stage import ValueConfig  # noqa: E402
from segmentum.value.whatif import (  # noqa: E402
    fit_table,
    load_scenario,
    margin_overall,
    scenario_whatif,
    whatif,
)

pytestmark = pytest.mark.spark

BUNDLE = {"home_bundle": OfferCovariate(covariate="home_bundle", value=True)}
MONEY = ("clv_before", "clv_after", "difference", "low", "high")


@pytest.fixture(scope="module")
def demo() -> SimpleNamespace:
    m = make_market(seed=0, n_customers=600, n_respondents=50)
    s = summarize(
        m.transactions, "customer_id", "date", "amount", calibration_end=m.analysis_date,
        time_unit="W", margin="margin",
    ).reset_index()  # fmt: skip
    purchase = BetaGeoModel().fit(s)
    spend = GammaGammaModel().fit(s[s["frequency"] > 0])
    table = s.merge(m.customers, on="customer_id", how="left").assign(
        expected_spend=spend.expected_spend(s).to_numpy(), purchased=True
    )
    # a few customers without any purchase (as customer_table adds them), and gaps in the
    # expected spend that the spend model's mean fills
    table.loc[table.index[:5], ["frequency", "recency", "T"]] = 0.0
    table.loc[table.index[:5], "purchased"] = False
    table.loc[table.index[5:8], "expected_spend"] = np.nan
    rng = np.random.default_rng(4)
    table["segment"] = rng.integers(1, 4, len(table)).astype(str)
    table.loc[table.index[-40:], "segment"] = "unassigned"
    table["customer_id"] = table["customer_id"].astype(str)
    value = SimpleNamespace(
        config=ValueConfig(time_unit="W"), models={"purchase": purchase, "spend": spend}
    )
    return SimpleNamespace(table=table, value=value)


def _frame(spark, table: pd.DataFrame):  # type: ignore[no-untyped-def]
    keep = [c for c in table.columns if not pd.api.types.is_datetime64_any_dtype(table[c])]
    return spark.createDataFrame(table[keep]).repartition(3)


def _labels(table: pd.DataFrame) -> list[str]:
    return sorted(set(table["segment"]), key=lambda v: (len(v), v))


@pytest.mark.parametrize(
    "text",
    [
        DEMO_SCENARIO,
        'name = "spend"\n[model]\ndraws = 30\n[[change]]\nsegment = 2\ncustomers = "repeat"\n'
        "spend = -0.1\n[[change]]\nsegment = 3\npurchase_rate = 0.2\n",
    ],
    ids=["demo_covariate_and_retention", "plain_spend_and_rate"],
)
def test_scenario_in_spark_is_the_pandas_table(spark, demo, text: str) -> None:  # type: ignore[no-untyped-def]
    import tomllib

    sc, _ = load_scenario(tomllib.loads(text))
    want = scenario_whatif(demo.value, demo.table, sc, seed=7)
    frame = _frame(spark, demo.table)
    assert margin_overall_spark(frame) == pytest.approx(margin_overall(demo.table), rel=1e-12)
    got = scenario_whatif_spark(
        demo.value, frame, sc, seed=7, labels=_labels(demo.table),
        overall=margin_overall_spark(frame),
    )  # fmt: skip
    assert got["segment"].tolist() == want["segment"].tolist() == [*_labels(demo.table), "total"]
    assert got["customers"].tolist() == want["customers"].tolist()
    assert int(want["customers"].iloc[-1]) == len(demo.table)
    moved = want["difference"].abs().to_numpy() > 0
    assert moved.any() and not moved.all()  # the scenario moves some segments only
    for col in MONEY:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=1e-9, err_msg=col)
    assert (want["low"] <= want["difference"] + 1e-9).all()
    assert (want["difference"] <= want["high"] + 1e-9).all()


def test_the_pattern_fit_is_the_row_fit(demo) -> None:  # type: ignore[no-untyped-def]
    """Refitting on the buyers' patterns (both engines do) gives the row fit's model."""
    buyers = demo.table[demo.table["purchased"]]
    patterns = fit_table(buyers, ["payment_plan"])
    assert len(patterns) < len(buyers) and patterns["weights"].sum() == len(buyers)
    a = BetaGeoModel().fit(buyers, dropout_covariates=["payment_plan"])
    b = BetaGeoModel().fit(patterns, dropout_covariates=["payment_plan"])
    for k, v in a.params_.items():
        assert b.params_[k] == pytest.approx(v, rel=1e-6), k
    np.testing.assert_allclose(
        b.covariate_effects_["coef"], a.covariate_effects_["coef"], rtol=1e-5
    )
    # whatif's table on the pattern-fitted model equals the row-fitted one's
    table = demo.table.assign(segment=demo.table["segment"])
    sc = {"model": {"draws": 0}, "change": [{"segment": 2, "retention": 0.1}]}
    x = whatif(a, table, sc, n_draws=0)
    y = whatif(b, table, sc, n_draws=0)
    np.testing.assert_allclose(y["difference"], x["difference"], rtol=1e-5, atol=1e-6)


def test_offer_uplift_in_spark_is_the_pandas_uplift(spark, demo) -> None:  # type: ignore[no-untyped-def]
    want = offer_clv_uplift(demo.value, demo.table, BUNDLE)
    got = offer_uplift_frame(demo.value, _frame(spark, demo.table), BUNDLE)
    assert got.uplift is None and got.spark is not None
    rows = got.spark.toPandas().set_index("customer_id").sort_index()
    mine = want.uplift.sort_index()
    assert rows.index.tolist() == mine.index.tolist()
    np.testing.assert_allclose(rows["home_bundle"], mine["home_bundle"], rtol=1e-9, atol=1e-9)
    (a,), (b,) = want.summary(), got.summary()
    assert a["customers_moved"] == b["customers_moved"] > 0
    assert b["mean_clv_uplift"] == pytest.approx(a["mean_clv_uplift"], rel=1e-9)
    pd.testing.assert_frame_equal(got.effects, want.effects)
    # holders of the bundle gain nothing
    holders = demo.table.set_index("customer_id")["home_bundle"].astype(bool)
    assert (rows.loc[holders[holders].index, "home_bundle"] == 0).all()


def test_a_bad_offer_value_is_named_before_any_customer_is_scored(spark, demo) -> None:  # type: ignore[no-untyped-def]
    bad = {"loyalty": OfferCovariate(covariate="payment_plan", value="weekly")}
    with pytest.raises(ValueError, match=r"offer_covariates\] loyalty.value.*weekly"):
        offer_clv_uplift(demo.value, demo.table, bad)
    with pytest.raises(ValueError, match=r"offer_covariates\] loyalty.value.*weekly"):
        offer_uplift_frame(demo.value, _frame(spark, demo.table), bad)
