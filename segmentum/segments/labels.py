"""Labels that stay put: canonical numbering and matching to a previous run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def canonical_order(
    labels: np.ndarray, centers: np.ndarray | None, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Permutation ``perm`` so that ``perm[raw] = canonical`` (0-based).

    Segments are ordered by size (weighted when ``weights`` are given), largest first; ties
    are broken by the centroid, compared lexicographically (then by the raw label), so the
    order never depends on the order in which an algorithm happened to find the segments.
    """
    sizes = np.round(np.bincount(labels, weights=weights, minlength=k), 9)
    keys = []
    for c in range(k):
        cen = tuple(np.round(centers[c], 10)) if centers is not None else ()
        keys.append((-float(sizes[c]), cen, c))
    order = sorted(range(k), key=lambda c: keys[c])
    perm = np.empty(k, dtype=np.int64)
    perm[np.asarray(order)] = np.arange(k)
    return perm


@dataclass(frozen=True)
class LabelMatch:
    """How new segments were matched to a previous run's.

    Attributes
    ----------
    mapping : dict
        New segment number → previous segment number it takes over (new segments with no
        counterpart get fresh numbers after the previous ones).
    quality : pandas.DataFrame
        One row per new segment: ``segment`` (new number after matching), ``previous``
        (matched old number or NaN), ``similarity`` (cosine-type agreement in [0, 1] for
        memberships, or ``1 / (1 + distance)`` for centroids), ``distance``.
    mean_similarity : float
        Mean similarity of matched pairs; near 1 means the same segments came back.
    """

    mapping: dict[int, int]
    quality: pd.DataFrame
    mean_similarity: float


def match_labels(
    new: np.ndarray,
    old: np.ndarray,
    *,
    new_ids: list[int] | None = None,
    old_ids: list[int] | None = None,
    kind: str = "centroids",
) -> LabelMatch:
    """Match new segments to old ones by Hungarian assignment.

    Parameters
    ----------
    new, old : ndarray
        ``kind="centroids"``: segment × item centroid matrices in the same units;
        ``kind="memberships"``: row × segment membership (probability or one-hot) matrices
        for the *same* respondents.
    new_ids, old_ids : list of int or None
        Segment numbers of the rows (centroids) or columns (memberships); default 1..k.
    kind : {"centroids", "memberships"}, default="centroids"

    Returns
    -------
    LabelMatch

    Examples
    --------
    >>> import numpy as np
    >>> old = np.array([[0.0, 0.0], [5.0, 5.0]])
    >>> new = np.array([[5.1, 4.9], [0.1, 0.0]])
    >>> match_labels(new, old).mapping
    {1: 2, 2: 1}
    """
    new = np.asarray(new, dtype=float)
    old = np.asarray(old, dtype=float)
    if kind == "centroids":
        if new.shape[1] != old.shape[1]:
            raise ValueError(
                f"centroids have {new.shape[1]} and {old.shape[1]} items; match on the same basis"
            )
        dist = np.sqrt(((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
        scale = np.sqrt(np.mean(np.var(np.vstack([new, old]), axis=0)) * new.shape[1]) or 1.0
        sim = 1.0 / (1.0 + dist / scale)
        cost = dist
    elif kind == "memberships":
        if new.shape[0] != old.shape[0]:
            raise ValueError("memberships must be for the same respondents (same rows)")
        # Jaccard-type overlap of (soft) memberships
        inter = new.T @ old
        union = new.sum(axis=0)[:, None] + old.sum(axis=0)[None, :] - inter
        sim = inter / np.maximum(union, 1e-12)
        dist = 1.0 - sim
        cost = -sim
    else:
        raise ValueError(f"kind={kind!r}; choose 'centroids' or 'memberships'")
    k_new = new.shape[0] if kind == "centroids" else new.shape[1]
    k_old = old.shape[0] if kind == "centroids" else old.shape[1]
    new_ids = list(new_ids) if new_ids is not None else list(range(1, k_new + 1))
    old_ids = list(old_ids) if old_ids is not None else list(range(1, k_old + 1))
    rows, cols = linear_sum_assignment(cost)
    mapping: dict[int, int] = {}
    for r, c in zip(rows, cols, strict=True):
        mapping[new_ids[r]] = old_ids[c]
    nxt = max(old_ids) + 1 if old_ids else 1
    for i in range(k_new):
        if new_ids[i] not in mapping:
            mapping[new_ids[i]] = nxt
            nxt += 1
    recs = []
    matched = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    for i in range(k_new):
        j = matched.get(i)
        recs.append(
            {
                "new": new_ids[i],
                "segment": mapping[new_ids[i]],
                "previous": old_ids[j] if j is not None else np.nan,
                "similarity": float(sim[i, j]) if j is not None else np.nan,
                "distance": float(dist[i, j]) if j is not None else np.nan,
            }
        )
    quality = pd.DataFrame(recs)
    mean_sim = float(np.nanmean(quality["similarity"])) if len(quality) else float("nan")
    return LabelMatch(dict(sorted(mapping.items())), quality, mean_sim)
