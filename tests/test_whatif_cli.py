"""``segmentum whatif``: the README's scenario runs on a small demo project."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.demo.project import write_demo_project

ROOT = Path(__file__).resolve().parents[1]


def readme_scenario() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [
        b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL) if "[[change]]" in b
    ]
    assert len(blocks) == 1
    return blocks[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("whatif-demo")
    toml = write_demo_project(folder, n_customers=2_000, n_respondents=800)
    text = (
        toml.read_text(encoding="utf-8")
        .replace("n_boot = 50", "n_boot = 5")
        .replace("k_range = [2, 8]", "k_range = [4, 6]")
    )
    toml.write_text(text, encoding="utf-8")
    return toml


def test_readme_scenario_runs(demo: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(readme_scenario().replace("draws = 100", "draws = 30"), encoding="utf-8")
    out = tmp_path / "whatif.csv"
    result = CliRunner().invoke(
        app, ["whatif", str(demo), "--scenario", str(scenario), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"segment": str})
    assert list(table.columns) == [
        "segment", "customers", "clv_before", "clv_after", "difference", "low", "high",
    ]  # fmt: skip
    assert table["segment"].iloc[-1] == "total"
    body, total = table.iloc[:-1], table.iloc[-1]
    assert total["customers"] == body["customers"].sum()
    assert total["difference"] == pytest.approx(body["difference"].sum())
    assert (table["low"] <= table["difference"] + 1e-9).all()
    assert (table["difference"] <= table["high"] + 1e-9).all()
    seg4 = table.set_index("segment").loc["4"]
    assert seg4["difference"] != 0


def test_unknown_covariate_is_a_clear_error(demo: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(
        '[model]\ndropout_covariates = ["payment_plan"]\ndraws = 0\n\n'
        '[[change]]\nsegment = 2\ncovariate = "loyalty_card"\nvalue = 1\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["whatif", str(demo), "--scenario", str(scenario), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "bad.toml" in flat and "change[0].covariate" in flat
    assert "valid covariates are ['payment_plan']" in flat and "[model]" in flat
    bad_key = tmp_path / "typo.toml"
    bad_key.write_text("[[change]]\nretension = 0.1\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["whatif", str(demo), "--scenario", str(bad_key), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    assert "change[0].retension" in " ".join(result.output.split())


# issue 13 scenarios: a declared scenario file is checked when the project loads
def _declare(project: Path, scenario: str) -> Path:
    text = project.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("scenarios = "))
    copy = project.with_name("declared.toml")
    copy.write_text(text.replace(line, f"scenarios = [{scenario!r}]"), encoding="utf-8")
    return copy


def test_validate_refuses_a_bad_declared_scenario(demo: Path) -> None:
    bad = demo.parent / "scenarios" / "bad.toml"
    bad.write_text(
        '[model]\ndropout_covariates = ["payment_plan"]\n\n'
        '[[change]]\nsegment = 2\ncovariate = "loyalty_card"\nvalue = 1\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(_declare(demo, "scenarios/bad.toml"))])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "bad.toml" in flat and "change[0].covariate" in flat
    assert "valid covariates are ['payment_plan']" in flat
    typo = demo.parent / "scenarios" / "typo.toml"
    typo.write_text("[[change]]\nretension = 0.1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(_declare(demo, "scenarios/typo.toml"))])
    assert result.exit_code == 2, result.output
    assert "typo.toml" in result.output and "change[0].retension" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["validate", str(_declare(demo, "../outside.toml"))])
    assert result.exit_code == 2, result.output
    assert "scenarios[0]" in result.output


def test_validate_accepts_the_demo_scenario(demo: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(demo)])
    assert result.exit_code == 0, result.output
