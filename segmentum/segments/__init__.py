"""The ``segments`` stage: needs-based segmentation with the number of segments chosen by
stability, labels that stay put, and the evidence for the report.

Public API: :func:`prepare_basis` (check and prepare the basis), :class:`NeedsSegmenter`
(k-means, Gaussian mixtures, latent class, k-prototypes, consensus ensemble; stability-led
choice of k), :func:`match_labels` (keep segment numbers across runs), :func:`fit_lca`
(latent class EM), and the stage entry points :func:`run_segments` and
:func:`report_section`.
"""

from __future__ import annotations

from segmentum.segments.basis import BasisTransformer, PreparedBasis, prepare_basis
from segmentum.segments.estimator import NeedsSegmenter
from segmentum.segments.labels import LabelMatch, match_labels
from segmentum.segments.lca import LCAResult, fit_lca, lca_log_likelihood
from segmentum.segments.stage import (
    SegmentsConfig,
    SegmentsModel,
    SegmentsResult,
    report_section,
    run_segments,
)

__all__ = [
    "BasisTransformer",
    "LCAResult",
    "LabelMatch",
    "NeedsSegmenter",
    "PreparedBasis",
    "SegmentsConfig",
    "SegmentsModel",
    "SegmentsResult",
    "fit_lca",
    "lca_log_likelihood",
    "match_labels",
    "prepare_basis",
    "report_section",
    "run_segments",
]
