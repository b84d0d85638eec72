"""The valuation stage in a real run of the demo project (the shared one the web app's tests
serve): the Contract's names, end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app


@dataclass(frozen=True)
class FinishedRun:
    """What these tests read of a finished run: its folder, survey and report sections."""

    run_dir: Path
    manifest: dict[str, Any]
    survey: pd.DataFrame
    section_keys: list[str]


@pytest.fixture(scope="module")
def demo_run(app_demo: Path) -> tuple[Path, FinishedRun]:
    """The shared demo project's run (:func:`conftest.app_demo`: 3,000 customers, 1,200
    respondents, every stage), read from its folder; nothing here writes to it."""
    (run_dir,) = sorted(p for p in (app_demo / "runs").iterdir() if p.is_dir())
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return app_demo, FinishedRun(
        run_dir,
        json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")),
        pd.read_parquet(app_demo / "data" / "survey.parquet"),
        [s["key"] for s in report["sections"]],
    )


def test_every_row_has_a_segment_and_its_source(demo_run) -> None:
    _, result = demo_run
    assert result.manifest["stages"]["valuation"]["status"] == "ran"
    a = pd.read_parquet(result.run_dir / "assignments.parquet")
    assert a["segment"].notna().all() and pd.api.types.is_integer_dtype(a["segment"])
    assert a["segment_probability"].between(0, 1).all()
    assert set(a["segment_source"]) == {"survey", "projected"}
    assert (a.loc[a["respondent_id"].notna(), "segment_source"] == "survey").all()
    assert (a.loc[a["respondent_id"].isna(), "segment_source"] == "projected").all()
    assert a["customer_id"].dropna().is_unique and a["respondent_id"].dropna().is_unique


def test_segments_json_and_model_files(demo_run) -> None:
    _, result = demo_run
    js = json.loads((result.run_dir / "segments.json").read_text())
    assert {"accuracy", "chance", "n_train"} <= set(js["projection"])
    assert js["projection"]["accuracy"] > js["projection"]["chance"]
    ranks = []
    for entry in js["segments"]:
        assert "name" in entry and "defining_needs" in entry  # the profiles' entry, kept
        pr = entry["priority"]
        assert {"rank", "attractiveness", "competitiveness", "knocked_out", "p_first",
                "p_top2"} <= set(pr)  # fmt: skip
        assert pr["competitiveness"] is not None  # our_brand declared
        assert {"revenue", "clv_per_head", "population_share"} <= set(entry["valuation"])
        ranks.append(pr["rank"])
    assert sorted(ranks) == list(range(1, len(ranks) + 1))
    assert js["where_to_play"]["sentence"].startswith("Target ")
    tool = json.loads((result.run_dir / "model" / "typing_tool.json").read_text())
    assert tool["items"] and set(tool["items"]) <= set(result.survey.columns)
    assert 0 < tool["accuracy"] <= 1 and tool["target"] == 0.85
    assert (result.run_dir / "model" / "typing_tool.xlsx").is_file()
    keys = result.section_keys
    assert keys[-2:] == ["valuation", "activation"]  # the activation stage follows (issue 13)
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Where to play" in html
    assert escape(js["where_to_play"]["sentence"][:60]) in html


def test_score_the_survey_from_the_run_folder(demo_run, tmp_path: Path) -> None:
    folder, result = demo_run
    survey = result.survey
    answers = tmp_path / "answers.csv"
    survey.to_csv(answers, index=False)
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(
        app, ["score", str(result.run_dir), "--answers", str(answers), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out)
    assert list(scored.columns) == [
        "respondent_id", "segment", "segment_name", "segment_probability", "unclassifiable",
    ]  # fmt: skip
    a = pd.read_parquet(result.run_dir / "assignments.parquet").dropna(subset=["respondent_id"])
    full = a.set_index("respondent_id").loc[scored["respondent_id"].astype(str), "segment"]
    agree = float((full.to_numpy() == scored["segment"].to_numpy()).mean())
    tool = json.loads((result.run_dir / "model" / "typing_tool.json").read_text())
    assert agree >= tool["accuracy"] - 0.02  # own answers: about the held-out figure or better
    # a project folder finds its newest run
    res2 = CliRunner().invoke(
        app, ["score", str(folder), "--answers", str(answers), "--out", str(tmp_path / "b.csv")]
    )
    assert res2.exit_code == 0, res2.output
    res3 = CliRunner().invoke(
        app,
        ["score", str(folder / "segmentum.toml"), "--answers", str(answers),
         "--out", str(tmp_path / "c.csv")],
    )  # fmt: skip
    assert res3.exit_code == 0, res3.output
    assert pd.read_csv(tmp_path / "c.csv").equals(scored)


def test_projected_sizes_cover_the_planted_sizes(demo_run) -> None:
    """Adjusted classify-and-count over the whole base against the planted customer shares
    (segments matched to planted names through the respondents)."""
    folder, result = demo_run
    a = pd.read_parquet(result.run_dir / "assignments.parquet")
    truth = pd.read_parquet(folder / "truth.parquet")
    resp = a.dropna(subset=["respondent_id"]).merge(
        truth.dropna(subset=["respondent_id"]), on="respondent_id", suffixes=("", "_truth")
    )
    to_name = pd.crosstab(resp["segment"], resp["segment_truth"]).idxmax(axis=1)
    assert to_name.is_unique  # one planted segment per found segment
    planted = truth.dropna(subset=["customer_id"])["segment"].value_counts(normalize=True).to_dict()
    js = json.loads((result.run_dir / "segments.json").read_text())
    adjusted = js["projection"]["adjusted_sizes"]
    misses = []
    for seg, row in adjusted.items():
        share = planted[to_name[int(seg)]]
        # the interval, widened by 2 points for the survey segments' own errors
        if not row["low"] - 0.02 <= share <= row["high"] + 0.02:
            misses.append((seg, share, row))
    assert not misses, misses
