"""The ``valuation`` stage in the flow (after maps): where to play.

It reads the segments stage's respondent segments, the profiles' names and defining needs
(when the profiles ran), the value stage's per-customer table (when it ran) and the clean
tables, and calls :func:`~segmentum.valuation.run.run_valuation`. It hands on to the run:
per-id columns (``segment``, ``segment_probability`` and ``segment_source`` for every
respondent and customer), ``segments.json`` entries (top-level ``projection`` and
``typing_tool``; per segment ``valuation`` and ``priority`` added to the profiles' entries),
the model files (``typing_tool.json``, ``typing_tool.xlsx``, ``questionnaire.md``,
``projection.json``) and the report's "Where to play" section.
"""

from __future__ import annotations

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
        ``segment_source`` (strings ids, the run's join keys).
    profile_segments : list of dict
        The profiles' ``segments.json`` entries (empty when the profiles did not run); the
        stage adds ``valuation`` and ``priority`` to each.
    spark : pyspark.sql.DataFrame or None
        With ``engine = "spark"``: ``assignments`` computed by Spark (the projection applied
        where the customers live, :func:`~segmentum.valuation.spark.valuation_spark`);
        else ``None``.
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
    names = prof.names() if prof is not None else None
    needs = (
        {int(k): list(v) for k, v in prof.profile.defining_needs.items()}
        if prof is not None
        else None
    )
    customers = ctx.data.get("customers") if src.customers is not None else None
    cust_id = src.customers.id if src.customers is not None else None
    cust_cols = None
    if src.customers is not None and customers is not None:
        cols = [*src.customers.descriptors]
        for extra in (src.customers.channel, src.customers.acquisition_cost):
            if extra and extra not in cols:
                cols.append(extra)
        cust_cols = [c for c in cols if c in customers.columns] or None
    tx = ctx.data.get("transactions") if src.transactions is not None else None
    tsrc = src.transactions
    mix = [c for c in (tsrc.product, tsrc.channel) if c] if tsrc is not None else []
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
    result = run_valuation(
        survey,
        resp,
        respondent_id=rid,
        basis=list(survey_src.basis),
        survey_customer_id=survey_src.customer_id,
        weights=survey_src.weight,
        segment_names=names,
        customers=customers,
        customer_id=cust_id,
        customer_columns=cust_cols,
        per_customer=per_customer,
        transactions=tx,
        timestamp=tsrc.timestamp if tsrc is not None else None,
        amount=tsrc.amount if tsrc is not None else None,
        mix_columns=mix,
        events=ev,
        event_type=src.events.event_type if src.events is not None else None,
        ratings=competitor_ratings(ctx),
        defining_needs=needs,
        config=ctx.settings(ValuationConfig, "valuation", random_state=ctx.seed),
    )
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
    return ValuationStageResult(result, rows, profile_segments, _spark(ctx, result, rows, value))


def _spark(ctx: StageContext, result: Any, rows: pd.DataFrame, value: Any) -> Any:
    """engine = "spark": the projection applied to every customer in Spark (else ``None``)."""
    if ctx.config.project.engine != "spark":
        return None
    from segmentum.valuation.spark import valuation_spark

    model = result.projection.model if result.projection is not None else None
    return valuation_spark(ctx, rows, model, value)


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
