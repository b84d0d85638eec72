"""The projection on Spark: every customer's segment computed where the customers live.

A :class:`~segmentum.valuation.projection.ProjectionModel` is a multinomial logit in plain
numbers, so its linear scores compile to Spark SQL: one expression per segment,
``b[k] + Σ_j W[k, j] · x_j + Σ_c T_c[level_c, k]`` (a missing number replaced by the
model's ``fill``, an unseen or missing level scoring 0), the segment with the largest score
(the first of equal ones, as ``numpy.argmax``) and its probability
``1 / Σ_j exp(s_j - s_max)``. No row comes to the driver.

:func:`customer_features_spark` builds, in Spark, the columns the model reads, under the
names :func:`~segmentum.valuation.projection.customer_features` gives them (customer
descriptors, the value stage's numbers, ``events_<type>`` counts and
``mix_<col>=<level>`` shares of the transactions) and :func:`project_spark` scores them.
With ``engine = "spark"`` the valuation stage runs
:func:`~segmentum.valuation.spark_valuation.run_valuation_spark`, which builds on these,
and reads its tables with :func:`stage_table` (Spark's own, or the driver's handed to
Spark by :func:`to_spark_frame`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.spark_run import spark_column as _col
from segmentum.spark_run import to_spark
from segmentum.valuation.projection import ProjectionModel

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

    from segmentum.flow import StageContext

__all__ = [
    "customer_features_spark",
    "project_spark",
    "respondent_rows_spark",
    "segment_scores_spark",
    "stage_session",
    "stage_table",
    "to_spark_frame",
]

ASSIGNMENT_SCHEMA = (
    "respondent_id string, customer_id string, segment bigint, "
    "segment_probability double, segment_source string"
)


def _number(name: str, fill: float) -> Column:
    """A numeric feature as double, a missing value (null or NaN) replaced by ``fill``."""
    from pyspark.sql import functions as F

    x = _col(name).cast("double")
    return F.when(x.isNull() | F.isnan(x), F.lit(float(fill))).otherwise(x)


def _lit(v: float) -> Column:
    from pyspark.sql import functions as F

    return F.lit(float(v))


def _scores(model: ProjectionModel) -> list[Column]:
    """One linear-score expression per segment, in the model's segment order."""
    from pyspark.sql import functions as F

    xs = [_number(c, f) for c, f in zip(model.numeric, model.fill, strict=True)]
    out = []
    for k in range(len(model.segments)):
        s: Column = _lit(model.intercepts[k])
        for j, x in enumerate(xs):
            s = s + _lit(model.weights[k, j]) * x
        for col, (levels, table) in model.categorical.items():
            text = _col(col).cast("string")
            lookup: Column | None = None
            for i, level in enumerate(levels):
                # a yes/no column with empty cells is held as levels True/False (pandas'
                # spelling), which Spark's cast to text spells true/false
                if isinstance(level, bool | np.bool_):
                    cond = F.lower(text) == F.lit(str(bool(level)).lower())
                else:
                    cond = text == F.lit(str(level))
                lookup = (
                    F.when(cond, _lit(table[i, k]))
                    if lookup is None
                    else lookup.when(cond, _lit(table[i, k]))
                )
            if lookup is not None:
                s = s + lookup.otherwise(F.lit(0.0))
        out.append(s)
    return out


def segment_scores_spark(model: ProjectionModel) -> list[Column]:
    """The model's linear score of each segment as a Spark expression, in its segment
    order (:meth:`ProjectionModel.scores` to rounding); the probabilities are their softmax.
    The columns the model reads must be in the frame they are selected from
    (:func:`customer_features_spark`)."""
    return _scores(model)


def project_spark(model: ProjectionModel, features: DataFrame, id_column: str) -> DataFrame:
    """``id_column``, ``segment`` (bigint) and ``segment_probability`` of every row, in Spark.

    The same numbers as :meth:`ProjectionModel.project`: the scores are Spark SQL
    expressions, the segment is the first largest score (``numpy.argmax``'s rule) and the
    probability ``1 / Σ_j exp(s_j - s_max)``; they agree to rounding (1e-12 on the demo).

    Parameters
    ----------
    model : ProjectionModel
    features : pyspark.sql.DataFrame
        ``id_column`` and every column the model reads (:func:`customer_features_spark`).
    id_column : str

    Raises
    ------
    ValueError
        A column the model reads is not in ``features``.
    """
    from pyspark.sql import functions as F

    need = [*model.numeric, *model.categorical]
    missing = [c for c in need if c not in features.columns]
    if missing:
        raise ValueError(
            f"project_spark: the features lack column(s) {missing} the projection model reads "
            "(build them with customer_features_spark)"
        )
    k = len(model.segments)
    names = [f"_s{i}" for i in range(k)]
    scored = features.select(_col(id_column).alias(id_column), *[
        s.alias(n) for s, n in zip(_scores(model), names, strict=True)
    ])  # fmt: skip
    top = F.greatest(*[F.col(n) for n in names]) if k > 1 else F.col(names[0])
    scored = scored.withColumn("_top", top)
    segment: Column = F.lit(int(model.segments[-1]))
    for i in range(k - 2, -1, -1):  # the first segment whose score is the largest
        segment = F.when(F.col(names[i]) == F.col("_top"), F.lit(int(model.segments[i]))).otherwise(
            segment
        )
    total: Column = F.lit(0.0)
    for n in names:
        total = total + F.exp(F.col(n) - F.col("_top"))
    return scored.select(
        _col(id_column).alias(id_column),
        segment.cast("bigint").alias("segment"),
        (F.lit(1.0) / total).alias("segment_probability"),
    )


def _customer_part(customers: DataFrame, id_column: str, columns: Sequence[str]) -> DataFrame:
    from pyspark.sql import functions as F

    keep = [c for c in columns if c in customers.columns and c != id_column]
    return customers.select(F.col(id_column).cast("string").alias("_id"), *[_col(c) for c in keep])


def customer_features_spark(
    customers: DataFrame,
    *,
    id_column: str,
    columns: Sequence[str],
    per_customer: DataFrame | None = None,
    per_customer_id: str | None = None,
    events: DataFrame | None = None,
    events_id: str | None = None,
    event_type: str | None = None,
    transactions: DataFrame | None = None,
    transactions_id: str | None = None,
) -> DataFrame:
    """The features named ``columns``, one row per customer of ``customers``, in Spark.

    Names follow :func:`~segmentum.valuation.projection.customer_features`: a column of the
    customers table or of the value stage's table by its name, ``events_<type>`` the count
    of the customer's events of that type, ``mix_<col>=<level>`` the share of the
    customer's transactions (with a ``col`` value) at that level; counts and shares are 0
    for a customer without any. Only the columns asked for are computed, so the model's
    list of columns (``model.numeric`` and its categorical columns) is what to pass.

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        One row per customer; the rows of the result.
    id_column : str
        The customers' id column (the result's id column, as a string).
    columns : sequence of str
        The feature names wanted.
    per_customer, events, transactions : pyspark.sql.DataFrame, optional
        The value stage's per-customer table, the events and the transactions.
    per_customer_id, events_id, transactions_id : str, optional
        Their customer id columns (default ``id_column``).
    event_type : str, optional
        The events' type column.

    Raises
    ------
    ValueError
        A feature that none of the tables given can provide.
    """
    from pyspark.sql import functions as F

    wanted = list(dict.fromkeys(columns))
    base = _customer_part(customers, id_column, wanted)
    have = set(base.columns) - {"_id"}
    out = base
    if per_customer is not None:
        pid = per_customer_id or id_column
        cols = [c for c in wanted if c in per_customer.columns and c not in have and c != pid]
        if cols:
            part = per_customer.select(
                F.col(pid).cast("string").alias("_id"), *[_col(c).cast("double") for c in cols]
            )
            out = out.join(part, "_id", "left")
            have |= set(cols)
    counts = [c for c in wanted if c.startswith("events_") and c not in have]
    if counts and events is not None and event_type is not None:
        eid = events_id or id_column
        types = {c: c.removeprefix("events_") for c in counts}
        part = events.groupBy(F.col(eid).cast("string").alias("_id")).agg(*[
            F.sum(F.when(F.col(event_type).cast("string") == t, 1).otherwise(0))
            .cast("double").alias(c)
            for c, t in types.items()
        ])  # fmt: skip
        out = out.join(part, "_id", "left").fillna(0.0, subset=counts)
        have |= set(counts)
    shares = [c for c in wanted if c.startswith("mix_") and "=" in c and c not in have]
    if shares and transactions is not None:
        tid = transactions_id or id_column
        aggs = []
        for c in shares:
            col, level = c.removeprefix("mix_").split("=", 1)
            if col not in transactions.columns:
                continue
            value = F.col(col).cast("string")
            aggs.append(
                (F.sum(F.when(value == level, 1.0).otherwise(0.0)) / F.count(value)).alias(c)
            )
        if aggs:
            part = transactions.groupBy(F.col(tid).cast("string").alias("_id")).agg(*aggs)
            got = [a for a in shares if a in part.columns]
            out = out.join(part, "_id", "left").fillna(0.0, subset=got)
            have |= set(got)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise ValueError(
            f"customer_features_spark: no table given provides the feature(s) {missing} "
            "(give the per-customer, events or transactions table the model was fitted with)"
        )
    return out.withColumnRenamed("_id", id_column)


def respondent_rows_spark(respondents: pd.DataFrame, spark: SparkSession) -> DataFrame:
    """The respondents' assignment rows (a driver table: the survey is small) as a Spark
    DataFrame of :data:`ASSIGNMENT_SCHEMA` (text ids, null where missing)."""
    resp = respondents

    def ids(key: str) -> list[str | None]:
        return [None if pd.isna(v) else str(v) for v in resp[key].astype(object)]

    rows: Any = list(
        zip(
            ids("respondent_id"),
            ids("customer_id"),
            [int(v) for v in resp["segment"].astype(np.int64)],
            [float(v) for v in resp["segment_probability"].astype(float)],
            [str(v) for v in resp["segment_source"]],
            strict=True,
        )
    )
    return spark.createDataFrame(rows, ASSIGNMENT_SCHEMA)


def stage_session(ctx: StageContext) -> SparkSession | None:
    """The run's Spark session (``engine = "spark"``): that of a table Spark read, else the
    active one; ``None`` on DuckDB or without a session."""
    if ctx.config.project.engine != "spark":
        return None
    for table in ctx.data.tables.values():
        handle = getattr(table, "spark", None)
        if handle is not None:
            return handle.sparkSession  # type: ignore[no-any-return]
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - the spark extra is not installed
        return None
    return SparkSession.getActiveSession()


def to_spark_frame(spark: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """A driver-side pandas table as a Spark DataFrame, typed by the run's conversion."""
    return to_spark(spark, frame)


def stage_table(ctx: StageContext, name: str, spark: SparkSession) -> DataFrame | None:
    """The clean table ``name`` as a Spark DataFrame: Spark's own when Spark read it, else
    the driver's frame handed to Spark (``None`` when the project has no such table)."""
    table = ctx.data.tables.get(name)
    if table is None:
        return None
    handle = getattr(table, "spark", None)
    return handle if handle is not None else to_spark_frame(spark, table.frame)
