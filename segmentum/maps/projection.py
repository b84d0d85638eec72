"""The segmentation map: a 2-D picture of the need space with segments, needs and competitors.

Three projections of the basis (seed 003: plot segments on two axes, look for clusters
and gaps):

* ``"pca"``: weighted principal components of the standardised items, a biplot (need
  arrows are the items' correlations with the two components);
* ``"lda"``: linear discriminants of the segments, which separate segments best (arrows
  are structure correlations);
* ``"ca"``: multiple correspondence analysis of categorical or Yes/No items (arrows point
  to the principal coordinates of each item's *yes* level, or of every level).

Segments are bubbles at the weighted centre of their members with **area proportional**
to their population share (or value). Competitors are supplementary points projected
from their mean rating of each need. Gaps are regions with demand (kernel density of
respondents) but no segment centre or competitor within reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from segmentum.stats import align_labels, align_weights, classify, weighted_mean

Method = Literal["auto", "pca", "lda", "ca"]


@dataclass(frozen=True)
class SegmentMap:
    """A segmentation map, as tables; :func:`segmentum.maps.plots.map_figure` draws it.

    Attributes
    ----------
    method : str
        ``"pca"``, ``"lda"`` or ``"ca"``.
    axes : tuple of str
        Axis titles (with the share of variance or inertia shown).
    explained : tuple of float
        Share of variance (inertia) of the two axes.
    points : pandas.DataFrame
        Respondents: ``x``, ``y``, ``segment``, ``weight`` (index of the survey).
    segments : pandas.DataFrame
        ``segment``, ``name``, ``x``, ``y``, ``n``, ``share`` (weighted), ``size`` (the
        measure behind the bubble), ``area`` (``size / sum(size)``: bubble areas are
        proportional to it), ``color`` (the colour measure).
    arrows : pandas.DataFrame
        ``need``, ``x``, ``y`` (drawn on the map's scale), ``loading_x``, ``loading_y``.
    competitors : pandas.DataFrame
        ``brand``, ``x``, ``y``, ``needs_rated``.
    gaps : pandas.DataFrame
        ``gap``, ``x``, ``y``, ``demand_share`` (share of demand density in the region),
        ``n_cells``, ``radius``, strongest first.
    density : tuple of numpy.ndarray
        ``(xs, ys, z)``: the demand density on the grid (``z[i, j]`` at ``ys[i], xs[j]``).
    size_by, color_by : str
    reach : float
        Distance within which a segment centre or competitor serves demand.
    warnings : tuple of str
    """

    method: str
    axes: tuple[str, str]
    explained: tuple[float, float]
    points: pd.DataFrame = field(repr=False)
    segments: pd.DataFrame
    arrows: pd.DataFrame
    competitors: pd.DataFrame
    gaps: pd.DataFrame
    density: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)
    size_by: str
    color_by: str
    reach: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Projection:
    scores: np.ndarray
    loadings: np.ndarray  # items x 2 (arrow directions)
    arrow_names: list[str]
    explained: tuple[float, float]
    project: object  # callable(profile matrix) -> coords


def _coded_basis(
    frame: pd.DataFrame, basis: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, str], dict[str, list[str]]]:
    kinds: dict[str, str] = {}
    levels: dict[str, list[str]] = {}
    cols = {}
    for c in basis:
        cls = classify(frame[c], max_levels=50)
        if cls is None:
            raise ValueError(f"basis item {c!r} has too many categories for a map")
        kind, coded, lv = cls
        kinds[c], levels[c], cols[c] = kind, lv, coded
    return pd.DataFrame(cols, index=frame.index), kinds, levels


def _wstd(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = (w[:, None] * x).sum(0) / w.sum()
    sd = np.sqrt((w[:, None] * (x - mu) ** 2).sum(0) / w.sum())
    sd[sd == 0] = 1.0
    return mu, sd


def _orient(vecs: np.ndarray) -> np.ndarray:
    """Deterministic signs: the largest-magnitude entry of each column is positive."""
    idx = np.abs(vecs).argmax(axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1
    return vecs * signs


def _pca(x: np.ndarray, w: np.ndarray, names: list[str]) -> _Projection:
    mu, sd = _wstd(x, w)
    z = (x - mu) / sd
    cov = (w[:, None] * z).T @ z / w.sum()
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[order], 0, None), _orient(vecs[:, order])
    v2 = vecs[:, :2] if vecs.shape[1] >= 2 else np.column_stack([vecs[:, 0], np.zeros(len(names))])
    l2 = np.concatenate([vals[:2], np.zeros(max(0, 2 - vals.size))])
    expl = tuple(float(v / vals.sum()) if vals.sum() > 0 else 0.0 for v in l2)

    def project(m: np.ndarray) -> np.ndarray:
        return ((m - mu) / sd) @ v2

    return _Projection(z @ v2, v2 * np.sqrt(l2), names, (expl[0], expl[1]), project)


def _lda(x: np.ndarray, w: np.ndarray, g: np.ndarray, names: list[str]) -> _Projection:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    mu, sd = _wstd(x, w)
    z = (x - mu) / sd
    lda = LinearDiscriminantAnalysis(n_components=2, solver="svd").fit(z, g)
    scores = lda.transform(z)
    flip = np.sign(scores[np.abs(scores).argmax(axis=0), [0, 1]])
    flip[flip == 0] = 1
    scores = scores * flip
    load = np.array(
        [
            [
                np.corrcoef(z[:, j], scores[:, a])[0, 1] if z[:, j].std() > 0 else 0.0
                for a in range(2)
            ]
            for j in range(z.shape[1])
        ]
    )
    ratio = lda.explained_variance_ratio_

    def project(m: np.ndarray) -> np.ndarray:
        return lda.transform((m - mu) / sd) * flip

    return _Projection(
        scores, np.nan_to_num(load), names, (float(ratio[0]), float(ratio[1])), project
    )


def _mca(
    coded: pd.DataFrame, kinds: dict[str, str], levels: dict[str, list[str]], w: np.ndarray
) -> tuple[_Projection, list[str], list[str]]:
    cols: list[np.ndarray] = []
    colnames: list[str] = []
    item_of: list[str] = []
    positive: list[bool] = []
    for c in coded.columns:
        v = coded[c]
        if kinds[c] == "binary":
            x = v.to_numpy(dtype=float)
            cols += [x, 1.0 - x]
            colnames += [f"{c}", f"{c}: not"]
            item_of += [c, c]
            positive += [True, False]
        elif kinds[c] == "numeric":
            raise ValueError(f"correspondence analysis needs categorical items; {c!r} is numeric")
        else:
            for lv in levels[c]:
                cols.append((v == lv).to_numpy(dtype=float))
                colnames.append(f"{c}: {lv}")
                item_of.append(c)
                positive.append(True)
    z = np.column_stack(cols)
    q = coded.shape[1]
    r = w / w.sum()
    p = z * r[:, None] / q
    c = p.sum(axis=0)
    keep = c > 0
    pk, ck = p[:, keep], c[keep]
    s = (pk - np.outer(r, ck)) / np.sqrt(np.outer(r, ck))
    _, sv, vt = np.linalg.svd(s, full_matrices=False)
    vt = _orient(vt.T).T
    g_std = vt[:2].T / np.sqrt(ck)[:, None]  # column standard coordinates
    eig = sv**2
    expl = eig[:2] / eig.sum() if eig.sum() > 0 else np.zeros(2)
    scores = (pk / r[:, None]) @ g_std  # row principal coordinates (transition formula)
    g_pr = g_std * sv[:2]
    kept_names = [n for n, k in zip(colnames, keep, strict=True) if k]
    kept_pos = [pp for pp, k in zip(positive, keep, strict=True) if k]
    arrows = [i for i, pos in enumerate(kept_pos) if pos]

    def project(prof: np.ndarray) -> np.ndarray:
        return prof[:, keep] @ g_std

    proj = _Projection(
        scores,
        g_pr[arrows],
        [kept_names[i] for i in arrows],
        (float(expl[0]), float(expl[1]) if expl.size > 1 else 0.0),
        project,
    )
    return proj, colnames, item_of


def competitor_profiles(
    ratings: pd.DataFrame,
    *,
    brand: str = "brand",
    need: str = "need",
    rating: str = "rating",
) -> pd.DataFrame:
    """Mean rating of each brand on each need (brands x needs) from long ratings."""
    for c in (brand, need, rating):
        if c not in ratings.columns:
            raise KeyError(f"competitor ratings need a {c!r} column")
    r = ratings.assign(_r=pd.to_numeric(ratings[rating], errors="coerce"))
    return r.pivot_table(index=brand, columns=need, values="_r", aggfunc="mean").sort_index()


def segment_map(
    frame: pd.DataFrame,
    labels: pd.Series | np.ndarray | Sequence[int],
    *,
    basis: Sequence[str],
    weights: str | pd.Series | np.ndarray | None = None,
    method: Method = "auto",
    size_by: Literal["share", "value"] = "share",
    segment_value: Mapping[int, float] | pd.Series | None = None,
    color_by: str | None = None,
    names: Mapping[int, str] | None = None,
    competitor_ratings: pd.DataFrame | None = None,
    rating_scale: tuple[float, float] | None = None,
    grid_size: int = 60,
    reach: float | None = None,
    min_gap_share: float = 0.02,
) -> SegmentMap:
    """Project the need space to 2-D and place segments, needs, competitors and gaps.

    Parameters
    ----------
    frame : pandas.DataFrame
        The survey.
    labels : pandas.Series or array-like of int
        Segment per row.
    basis : sequence of str
        Need items to map.
    weights : str or array-like, optional
        Survey weights (column name or values).
    method : {"auto", "pca", "lda", "ca"}, default="auto"
        ``"auto"`` uses correspondence analysis when any basis item is categorical
        (strings such as Yes/No), else linear discriminants when there are at least three
        segments (the projection that separates segments best), else PCA. LDA is fitted
        without the survey weights (centres, shares and density use them).
    size_by : {"share", "value"}, default="share"
        Bubble area proportional to the weighted population share, or to
        ``segment_value``.
    segment_value : mapping or Series of segment to float, optional
        Value per segment (revenue, CLV...), needed for ``size_by="value"`` and
        ``color_by="value"``.
    color_by : str, optional
        ``"share"``, ``"value"`` or a numeric/binary column of ``frame`` (segment weighted
        mean); default the segment number.
    names : mapping of int to str, optional
        Segment names for the labels.
    competitor_ratings : pandas.DataFrame, optional
        Long ratings (``brand``, ``need``, ``rating``); needs named like basis columns.
    rating_scale : (float, float), optional
        Ends of the rating scale; default the observed minimum and maximum.
    grid_size : int, default=60
        Cells per axis of the demand grid.
    reach : float, optional
        Distance within which a segment centre or competitor serves demand; default the
        upper quartile of the distances of respondents to their own segment centre.
    min_gap_share : float, default=0.02
        Smallest share of demand for a gap region to be reported.

    Returns
    -------
    SegmentMap

    Notes
    -----
    Competitors: each brand's mean rating of a need is moved linearly from the rating
    scale onto the item's observed range (PCA/LDA) or onto a *yes* share (CA), then
    projected with the same transformation as the respondents (a supplementary point).
    Needs a brand was not rated on take the sample mean. Gaps: cells whose weighted
    kernel density is at least the lower quartile of the density at respondents'
    positions and farther than ``reach`` from every segment centre and competitor;
    neighbouring cells form one gap.
    """
    if method not in ("auto", "pca", "lda", "ca"):
        raise ValueError(f"method must be one of 'auto', 'pca', 'lda', 'ca'; got {method!r}")
    if size_by not in ("share", "value"):
        raise ValueError(f"size_by must be 'share' or 'value'; got {size_by!r}")
    warns: list[str] = []
    lab = align_labels(frame, labels)
    w_all = align_weights(frame, weights)
    coded, kinds, levels = _coded_basis(frame, basis)
    ok = lab.notna() & coded.notna().all(axis=1) & (w_all > 0)
    if not ok.all():
        warns.append(
            f"{int((~ok).sum())} rows with a missing label, item or weight are not on the map"
        )
    coded, lab, w_s = coded.loc[ok], lab.loc[ok].astype(int), w_all.loc[ok]
    g, w = lab.to_numpy(), w_s.to_numpy(dtype=float)
    segs = sorted(int(s) for s in np.unique(g))
    method = _resolve_method(method, frame, basis, len(segs), warns)
    proj, colnames, item_of = _project(coded, kinds, levels, w, g, method, list(basis))
    scores = proj.scores
    pts = pd.DataFrame(
        {"x": scores[:, 0], "y": scores[:, 1], "segment": g, "weight": w}, index=coded.index
    )
    value_map: dict[int, float] | None = None
    if segment_value is not None:
        value_map = {int(k): float(v) for k, v in dict(segment_value).items()}
    if size_by == "value" and value_map is None:
        raise ValueError("size_by='value' needs segment_value")
    segdf = _segment_bubbles(scores, g, w, segs, names, size_by, value_map)
    segdf["color"], color_label = _colors(color_by, segdf, frame.loc[coded.index], g, w, value_map)
    arrows = _arrows(proj)

    comp = pd.DataFrame(columns=["brand", "x", "y", "needs_rated"])
    if competitor_ratings is not None and len(competitor_ratings):
        comp, cw = _competitors(
            competitor_ratings,
            coded,
            kinds,
            w,
            proj,
            method,
            colnames,
            item_of,
            list(basis),
            rating_scale,
        )
        warns += cw

    # demand density and gaps
    centres = segdf[["x", "y"]].to_numpy()
    supply = np.vstack([centres, comp[["x", "y"]].to_numpy(dtype=float)]) if len(comp) else centres
    own = centres[np.searchsorted(segs, g)]
    dist_own = np.hypot(scores[:, 0] - own[:, 0], scores[:, 1] - own[:, 1])
    reach_v = float(reach) if reach is not None else float(np.quantile(dist_own, 0.75))
    density, gaps = _gaps(scores, w, supply, reach_v, grid_size, min_gap_share)
    ax = ("Dim", "Dim") if method == "ca" else (("PC", "PC") if method == "pca" else ("LD", "LD"))
    axes = (f"{ax[0]} 1 ({proj.explained[0]:.0%})", f"{ax[1]} 2 ({proj.explained[1]:.0%})")
    return SegmentMap(
        method=method,
        axes=axes,
        explained=proj.explained,
        points=pts,
        segments=segdf,
        arrows=arrows,
        competitors=comp,
        gaps=gaps,
        density=density,
        size_by=size_by,
        color_by=color_label,
        reach=reach_v,
        warnings=tuple(warns),
    )


def _colors(
    color_by: str | None,
    segdf: pd.DataFrame,
    frame: pd.DataFrame,
    g: np.ndarray,
    w: np.ndarray,
    value_map: dict[int, float] | None,
) -> tuple[np.ndarray, str]:
    if color_by is None:
        return segdf["segment"].to_numpy(dtype=float), "segment"
    if color_by == "share":
        return segdf["share"].to_numpy(), "share"
    if color_by == "value":
        if value_map is None:
            raise ValueError("color_by='value' needs segment_value")
        return np.array([value_map[int(s)] for s in segdf["segment"]]), "value"
    if color_by not in frame.columns:
        raise KeyError(f"color_by {color_by!r} is neither 'share', 'value' nor a survey column")
    cls = classify(frame[color_by])
    if cls is None or cls[0] == "categorical":
        raise ValueError(f"color_by {color_by!r} must be numeric or binary")
    x = cls[1].to_numpy(dtype=float)
    vals = []
    for s in segdf["segment"]:
        m = (g == s) & np.isfinite(x)
        vals.append(weighted_mean(x[m], w[m]) if m.any() else np.nan)
    return np.array(vals), color_by


def _competitors(
    ratings: pd.DataFrame,
    coded: pd.DataFrame,
    kinds: dict[str, str],
    w: np.ndarray,
    proj: _Projection,
    method: str,
    colnames: list[str],
    item_of: list[str],
    basis: list[str],
    rating_scale: tuple[float, float] | None,
) -> tuple[pd.DataFrame, list[str]]:
    warns: list[str] = []
    prof = competitor_profiles(ratings)
    rated = [c for c in prof.columns if c in basis]
    if not rated:
        return pd.DataFrame(columns=["brand", "x", "y", "needs_rated"]), [
            "competitor ratings name no basis item: competitors are not on the map"
        ]
    r = pd.to_numeric(ratings["rating"], errors="coerce")
    lo, hi = rating_scale if rating_scale is not None else (float(r.min()), float(r.max()))
    if hi <= lo:
        return pd.DataFrame(columns=["brand", "x", "y", "needs_rated"]), [
            "competitor ratings do not vary: competitors are not on the map"
        ]
    unit = ((prof[rated] - lo) / (hi - lo)).clip(0, 1)  # 0..1 position on the rating scale
    rows = []
    if method == "ca":
        q = coded.shape[1]
        means = {
            c: float(np.average(coded[c].to_numpy(dtype=float), weights=w))
            for c in coded.columns
            if kinds[c] == "binary"
        }
        for b in unit.index:
            vec = []
            for name, item in zip(colnames, item_of, strict=True):
                if kinds[item] != "binary":
                    vec.append(
                        float(
                            np.average(
                                (coded[item] == name.split(": ", 1)[1]).to_numpy(float), weights=w
                            )
                        )
                        / q
                    )
                    continue
                p = (
                    unit.loc[b, item]
                    if item in rated and pd.notna(unit.loc[b, item])
                    else means[item]
                )
                vec.append((p if not name.endswith(": not") else 1 - p) / q)
            xy = np.asarray(proj.project(np.asarray(vec)[None, :]))[0]  # type: ignore[operator]
            rows.append(
                {"brand": b, "x": xy[0], "y": xy[1], "needs_rated": int(unit.loc[b].notna().sum())}
            )
    else:
        x = coded.to_numpy(dtype=float)
        mins, maxs = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        means = (w[:, None] * x).sum(0) / w.sum()
        for b in unit.index:
            m = means.copy()
            for j, c in enumerate(basis):
                if c in rated and pd.notna(unit.loc[b, c]):
                    m[j] = mins[j] + unit.loc[b, c] * (maxs[j] - mins[j])
            xy = proj.project(m[None, :])[0]  # type: ignore[operator]
            rows.append(
                {
                    "brand": b,
                    "x": float(xy[0]),
                    "y": float(xy[1]),
                    "needs_rated": int(unit.loc[b].notna().sum()),
                }
            )
    return pd.DataFrame(rows), warns


def _gaps(
    scores: np.ndarray,
    w: np.ndarray,
    supply: np.ndarray,
    reach: float,
    grid: int,
    min_share: float,
    max_points: int = 5000,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], pd.DataFrame]:
    cols = ["gap", "x", "y", "demand_share", "n_cells", "radius"]
    lo = np.quantile(scores, 0.005, axis=0)
    hi = np.quantile(scores, 0.995, axis=0)
    pad = 0.1 * (hi - lo + 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
    gx, gy = np.meshgrid(xs, ys)
    try:
        rng = np.random.default_rng(0)
        pts, pw = scores, w
        if len(pts) > max_points:  # a fixed random subsample keeps large surveys fast
            take = np.sort(rng.choice(len(pts), size=max_points, replace=False))
            pts, pw = pts[take], pw[take]
        jitter = pts + 1e-6 * rng.standard_normal(pts.shape)
        kde = stats.gaussian_kde(jitter.T, weights=pw / pw.sum())
        z = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        at_pts = kde(jitter[: min(len(jitter), 2000)].T)
    except (np.linalg.LinAlgError, ValueError):
        return (xs, ys, np.zeros_like(gx)), pd.DataFrame(columns=cols)
    mass = z / z.sum()
    level = float(np.quantile(at_pts, 0.25))
    d = np.min(np.hypot(gx[..., None] - supply[:, 0], gy[..., None] - supply[:, 1]), axis=-1)
    cand = (z >= level) & (d > reach)
    lab, n = ndimage.label(cand)
    rows = []
    for i in range(1, n + 1):
        m = lab == i
        share = float(mass[m].sum())
        if share < min_share:
            continue
        cx = float((gx[m] * mass[m]).sum() / mass[m].sum())
        cy = float((gy[m] * mass[m]).sum() / mass[m].sum())
        rad = float(np.sqrt(m.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) / np.pi))
        rows.append(
            {"x": cx, "y": cy, "demand_share": share, "n_cells": int(m.sum()), "radius": rad}
        )
    gaps = pd.DataFrame(rows, columns=cols[1:]).sort_values("demand_share", ascending=False)
    gaps.insert(0, "gap", np.arange(1, len(gaps) + 1))
    return (xs, ys, z), gaps.reset_index(drop=True)


def _resolve_method(
    method: Method, frame: pd.DataFrame, basis: Sequence[str], n_segments: int, warns: list[str]
) -> Method:
    """``auto``: CA for categorical items, LDA from 3 segments, else PCA; LDA needs 3."""
    if method == "auto":
        categorical = any(not pd.api.types.is_numeric_dtype(frame[c]) for c in basis)
        method = "ca" if categorical else ("lda" if n_segments >= 3 else "pca")
    if method == "lda" and n_segments < 3:
        warns.append("LDA needs at least 3 segments for two axes: PCA used instead")
        method = "pca"
    return method


def _project(
    coded: pd.DataFrame,
    kinds: dict[str, str],
    levels: dict[str, list[str]],
    w: np.ndarray,
    g: np.ndarray,
    method: Method,
    basis: list[str],
) -> tuple[_Projection, list[str], list[str]]:
    """The respondents' projection, its column names and the item of each column."""
    if method == "ca":
        return _mca(coded, kinds, levels, w)
    if any(k == "categorical" for k in kinds.values()):
        raise ValueError("PCA/LDA need numeric or binary items; use method='ca'")
    x = coded.to_numpy(dtype=float)
    proj = _pca(x, w, basis) if method == "pca" else _lda(x, w, g, basis)
    return proj, basis, basis


def _segment_bubbles(
    scores: np.ndarray,
    g: np.ndarray,
    w: np.ndarray,
    segs: list[int],
    names: Mapping[int, str] | None,
    size_by: Literal["share", "value"],
    value_map: dict[int, float] | None,
) -> pd.DataFrame:
    """One row per segment: name, weighted centre, n, share, bubble size and area."""
    share = {s: float(w[g == s].sum() / w.sum()) for s in segs}
    seg_rows = []
    for s in segs:
        m = g == s
        size = share[s] if size_by == "share" else value_map[s]  # type: ignore[index]
        seg_rows.append(
            {
                "segment": s,
                "name": (names or {}).get(s, f"Segment {s}"),
                "x": weighted_mean(scores[m, 0], w[m]),
                "y": weighted_mean(scores[m, 1], w[m]),
                "n": int(m.sum()),
                "share": share[s],
                "size": float(size),
            }
        )
    segdf = pd.DataFrame(seg_rows)
    if (segdf["size"] < 0).any():
        raise ValueError("bubble sizes must be non-negative")
    segdf["area"] = segdf["size"] / segdf["size"].sum() if segdf["size"].sum() > 0 else 0.0
    return segdf


def _arrows(proj: _Projection) -> pd.DataFrame:
    """Need arrows: the loadings, scaled so the longest reaches 90 % of the cloud."""
    scores = proj.scores
    load = np.asarray(proj.loadings, dtype=float)
    spread = float(np.quantile(np.hypot(scores[:, 0], scores[:, 1]), 0.95)) or 1.0
    longest = float(np.hypot(load[:, 0], load[:, 1]).max()) or 1.0
    k = 0.9 * spread / longest
    return pd.DataFrame(
        {
            "need": proj.arrow_names,
            "x": load[:, 0] * k,
            "y": load[:, 1] * k,
            "loading_x": load[:, 0],
            "loading_y": load[:, 1],
        }
    )
