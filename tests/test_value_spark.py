"""The summary's SQL on Spark equals the DuckDB summary (needs the ``spark`` extra)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from segmentum.value import summarize  # noqa: E402
from segmentum.value.spark import summarize_spark  # noqa: E402

pytestmark = pytest.mark.spark


def _compare(spark_out: pd.DataFrame, duck: pd.DataFrame, key: str) -> None:
    got = spark_out.sort_values(key, ignore_index=True)
    for col in ("first_purchase", "last_purchase"):
        got[col] = pd.to_datetime(got[col]).astype(duck[col].dtype)
    got = got[list(duck.columns)]
    pd.testing.assert_frame_equal(got, duck, check_dtype=False, check_exact=False, rtol=1e-10)


def test_spark_summary_equals_duckdb_on_cdnow(spark, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    kw = dict(
        amount="dollar_value",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
        time_unit="W",
    )
    duck = summarize(tx, engine="sql", **kw)  # type: ignore[arg-type]
    out = summarize_spark(spark.createDataFrame(tx), **kw).toPandas()  # type: ignore[arg-type]
    assert len(out) == len(duck) == 2357
    _compare(out, duck, "customer_id")


def test_spark_same_day_merge_margin_string_ids_and_default_end(spark) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    n = 4_000
    tx = pd.DataFrame(
        {
            "client id": np.char.add("c", rng.integers(0, 300, n).astype(str)),
            "ts": (
                pd.Timestamp("2023-01-01")
                + pd.to_timedelta(rng.integers(0, 200, n), "D")
                + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
            ).astype("datetime64[us]"),
            "amt": rng.gamma(2.0, 20.0, n).round(2),
            "mrg": rng.normal(5.0, 2.0, n),
        }
    )
    kw = dict(customer_id="client id", timestamp="ts", amount="amt", margin="mrg")
    duck = summarize(tx, engine="sql", **kw)  # type: ignore[arg-type]
    out = summarize_spark(spark.createDataFrame(tx), **kw).toPandas()  # type: ignore[arg-type]
    _compare(out, duck, "client id")


def test_spark_missing_column_is_named(spark) -> None:  # type: ignore[no-untyped-def]
    sdf = spark.createDataFrame(pd.DataFrame({"customer_id": [1], "date": ["2024-01-01"]}))
    with pytest.raises(ValueError, match=r"lack column\(s\) \['amount'\]"):
        summarize_spark(sdf)


# --- the value stage in the engine: ranks, scores and costs equal the DuckDB path's --------


def _tied_summary(n: int = 3_000, seed: int = 5) -> pd.DataFrame:
    """A summary with heavy ties: many one-time buyers, few distinct frequencies, round
    revenues (ties on quantile edges are where rank scores go wrong)."""
    rng = np.random.default_rng(seed)
    freq = np.where(rng.random(n) < 0.55, 0, rng.integers(1, 6, n)).astype(float)
    T = rng.integers(20, 60, n).astype(float)
    recency = np.where(freq > 0, np.floor(rng.random(n) * T), 0.0)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in rng.permutation(n)],
            "frequency": freq,
            "recency": recency,
            "T": T,
            "revenue": rng.choice([10.0, 20.0, 25.0, 40.0, 80.0, 125.5], n) * (freq + 1),
        }
    ).sort_values("customer_id", ignore_index=True)


@pytest.mark.parametrize("bins", [2, 5])
def test_rfm_scores_on_spark_equal_pandas_with_ties(spark, bins: int) -> None:  # type: ignore[no-untyped-def]
    from segmentum.value.rfm import rfm_scores
    from segmentum.value.spark_scoring import rfm_scores_spark

    summary = _tied_summary()
    summary.loc[:10, "revenue"] = 0.0  # a block of equal lowest values
    want = rfm_scores(summary, bins=bins)
    got = rfm_scores_spark(spark.createDataFrame(summary), bins=bins).toPandas()
    got = got.sort_values("customer_id", ignore_index=True)
    for col in want.columns:
        assert got[col].astype(want[col].dtype).tolist() == want[col].tolist(), col
    # fewer distinct values than scores: spread over 1…bins as rfm_scores spreads them
    few = summary.assign(frequency=(summary["frequency"] > 0).astype(float))
    want_few = rfm_scores(few, bins=bins)["frequency_score"].tolist()
    got_few = rfm_scores_spark(spark.createDataFrame(few), bins=bins).toPandas()
    assert got_few.sort_values("customer_id")["frequency_score"].tolist() == want_few


def test_value_deciles_on_spark_equal_assign_deciles_with_ties(spark) -> None:  # type: ignore[no-untyped-def]
    from segmentum.value.rfm import assign_deciles
    from segmentum.value.spark_scoring import deciles_spark

    summary = _tied_summary(n=2_345)
    want = assign_deciles(summary["revenue"]).tolist()
    frame = spark.createDataFrame(summary).repartition(7)  # ties across partitions
    got = deciles_spark(frame, "revenue", "customer_id").toPandas()
    assert got.sort_values("customer_id")["value_decile"].tolist() == want
    assert summary["revenue"].duplicated().sum() > 2_000  # the ties this test is about
    tiny = deciles_spark(spark.createDataFrame(summary.head(4)), "revenue", "customer_id")
    assert sorted(tiny.toPandas()["value_decile"]) == sorted(
        assign_deciles(summary.head(4)["revenue"]).tolist()
    )


def test_score_chunk_gives_run_value_scores_in_any_split(shared_data: Path) -> None:
    """One code for both engines: score_chunk on the DuckDB summary, in chunks, gives the
    p_alive, expected purchases, spend and CLV of run_value."""
    from segmentum.value import run_value
    from segmentum.value.clv import step_discount_rate
    from segmentum.value.spark_scoring import Fitted, score_chunk

    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    res = run_value(tx, customer_id="customer_id", timestamp="date", amount="dollar_value")
    cfg, pc = res.config, res.per_customer
    fitted = Fitted(
        res.models["purchase"],
        res.models["spend"],
        horizon=cfg.clv_horizon_days / 7,
        step=cfg.clv_step_days / 7,
        step_rate=step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
    )
    base = pc.drop(columns=["p_alive", "expected_purchases", "expected_spend", "clv"])
    cuts = np.linspace(0, len(base), 8).astype(int)
    parts = [base.iloc[a:b] for a, b in itertools.pairwise(cuts)]
    got = pd.concat([score_chunk(part, fitted) for part in parts])
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        np.testing.assert_allclose(got[col].to_numpy(), pc[col].to_numpy(), rtol=1e-12)


# --- the value stage's figures from Spark aggregates: no customer comes to the driver -------


@pytest.fixture(scope="module")
def cdnow_runs(spark, shared_data: Path):  # type: ignore[no-untyped-def]
    """run_value and run_value_spark on the CDNOW sample (2,357 customers), the Spark run
    inside the collection recorder."""
    from spark_collections import record_collections

    from segmentum.value import run_value
    from segmentum.value.cost import CostRules
    from segmentum.value.spark_scoring import run_value_spark
    from segmentum.value.stage import ValueConfig

    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    tx["margin"] = tx["dollar_value"] * 0.3
    tx["date"] = pd.to_datetime(tx["date"]).astype("datetime64[us]")
    cfg = ValueConfig(holdout_periods=39, cost=CostRules(cost_per_order=8.0))
    kw = dict(
        customer_id="customer_id", timestamp="date", amount="dollar_value", margin="margin",
        config=cfg,
    )  # fmt: skip
    duck = run_value(tx, **kw)  # type: ignore[arg-type]
    frame = spark.createDataFrame(tx).persist()
    frame.count()
    with record_collections() as calls:
        on_spark = run_value_spark(frame, **kw)  # type: ignore[arg-type]
    return tx, duck, on_spark, calls


def test_value_on_spark_collects_only_aggregates(cdnow_runs) -> None:  # type: ignore[no-untyped-def]
    _, duck, on_spark, calls = cdnow_runs
    n = len(duck.per_customer)
    assert n == 2_357 and calls
    big = [str(c) for c in calls if c.rows >= n]
    assert big == [], big  # the largest: the 1,218 (x, t_x, T) patterns of the full fit
    assert not any("_to_driver" in c.caller for c in calls)
    assert not on_spark.per_customer_fetched
    assert on_spark.spark.count() == n


def test_value_figures_on_spark_are_the_duckdb_figures(cdnow_runs) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from segmentum.value.aggregates import value_aggregates
    from segmentum.value.validation import holdout_metrics, holdout_validation, tracking_data

    tx, duck, on_spark, _ = cdnow_runs
    # CDNOW's calibration period compresses: both engines fit the same patterns
    assert (
        on_spark.summary["fit_rows"]["purchase_calibration"]
        == (duck.summary["fit_rows"]["purchase_calibration"])
    )
    pd.testing.assert_frame_equal(on_spark.validation, duck.validation, rtol=1e-9)
    pd.testing.assert_frame_equal(on_spark.tracking, duck.tracking, rtol=1e-9)
    for name, value in duck.summary["holdout"].items():
        want = pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
        assert on_spark.summary["holdout"][name] == want, name
    # the Spark figures are the per-customer ones of the same model (the DuckDB formulas)
    m_cal, h = on_spark.models["purchase_calibration"], on_spark.summary["holdout"]
    cal_end, end = dt.date.fromisoformat(h["calibration_end"]), dt.date(1998, 6, 30)
    cal = summarize(
        tx, amount="dollar_value", calibration_end=cal_end, holdout_end=end, time_unit="W"
    )
    pd.testing.assert_frame_equal(holdout_validation(m_cal, cal), on_spark.validation, rtol=1e-12)
    assert holdout_metrics(m_cal, cal)["rmse"] == pytest.approx(h["rmse"], rel=1e-12)
    want_tracking = tracking_data(
        tx, m_cal, customer_id="customer_id", timestamp="date", calibration_end=cal_end, end=end
    )
    pd.testing.assert_frame_equal(on_spark.tracking, want_tracking, rtol=1e-12)
    # the report's tables: the DuckDB run's, and those of the Spark run's own customers
    mine = on_spark.aggregates
    for other, rtol in ((duck.aggregates, 1e-6), (value_aggregates(on_spark.per_customer), 1e-12)):
        assert mine.columns == other.columns
        for k, v in other.totals.items():
            assert mine.totals[k] == pytest.approx(v, rel=rtol), k
        for table in ("decile_profile", "rfm_grid"):
            pd.testing.assert_frame_equal(getattr(mine, table), getattr(other, table), rtol=rtol)
        a, b = mine.clv_histogram, other.clv_histogram
        assert a["customers"].tolist() == b["customers"].tolist()
        np.testing.assert_allclose(a[["left", "right"]], b[["left", "right"]], rtol=rtol)
    assert (
        mine.totals["unprofitable_customers"] > 0 and mine.clv_histogram["customers"].sum() == 2_357
    )
    pd.testing.assert_frame_equal(on_spark.deciles, duck.deciles, rtol=1e-6)


def test_clv_histogram_on_spark_puts_edge_values_where_numpy_does(spark) -> None:  # type: ignore[no-untyped-def]
    from segmentum.value.aggregates import value_aggregates
    from segmentum.value.spark_figures import aggregates_spark

    rng = np.random.default_rng(11)
    n = 600
    clv = np.concatenate(
        [np.linspace(-3.0, 47.0, 51), rng.gamma(1.5, 9.0, n - 53), [np.nan, np.inf]]
    )
    pc = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "n_transactions": rng.integers(1, 9, n),
            "frequency": rng.integers(0, 8, n).astype(float),
            "revenue": rng.gamma(2.0, 40.0, n),
            "recency_score": rng.integers(1, 4, n),
            "frequency_score": rng.integers(1, 5, n),
            "value_decile": np.repeat(np.arange(1, 11), n // 10),
            "clv": clv,
            "profit": rng.normal(5.0, 20.0, n),
        }
    )
    deciles, got = aggregates_spark(spark.createDataFrame(pc), rfm_bins=4)
    want = value_aggregates(pc, rfm_bins=4)
    pd.testing.assert_frame_equal(got.clv_histogram, want.clv_histogram)
    assert got.clv_histogram["customers"].sum() == n - 2  # NaN and inf left out
    pd.testing.assert_frame_equal(got.rfm_grid, want.rfm_grid, rtol=1e-12)
    pd.testing.assert_frame_equal(got.decile_profile, want.decile_profile, rtol=1e-12)
    for k, v in want.totals.items():
        assert got.totals[k] == pytest.approx(v, rel=1e-12, nan_ok=True), k
    from segmentum.value.rfm import decile_table

    pd.testing.assert_frame_equal(deciles, decile_table(pc), rtol=1e-12, check_dtype=False)
