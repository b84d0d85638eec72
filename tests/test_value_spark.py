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
from segmentum.value.spark import local_spark_session, summarize_spark  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    session = local_spark_session("segmentum-tests", threads=2)
    yield session
    session.stop()


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
