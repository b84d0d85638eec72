"""Natural, reproducible or constructive: the structure verdict and the choice of k.

The rules here read the evidence table that :class:`NeedsSegmenter` computes (one row per
k) and return data (a :class:`Choice`); the sentences a reader sees are written by
:func:`recommendation_text` and :func:`verdict_text`, used by the stage and the report.

The practice (Dolnicar, Grün & Leisch 2018, ch. 2.3 and 7.5; Ernst & Dolnicar 2018):

- *stable* means more stable than data with the same items and no association: each item
  permuted independently (the same marginals, so binary or skewed items cannot game an
  absolute threshold), the same bootstrap analysis repeated on a few such null data sets;
- a number of segments is *reproducible* when its global stability (bootstrap adjusted
  Rand index: median and lower quartile) is high, clearly above that null band, and every
  segment comes back in the bootstrap partitions (segment-level Jaccard, Hennig 2007);
- the choice is the largest reproducible k (the book's reading of the whole curve), unless
  the next smaller reproducible k is clearly more stable (by more than 0.05) *and* either a
  segment of k is less than highly stable (an extra segment that comes back only partly)
  or the smaller solution is near-perfect (≥ 0.95, every segment ≥ 0.95: cutting natural
  segments in two, as k-means does with elongated ones, is not more structure);
- the verdict is *natural* when the chosen solution is near-perfectly stable with every
  segment highly stable and the stability curve peaks there rather than falling from
  k = 2 on; *reproducible* when only the reproducibility test passes; *constructive*
  when no k passes — the segments are then a choice, not a discovery, and the stage still
  delivers the most segments that come back better than chance (above the null band, no
  segment dissolved), or the k most stable relative to its null.

k-means sees neither elongated shapes nor unequal sizes. Where the basis is interval-scaled
(every item with at least five answers; not on binary items, whose projections have no
density to read), each k-means solution is checked for density dips on one-dimensional
projections (Hennig 2010's ridgeline idea for merging mixture components):

- two segments with no dip between them are one group *cut in two*: the solution is not
  natural, and the choice steps down to the largest reproducible k whose segments are all
  separated and hide nothing (k-means cuts elongated groups into reproducible pieces);
- a segment whose density dips inside it, with a sizeable group beyond the dip, *hides a
  group*: the verdict is constructive (the count misses structure the data show). The
  estimator then splits it at the dip and refits a diagonal Gaussian mixture from the
  split partition (a mixture allows segments of unequal sizes; Fraley & Raftery 2002),
  repeating while a segment still hides a group; the mixture's partition is delivered when
  every segment is separated, none is under the smallest-segment share and its bootstrap
  refits pass the same reproducibility test against the null band (``mixture_separates``),
  with its BIC beside that of the mixture started from k-means' partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Global stability needed to call a k reproducible: the median bootstrap ARI, and the
# lower quartile too (three replications in four agree, not just half: a k whose bootstrap
# fits often find a different solution has a long lower tail; the box of the book's box
# plots, not only its middle line).
STABLE_ARI = 0.80
STABLE_ARI_Q25 = 0.70
# ... and above the null: at least the null band's upper edge (its 95th percentile) and
# this far above the null's median. (Where the items' own distributions are multimodal,
# permuted data keep some grid-like clusters and a high null; perfectly stable data are
# still above it.)
NULL_MARGIN = 0.10
# ... or, where the permuted data are themselves stable (every item multimodal), near-
# perfect stability (lower quartile ≥ 0.95) with a within-segment dispersion this many log
# units below the null's (the data far more compact than their permuted items allow).
COMPACT_ARI_Q25 = 0.95
COMPACT_GAP = 0.5
# Hennig (2007) bands for segment-level (Jaccard) stability.
JACCARD_HIGHLY_STABLE = 0.85
JACCARD_STABLE = 0.75
JACCARD_DOUBTFUL = 0.60
JACCARD_DISSOLVED = 0.50
# Natural structure: the chosen solution near-perfectly stable and the curve peaking there.
NATURAL_ARI = 0.90
# Stepping down from the largest reproducible k: how much more stable fewer segments must
# be, and what counts as a near-perfect smaller solution.
STEP_DOWN = 0.05
PERFECT = 0.95

STRUCTURES = ("natural", "reproducible", "constructive")


def hennig_band(jaccard: float) -> str:
    """Hennig's (2007) reading of a segment's median bootstrap Jaccard agreement."""
    if not np.isfinite(jaccard):
        return "unknown"
    if jaccard >= JACCARD_HIGHLY_STABLE:
        return "highly stable"
    if jaccard >= JACCARD_STABLE:
        return "stable"
    if jaccard >= JACCARD_DOUBTFUL:
        return "doubtful"
    if jaccard >= JACCARD_DISSOLVED:
        return "unstable"
    return "dissolved"


def permute_columns(
    x: np.ndarray, rng: np.random.Generator, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Each column permuted on its own: the same marginals, no association between items.

    With ``sample_weight`` (unequal survey weights), each column's ``len(x)`` values are
    drawn, with replacement, from its weighted marginal instead: the items of the population
    the survey stands for, without association. ``None`` or equal weights permute as
    without weights (the same numbers)."""
    w = population_weights(sample_weight, len(x))
    out = np.empty_like(x)
    n = len(x)
    if w is not None:
        p = w / w.sum()
        for j in range(x.shape[1]):
            out[:, j] = x[rng.choice(n, size=n, p=p), j]
        return out
    for j in range(x.shape[1]):
        out[:, j] = x[rng.permutation(n), j]
    return out


def population_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """Survey weights as the structure checks read them: ``None`` when there are none or
    all are equal (the unweighted computation, bit for bit), else scaled to mean 1.

    Raises
    ------
    ValueError
        Not one finite, non-negative weight per row, or every weight zero.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"sample_weight must be one finite non-negative value per row ({n} rows), "
            f"got shape {w.shape}"
        )
    if n == 0 or w.min() == w.max():
        if n and w.max() <= 0:
            raise ValueError("sample_weight: every weight is zero; at least one must be positive")
        return None
    return w / w.mean()


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Any) -> np.ndarray:
    """Quantiles of ``values`` under ``weights``: NumPy's default (linear) rule with each
    sorted value placed at ``(C_i - w_i) / (C_n - w_n)`` of the cumulative weights ``C``,
    which for equal weights is ``(i - 1) / (n - 1)``, NumPy's own placing."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    v, w = v[w > 0], w[w > 0]
    if len(v) == 1:
        return np.full(np.shape(q), v[0], dtype=float)
    c = np.cumsum(w)
    pos = (c - w) / (c[-1] - w[-1])
    return np.interp(q, pos, v)


def hopkins(
    x: np.ndarray,
    rng: np.random.Generator,
    reference: np.ndarray | None = None,
    m: int = 200,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Hopkins statistic ``Σu / (Σu + Σw)``: ``u`` nearest-neighbour distances from ``m``
    reference points to the data, ``w`` from ``m`` data rows to their nearest other row.

    Reference points are drawn uniformly in the data's bounding box, or, with
    ``reference``, from those rows (e.g. the permuted null data: then 0.5 means "no more
    clustered than the same items without association"). About 0.5 for structureless data,
    towards 1 for clustered data.

    With ``sample_weight`` (unequal survey weights, e.g. a boosted quota) the statistic is
    the population's: the ``m`` data rows are drawn with probability proportional to weight
    (rows of weight zero are not in the population), so a boosted group counts for its
    population share; the nearest neighbours are searched among every row. A ``reference``
    should then be a sample of the population too (:func:`permute_columns` with the
    weights). ``None`` or equal weights give the unweighted statistic, bit for bit.
    """
    w = population_weights(sample_weight, len(x))
    if w is not None:
        x = x[w > 0]
        w = w[w > 0]
    n = len(x)
    m = int(min(m, max(n // 5, 1)))
    if w is None:
        idx = rng.choice(n, size=m, replace=False)
    else:
        idx = rng.choice(n, size=m, replace=False, p=w / w.sum())
    if reference is None:
        lo, hi = x.min(axis=0), x.max(axis=0)
        probe = lo + rng.random((m, x.shape[1])) * (hi - lo)
    else:
        probe = reference[rng.choice(len(reference), size=m, replace=False)]
    xx = np.einsum("ij,ij->i", x, x)

    def nn(p: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
        d = np.einsum("ij,ij->i", p, p)[:, None] - 2.0 * p @ x.T + xx[None, :]
        if exclude is not None:
            d[np.arange(len(p)), exclude] = np.inf
        return np.sqrt(np.maximum(d.min(axis=1), 0.0))

    u = nn(probe, None).sum()
    w_sum = nn(x[idx], idx).sum()
    return float(u / (u + w_sum)) if u + w_sum > 0 else 0.5


# -- shape: density gaps between and within segments ------------------------------------
# k-means sees neither unequal sizes nor elongated shapes: it cuts an elongated group in two
# (reproducibly) and merges a small group into a neighbour beside a dominant one. Where
# the basis is interval-scaled (every item with at least SHAPE_MIN_LEVELS answers), the
# partition is checked on one-dimensional projections, the way Hennig (2010) merges
# mixture components: two segments are one group cut in two when their union shows no dip
# in density between the two centres (ridgeline ratio ≥ NO_GAP); a segment hides a
# separate group when, along one of its first principal axes, its density dips below
# GAP of the smaller side's peak with at least HIDDEN_MIN_SHARE of all respondents there.
SHAPE_MIN_LEVELS = 5
NO_GAP = 0.8
GAP = 0.5
HIDDEN_MIN_SHARE = 0.02
_SHAPE_MAX_ROWS = 2000
_GRID = 64


def interval_basis(x: np.ndarray) -> bool:
    """Whether every column has at least ``SHAPE_MIN_LEVELS`` distinct values (the shape
    checks read densities of projections; binary or three-point items have none)."""
    if x.ndim != 2 or x.shape[1] == 0 or len(x) < 20:
        return False
    return all(len(np.unique(x[:, j])) >= SHAPE_MIN_LEVELS for j in range(x.shape[1]))


def _kde(p: np.ndarray, grid: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Gaussian kernel density of ``p`` on ``grid`` (Silverman's robust bandwidth); with
    weights ``w``, the weighted density, its bandwidth from the weighted spread and Kish's
    effective number of rows."""
    if w is None:
        sd = float(np.std(p))
        iqr = float(np.subtract(*np.quantile(p, [0.75, 0.25]))) / 1.34
        n_eff = float(len(p))
    else:
        mean = float(w @ p / w.sum())
        sd = float(np.sqrt(w @ (p - mean) ** 2 / w.sum()))
        iqr = float(np.subtract(*weighted_quantile(p, w, [0.75, 0.25]))) / 1.34
        n_eff = float(w.sum() ** 2 / (w @ w))
    h = 0.9 * (min(sd, iqr) if iqr > 0 else sd) * n_eff**-0.2
    if h <= 0:
        return np.ones(len(grid))
    z = (grid[:, None] - p[None, :]) / h
    kernel = np.exp(-0.5 * z * z)
    return kernel.sum(axis=1) if w is None else kernel @ w


def pair_ridge(
    xa: np.ndarray, xb: np.ndarray, wa: np.ndarray | None = None, wb: np.ndarray | None = None
) -> float:
    """Ridgeline ratio of two segments: the lowest density of their union between the two
    centres, projected on the line through them, over the lower of the densities at the
    centres (about 1: no dip, one group cut in two; near 0: a clear gap). With survey
    weights ``wa``, ``wb`` (both or neither), the population's: weighted centres and
    density."""
    if wa is None or wb is None:
        w = xb.mean(axis=0) - xa.mean(axis=0)
    else:
        w = np.average(xb, axis=0, weights=wb) - np.average(xa, axis=0, weights=wa)
    if not np.any(w):
        return 1.0
    pa, pb = xa @ w, xb @ w
    if wa is None or wb is None:
        grid = np.linspace(pa.mean(), pb.mean(), 41)
        dens = _kde(np.concatenate([pa, pb]), grid)
    else:
        grid = np.linspace(np.average(pa, weights=wa), np.average(pb, weights=wb), 41)
        dens = _kde(np.concatenate([pa, pb]), grid, np.concatenate([wa, wb]))
    ends = min(dens[0], dens[-1])
    return float(dens.min() / ends) if ends > 0 else 1.0


def hidden_dip(
    xs: np.ndarray, min_rows: float, n_axes: int = 3, w: np.ndarray | None = None
) -> tuple[float, float]:
    """The deepest density dip inside one segment along its first ``n_axes`` principal
    axes, with at least ``min_rows`` rows on either side: (ratio of the density at the dip
    to the lower of the two sides' peaks, rows on the smaller side / rows of the segment).
    (1.0, 0.0) when the segment is too small to hold two such groups. With survey weights
    ``w``, the population's: rows count by weight (``min_rows`` in the same units) and the
    axes and densities are weighted."""
    ratio, side = _deepest_dip(xs, min_rows, n_axes, w)
    if side is None:
        return 1.0, 0.0
    if w is None:
        return ratio, float(min(side.sum(), len(side) - side.sum()) / len(side))
    beyond, total = float(w[side].sum()), float(w.sum())
    return ratio, min(beyond, total - beyond) / total


def split_at_dip(
    xs: np.ndarray, min_rows: float, n_axes: int = 3, w: np.ndarray | None = None
) -> np.ndarray | None:
    """The rows of one segment beyond its deepest density dip (a boolean mask; see
    :func:`hidden_dip`, weights ``w`` included), or None when it has no such dip."""
    return _deepest_dip(xs, min_rows, n_axes, w)[1]


def _deepest_dip(
    xs: np.ndarray, min_rows: float, n_axes: int, w: np.ndarray | None = None
) -> tuple[float, np.ndarray | None]:
    n = len(xs)
    mass = float(n if w is None else w.sum())
    if mass < 2 * min_rows or n < 4:
        return 1.0, None
    if w is None:
        c = xs - xs.mean(axis=0)
        _, _, vt = np.linalg.svd(c, full_matrices=False)
    else:
        c = xs - np.average(xs, axis=0, weights=w)
        _, _, vt = np.linalg.svd(c * np.sqrt(w)[:, None], full_matrices=False)
    best, side = 1.0, None
    for axis in vt[:n_axes]:
        p = c @ axis
        if w is None:
            grid = np.linspace(*np.quantile(p, [0.005, 0.995]), _GRID)
            left = np.searchsorted(np.sort(p), grid)  # rows left of each grid point
        else:
            grid = np.linspace(*weighted_quantile(p, w, [0.005, 0.995]), _GRID)
            order = np.argsort(p, kind="stable")
            below = np.r_[0.0, np.cumsum(w[order])]  # weight left of each grid point
            left = below[np.searchsorted(p[order], grid)]
        dens = _kde(p, grid, w)
        ok = (left >= min_rows) & (mass - left >= min_rows)
        if not ok.any():
            continue
        peak_l = np.maximum.accumulate(dens)
        peak_r = np.maximum.accumulate(dens[::-1])[::-1]
        ratio = np.where(ok, dens / np.maximum(np.minimum(peak_l, peak_r), 1e-300), np.inf)
        i = int(np.argmin(ratio))
        if ratio[i] < best:
            best, side = float(ratio[i]), p > grid[i]
    return best, side


def hidden_min_rows(n: int) -> int:
    """Rows a hidden group needs on either side of a dip: 2 % of ``n``, at least 10."""
    return max(10, int(np.ceil(HIDDEN_MIN_SHARE * n)))


def mixture_structure(stats: dict[str, float], null_row: pd.Series | None) -> str | None:
    """Verdict for the mixture refinement's partition (every segment separated from every
    other, none hiding a group) from its bootstrap figures: ``natural`` when near-perfectly
    stable with every segment highly stable, ``reproducible`` when the reproducibility
    test passes (the same thresholds and null band as k-means at that k), else None."""
    s, q25, jac = stats["stability_median"], stats["stability_q25"], stats["min_segment_jaccard"]
    ok = s >= STABLE_ARI and q25 >= STABLE_ARI_Q25 and jac >= JACCARD_DOUBTFUL
    if null_row is not None and np.isfinite(null_row["null_q95"]):
        ok = ok and s >= null_row["null_q95"] and s >= null_row["null_median"] + NULL_MARGIN
    if not ok:
        return None
    return "natural" if s >= NATURAL_ARI and jac >= JACCARD_HIGHLY_STABLE else "reproducible"


def shape_evidence(
    x: np.ndarray, labels: np.ndarray, seed: int = 0, sample_weight: np.ndarray | None = None
) -> dict[str, Any]:
    """Density gaps of a partition (0-based ``labels``): ``cut_pairs`` (segment pairs with no
    dip between them), ``hidden`` (segments that hide a separate group, with the group's
    share of all rows), ``max_pair_ridge`` and ``min_hidden_dip``. Large data are
    subsampled to ``_SHAPE_MAX_ROWS`` rows (the same rows for every k).

    With ``sample_weight`` (unequal survey weights, e.g. a boosted quota) the gaps are the
    population's: weighted centres, axes and densities (:func:`pair_ridge`,
    :func:`hidden_dip`), a hidden group's size and share counted by weight. ``None`` or
    equal weights give the unweighted evidence, bit for bit."""
    n = len(x)
    w = population_weights(sample_weight, n)
    if n > _SHAPE_MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(n, _SHAPE_MAX_ROWS, replace=False))
        x, labels = x[keep], labels[keep]
        w = None if w is None else w[keep] / w[keep].mean()
        n = _SHAPE_MAX_ROWS
    k = int(labels.max()) + 1
    groups = [x[labels == c] for c in range(k)]
    gw = [None if w is None else w[labels == c] for c in range(k)]
    # a segment of weight zero is not in the population (nor is an empty one)
    there = [len(g) > 0 and (v is None or v.sum() > 0) for g, v in zip(groups, gw, strict=True)]
    cut, ridges = [], []
    for i in range(k):
        for j in range(i + 1, k):
            if there[i] and there[j]:
                r = pair_ridge(groups[i], groups[j], gw[i], gw[j])
                ridges.append(r)
                if r >= NO_GAP:
                    cut.append((i, j))
    min_rows = hidden_min_rows(n)
    hidden, dips = [], []
    for c, g in enumerate(groups):
        d, sh = hidden_dip(g, min_rows, w=gw[c])
        dips.append(d)
        if d < GAP:
            size = len(g) if w is None else float(gw[c].sum())  # type: ignore[union-attr]
            hidden.append((c, sh * size / n))
    return {
        "cut_pairs": cut,
        "hidden": hidden,
        "max_pair_ridge": max(ridges) if ridges else float("nan"),
        "min_hidden_dip": min(dips) if dips else float("nan"),
    }


@dataclass(frozen=True)
class Choice:
    """The choice of k and the structure verdict, as data.

    Attributes
    ----------
    k : int
        The number of segments delivered (pinned, or chosen by the evidence).
    k_recommended : int
        What the evidence alone chooses.
    structure : {"natural", "reproducible", "constructive"}
        Verdict for the delivered solution.
    data_structure : {"natural", "reproducible", "constructive"}
        Verdict for the recommended k (what the data support).
    reason : str
        A code: ``"largest_reproducible"``, ``"smaller_more_stable"``, ``"pinned"``,
        ``"lowest_bic_reproducible"`` (``gmm``, ``lca``),
        ``"largest_above_chance"`` (constructive: the most segments above the null band
        with none dissolved), ``"most_above_null"`` (constructive, failing that: the k most
        stable relative to its null),
        ``"no_stability"`` (no bootstrap evidence computed: fit index).
    runner_up : int or None
        The next best k (the next largest reproducible one, else the next most stable).
    next_k : dict or None
        What k + 1 does: ``k``, ``split`` (segment of k that it splits, 1-based, or None),
        ``stability``, ``min_jaccard``, ``reproducible``, ``min_segment_share``.
    reproducible_k : list of int
    caveat : str or None
        What the shape checks (interval-scaled bases, k-means) say against the delivered
        solution: ``"hidden_group"`` (a segment hides a separate group: the verdict is
        constructive), ``"cut_in_two"`` (two segments are one group cut in two: not
        natural), or None.
    mixture : dict or None
        Where k-means' choice hid a group and a Gaussian mixture started from the split
        segments separates every segment (``reason="mixture_separates"``): ``from_k``
        (k-means' k), ``k``, ``stability_median``, ``stability_q25``,
        ``min_segment_jaccard``, ``bic`` and ``bic_from_k`` (the diagonal mixture's BIC at
        its k and started from k-means' partition).
    """

    k: int
    k_recommended: int
    structure: str
    data_structure: str
    reason: str
    runner_up: int | None
    next_k: dict[str, Any] | None
    reproducible_k: list[int] = field(default_factory=list)
    caveat: str | None = None
    mixture: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "k_recommended": self.k_recommended,
            "structure": self.structure,
            "data_structure": self.data_structure,
            "reason": self.reason,
            "runner_up": self.runner_up,
            "next_k": self.next_k,
            "reproducible_k": list(self.reproducible_k),
            "caveat": self.caveat,
            "mixture": self.mixture,
        }


def reproducible_mask(sel: pd.DataFrame, min_share: float) -> pd.Series:
    """Which k pass: stability high (median ≥ 0.80, lower quartile ≥ 0.70) and clearly
    above the null (median ≥ the null band's 95th percentile and ≥ the null median + 0.10),
    every segment back (mean
    Jaccard at least Hennig's 'doubtful' 0.6), no segment under ``min_share``. Without a
    null reference (``n_null=0``) only the absolute tests apply."""
    s = sel["stability_median"]
    null_hi = sel["null_q95"]
    if null_hi.isna().all():  # no null reference (n_null = 0): the absolute tests alone
        above = pd.Series(True, index=sel.index)
    else:
        above = ((s >= null_hi) & (s >= sel["null_median"] + NULL_MARGIN)) | (
            (sel["stability_q25"] >= COMPACT_ARI_Q25) & (sel["dispersion_gap"] >= COMPACT_GAP)
        )
    return (
        (s >= STABLE_ARI)
        & (sel["stability_q25"] >= STABLE_ARI_Q25)
        & above
        & (sel["min_segment_jaccard"] >= JACCARD_DOUBTFUL)
        & (sel["min_segment_share"] >= min_share)
    ).fillna(False)


def _is_natural(sel: pd.DataFrame, k: int) -> bool:
    row = sel.loc[sel["k"] == k].iloc[0]
    if not (
        row["stability_median"] >= NATURAL_ARI
        and row["min_segment_jaccard"] >= JACCARD_HIGHLY_STABLE
    ):
        return False
    # a peak, not the top of a curve falling from k = 2: fewer segments are not more stable
    # (merging natural segments is less stable than keeping them) or k is the smallest k
    prev = sel.loc[sel["k"] < k]
    return prev.empty or bool(
        row["stability_median"] >= prev["stability_median"].max() - 0.02
        or row["min_segment_jaccard"] >= prev["min_segment_jaccard"].max() - 0.02
    )


def choose(
    sel: pd.DataFrame,
    *,
    min_share: float,
    pinned: int | None,
    split_of: dict[int, int | None],
    by_fit: str,
) -> Choice:
    """The choice of k and the verdict from the evidence table (see module docstring).

    Parameters
    ----------
    sel : DataFrame
        One row per k with ``k``, ``stability_median``, ``null_q95``, ``null_median``,
        ``min_segment_jaccard``, ``min_segment_share`` and fit indices.
    min_share : float
        The smallest-segment rule.
    pinned : int or None
    split_of : dict
        k → the segment (1-based) of solution k that solution k + 1 splits, or None.
    by_fit : {"bic", "calinski_harabasz"}
        Fit index used when no stability was computed.
    """
    have_stab = bool(sel["stability_median"].notna().any())
    size_ok = sel[sel["min_segment_share"] >= min_share]
    pool = size_ok if not size_ok.empty else sel
    rep_k: list[int] = []
    runner: int | None = None
    if not have_stab:
        k_rec, reason = _by_fit(pool, by_fit), "no_stability"
    else:
        rep = reproducible_mask(sel, min_share)
        rep_k = [int(k) for k in sel.loc[rep, "k"]]
        if rep_k:
            k_rec, reason = _among_reproducible(sel, rep, rep_k, by_fit)
            others = [k for k in rep_k if k != k_rec]
            runner = min(others, key=lambda k: (abs(k - k_rec), -k)) if others else None
        else:
            k_rec, reason, runner = _constructive_k(pool)
        if runner is None:
            runner = _neighbour(pool, k_rec)
    k = int(pinned) if pinned is not None else k_rec

    def verdict(kk: int) -> str:
        if kk not in rep_k or _shape(sel, kk) == "hidden_group":
            return "constructive"
        if _shape(sel, kk) == "cut_in_two":
            return "reproducible"
        return "natural" if _is_natural(sel, kk) else "reproducible"

    return Choice(
        k=k,
        k_recommended=k_rec,
        structure=verdict(k) if have_stab else "constructive",
        data_structure=verdict(k_rec) if have_stab else "constructive",
        reason="pinned" if pinned is not None else reason,
        runner_up=runner,
        next_k=_next_of_choice(sel, k, split_of, rep_k),
        reproducible_k=rep_k,
        caveat=_shape(sel, k) if have_stab else None,
    )


def _by_fit(pool: pd.DataFrame, by_fit: str) -> int:
    """Without stability: the lowest BIC (mixtures) or the highest Calinski-Harabasz."""
    pick = (
        pool.loc[pool["bic"].idxmin()]
        if by_fit == "bic" and pool["bic"].notna().any()
        else pool.loc[pool["calinski_harabasz"].idxmax()]
    )
    return int(pick["k"])


def _among_reproducible(
    sel: pd.DataFrame, rep: pd.Series, rep_k: list[int], by_fit: str
) -> tuple[int, str]:
    """The recommended k among the reproducible ones, and why."""
    if by_fit == "bic" and sel.loc[rep, "bic"].notna().any():
        # mixtures and latent class: the likelihood says how many components; of the
        # reproducible k, the lowest BIC
        cand = sel.loc[rep]
        return int(cand.loc[cand["bic"].idxmin(), "k"]), "lowest_bic_reproducible"
    k_rec, reason = max(rep_k), "largest_reproducible"
    while True:
        row = sel.loc[sel["k"] == k_rec].iloc[0]
        smaller = [k for k in rep_k if k < k_rec]
        if not smaller:
            break
        prev = sel.loc[sel["k"] == max(smaller)].iloc[0]
        # fewer segments clearly more stable, and either a segment of k is less than
        # highly stable (an extra segment that comes back only partly) or the smaller
        # solution is near-perfect (cutting natural segments in two, as k-means does with
        # elongated ones, is not more structure): keep fewer
        clearly = prev["stability_median"] - row["stability_median"] > STEP_DOWN
        partial = row["min_segment_jaccard"] < JACCARD_HIGHLY_STABLE
        perfect = prev["stability_median"] >= PERFECT and prev["min_segment_jaccard"] >= PERFECT
        if not (clearly and (partial or perfect)):
            break
        k_rec, reason = int(prev["k"]), "smaller_more_stable"
    return _separated(sel, rep_k, k_rec, reason)


def _constructive_k(pool: pd.DataFrame) -> tuple[int, str, int | None]:
    """Nothing reproducible: the most segments that still beat chance (stability at least
    the null band's upper edge) with no segment dissolved (Hennig: Jaccard ≥ 0.5); failing
    that, the k most stable relative to its null. Returns k, the reason and a runner-up."""
    useful = pool[
        (pool["stability_median"] >= pool["null_q95"].fillna(-np.inf))
        & (pool["min_segment_jaccard"] >= JACCARD_DISSOLVED)
    ]
    if not useful.empty:
        k_rec = int(useful["k"].max())
        rest = useful[useful["k"] != k_rec]
        return k_rec, "largest_above_chance", int(rest["k"].max()) if len(rest) else None
    excess = pool["stability_median"] - pool["null_median"].fillna(0.0)
    order = pool.assign(_e=excess.round(3)).sort_values(["_e", "k"], ascending=[False, True])
    runner = int(order["k"].iloc[1]) if len(order) > 1 else None
    return int(order["k"].iloc[0]), "most_above_null", runner


def _neighbour(pool: pd.DataFrame, k_rec: int) -> int | None:
    """The runner-up when no other k qualifies: the neighbour (k - 1 or k + 1) further
    above its null band."""
    alt = pool[(pool["k"] - k_rec).abs() == 1]
    if alt.empty:
        alt = pool[pool["k"] != k_rec]
    margin = alt["stability_median"] - alt["null_q95"].fillna(0.0)
    return int(alt.loc[margin.idxmax(), "k"]) if len(alt) else None


def _next_of_choice(
    sel: pd.DataFrame, k: int, split_of: dict[int, int | None], rep_k: list[int]
) -> dict[str, Any] | None:
    """What solution k + 1 does: which segment it splits and how stable it is."""
    nxt = sel.loc[sel["k"] == k + 1]
    if nxt.empty:
        return None
    r = nxt.iloc[0]
    sp = split_of.get(k)
    return {
        "k": k + 1,
        "split": None if sp is None else int(sp),
        "stability": _num(r["stability_median"]),
        "min_jaccard": _num(r.get("min_segment_jaccard", np.nan)),
        "reproducible": bool(k + 1 in rep_k),
        "min_segment_share": _num(r["min_segment_share"]),
    }


def _shape(sel: pd.DataFrame, k: int) -> str | None:
    """The shape checks' objection to solution k, if any (None where they did not run)."""
    if "hidden_groups" not in sel or "cut_pairs" not in sel:
        return None
    row = _row(sel, k)
    if np.isfinite(row["hidden_groups"]) and row["hidden_groups"] > 0:
        return "hidden_group"
    if np.isfinite(row["cut_pairs"]) and row["cut_pairs"] > 0:
        return "cut_in_two"
    return None


def _separated(sel: pd.DataFrame, rep_k: list[int], k_rec: int, reason: str) -> tuple[int, str]:
    """Where solution ``k_rec`` cuts a group in two (no density dip between two of its
    segments) and a smaller reproducible solution has every segment separated from every
    other and none hiding a group: the largest such solution (k-means cuts elongated groups
    into reproducible pieces; more pieces are not more structure)."""
    if _shape(sel, k_rec) != "cut_in_two":
        return k_rec, reason
    clean = [k for k in rep_k if k < k_rec and _shape(sel, k) is None]
    if not clean:
        return k_rec, reason
    return max(clean), "largest_separated"


def _num(x: Any) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


# -- words (the stage and the report use these; the estimator returns data) ---------------
_REASONS = {
    "largest_reproducible": "the largest number of segments that is reproducible",
    "smaller_more_stable": (
        "the largest reproducible number of segments that more segments do not improve on "
        "(more segments are clearly less stable, their extra segment comes back only partly "
        "or only cuts these segments in two)"
    ),
    "largest_above_chance": (
        "no number of segments is reproducible; this is the most segments that still come "
        "back better than chance (above the null band, no segment dissolved)"
    ),
    "most_above_null": (
        "no number of segments is reproducible; this k is the most stable relative to "
        "structureless data with the same items"
    ),
    "no_stability": "the best fit index (no bootstrap stability computed)",
    "lowest_bic_reproducible": "the lowest BIC among the reproducible numbers of segments",
    "mixture_separates": (
        "k-means merges a smaller group into a larger segment; a Gaussian mixture, which "
        "allows segments of unequal sizes, started from the split segments separates every "
        "segment by a dip in density, and its segments come back in bootstrap refits"
    ),
    "largest_separated": (
        "the largest reproducible number of segments whose segments are all separated by a "
        "dip in density (more segments cut a group in two)"
    ),
}

ADVICE_CONSTRUCTIVE = (
    "Treat the segments as a constructive choice: pin k by usefulness to the business "
    "(n_segments), and for segments that come back, add more or better needs items or a "
    "larger sample."
)


def _row(sel: pd.DataFrame, k: int) -> pd.Series:
    return sel.loc[sel["k"] == k].iloc[0]


def _ari(sel: pd.DataFrame, k: int) -> str:
    r = _row(sel, k)
    text = f"median ARI {r['stability_median']:.2f}"
    if "null_q95" in r and np.isfinite(r["null_q95"]):
        text += f", null band up to {r['null_q95']:.2f}"
    return text


def recommendation_text(choice: Choice, sel: pd.DataFrame, min_share: float) -> str:
    """One sentence for the choice of k: the reason, the runner-up, what k + 1 does."""
    have_stab = bool(sel["stability_median"].notna().any())
    k_rec = choice.k_recommended
    if choice.reason == "mixture_separates" and choice.mixture is not None:
        return _mixture_text(choice.mixture, sel)
    why = _REASONS.get(choice.reason if choice.reason != "pinned" else _rec_reason(choice, sel))
    if why is None:
        why = _REASONS["largest_reproducible"]
    text = f"k = {k_rec}: {why}" + (f" ({_ari(sel, k_rec)})" if have_stab else "")
    if choice.runner_up is not None and have_stab:
        text += f"; runner-up k = {choice.runner_up} ({_ari(sel, choice.runner_up)})"
    nk = choice.next_k if choice.k == k_rec else _next_of(sel, k_rec)
    if nk is not None:
        parts = []
        if nk.get("split") is not None:
            parts.append(f"splits segment {nk['split']}")
        if have_stab and nk.get("stability") is not None:
            rep = "reproducibly" if nk.get("reproducible") else "not reproducibly"
            parts.append(f"{rep} (median ARI {nk['stability']:.2f})")
        if nk.get("min_segment_share") is not None and nk["min_segment_share"] < min_share:
            parts.append(f"with a segment under {min_share:.0%} ({nk['min_segment_share']:.1%})")
        if parts:
            text += f"; k = {nk['k']} " + " ".join(parts)
    if choice.reason == "pinned":
        if choice.k != k_rec:
            return f"k = {choice.k} as pinned by the user; the evidence alone would choose {text}."
        return (
            f"k = {choice.k} as pinned by the user, and the evidence agrees: "
            + text.split(": ", 1)[1]
            + "."
        )
    return text + "."


def _mixture_text(mix: dict[str, Any], sel: pd.DataFrame) -> str:
    """The recommendation where the mixture refinement is delivered: what was compared."""
    k, k0 = mix["k"], mix["from_k"]
    null = _row(sel, k)
    band = f", null band up to {null['null_q95']:.2f}" if np.isfinite(null["null_q95"]) else ""
    return (
        f"k = {k}: {_REASONS['mixture_separates']} (median ARI "
        f"{mix['stability_median']:.2f} over bootstrap refits{band}; least stable segment "
        f"{mix['min_segment_jaccard']:.2f}). A mixture with unequal sizes fits {k} segments "
        f"much better than {k0} (diagonal-covariance BIC {mix['bic']:,.0f} against "
        f"{mix['bic_from_k']:,.0f} started from k-means' {k0} segments); runner-up k = "
        f"{k0}, k-means' choice ({_ari(sel, k0)})."
    )


def _rec_reason(choice: Choice, sel: pd.DataFrame) -> str:
    if not sel["stability_median"].notna().any():
        return "no_stability"
    if choice.k_recommended in choice.reproducible_k:
        return "largest_reproducible"  # (or lowest BIC: the stage reads the codes alike)
    return "largest_above_chance"


def _next_of(sel: pd.DataFrame, k: int) -> dict[str, Any] | None:
    nxt = sel.loc[sel["k"] == k + 1]
    if nxt.empty:
        return None
    r = nxt.iloc[0]
    return {
        "k": k + 1,
        "split": None,
        "stability": _num(r["stability_median"]),
        "reproducible": bool(r.get("reproducible", False)),
        "min_segment_share": _num(r["min_segment_share"]),
    }


def verdict_text(structure: str, k: int, evidence: dict[str, Any]) -> str:
    """The verdict in words a marketer reads."""
    stab = evidence.get("stability")
    null_hi = evidence.get("null_q95")
    jac = evidence.get("min_segment_jaccard")
    fig = ""
    if stab is not None:
        fig = f" (the {k} segments come back in resampled data with a median adjusted Rand index of {stab:.2f}"
        if null_hi is not None:
            fig += f", against at most {null_hi:.2f} for the same questions answered at random"
        if jac is not None:
            fig += f"; the least stable segment {jac:.2f}"
        fig += ")"
    shape = _shape_text(evidence.get("shape"))
    if structure == "constructive" and (evidence.get("shape") or {}).get("hidden"):
        return (
            f"These {k} segments come back when the analysis is repeated{fig}, but they miss "
            f"a group the data show, so their number is a choice: the segments are "
            f"constructive, not groups found in the data. {shape} Pin k by usefulness to the "
            "business (n_segments)"
            + (
                ", or accept smaller segments (min_segment_share) to get the mixture's."
                if "stability_median" not in (evidence["shape"].get("mixture") or {"x": 0})
                else "."
            )
        )
    return _verdict_words(structure, k, fig) + (f" {shape}" if shape else "")


def _verdict_words(structure: str, k: int, fig: str) -> str:
    if structure == "natural":
        return (
            f"These data have natural segments: {k} distinct groups of respondents that any "
            f"sound method finds again{fig}. The segments are a discovery, not a choice."
        )
    if structure == "reproducible":
        return (
            f"These data have reproducible but not natural segments: respondents do not fall "
            f"into separate groups, but the same {k} segments come back every time the "
            f"analysis is repeated{fig}. They are a sound basis for targeting; their borders "
            "are a convention, not a fact of nature."
        )
    return (
        f"These data have no segments that come back reliably: the {k} segments are "
        f"constructive — one useful way of dividing the market, not groups found in the "
        f"data{fig}. {ADVICE_CONSTRUCTIVE}"
    )


def _shape_text(shape: dict[str, Any] | None) -> str:
    """What the density checks say against the delivered segments, in words ('' if nothing)."""
    if not shape:
        return ""
    out = []
    for h in shape.get("hidden", []):
        out.append(
            f"Segment {h['segment']} hides a separate group of about {h['share']:.0%} of "
            "respondents (a dip in density inside it) that k-means does not isolate (it "
            "rarely does beside a dominant segment)"
        )
    for a, b in shape.get("cut_pairs", []):
        out.append(
            f"Segments {a} and {b} have no dip in density between them: one group cut in "
            "two, not two natural groups"
        )
    text = "; ".join(out) + "." if out else ""
    mix = shape.get("mixture")
    if mix and not mix.get("delivered"):
        why = (
            f"its smallest segment holds {mix['min_segment_share']:.1%} of respondents, under "
            "the smallest-segment rule"
            if "stability_median" not in mix
            else "its segments do not come back reproducibly in bootstrap refits"
        )
        text += (
            f" A Gaussian mixture started from the split segments separates {mix['k']} "
            f"segments, but {why}."
        )
    return text
