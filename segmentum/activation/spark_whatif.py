"""What-if scenarios and the offers' CLV uplift with ``engine = "spark"``: every customer in
Spark, only sums on the driver.

The DuckDB run computes ``[activation] scenarios`` and the CLV uplift of
``[activation.offer_covariates]`` on a pandas table of every customer
(:func:`segmentum.value.whatif.customer_table`). Here the same table is a Spark frame
(:func:`customer_frame_spark`: the value stage's per-customer frame ``ValueResult.spark``,
the customers table's columns, the customers without purchases as just acquired, and the
valuation's segment of every customer), and the per-customer arithmetic runs where the
customers are, in ``mapInPandas`` batches calling the functions the DuckDB run calls
(:func:`~segmentum.value.whatif.whatif_sums`,
:func:`~segmentum.activation.uplift.uplift_values`): a customer's CLV depends only on
their own row, the refitted model and the parameter draws, so the batches give the
table's numbers.

What reaches the driver:

* the buyers' distinct ``(frequency, recency, T, covariates)`` with their counts, which the
  purchase model is refitted on (both engines fit this table,
  :func:`~segmentum.value.whatif.fit_table`, so both refit the same model);
* one row of totals (margin and revenue, mean spends) and the distinct segment labels;
* per scenario, one row per segment: customers, CLV before and after, and the summed
  difference at each parameter draw (an array), from which ``whatif.csv`` is made by the
  DuckDB run's :func:`~segmentum.value.whatif.whatif_table`;
* per offer, the customers it moves and their mean uplift. The per-customer uplift stays in
  Spark (``OfferUplift.spark``, checkpointed) for the next best offer.

The draws of the interval are parameter vectors drawn on the driver with the run's seed,
the same on both engines; nothing is drawn per customer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.activation.scenarios import ScenarioOutcome, load_scenarios
from segmentum.activation.settings import OfferCovariate
from segmentum.activation.uplift import (
    OfferUplift,
    offer_model,
    spend_mean,
    uplift_spend,
    uplift_values,
)
from segmentum.spark_run import spark_column
from segmentum.value.patterns import PATTERN_COLUMNS
from segmentum.value.whatif import (
    Scenario,
    clv_settings,
    fit_table,
    margin_rates_at,
    refit_purchase,
    scenario_spend,
    spend_values,
    whatif_plan,
    whatif_sums,
    whatif_table,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "buyer_patterns",
    "customer_frame_spark",
    "margin_overall_spark",
    "offer_clv_uplift_spark",
    "offer_uplift_frame",
    "run_scenarios_spark",
    "scenario_whatif_spark",
]

_SUMS_SCHEMA = (
    "segment string, customers long, affected long, before double, after double, "
    "draws array<double>"
)


_q = spark_column  # a column by its exact name


def customer_frame_spark(ctx: Any, value: Any) -> DataFrame:
    """:func:`~segmentum.value.whatif.customer_table` as a Spark frame.

    The value stage's per-customer frame (``ValueResult.spark``, text ``customer_id``) with
    the customers table's columns that it lacks (the covariates), ``purchased`` True, and
    below it the customers without any purchase: ``frequency``, ``recency``, ``T`` 0,
    ``n_transactions`` 0, ``purchased`` False, their own columns from the customers table
    and the value stage's columns null, as on DuckDB.
    """
    from pyspark.sql import functions as F

    table = value.spark.withColumn("purchased", F.lit(True))
    src = ctx.config.sources.customers
    if src is None or "customers" not in ctx.data:
        return table
    customers = ctx.data.spark("customers")
    if customers is None:  # read by DuckDB on the driver: handed to Spark
        from segmentum.valuation.spark import to_spark_frame

        customers = to_spark_frame(table.sparkSession, ctx.data.frame("customers"))
    customers = customers.withColumnRenamed(src.id, "customer_id").withColumn(
        "customer_id", F.col("customer_id").cast("string")
    )
    extra = [c for c in customers.columns if c not in table.columns]
    table = table.join(
        customers.select("customer_id", *(_q(c) for c in extra)), "customer_id", "left"
    )
    rest = customers.dropDuplicates(["customer_id"]).join(
        value.spark.select("customer_id"), "customer_id", "left_anti"
    )
    zero = {"frequency": 0.0, "recency": 0.0, "T": 0.0, "n_transactions": 0, "purchased": False}
    cols = []
    for f in table.schema.fields:
        if f.name in zero:
            col = F.lit(zero[f.name])
        elif f.name in customers.columns:
            col = _q(f.name)
        else:
            col = F.lit(None)
        cols.append(col.cast(f.dataType).alias(f.name))
    return table.unionByName(rest.select(*cols))


def _segments_spark(vst: Any, spark: Any) -> DataFrame:
    """``customer_id`` and ``segment`` (text) of every customer the valuation placed: the
    driver's rows (the linked respondents) first, then the projected customers in Spark."""
    from pyspark.sql import functions as F

    segs = vst.assignments.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    rows = list(zip(segs["customer_id"].astype(str), segs["segment"].astype(str), strict=True))
    linked = spark.createDataFrame(rows, "customer_id string, segment string")
    projected = vst.spark.where(F.col("segment_source") == "projected").select(
        F.col("customer_id").cast("string").alias("customer_id"),
        F.col("segment").cast("string").alias("segment"),
    )
    projected = projected.join(linked.select("customer_id"), "customer_id", "left_anti")
    return linked.unionByName(projected.dropDuplicates(["customer_id"]))


def margin_overall_spark(frame: DataFrame) -> float | None:
    """:func:`~segmentum.value.whatif.margin_overall` of a Spark frame (one row home)."""
    from pyspark.sql import functions as F

    if "margin" not in frame.columns or "revenue" not in frame.columns:
        return None
    mar = F.coalesce(F.col("margin").cast("double"), F.lit(0.0))
    rev = F.coalesce(F.col("revenue").cast("double"), F.lit(0.0))
    row = frame.agg(F.sum(rev), F.sum(mar), F.max((mar != 0).cast("int"))).first()
    total_rev, total_mar, any_margin = row[0] or 0.0, row[1] or 0.0, row[2] or 0
    if not any_margin or not total_rev:
        return None
    return float(total_mar / total_rev)


def buyer_patterns(frame: DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """The buyers' distinct ``(frequency, recency, T, covariates)`` with their counts
    (``weights``), counted in Spark: what the purchase model is refitted on."""
    from pyspark.sql import functions as F

    keys = [*PATTERN_COLUMNS, *dict.fromkeys(covariates)]
    counted = frame.where(F.col("purchased")).groupBy(*(_q(c) for c in keys))
    return counted.agg(F.count(F.lit(1)).cast("double").alias("weights")).toPandas()


def _present(frame: DataFrame, covariates: Sequence[str]) -> list[str]:
    """The covariates that are columns of ``frame`` (a missing one is named by the fit)."""
    return [c for c in dict.fromkeys(covariates) if c in frame.columns]


def _summed_draws(n: int) -> Column:
    """The element-wise sum of the batches' ``draws`` arrays of a group (length ``n``)."""
    from pyspark.sql import functions as F

    return F.aggregate(
        F.collect_list("draws"),
        F.array_repeat(F.lit(0.0), n),
        lambda acc, x: F.zip_with(acc, x, lambda a, b: a + b),
    )


def scenario_whatif_spark(
    value: Any,
    frame: DataFrame,
    scenario: Scenario,
    *,
    seed: int,
    labels: Sequence[str],
    overall: float | None,
) -> pd.DataFrame:
    """:func:`~segmentum.value.whatif.scenario_whatif` on a Spark frame of every customer.

    Parameters
    ----------
    value : ValueResult
        The value stage's result (its purchase and spend models, its settings).
    frame : pyspark.sql.DataFrame
        :func:`customer_frame_spark` with a text ``segment`` column.
    scenario : Scenario
    seed : int
        Seed of the interval's draws.
    labels : sequence of str
        Every segment label of ``frame``.
    overall : float or None
        The customer base's margin rate (:func:`margin_overall_spark`).

    Returns
    -------
    pandas.DataFrame
        ``whatif.csv``'s table of this scenario, as on DuckDB.
    """
    from pyspark.sql import functions as F

    sm = scenario.model
    covariates = [*sm.purchase_covariates, *sm.dropout_covariates]
    fitted_on = fit_table(buyer_patterns(frame, _present(frame, covariates)), covariates)
    model = refit_purchase(value, fitted_on, sm.purchase_covariates, sm.dropout_covariates)
    spend, fill = scenario_spend(value, frame.columns)
    plan = whatif_plan(
        model, scenario, labels, fitted_on=fitted_on, n_draws=sm.draws, seed=seed,
        **clv_settings(value.config),
    )  # fmt: skip
    wanted = [*PATTERN_COLUMNS, "segment", *covariates, spend or "monetary_value"]
    need = [c for c in dict.fromkeys([*wanted, "margin", "revenue"]) if c in frame.columns]

    def sums(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if not len(batch):
                continue
            if fill is not None:
                batch = batch.assign(expected_spend=batch["expected_spend"].fillna(fill))
            per_row = spend_values(batch, spend) * margin_rates_at(batch, overall)
            yield whatif_sums(batch, plan, per_row)

    parts = frame.select(*(_q(c) for c in need)).mapInPandas(sums, _SUMS_SCHEMA)
    n_draws = int(plan.thetas.shape[0])
    by_segment = parts.groupBy("segment").agg(
        F.sum("customers").alias("customers"),
        F.sum("affected").alias("affected"),
        F.sum("before").alias("before"),
        F.sum("after").alias("after"),
        _summed_draws(n_draws).alias("draws"),
    )
    return whatif_table(by_segment.toPandas(), plan)


def run_scenarios_spark(
    ctx: Any, value: Any, vst: Any, paths: list[str], folder: Path
) -> list[ScenarioOutcome]:
    """:func:`~segmentum.activation.scenarios.run_scenarios` with ``engine = "spark"``: every
    customer with the valuation's segment (``ValuationStageResult.spark`` for the projected
    ones, ``"unassigned"`` for the rest) stays in Spark; each scenario's table is made from
    per-segment sums (:func:`scenario_whatif_spark`)."""
    from pyspark.sql import functions as F

    from segmentum.data.errors import ProjectError

    frame = customer_frame_spark(ctx, value).drop("segment")  # the valuation's, below
    segments = _segments_spark(vst, frame.sparkSession)
    frame = frame.join(segments, "customer_id", "left").withColumn(
        "segment", F.coalesce(F.col("segment"), F.lit("unassigned"))
    )
    frame = frame.persist()  # read once per scenario (patterns, sums) and for the labels
    try:
        found = [str(r[0]) for r in frame.select("segment").distinct().collect()]
        labels = sorted(found, key=lambda v: (len(v), v))
        overall = margin_overall_spark(frame)
        out = []
        for text, sc in load_scenarios(paths, folder):
            try:
                table = scenario_whatif_spark(
                    value, frame, sc, seed=ctx.seed, labels=labels, overall=overall
                )
            except ValueError as exc:
                raise ProjectError(f"scenario file {text} ([activation] scenarios): {exc}") from exc
            out.append(ScenarioOutcome(text, sc, table))
    finally:
        frame.unpersist()
    return out


def _spend_means(frame: DataFrame) -> dict[str, float]:
    """The mean of ``expected_spend`` and ``monetary_value`` over the customer base (the
    fill of :func:`~segmentum.activation.uplift.uplift_spend`), one row home."""
    from pyspark.sql import functions as F

    cols = [c for c in ("expected_spend", "monetary_value") if c in frame.columns]
    if not cols:
        return {}
    row = frame.agg(*(F.avg(_q(c)).alias(c) for c in cols)).first()
    return {c: float("nan") if row[c] is None else float(row[c]) for c in cols}


def offer_clv_uplift_spark(
    ctx: Any, value: Any, declared: Mapping[str, OfferCovariate]
) -> OfferUplift:
    """:func:`~segmentum.activation.uplift.offer_clv_uplift` with ``engine = "spark"``.

    The purchase model is refitted on the buyers' patterns counted in Spark; every
    customer's uplift is computed there (``mapInPandas``) and kept (``OfferUplift.spark``,
    checkpointed: the next best offer reads it); the summary's customers moved and mean
    uplift per offer are aggregates. A ``ValueError`` names the entry and what is wrong, as
    on DuckDB (checked on the driver before any customer is scored).
    """
    return offer_uplift_frame(value, customer_frame_spark(ctx, value), declared)


def offer_uplift_frame(
    value: Any, frame: DataFrame, declared: Mapping[str, OfferCovariate]
) -> OfferUplift:
    """:func:`offer_clv_uplift_spark` on a Spark frame of every customer
    (:func:`customer_frame_spark`: ``customer_id``, ``purchased``, the value stage's columns
    and the covariates)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    covariates = sorted({d.covariate for d in declared.values()})
    patterns = buyer_patterns(frame, _present(frame, covariates))
    model = offer_model(value, patterns, declared)
    settings = clv_settings(value.config)
    # the offers' values against the covariates' types, on the driver's patterns first
    uplift_values(model, patterns, declared, np.ones(len(patterns)), settings)
    overall, means, mean_spend = margin_overall_spark(frame), _spend_means(frame), spend_mean(value)
    offers = list(declared)
    wanted = ["customer_id", *PATTERN_COLUMNS, *covariates, "expected_spend", "monetary_value"]
    need = [c for c in dict.fromkeys([*wanted, "margin", "revenue"]) if c in frame.columns]

    def uplift(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if not len(batch):
                continue
            spend = uplift_spend(batch, mean_spend, means)
            kw = {**settings, "margin_rate": margin_rates_at(batch, overall)}
            values = uplift_values(model, batch, declared, spend, kw)
            out = pd.DataFrame({"customer_id": batch["customer_id"].astype(str).to_numpy()})
            for offer in offers:
                out[offer] = values[offer]
            yield out

    schema = T.StructType(
        [T.StructField("customer_id", T.StringType())]
        + [T.StructField(o, T.DoubleType()) for o in offers]
    )
    spark = frame.select(*(_q(c) for c in need)).mapInPandas(uplift, schema).localCheckpoint()
    moved_of = {o: F.abs(_q(o)) > 0 for o in offers}
    row = spark.agg(
        *(F.sum(moved_of[o].cast("long")).alias(f"n{i}") for i, o in enumerate(offers)),
        *(F.avg(F.when(moved_of[o], _q(o))).alias(f"m{i}") for i, o in enumerate(offers)),
    ).first()
    moved = {
        o: (int(row[f"n{i}"] or 0), float(row[f"m{i}"]) if row[f"m{i}"] is not None else 0.0)
        for i, o in enumerate(offers)
    }
    return OfferUplift(
        None, model.covariate_effects_, dict(declared), model._name, spark=spark, moved=moved
    )
