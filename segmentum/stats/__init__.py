"""Weighted statistics and label/weight alignment shared by every stage.

Public API: weighted means and variances with Kish's effective sample size
(:func:`weighted_mean`, :func:`weighted_var`, :func:`effective_n`), segment-against-rest
tests (:func:`welch_test`, :func:`proportion_test`, :func:`chi2_association`),
Benjamini-Hochberg adjustment (:func:`bh_adjust`), and the alignment of labels and weights
to a survey table (:func:`align_labels`, :func:`align_weights`, :func:`classify`).

This package imports no other part of segmentum, so every stage may use it.
"""

from segmentum.stats.align import Kind, align_labels, align_weights, classify
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
    "Kind",
    "align_labels",
    "align_weights",
    "bh_adjust",
    "chi2_association",
    "classify",
    "effective_n",
    "proportion_test",
    "weighted_mean",
    "weighted_var",
    "welch_test",
]
