"""Stage settings are declared once (one pydantic model per stage) and checked at load.

Every project here points at a survey file that does not exist: an error about the file
(exit 3) would mean the data were read before the settings were checked.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.registry import STAGES
from segmentum.segments import NeedsSegmenter, prepare_basis
from segmentum.segments.stage import SegmentsConfig

SOURCES = '[sources.survey]\npath = "no_such_survey.csv"\nbasis = ["q1", "q2"]\n'


def project(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "segmentum.toml"
    path.write_text('[project]\nname = "settings"\n\n' + SOURCES + "\n" + tables, encoding="utf-8")
    return path


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("tables", "key", "suggestion"),
    [
        ("[value]\ntime_unti = 'D'\n", "time_unti", "time_unit"),
        ("[value.cost]\ncost_per_ordr = 1.0\n", "cost_per_ordr", "cost_per_order"),
        ("[segments]\nk_rang = [2, 5]\n", "k_rang", "k_range"),
        ("[profiles]\nalpah = 0.1\n", "alpah", "alpha"),
        ("[maps]\nn_theme = 4\n", "n_theme", "n_themes"),
        ("[project]\nsed = 3\n", "sed", "seed"),
    ],
)
def test_unknown_key_is_exit_2_at_load_with_a_suggestion(
    tmp_path: Path, tables: str, key: str, suggestion: str
) -> None:
    text = tables
    if tables.startswith("[project]"):  # replace the project table rather than repeat it
        path = tmp_path / "segmentum.toml"
        path.write_text(tables + "\n" + SOURCES, encoding="utf-8")
    else:
        path = project(tmp_path, text)
    code, output = validate(path)
    assert code == 2, output
    assert f"'{key}'" in output and f"Did you mean '{suggestion}'" in output, output
    assert "no_such_survey" not in output  # the data were not read


def test_stage_tables_name_their_valid_keys(tmp_path: Path) -> None:
    code, output = validate(project(tmp_path, "[maps]\nmethd = 'pca'\n"))
    assert code == 2
    assert "[maps] unknown key 'methd'" in output
    assert "Valid keys: method, n_themes, themes_method" in output, output


def test_a_table_keyed_by_offer_names_its_entries_valid_keys(tmp_path: Path) -> None:
    """``[activation.offer_covariates]`` is keyed by offer id: a typo inside an entry names
    the entry's keys (it said "Valid keys: ." before)."""
    entry = "[activation.offer_covariates.home_bundle]\ncovariate = 'home_bundle'\nvaleu = true\n"
    code, output = validate(project(tmp_path, entry))
    assert code == 2, output
    assert "[activation.offer_covariates.home_bundle.valeu] unknown key 'valeu'" in output
    assert "Did you mean 'value'? Valid keys: covariate, value, process." in output, output


def test_k_range_backwards_is_exit_2_at_load(tmp_path: Path) -> None:
    code, output = validate(project(tmp_path, "[segments]\nk_range = [5, 2]\n"))
    assert code == 2, output
    assert "k_range" in output and "[5, 2]" in output


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        ("[segments]\nmethod = 'kmean'\n", "segments.method"),
        ("[segments]\nn_init = 0\n", "segments.n_init"),
        ("[value]\nrfm_bins = 12\n", "value.rfm_bins"),
        ("[maps]\nthemes_method = 'lda'\n", "maps.themes_method"),
        ("[profiles]\nalpha = 1.5\n", "profiles.alpha"),
    ],
)
def test_bad_values_are_exit_2_at_load(tmp_path: Path, tables: str, named: str) -> None:
    code, output = validate(project(tmp_path, tables))
    assert code == 2, output
    assert named in output, output


def test_map_keys_under_profiles_say_where_they_moved(tmp_path: Path) -> None:
    code, output = validate(project(tmp_path, "[profiles]\nmap_method = 'pca'\n"))
    assert code == 2, output
    assert "[maps] method" in output


def test_good_settings_pass_load_and_reach_the_data_check(tmp_path: Path) -> None:
    tables = "[segments]\nk_range = [2, 5]\n\n[maps]\nmethod = 'pca'\n\n[profiles]\nalpha = 0.1\n"
    code, output = validate(project(tmp_path, tables))
    assert code == 3, output  # past the settings: now the missing survey file is the error
    assert "no_such_survey" in output


def test_settings_command_lists_every_stage_setting() -> None:
    result = CliRunner().invoke(app, ["settings"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for stage in STAGES:
        assert stage.settings is not None
        assert f"[{stage.name}]" in result.output
        for key in stage.settings.model_fields:
            assert key in result.output, (stage.name, key)


def test_settings_json_is_generated_from_the_models() -> None:
    result = CliRunner().invoke(app, ["settings", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_key = {(r["table"], r["key"]): r for r in rows}
    for stage in STAGES:
        assert stage.settings is not None
        for key, info in stage.settings.model_fields.items():
            row = by_key.pop((stage.name, key))
            assert row["help"] == info.description and row["help"], (stage.name, key)
    project = {k: r for (t, k), r in by_key.items() if t == "project"}
    assert set(project) == {
        "name",
        "seed",
        "analysis_date",
        "runs_dir",
        "allow_outside",
        "on_bad_rows",
        "engine",
    }
    from segmentum.report.format import ReportSettings

    report = {k for (t, k) in by_key if t == "report"}  # [report]: labels, currency (issue 15)
    assert report == set(ReportSettings.model_fields)
    spark = {k for (t, k) in by_key if t == "spark"}  # [spark]: the session (issue 17)
    assert spark == {"master", "config"}
    # nothing listed that no model declares
    assert len(by_key) == len(project) + len(report) + len(spark)
    k_range = next(r for r in rows if r["key"] == "k_range")
    assert k_range["default"] == [2, 8]


def test_estimator_and_basis_defaults_agree_with_the_segments_settings() -> None:
    config = SegmentsConfig()
    estimator = inspect.signature(NeedsSegmenter).parameters
    for key in (
        "k_range",
        "method",
        "covariance_type",
        "n_init",
        "n_boot",
        "min_segment_share",
        "scale_correction",
        "n_jobs",
    ):
        assert estimator[key].default == getattr(config, key), key
    basis = inspect.signature(prepare_basis).parameters
    for key in ("scale_correction", "reduce", "n_components", "impute"):
        assert basis[key].default == getattr(config, key), key


def test_typing_tool_defaults_agree_with_the_valuation_settings() -> None:
    from segmentum.valuation import ValuationConfig
    from segmentum.valuation.typing_tool import build_typing_tool

    config = ValuationConfig()
    params = inspect.signature(build_typing_tool).parameters
    pairs = {
        "target": "target_accuracy",
        "method": "typing_method",
        "threshold": "unclassifiable_below",
        "random_state": "random_state",
    }
    for arg, key in pairs.items():
        assert params[arg].default == getattr(config, key), arg
