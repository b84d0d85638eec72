"""k-means for bootstrap fits: every restart at once, on distinct rows with weights.

A bootstrap sample is a multiset of rows, so it is the distinct rows of the data with
integer weights (how often each was drawn, times how often it occurs). Lloyd's algorithm
and k-means++ seeding on weighted rows are exactly those on the repeated rows (the seeding
draws a row with probability ∝ weight × D², as it would draw any of its copies), but the
work scales with the distinct rows drawn — 264 patterns for McDonald's 1,453 answers —
and all ``n_init`` restarts run as one array computation instead of a Python loop.

Used where only the partition matters (the stability analysis and its null reference);
full-data fits keep scikit-learn's ``KMeans`` and the Hartigan refinement.
"""

from __future__ import annotations

import numpy as np


def _sq_dist_batch(x: np.ndarray, xx: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(m, R, k) squared distances of rows ``x`` (m, p) to each restart's centres (R, k, p),
    as one matrix product (BLAS) over all restarts."""
    r, k, p = centers.shape
    flat = centers.reshape(r * k, p)
    cc = np.einsum("ij,ij->i", flat, flat)
    d = (xx[:, None] - 2.0 * (x @ flat.T) + cc[None, :]).reshape(len(x), r, k)
    return np.maximum(d, 0.0)


def _kmeanspp(
    x: np.ndarray, xx: np.ndarray, w: np.ndarray, k: int, n_init: int, rng: np.random.Generator
) -> np.ndarray:
    """Greedy k-means++ seeding (2 + log k candidates per step, as scikit-learn) for
    ``n_init`` restarts at once; returns (n_init, k, p) centres."""
    m = len(x)
    n_trials = 2 + int(np.log(k))
    p = w / w.sum()
    first = rng.choice(m, size=n_init, p=p)
    centers = np.empty((n_init, k, x.shape[1]))
    centers[:, 0] = x[first]
    d2 = np.maximum(xx[None, :] - 2.0 * x[first] @ x.T + xx[first][:, None], 0.0)  # (R, m)
    rows = np.arange(n_init)
    for c in range(1, k):
        cum = np.cumsum(w[None, :] * d2, axis=1)  # (R, m)
        tot = cum[:, -1]
        u = rng.random((n_init, n_trials)) * tot[:, None]
        cand = np.empty((n_init, n_trials), dtype=np.int64)
        for r in range(n_init):
            cand[r] = np.searchsorted(cum[r], u[r], side="right")
        cand = np.minimum(cand, m - 1)
        # where every weighted distance is zero (fewer distinct rows than k), draw by weight
        flat = tot <= 0
        if flat.any():
            cand[flat] = rng.choice(m, size=(int(flat.sum()), n_trials), p=p)
        xc = x[cand]  # (R, L, p)
        dc = np.maximum(
            xx[None, None, :]
            - 2.0 * (xc.reshape(-1, x.shape[1]) @ x.T).reshape(n_init, n_trials, m)
            + xx[cand][:, :, None],
            0.0,
        )
        new = np.minimum(d2[:, None, :], dc)  # (R, L, m)
        pot = new @ w  # (R, L)
        best = np.argmin(pot, axis=1)
        centers[:, c] = xc[rows, best]
        d2 = new[rows, best]
    return centers


def _lloyd(
    x: np.ndarray,
    xx: np.ndarray,
    w: np.ndarray,
    centers: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd iterations for every restart at once; returns centres and inertias.

    A restart stops when at most 0.5 % of its labels change (none below 200 rows) or,
    as in scikit-learn, when its centres move less than ``tol`` (sum of squared shifts);
    stopped restarts leave the batch, so the cost follows the restarts still moving.
    """
    m, p = x.shape
    n_init, k, _ = centers.shape
    centers = centers.copy()
    labels = np.full((m, n_init), -1, dtype=np.int64)
    active = np.arange(n_init)
    rows = np.arange(m)[:, None]
    for _ in range(max_iter):
        if active.size == 0:
            break
        ca = centers[active]
        d = _sq_dist_batch(x, xx, ca)
        new = np.argmin(d, axis=2)  # (m, A)
        # a restart whose labels barely move (at most 0.5 % of the rows) has converged for
        # the partition's sake: Lloyd's last steps move a few rows at a time (demo survey:
        # 28 → 17 iterations a fit)
        changed = (new != labels[:, active]).sum(axis=0) > max(0, int(0.005 * m))
        labels[:, active] = new
        na = active.size
        onehot = np.zeros((m, na * k), dtype=x.dtype)
        onehot[rows, new + (np.arange(na) * k)[None, :]] = w[:, None]
        tot = onehot.sum(axis=0).reshape(na, k)
        sums = (onehot.T @ x).reshape(na, k, p)
        keep = tot > 0
        upd = np.where(keep[:, :, None], sums / np.maximum(tot, 1e-30)[:, :, None], ca)
        for r, c in zip(*np.nonzero(~keep), strict=True):
            # an emptied segment restarts at the row farthest from its centre (as scikit-learn)
            far = int(np.argmax(np.take_along_axis(d[:, r, :], new[:, r, None], 1)[:, 0]))
            upd[r, c] = x[far]
        shift = ((upd - ca) ** 2).sum(axis=(1, 2))
        centers[active] = upd
        active = active[changed & (shift > tol)]
    d = _sq_dist_batch(x, xx, centers)
    return centers, (w @ d.min(axis=2)).astype(np.float64)


def kmeans_weighted_batch(
    x: np.ndarray,
    w: np.ndarray,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    max_iter: int = 100,
    first: int | None = None,
) -> tuple[np.ndarray, float]:
    """Lloyd's k-means on weighted rows, up to ``n_init`` k-means++ restarts run together.

    With ``first`` the restarts run in two batches: ``first`` of them, and the rest only
    if no two of the first reached the same lowest inertia (relative 1e-5, float32 sums).
    Off by default: on planted segments of unequal size, stopping after three restarts
    made a true 5-segment solution come back in only half of the bootstrap samples.

    Parameters
    ----------
    x : ndarray of shape (m, p)
        Rows (typically distinct ones).
    w : ndarray of shape (m,)
        Positive weights (counts).
    k : int
    n_init : int
    rng : numpy Generator
    max_iter : int, default=100
    first : int or None, default=None

    Returns
    -------
    centers : ndarray of shape (k, p)
        Centres of the restart with the lowest weighted within-segment sum of squares.
    inertia : float
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    xx = np.einsum("ij,ij->i", x, x)
    # scikit-learn's tolerance: 1e-4 of the mean (weighted) variance of the columns
    mean = (w @ x) / w.sum()
    tol = 1e-4 * float(np.mean(w @ (x - mean) ** 2) / w.sum())
    x32, xx32, w32 = x.astype(np.float32), xx.astype(np.float32), w.astype(np.float32)

    def run(n: int) -> tuple[np.ndarray, np.ndarray]:
        start = _kmeanspp(x, xx, w, k, n, rng).astype(np.float32)
        return _lloyd(x32, xx32, w32, start, max_iter, tol)

    n1 = n_init if first is None else min(first, n_init)
    centers, inertia = run(n1)
    best = float(inertia.min())
    repeated = int((inertia <= best * (1 + 1e-5) + 1e-12).sum()) >= 2
    if n1 < n_init and not repeated:
        more, more_in = run(n_init - n1)
        centers = np.concatenate([centers, more])
        inertia = np.concatenate([inertia, more_in])
    i = int(np.argmin(inertia))
    return centers[i].astype(np.float64), float(inertia[i])


def distinct_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``x`` (in sorted order) and, for each row of ``x``, its distinct row."""
    uniq, inverse = np.unique(x, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (0-based integer labels), from their
    contingency table by ``bincount``: equal to ``sklearn.metrics.adjusted_rand_score``,
    without its input checks (the stability analysis computes thousands)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    kb = int(b.max()) + 1
    tab = np.bincount(a * kb + b, minlength=(int(a.max()) + 1) * kb).astype(np.float64)
    n = float(len(a))
    comb = lambda v: (v * (v - 1.0)).sum() / 2.0  # noqa: E731
    sum_ij = comb(tab)
    sum_a = comb(tab.reshape(-1, kb).sum(axis=1))
    sum_b = comb(tab.reshape(-1, kb).sum(axis=0))
    total = n * (n - 1.0) / 2.0
    expected = sum_a * sum_b / total if total > 0 else 0.0
    max_index = (sum_a + sum_b) / 2.0
    if max_index == expected:
        return 1.0
    return float((sum_ij - expected) / (max_index - expected))
