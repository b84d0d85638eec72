"""Sources, column roles and validated ingest (stage 1 of the flow).

The ingest (DuckDB) loads on first use of :func:`ingest`, :class:`Ingested` or
:class:`IngestedTable`, so the project-file schema and the errors stay light to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segmentum.data.errors import DataError, Problem, ProjectError, SegmentumError, StageError
from segmentum.data.project import ProjectConfig, load_config

if TYPE_CHECKING:
    from segmentum.data.ingest import Ingested, IngestedTable, ingest

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


def __getattr__(name: str) -> Any:
    if name in ("Ingested", "IngestedTable", "ingest"):
        return getattr(importlib.import_module("segmentum.data.ingest"), name)
    raise AttributeError(f"module 'segmentum.data' has no attribute {name!r}")
