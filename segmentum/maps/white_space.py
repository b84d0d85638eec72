"""White space: needs that matter to a sizeable segment and that no competitor serves well.

Seed 000: "word survey questions with 'I wish' statements. You may even uncover
uncontested white space opportunities (where no other competitor has a strong presence)."
Two sources: the competitor ratings (per need: its importance to each segment and the best
competitor's score) and the open 'I wish' answers (themes, see :mod:`segmentum.maps.themes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentum.maps.projection import competitor_profiles
from segmentum.stats import align_labels, align_weights, classify, weighted_mean

WHITE_SPACE_COLUMNS = [
    "need",
    "segments",
    "importance",
    "importance_norm",
    "best_competitor",
    "best_competitor_score",
    "best_competitor_norm",
    "gap",
    "size",
    "value",
]


@dataclass(frozen=True)
class WhiteSpace:
    """White-space needs and the evidence behind them.

    Attributes
    ----------
    table : pandas.DataFrame
        White-space needs, strongest (largest ``gap``) first: ``need``, ``segments``
        (tuple of segments to which it is important, most important first),
        ``importance`` (highest segment mean among them, on the item's scale),
        ``importance_norm`` (the same on 0..1), ``best_competitor``,
        ``best_competitor_score`` (best brand's mean rating), ``best_competitor_norm``
        (0..1), ``gap`` (``importance_norm - best_competitor_norm``), ``size`` (population
        share of those segments), ``value`` (their summed value when given).
    needs : pandas.DataFrame
        The same columns for every rated need, white space or not (``segments`` may be
        empty), strongest gap first.
    importance : pandas.DataFrame
        Long: ``segment``, ``need``, ``importance`` (weighted segment mean),
        ``importance_norm``, ``share`` (segment population share).
    competitor_scores : pandas.DataFrame
        Brand x need mean ratings.
    warnings : tuple of str
    """

    table: pd.DataFrame
    needs: pd.DataFrame
    importance: pd.DataFrame
    competitor_scores: pd.DataFrame
    warnings: tuple[str, ...] = ()

    def records(self) -> list[dict[str, object]]:
        """White-space rows as JSON-ready dicts (strongest first)."""
        out = []
        for _, r in self.table.iterrows():
            out.append(
                {
                    "need": str(r["need"]),
                    "segments": [int(s) for s in r["segments"]],
                    "importance": float(r["importance"]),
                    "best_competitor": str(r["best_competitor"]),
                    "best_competitor_score": float(r["best_competitor_score"]),
                    "gap": float(r["gap"]),
                    "size": float(r["size"]),
                    "value": None if pd.isna(r["value"]) else float(r["value"]),
                }
            )
        return out


def _empty(warnings: Sequence[str]) -> WhiteSpace:
    e = pd.DataFrame(columns=WHITE_SPACE_COLUMNS)
    return WhiteSpace(
        e,
        e.copy(),
        pd.DataFrame(columns=["segment", "need", "importance", "importance_norm", "share"]),
        pd.DataFrame(),
        tuple(warnings),
    )


def white_space(
    frame: pd.DataFrame,
    labels: pd.Series | np.ndarray | Sequence[int],
    *,
    basis: Sequence[str],
    competitor_ratings: pd.DataFrame | None,
    weights: str | pd.Series | np.ndarray | None = None,
    need_scale: tuple[float, float] | None = None,
    rating_scale: tuple[float, float] | None = None,
    importance_min: float = 0.6,
    served_max: float = 0.6,
    min_share: float = 0.05,
    segment_value: Mapping[int, float] | pd.Series | None = None,
) -> WhiteSpace:
    """Rank needs that matter to a sizeable segment and that no competitor serves well.

    Parameters
    ----------
    frame : pandas.DataFrame
        The survey.
    labels : pandas.Series or array-like of int
        Segment per row.
    basis : sequence of str
        Need items (importance ratings, Likert or binary).
    competitor_ratings : pandas.DataFrame or None
        Long ratings: ``brand``, ``need`` (a basis column name), ``rating``.
    weights : str or array-like, optional
        Survey weights.
    need_scale, rating_scale : (float, float), optional
        Ends of the need and rating scales; default the observed minimum and maximum.
    importance_min : float, default=0.6
        A need is important to a segment when the segment mean, on 0..1 of the need scale,
        is at least this.
    served_max : float, default=0.6
        A need is served well when the best brand's mean rating, on 0..1 of the rating
        scale, is at least this.
    min_share : float, default=0.05
        Smallest population share for a segment to count as sizeable.
    segment_value : mapping or Series of segment to float, optional
        Value per segment, summed over the segments behind each need.

    Returns
    -------
    WhiteSpace

    Notes
    -----
    ``gap = importance_norm - best_competitor_norm`` where ``importance_norm`` is the
    largest normalised importance among sizeable segments. White space = needs with at
    least one sizeable segment at or above ``importance_min`` and a best competitor below
    ``served_max``; ranked by ``gap`` (ties: larger ``size`` first).

    Examples
    --------
    >>> import pandas as pd
    >>> survey = pd.DataFrame({"need_a": [7, 6, 7, 2, 1, 2], "need_b": [4, 5, 4, 6, 7, 6]})
    >>> ratings = pd.DataFrame({"brand": ["X", "X", "Y", "Y"], "need": ["need_a", "need_b"] * 2,
    ...                         "rating": [1, 5, 2, 4]})
    >>> ws = white_space(survey, [1, 1, 1, 2, 2, 2], basis=["need_a", "need_b"],
    ...                  competitor_ratings=ratings)
    >>> ws.table["need"].tolist(), ws.table["segments"].tolist()
    (['need_a'], [(1,)])
    """
    if competitor_ratings is None or len(competitor_ratings) == 0:
        return _empty(["no competitor ratings: white space from ratings skipped"])
    warns: list[str] = []
    lab = align_labels(frame, labels)
    w = align_weights(frame, weights)
    ok = lab.notna() & (w > 0)
    lab, w = lab[ok].astype(int), w[ok]
    scores = competitor_profiles(competitor_ratings)
    rated = [c for c in basis if c in scores.columns]
    unknown = [c for c in scores.columns if c not in basis]
    if unknown:
        warns.append(f"competitor ratings of needs not in the basis ignored: {unknown[:5]}")
    if not rated:
        return _empty([*warns, "competitor ratings name no basis item: white space skipped"])
    coded = _coded_needs(frame.loc[ok], rated, warns)
    if not coded:
        return _empty(warns)
    allv = np.concatenate([v[np.isfinite(v)] for v in coded.values()])
    n_lo, n_hi = need_scale if need_scale is not None else (float(allv.min()), float(allv.max()))
    r = pd.to_numeric(competitor_ratings["rating"], errors="coerce")
    r_lo, r_hi = rating_scale if rating_scale is not None else (float(r.min()), float(r.max()))
    if n_hi <= n_lo or r_hi <= r_lo:
        return _empty([*warns, "need or rating scale does not vary: white space skipped"])
    g, wv = lab.to_numpy(), w.to_numpy(dtype=float)
    segs = sorted(int(s) for s in np.unique(g))
    share = {s: float(wv[g == s].sum() / wv.sum()) for s in segs}
    values = (
        {int(k): float(v) for k, v in dict(segment_value).items()}
        if segment_value is not None
        else None
    )
    imp_rows: list[dict[str, object]] = []
    need_rows = []
    for c, x in coded.items():
        per = _segment_importance(x, g, wv, segs, (n_lo, n_hi))
        imp_rows += [
            {"segment": s, "need": c, "importance": m, "importance_norm": n, "share": share[s]}
            for s, (m, n) in per.items()
        ]
        best = float(scores[c].max())
        need_rows.append(
            _need_row(
                c,
                per,
                share,
                values,
                best_brand=str(scores[c].idxmax()),
                best=best,
                best_norm=(best - r_lo) / (r_hi - r_lo),
                importance_min=importance_min,
                min_share=min_share,
            )
        )
    needs = pd.DataFrame(need_rows, columns=WHITE_SPACE_COLUMNS)
    needs = needs.sort_values(["gap", "size", "need"], ascending=[False, False, True]).reset_index(
        drop=True
    )
    is_ws = needs["segments"].map(len).gt(0) & (needs["best_competitor_norm"] < served_max)
    table = needs[is_ws].reset_index(drop=True)
    if table.empty:
        warns.append("no white space: every important need has a competitor serving it well")
    return WhiteSpace(
        table=table,
        needs=needs,
        importance=pd.DataFrame(imp_rows),
        competitor_scores=scores,
        warnings=tuple(warns),
    )


def _coded_needs(frame: pd.DataFrame, rated: list[str], warns: list[str]) -> dict[str, np.ndarray]:
    """Each rated need as floats (binary as 0/1); categorical needs are skipped with a warning."""
    coded = {}
    for c in rated:
        cls = classify(frame[c])
        if cls is None or cls[0] == "categorical":
            warns.append(f"need {c!r} is categorical: no importance, skipped")
            continue
        coded[c] = cls[1].to_numpy(dtype=float)
    return coded


def _segment_importance(
    x: np.ndarray,
    g: np.ndarray,
    wv: np.ndarray,
    segs: list[int],
    scale: tuple[float, float],
) -> dict[int, tuple[float, float]]:
    """Segment → (weighted mean of the need, the same on 0..1 of the need scale)."""
    n_lo, n_hi = scale
    fin = np.isfinite(x)
    per = {}
    for s in segs:
        m = (g == s) & fin
        mean = weighted_mean(x[m], wv[m]) if m.any() else float("nan")
        per[s] = (mean, (mean - n_lo) / (n_hi - n_lo))
    return per


def _need_row(
    need: str,
    per: dict[int, tuple[float, float]],
    share: dict[int, float],
    values: dict[int, float] | None,
    *,
    best_brand: str,
    best: float,
    best_norm: float,
    importance_min: float,
    min_share: float,
) -> dict[str, object]:
    """One need's row: the sizeable segments it matters to, its best competitor, the gap."""
    sizeable = [s for s in per if share[s] >= min_share and np.isfinite(per[s][1])]
    important = sorted(
        (s for s in sizeable if per[s][1] >= importance_min), key=lambda s: (-per[s][1], s)
    )
    top = max(sizeable, key=lambda s: (per[s][1], -s)) if sizeable else None
    lead = important[0] if important else top
    imp_raw = per[lead][0] if lead is not None else np.nan
    imp_norm = per[lead][1] if lead is not None else np.nan
    return {
        "need": need,
        "segments": tuple(important),
        "importance": imp_raw,
        "importance_norm": imp_norm,
        "best_competitor": best_brand,
        "best_competitor_score": best,
        "best_competitor_norm": best_norm,
        "gap": imp_norm - best_norm,
        "size": float(sum(share[s] for s in important)),
        "value": float(sum(values.get(s, np.nan) for s in important))
        if values and important
        else np.nan,
    }
