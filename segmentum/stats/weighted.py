"""Weighted means, variances and two-group tests (a segment against the rest), shared by
every stage that sizes or compares segments.

Survey weights enter in two places: means and shares are weighted, and the sampling
variance uses Kish's effective sample size ``n_eff = (sum w)^2 / sum w^2`` instead of the
row count. With unit weights every formula reduces to its textbook unweighted form
(Welch's t-test; the pooled two-proportion z-test, equal to Pearson's chi-square on the
2x2 table without continuity correction).

References
----------
Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size, design effect).
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57(1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class GroupTest:
    """One segment-versus-rest comparison."""

    value: float
    rest: float
    statistic: float
    p_value: float
    effect_size: float


def effective_n(w: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (``n`` for unit weights)."""
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    sw = float(np.sum(w))
    return float(np.sum(w * x) / sw) if sw > 0 else float("nan")


def weighted_var(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted variance with the effective-n analogue of Bessel's correction.

    ``sum w (x - m)^2 / sum w * n_eff / (n_eff - 1)``; equals ``np.var(x, ddof=1)`` for
    unit weights.
    """
    n_eff = effective_n(w)
    if n_eff <= 1:
        return float("nan")
    m = weighted_mean(x, w)
    return float(np.sum(w * (x - m) ** 2) / np.sum(w)) * n_eff / (n_eff - 1.0)


def welch_test(x: np.ndarray, w: np.ndarray, in_group: np.ndarray) -> GroupTest:
    """Weighted Welch t-test of the group against the rest, with Cohen's d.

    ``t = (m1 - m0) / sqrt(v1 / n1 + v0 / n0)`` with weighted means and variances and
    effective sizes, Welch-Satterthwaite degrees of freedom, two-sided p-value. Cohen's d
    divides the difference by the pooled standard deviation
    ``sqrt(((n1 - 1) v1 + (n0 - 1) v0) / (n1 + n0 - 2))``.
    """
    x1, w1 = x[in_group], w[in_group]
    x0, w0 = x[~in_group], w[~in_group]
    m1, m0 = weighted_mean(x1, w1), weighted_mean(x0, w0)
    n1, n0 = effective_n(w1), effective_n(w0)
    v1, v0 = weighted_var(x1, w1), weighted_var(x0, w0)
    nan = float("nan")
    if not (n1 > 1 and n0 > 1) or not np.isfinite(v1 + v0):
        return GroupTest(m1, m0, nan, nan, nan)
    se2 = v1 / n1 + v0 / n0
    pooled = np.sqrt(((n1 - 1) * v1 + (n0 - 1) * v0) / (n1 + n0 - 2))
    if se2 <= 0:
        same = bool(np.isclose(m1, m0))
        return GroupTest(
            m1,
            m0,
            0.0 if same else np.inf,
            1.0 if same else 0.0,
            0.0 if same else np.sign(m1 - m0) * np.inf,
        )
    t = (m1 - m0) / np.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    p = 2.0 * stats.t.sf(abs(t), df)
    d = (m1 - m0) / pooled if pooled > 0 else nan
    return GroupTest(m1, m0, float(t), float(p), float(d))


def proportion_test(y: np.ndarray, w: np.ndarray, in_group: np.ndarray) -> GroupTest:
    """Weighted pooled two-proportion z-test of the group against the rest, with Cohen's h.

    ``z = (p1 - p0) / sqrt(p (1 - p) (1 / n1 + 1 / n0))`` with weighted shares, effective
    sizes and the pooled share ``p = (n1 p1 + n0 p0) / (n1 + n0)``; two-sided p-value.
    Cohen's h ``2 asin(sqrt p1) - 2 asin(sqrt p0)`` is on the same scale as Cohen's d
    (0.2 small, 0.5 medium, 0.8 large), so binary and numeric items rank together.
    """
    y1, w1 = y[in_group], w[in_group]
    y0, w0 = y[~in_group], w[~in_group]
    p1, p0 = weighted_mean(y1, w1), weighted_mean(y0, w0)
    n1, n0 = effective_n(w1), effective_n(w0)
    nan = float("nan")
    if not (n1 > 0 and n0 > 0):
        return GroupTest(p1, p0, nan, nan, nan)
    p = (n1 * p1 + n0 * p0) / (n1 + n0)
    h = 2.0 * np.arcsin(np.sqrt(p1)) - 2.0 * np.arcsin(np.sqrt(p0))
    se2 = p * (1.0 - p) * (1.0 / n1 + 1.0 / n0)
    if se2 <= 0:
        return GroupTest(p1, p0, 0.0, 1.0, float(h))
    z = (p1 - p0) / np.sqrt(se2)
    return GroupTest(p1, p0, float(z), float(2.0 * stats.norm.sf(abs(z))), float(h))


def chi2_association(
    codes: np.ndarray, groups: np.ndarray, w: np.ndarray
) -> tuple[float, float, float]:
    """Chi-square test of a categorical variable against the segments, with Cramér's V.

    The table holds weighted counts rescaled so that they sum to the effective sample
    size (a Kish design-effect correction). Returns ``(chi2, p_value, cramers_v)``.
    """
    levels = np.unique(codes)
    segs = np.unique(groups)
    if levels.size < 2 or segs.size < 2:
        return float("nan"), float("nan"), float("nan")
    table = np.zeros((segs.size, levels.size))
    for i, s in enumerate(segs):
        ms = groups == s
        for j, lv in enumerate(levels):
            table[i, j] = np.sum(w[ms & (codes == lv)])
    table *= effective_n(w) / table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.nansum((table - expected) ** 2 / expected))
    dof = (segs.size - 1) * (levels.size - 1)
    p = float(stats.chi2.sf(chi2, dof))
    v = float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))
    return chi2, p, v


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN (tests not run) stay NaN and do not count.

    The finite p-values are adjusted together by :func:`scipy.stats.false_discovery_control`
    (``method="bh"``), so ``m`` is the number of tests actually run.

    >>> bh_adjust(np.array([0.01, 0.04, np.nan, 0.03])).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out
