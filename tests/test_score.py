"""Scoring new people: ``segmentum.score`` and ``segmentum score`` (contract, bad rows, speed)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import segmentum
from segmentum.cli.main import app
from segmentum.data.errors import DataError
from segmentum.valuation.export import save_typing_tool
from segmentum.valuation.score import SCORE_COLUMNS
from segmentum.valuation.typing_tool import build_typing_tool


@pytest.fixture(scope="module")
def survey_and_run(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray, Path, object]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, size=300)
    centres = np.array([[1, 7, 2, 5], [7, 1, 5, 2], [4, 4, 7, 7]])
    ans = np.clip(np.rint(centres[y] + rng.normal(0, 1.0, (300, 4))), 1, 7).astype(int)
    survey = pd.DataFrame(ans, columns=["q_a", "q_b", "q_c", "q_d"])
    survey.insert(0, "respondent_id", [f"R{i:04d}" for i in range(300)])
    labels = y + 1
    result = build_typing_tool(
        survey[["q_a", "q_b", "q_c", "q_d"]],
        labels,
        method="lda",
        target=0.9,
        segment_names={1: "Agent lovers", 2: "Online", 3: "Bundlers"},
        id_column="respondent_id",
    )
    run = tmp_path_factory.mktemp("run")
    (run / "model").mkdir()
    save_typing_tool(result.tool, run / "model" / "typing_tool.json")
    return survey, labels, run, result


def test_cli_scores_the_survey_back(survey_and_run, tmp_path: Path) -> None:
    survey, labels, run, result = survey_and_run
    answers = tmp_path / "new.csv"
    survey.to_csv(answers, index=False)
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(app, ["score", str(run), "--answers", str(answers), "--out", str(out)])
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["respondent_id", *SCORE_COLUMNS]
    assert (scored["respondent_id"] == survey["respondent_id"]).all()
    agree = float((scored["segment"].to_numpy() == labels).mean())
    assert agree >= result.accuracy  # the survey's own answers: at least the held-out figure
    names = {1: "Agent lovers", 2: "Online", 3: "Bundlers"}
    assert (scored["segment_name"] == scored["segment"].map(names)).all()
    assert (scored["unclassifiable"] == (scored["segment_probability"] < 0.5)).all()
    # refuses to overwrite
    again = CliRunner().invoke(
        app, ["score", str(run), "--answers", str(answers), "--out", str(out)]
    )
    assert again.exit_code == 2


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (lambda f, q: f.drop(columns=[q[-1]]), ["column '{last}'", "missing"]),
        (lambda f, q: f.assign(**{q[0]: f[q[0]].where(f.index != 4, 9)}),
         ["row 5 (line 6)", "'{first}'", "'9'"]),
        (lambda f, q: f.assign(**{q[-1]: f[q[-1]].astype(object).where(f.index != 2, None)}),
         ["row 3", "'{last}'", "no answer"]),
        (lambda f, q: f.assign(**{q[0]: f[q[0]].astype(object).where(f.index != 0, "often")}),
         ["row 1", "'{first}'", "not a number"]),
        (lambda f, q: f.iloc[:0], ["empty"]),
    ],
)  # fmt: skip
def test_bad_rows_exit_3_naming_row_and_column(
    survey_and_run, tmp_path: Path, edit, expect
) -> None:
    survey, _, run, result = survey_and_run
    q = list(result.tool.items)
    answers = tmp_path / "bad.csv"
    edit(survey.head(10).copy(), q).to_csv(answers, index=False)
    expect = [e.format(first=q[0], last=q[-1]) for e in expect]
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(app, ["score", str(run), "--answers", str(answers), "--out", str(out)])
    assert res.exit_code == 3, res.output
    text = " ".join(res.output.split())
    for piece in [str(answers.name), *expect]:
        assert piece in text
    assert not out.exists()  # nothing half-written, nothing guessed


def test_truly_empty_file(survey_and_run, tmp_path: Path) -> None:
    _, _, run, _ = survey_and_run
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        segmentum.score(run, empty)


def test_python_api_one_person_under_a_millisecond(survey_and_run) -> None:
    survey, _, _, result = survey_and_run
    tool = result.tool
    person = {c: int(survey[c].iloc[0]) for c in tool.items}
    first = segmentum.score(tool, person)
    assert set(first) == {"respondent_id", *SCORE_COLUMNS}
    assert first["segment"] == int(tool.predict(survey[list(tool.items)].to_numpy()[:1])[0])
    with pytest.raises(DataError, match="outside the answer scale"):
        segmentum.score(tool, {**person, tool.items[0]: 11})
    n = 300
    per = []
    for _ in range(3):  # best of three batches: a busy machine only slows some of them
        t0 = time.perf_counter()
        for _ in range(n):
            segmentum.score(tool, person)
        per.append((time.perf_counter() - t0) / n)
    assert min(per) < 1e-3, f"{min(per) * 1e3:.2f} ms per person"


def test_one_person_and_a_table_name_the_same_scale(survey_and_run) -> None:
    """The one-person fast path says what the item accepts, as the table path does (it said
    "an answer on the item's scale")."""
    survey, _, _, result = survey_and_run
    tool = result.tool
    item = tool.items[0]
    person = {c: int(survey[c].iloc[0]) for c in tool.items}
    for bad, reason in ((11, "outside the answer scale"), ("often", "not a number")):
        with pytest.raises(DataError) as one:
            segmentum.score(tool, {**person, item: bad})
        with pytest.raises(DataError) as table:
            segmentum.score(tool, pd.DataFrame([{**person, item: bad}]))
        (p1,), (pt,) = one.value.problems, table.value.problems
        assert (p1.row, p1.column, p1.reason) == (1, item, reason)
        assert p1.expected == pt.expected and p1.expected.endswith("7")  # answers run 1–7
        assert f"Expected {pt.expected}." in str(one.value)


def test_python_api_frame_and_run_folder_agree(survey_and_run) -> None:
    survey, _, run, result = survey_and_run
    a = segmentum.score(run, survey)
    b = segmentum.score(result.tool, survey)
    pd.testing.assert_frame_equal(a, b)
    shuffled = survey.sample(frac=1.0, random_state=3)
    c = segmentum.score(result.tool, shuffled).set_index("respondent_id")
    pd.testing.assert_frame_equal(c.loc[a["respondent_id"]].reset_index(), a)


def test_missing_tool(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no typing tool"):
        segmentum.score(tmp_path, pd.DataFrame({"x": [1]}))
