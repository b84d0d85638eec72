"""Sources, column roles and validated ingest (stage 1 of the flow)."""

from segmentum.data.errors import DataError, Problem, ProjectError, SegmentumError, StageError
from segmentum.data.ingest import Ingested, IngestedTable, ingest
from segmentum.data.project import ProjectConfig, load_config

__all__ = [
    "DataError",
    "Ingested",
    "IngestedTable",
    "Problem",
    "ProjectConfig",
    "ProjectError",
    "SegmentumError",
    "StageError",
    "ingest",
    "load_config",
]
