"""The customer half of the activation stage on Spark: stage, control group, next best offer.

The per-customer work runs where the customers live and gives what the pandas functions
give, row for row:

* :func:`lifecycle_stage_spark`: the rules of
  :func:`~segmentum.activation.lifecycle.lifecycle_stage` as ``when`` expressions (day
  counts from microseconds, floored as ``Timedelta.days`` is);
* :func:`control_group_spark`: :func:`~segmentum.activation.offers.hash_uniform` in a
  pandas UDF (the very function, so every id draws the same number on both engines), the
  segment sizes counted in Spark and ``round(share x n)`` taken on the driver with NumPy's
  half-to-even rule, the lowest draws of each segment by a window;
* :func:`next_best_offer_spark`: the expected-value matrix of the (segment x stage) cells is
  computed on the driver by the pandas code (it is small) and joined to the customers as
  arrays; the choice is the first largest expected value above the floor (``argmax``'s
  rule), the contact policy's counts and refusals are aggregated in Spark, and the offers'
  limits are global: each round ranks the customers holding a limited offer by expected
  value (ties by the hash of ``seed + 1``, as the pandas path) with a window over the
  offer, bans the offer for those past its limit and chooses again, as
  ``_apply_limits`` does.

A run with ``engine = "spark"`` composes them, once, in Spark, with
:func:`~segmentum.activation.spark_customers.customer_activation_spark`;
:func:`audience_people_spark` joins the audience columns of the customers table to its rows
and :func:`write_audiences_spark` writes ``audiences/`` from Spark as folders of CSV part
files. Timestamps are compared in the session's time zone, which should be UTC
(:func:`~segmentum.value.spark.local_spark_session` sets it) for day counts to match the
naive pandas timestamps of the DuckDB path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.activation.audiences import (
    _BOM,
    _DANGEROUS,
    AudienceFiles,
    _check_columns,
    _sha256,
    _slug,
    _write_xlsx,
)
from segmentum.activation.lifecycle import LifecycleRules
from segmentum.activation.offers import _ev_matrix, hash_uniform
from segmentum.activation.settings import ActivationConfig, ContactPolicy
from segmentum.spark_run import spark_column as _col
from segmentum.valuation.spark import stage_table

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

    from segmentum.flow import StageContext

__all__ = [
    "audience_people_spark",
    "contact_history_spark",
    "control_group_spark",
    "hash_uniform_spark",
    "lifecycle_stage_spark",
    "next_best_offer_spark",
    "write_audiences_spark",
]

_DAY_MICROS = 86_400_000_000
_NO_OFFER = "no eligible offer with positive value"


def _timestamp(value: Any) -> Column:
    """A date-like as a Spark timestamp literal, read in the session's time zone (as the
    naive timestamps of a pandas frame are)."""
    from pyspark.sql import functions as F

    return F.lit(pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")).cast("timestamp")


def _micros(col: Column) -> Column:
    from pyspark.sql import functions as F

    return F.unix_micros(col.cast("timestamp"))


def _days_since(today: Any, col: Column) -> Column:
    """Whole days from ``col`` to ``today``, floored (``Timedelta.days``)."""
    from pyspark.sql import functions as F

    return F.floor((_micros(_timestamp(today)) - _micros(col)) / F.lit(_DAY_MICROS))


def hash_uniform_spark(ids: Column, seed: int) -> Column:
    """:func:`~segmentum.activation.offers.hash_uniform` of ``ids`` as a Spark column.

    A pandas UDF (Arrow batches) calling the same function, so the numbers are the pandas
    path's bit for bit.
    """
    from pyspark.sql import functions as F

    s = int(seed)

    def draw(batch: pd.Series) -> pd.Series:
        return pd.Series(hash_uniform(batch.astype(str), s), index=batch.index)

    udf = F.pandas_udf(draw, "double")  # type: ignore[call-overload]
    return udf(ids.cast("string"))


def _buyer_stages(per_customer: DataFrame, today: Any, r: LifecycleRules) -> DataFrame:
    """``customer_id``, ``_stage`` of the buyers (the value stage's table)."""
    from pyspark.sql import functions as F

    need = ["customer_id", "n_transactions", "first_purchase", "last_purchase"]
    missing = [c for c in need if c not in per_customer.columns]
    if missing:
        raise ValueError(f"lifecycle_stage_spark: the per-customer table lacks {missing}")
    if "p_alive" in per_customer.columns:
        raw = F.col("p_alive").cast("double")
        p = F.when(raw.isNull() | F.isnan(raw), F.lit(1.0)).otherwise(raw)
    else:
        p = F.lit(1.0)
    n = F.col("n_transactions").cast("double")
    first = _days_since(today, F.col("first_purchase"))
    last = _days_since(today, F.col("last_purchase"))
    stage = (
        F.when((p < r.lost_p_alive) & (last >= r.lost_min_days), "lost")
        .when((p < r.lapsing_p_alive) & (last >= r.lapsing_min_days), "lapsing")
        .when((n <= 1) & (first <= r.new_max_days), "new")
        .when(n >= r.loyal_min_purchases, "loyal")
        .otherwise("repeat")
    )
    return per_customer.select(
        F.col("customer_id").cast("string").alias("customer_id"), stage.alias("_stage")
    )


def _prospect_stages(
    events: DataFrame, buyers: DataFrame, today: Any, r: LifecycleRules
) -> DataFrame:
    """``customer_id``, ``_pstage`` of those with events up to ``today`` and no purchase."""
    from pyspark.sql import functions as F

    missing = [c for c in ("customer_id", "timestamp", "event_type") if c not in events.columns]
    if missing:
        raise ValueError(f"lifecycle_stage_spark: the events table lacks column(s) {missing}")
    t = _micros(F.col("timestamp"))
    now = _micros(_timestamp(today))
    window = round(r.prospect_window_days * _DAY_MICROS)
    ev = events.select(
        F.col("customer_id").cast("string").alias("customer_id"),
        t.alias("_t"),
        F.col("event_type").cast("string").alias("_type"),
    ).filter(F.col("_t") <= now)
    ev = ev.join(buyers.select("customer_id"), "customer_id", "left_anti")
    recent = (F.col("_t") <= now) & (F.col("_t") > now - F.lit(window))
    agg = ev.groupBy("customer_id").agg(
        F.max(F.when(recent & F.col("_type").isin(list(r.buying_events)), 1).otherwise(0)).alias(
            "_buying"
        ),
        F.sum(F.when(recent & F.col("_type").isin(list(r.visit_events)), 1).otherwise(0)).alias(
            "_visits"
        ),
    )
    pstage = (
        F.when(F.col("_buying") == 1, "buying")
        .when(F.col("_visits") >= r.browsing_min_visits, "browsing")
        .otherwise("discovering")
    )
    return agg.select("customer_id", pstage.alias("_pstage"))


def lifecycle_stage_spark(
    customers: DataFrame,
    analysis_date: Any,
    *,
    per_customer: DataFrame | None = None,
    events: DataFrame | None = None,
    rules: LifecycleRules | dict[str, Any] | None = None,
) -> DataFrame:
    """``customer_id`` and ``stage`` of every row of ``customers``, computed by Spark.

    The stages of :func:`~segmentum.activation.lifecycle.lifecycle_stage` as the activation
    stage reads them (``customer_activation``): a customer in the value stage's table by the
    purchase rules (a missing P(alive), or no ``p_alive`` column, counts as alive), one with
    events up to the analysis date and no purchase by the prospect rules, anyone else
    ``discovering``; renamed stages as the rules say.

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        ``customer_id`` of every customer (and prospect) to stage.
    analysis_date : date-like
    per_customer : pyspark.sql.DataFrame, optional
        ``customer_id``, ``n_transactions``, ``first_purchase``, ``last_purchase`` and,
        optionally, ``p_alive``.
    events : pyspark.sql.DataFrame, optional
        ``customer_id``, ``timestamp``, ``event_type``.
    rules : LifecycleRules or dict, optional
    """
    from pyspark.sql import functions as F

    r = rules if isinstance(rules, LifecycleRules) else LifecycleRules.model_validate(rules or {})
    out = customers.select(F.col("customer_id").cast("string").alias("customer_id"))
    stage: Column = F.lit("discovering")
    buyers = None
    if per_customer is not None:
        buyers = _buyer_stages(per_customer, analysis_date, r)
        out = out.join(buyers, "customer_id", "left")
        stage = F.coalesce(F.col("_stage"), stage)
    if events is not None:
        spark = customers.sparkSession
        known = buyers if buyers is not None else spark.createDataFrame([], "customer_id string")
        pros = _prospect_stages(events, known, analysis_date, r)
        out = out.join(pros, "customer_id", "left")
        stage = F.coalesce(*([F.col("_stage")] if buyers is not None else []), F.col("_pstage"),
                           F.lit("discovering"))  # fmt: skip
    if r.names:
        renamed: Column = stage
        for old, new in r.names.items():
            renamed = F.when(stage == old, F.lit(new)).otherwise(renamed)
        stage = renamed
    return out.select("customer_id", stage.alias("stage"))


def control_group_spark(
    frame: DataFrame, seed: int, share: float = 0.05, strata: str | None = "segment"
) -> DataFrame:
    """``frame`` with a boolean ``control`` column: the universal control group.

    As :func:`~segmentum.activation.offers.control_group`: within each stratum the
    ``round(share x n)`` ids (half to even) with the lowest
    :func:`~segmentum.activation.offers.hash_uniform` draws (ties, which need a 53-bit
    collision, by id). The stratum sizes are counted in Spark and brought to the driver.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not 0 <= share < 1:
        raise ValueError(f"control_share must be in [0, 1), got {share}")
    key = strata or "_stratum"
    base = frame if strata else frame.withColumn(key, F.lit(0))
    base = base.withColumn("_u", hash_uniform_spark(F.col("customer_id"), seed))
    sizes = base.groupBy(key).count().collect()
    dtype = dict(base.dtypes)[key]
    take = [(row[key], int(np.rint(share * int(row["count"])))) for row in sizes]
    spark = frame.sparkSession
    takes = spark.createDataFrame(take, f"_k {dtype}, _take bigint")
    w = Window.partitionBy(key).orderBy("_u", F.col("customer_id").cast("string"))
    ranked = base.withColumn("_rank", F.row_number().over(w) - 1)
    joined = ranked.join(F.broadcast(takes), ranked[key].eqNullSafe(takes["_k"]), "left")
    out = joined.withColumn("control", F.col("_rank") < F.col("_take"))
    drop = ["_u", "_rank", "_k", "_take", *([] if strata else [key])]
    return out.drop(*drop)


def contact_history_spark(
    responses: DataFrame,
    customers: DataFrame,
    offer_ids: Sequence[str],
    analysis_date: Any,
    policy: ContactPolicy,
) -> tuple[DataFrame, DataFrame]:
    """What the contact policy reads from the response history, aggregated in Spark.

    As :func:`~segmentum.activation.offers.contact_history`: ``(shown, bans)``, the first
    ``customer_id``, ``_shown`` (offers shown in the last ``period_days``), the second
    ``customer_id``, ``_bans`` (the offer columns refused at least
    ``suppress_after_refusals`` times, in the refusal window when one is set).
    """
    from pyspark.sql import functions as F

    spark = customers.sparkSession
    ids = customers.select(F.col("customer_id").cast("string").alias("customer_id"))
    index = spark.createDataFrame(
        [(str(o), j) for j, o in enumerate(offer_ids)], "_oid string, _j int"
    )
    r = responses.select(
        F.col("customer_id").cast("string").alias("customer_id"),
        _micros(F.col("timestamp")).alias("_t"),
        F.col("offer_id").cast("string").alias("_oid"),
        F.col("accepted").cast("boolean").alias("_acc"),
    ).join(ids, "customer_id", "left_semi")
    now = _micros(_timestamp(analysis_date))
    start = now - F.lit(round(policy.period_days * _DAY_MICROS))
    shown = (
        r.filter((F.col("_t") > start) & (F.col("_t") <= now))
        .groupBy("customer_id")
        .agg(F.count(F.lit(1)).alias("_shown"))
    )
    no = r.join(F.broadcast(index), "_oid").filter(~F.col("_acc"))
    if policy.refusal_window_days is not None:
        since = now - F.lit(round(policy.refusal_window_days * _DAY_MICROS))
        no = no.filter(F.col("_t") > since)
    bans = (
        no.groupBy("customer_id", "_j")
        .count()
        .filter(F.col("count") >= policy.suppress_after_refusals)
        .groupBy("customer_id")
        .agg(F.collect_list("_j").alias("_bans"))
    )
    return shown, bans


def _choose(floor: float) -> tuple[Column, Column]:
    """The first largest of ``_ev`` outside ``_bans`` above ``floor`` (-1 when none), and
    its expected value (null when none)."""
    from pyspark.sql import functions as F

    masked = F.transform(
        F.col("_ev"),
        lambda x, i: F.when(F.array_contains(F.col("_bans"), i), F.lit(float("-inf"))).otherwise(x),
    )
    top = F.array_max(masked)
    ok = top > F.lit(float(floor))
    first = F.array_min(F.transform(masked, lambda x, i: F.when(x == top, i)))  # nulls skipped
    choice = F.when(ok, first).otherwise(F.lit(-1)).cast("int")
    return choice, F.when(ok, top)


def _cells(customers: DataFrame, offers: pd.DataFrame, acceptance: pd.DataFrame) -> DataFrame:
    """The (segment, stage) cells of ``customers`` with their expected value and P(accept)
    per offer as arrays (``_ev_matrix`` on the driver)."""
    cells = customers.select("segment", "stage").distinct().toPandas()
    segs = pd.Index(pd.unique(cells["segment"]))
    stages = pd.Index(pd.unique(cells["stage"]))
    ev, p = _ev_matrix(offers, acceptance, segs, stages)
    rows = []
    for i, s in enumerate(segs):
        for t, st in enumerate(stages):
            k = i * len(stages) + t
            seg = None if pd.isna(s) else s.item() if isinstance(s, np.generic) else s
            rows.append((seg, st, [float(v) for v in ev[k]], [float(v) for v in p[k]]))
    dtype = dict(customers.dtypes)["segment"]
    schema = f"_cseg {dtype}, _cstage string, _ev array<double>, _p array<double>"
    return customers.sparkSession.createDataFrame(rows, schema)


def _with_uplift(frame: DataFrame, uplift: DataFrame, offer_ids: Sequence[str]) -> DataFrame:
    """Add ``P(accept) x uplift`` to the finite expected values (``_up``: the uplift array)."""
    from pyspark.sql import functions as F

    cols = [
        F.coalesce(F.col(f"`{o}`").cast("double"), F.lit(0.0))
        if o in uplift.columns
        else F.lit(0.0)
        for o in offer_ids
    ]
    up = uplift.select(
        F.col("customer_id").cast("string").alias("customer_id"),
        F.array(*cols).alias("_up") if cols else F.array().cast("array<double>").alias("_up"),
    )
    zeros = F.array(*[F.lit(0.0) for _ in offer_ids]) if offer_ids else F.array()
    frame = frame.join(up, "customer_id", "left").withColumn(
        "_up", F.coalesce(F.col("_up"), zeros.cast("array<double>"))
    )

    def add(e: Column, p: Column, u: Column) -> Column:
        finite = ~(F.isnan(e) | (F.abs(e) == F.lit(float("inf"))))
        gain = F.when(F.isnan(p), F.lit(0.0)).otherwise(p) * u
        return F.when(finite, e + gain).otherwise(e)

    ev = F.zip_with(
        F.zip_with(F.col("_ev"), F.col("_p"), lambda e, p: F.struct(e.alias("e"), p.alias("p"))),
        F.col("_up"),
        lambda ep, u: add(ep["e"], ep["p"], u),
    )
    return frame.withColumn("_ev", ev)


def _apply_limits_spark(
    frame: DataFrame, offers: pd.DataFrame, floor: float, rounds: int
) -> DataFrame:
    """The offers' limits, globally: the customers holding a limited offer ranked by
    expected value (then ``_tie``) within the offer; those past the limit get it banned and
    choose again; repeated until no limit is exceeded (at most ``rounds`` times)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    limits = offers["limit"].to_numpy(dtype=float)
    caps = {int(j): int(limits[j]) for j in np.flatnonzero(np.isfinite(limits))}
    if not caps:
        return frame
    cap = F.create_map(*[x for j, c in caps.items() for x in (F.lit(j), F.lit(c))])
    w = Window.partitionBy("_choice").orderBy(F.col("_value").desc(), F.col("_tie").asc())
    choice, value = _choose(floor)
    for _ in range(rounds):
        held = frame.filter(F.col("_active") & F.col("_choice").isin(list(caps)))
        ranked = held.select("customer_id", "_choice", F.row_number().over(w).alias("_rn"))
        drops = ranked.filter(F.col("_rn") > F.element_at(cap, F.col("_choice"))).select(
            "customer_id", F.col("_choice").alias("_dropped")
        )
        drops = drops.localCheckpoint()
        if drops.isEmpty():
            break
        frame = frame.join(drops, "customer_id", "left").withColumn(
            "_bans",
            F.when(
                F.col("_dropped").isNotNull(),
                F.concat(F.col("_bans"), F.array(F.col("_dropped"))),
            ).otherwise(F.col("_bans")),
        )
        frame = frame.withColumn("_choice", choice).withColumn("_value", value).drop("_dropped")
        frame = frame.localCheckpoint()
    return frame


def next_best_offer_spark(
    customers: DataFrame,
    offers: pd.DataFrame,
    acceptance: pd.DataFrame,
    *,
    seed: int,
    responses: DataFrame | None = None,
    analysis_date: Any = None,
    policy: ContactPolicy | None = None,
    min_expected_value: float = 0.0,
    uplift: DataFrame | None = None,
) -> DataFrame:
    """The next best offer of every customer, computed by Spark.

    The arbitration of :func:`~segmentum.activation.offers.next_best_offer` as the
    activation stage calls it (ties of the limits broken by ``hash_uniform(id, seed + 1)``).

    Parameters
    ----------
    customers : pyspark.sql.DataFrame
        ``customer_id``, ``segment``, ``stage`` and, optionally, ``control`` (bool).
    offers, acceptance : pandas.DataFrame
        From :func:`~segmentum.activation.offers.read_offers` and
        :func:`~segmentum.activation.offers.acceptance_estimates` (small: one row per offer
        and per cell x offer).
    seed : int
        The project seed.
    responses : pyspark.sql.DataFrame, optional
        ``customer_id``, ``timestamp``, ``offer_id``, ``accepted``: the contact policy's
        history as of ``analysis_date``.
    policy : ContactPolicy, optional
    min_expected_value : float
    uplift : pyspark.sql.DataFrame, optional
        ``customer_id`` and one CLV-uplift column per offer that changes a covariate
        (others count 0).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``next_best_offer``, ``offer_expected_value``, ``offer_p_accept``,
        ``offer_clv_uplift``, ``no_offer_reason`` (nulls where the pandas path has NaN or
        None).
    """
    from pyspark.sql import functions as F

    policy = policy or ContactPolicy()
    offer_ids = [str(o) for o in offers["offer_id"]]
    cells = _cells(customers, offers, acceptance)
    c = customers.withColumn("customer_id", F.col("customer_id").cast("string"))
    if "control" not in c.columns:
        c = c.withColumn("control", F.lit(False))
    cond = c["segment"].eqNullSafe(cells["_cseg"]) & c["stage"].eqNullSafe(cells["_cstage"])
    frame = c.join(F.broadcast(cells), cond, "left").drop("_cseg", "_cstage")
    if uplift is not None:
        frame = _with_uplift(frame, uplift, offer_ids)
    empty_bans = F.array().cast("array<int>")
    frame = frame.withColumn("_bans", empty_bans).withColumn("_shown", F.lit(0).cast("bigint"))
    if responses is not None and offer_ids:
        if analysis_date is None:
            raise ValueError("next_best_offer_spark: give analysis_date with the responses")
        shown, bans = contact_history_spark(responses, c, offer_ids, analysis_date, policy)
        frame = (
            frame.drop("_bans", "_shown")
            .join(bans, "customer_id", "left")
            .join(shown, "customer_id", "left")
            .withColumn("_bans", F.coalesce(F.col("_bans"), empty_bans))
            .withColumn("_shown", F.coalesce(F.col("_shown"), F.lit(0).cast("bigint")))
        )
    blocked = F.coalesce(F.col("control").cast("boolean"), F.lit(False))
    capped = F.col("_shown") >= F.lit(policy.max_offers_per_period)
    choice, value = _choose(min_expected_value)
    frame = (
        frame.withColumn("_blocked", blocked)
        .withColumn("_capped", capped)
        .withColumn("_active", ~(F.col("_blocked") | F.col("_capped")))
        .withColumn("_tie", hash_uniform_spark(F.col("customer_id"), int(seed) + 1))
        .withColumn("_choice", choice)
        .withColumn("_value", value)
    )
    frame = _apply_limits_spark(frame, offers, min_expected_value, len(offers))
    given = F.col("_active") & (F.col("_choice") >= 0)
    pick = F.col("_choice") + 1
    ids = F.array(*[F.lit(o) for o in offer_ids]) if offer_ids else F.array().cast("array<string>")
    reason = (
        F.when(F.col("_blocked"), "control")
        .when(F.col("_capped"), "contact limit")
        .when(F.col("_choice") < 0, _NO_OFFER)
    )
    clv = F.when(given, F.element_at(F.col("_up"), pick)) if uplift is not None else F.lit(None)
    return frame.select(
        "customer_id",
        F.when(given, F.element_at(ids, pick)).alias("next_best_offer"),
        F.when(given, F.col("_value")).alias("offer_expected_value"),
        F.when(given, F.element_at(F.col("_p"), pick)).alias("offer_p_accept"),
        clv.cast("double").alias("offer_clv_uplift"),
        reason.alias("no_offer_reason"),
    )


def _safe_spark(col: Column) -> Column:
    """A text prefixed with ``'`` when it starts with =, +, -, @, tab or CR (OWASP), as the
    DuckDB writer's SQL does."""
    from pyspark.sql import functions as F

    danger = F.substring(col, 1, 1).isin(*_DANGEROUS)
    return F.when(danger, F.concat(F.lit("'"), col)).otherwise(col)


def _audience_table(
    people: DataFrame,
    id_column: str,
    columns: Sequence[str],
    segment_names: Mapping[int, str] | None,
    roles: Mapping[str, str | None],
) -> tuple[DataFrame, list[str]]:
    """The audience table (text neutralised) with ``_control``, ``_stage`` and ``_offer``
    (raw) beside the output columns, and the output columns' names (``people`` checked by
    :func:`write_audiences_spark`)."""
    from pyspark.sql import functions as F

    types = dict(people.dtypes)
    extra = [c for c in (roles["stage"], roles["offer"], roles["value"]) if c is not None]
    names = {int(k): str(v) for k, v in (segment_names or {}).items()}
    segs = [int(r[0]) for r in people.select("segment").distinct().collect() if r[0] is not None]
    passed = [c for c in columns if c != id_column]
    seg = F.col("segment").cast("bigint")
    name: Column = F.lit(None).cast("string")
    for s in sorted(segs):
        name = F.when(seg == s, F.lit(names.get(s, f"Segment {s}"))).otherwise(name)

    def text(c: str) -> Column:
        return (_safe_spark(_col(c)) if types[c] == "string" else _col(c)).alias(c)

    sel = [_safe_spark(_col(id_column).cast("string")).alias(id_column), *map(text, passed)]
    sel += [seg.alias("segment"), _safe_spark(name).alias("segment_name"), *map(text, extra)]
    ctl = roles["control"]
    sel.append(
        (F.coalesce(_col(ctl).cast("boolean"), F.lit(False)) if ctl else F.lit(False)).alias(
            "_control"
        )
    )
    for key, role in (("_stage", "stage"), ("_offer", "offer")):
        c = roles[role]
        sel.append((_col(c).cast("string") if c else F.lit(None).cast("string")).alias(key))
    return people.select(*sel), [id_column, *passed, "segment", "segment_name", *extra]


class _SparkWriter:
    """Writes the audience table's files as folders of CSV part files, one Spark pass per
    kind (``partitionBy``), and their XLSX twins (collected: at most ``xlsx_max`` rows)."""

    def __init__(self, folder: Path, table: DataFrame, columns: list[str], **opts: Any):
        self.folder, self.table, self.columns = folder, table, columns
        self.bom, self.xlsx, self.xlsx_max = opts["bom"], opts["xlsx"], opts["xlsx_max"]
        self.files: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def _csv(self, frame: DataFrame, target: Path, partition: Sequence[str] = ()) -> None:
        writer = frame.write.mode("overwrite").option("header", True).option("escape", '"')
        writer = writer.option("timestampFormat", "yyyy-MM-dd HH:mm:ss")
        if partition:
            writer = writer.partitionBy(*partition)
        writer.csv(target.resolve().as_uri())

    def write(
        self, kind: str, where: Column, keys: Sequence[Column], names: Mapping[tuple, str],
        counts: Mapping[tuple, int],
    ) -> None:  # fmt: skip
        """The files of one kind: rows ``where``, split by ``keys`` into ``names``."""
        import shutil

        from pyspark.sql import functions as F

        tmp = self.folder / f".{kind}.spark"
        shutil.rmtree(tmp, ignore_errors=True)
        parts = [k.alias(f"_p{i}") for i, k in enumerate(keys)]
        frame = self.table.filter(where).select(*map(_col, self.columns), *parts)
        self._csv(frame, tmp, [f"_p{i}" for i in range(len(keys))])
        for key, name in names.items():
            sub = tmp.joinpath(*[f"_p{i}={v}" for i, v in enumerate(key)])
            target = self.folder / name
            shutil.rmtree(target, ignore_errors=True)
            if sub.is_dir():
                sub.replace(target)
            else:  # no rows: a header-only part, as the DuckDB writer's empty file
                target.mkdir()
                header = ",".join(_csv_cell(c) for c in self.columns) + "\n"
                (target / "part-00000.csv").write_text(header, encoding="utf-8")
            cond = where
            for k, v in zip(keys, key, strict=True):
                cond = cond & (k == F.lit(v))
            self._finish(name, kind, int(counts.get(key, 0)), target, cond)
        shutil.rmtree(tmp, ignore_errors=True)

    def _finish(self, name: str, kind: str, rows: int, target: Path, where: Column) -> None:
        """Tidy Spark's extras away, add the BOM, list the parts; the XLSX twin."""
        for junk in {*target.glob("_SUCCESS"), *target.glob(".*.crc"), *target.glob("*.crc")}:
            junk.unlink(missing_ok=True)
        parts = sorted(target.glob("part-*.csv"))
        if self.bom:
            for part in parts:
                data = part.read_bytes()
                part.write_bytes(_BOM + data)
        self.files.append({
            "path": name, "format": "csv", "rows": rows, "kind": kind,
            "parts": [{"path": f"{name}/{p.name}", "sha256": _sha256(p)} for p in parts],
        })  # fmt: skip
        if not self.xlsx:
            return
        if rows > self.xlsx_max:
            self.notes.append(f"{name}: {rows:,} rows, over xlsx_max_rows; CSV only")
            return
        xpath = self.folder / f"{name}.xlsx"
        _write_xlsx(self.table.filter(where).select(*map(_col, self.columns)).toPandas(), xpath)
        self.files.append(
            {"path": xpath.name, "rows": rows, "sha256": _sha256(xpath), "kind": kind}
        )


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


def write_audiences_spark(
    folder: Path | str,
    people: DataFrame,
    *,
    id_column: str = "customer_id",
    columns: Sequence[str] = (),
    segment_names: Mapping[int, str] | None = None,
    stage: str | None = "stage",
    offer: str | None = "offer",
    value: str | None = "expected_value",
    control: str | None = "control",
    bom: bool = False,
    xlsx: bool = True,
    xlsx_max_rows: int = 100_000,
) -> AudienceFiles:
    """The audience files of :func:`~segmentum.activation.audiences.write_audiences`,
    written by Spark.

    The same audiences, columns and rows as the DuckDB writer (text neutralised against
    formula injection, ids as text, the control group kept out of every campaign file and
    written to ``control``), but each audience is a folder of CSV part files,
    ``audiences/<name>/part-*.csv`` (a header in each part), written in one Spark pass per
    kind (segment, segment x stage, offer: ``partitionBy``), where the DuckDB writer makes
    one ``<name>.csv``. Folder names are the DuckDB files' names (``segment_1``,
    ``segment_1_loyal``, ``offer_winback``, ``control``: the same ``_slug`` of the
    stage and offer). XLSX twins (``<name>.xlsx``) of the audiences up to
    ``xlsx_max_rows`` rows are collected and written on the driver. The DuckDB writer
    writes no SQL file, and neither does this one; ``manifest.json`` lists every audience
    with ``format = "csv"``, ``rows`` and its ``parts`` (path and SHA-256 each).

    Parameters are :func:`~segmentum.activation.audiences.write_audiences`'s; ``people``
    is a Spark DataFrame. The folder must be one the Spark workers can write (the local
    file system of a local session, or a shared one).
    """

    present = list(people.columns)
    _check_columns(present, id_column, columns)
    # a role column people lack is left out, its files not written (as the DuckDB writer)
    named = {"stage": stage, "offer": offer, "value": value, "control": control}
    roles = {role: c if c is not None and c in present else None for role, c in named.items()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table, cols = _audience_table(people, id_column, columns, segment_names, roles)
    # persisted: the four partitioned writes and every XLSX twin read it; uncached, each
    # of them recomputed the whole lineage (46 audiences on the small demo: 15 s each)
    table = table.persist()
    try:
        out = _write_audience_kinds(folder, table, cols, roles, bom, xlsx, xlsx_max_rows)
    finally:
        table.unpersist()
    (folder / "manifest.json").write_text(
        json.dumps(out.manifest(), indent=2) + "\n", encoding="utf-8"
    )
    return out


def _write_audience_kinds(
    folder: Path, table: DataFrame, cols: list[str], roles: Mapping[str, str | None],
    bom: bool, xlsx: bool, xlsx_max_rows: int,
) -> AudienceFiles:  # fmt: skip
    """The segment, segment x stage, offer and control audiences of the audience table."""
    from pyspark.sql import functions as F

    counts = table.groupBy("segment", "_control", "_stage", "_offer").count().toPandas()
    live = counts[counts["segment"].notna() & ~counts["_control"].astype(bool)]
    w = _SparkWriter(folder, table, cols, bom=bom, xlsx=xlsx, xlsx_max=xlsx_max_rows)
    seg_col = F.col("segment")
    campaign = seg_col.isNotNull() & ~F.col("_control")
    segs = sorted(int(s) for s in counts["segment"].dropna().unique())
    n_seg = live.groupby("segment")["count"].sum()
    w.write("segment", campaign, [seg_col],
            {(s,): f"segment_{s}" for s in segs},
            {(s,): int(n_seg.get(s, 0)) for s in segs})  # fmt: skip
    if roles["stage"]:
        st = live.dropna(subset=["_stage"])
        levels = sorted(str(v) for v in st["_stage"].unique())
        code = {v: i for i, v in enumerate(levels)}
        pairs = st.groupby(["segment", "_stage"])["count"].sum()
        n_pair = {(int(a), code[str(b)]): int(n) for (a, b), n in pairs.items() if n}
        stage_code = F.create_map(*[x for v, i in code.items() for x in (F.lit(v), F.lit(i))])
        key = F.element_at(stage_code, F.col("_stage")) if code else F.lit(-1)
        w.write("segment_stage", campaign & F.col("_stage").isNotNull(), [seg_col, key],
                {k: f"segment_{k[0]}_{_slug(levels[k[1]])}" for k in n_pair}, n_pair)  # fmt: skip
    if roles["offer"]:
        of = live.dropna(subset=["_offer"])
        levels = sorted(str(v) for v in of["_offer"].unique())
        code = {v: i for i, v in enumerate(levels)}
        by = of.groupby("_offer")["count"].sum()
        n_of = {(code[str(o)],): int(n) for o, n in by.items() if n}
        offer_code = F.create_map(*[x for v, i in code.items() for x in (F.lit(v), F.lit(i))])
        key = F.element_at(offer_code, F.col("_offer")) if code else F.lit(-1)
        w.write("offer", campaign & F.col("_offer").isNotNull(), [key],
                {k: f"offer_{_slug(levels[k[0]])}" for k in n_of}, n_of)  # fmt: skip
    if roles["control"]:
        n_ctl = int(counts.loc[counts["_control"].astype(bool), "count"].sum())
        w.write("control", F.col("_control"), [F.lit(0)], {(0,): "control"}, {(0,): n_ctl})
    return AudienceFiles(folder, w.files, w.notes)


def _renamed_spark(
    ctx: StageContext, spark: SparkSession, table: str, roles: Mapping[str, str | None]
) -> DataFrame | None:
    """A clean table in Spark with its role columns under the library's names."""
    frame = stage_table(ctx, table, spark)
    if frame is None:
        return None
    return frame.select(*[_col(col).alias(role) for role, col in roles.items() if col])


def audience_people_spark(
    ctx: StageContext, customers: DataFrame, config: ActivationConfig
) -> DataFrame:
    """The audience files' people in Spark: ``customer_id``, ``segment``, ``stage``,
    ``offer``, ``expected_value``, ``control`` of ``customers`` (the activation's
    per-customer rows) and the ``[activation] audience_columns`` of the customers table."""
    from pyspark.sql import functions as F

    src = ctx.config.sources.customers
    assert src is not None
    rows = customers.select(
        "customer_id", "segment", "stage", F.col("next_best_offer").alias("offer"),
        F.col("offer_expected_value").alias("expected_value"), "control",
    )  # fmt: skip
    cols = [c for c in config.audience_columns if c != src.id]
    if cols:
        table = stage_table(ctx, "customers", customers.sparkSession)
        assert table is not None
        extra = table.select(_col(src.id).cast("string").alias("customer_id"), *map(_col, cols))
        rows = rows.join(extra, "customer_id", "left")
    return rows
