"""The customer half of the activation stage on Spark, with only aggregates on the driver.

With ``engine = "spark"`` the activation stage computes every customer's lifecycle stage,
control flag and next best offer once, in Spark (the functions of
:mod:`segmentum.activation.spark`), and the driver receives small tables only:

* the cell table (:func:`cell_table_spark`): customers, summed value and summed expected
  value per segment x stage x control x offer x reason for no offer, from which
  :func:`~segmentum.activation.customers.tally` and
  :func:`~segmentum.activation.customers.segment_stage_table` make every count of
  ``activation.json`` and the report (the pandas path reads the same functions);
* the response history counted per segment x stage x offer (:func:`response_counts_spark`),
  the acceptance estimates' only input;
* the flow between stages (:func:`flow_spark`): the value table summarised at the earlier
  date by :func:`~segmentum.value.spark.summarize_spark`, P(alive) scored by the fitted
  purchase model in ``mapInPandas`` batches, the stages then by
  :func:`~segmentum.activation.spark.lifecycle_stage_spark`, and the moves counted;
* the channel mix of the playbooks (:func:`channel_mix_spark`) and the trigger rules'
  counts (:func:`evaluate_triggers_spark`; the firing customers, written to
  ``audiences/trigger_customers.csv``, are collected up to a bound, named as such).

:func:`customer_activation_spark` composes them into a
:class:`~segmentum.activation.customers.CustomerActivation` whose ``customers`` is ``None``
and whose ``spark`` holds the per-customer rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.activation.customers import (
    CELL_KEYS,
    CustomerActivation,
    _stage_labels,
    flow_order,
    ordered_cells,
    segment_stage_table,
    tally,
)
from segmentum.activation.offers import acceptance_from_counts, read_offers
from segmentum.activation.settings import ActivationConfig
from segmentum.activation.spark import (
    _micros,
    _renamed_spark,
    _timestamp,
    control_group_spark,
    lifecycle_stage_spark,
    next_best_offer_spark,
)
from segmentum.activation.triggers import TriggerResult, TriggerRule, rule_rows
from segmentum.valuation.spark import stage_session, stage_table, to_spark_frame

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from segmentum.activation.uplift import OfferUplift
    from segmentum.flow import StageContext

__all__ = [
    "TRIGGER_FIRING_MAX_ROWS",
    "cell_table_spark",
    "channel_mix_spark",
    "customer_activation_spark",
    "evaluate_triggers_spark",
    "flow_spark",
    "response_counts_spark",
    "segments_spark",
]

#: the most firing rows (rule x customer) brought to the driver for trigger_customers.csv
TRIGGER_FIRING_MAX_ROWS = 100_000
_LIFECYCLE_INPUT = ("customer_id", "n_transactions", "first_purchase", "last_purchase")
_DAY_MICROS = 86_400_000_000


def segments_spark(ctx: StageContext, spark: SparkSession) -> DataFrame:
    """``customer_id`` (text), ``segment`` of every customer: the survey-linked rows of the
    valuation's (driver) assignments, deduplicated as the pandas path keeps the first, and
    the projected customers of its Spark frame (its driver rows when it has none)."""
    from pyspark.sql import functions as F

    from segmentum.valuation.stage import ValuationStageResult

    vst = ctx.result(ValuationStageResult)
    val = vst.assignments
    linked = val[val["segment_source"] == "survey"].dropna(subset=["customer_id"])
    linked = linked.drop_duplicates("customer_id")[["customer_id", "segment"]]
    linked = linked.assign(customer_id=linked["customer_id"].astype(str))
    segments = to_spark_frame(spark, linked.reset_index(drop=True))
    if vst.spark is not None:
        projected = vst.spark.filter(F.col("segment_source") == "projected")
        rest = projected.select(F.col("customer_id").cast("string"), "segment")
    else:
        rows = val[val["segment_source"] != "survey"].dropna(subset=["customer_id"])
        rows = rows.drop_duplicates("customer_id")[["customer_id", "segment"]]
        rows = rows.assign(customer_id=rows["customer_id"].astype(str))
        rest = to_spark_frame(spark, rows.reset_index(drop=True))
    segments = segments.select(F.col("customer_id").cast("string"), "segment")
    return segments.unionByName(rest.select("customer_id", "segment"))


def _checked_per_customer(per_customer: DataFrame | None, warnings: list[str]) -> None:
    """The pandas path's checks of the value table: lifecycle columns, and P(alive)."""
    if per_customer is None:
        return
    missing = [c for c in _LIFECYCLE_INPUT if c not in per_customer.columns]
    if missing:
        raise ValueError(f"customer_activation: the per-customer table lacks {missing}")
    if "p_alive" not in per_customer.columns:
        warnings.append(
            "no P(alive) from the value stage: lapsing and lost are not read (every buyer "
            "counts as alive)"
        )


def response_counts_spark(
    responses: DataFrame, customers: DataFrame, labels: Sequence[str], warnings: list[str]
) -> pd.DataFrame:
    """The response history counted per ``segment``, ``stage``, ``offer_id``: ``n`` and
    ``accepted`` (what :func:`~segmentum.activation.offers.acceptance_from_counts` reads),
    with the warnings of the pandas path (no logged stage, odd stages, unknown customers).

    ``customers`` holds ``customer_id``, ``segment``, ``stage`` (today's).
    """
    from pyspark.sql import functions as F

    r = responses.withColumn("customer_id", F.col("customer_id").cast("string"))
    cust = customers.select(
        "customer_id", "segment", F.col("stage").alias("_now")
    )  # fmt: skip
    joined = r.join(cust, "customer_id", "left")
    logged = "stage" in r.columns
    facts = joined.agg(
        F.sum(F.col("_now").isNull().cast("long")).alias("unknown"),
        F.sum((F.col("_now").isNotNull() & F.col("stage").isNotNull()).cast("long")).alias("logged")
        if logged
        else F.lit(0).alias("logged"),
    ).first()
    known = joined.filter(F.col("_now").isNotNull())
    if not int(facts["logged"] or 0):
        stage = F.col("_now")
        warnings.append(
            "the response history logs no stage: each response counts at the customer's "
            "stage on the analysis date"
        )
    else:
        stage = F.col("stage").cast("string")
        odd = known.filter(stage.isNull() | ~stage.isin(list(labels)))
        n_odd = odd.count()
        if n_odd:
            seen = [row[0] for row in odd.select(stage.alias("s")).distinct().collect()]
            names = ", ".join(sorted(map(str, seen))[:5])
            warnings.append(
                f"{n_odd:,} responses log a stage the lifecycle rules do not have "
                f"({names}); they count towards their offer's overall rate only (rename them "
                "under [activation.stages] names)"
            )
    unknown = int(facts["unknown"] or 0)
    if unknown:
        warnings.append(
            f"{unknown:,} responses are of customers without a segment; left out "
            "of the acceptance estimates"
        )
    counts = (
        known.select("segment", stage.alias("stage"), F.col("offer_id").cast("string"),
                     F.col("accepted").cast("boolean").cast("long").alias("_a"))
        .groupBy("segment", "stage", "offer_id")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("_a").alias("accepted"))
        .toPandas()
    )  # fmt: skip
    return counts


def cell_table_spark(frame: DataFrame, value: DataFrame | None) -> pd.DataFrame:
    """The per-customer rows counted by :data:`~segmentum.activation.customers.CELL_KEYS`
    in Spark: the driver's twin is :func:`~segmentum.activation.customers.cell_table`.

    ``value`` holds ``customer_id``, ``_value`` (a missing value counts 0, as on pandas).
    """
    from pyspark.sql import functions as F

    f = frame.withColumn("control", F.coalesce(F.col("control").cast("boolean"), F.lit(False)))
    if value is not None:
        f = f.join(value, "customer_id", "left").withColumn(
            "_value", F.coalesce(F.col("_value"), F.lit(0.0))
        )
    else:
        f = f.withColumn("_value", F.lit(None).cast("double"))
    out = (
        f.groupBy(*CELL_KEYS)
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.sum("_value").alias("value"),
            F.sum(F.col("offer_expected_value").cast("double")).alias("expected_value"),
        )
        .toPandas()
    )
    out["customers"] = out["customers"].astype(np.int64)
    for col in ("value", "expected_value"):
        out[col] = out[col].astype(float)
    out["control"] = out["control"].astype(bool)
    return out


def _earlier_table(ctx: StageContext, spark: SparkSession, date: pd.Timestamp) -> Any:
    """The value table at ``date`` in Spark (``customer_id``, the lifecycle columns and
    ``p_alive`` from the fitted purchase model); ``False`` when the stage flow cannot be
    read (no value stage, transactions or model), ``None`` when nobody had bought yet."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from segmentum.value.spark import summarize_spark
    from segmentum.value.stage import ValueResult

    value = ctx.optional(ValueResult)
    tsrc = ctx.config.sources.transactions
    model = value.models.get("purchase") if value is not None else None
    if value is None or tsrc is None or model is None:
        return False
    tx = stage_table(ctx, "transactions", spark)
    assert tx is not None
    tx = tx.filter(F.col(f"`{tsrc.timestamp}`").cast("timestamp") <= _timestamp(date))
    if tx.isEmpty():
        return None
    summary = summarize_spark(
        tx, tsrc.customer_id, tsrc.timestamp, tsrc.amount,
        calibration_end=date, time_unit=value.config.time_unit,
    )  # fmt: skip
    cols = ["frequency", "recency", "T", "n_transactions", "first_purchase", "last_purchase"]
    base = summary.select(F.col(f"`{tsrc.customer_id}`").cast("string").alias("customer_id"), *cols)
    schema = T.StructType([*base.schema.fields, T.StructField("p_alive", T.DoubleType())])

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield batch.assign(p_alive=model.probability_alive(batch).to_numpy(dtype=float))

    return base.mapInPandas(score, schema)


def _first_seen(per_customer: DataFrame | None, events: DataFrame | None) -> DataFrame | None:
    """``customer_id``, ``_first``: the first purchase or event of each customer."""
    from pyspark.sql import functions as F

    parts = []
    if per_customer is not None and "first_purchase" in per_customer.columns:
        parts.append(per_customer.select(
            F.col("customer_id").cast("string").alias("customer_id"),
            F.col("first_purchase").cast("timestamp").alias("_first")))  # fmt: skip
    if events is not None:
        parts.append(events.select(
            F.col("customer_id").cast("string").alias("customer_id"),
            F.col("timestamp").cast("timestamp").alias("_first")))  # fmt: skip
    if not parts:
        return None
    union = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return union.groupBy("customer_id").agg(F.min("_first").alias("_first"))


def flow_spark(
    ctx: StageContext,
    customers: DataFrame,
    flow_date: pd.Timestamp,
    *,
    per_customer: DataFrame | None,
    events: DataFrame | None,
    config: ActivationConfig,
) -> pd.DataFrame | None:
    """The moves between stages from ``flow_date`` to now, counted in Spark
    (``from_stage``, ``to_stage``, ``customers``), or ``None`` without a purchase model.

    ``customers`` holds ``customer_id`` and today's ``stage``. As the pandas path: the
    stage at ``flow_date`` from the value table summarised then (P(alive) from the same
    model) and the events up to then; customers first seen after ``flow_date`` come from
    "not yet known".
    """
    from pyspark.sql import functions as F

    earlier = _earlier_table(ctx, customers.sparkSession, flow_date)
    if earlier is False:
        return None
    before = lifecycle_stage_spark(
        customers.select("customer_id"), flow_date, per_customer=earlier, events=events,
        rules=config.stages,
    ).withColumnRenamed("stage", "_before")  # fmt: skip
    moves = customers.select("customer_id", F.col("stage").alias("to_stage")).join(
        before, "customer_id", "left"
    )
    seen = _first_seen(per_customer, events)
    if seen is not None:
        moves = moves.join(seen, "customer_id", "left")
        known = F.coalesce(F.col("_first") <= _timestamp(flow_date), F.lit(False))
    else:
        known = F.lit(False)
    from_stage = F.when(known, F.col("_before")).otherwise(F.lit(None))
    counts = (
        moves.filter(F.col("to_stage").isNotNull())
        .select(F.coalesce(from_stage, F.lit("not yet known")).alias("from_stage"), "to_stage")
        .groupBy("from_stage", "to_stage")
        .agg(F.count(F.lit(1)).alias("customers"))
        .toPandas()
    )
    return flow_order(counts, _stage_labels(config))


def _no_offers(frame: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return frame.select(
        "*",
        F.lit(None).cast("string").alias("next_best_offer"),
        F.lit(None).cast("double").alias("offer_expected_value"),
        F.lit(None).cast("double").alias("offer_p_accept"),
        F.lit(None).cast("double").alias("offer_clv_uplift"),
        F.lit("no offers table").alias("no_offer_reason"),
    )


def _offers_spark(
    c: DataFrame,
    offers: pd.DataFrame,
    responses: pd.DataFrame | None,
    *,
    analysis_date: pd.Timestamp,
    config: ActivationConfig,
    seed: int,
    warnings: list[str],
    uplift: DataFrame | None,
    offers_label: str,
) -> tuple[DataFrame, pd.DataFrame, pd.DataFrame]:
    """The checked offers, the acceptance estimates and every customer's next best offer."""
    labels = _stage_labels(config)
    spark = c.sparkSession
    cells = ordered_cells(c.select("segment", "stage").distinct().toPandas(), labels)
    segs = sorted(int(s) for s in pd.unique(cells["segment"].dropna()))
    checked = read_offers(offers, known_segments=segs, known_stages=labels, label=offers_label)
    history = None
    if responses is not None and len(responses):
        history = to_spark_frame(spark, responses.reset_index(drop=True))
        counts = response_counts_spark(history, c, labels, warnings)
    else:
        warnings.append(
            "no response history: P(accept) cannot be estimated, so no offer is chosen "
            "(declare [sources.responses])"
        )
        counts = pd.DataFrame(columns=["segment", "stage", "offer_id", "n", "accepted"])
    acceptance = acceptance_from_counts(
        counts, checked, cells, prior_strength=config.prior_strength
    )
    nbo = next_best_offer_spark(
        c, checked, acceptance, seed=seed, responses=history, analysis_date=analysis_date,
        policy=config.contact, min_expected_value=config.min_expected_value, uplift=uplift,
    )  # fmt: skip
    return c.join(nbo, "customer_id", "left"), checked, acceptance


def customer_activation_spark(
    ctx: StageContext,
    analysis_date: pd.Timestamp,
    *,
    config: ActivationConfig,
    offers: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
    flow_date: pd.Timestamp | None = None,
    offers_label: str = "offers",
    uplift: OfferUplift | None = None,
) -> CustomerActivation:
    """:func:`~segmentum.activation.customers.customer_activation` for a run with
    ``engine = "spark"``: the per-customer rows computed once in Spark and kept there
    (``CustomerActivation.spark``, persisted; ``customers`` is ``None``), the counts,
    segment x stage table, acceptance and flow from Spark aggregates.

    The segments are :func:`segments_spark`'s, the value table the value stage's Spark
    frame (its driver table handed to Spark when it ran on the driver), the events the
    ingest's Spark table; ``offers`` and ``responses`` are the driver's (small) tables.
    """
    from pyspark.sql import functions as F

    from segmentum.value.stage import ValueResult, per_customer_columns

    spark = stage_session(ctx)
    if spark is None:
        raise ValueError(
            'customer_activation_spark: the run has no Spark session (engine = "spark")'
        )
    warnings: list[str] = []
    value = ctx.optional(ValueResult)
    per_customer = None
    if value is not None:
        per_customer = getattr(value, "spark", None)
        if per_customer is None:
            per_customer = to_spark_frame(spark, per_customer_columns(value))
    _checked_per_customer(per_customer, warnings)
    e = ctx.config.sources.events
    events = None if e is None else _renamed_spark(ctx, spark, "events", {
        "customer_id": e.customer_id, "timestamp": e.timestamp, "event_type": e.event_type})  # fmt: skip
    c = segments_spark(ctx, spark)
    stages = lifecycle_stage_spark(
        c, analysis_date, per_customer=per_customer, events=events, rules=config.stages
    )
    c = control_group_spark(c.join(stages, "customer_id", "left"), ctx.seed,
                            config.control_share, strata="segment")  # fmt: skip
    c = c.localCheckpoint()  # the stages and the control group, computed once
    checked = acceptance = None
    if offers is not None:
        up = None
        if uplift is not None:
            up = uplift.spark_frame(spark)  # computed in Spark (spark_whatif) or handed over
        full, checked, acceptance = _offers_spark(
            c, offers, responses, analysis_date=analysis_date, config=config, seed=ctx.seed,
            warnings=warnings, uplift=up, offers_label=offers_label,
        )  # fmt: skip
    else:
        full = _no_offers(c)
    full = full.localCheckpoint()
    value_column, values = None, None
    if per_customer is not None:
        for col in ("clv", "revenue"):
            if col in per_customer.columns:
                values = per_customer.select(
                    F.col("customer_id").cast("string").alias("customer_id"),
                    F.col(col).cast("double").alias("_value"),
                )
                value_column = col
                break
    labels = _stage_labels(config)
    cells = cell_table_spark(full, values)
    flow = None
    if flow_date is not None:
        flow = flow_spark(ctx, full, flow_date, per_customer=per_customer, events=events,
                          config=config)  # fmt: skip
    return CustomerActivation(
        customers=None,
        segment_stage=segment_stage_table(cells, labels, value_column is not None),
        flow=flow,
        acceptance=acceptance,
        offers=checked,
        analysis_date=analysis_date,
        flow_date=flow_date if flow is not None else None,
        value_column=value_column,
        config=config,
        warnings=warnings,
        uplift=uplift,
        counts=tally(cells, labels),
        spark=full,
    )


def channel_mix_spark(
    customers: DataFrame, table: DataFrame, id_column: str, channel: str
) -> pd.DataFrame:
    """``segment``, ``stage``, ``channel``, ``share``: the acquisition channels of each
    segment x stage's customers (of those with a channel), counted in Spark.

    ``customers`` holds ``customer_id``, ``segment``, ``stage``; ``table`` is the customers
    table with ``id_column`` and ``channel``.
    """
    from pyspark.sql import functions as F

    ch = table.select(
        F.col(f"`{id_column}`").cast("string").alias("customer_id"),
        F.col(f"`{channel}`").cast("string").alias("channel"),
    ).filter(F.col("channel").isNotNull())
    counts = (
        customers.select("customer_id", "segment", "stage")
        .join(ch, "customer_id")
        .groupBy("segment", "stage", "channel")
        .agg(F.count(F.lit(1)).alias("_n"))
        .toPandas()
    )
    total = counts.groupby(["segment", "stage"])["_n"].transform("sum")
    counts["share"] = counts["_n"] / total
    counts = counts.sort_values(["segment", "stage", "share", "channel"],
                                ascending=[True, True, False, True])  # fmt: skip
    return counts.drop(columns="_n").reset_index(drop=True)


def evaluate_triggers_spark(
    rules: Sequence[TriggerRule],
    customers: DataFrame,
    events: DataFrame | None,
    analysis_date: Any,
    *,
    segment_stage: pd.DataFrame | None = None,
    segment_names: Mapping[int, str] | None = None,
    max_rows: int = TRIGGER_FIRING_MAX_ROWS,
) -> TriggerResult:
    """:func:`~segmentum.activation.triggers.evaluate_triggers` in Spark.

    The rules' counts (``customers_firing`` per rule and in all) are Spark aggregates; the
    firing rows (rule x customer, for ``trigger_customers.csv``) are brought to the driver
    ordered by rule, then customer id, at most ``max_rows`` of them (a warning says when
    more fire).
    """
    from pyspark.sql import functions as F

    today = pd.Timestamp(analysis_date)
    cust = customers.select(
        F.col("customer_id").cast("string").alias("customer_id"), "segment", "stage",
        F.coalesce(F.col("control").cast("boolean"), F.lit(False)).alias("_ctl"),
    ).filter(~F.col("_ctl"))  # fmt: skip
    spark = customers.sparkSession
    days = max((r.within_days for r in rules), default=0.0)
    now = _micros(_timestamp(today))
    if events is None or days <= 0:
        ev = spark.createDataFrame([], "customer_id string, _t bigint, event_type string")
    else:
        ev = events.select(
            F.col("customer_id").cast("string").alias("customer_id"),
            _micros(F.col("timestamp")).alias("_t"),
            F.col("event_type").cast("string").alias("event_type"),
        ).filter((F.col("_t") <= now) & (F.col("_t") > now - F.lit(round(days * _DAY_MICROS))))
    ev = ev.localCheckpoint()
    known = {str(r[0]) for r in ev.select("event_type").distinct().collect()}
    has_events = bool(known) or not ev.isEmpty()
    fired = []
    for i, rule in enumerate(rules):
        pick = cust
        if rule.segment is not None:
            pick = pick.filter(F.col("segment").cast("double") == float(rule.segment))
        if rule.stage is not None:
            pick = pick.filter(F.col("stage").cast("string") == rule.stage)
        since = now - F.lit(round(rule.within_days * _DAY_MICROS))
        hits = (
            ev.filter(F.col("event_type").isin(list(rule.events)) & (F.col("_t") > since))
            .groupBy("customer_id")
            .agg(F.count(F.lit(1)).alias("events"), F.max("_t").alias("_last"))
            .filter(F.col("events") >= rule.min_events)
        )
        fired.append(
            pick.select("customer_id", "segment", "stage").join(hits, "customer_id")
            .select(F.lit(i).alias("_rule"), F.lit(rule.id).alias("rule_id"), "customer_id",
                    "segment", "stage", "events", "_last")
        )  # fmt: skip
    firing = None
    if fired:
        firing = fired[0]
        for f in fired[1:]:
            firing = firing.unionByName(f)
        firing = firing.localCheckpoint()
    per_rule: dict[int, int] = {}
    distinct = 0
    rows = pd.DataFrame()
    if firing is not None:
        per_rule = {int(r[0]): int(r[1]) for r in firing.groupBy("_rule").count().collect()}
        distinct = int(firing.select("customer_id").distinct().count())
        rows = firing.orderBy("_rule", "customer_id").limit(int(max_rows)).toPandas()
    table, warnings, offers = rule_rows(
        rules, [per_rule.get(i, 0) for i in range(len(rules))], known, has_events,
        segment_stage=segment_stage, segment_names=segment_names,
    )  # fmt: skip
    cols = ["rule_id", "customer_id", "segment", "stage", "offer", "events", "last_event"]
    if len(rows):
        rows["offer"] = pd.Series([offers[int(i)] for i in rows["_rule"]], dtype=object)
        stamp = pd.to_datetime(rows["_last"].to_numpy(dtype=np.int64), unit="us")
        rows["last_event"] = stamp
        rows["events"] = rows["events"].astype(np.int64)
        rows = rows[cols]
    else:
        rows = pd.DataFrame(columns=cols)
    total = sum(per_rule.values())
    if total > len(rows):
        warnings.append(
            f"trigger_customers.csv lists the first {len(rows):,} of {total:,} firing rows "
            "(rule, then customer id); the counts are of them all"
        )
    return TriggerResult(table, rows, today, warnings, customers_firing=distinct)
