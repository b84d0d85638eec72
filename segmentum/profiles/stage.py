"""The profiles stage: who each segment is, what defines it, whether segments are distinct.

:func:`profile_segments` is the stage proper (profiles, exclusivity, personas);
:func:`run_profiles` runs it and then the map and white-space stage
(:func:`segmentum.maps.run_maps`) in one call, for notebooks. :data:`PROFILES` is the stage
in the flow; it hands the map stage its :class:`~segmentum.maps.stage.MapInputs`.

Each step does what it can; a step that cannot run (a descriptor with too many categories,
a segment too small to test) is skipped with a warning saying why, and the rest still runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from segmentum.flow import Stage, StageContext
from segmentum.maps.projection import Method, SegmentMap
from segmentum.maps.stage import MapInputs, MapsConfig, MapsResult, run_maps
from segmentum.maps.themes import Themes
from segmentum.maps.white_space import WhiteSpace
from segmentum.profiles.exclusivity import ExclusivityReport, exclusivity
from segmentum.profiles.persona_art import read_stage_mix, write_persona_files
from segmentum.profiles.personas import Persona, personas
from segmentum.profiles.profile import Profile, profile, profile_value_columns, segment_value
from segmentum.profiles.report import report_section

__all__ = [
    "PROFILES",
    "ProfilesConfig",
    "ProfilesResult",
    "primary_value_measure",
    "profile_segments",
    "run_profiles",
]

_PRIMARY_VALUE = ("clv", "margin", "profit", "revenue", "monetary_value", "value")


class ProfilesConfig(BaseModel):
    """Settings of the profiles stage, the ``[profiles]`` table of the project file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: keys that moved to another table, with where they went (named in the error)
    moved_keys: ClassVar[dict[str, str]] = {
        "map_method": "[maps] method",
        "n_themes": "[maps] n_themes",
        "themes_method": "[maps] themes_method",
    }

    names: dict[int, str] = Field(
        default_factory=dict,
        description='Segment names chosen by you, e.g. names = { 1 = "Online savers" }.',
    )
    phrases: dict[str, str] = Field(
        default_factory=dict,
        description="Readable phrases for item names in persona cards "
        '(need_local_agent = "a local agent").',
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="False discovery rate of the Benjamini-Hochberg tests."
    )
    max_levels: int = Field(
        20, ge=2, description="Descriptors with more categories than this are skipped."
    )
    min_size: int = Field(10, ge=1, description="Segments with fewer respondents are not tested.")
    exclusivity_threshold: float = Field(
        0.6, ge=0, le=1, description="Score the mutually-exclusive check must reach."
    )
    infer_levels: bool = Field(
        True,
        description="Order categorical levels from their labels (numbers, ranges, frequency "
        "and agreement scales) when no levels are declared ([sources.survey] levels).",
    )


@dataclass(frozen=True)
class ProfilesResult:
    """Everything the profiles stage produces for one segmentation.

    Attributes
    ----------
    profile : Profile
    exclusivity : ExclusivityReport
    personas : tuple of Persona
    warnings : tuple of str
        Every step's skips and problems, in order (the map stage's too when it ran here).
    maps : MapsResult or None
        The map, white space and themes when :func:`run_profiles` ran them with these
        profiles; ``None`` in a project run, where the map stage has its own result
        (``RunResult.maps``).
    stage_mix : dict
        Customers by segment and lifecycle stage (:func:`~segmentum.profiles.stage_mix`),
        drawn in the persona pictures. Empty until the run folder is written: the
        activation stage runs later, so the stage's file writer reads them from the run's
        ``assignments.parquet`` and keeps them here for the report section.
    themes, white_space, map, map_figure
        Shortcuts to ``maps`` (``None`` without it).
    """

    profile: Profile
    exclusivity: ExclusivityReport
    personas: tuple[Persona, ...]
    warnings: tuple[str, ...] = ()
    maps: MapsResult | None = field(default=None, repr=False)
    stage_mix: dict[int, dict[str, int]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def themes(self) -> Themes | None:
        return None if self.maps is None else self.maps.themes

    @property
    def white_space(self) -> WhiteSpace | None:
        return None if self.maps is None else self.maps.white_space

    @property
    def map(self) -> SegmentMap | None:
        return None if self.maps is None else self.maps.map

    @property
    def map_figure(self) -> Any:
        return None if self.maps is None else self.maps.map_figure

    @property
    def table(self) -> pd.DataFrame:
        """The long profile table."""
        return self.profile.table

    @property
    def notes(self) -> tuple[str, ...]:
        """What was inferred rather than declared (the order of levels), one note each."""
        return self.profile.notes

    def names(self) -> dict[int, str]:
        """Segment names (overrides or suggestions)."""
        return {p.segment: p.name for p in self.personas}

    def map_inputs(self) -> MapInputs:
        """What the map stage needs from these profiles."""
        prof = self.profile
        measure = primary_value_measure(prof)
        seg_val = None
        if measure is not None:
            seg_val = prof.sizes.set_index("segment")[f"{measure}_total"]
        return MapInputs(
            labels=prof.labels,
            weights=prof.weights,
            basis=tuple(prof.basis),
            names=self.names(),
            segment_value=seg_val,
        )

    def segments_json(self) -> dict[str, Any]:
        """The ``segments``, ``white_space`` and ``exclusivity`` entries of ``segments.json``.

        Returns
        -------
        dict
            ``segments``: list of ``{segment, name, size, share, defining_needs,
            descriptors, value}``; ``white_space`` (when the map stage ran with these
            profiles, see :meth:`MapsResult.segments_json`): list strongest first of
            ``{need, segments, importance, best_competitor_score, ...}``;
            ``exclusivity``: ``{score, passed, threshold, offenders, quantifiable}``;
            ``levels`` (when a categorical variable's levels are ordered): per variable
            ``{levels, order, note}``, ``order`` being ``"declared"`` or how it was
            inferred. Plain JSON types only.
        """
        sizes = self.profile.sizes.set_index("segment")
        desc = self.profile.segment_descriptors
        segs = []
        for p in self.personas:
            d = desc[desc["segment"] == p.segment]
            segs.append(
                {
                    "segment": int(p.segment),
                    "name": p.name,
                    "size": int(sizes.loc[p.segment, "n"]),
                    "share": float(sizes.loc[p.segment, "share"]),
                    "share_sample": float(sizes.loc[p.segment, "share_sample"]),
                    "defining_needs": list(self.profile.defining_needs.get(p.segment, ())),
                    "descriptors": [
                        {
                            "variable": str(r["variable"]),
                            "level": None if r["kind"] == "numeric" else str(r["level"]),
                            "value": _num(r["value"]),
                            "total": _num(r["total"]),
                            "index": _num(r["index"]),
                            "effect_size": _num(r["effect_size"]),
                        }
                        for _, r in d.iterrows()
                    ],
                    "value": segment_value(self.profile, p.segment) or None,
                    "persona": p.to_markdown(),
                    "card_facts": [f.to_json() for f in p.facts],
                }
            )
        ex = self.exclusivity
        out: dict[str, Any] = {"segments": segs}
        if self.maps is not None:
            out.update(self.maps.segments_json())
        out["exclusivity"] = {
            "score": ex.score,
            "passed": ex.passed,
            "threshold": ex.threshold,
            "uniqueness": ex.uniqueness,
            "coverage": ex.coverage,
            "separation": ex.separation,
            "offenders": ex.offenders,
            "quantifiable": ex.quantifiable,
        }
        orders = self.profile.level_orders
        if orders:
            out["levels"] = {
                col: {
                    "levels": list(o.levels),
                    "order": o.source,
                    "note": o.note() if o.inferred else None,
                }
                for col, o in orders.items()
            }
        return out


def _num(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _labels_for(survey: pd.DataFrame, labels: Any, id_column: str | None) -> pd.Series | np.ndarray:
    """Accept labels by row, by survey index, or keyed by respondent id."""
    if isinstance(labels, pd.DataFrame):
        if "segment" not in labels.columns:
            raise KeyError("a labels table needs a 'segment' column")
        if id_column and id_column in labels.columns:
            labels = labels.set_index(id_column)["segment"]
        else:
            labels = labels["segment"]
    if (
        isinstance(labels, pd.Series)
        and id_column
        and id_column in survey.columns
        and not labels.index.equals(survey.index)
    ):
        keyed = labels[labels.index.notna()]
        if keyed.index.has_duplicates:
            dup = keyed.groupby(level=0).nunique()
            if (dup > 1).any():
                raise ValueError(f"labels give several segments to one {id_column}")
            keyed = keyed[~keyed.index.duplicated()]
        if survey[id_column].isin(keyed.index).any():
            return pd.Series(survey[id_column].map(keyed).to_numpy(), index=survey.index)
    return labels


def _value_link(survey: pd.DataFrame, value: pd.DataFrame, id_column: str | None) -> str | None:
    for c in ("customer_id", value.index.name):
        if c and c in survey.columns and (c in value.columns or value.index.name == c):
            return str(c)
    if id_column and (id_column in value.columns or value.index.name == id_column):
        return id_column
    return None


def primary_value_measure(prof: Profile) -> str | None:
    """The value measure used for sizing by value: CLV, else margin, else revenue, else the first."""
    measures = profile_value_columns(prof.sizes)
    for key in _PRIMARY_VALUE:
        for m in measures:
            if m.lower() == key or m.lower().endswith(key):
                return m
    return measures[0] if measures else None


def profile_segments(
    survey: pd.DataFrame,
    labels: pd.Series | np.ndarray | Sequence[int] | pd.DataFrame,
    *,
    id_column: str | None = None,
    basis: Sequence[str],
    descriptors: Sequence[str] = (),
    behaviours: Sequence[str] = (),
    weights: str | pd.Series | None = None,
    text: str | None = None,
    value: pd.DataFrame | None = None,
    config: ProfilesConfig | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
) -> ProfilesResult:
    """Run the profiles stage: profiles, the mutually-exclusive check and persona cards.

    Parameters are those of :func:`run_profiles`; ``text`` only feeds the personas' quotes.
    ``names``, ``phrases``, ``alpha``, ``max_levels``, ``min_size``,
    ``exclusivity_threshold`` and ``infer_levels`` come from ``config``.

    Returns
    -------
    ProfilesResult
        With ``maps=None``.
    """
    cfg = config or ProfilesConfig()
    warns: list[str] = []
    lab = _labels_for(survey, labels, id_column)
    link = None
    if value is not None:
        link = _value_link(survey, value, id_column)
        if link is None and not value.index.equals(survey.index):
            warns.append("value table has no id shared with the survey: segments are not valued")
            value = None
    prof = profile(
        survey,
        lab,
        basis=basis,
        descriptors=descriptors,
        behaviours=behaviours,
        value=value,
        id_column=link,
        weights=weights,
        alpha=cfg.alpha,
        max_levels=cfg.max_levels,
        min_size=cfg.min_size,
        levels=levels,
        infer_levels=cfg.infer_levels,
    )
    warns += list(prof.warnings)
    ex = exclusivity(prof, threshold=cfg.exclusivity_threshold, min_size=cfg.min_size)
    if not ex.passed:
        warns.append(ex.verdict())
    texts = None
    if text is not None and text in survey.columns:
        texts = survey.loc[prof.labels.index, text]
    cards = tuple(personas(prof, names=cfg.names or None, phrases=cfg.phrases or None, texts=texts))
    return ProfilesResult(profile=prof, exclusivity=ex, personas=cards, warnings=tuple(warns))


def run_profiles(
    survey: pd.DataFrame,
    labels: pd.Series | np.ndarray | Sequence[int] | pd.DataFrame,
    *,
    id_column: str | None = None,
    basis: Sequence[str],
    descriptors: Sequence[str] = (),
    behaviours: Sequence[str] = (),
    weights: str | pd.Series | None = None,
    text: str | None = None,
    competitor_ratings: pd.DataFrame | None = None,
    value: pd.DataFrame | None = None,
    names: Mapping[int, str] | None = None,
    phrases: Mapping[str, str] | None = None,
    alpha: float = ProfilesConfig.model_fields["alpha"].default,
    max_levels: int = ProfilesConfig.model_fields["max_levels"].default,
    min_size: int = ProfilesConfig.model_fields["min_size"].default,
    exclusivity_threshold: float = ProfilesConfig.model_fields["exclusivity_threshold"].default,
    map_method: Method = MapsConfig.model_fields["method"].default,
    n_themes: int = MapsConfig.model_fields["n_themes"].default,
    themes_method: Literal["nmf", "embeddings"] = MapsConfig.model_fields["themes_method"].default,
    random_state: int = 0,
    levels: Mapping[str, Sequence[object]] | None = None,
) -> ProfilesResult:
    """Run the profiles stage and then the map and white-space stage, in one call.

    Parameters
    ----------
    survey : pandas.DataFrame
        One row per respondent.
    labels : Series, array-like or DataFrame
        Segment per respondent: one per row, a Series on the survey index or keyed by
        ``id_column``, or a table with ``id_column`` and ``segment``.
    id_column : str, optional
        Respondent id column.
    basis, descriptors, behaviours : sequence of str
        Column roles.
    weights : str or Series, optional
        Survey weight column (or values).
    text : str, optional
        Column of open 'I wish ...' answers.
    competitor_ratings : pandas.DataFrame, optional
        Long ``brand``, ``need``, ``rating`` (``respondent_id`` optional).
    value : pandas.DataFrame, optional
        Per-customer value (revenue, margin, CLV), indexed by or holding ``customer_id``
        (or the index name / ``id_column`` shared with the survey).
    names : mapping of int to str, optional
        Segment names chosen by the user.
    phrases : mapping of str to str, optional
        Readable phrases for item names.
    alpha, max_levels, min_size, exclusivity_threshold
        See :class:`ProfilesConfig` (defaults read from it).
    map_method, n_themes, themes_method
        ``method``, ``n_themes`` and ``themes_method`` of :class:`MapsConfig`.
    random_state : int, default=0
    levels : mapping of str to sequence, optional
        Declared level orders of categorical columns, lowest first (the project file's
        ``levels``); others are inferred from their labels where possible, with a note.

    Returns
    -------
    ProfilesResult
        With ``maps`` set, and the warnings of both stages in order.
    """
    config = ProfilesConfig(
        names=dict(names or {}),
        phrases=dict(phrases or {}),
        alpha=alpha,
        max_levels=max_levels,
        min_size=min_size,
        exclusivity_threshold=exclusivity_threshold,
    )
    profiled = profile_segments(
        survey,
        labels,
        id_column=id_column,
        basis=basis,
        descriptors=descriptors,
        behaviours=behaviours,
        weights=weights,
        text=text,
        value=value,
        config=config,
        levels=levels,
    )
    maps = run_maps(
        survey,
        profiled.map_inputs(),
        text=text,
        competitor_ratings=competitor_ratings,
        config=MapsConfig(method=map_method, n_themes=n_themes, themes_method=themes_method),
        random_state=random_state,
    )
    return ProfilesResult(
        profile=profiled.profile,
        exclusivity=profiled.exclusivity,
        personas=profiled.personas,
        warnings=(*profiled.warnings, *maps.warnings),
        maps=maps,
    )


# --- the stage in the flow: what it needs from a project, what it hands on ------------------

#: value measures a segment's share of the total means something for (additive per customer)
ADDITIVE_VALUE = (
    "n_transactions",
    "revenue",
    "margin",
    "expected_purchases",
    "clv",
    "cost_to_serve",
    "profit",
    "profit_clv",
)


def _skip(ctx: StageContext) -> str | None:
    survey = ctx.config.sources.survey
    if survey is None:
        return "no survey table is declared ([sources.survey])"
    return None


def _run(ctx: StageContext) -> ProfilesResult:
    from segmentum.segments.stage import SegmentsResult
    from segmentum.value.stage import ValueResult, per_customer_columns

    survey_src = ctx.config.sources.survey
    assert survey_src is not None
    labels = ctx.result(SegmentsResult).assignments[[survey_src.id_column, "segment"]]
    value = None
    value_result = ctx.optional(ValueResult)
    if value_result is not None and survey_src.customer_id:
        # Linked through the survey's customer id column; only additive measures.
        per_customer = per_customer_columns(value_result)
        keep = ["customer_id", *[c for c in ADDITIVE_VALUE if c in per_customer.columns]]
        value = per_customer[keep].rename(columns={"customer_id": survey_src.customer_id})
    return profile_segments(
        ctx.data.frame("survey"),
        labels,
        id_column=survey_src.id_column,
        basis=list(survey_src.basis),
        descriptors=list(survey_src.descriptors),
        behaviours=list(survey_src.behaviours),
        weights=survey_src.weight,
        text=survey_src.text,
        value=value,
        config=ctx.settings(ProfilesConfig, "profiles"),
        levels=survey_src.levels,
    )


def _files(result: ProfilesResult, run_dir: Path) -> list[Path]:
    """The personas as Markdown; the profile table as CSV (ordered levels in their order,
    with their ``level_order``); each persona's picture and poster under ``personas/``,
    with the lifecycle-stage mix of ``assignments.parquet`` when the run has one."""
    if not result.personas:
        return []
    path = run_dir / "personas.md"
    path.write_text("\n\n".join(p.to_markdown() for p in result.personas) + "\n", encoding="utf-8")
    table = run_dir / "profiles.csv"
    result.profile.table.to_csv(table, index=False)
    result.stage_mix.update(read_stage_mix(run_dir / "assignments.parquet"))
    pictures = write_persona_files(result.personas, run_dir / "personas", stages=result.stage_mix)
    return [path, table, *pictures]


PROFILES = Stage(
    name="profiles",
    title="Profiles and personas",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    summary=lambda r: r.segments_json(),
    write_files=_files,
    settings=ProfilesConfig,
    needs=("segments",),
    summary_at_top=True,
    provides=lambda r: (r.map_inputs(),),
)
