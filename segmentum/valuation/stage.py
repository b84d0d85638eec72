"""The ``valuation`` stage in the flow (after maps): where to play.

It reads the segments stage's respondent segments, the profiles' names and defining needs
(when the profiles ran), the value stage's per-customer table (when it ran) and the clean
tables, and calls :func:`~segmentum.valuation.run.run_valuation` (with ``engine = "spark"``,
:func:`~segmentum.valuation.spark_valuation.run_valuation_spark`: the survey on the driver,
every customer in Spark, only aggregates collected). It hands on to the run:
per-id columns (``segment``, ``segment_probability`` and ``segment_source`` for every
respondent and customer), ``segments.json`` entries (top-level ``projection`` and
``typing_tool``; per segment ``valuation`` and ``priority`` added to the profiles' entries),
the model files (``typing_tool.json``, ``typing_tool.xlsx``, ``questionnaire.md``,
``projection.json``) and the report's "Where to play" section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segmentum.flow import Stage, StageContext
from segmentum.maps.stage import competitor_ratings
from segmentum.profiles.stage import ProfilesResult
from segmentum.segments.stage import SegmentsResult
from segmentum.valuation.priority import ValuationConfig
from segmentum.valuation.run import ValuationResult, report_section, run_valuation
from segmentum.valuation.spark import stage_session
from segmentum.valuation.spark_valuation import (
    assignments_from_segments_spark,
    run_valuation_spark,
)
from segmentum.value.stage import ValueResult

__all__ = ["VALUATION", "ValuationStageResult"]


@dataclass(frozen=True)
class ValuationStageResult:
    """The stage's result: the library's result plus what the run folder needs from it.

    Attributes
    ----------
    result : ValuationResult
    assignments : pandas.DataFrame
        ``respondent_id``, ``customer_id``, ``segment``, ``segment_probability``,
        ``segment_source`` (strings ids, the run's join keys): every respondent and customer
        on DuckDB; with ``engine = "spark"`` the respondents' rows only (``segment_source``
        "survey"), every customer's being in :attr:`spark`.
    profile_segments : list of dict
        The profiles' ``segments.json`` entries (empty when the profiles did not run); the
        stage adds ``valuation`` and ``priority`` to each.
    spark : pyspark.sql.DataFrame or None
        With ``engine = "spark"``: the assignments of every respondent and customer computed
        by Spark (the projection applied where the customers live,
        :func:`~segmentum.valuation.spark_valuation.run_valuation_spark`), persisted; else
        ``None``.
    """

    result: ValuationResult
    assignments: pd.DataFrame = field(repr=False)
    profile_segments: list[dict[str, Any]] = field(default_factory=list)
    spark: Any = field(default=None, compare=False, repr=False)

    def segments_json(self) -> dict[str, Any]:
        """``projection``, ``typing_tool``, ``where_to_play`` and the ``segments`` list with
        ``valuation`` and ``priority`` per segment."""
        js = self.result.segments_json()
        per = js.pop("segments")
        entries = [dict(e) for e in self.profile_segments] or [
            {"segment": int(s)} for s in sorted(int(k) for k in per)
        ]
        for e in entries:
            e.update(per.get(str(int(e["segment"])), {}))
        out: dict[str, Any] = {"segments": entries}
        for key in ("projection", "typing_tool"):
            if key in js:
                out[key] = js[key]
        out["where_to_play"] = {"sentence": js["sentence"], "warnings": js["warnings"]}
        return out


def _skip(ctx: StageContext) -> str | None:
    survey = ctx.config.sources.survey
    if survey is None or not survey.basis:
        return "no survey with basis items: no segments to value"
    return None  # the segments stage is in ``needs``


def _run(ctx: StageContext) -> ValuationStageResult:
    src = ctx.config.sources
    survey_src = src.survey
    assert survey_src is not None
    seg = ctx.result(SegmentsResult)
    prof = ctx.optional(ProfilesResult)
    value = ctx.optional(ValueResult)
    survey = ctx.data.frame("survey")
    rid = survey_src.id_column
    resp = seg.assignments.set_index(rid)["segment"]
    common: dict[str, Any] = {
        "respondent_id": rid,
        "basis": list(survey_src.basis),
        "survey_customer_id": survey_src.customer_id,
        "weights": survey_src.weight,
        "segment_names": prof.names() if prof is not None else None,
        "ratings": competitor_ratings(ctx),
        "defining_needs": (
            {int(k): list(v) for k, v in prof.profile.defining_needs.items()}
            if prof is not None
            else None
        ),
        "config": ctx.settings(ValuationConfig, "valuation", random_state=ctx.seed),
    }
    session = stage_session(ctx)
    if session is not None:
        on_spark = _run_spark(ctx, survey, resp, value, common, session)
        result, segments = on_spark.result, on_spark.segments
    else:
        result, segments = run_valuation(survey, resp, **common, **_tables(ctx, value)), None
    rs = seg.assignments.rename(columns={rid: "respondent_id"})
    if survey_src.customer_id:
        link = survey[[rid, survey_src.customer_id]].rename(
            columns={rid: "respondent_id", survey_src.customer_id: "link_customer_id"}
        )
        rs = rs.merge(link, on="respondent_id", how="left")
    rows = result.assignment_rows(
        rs,
        respondent_id="respondent_id",
        customer_id="customer_id",
        survey_customer_id="link_customer_id" if survey_src.customer_id else None,
    )
    for key in ("respondent_id", "customer_id"):
        rows[key] = rows[key].astype("str").where(rows[key].notna())
    profile_segments = prof.segments_json()["segments"] if prof is not None else []
    spark = None
    if session is not None and src.customers is not None:
        spark = assignments_from_segments_spark(rows, segments, session).persist()
    return ValuationStageResult(result, rows, profile_segments, spark)


def _customer_columns(ctx: StageContext, columns: Sequence[str]) -> list[str] | None:
    """The customers' descriptors, channel and acquisition cost the table has (None: none
    of them, so every column)."""
    cs = ctx.config.sources.customers
    assert cs is not None
    cols = [*cs.descriptors]
    for extra in (cs.channel, cs.acquisition_cost):
        if extra and extra not in cols:
            cols.append(extra)
    return [c for c in cols if c in columns] or None


def _tables(ctx: StageContext, value: ValueResult | None) -> dict[str, Any]:
    """engine = "duckdb": the clean tables and the value stage's table, ids renamed to the
    customers' id column."""
    src = ctx.config.sources
    customers = ctx.data.get("customers") if src.customers is not None else None
    cust_id = src.customers.id if src.customers is not None else None
    cust_cols = None
    if customers is not None:
        cust_cols = _customer_columns(ctx, list(customers.columns))
    tx = ctx.data.get("transactions") if src.transactions is not None else None
    tsrc = src.transactions
    ev = ctx.data.get("events") if src.events is not None else None
    per_customer = None
    if value is not None:
        per_customer = value.per_customer
        if value.customer_id != cust_id and cust_id is not None:
            per_customer = per_customer.rename(columns={value.customer_id: cust_id})
    if tx is not None and tsrc is not None and cust_id and tsrc.customer_id != cust_id:
        tx = tx.rename(columns={tsrc.customer_id: cust_id})
    if ev is not None and src.events is not None and cust_id and src.events.customer_id != cust_id:
        ev = ev.rename(columns={src.events.customer_id: cust_id})
    return {
        "customers": customers,
        "customer_id": cust_id,
        "customer_columns": cust_cols,
        "per_customer": per_customer,
        "transactions": tx,
        "timestamp": tsrc.timestamp if tsrc is not None else None,
        "amount": tsrc.amount if tsrc is not None else None,
        "mix_columns": [c for c in (tsrc.product, tsrc.channel) if c] if tsrc is not None else [],
        "events": ev,
        "event_type": src.events.event_type if src.events is not None else None,
    }


def _run_spark(
    ctx: StageContext,
    survey: pd.DataFrame,
    resp: pd.Series,
    value: ValueResult | None,
    common: dict[str, Any],
    session: Any,
) -> Any:
    """engine = "spark": the survey side on the driver, every customer in Spark
    (:func:`~segmentum.valuation.spark_valuation.run_valuation_spark`); the customer tables
    are Spark's own, the value stage's its Spark frame."""
    from segmentum.valuation.spark import stage_table, to_spark_frame

    src = ctx.config.sources
    cs, tsrc, esrc = src.customers, src.transactions, src.events
    customers = stage_table(ctx, "customers", session) if cs is not None else None
    per_customer = per_id = None
    if value is not None:
        per_customer, per_id = value.spark, "customer_id"
        if per_customer is None:  # the value stage ran on the driver
            per_customer, per_id = to_spark_frame(session, value.per_customer), value.customer_id
    return run_valuation_spark(
        survey, resp, spark=session, **common,
        customers=customers, customer_id=cs.id if cs is not None else None,
        customer_columns=(
            _customer_columns(ctx, customers.columns) if customers is not None else None
        ),
        per_customer=per_customer, per_customer_id=per_id or "customer_id",
        transactions=stage_table(ctx, "transactions", session) if tsrc is not None else None,
        transactions_id=tsrc.customer_id if tsrc is not None else None,
        timestamp=tsrc.timestamp if tsrc is not None else None,
        amount=tsrc.amount if tsrc is not None else None,
        mix_columns=[c for c in (tsrc.product, tsrc.channel) if c] if tsrc is not None else [],
        events=stage_table(ctx, "events", session) if esrc is not None else None,
        events_id=esrc.customer_id if esrc is not None else None,
        event_type=esrc.event_type if esrc is not None else None,
    )  # fmt: skip


def _assignments(result: ValuationStageResult, ctx: StageContext) -> pd.DataFrame:
    return result.assignments


def _assignments_spark(result: ValuationStageResult, ctx: StageContext) -> Any:
    """The assignments computed by Spark (engine = "spark"); ``None`` otherwise."""
    return result.spark


def _save(result: ValuationStageResult, model_dir: Path) -> None:
    result.result.save(model_dir)


VALUATION = Stage(
    name="valuation",
    title="Where to play",
    skip_reason=_skip,
    run=_run,
    section=lambda r: report_section(r.result),
    assignments=_assignments,
    assignments_spark=_assignments_spark,
    summary=lambda r: r.segments_json(),
    save_model=_save,
    settings=ValuationConfig,
    needs=("segments",),
    summary_at_top=True,
)
