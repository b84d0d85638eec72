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


# A small demo project with one finished run (every stage, activation included), built
# once per test session and shared by all xdist workers; tests must not add runs to it
# (copy it first). The web app's tests serve it.
APP_DEMO_CUSTOMERS = 3_000
APP_DEMO_RESPONDENTS = 1_200


@pytest.fixture(scope="session")
def app_demo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Folder of the shared demo project (``segmentum.toml``, ``runs/<one run>``)."""
    import subprocess
    import sys

    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker
        root = root.parent  # the folder all workers share
    folder = root / "app-demo"
    with FileLock(str(root / "app-demo.lock")):
        if not (folder / "done").is_file():
            result = subprocess.run(
                [sys.executable, "-m", "segmentum", "demo", str(folder),
                 "--customers", str(APP_DEMO_CUSTOMERS),
                 "--respondents", str(APP_DEMO_RESPONDENTS)],
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr
            (folder / "done").write_text("ok")
    return folder
