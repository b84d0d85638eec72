"""The value stage in Spark: the per-customer table computed where the transactions live.

With ``[project] engine = "spark"`` the value stage (:func:`run_value_spark`) keeps the
per-customer work in the engine and brings only small tables to the driver:

- the BTYD summary, one row per customer: :func:`segmentum.value.spark.summarize_spark`
  (the DuckDB statement in Spark SQL);
- the model fits: the purchase model (BG/NBD or Pareto/NBD) depends on a customer only
  through ``(frequency, recency, T)``, so Spark counts the distinct patterns
  (:func:`segmentum.value.patterns.pattern_sql`) and the driver
  fits on them with their counts as ``weights`` (a few thousand rows whatever the number of
  customers); Gamma-Gamma is fitted on the distinct ``(frequency, monetary_value)`` pairs of
  the repeat buyers with their counts. The fits, warnings and skips are those of
  :func:`segmentum.value.run_value`;
- the scores: ``p_alive``, ``expected_purchases``, ``expected_spend`` and ``clv`` (and the
  future service cost in ``profit_clv``) by ``mapInPandas`` calling :func:`score_chunk`, the
  model methods of the DuckDB path applied to each Arrow batch; cost-to-serve and profit as
  Spark aggregates and column expressions (:func:`cost_to_serve_spark`, the rules of
  :func:`segmentum.value.cost_to_serve`);
- the ranks: RFM scores (:func:`rfm_scores_spark`) and value deciles
  (:func:`deciles_spark`) reproduce :func:`segmentum.value.rfm_scores` and
  :func:`segmentum.value.rfm.assign_deciles` exactly, ties included (windows over the
  distinct values; a global sort by value, then customer id, for the deciles);
- the holdout validation and the tracking plot, the decile table, the headline totals and
  the report's tables (per-decile means, RFM grid, CLV histogram) from Spark aggregates
  (:mod:`segmentum.value.spark_figures`).

No per-customer table comes to the driver: ``ValueResult.spark`` keeps the Spark table
(locally checkpointed), from which the run writes ``assignments.parquet/`` and the later
stages read; ``ValueResult.per_customer`` is fetched from it only if something reads it
(an :class:`~segmentum.value.steps.OnDemand`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.flow import StageContext
from segmentum.spark_run import spark_column as _q
from segmentum.value.clv import discounted_expected_purchases, step_discount_rate
from segmentum.value.cost import CostRules
from segmentum.value.models import ConvergenceError, GammaGammaModel
from segmentum.value.spark_figures import aggregates_spark, holdout_spark
from segmentum.value.steps import (
    _MODELS,
    PER_CUSTOMER_COLUMNS,
    OnDemand,
    ValueConfig,
    ValueResult,
    _cost_rules,
    _fmt_int,
    _headline_summary,
    _jsonable,
    _Log,
    _Rows,
    _weakly_identified,
)
from segmentum.value.summary import TIME_UNITS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

__all__ = [
    "Fitted",
    "cost_to_serve_spark",
    "deciles_spark",
    "rfm_scores_spark",
    "run_on_spark",
    "run_value_spark",
    "score_chunk",
]

#: columns :func:`score_chunk` adds (those its models allow)
SCORE_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv", "profit_clv")
_SERVICE = "__service_per_order"  # future service cost per order, for profit_clv
_INTS = ("n_transactions", "recency_score", "frequency_score", "monetary_score", "value_decile")


@dataclass(frozen=True)
class Fitted:
    """What :func:`score_chunk` needs: the fitted models and the CLV settings.

    Parameters
    ----------
    purchase : fitted BetaGeoModel or ParetoNBDModel, or None
    spend : fitted GammaGammaModel, or None
    horizon, step : float
        CLV horizon and discounting step, in the summary's time unit.
    step_rate : float
        Discount rate per step.
    margin : bool
        Whether the summary has a ``margin`` column (CLV is then margin-based).
    overall_margin_rate : float
        Margin over revenue of the whole base (for customers without revenue).
    """

    purchase: Any
    spend: GammaGammaModel | None
    horizon: float
    step: float
    step_rate: float
    margin: bool = False
    overall_margin_rate: float = 0.0


def score_chunk(frame: pd.DataFrame, fitted: Fitted) -> pd.DataFrame:
    """The model scores of some customers: the formulas of :func:`segmentum.value.run_value`.

    ``frame`` holds summary rows (``frequency``, ``recency``, ``T``, ``monetary_value``,
    ``revenue``, ``n_transactions`` and ``margin`` when ``fitted.margin``; optionally
    ``__service_per_order``, the historic service cost per order). Returns ``frame`` with
    ``p_alive`` and ``expected_purchases`` (purchase model), ``expected_spend`` (spend
    model; repeat buyers without positive spend get the population mean), and ``clv`` and
    ``profit_clv`` (both). Each row depends only on itself and ``fitted``, so any split of
    the customers into chunks gives the same scores.
    """
    out = frame.copy()
    purchase, spend = fitted.purchase, fitted.spend
    if purchase is not None:
        out["p_alive"] = purchase.probability_alive(frame).to_numpy()
        out["expected_purchases"] = purchase.expected_purchases(fitted.horizon, frame).to_numpy()
    if spend is not None:
        excluded = (frame["frequency"] > 0).to_numpy() & (frame["monetary_value"] <= 0).to_numpy()
        value = spend.expected_spend(frame).to_numpy()
        out["expected_spend"] = np.where(excluded, spend.mean_spend_, value)
    if purchase is not None and spend is not None:
        disc = discounted_expected_purchases(
            purchase, frame, horizon=fitted.horizon, step=fitted.step,
            discount_rate=fitted.step_rate,
        ).to_numpy()  # fmt: skip
        out["clv"] = disc * out["expected_spend"].to_numpy() * _margin_rate(frame, fitted)
        if _SERVICE in frame:
            per_day = (frame["n_transactions"] / (frame["frequency"] + 1)).to_numpy()
            unit_cost = frame[_SERVICE].fillna(0.0).to_numpy() * per_day
            out["profit_clv"] = out["clv"].to_numpy() - disc * unit_cost
    return out


def _margin_rate(frame: pd.DataFrame, fitted: Fitted) -> np.ndarray | float:
    """Each customer's margin over revenue, clipped to ±1 (``stage._margin_rate``)."""
    if not fitted.margin:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(
            frame["revenue"] > 0, frame["margin"] / frame["revenue"], fitted.overall_margin_rate
        )
    return np.clip(own, -1.0, 1.0)


def _quantile_score_spark(values: DataFrame, column: str, bins: int, out: str) -> DataFrame:
    """``rfm._quantile_score`` of ``column`` as a table (``column``, ``out``) of its distinct
    values, by windows over them in value order: the same arithmetic, so the same scores."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = values.groupBy(column).agg(F.count(F.lit(1)).alias("__c"))
    order = Window.orderBy(_q(column))
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    everything = Window.partitionBy(F.lit(1))
    j = (F.row_number().over(order) - 1).cast("long")
    d = F.count(F.lit(1)).over(everything)
    n = F.sum("__c").over(everything)
    ranked = counts.select(
        _q(column), "__c", j.alias("__j"), d.alias("__d"), n.alias("__n"),
        F.sum("__c").over(upto).alias("__cum"),
    )  # fmt: skip
    mid_rank = F.col("__cum") - (F.col("__c") - F.lit(1)) / F.lit(2.0)
    start = F.least(
        F.greatest(F.ceil(mid_rank / F.col("__n") * F.lit(bins)), F.lit(1)), F.lit(bins)
    )
    floor = F.greatest(start, F.lit(bins) - (F.col("__d") - F.lit(1) - F.col("__j")))
    ranked = ranked.withColumn("__gap", (floor - F.col("__j")).cast("long"))
    ranked = ranked.withColumn("__min", F.min("__gap").over(upto))
    spread = F.rint(F.lit(1.0) + F.col("__j") * F.lit(float(bins - 1)) / (F.col("__d") - F.lit(1)))
    score = (
        F.when(F.col("__d") == 1, F.lit(1))
        .when(F.col("__d") < bins, spread.cast("long"))
        .otherwise(F.col("__j") + F.least(F.lit(1), F.col("__min")))
    )
    return ranked.select(_q(column), score.cast("long").alias(out))


def rfm_scores_spark(summary: DataFrame, bins: int = 5) -> DataFrame:
    """:func:`segmentum.value.rfm_scores` in Spark: ``summary`` with the four RFM columns.

    Each dimension is scored on its distinct values (a small table: the windows that rank
    them run on one partition) and joined back to the customers.
    """
    from pyspark.sql import functions as F

    if not 2 <= int(bins) <= 9:
        raise ValueError(f"rfm bins must be between 2 and 9, got {bins}")
    base = summary.withColumn("__r", -(F.col("T") - F.col("recency")))
    out = base
    for column, name in (
        ("__r", "recency_score"),
        ("frequency", "frequency_score"),
        ("revenue", "monetary_score"),
    ):
        scores = _quantile_score_spark(base.select(column), column, bins, name)
        out = out.join(F.broadcast(scores), on=column, how="left")
    rfm = F.concat(*(F.col(c).cast("string") for c in ("recency_score", "frequency_score")),
                   F.col("monetary_score").cast("string"))  # fmt: skip
    return out.drop("__r").withColumn("rfm_score", rfm)


def deciles_spark(
    frame: DataFrame, by: str, customer_id: str, n: int = 10, total: int | None = None
) -> DataFrame:
    """:func:`segmentum.value.rfm.assign_deciles` in Spark: ``frame`` with ``value_decile``.

    The rank is the position in a global sort by ``by`` (descending) and then
    ``customer_id``, the order of appearance in the DuckDB summary, so ties fall as they do
    there; the decile is ``ceil(rank · k / n)`` (``total``: the number of rows, when known). The sort is distributed (range
    partitions); the rank is each row's position in its partition plus the rows of the
    partitions before it (one small count per partition).
    """
    return _deciles(frame, by, customer_id, n, total)[0]


def _deciles(
    frame: DataFrame, by: str, customer_id: str, n: int = 10, total: int | None = None
) -> tuple[DataFrame, DataFrame]:
    """:func:`deciles_spark`, and the persisted sorted frame it ranks (to unpersist)."""
    from pyspark.sql import functions as F

    total = frame.count() if total is None else total
    k = min(n, total)
    ordered = frame.orderBy(_q(by).desc_nulls_last(), _q(customer_id).asc())
    ided = ordered.withColumn("__mid", F.monotonically_increasing_id()).persist()
    sizes = {
        int(r["p"]): int(r["n"])
        for r in ided.groupBy(F.shiftright("__mid", 33).alias("p"))
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    offsets: list[Any] = []
    seen = 0
    for part in sorted(sizes):
        offsets += [F.lit(part), F.lit(seen)]
        seen += sizes[part]
    offset = F.create_map(*offsets)[F.shiftright("__mid", 33)] if offsets else F.lit(0)
    rank = offset + F.col("__mid").bitwiseAND(F.lit((1 << 33) - 1)) + F.lit(1)
    decile = F.ceil(rank * F.lit(k) / F.lit(max(total, 1))).cast("long")
    return ided.withColumn("value_decile", decile).drop("__mid"), ided


def _first_present(columns: list[str], *names: str) -> str | None:
    return next((n for n in names if n in columns), None)


def cost_to_serve_spark(
    transactions: DataFrame,
    rules: CostRules,
    *,
    customer_id: str,
    timestamp: str,
    channel: str | None = None,
    events: DataFrame | None = None,
    customers: DataFrame | None = None,
    end: dt.date | None = None,
) -> tuple[DataFrame, list[str]]:
    """:func:`segmentum.value.cost_to_serve` in Spark: the same rules and warnings.

    Returns a Spark DataFrame with ``customer_id`` (as text), ``orders``,
    ``acquisition_cost`` and ``cost_to_serve`` per customer of ``transactions`` (lines up
    to ``end``), and the warnings about rules that could not be applied.
    """
    from pyspark.sql import functions as F

    warnings: list[str] = []
    lines = transactions
    if end is not None:
        lines = lines.where(F.to_date(_q(timestamp)) <= F.lit(end))
    orders = F.count(F.lit(1))
    parts = [orders.alias("orders"), (orders * F.lit(float(rules.cost_per_order))).alias("c_ord")]
    if rules.channel_costs and channel and channel in transactions.columns:
        case = F.lit(0.0)
        for key, value in reversed(list(rules.channel_costs.items())):
            case = F.when(_q(channel) == F.lit(str(key)), F.lit(float(value))).otherwise(case)
        parts.append(F.sum(case).alias("c_chan"))
    else:
        if rules.channel_costs:
            warnings.append(
                "channel costs were given but the transactions have no channel column; "
                "they were not applied"
            )
        parts.append(F.lit(0.0).alias("c_chan"))
    present = [c for c in rules.cost_columns if c in transactions.columns]
    warnings += [
        f"cost column {c!r} is not in the transactions; it was ignored"
        for c in rules.cost_columns
        if c not in transactions.columns
    ]
    cols = [F.coalesce(F.sum(_q(c)).cast("double"), F.lit(0.0)) for c in present]
    cost_sum = cols[0] if cols else F.lit(0.0)
    for c in cols[1:]:
        cost_sum = cost_sum + c
    parts.append(cost_sum.alias("c_cols"))
    out = lines.groupBy(_q(customer_id).cast("string").alias("customer_id")).agg(*parts)
    support = F.lit(0).cast("long")
    if events is not None and rules.cost_per_support_contact:
        ev_id = _first_present(events.columns, customer_id, "customer_id")
        ev_ts = _first_present(events.columns, timestamp, "timestamp")
        if "event_type" not in events.columns or ev_id is None:
            warnings.append(
                f"events table lacks 'event_type' or {customer_id!r}; support costs skipped"
            )
        else:
            ev = events.where(F.col("event_type") == F.lit("support"))
            if end is not None and ev_ts is not None:
                ev = ev.where(F.to_date(_q(ev_ts)) <= F.lit(end))
            sup = ev.groupBy(_q(ev_id).cast("string").alias("customer_id")).agg(
                F.count(F.lit(1)).alias("n_support")
            )
            out = out.join(sup, on="customer_id", how="left")
            support = F.coalesce(F.col("n_support"), F.lit(0)).cast("long")
    elif rules.cost_per_support_contact and events is None:
        warnings.append("a support-contact cost was given but no events table; skipped")
    out = out.withColumn("c_sup", support * F.lit(float(rules.cost_per_support_contact)))
    acquisition = F.lit(0.0)
    col = rules.acquisition_cost_column
    if col:
        cu_id = _first_present(customers.columns, customer_id, "customer_id") if customers else None
        if customers is None or col not in customers.columns or cu_id is None:
            warnings.append(f"acquisition cost column {col!r} not found in the customers table")
        else:
            acq = customers.groupBy(_q(cu_id).cast("string").alias("customer_id")).agg(
                F.sum(_q(col)).cast("double").alias("c_acq")
            )
            out = out.join(acq, on="customer_id", how="left")
            acquisition = F.coalesce(F.col("c_acq"), F.lit(0.0))
    out = out.withColumn("acquisition_cost", acquisition)
    total = F.col("c_ord") + F.col("c_chan") + F.col("c_cols") + F.col("c_sup")
    out = out.withColumn("cost_to_serve", total + F.col("acquisition_cost"))
    return out.select("customer_id", "orders", "acquisition_cost", "cost_to_serve"), warnings


def _patterns(summary: DataFrame) -> pd.DataFrame:
    """The distinct (frequency, recency, T) with their counts, counted by Spark
    (:func:`segmentum.value.patterns.pattern_sql`); ``weights`` as floats."""
    import uuid

    from segmentum.value.patterns import pattern_sql

    view = f"segmentum_summary_{uuid.uuid4().hex}"
    summary.select("frequency", "recency", "T").createOrReplaceTempView(view)
    try:
        out = summary.sparkSession.sql(pattern_sql(view, "spark")).toPandas()
    finally:
        summary.sparkSession.catalog.dropTempView(view)
    out["weights"] = out["weights"].astype(float)
    return out


def _service_costs(
    transactions: DataFrame,
    rules: CostRules,
    *,
    customer_id: str,
    timestamp: str,
    channel: str | None,
    events: DataFrame | None,
    customers: DataFrame | None,
    end: dt.date,
    log: _Log,
) -> DataFrame | None:
    """Cost-to-serve and the service cost per order by text id (``__cid``), or ``None``
    with the skip recorded when no rule applies (``stage._cost_and_profit``)."""
    from pyspark.sql import functions as F

    if rules.is_empty:
        msg = "no cost-to-serve rules or cost columns given: cost to serve and profit not computed"
        log.warnings.append(msg)
        for c in ("cost_to_serve", "profit", "profit_clv"):
            log.skipped.setdefault(c, msg)
        return None
    costs, cost_warn = cost_to_serve_spark(
        transactions, rules, customer_id=customer_id, timestamp=timestamp,
        channel=channel, events=events, customers=customers, end=end,
    )  # fmt: skip
    log.warnings.extend(cost_warn)
    orders = F.when(F.col("orders") > 0, F.col("orders"))
    per_order = (F.col("cost_to_serve") - F.col("acquisition_cost")) / orders
    return costs.select(
        F.col("customer_id").alias("__cid"), "cost_to_serve", per_order.alias(_SERVICE)
    )


def _fit_purchase(
    patterns: pd.DataFrame, n_customers: int, n_repeat: int, cfg: ValueConfig, log: _Log
) -> Any:
    """The purchase model fitted on the distinct (frequency, recency, T) with ``weights``:
    the fit, warnings and skips of ``stage._fit_purchase_model``."""
    model_cls, model_name = _MODELS[cfg.model]
    failed = None
    if n_repeat == 0:
        failed = (
            f"{model_name} needs repeat purchases: 0 of {_fmt_int(n_customers)} customers "
            "bought twice; p_alive, expected purchases and CLV were not computed"
        )
    else:
        try:
            purchase = model_cls(penalizer=cfg.penalizer).fit(patterns)
        except (ConvergenceError, FloatingPointError, ValueError) as exc:
            failed = f"{model_name} fit failed, CLV not computed: {exc}"
    if failed is not None:
        log.warnings.append(failed)
        for c in ("p_alive", "expected_purchases", "clv", "profit_clv"):
            log.skipped[c] = failed
        return None
    log.models["purchase"] = purchase
    # always the patterns here (the note and fit_rows of the summary say so)
    log.fit_rows["purchase"] = _Rows(patterns, np.arange(len(patterns)), n_customers)
    weak = _weakly_identified(purchase)
    if weak:
        log.warnings.append(
            f"{model_name}: the data barely identify {', '.join(weak)} (their standard "
            "errors cannot be computed; the information matrix is singular). Purchase "
            "rates may hardly vary between customers, or there may be no sign of "
            "customers dropping out; treat p_alive and CLV with care, or set "
            "penalizer = 0.001 under [value]"
        )
    return purchase


def _spend_data(
    repeat: DataFrame, persist: bool
) -> tuple[int, Callable[[GammaGammaModel], GammaGammaModel], Callable[[], None]]:
    """What the Gamma-Gamma fit of :func:`_fit_spend` is given: the repeat buyers with a
    spend of zero or less (left out), the fit, and what to release afterwards.

    Up to :func:`~segmentum.value.spark_spend.spend_pairs_cap` distinct (frequency,
    monetary_value) pairs, the pairs are collected with their counts and fitted as on the
    driver; above it (mean spends are continuous: the pairs are about one per buyer) the
    fit runs on the likelihood's sums, computed in Spark (:func:`spend_sums_spark`): one row
    per distinct frequency comes to the driver, and the same parameters (to rounding).
    """
    from pyspark.sql import functions as F

    from segmentum.value.spark_spend import spend_pairs_cap, spend_sums_spark

    n_pairs = repeat.select("frequency", "monetary_value").distinct().count()
    if n_pairs <= spend_pairs_cap():
        pairs = (
            repeat.groupBy("frequency", "monetary_value")
            .agg(F.count(F.lit(1)).cast("double").alias("weights"))
            .toPandas()
            .sort_values(["frequency", "monetary_value"], ignore_index=True)
        )
        out = pairs["monetary_value"] <= 0
        return int(pairs.loc[out, "weights"].sum()), lambda m: m.fit(pairs[~out]), lambda: None
    found = spend_sums_spark(repeat, persist=persist)

    def fit(model: GammaGammaModel) -> GammaGammaModel:
        if found.non_numeric:  # as GammaGammaModel.fit refuses the collected pairs
            raise ValueError(
                f"{model._name}: column 'monetary_value' has {found.non_numeric} missing or "
                "non-numeric value(s)"
            )
        return model.fit_sums(found.sums)

    return found.excluded, fit, found.release


def _fit_spend(
    summary: DataFrame, n_customers: int, n_repeat: int, cfg: ValueConfig, log: _Log
) -> GammaGammaModel | None:
    """Gamma-Gamma on the repeat buyers' (frequency, monetary_value), as collected pairs
    with their counts or as sums computed in Spark (:func:`_spend_data`): the fit, warnings
    and skips of ``stage._fit_spend_model``."""
    from pyspark.sql import functions as F

    repeat = summary.where(F.col("frequency") > 0)
    n_out, fit, release = _spend_data(repeat, persist=not summary.is_cached)
    try:
        return _fitted_spend(repeat, fit, n_out, n_customers, n_repeat, cfg, log)
    finally:
        release()


def _fitted_spend(
    repeat: DataFrame,
    fit: Callable[[GammaGammaModel], GammaGammaModel],
    n_out: int,
    n_customers: int,
    n_repeat: int,
    cfg: ValueConfig,
    log: _Log,
) -> GammaGammaModel | None:
    """:func:`_fit_spend` once its data are at hand."""
    from pyspark.sql import functions as F

    log.spend_excluded = n_out
    if n_out:
        log.warnings.append(
            f"Gamma-Gamma: {n_out:,} of {n_repeat:,} repeat buyers "
            f"{'has' if n_out == 1 else 'have'} a mean repeat spend of zero or less (refunds or free items) and were left out of the spend "
            "model, which needs positive spend (Fader, Hardie & Lee 2005); their expected "
            "spend is the population mean spend, so they keep a CLV"
        )
    n_pos = n_repeat - n_out
    if n_pos < 10:
        msg = (
            f"Gamma-Gamma needs repeat purchases with positive spend: {n_pos} of "
            f"{_fmt_int(n_customers)} customers bought twice and spent more than zero on their "
            "repeat purchases (at least 10 needed)"
        )
        log.warnings.append(msg)
        log.skipped["expected_spend"] = msg
        return None
    try:
        spend_model = fit(GammaGammaModel(penalizer=cfg.penalizer))
    except (ConvergenceError, ValueError) as exc:
        msg = f"Gamma-Gamma spend model skipped: {exc}"
        log.warnings.append(msg)
        log.skipped["expected_spend"] = msg
        return None
    log.models["spend"] = spend_model
    if n_pos > 2:
        positive = repeat.where(F.col("monetary_value") > 0)
        corr = positive.agg(F.corr("frequency", "monetary_value")).first()[0]
        if corr is not None and abs(float(corr)) > 0.3:
            log.warnings.append(
                f"Gamma-Gamma assumes spend is independent of frequency, but their "
                f"correlation among repeat buyers is {corr:.2f}; expected spend may be biased"
            )
    weak = _weakly_identified(spend_model)
    if weak:
        log.warnings.append(
            f"Gamma-Gamma: the data barely identify {', '.join(weak)} (their standard "
            "errors cannot be computed); treat expected spend with care"
        )
    return spend_model


def _scored(summary: DataFrame, fitted: Fitted, service: DataFrame | None) -> DataFrame:
    """``summary`` with the :func:`score_chunk` columns, computed batch by batch in Spark."""
    from pyspark.sql import types as T

    frame = summary
    if service is not None:
        frame = frame.join(service, on="__cid", how="left")
    if fitted.purchase is None and fitted.spend is None:
        return frame
    added = [c for c in SCORE_COLUMNS if _adds(c, fitted, service is not None)]
    schema = T.StructType(
        [*frame.schema.fields, *(T.StructField(c, T.DoubleType()) for c in added)]
    )
    names = [f.name for f in schema.fields]

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield score_chunk(batch, fitted)[names]

    return frame.mapInPandas(score, schema)


def _adds(column: str, fitted: Fitted, service: bool) -> bool:
    both = fitted.purchase is not None and fitted.spend is not None
    return {
        "p_alive": fitted.purchase is not None,
        "expected_purchases": fitted.purchase is not None,
        "expected_spend": fitted.spend is not None,
        "clv": both,
        "profit_clv": both and service,
    }[column]


def _to_driver(frame: DataFrame, customer_id: str, id_type: Any, cols: list[str]) -> pd.DataFrame:
    """The per-customer table on the driver, in the DuckDB summary's order and dtypes: what
    ``ValueResult.per_customer`` fetches from the run's keyed table (text ``customer_id``,
    cast back to the input's type) when something reads it."""
    from pyspark.sql import functions as F

    ids = F.col("customer_id").cast(id_type).alias(customer_id)
    out = frame.select(ids, *(_q(c) for c in cols if c != customer_id)).toPandas()
    out = out.sort_values(customer_id, ignore_index=True)
    for c in ("first_purchase", "last_purchase"):
        if c in out:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in _INTS:
        if c in out:
            out[c] = out[c].astype("int64")
    return out


def _fit_models(
    summary: DataFrame, totals: Any, cfg: ValueConfig, margin: str | None, log: _Log
) -> Fitted:
    """The purchase and spend models fitted from Spark's pattern counts, with the skips and
    warnings of ``run_value``; ``totals``: customers, repeat buyers, first day, revenue and
    margin of the whole base."""
    n_customers, n_repeat = int(totals[0]), int(totals[1] or 0)
    unit_days = TIME_UNITS[cfg.time_unit]
    patterns = _patterns(summary)
    purchase = _fit_purchase(patterns, n_customers, n_repeat, cfg, log)
    spend_model = _fit_spend(summary, n_customers, n_repeat, cfg, log)
    skipped = log.skipped
    if spend_model is None and purchase is not None:
        skipped["clv"] = skipped.get("clv", "no spend model: " + skipped.get("expected_spend", ""))
        skipped["profit_clv"] = skipped["clv"]
    revenue = float(totals[3] or 0.0)
    fitted = Fitted(
        purchase, spend_model,
        horizon=cfg.clv_horizon_days / unit_days, step=cfg.clv_step_days / unit_days,
        step_rate=step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
        margin=bool(margin),
        overall_margin_rate=float(totals[4] or 0.0) / revenue if margin and revenue else 0.0,
    )  # fmt: skip
    if purchase is not None and spend_model is not None and not margin:
        log.warnings.append("no margin column: CLV is revenue-based (discounted expected spend)")
    return fitted


# long: the steps of run_value in the same order, each one call, so that warnings, skips and
# the headline figures come out as they do on DuckDB.
def run_value_spark(
    transactions: DataFrame,
    *,
    customer_id: str,
    timestamp: str,
    amount: str,
    margin: str | None = None,
    channel: str | None = None,
    events: DataFrame | None = None,
    customers: DataFrame | None = None,
    analysis_date: object = None,
    config: ValueConfig | None = None,
    cost: str | None = None,
) -> ValueResult:
    """:func:`segmentum.value.run_value` on a Spark transactions table.

    Parameters are those of :func:`~segmentum.value.run_value`, with Spark DataFrames for
    ``transactions``, ``events`` and ``customers`` (columns renamed as the stage renames
    them). Only aggregates come to the driver: pattern counts for the fits, the holdout
    cells and tracking day counts (:mod:`segmentum.value.spark_figures`), the decile sums,
    the RFM grid and the CLV histogram.

    Returns
    -------
    ValueResult
        As on DuckDB (the same figures, warnings and skips), with ``spark`` holding the
        per-customer table as a Spark DataFrame (``customer_id`` as text) and
        ``aggregates`` the report's tables; ``per_customer`` is fetched from ``spark`` only
        when something reads it.
    """
    from pyspark.sql import functions as F

    from segmentum.value.spark import summarize_spark

    cfg = config or ValueConfig()
    log = _Log()
    if analysis_date is None:
        last = transactions.agg(F.max(F.to_date(_q(timestamp)))).first()[0]
        if last is None:
            raise ValueError("value stage: the transactions table is empty")
        end = pd.Timestamp(last).date()
    else:
        end = pd.Timestamp(analysis_date).date()  # type: ignore[arg-type]
    summary = summarize_spark(
        transactions, customer_id, timestamp, amount,
        calibration_end=end, time_unit=cfg.time_unit, margin=margin,
    ).withColumn("__cid", _q(customer_id).cast("string")).persist()  # fmt: skip
    totals = summary.agg(
        F.count(F.lit(1)), F.sum((F.col("frequency") > 0).cast("long")),
        F.min("first_purchase"), F.sum("revenue"), *([F.sum("margin")] if margin else []),
    ).first()  # fmt: skip
    n_customers, n_repeat = int(totals[0]), int(totals[1] or 0)
    if n_customers == 0:
        raise ValueError("value stage: the transactions table is empty")
    validation, tracking, metrics = holdout_spark(
        transactions, customer_id=customer_id, timestamp=timestamp, amount=amount,
        first_day=pd.Timestamp(totals[2]).date(), end=end, cfg=cfg, n_repeat=n_repeat, log=log,
    )  # fmt: skip
    fitted = _fit_models(summary, totals, cfg, margin, log)
    purchase, spend_model, skipped = fitted.purchase, fitted.spend, log.skipped

    rules = _cost_rules(cfg, cost, customers)  # type: ignore[arg-type]
    service = _service_costs(
        transactions, rules, customer_id=customer_id, timestamp=timestamp, channel=channel,
        events=events, customers=customers, end=end, log=log,
    )  # fmt: skip
    frame = _scored(summary, fitted, service)
    if service is not None:
        frame = frame.withColumn("cost_to_serve", F.coalesce("cost_to_serve", F.lit(0.0)))
        base = F.col("margin") if margin else F.col("revenue")
        frame = frame.withColumn("profit", base - F.col("cost_to_serve"))
        if not margin:
            log.warnings.append("no margin column: profit is revenue minus cost-to-serve")
    # persisted: the scores are computed once (mapInPandas), then ranked three times
    scored = frame.persist()
    frame = rfm_scores_spark(scored, bins=cfg.rfm_bins)

    by = cfg.decile_by if cfg.decile_by in frame.columns else "revenue"
    if by != cfg.decile_by:
        log.warnings.append(f"value deciles ranked by revenue: {cfg.decile_by} is not available")
    frame, ranked = _deciles(frame, by, customer_id, total=n_customers)

    cols = [customer_id] + [c for c in PER_CUSTOMER_COLUMNS if c in frame.columns]
    for c in PER_CUSTOMER_COLUMNS:
        if c not in cols and c not in skipped:
            skipped[c] = "input not given" if c == "margin" else "not computed"
    if "margin" in skipped:
        skipped["margin"] = "no margin column given"
    # a local checkpoint: later stages build on this table, and its lineage (summary, costs,
    # scores, three rank windows, the sort) would make every plan on it huge
    keyed = frame.select(
        F.col("__cid").alias("customer_id"), *(_q(c) for c in cols if c != customer_id)
    ).localCheckpoint()
    for cached in (summary, scored, ranked):  # what the checkpoint was computed from
        cached.unpersist()
    deciles, aggregates = aggregates_spark(keyed, cfg.rfm_bins, columns=tuple(cols))
    headline = _headline_summary(
        aggregates, deciles, cfg=cfg, end=end, by=by, margin=margin,
        purchase=purchase, spend_model=spend_model, rules=rules, channel=channel,
        events=events, metrics=metrics, skipped=skipped, excluded_spend=log.spend_excluded,
        fit_rows=log.fit_rows,
    )  # fmt: skip
    id_type = summary.schema[customer_id].dataType
    return ValueResult(
        per_customer=OnDemand(lambda: _to_driver(keyed, customer_id, id_type, cols)),
        deciles=deciles,
        models=log.models,
        validation=validation,
        warnings=log.warnings,
        summary=_jsonable(headline),
        tracking=tracking,
        config=cfg,
        customer_id=customer_id,
        spark=keyed,
        aggregates=aggregates,
    )


def run_on_spark(ctx: StageContext, config: ValueConfig) -> ValueResult:
    """The value stage of a run with ``engine = "spark"``: :func:`run_value_spark` on the
    ingest's Spark tables (events and customers renamed as ``stage._run`` renames them;
    a table DuckDB read is handed to Spark)."""
    src = ctx.config.sources.transactions
    assert src is not None
    tx = ctx.data.spark("transactions")
    session = tx.sparkSession
    events = customers = None
    ev_src, cu_src = ctx.config.sources.events, ctx.config.sources.customers
    if "events" in ctx.data and ev_src is not None:
        events = _spark_table(ctx, "events", session).select(
            _q(ev_src.customer_id).alias("customer_id"),
            _q(ev_src.timestamp).alias("timestamp"),
            _q(ev_src.event_type).alias("event_type"),
        )
    if "customers" in ctx.data and cu_src is not None:
        customers = _spark_table(ctx, "customers", session).withColumnRenamed(
            cu_src.id, "customer_id"
        )
        if cu_src.acquisition_cost:
            customers = customers.withColumnRenamed(cu_src.acquisition_cost, "acquisition_cost")
    return run_value_spark(
        tx,
        customer_id=src.customer_id,
        timestamp=src.timestamp,
        amount=src.amount,
        margin=src.margin,
        channel=src.channel,
        events=events,
        customers=customers,
        analysis_date=ctx.data.analysis_date,
        config=config,
        cost=src.cost,
    )


def _spark_table(ctx: StageContext, name: str, session: Any) -> DataFrame:
    table = ctx.data.spark(name)
    return table if table is not None else session.createDataFrame(ctx.data.frame(name))
