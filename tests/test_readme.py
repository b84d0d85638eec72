"""The README's Python tour runs as written (on a small demo and the shared data sets)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from segmentum.demo.project import write_demo_project

ROOT = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_tour_runs(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 4
    demo = tmp_path / "segmentum-demo"
    demo.mkdir()
    write_demo_project(demo, n_customers=3_000, n_respondents=1_200)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        code = block.replace("../shared/data", os.fspath(shared_data))
        exec(compile(code, "README.md", "exec"), namespace)  # the README's own code
    # the figures the README quotes are the ones the code gives
    params = namespace["bgnbd"].params_  # type: ignore[attr-defined]
    assert round(params["r"], 3) == 0.243 and round(params["alpha"], 3) == 4.414
    assert round(namespace["bgnbd"].log_likelihood_, 1) == -9582.4  # type: ignore[attr-defined]
    assert namespace["result"].run_dir.is_dir()  # type: ignore[attr-defined]
