"""Shared fixtures: where the public data sets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI and developers have shared/ beside the checkout; SEGMENTUM_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("SEGMENTUM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the public data sets (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"public data sets not found at {SHARED_DATA}: put shared/ beside the checkout "
            "or set SEGMENTUM_SHARED_DATA"
        )
    return SHARED_DATA
