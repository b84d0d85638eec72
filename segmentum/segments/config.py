"""The settings of the segments stage, declared once (pydantic only, light to import).

:class:`SegmentsConfig` is the ``[segments]`` table of the project file. The estimator
(:class:`~segmentum.segments.estimator.NeedsSegmenter`) and :func:`~segmentum.segments.basis.prepare_basis`
read their defaults from :data:`DEFAULT_SEGMENTS` instead of restating them, so the two
cannot drift apart. Re-exported from :mod:`segmentum.segments.stage`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SegmentsConfig(BaseModel):
    """Settings of the segments stage, the ``[segments]`` table of the project file.

    Declared once: the project file, ``segmentum settings`` and :func:`run_segments` read
    them from here (:class:`NeedsSegmenter` and :func:`prepare_basis` get them passed on).
    Bounds and closed choices are checked when the object is built, so a project file is
    checked when it loads.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_segments: int | None = Field(
        None, ge=2, description="Pin the number of segments; empty lets the evidence choose."
    )
    k_range: tuple[int, int] = Field(
        (2, 8), description="Smallest and largest number of segments to compare: [min, max]."
    )
    method: Literal["kmeans", "gmm", "lca", "kprototypes", "ensemble"] = Field(
        "kmeans", description="Segmentation method."
    )
    covariance_type: Literal["diag", "full", "tied", "spherical"] = Field(
        "diag", description="Covariance of the Gaussian mixture (method = gmm)."
    )
    n_init: int = Field(10, ge=1, description="Restarts per fit; the best is kept.")
    n_boot: int = Field(
        100, ge=0, description="Bootstrap pairs per k for stability (0 skips stability)."
    )
    n_null: int = Field(
        3,
        ge=0,
        description="Null data sets (each item permuted on its own: same answers, no "
        "association) for the structure verdict; 0 skips them (absolute thresholds only).",
    )
    min_segment_share: float = Field(
        0.05, ge=0, lt=1, description="Segments under this population share are flagged."
    )
    scale_correction: Literal["none", "center", "standardize"] = Field(
        "none", description="Per-respondent scale-use correction of rating items."
    )
    standardize: bool | Literal["auto"] = Field(
        "auto",
        description="Standardise the basis; auto standardises rating scales and keeps 0/1 "
        "items (Yes/No, dummies) as 0/1.",
    )
    reduce: Literal["pca", "fa"] | None = Field(
        None, description="Reduce the basis first: pca or fa (factor analysis); empty: no."
    )
    n_components: int | None = Field(
        None, ge=1, description="Components kept by reduce (empty: chosen from the data)."
    )
    impute: Literal["median", "mean", "none"] = Field(
        "median", description="How missing basis answers are filled."
    )
    random_state: int = Field(
        0, description="Seed; the project's seed when the project file gives none."
    )
    n_jobs: int = Field(-1, description="Parallel jobs for the stability resamples (-1: all).")

    @field_validator("k_range")
    @classmethod
    def _ordered_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if lo < 2 or hi < lo:
            raise ValueError(
                f"k_range must be [min, max] with 2 <= min <= max, got [{lo}, {hi}]; "
                f"for example k_range = [{max(2, min(lo, hi))}, {max(lo, hi, 2)}]"
            )
        return value


DEFAULT_SEGMENTS = SegmentsConfig()
"""The default settings; estimator and basis signatures read their defaults from it."""
