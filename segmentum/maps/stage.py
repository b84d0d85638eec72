"""The map and white-space stage: the segmentation map, white space and 'I wish' themes.

It runs after the profiles stage, on what that stage hands on (:class:`MapInputs`: the
profiled respondents' segments and weights, the segment names and values), so that the
map's bubbles carry the personas' names. :func:`run_maps` is the stage's entry point as a
function; :data:`MAPS` is the stage in the flow.

Each step does what it can: without a text column there are no themes, without
competitor ratings no white space from ratings, and a map that cannot be drawn is skipped;
each skip is a warning saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from segmentum.flow import Stage, StageContext
from segmentum.maps.projection import SegmentMap, segment_map
from segmentum.maps.report import report_section
from segmentum.maps.themes import Themes, themes
from segmentum.maps.white_space import WhiteSpace, white_space

__all__ = ["MAPS", "MapInputs", "MapsConfig", "MapsResult", "run_maps"]


class MapsConfig(BaseModel):
    """Settings of the map and white-space stage, the ``[maps]`` table of the project file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["auto", "pca", "lda", "ca"] = Field(
        "auto",
        description="Projection of the map: auto (LDA when it separates the segments, else "
        "PCA), pca, lda or ca (correspondence analysis, for binary needs).",
    )
    n_themes: int = Field(8, ge=1, le=50, description="Number of 'I wish' themes.")
    themes_method: Literal["nmf", "embeddings"] = Field(
        "nmf",
        description="Themes by TF-IDF + NMF (offline, no extra) or sentence embeddings "
        '(pip install "segmentum[text]").',
    )
    importance_min: float = Field(
        0.6,
        ge=0,
        le=1,
        description="White space: a need is important to a segment at or above this mean "
        "(0..1 of its scale).",
    )
    served_max: float = Field(
        0.6,
        ge=0,
        le=1,
        description="White space: a need is unserved when the best competitor scores below "
        "this (0..1 of the rating scale).",
    )
    min_share: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="White space: only segments at least this share of the population count.",
    )


@dataclass(frozen=True)
class MapInputs:
    """What the map stage needs from the profiles before it (the profiles stage provides it).

    Attributes
    ----------
    labels : pandas.Series
        Segment of each profiled respondent, on the survey's index (respondents without a
        segment are left out).
    weights : pandas.Series
        Survey weight of the same respondents.
    basis : tuple of str
        The need items.
    names : dict of int to str
        Segment names (the personas').
    segment_value : pandas.Series or None
        Each segment's total value (CLV, else margin, else revenue), for bubbles by value.
    """

    labels: pd.Series = field(repr=False)
    weights: pd.Series = field(repr=False)
    basis: tuple[str, ...]
    names: dict[int, str]
    segment_value: pd.Series | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MapsResult:
    """What the map and white-space stage produces.

    Attributes
    ----------
    themes : Themes or None
        ``None`` when there was no usable text column.
    white_space : WhiteSpace
        Empty table (with a warning) without competitor ratings.
    map : SegmentMap or None
    map_figure : plotly Figure or None
    names : dict of int to str
        The segment names used on the map and the themes chart.
    warnings : tuple of str
        Every step's skips and problems, in order.
    """

    themes: Themes | None
    white_space: WhiteSpace
    map: SegmentMap | None = field(repr=False)
    map_figure: Any = field(repr=False)
    names: dict[int, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def segments_json(self) -> dict[str, Any]:
        """The ``white_space`` entry of ``segments.json``: strongest first, plain JSON types."""
        return {"white_space": self.white_space.records()}


def _themes_step(
    survey: pd.DataFrame,
    inputs: MapInputs,
    text: str | None,
    config: MapsConfig,
    random_state: int,
) -> tuple[Themes | None, list[str]]:
    if text is None:
        return None, ["no text column: 'I wish' themes and quotes skipped"]
    if text not in survey.columns:
        return None, [
            f"text column {text!r} is not in the survey: 'I wish' themes and quotes skipped"
        ]
    th = themes(
        survey.loc[inputs.labels.index, text],
        inputs.labels,
        weights=inputs.weights,
        n_themes=config.n_themes,
        random_state=random_state,
        method=config.themes_method,
    )
    return (None if th.empty else th), list(th.warnings)


def _map_step(
    sub: pd.DataFrame,
    inputs: MapInputs,
    competitor_ratings: pd.DataFrame | None,
    config: MapsConfig,
) -> tuple[SegmentMap | None, Any, list[str]]:
    try:
        smap = segment_map(
            sub,
            inputs.labels,
            basis=inputs.basis,
            weights=inputs.weights,
            method=config.method,
            names=inputs.names,
            competitor_ratings=competitor_ratings,
            segment_value=inputs.segment_value,
        )
    except (ValueError, KeyError, np.linalg.LinAlgError) as err:
        return None, None, [f"segmentation map skipped: {err}"]
    from segmentum.maps.plots import map_figure

    try:
        fig = map_figure(smap)
    except (ValueError, KeyError, np.linalg.LinAlgError) as err:
        return smap, None, [*smap.warnings, f"segmentation map skipped: {err}"]
    return smap, fig, list(smap.warnings)


def run_maps(
    survey: pd.DataFrame,
    inputs: MapInputs,
    *,
    text: str | None = None,
    competitor_ratings: pd.DataFrame | None = None,
    config: MapsConfig | None = None,
    random_state: int = 0,
) -> MapsResult:
    """Run the map and white-space stage.

    Parameters
    ----------
    survey : pandas.DataFrame
        One row per respondent (the table the profiles were computed on).
    inputs : MapInputs
        Segments, weights, names and values of the profiled respondents
        (``ProfilesResult.map_inputs()``).
    text : str, optional
        Column of open 'I wish ...' answers.
    competitor_ratings : pandas.DataFrame, optional
        Long ``brand``, ``need``, ``rating`` (``respondent_id`` optional).
    config : MapsConfig, optional
    random_state : int, default=0

    Returns
    -------
    MapsResult
    """
    cfg = config or MapsConfig()
    warns: list[str] = []
    th, more = _themes_step(survey, inputs, text, cfg, random_state)
    warns += more
    sub = survey.loc[inputs.labels.index]
    ws = white_space(
        sub,
        inputs.labels,
        basis=inputs.basis,
        competitor_ratings=competitor_ratings,
        weights=inputs.weights,
        importance_min=cfg.importance_min,
        served_max=cfg.served_max,
        min_share=cfg.min_share,
        segment_value=inputs.segment_value,
    )
    warns += list(ws.warnings)
    smap, fig, more = _map_step(sub, inputs, competitor_ratings, cfg)
    warns += more
    return MapsResult(
        themes=th,
        white_space=ws,
        map=smap,
        map_figure=fig,
        names=dict(inputs.names),
        warnings=tuple(warns),
    )


# --- the stage in the flow: what it needs from a project, what it hands on ------------------


def competitor_ratings(ctx: StageContext) -> pd.DataFrame | None:
    """The project's competitor ratings with the columns the maps expect, or ``None``."""
    ratings = ctx.data.get("competitor_ratings")
    src = ctx.config.sources.competitor_ratings
    if ratings is None or src is None:
        return ratings
    return ratings.rename(
        columns={
            src.respondent_id: "respondent_id",
            src.brand: "brand",
            src.need: "need",
            src.rating: "rating",
        }
    )


def _skip(ctx: StageContext) -> str | None:
    survey = ctx.config.sources.survey
    if survey is None:
        return "no survey table is declared ([sources.survey])"
    return None


def _run(ctx: StageContext) -> MapsResult:
    survey = ctx.config.sources.survey
    assert survey is not None
    return run_maps(
        ctx.data.frame("survey"),
        ctx.result(MapInputs),
        text=survey.text,
        competitor_ratings=competitor_ratings(ctx),
        config=ctx.settings(MapsConfig, "maps"),
        random_state=ctx.seed,
    )


def _files(result: MapsResult, run_dir: Path) -> list[Path]:
    """The map as a static image for slides."""
    from segmentum.maps.plots import write_static

    if result.map is None:
        return []
    return [write_static(result.map, run_dir / "map.svg")]


MAPS = Stage(
    name="maps",
    title="Map and white space",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    summary=lambda r: r.segments_json(),
    write_files=_files,
    settings=MapsConfig,
    needs=("profiles",),
    summary_at_top=True,
)
