"""Stage entry point: profiles, exclusivity, personas, map and white space in one call.

Each step does what it can; a step that cannot run (no text column, no competitor
ratings, a descriptor with too many categories, a segment too small to test) is skipped
with a warning saying why, and the rest still runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from segmentum.maps.projection import Method, SegmentMap, segment_map
from segmentum.maps.themes import Themes, themes
from segmentum.maps.white_space import WhiteSpace, white_space
from segmentum.profiles.exclusivity import ExclusivityReport, exclusivity
from segmentum.profiles.personas import Persona, personas
from segmentum.profiles.profile import Profile, profile, profile_value_columns, segment_value

_PRIMARY_VALUE = ("clv", "margin", "profit", "revenue", "monetary_value", "value")


@dataclass(frozen=True)
class ProfilesResult:
    """Everything the profiles and map stages produce for one segmentation.

    Attributes
    ----------
    profile : Profile
    exclusivity : ExclusivityReport
    personas : tuple of Persona
    themes : Themes or None
        ``None`` when there was no usable text column.
    white_space : WhiteSpace
        Empty table (with a warning) without competitor ratings.
    map : SegmentMap or None
    map_figure : plotly Figure or None
    warnings : tuple of str
        Every step's skips and problems, in order.
    """

    profile: Profile
    exclusivity: ExclusivityReport
    personas: tuple[Persona, ...]
    themes: Themes | None
    white_space: WhiteSpace
    map: SegmentMap | None = field(repr=False)
    map_figure: Any = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        """The long profile table."""
        return self.profile.table

    def names(self) -> dict[int, str]:
        """Segment names (overrides or suggestions)."""
        return {p.segment: p.name for p in self.personas}

    def segments_json(self) -> dict[str, Any]:
        """The ``segments``, ``white_space`` and ``exclusivity`` entries of ``segments.json``.

        Returns
        -------
        dict
            ``segments``: list of ``{segment, name, size, share, defining_needs,
            descriptors, value}``; ``white_space``: list strongest first of ``{need,
            segments, importance, best_competitor_score, ...}``; ``exclusivity``: ``{score,
            passed, threshold, offenders, quantifiable}``. Plain JSON types only.
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
                }
            )
        ex = self.exclusivity
        return {
            "segments": segs,
            "white_space": self.white_space.records(),
            "exclusivity": {
                "score": ex.score,
                "passed": ex.passed,
                "threshold": ex.threshold,
                "uniqueness": ex.uniqueness,
                "coverage": ex.coverage,
                "separation": ex.separation,
                "offenders": ex.offenders,
                "quantifiable": ex.quantifiable,
            },
        }


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
    alpha: float = 0.05,
    max_levels: int = 20,
    min_size: int = 10,
    exclusivity_threshold: float = 0.6,
    map_method: Method = "auto",
    n_themes: int = 8,
    themes_method: Literal["nmf", "embeddings"] = "nmf",
    random_state: int = 0,
) -> ProfilesResult:
    """Run the profiles and map stages.

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
    alpha, max_levels, min_size : see :func:`segmentum.profiles.profile`.
    exclusivity_threshold : float, default=0.6
    map_method : {"auto", "pca", "lda", "ca"}, default="auto"
    n_themes : int, default=8
    themes_method : {"nmf", "embeddings"}, default="nmf"
        TF-IDF + NMF (offline, no extra) or sentence embeddings (``segmentum[text]``).
    random_state : int, default=0

    Returns
    -------
    ProfilesResult
    """
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
        alpha=alpha,
        max_levels=max_levels,
        min_size=min_size,
    )
    warns += list(prof.warnings)
    ex = exclusivity(prof, threshold=exclusivity_threshold, min_size=min_size)
    if not ex.passed:
        warns.append(ex.verdict())

    texts = None
    th: Themes | None = None
    if text is None:
        warns.append("no text column: 'I wish' themes and quotes skipped")
    elif text not in survey.columns:
        warns.append(
            f"text column {text!r} is not in the survey: 'I wish' themes and quotes skipped"
        )
    else:
        texts = survey.loc[prof.labels.index, text]
        th = themes(
            texts,
            prof.labels,
            weights=prof.weights,
            n_themes=n_themes,
            random_state=random_state,
            method=themes_method,
        )
        warns += list(th.warnings)
        if th.empty:
            th = None

    cards = tuple(personas(prof, names=names, phrases=phrases, texts=texts))
    final_names = {p.segment: p.name for p in cards}

    measure = primary_value_measure(prof)
    seg_val = None
    if measure is not None:
        seg_val = prof.sizes.set_index("segment")[f"{measure}_total"]
    sub = survey.loc[prof.labels.index]
    w_sub = prof.weights
    ws = white_space(
        sub,
        prof.labels,
        basis=prof.basis,
        competitor_ratings=competitor_ratings,
        weights=w_sub,
        segment_value=seg_val,
    )
    warns += list(ws.warnings)

    smap: SegmentMap | None = None
    fig = None
    try:
        smap = segment_map(
            sub,
            prof.labels,
            basis=prof.basis,
            weights=w_sub,
            method=map_method,
            names=final_names,
            competitor_ratings=competitor_ratings,
            segment_value=seg_val,
        )
        warns += list(smap.warnings)
        from segmentum.maps.plots import map_figure

        fig = map_figure(smap)
    except (ValueError, KeyError, np.linalg.LinAlgError) as err:
        warns.append(f"segmentation map skipped: {err}")
    return ProfilesResult(
        profile=prof,
        exclusivity=ex,
        personas=cards,
        themes=th,
        white_space=ws,
        map=smap,
        map_figure=fig,
        warnings=tuple(warns),
    )
