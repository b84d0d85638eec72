"""The stages of a run and what each needs from the data.

Each stage is a thin adapter over its module's public entry point (``run_value``,
``run_segments``, ``run_profiles``): it says whether the data allow it (and why not), runs
it, and hands back the stage's typed result. The run writes the results; the report reads
them. Stages talk through their result objects only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segmentum.data.ingest import Ingested
from segmentum.data.project import ProjectConfig
from segmentum.report.section import Section


@dataclass
class StageContext:
    """What a stage may read: the project, the clean tables and earlier stages' results."""

    config: ProjectConfig
    data: Ingested
    seed: int
    previous_run: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)
    tick: Callable[[str], None] = lambda message: None


@dataclass
class StageOutcome:
    """What happened to one stage in one run."""

    name: str
    status: str  # "ran" or "skipped"
    reason: str = ""
    seconds: float = 0.0
    result: Any = None


@dataclass(frozen=True)
class Stage:
    """A stage of the flow.

    ``skip_reason`` returns why the data do not allow the stage (``None`` when they do);
    ``run`` returns the stage's result object; ``section`` turns it into report content;
    ``assignments`` gives per-respondent or per-customer columns keyed by id.
    """

    name: str
    title: str
    skip_reason: Callable[[StageContext], str | None]
    run: Callable[[StageContext], Any]
    section: Callable[[Any], Section]
    assignments: Callable[[Any, StageContext], pd.DataFrame | None] = lambda r, c: None
    summary: Callable[[Any], dict[str, Any]] = lambda r: {}
    save_model: Callable[[Any, Path], None] | None = None
    write_files: Callable[[Any, Path], list[Path]] | None = None


def stage_settings(cls: type, settings: dict[str, Any], table: str) -> Any:
    """Build a stage's settings object from its project-file table, or say what is wrong.

    Unknown keys and wrong values raise :class:`ProjectError` naming the key and the
    valid choices, before any data is read.
    """
    import dataclasses
    import difflib

    from pydantic import TypeAdapter, ValidationError

    from segmentum.data.errors import ProjectError

    if dataclasses.is_dataclass(cls):
        known = [f.name for f in dataclasses.fields(cls)]
    else:
        known = list(getattr(cls, "model_fields", {}))
    for key in settings:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            tip = f" Did you mean '{close[0]}'?" if close else ""
            raise ProjectError(
                f"[{table}] unknown key '{key}'.{tip} Valid keys: {', '.join(known)}."
            )
    try:
        return TypeAdapter(cls).validate_python(settings)
    except ValidationError as exc:
        lines = [
            f"  [{table}.{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors()
        ]
        raise ProjectError(f"[{table}] settings are not valid:\n" + "\n".join(lines)) from None
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"[{table}] settings are not valid: {exc}") from None


def check_stage_settings(config: ProjectConfig) -> None:
    """Validate every stage's settings table (called when a project is loaded)."""
    if config.value:
        from segmentum.value.stage import ValueConfig

        stage_settings(ValueConfig, config.value, "value")
    if config.segments:
        from segmentum.segments.stage import SegmentsConfig

        stage_settings(SegmentsConfig, config.segments, "segments")


# --- value -------------------------------------------------------------------------------


def _value_skip(ctx: StageContext) -> str | None:
    if "transactions" not in ctx.data:
        return "no transactions table is declared ([sources.transactions])"
    return None


def _value_run(ctx: StageContext) -> Any:
    from segmentum.value import run_value
    from segmentum.value.stage import ValueConfig

    src = ctx.config.sources.transactions
    assert src is not None
    events = ctx.config.sources.events
    customers = ctx.config.sources.customers
    events_frame = ctx.data.get("events")
    if events_frame is not None and events is not None:
        events_frame = events_frame.rename(
            columns={
                events.customer_id: "customer_id",
                events.timestamp: "timestamp",
                events.event_type: "event_type",
            }
        )
    customers_frame = ctx.data.get("customers")
    if customers_frame is not None and customers is not None:
        renames = {customers.id: "customer_id"}
        if customers.acquisition_cost:
            renames[customers.acquisition_cost] = "acquisition_cost"
        customers_frame = customers_frame.rename(columns=renames)
    return run_value(
        ctx.data.frame("transactions"),
        customer_id=src.customer_id,
        timestamp=src.timestamp,
        amount=src.amount,
        margin=src.margin,
        channel=src.channel,
        events=events_frame,
        customers=customers_frame,
        analysis_date=ctx.data.analysis_date,
        config=stage_settings(ValueConfig, ctx.config.value, "value"),
        cost=src.cost,
    )


def _value_section(result: Any) -> Section:
    from segmentum.value import report_section

    return report_section(result)


def _value_assignments(result: Any, ctx: StageContext) -> pd.DataFrame:
    src = ctx.config.sources.transactions
    assert src is not None
    frame = result.per_customer.copy()
    if src.customer_id != "customer_id" and src.customer_id in frame:
        frame = frame.rename(columns={src.customer_id: "customer_id"})
    if "customer_id" not in frame.columns:
        frame = frame.reset_index()
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


VALUE = Stage(
    name="value",
    title="Customer value",
    skip_reason=_value_skip,
    run=_value_run,
    section=_value_section,
    assignments=_value_assignments,
    summary=lambda r: dict(r.summary),
)


# --- segments ----------------------------------------------------------------------------


def _segments_skip(ctx: StageContext) -> str | None:
    survey = ctx.config.sources.survey
    if survey is None:
        return "no survey table is declared ([sources.survey])"
    if not survey.basis:
        return "the survey declares no basis items (basis = [...] under [sources.survey])"
    return None


def _previous_segments(ctx: StageContext) -> dict[str, Any] | None:
    # Parquet only, from a run folder the catalogue checked (manifest checksums).
    from segmentum.segments.persist import load_previous

    return None if ctx.previous_run is None else load_previous(ctx.previous_run)


def _segments_run(ctx: StageContext) -> Any:
    from segmentum.segments import run_segments
    from segmentum.segments.stage import SegmentsConfig

    survey = ctx.config.sources.survey
    assert survey is not None
    settings = dict(ctx.config.segments)
    settings.setdefault("random_state", ctx.seed)
    settings = stage_settings(SegmentsConfig, settings, "segments")
    return run_segments(
        ctx.data.frame("survey"),
        id_column=survey.id_column,
        basis=list(survey.basis),
        weights=survey.weight,
        config=settings,
        previous=_previous_segments(ctx),
    )


def _segments_section(result: Any) -> Section:
    from segmentum.segments import report_section

    return report_section(result)


def _segments_assignments(result: Any, ctx: StageContext) -> pd.DataFrame:
    survey = ctx.config.sources.survey
    assert survey is not None
    frame = result.assignments.rename(columns={survey.id_column: "respondent_id"})
    frame["respondent_id"] = frame["respondent_id"].astype(str)
    if survey.customer_id:
        link = ctx.data.frame("survey")[[survey.id_column, survey.customer_id]].rename(
            columns={survey.id_column: "respondent_id", survey.customer_id: "customer_id"}
        )
        link["respondent_id"] = link["respondent_id"].astype(str)
        frame = frame.merge(link, on="respondent_id", how="left")
    return frame


def _segments_save(result: Any, model_dir: Path) -> None:
    # The scoring model as data (never pickle), memberships and centroids as Parquet.
    from segmentum.segments.persist import save_segments

    save_segments(result, model_dir)


SEGMENTS = Stage(
    name="segments",
    title="Needs-based segments",
    skip_reason=_segments_skip,
    run=_segments_run,
    section=_segments_section,
    assignments=_segments_assignments,
    summary=lambda r: dict(r.summary),
    save_model=_segments_save,
)


# --- profiles, map and white space ---------------------------------------------------------


def _profiles_skip(ctx: StageContext) -> str | None:
    # Profiles need segments; the run skips them when the segments stage is skipped.
    return _segments_skip(ctx)


_ADDITIVE_VALUE = (
    "n_transactions",
    "revenue",
    "margin",
    "expected_purchases",
    "clv",
    "cost_to_serve",
    "profit",
    "profit_clv",
)


def _profiles_run(ctx: StageContext) -> Any:
    from segmentum.profiles import run_profiles

    survey_src = ctx.config.sources.survey
    assert survey_src is not None
    survey = ctx.data.frame("survey")
    labels = ctx.results["segments"].assignments[[survey_src.id_column, "segment"]]
    ratings = ctx.data.get("competitor_ratings")
    ratings_src = ctx.config.sources.competitor_ratings
    if ratings is not None and ratings_src is not None:
        ratings = ratings.rename(
            columns={
                ratings_src.respondent_id: "respondent_id",
                ratings_src.brand: "brand",
                ratings_src.need: "need",
                ratings_src.rating: "rating",
            }
        )
    value = None
    if "value" in ctx.results and survey_src.customer_id:
        # Linked through the survey's customer id column.
        per_customer = _value_assignments(ctx.results["value"], ctx)
        # Only additive measures: a segment's share of the total must mean something.
        keep = ["customer_id", *[c for c in _ADDITIVE_VALUE if c in per_customer.columns]]
        value = per_customer[keep].rename(columns={"customer_id": survey_src.customer_id})
    settings = dict(ctx.config.profiles)
    names = {int(k): str(v) for k, v in settings.pop("names", {}).items()}
    return run_profiles(
        survey,
        labels,
        id_column=survey_src.id_column,
        basis=list(survey_src.basis),
        descriptors=list(survey_src.descriptors),
        behaviours=list(survey_src.behaviours),
        weights=survey_src.weight,
        text=survey_src.text,
        competitor_ratings=ratings,
        value=value,
        names=names or None,
        random_state=ctx.seed,
        **settings,
    )


def _profiles_section(result: Any) -> Section:
    from segmentum.profiles import report_section

    return report_section(result)


def _profiles_files(result: Any, run_dir: Path) -> list[Path]:
    """The map as a static image for slides, and the personas as Markdown."""
    from segmentum.maps.plots import write_static

    written = []
    if result.map is not None:
        written.append(write_static(result.map, run_dir / "map.svg"))
    if result.personas:
        path = run_dir / "personas.md"
        path.write_text(
            "\n\n".join(p.to_markdown() for p in result.personas) + "\n", encoding="utf-8"
        )
        written.append(path)
    return written


PROFILES = Stage(
    name="profiles",
    title="Profiles, personas, map and white space",
    skip_reason=_profiles_skip,
    run=_profiles_run,
    section=_profiles_section,
    summary=lambda r: r.segments_json(),
    write_files=_profiles_files,
)

STAGES: tuple[Stage, ...] = (VALUE, SEGMENTS, PROFILES)
