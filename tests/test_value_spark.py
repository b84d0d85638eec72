"""The summary's SQL on Spark equals the DuckDB summary (needs the ``spark`` extra)."""

from __future__ import annotations

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
