"""``pattern_sql(dialect="spark")`` on a local Spark gives the pandas pattern table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from segmentum.value.patterns import pattern_counts, pattern_sql  # noqa: E402

pytestmark = pytest.mark.spark


def test_spark_pattern_sql_equals_pattern_counts(spark) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    n = 5_000
    df = pd.DataFrame(
        {
            "frequency": rng.integers(0, 4, n).astype(float),
            "recency": rng.integers(1, 30, n) / 7.0,  # whole days, in weeks
            "T": rng.integers(30, 40, n) / 7.0,
            "channel": rng.choice(["web", "shop"], n),
        }
    )
    df.loc[df["frequency"] == 0, "recency"] = 0.0
    spark.createDataFrame(df).createOrReplaceTempView("summary")
    try:
        for cov in ((), ("channel",)):
            got = spark.sql(pattern_sql("summary", "spark", covariates=cov)).toPandas()
            assert got["weights"].sum() == n
            got["weights"] = got["weights"].astype(float)
            pd.testing.assert_frame_equal(got, pattern_counts(df, covariates=cov))
    finally:
        spark.catalog.dropTempView("summary")
