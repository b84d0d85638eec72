"""The valuation stage on Spark: the survey on the driver, every customer in Spark.

:func:`run_valuation_spark` gives the :class:`~segmentum.valuation.run.ValuationResult`
that :func:`~segmentum.valuation.run.run_valuation` gives on the same tables, but the
customers, transactions, events and the value stage's per-customer table stay Spark
DataFrames. What reaches the driver, and what each figure is computed from:

- the typing tool and the population shares: the survey (a driver table already);
- the projection model: fitted on the features of the customers linked to respondents,
  computed in Spark (:func:`~segmentum.valuation.spark.customer_features_spark`) and
  brought over for those ids only (one row per linked customer); the names of the feature
  columns need the distinct event types and product/channel levels (a few rows);
- the adjusted sizes: the number of customers projected to each segment (a Spark
  group-by, one row per segment) turned into shares and bootstrapped on the driver
  (:func:`~segmentum.valuation.projection.adjusted_shares_from_counts`);
- the segment valuation: customers and value sums per segment (a Spark group-by of the
  customers' segments joined to the value stage's Spark table) and the revenue of the
  two growth periods per segment (the transactions' first and last instant, one row, and a
  group-by of segment × period); :func:`~segmentum.valuation.value.valuation_table` makes
  the table from them, as :func:`~segmentum.valuation.value.segment_valuation` does from
  pandas sums.

Every customer's segment stays in Spark (:attr:`SparkValuation.segments`); the result's
``customer_segments`` holds the linked customers only (``segment_source == "survey"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.valuation.priority import ValuationConfig
from segmentum.valuation.projection import adjusted_shares_from_counts
from segmentum.valuation.run import (
    ValuationResult,
    finish_valuation,
    fit_linked,
    survey_segments,
    survey_side,
)
from segmentum.valuation.spark import (
    ASSIGNMENT_SCHEMA,
    _col,
    customer_features_spark,
    project_spark,
    respondent_rows_spark,
    stage_table,
)
from segmentum.valuation.value import (
    VALUE_COLUMNS,
    growth_from_revenue,
    growth_periods,
    valuation_table,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "SparkValuation",
    "assignments_from_segments_spark",
    "feature_names_spark",
    "linked_features_spark",
    "run_valuation_spark",
    "segment_valuation_spark",
]


@dataclass(frozen=True)
class SparkValuation:
    """What :func:`run_valuation_spark` gives.

    Attributes
    ----------
    result : ValuationResult
        As :func:`~segmentum.valuation.run.run_valuation`'s; ``customer_segments`` holds
        the linked customers only.
    segments : pyspark.sql.DataFrame or None
        Every segmented customer (persisted): ``customer_id`` (text), ``segment``,
        ``segment_probability``, ``segment_source`` ("survey" for linked customers,
        "projected" otherwise) and ``_projected`` (the projection's segment, null without
        a projection); ``None`` without customers or segments.
    """

    result: ValuationResult
    segments: Any = field(default=None, repr=False)


def _numeric_types() -> tuple[type, ...]:
    from pyspark.sql import types as T

    return (
        T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
        T.DecimalType, T.BooleanType,
    )  # fmt: skip


def _levels(frame: DataFrame, column: str) -> list[str]:
    """The distinct non-null values of ``column`` as text, sorted (a few rows collected)."""
    from pyspark.sql import functions as F

    values = frame.select(_col(column).cast("string").alias("_v")).where(F.col("_v").isNotNull())
    return sorted(str(r[0]) for r in values.distinct().collect())


def feature_names_spark(
    customers: DataFrame,
    *,
    id_column: str,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    per_customer: DataFrame | None = None,
    per_customer_id: str | None = None,
    events: DataFrame | None = None,
    event_type: str | None = None,
    transactions: DataFrame | None = None,
    mix_columns: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The feature columns :func:`~segmentum.valuation.projection.customer_features` makes
    of these tables, in its order, and which of them are categorical.

    The customers' numeric columns, then their text ones (dates left out; ``columns``, or
    all but ``id_column`` and ``exclude``), the value table's numeric columns, one
    ``events_<type>`` per event type and one ``mix_<col>=<level>`` per level of each mix
    column (types and levels sorted, as pandas' group-by and cross-tabulation sort them).
    """
    from pyspark.sql import types as T

    numeric_types = _numeric_types()
    kinds = {f.name: f.dataType for f in customers.schema.fields}
    wanted = list(columns) if columns is not None else [c for c in customers.columns]
    wanted = [c for c in wanted if c != id_column and c not in exclude]
    dated = (T.DateType, T.TimestampType, T.TimestampNTZType)
    kept = [c for c in wanted if not isinstance(kinds[c], dated)]
    numeric = [c for c in kept if isinstance(kinds[c], numeric_types)]
    categorical = [c for c in kept if c not in numeric]
    names = [*numeric, *categorical]
    if per_customer is not None:
        pid = per_customer_id or id_column
        names += [
            f.name
            for f in per_customer.schema.fields
            if f.name != pid and isinstance(f.dataType, numeric_types)
        ]
    if events is not None and event_type is not None:
        names += [f"events_{t}" for t in _levels(events, event_type)]
    if transactions is not None:
        for col in mix_columns:
            if col in transactions.columns:
                names += [f"mix_{col}={x}" for x in _levels(transactions, col)]
    return names, categorical


def _linked_features(
    features: DataFrame,
    ids: Sequence[str],
    id_column: str,
    names: Sequence[str],
    categorical: Sequence[str],
    spark: SparkSession,
) -> pd.DataFrame:
    """The features of the customers ``ids`` on the driver (one row each), typed as
    :func:`~segmentum.valuation.projection.customer_features` types them: numbers as
    float, text as category; indexed by the text customer id."""
    from pyspark.sql import functions as F

    keys = spark.createDataFrame([(str(i),) for i in ids], "_key string")
    rows = features.join(
        F.broadcast(keys), F.col(id_column).cast("string") == F.col("_key"), "left_semi"
    ).toPandas()
    index = pd.Index(rows[id_column].astype(str), name=id_column)
    cats = set(categorical)
    out = {
        c: rows[c].astype(object) if c in cats else pd.to_numeric(rows[c]).astype(float)
        for c in names
    }
    frame = pd.DataFrame({c: v.to_numpy() for c, v in out.items()}, index=index)
    for c in names:
        if c in cats:
            frame[c] = frame[c].astype("category")
    return frame


def _nan_free_sum(column: str) -> Column:
    """Sum skipping NaN and null (pandas' rule), 0 when there is nothing to add."""
    from pyspark.sql import functions as F

    x = F.col(column)
    return F.coalesce(F.sum(F.when(~F.isnan(x), x)), F.lit(0.0))


def customer_segments_spark(
    projected: DataFrame, id_column: str, linked: pd.Series, spark: SparkSession
) -> DataFrame:
    """Every customer's segment: the linked respondent's where linked (probability 1,
    ``segment_source`` "survey"), else the projection's; ``_projected`` keeps the
    projection's segment (what the adjusted sizes count)."""
    from pyspark.sql import functions as F

    proj = projected.select(
        F.col(id_column).cast("string").alias("customer_id"),
        F.col("segment").cast("bigint").alias("_projected"),
        F.col("segment_probability"),
    )
    survey = spark.createDataFrame(
        [(str(k), int(v)) for k, v in linked.items()], "customer_id string, _survey bigint"
    )
    proj = proj.join(F.broadcast(survey), "customer_id", "left")
    is_survey = F.col("_survey").isNotNull()
    return proj.select(
        "customer_id",
        F.coalesce(F.col("_survey"), F.col("_projected")).alias("segment"),
        F.when(is_survey, F.lit(1.0)).otherwise(F.col("segment_probability"))
        .alias("segment_probability"),
        F.when(is_survey, F.lit("survey")).otherwise(F.lit("projected")).alias("segment_source"),
        "_projected",
    )  # fmt: skip


def _linked_segments_spark(linked: pd.Series, spark: SparkSession) -> DataFrame:
    """The customer segments when there is no projection: the linked customers alone."""
    rows = [(str(k), int(v), 1.0, "survey", None) for k, v in linked.items()]
    return spark.createDataFrame(
        rows,
        "customer_id string, segment bigint, segment_probability double, "
        "segment_source string, _projected bigint",
    )


def _projected_counts(segments: DataFrame) -> pd.Series:
    """Customers projected to each segment (one row per segment collected)."""
    got = segments.where(segments["_projected"].isNotNull()).groupBy("_projected").count()
    rows = got.collect()
    return pd.Series({int(r["_projected"]): int(r["count"]) for r in rows}, dtype=np.int64)


def _growth_spark(
    segments: DataFrame,
    transactions: DataFrame,
    transactions_id: str,
    timestamp: str,
    amount: str,
    period_days: int,
) -> pd.Series | None:
    """Revenue growth by segment, as :func:`~segmentum.valuation.value.segment_valuation`
    computes it: the periods from the transactions' first and last instant (one row), the
    revenue per segment and period from a Spark group-by (None: too short to compare)."""
    from pyspark.sql import functions as F

    ts = F.unix_micros(_col(timestamp).cast("timestamp"))
    bounds = transactions.agg(F.min(ts).alias("lo"), F.max(ts).alias("hi")).collect()[0]
    if bounds["lo"] is None:
        return None
    lo, hi = (pd.Timestamp(int(bounds[k]), unit="us") for k in ("lo", "hi"))
    cuts = growth_periods(lo, hi, period_days)
    if cuts is None:
        return None
    cut0, cut1 = (int(c.value // 1000) for c in cuts)
    period = F.when(ts > F.lit(cut1), F.lit(1)).when(ts > F.lit(cut0), F.lit(0))
    tx = transactions.select(
        F.col(transactions_id).cast("string").alias("customer_id"),
        period.alias("_period"),
        _col(amount).cast("double").alias("_amount"),
    ).where(F.col("_period").isNotNull())
    seg = segments.select("customer_id", "segment")
    rev = (
        tx.join(seg, "customer_id", "inner")
        .groupBy("segment", "_period")
        .agg(_nan_free_sum("_amount").alias("_amount"))
        .toPandas()
    )
    table = rev.pivot(index="segment", columns="_period", values="_amount").fillna(0.0)
    table.columns = [int(c) for c in table.columns]
    return growth_from_revenue(table)


def segment_valuation_spark(
    segments: DataFrame,
    per_customer: DataFrame,
    *,
    per_customer_id: str = "customer_id",
    transactions: DataFrame | None = None,
    transactions_id: str = "customer_id",
    timestamp: str | None = None,
    amount: str | None = None,
    population_shares: dict[int, float] | None = None,
    period_days: int = 365,
) -> pd.DataFrame:
    """:func:`~segmentum.valuation.value.segment_valuation` from Spark tables: the
    customers and value sums per segment and the growth periods' revenue are Spark
    group-bys (one row per segment, or per segment and period, reaches the driver).

    Parameters
    ----------
    segments : pyspark.sql.DataFrame
        ``customer_id`` (text) and ``segment`` of every segmented customer.
    per_customer : pyspark.sql.DataFrame
        The value stage's table (the columns of :data:`VALUE_COLUMNS` present are summed).
    per_customer_id, transactions_id : str
        Their customer id columns.
    transactions, timestamp, amount : optional
        For growth.
    population_shares : dict of int to float, optional
    period_days : int, default=365
    """
    from pyspark.sql import functions as F

    cols = [c for c in VALUE_COLUMNS if c in per_customer.columns]
    pc = per_customer.select(
        F.col(per_customer_id).cast("string").alias("customer_id"),
        *[_col(c).cast("double").alias(c) for c in cols],
    )
    joined = pc.join(segments.select("customer_id", "segment"), "customer_id", "inner")
    aggs = [F.count(F.lit(1)).alias("_n"), *[_nan_free_sum(c).alias(c) for c in cols]]
    got = joined.groupBy("segment").agg(*aggs).toPandas()
    got = got.set_index(got["segment"].astype(np.int64)).drop(columns="segment").sort_index()
    growth = None
    if transactions is not None and timestamp and amount:
        growth = _growth_spark(
            segments, transactions, transactions_id, timestamp, amount, period_days
        )
    return valuation_table(got["_n"].astype(np.int64), got[cols], growth, population_shares)


def _project_customers_spark(
    side: Any,
    customers: DataFrame,
    *,
    customer_id: str,
    columns: Sequence[str] | None,
    exclude: Sequence[str],
    survey_customer_id: str | None,
    tables: dict[str, Any],
    cfg: ValuationConfig,
    warnings: list[str],
    spark: SparkSession,
) -> tuple[Any, pd.DataFrame | None, pd.Series, DataFrame | None]:
    """The projection fitted on the linked customers' features (brought to the driver),
    applied in Spark; returns the projection, its adjusted sizes, the linked customers'
    survey segments and every customer's segment (a persisted Spark frame)."""
    names, categorical = feature_names_spark(
        customers, id_column=customer_id, columns=columns, exclude=exclude,
        per_customer=tables.get("per_customer"), per_customer_id=tables.get("per_customer_id"),
        events=tables.get("events"), event_type=tables.get("event_type"),
        transactions=tables.get("transactions"), mix_columns=tables.get("mix_columns") or (),
    )  # fmt: skip
    features = customer_features_spark(
        customers, id_column=customer_id, columns=names,
        per_customer=tables.get("per_customer"), per_customer_id=tables.get("per_customer_id"),
        events=tables.get("events"), events_id=tables.get("events_id"),
        event_type=tables.get("event_type"), transactions=tables.get("transactions"),
        transactions_id=tables.get("transactions_id"),
    )  # fmt: skip
    ids: list[str] = []
    if survey_customer_id is not None:
        ids = sorted({str(v) for v in side.survey[survey_customer_id].dropna()})
    train = _linked_features(features, ids, customer_id, names, categorical, spark)
    linked = side.linked(survey_customer_id, train.index, as_text=True)
    projection = fit_linked(train, linked, cfg, warnings)
    if projection is None:
        frame = _linked_segments_spark(linked, spark) if len(linked) else None
        return None, None, linked, frame
    projected = project_spark(projection.model, features, customer_id)
    frame = customer_segments_spark(projected, customer_id, linked, spark).persist()
    adjusted = adjusted_shares_from_counts(
        projection.confusion, _projected_counts(frame), seed=cfg.random_state
    )
    return projection, adjusted, linked, frame


def run_valuation_spark(
    survey: pd.DataFrame,
    respondent_segments: pd.Series,
    *,
    respondent_id: str,
    basis: list[str],
    spark: SparkSession,
    survey_customer_id: str | None = None,
    weights: str | None = None,
    segment_names: dict[int, str] | None = None,
    customers: DataFrame | None = None,
    customer_id: str | None = None,
    customer_columns: list[str] | None = None,
    per_customer: DataFrame | None = None,
    per_customer_id: str = "customer_id",
    transactions: DataFrame | None = None,
    transactions_id: str | None = None,
    timestamp: str | None = None,
    amount: str | None = None,
    mix_columns: list[str] | None = None,
    events: DataFrame | None = None,
    events_id: str | None = None,
    event_type: str | None = None,
    ratings: pd.DataFrame | None = None,
    rating_columns: dict[str, str] | None = None,
    defining_needs: dict[int, list[str]] | None = None,
    config: ValuationConfig | None = None,
) -> SparkValuation:
    """:func:`~segmentum.valuation.run.run_valuation` with the customer tables in Spark.

    The parameters are :func:`~segmentum.valuation.run.run_valuation`'s, the customers,
    value, transactions and events tables being Spark DataFrames with their own customer
    id columns (``per_customer_id``, ``transactions_id``, ``events_id``; default
    ``customer_id``). The module docstring says what reaches the driver.
    """
    cfg = config or ValuationConfig()
    side = survey_side(
        survey, respondent_segments, respondent_id=respondent_id, basis=basis,
        weights=weights, segment_names=segment_names, config=cfg,
    )  # fmt: skip
    warnings = list(side.warnings)
    projection = adjusted = frame = None
    linked = pd.Series(dtype=np.int64)
    if customers is not None and customer_id is not None:
        tables = {
            "per_customer": per_customer, "per_customer_id": per_customer_id,
            "events": events, "events_id": events_id or customer_id, "event_type": event_type,
            "transactions": transactions, "transactions_id": transactions_id or customer_id,
            "mix_columns": mix_columns,
        }  # fmt: skip
        projection, adjusted, linked, frame = _project_customers_spark(
            side, customers, customer_id=customer_id, columns=customer_columns,
            exclude=[respondent_id], survey_customer_id=survey_customer_id, tables=tables,
            cfg=cfg, warnings=warnings, spark=spark,
        )  # fmt: skip
    valuation = None
    if per_customer is not None and frame is not None:
        valuation = segment_valuation_spark(
            frame, per_customer, per_customer_id=per_customer_id, transactions=transactions,
            transactions_id=transactions_id or customer_id or "customer_id",
            timestamp=timestamp, amount=amount, population_shares=side.population_shares,
        )  # fmt: skip
    cust_seg = survey_segments(linked).rename_axis(customer_id)
    result = finish_valuation(
        side, customer_segments=cust_seg, projection=projection, adjusted_sizes=adjusted,
        valuation=valuation, ratings=ratings, rating_columns=rating_columns,
        defining_needs=defining_needs, config=cfg, warnings=warnings,
    )  # fmt: skip
    return SparkValuation(result, frame)


def assignments_from_segments_spark(
    respondents: pd.DataFrame, segments: DataFrame | None, spark: SparkSession
) -> DataFrame:
    """The valuation stage's assignments as a Spark DataFrame from every customer's
    segment (:attr:`SparkValuation.segments`): the respondents' rows from the driver, then
    each projected customer no respondent is linked to (``segment_source`` "projected"),
    as :meth:`~segmentum.valuation.run.ValuationResult.assignment_rows` gives them."""
    from pyspark.sql import functions as F

    out = respondent_rows_spark(respondents, spark)
    if segments is None:
        return out
    known = sorted({str(v) for v in respondents["customer_id"].dropna()})
    rest = segments.where(F.col("segment_source") == "projected")
    if known:
        ids = spark.createDataFrame([(k,) for k in known], "customer_id string")
        rest = rest.join(F.broadcast(ids), "customer_id", "left_anti")
    rest = rest.select(
        F.lit(None).cast("string").alias("respondent_id"),
        F.col("customer_id"),
        F.col("segment").cast("bigint").alias("segment"),
        F.col("segment_probability"),
        F.lit("projected").alias("segment_source"),
    )
    return out.unionByName(rest.select(*[c.split()[0] for c in ASSIGNMENT_SCHEMA.split(", ")]))


def linked_features_spark(
    ctx: Any, ids: Sequence[str], columns: Sequence[str], value: Any, spark: SparkSession
) -> tuple[pd.DataFrame, set[str]]:
    """engine = "spark": the projection's features of the customers ``ids`` alone (the
    data-collection plan's rows), as the DuckDB plan builds them from the clean tables
    filtered to those customers: the event types and product/channel levels are those of
    their rows. Every table is filtered in Spark; one row per customer reaches the driver.

    Returns the features (indexed by the text customer id) and the value table's columns.
    """
    from pyspark.sql import functions as F

    src = ctx.config.sources
    cs, tsrc, esrc = src.customers, src.transactions, src.events
    keys = F.broadcast(spark.createDataFrame([(str(i),) for i in ids], "_key string"))

    def only(frame: DataFrame | None, col: str) -> DataFrame | None:
        if frame is None:
            return None
        on = F.col(col).cast("string") == F.col("_key")
        return frame.join(keys, on, "left_semi")

    customers = only(stage_table(ctx, "customers", spark), cs.id)
    assert customers is not None
    per, per_id = None, "customer_id"
    if value is not None:
        per = getattr(value, "spark", None)
        if per is None:
            from segmentum.valuation.spark import to_spark_frame

            per, per_id = to_spark_frame(spark, value.per_customer), value.customer_id
        per = only(per, per_id)
    events = only(stage_table(ctx, "events", spark), esrc.customer_id) if esrc else None
    tx = only(stage_table(ctx, "transactions", spark), tsrc.customer_id) if tsrc else None
    mix = [c for c in (tsrc.product, tsrc.channel) if c] if tsrc is not None else []
    cols = [c for c in dict.fromkeys(columns) if c in customers.columns]
    names, categorical = feature_names_spark(
        customers, id_column=cs.id, columns=cols, per_customer=per, per_customer_id=per_id,
        events=events, event_type=esrc.event_type if esrc else None, transactions=tx,
        mix_columns=mix,
    )  # fmt: skip
    features = customer_features_spark(
        customers, id_column=cs.id, columns=names, per_customer=per, per_customer_id=per_id,
        events=events, events_id=esrc.customer_id if esrc else None,
        event_type=esrc.event_type if esrc else None, transactions=tx,
        transactions_id=tsrc.customer_id if tsrc else None,
    )  # fmt: skip
    feats = _linked_features(features, ids, cs.id, names, categorical, spark)
    return feats, set(per.columns) if per is not None else set()
