"""Data that pass ingest but that a stage cannot use: a clear error naming the column or
setting (exit code 4), never a traceback, and no run folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app


def survey_project(tmp_path: Path, frame: pd.DataFrame, segments: str = "") -> Path:
    frame.to_csv(tmp_path / "survey.csv", index=False)
    basis = [c for c in frame.columns if c.startswith("q")]
    (tmp_path / "segmentum.toml").write_text(
        '[sources.survey]\npath = "survey.csv"\nid = "respondent_id"\n'
        f"basis = {basis!r}\n\n[segments]\nn_boot = 5\n{segments}".replace("'", '"')
    )
    return tmp_path / "segmentum.toml"


def likert(n: int, items: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.integers(1, 8, size=(n, items)), columns=[f"q{i}" for i in range(items)]
    )
    frame.insert(0, "respondent_id", [f"R{i}" for i in range(n)])
    return frame


def fails(project_file: Path, *expected: str) -> None:
    result = CliRunner().invoke(app, ["run", str(project_file)])
    assert result.exit_code == 4, result.output
    flat = " ".join((result.output + result.stderr).split())
    for text in expected:
        assert text in flat, f"{text!r} not in {flat!r}"
    assert not [p for p in (project_file.parent / "runs").glob("2*")]


def test_constant_basis_item(tmp_path: Path) -> None:
    frame = likert(200)
    frame["q3"] = 4
    fails(survey_project(tmp_path, frame), "segments stage", "q3")


def test_fewer_respondents_than_segments(tmp_path: Path) -> None:
    fails(survey_project(tmp_path, likert(6), "n_segments = 8\n"), "segments stage")


def test_too_few_respondents_per_segment_is_flagged(tmp_path: Path) -> None:
    project_file = survey_project(tmp_path, likert(40), "n_segments = 8\n")
    result = CliRunner().invoke(app, ["run", str(project_file)])
    assert result.exit_code == 0, result.output
    report = next((tmp_path / "runs").glob("2*/report.html")).read_text()
    assert "only 40 respondents for 8 segments" in report


def test_mixed_labels_in_a_basis_column(tmp_path: Path) -> None:
    frame = likert(100)
    frame["q5"] = np.where(np.arange(100) % 3 == 0, "Yes", "No")
    frame.loc[7, "q5"] = "maybe"
    project_file = survey_project(tmp_path, frame)
    result = CliRunner().invoke(app, ["run", str(project_file)])
    # three labels are a categorical item, not an error: the run goes through
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("k_range", ["[1, 3]", "[5, 2]"])
def test_k_range_that_cannot_be_fitted(tmp_path: Path, k_range: str) -> None:
    project_file = survey_project(tmp_path, likert(100), f"k_range = {k_range}\n")
    result = CliRunner().invoke(app, ["run", str(project_file)])
    assert result.exit_code in (2, 4), result.output
    assert "k_range" in " ".join((result.output + result.stderr).split())
