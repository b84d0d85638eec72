"""The segments stage's files under a run's ``model/`` folder, all of them data.

* ``segments_model.json`` + ``segments_model.npz``: the scoring model
  (:class:`~segmentum.segments.stage.SegmentsModel`), written by
  :mod:`segmentum.model_store`; only the classes in :data:`TRUSTED_TYPES` are rebuilt.
* ``segments_previous.parquet``: each respondent's segment (what the next run matches on).
* ``segments_centroids.parquet``: mean answer per segment and basis item.

The next run reads only the two Parquet files, and only from a run folder whose manifest
checksums match (:func:`segmentum.runs.verify_run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from segmentum import model_store

MODEL = "segments_model"
PREVIOUS = "segments_previous.parquet"
CENTROIDS = "segments_centroids.parquet"

# Every class a fitted SegmentsModel holds, by name. A class missing here makes saving fail
# with its name (tests round-trip every method); add it only if it is plain data.
TRUSTED_TYPES: tuple[str, ...] = (
    "segmentum.segments.stage.SegmentsModel",
    "segmentum.segments.estimator.NeedsSegmenter",
    "segmentum.segments.basis.BasisTransformer",
    "segmentum.segments.basis.PreparedBasis",
    "segmentum.segments.basis._ItemSpec",
    "segmentum.segments._methods.BasisData",
    "segmentum.segments._methods.KMeansFit",
    "segmentum.segments._methods.GMMFit",
    "segmentum.segments._methods.LCAFit",
    "segmentum.segments._methods.KPrototypesFit",
    "segmentum.segments._methods.EnsembleFit",
    "segmentum.segments._methods.WeightedGaussianMixture",
    "segmentum.segments.lca.LCAResult",
    "segmentum.segments.structure.Choice",
    "sklearn.mixture._gaussian_mixture.GaussianMixture",
    "sklearn.decomposition._pca.PCA",
    "sklearn.decomposition._factor_analysis.FactorAnalysis",
)


def save_segments(result: Any, model_dir: Path) -> list[Path]:
    """Write the scoring model and what the next run needs to keep segment numbers put."""
    written = model_store.dump(result.model, model_dir, MODEL, trusted=TRUSTED_TYPES)
    id_column = result.assignments.columns[0]
    previous = result.assignments[[id_column, "segment"]].copy()
    previous.to_parquet(model_dir / PREVIOUS, index=False)
    centroids = result.centroids.copy()
    centroids.columns = [str(c) for c in centroids.columns]
    centroids.index = pd.Index([int(i) for i in centroids.index], name="segment")
    centroids.reset_index().to_parquet(model_dir / CENTROIDS, index=False)
    return [*written, model_dir / PREVIOUS, model_dir / CENTROIDS]


def load_previous(run_dir: Path) -> dict[str, Any] | None:
    """Memberships and centroids of an earlier run (``None`` when it has none).

    Reads Parquet only. The caller checks the run folder first (manifest checksums).
    """
    model_dir = run_dir / "model"
    out: dict[str, Any] = {}
    if (model_dir / PREVIOUS).is_file():
        out["assignments"] = pd.read_parquet(model_dir / PREVIOUS)
    if (model_dir / CENTROIDS).is_file():
        out["centroids"] = pd.read_parquet(model_dir / CENTROIDS).set_index("segment")
    return out or None


def load_model(run_dir: Path) -> Any:
    """The run's scoring model (:class:`~segmentum.segments.stage.SegmentsModel`).

    >>> model = load_model(Path("runs/20261123-051502.347-3fa9"))  # doctest: +SKIP
    >>> model.predict(new_answers)  # doctest: +SKIP
    """
    return model_store.load(run_dir / "model", MODEL, trusted=TRUSTED_TYPES)
