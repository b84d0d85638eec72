"""Kept for old imports: the weighted tests now live in :mod:`segmentum.stats`."""

from segmentum.stats.weighted import (
    GroupTest,
    bh_adjust,
    chi2_association,
    effective_n,
    proportion_test,
    weighted_mean,
    weighted_var,
    welch_test,
)

__all__ = [
    "GroupTest",
    "bh_adjust",
    "chi2_association",
    "effective_n",
    "proportion_test",
    "weighted_mean",
    "weighted_var",
    "welch_test",
]
