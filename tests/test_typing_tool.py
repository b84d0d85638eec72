"""Typing tool: golden questions on McDonald's and on the demo's planted segments; exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.demo import make_market
from segmentum.segments import NeedsSegmenter
from segmentum.valuation.export import (
    load_typing_tool,
    questionnaire_html,
    questionnaire_markdown,
    save_typing_tool,
    write_typing_tool_xlsx,
)
from segmentum.valuation.typing_tool import (
    TypingTool,
    build_typing_tool,
    proportional_chance,
)

ITEMS = [
    "yummy", "convenient", "spicy", "fattening", "greasy", "fast",
    "cheap", "tasty", "expensive", "healthy", "disgusting",
]  # fmt: skip


@pytest.fixture(scope="module")
def mcd(shared_data: Path) -> tuple[pd.DataFrame, np.ndarray]:
    d = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    X = (d[ITEMS] == "Yes").astype(int)
    seg = NeedsSegmenter(n_segments=4, n_boot=0, random_state=1234).fit(X)
    return X, seg.labels_


@pytest.fixture(scope="module")
def mcd_tool(mcd: tuple[pd.DataFrame, np.ndarray]):
    X, labels = mcd
    return build_typing_tool(X, labels, target=0.85)


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    m = make_market(seed=0, n_customers=200, n_respondents=900)
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")
    planted = truth.loc[m.survey["respondent_id"], "segment"].to_numpy()
    codes = pd.Categorical(planted).codes + 1
    needs = [c for c in m.survey.columns if c.startswith("need_")]
    return m.survey, codes, needs


def test_mcdonalds_curve_and_held_out_accuracy(mcd, mcd_tool) -> None:
    X, labels = mcd
    r = mcd_tool
    chance = proportional_chance(labels)
    sizes = np.bincount(labels)[1:] / labels.size
    assert r.chance == pytest.approx(float((sizes**2).sum()))
    assert r.chance == pytest.approx(chance)
    # the curve rises from one question to the target and stops two steps after it
    acc = r.curve["accuracy"].to_numpy()
    assert acc[0] < r.target <= acc[r.n_questions - 1]
    assert (acc[: r.n_questions - 1] < r.target).all()
    assert len(acc) == r.n_questions + 2
    assert r.target_reached and r.accuracy >= 0.85 and r.accuracy > 2 * r.chance
    assert r.n_questions <= 4  # 11 items, four segments: a short screener suffices
    assert list(r.tool.items) == list(r.curve["item"][: r.n_questions])
    # honest accuracy: the tool reproduces the segment on everyone (training fit) at least as
    # well as held out, and held out is not a copy of the training fit
    fit_acc = float((r.tool.predict(X[list(r.tool.items)].to_numpy()) == labels).mean())
    assert fit_acc >= r.accuracy - 0.02
    conf = r.confusion.to_numpy()
    assert conf.sum() == len(X)
    assert np.trace(conf) / conf.sum() == pytest.approx(r.accuracy)
    assert r.recall.to_numpy() == pytest.approx(np.diag(conf) / conf.sum(axis=1))
    assert r.selection_frequency.sum() == pytest.approx(r.n_questions)
    # the figures the README quotes
    assert r.tool.items == ("expensive", "tasty")
    assert round(r.accuracy, 3) == 0.884 and round(r.chance, 3) == 0.282


def test_nested_cv_is_out_of_sample() -> None:
    """On noise, the held-out agreement stays near chance although the fit would not."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.integers(1, 8, size=(300, 8)), columns=[f"q{i}" for i in range(8)])
    y = rng.integers(1, 4, size=300)
    r = build_typing_tool(X, y, method="lda", max_questions=8)
    assert not r.target_reached
    assert r.accuracy < r.chance + 0.1
    assert len(r.curve) == 8


def test_demo_recovers_planted_segments(demo) -> None:
    survey, codes, needs = demo
    r = build_typing_tool(survey[needs], codes, method="lda", target=0.85, cv=4)
    assert r.target_reached
    assert r.accuracy >= 0.85
    assert r.n_questions < len(needs) / 2
    assert (r.recall > 0.6).all()


@pytest.mark.parametrize("method", ["logit", "lda", "tree"])
def test_json_round_trip_scores_the_same(mcd, tmp_path: Path, method: str) -> None:
    X, labels = mcd
    r = build_typing_tool(X, labels, method=method, max_questions=3, cv=3)
    path = save_typing_tool(r.tool, tmp_path)
    data = json.loads(path.read_text())
    assert data["items"] == list(r.tool.items)
    assert data["accuracy"] == pytest.approx(r.accuracy)
    assert data["target"] == 0.85
    assert data["answer_scale"][data["items"][0]]["levels"] == [0.0, 1.0]
    back = load_typing_tool(path)
    A = X[list(r.tool.items)].to_numpy()
    assert back.predict_proba(A) == pytest.approx(r.tool.predict_proba(A))
    assert load_typing_tool(tmp_path).items == r.tool.items  # a folder holding the JSON


def test_json_reimplemented_from_its_description(mcd_tool, mcd) -> None:
    """The JSON's numbers and 'how_to_score' are enough: score by hand, no segmentum."""
    X, _ = mcd
    d = mcd_tool.tool.to_dict()
    A = X[d["items"]].to_numpy(dtype=float)
    z = (A - np.array(d["standardization"]["mean"])) / np.array(d["standardization"]["scale"])
    s = z @ np.array(d["coefficients"]).T + np.array(d["intercepts"])
    seg = np.array(d["segments"])[s.argmax(axis=1)]
    assert (seg == mcd_tool.tool.predict(A)).all()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("items"), "items"),
        (lambda d: d.update(format="pickle"), "format"),
        (lambda d: d["coefficients"].pop(), "coefficients"),
        (lambda d: d["standardization"]["scale"].__setitem__(0, 0.0), "scale"),
        (lambda d: d["intercepts"].__setitem__(0, "1"), "intercepts"),
        (lambda d: d.update(method="exec"), "method"),
    ],
)
def test_json_shape_is_validated(mcd_tool, tmp_path: Path, edit, field: str) -> None:
    from segmentum.data.errors import DataError

    d = mcd_tool.tool.to_dict()
    edit(d)
    (tmp_path / "typing_tool.json").write_text(json.dumps(d))
    with pytest.raises(DataError, match=field) as exc:
        load_typing_tool(tmp_path / "typing_tool.json")
    assert exc.value.exit_code == 3
    assert "typing_tool.json" in str(exc.value)


@pytest.mark.parametrize("method", ["logit", "tree"])
def test_xlsx_formulas_give_the_json_segment(mcd, tmp_path: Path, method: str) -> None:
    """Evaluate the spreadsheet's formulas (the ``formulas`` package) on 100 respondents."""
    openpyxl = pytest.importorskip("openpyxl")
    formulas = pytest.importorskip("formulas")
    from openpyxl.utils import get_column_letter

    X, labels = mcd
    tool = build_typing_tool(X, labels, method=method, max_questions=3, cv=3).tool
    path = write_typing_tool_xlsx(tool, tmp_path / "tt.xlsx", n_rows=101)
    wb = openpyxl.load_workbook(path)
    ws = wb["Score"]
    rows = np.random.default_rng(0).choice(len(X), size=100, replace=False)
    A = X[list(tool.items)].to_numpy()[rows]
    for i, row in enumerate(A):
        ws.cell(i + 2, 1, int(rows[i]))
        for j, v in enumerate(row):
            ws.cell(i + 2, 2 + j, int(v))
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    heads = [c.value for c in ws[1]]
    col = {h: get_column_letter(heads.index(h) + 1) for h in heads}
    solution = formulas.ExcelModel().loads(str(filled)).finish().calculate()

    def cell(ref: str) -> object:
        return solution[f"'[filled.xlsx]SCORE'!{ref}"].value[0, 0]

    got = [cell(f"{col['segment']}{i + 2}") for i in range(100)]
    prob = [cell(f"{col['segment_probability']}{i + 2}") for i in range(100)]
    assert [int(g) for g in got] == tool.predict(A).tolist()  # type: ignore[call-overload]
    assert np.array(prob, dtype=float) == pytest.approx(tool.predict_proba(A).max(axis=1), abs=1e-9)
    # a row not yet answered shows nothing rather than a guess
    assert cell(f"{col['segment']}102") in ("", None)


def test_questionnaire_lists_questions_in_order(mcd_tool) -> None:
    tool = mcd_tool.tool
    text = questionnaire_markdown(tool, {tool.items[0]: "Is McDonald's <b>yummy</b>?"})
    assert text.index("1. Is McDonald's <b>yummy</b>?") < text.index(f"2. {tool.items[1]}")
    assert "0 = No, 1 = Yes" in text
    assert f"{mcd_tool.accuracy:.0%}" in text
    h = questionnaire_html(tool, {tool.items[0]: "<script>x</script>"})
    assert "<script>" not in h and "&lt;script&gt;" in h


def test_curve_figure(mcd_tool) -> None:
    from segmentum.valuation.plots import typing_curve

    fig = typing_curve(mcd_tool)
    ys = np.asarray(fig.data[0].y)
    assert ys == pytest.approx(mcd_tool.curve["accuracy"].to_numpy())
    names = [t.name for t in fig.data]
    assert "proportional chance" in names


def test_bad_arguments() -> None:
    X = pd.DataFrame({"a": [1, 2, 3, 4] * 5, "b": ["x"] * 20})
    y = np.array([1, 2] * 10)
    with pytest.raises(ValueError, match="numeric"):
        build_typing_tool(X, y)
    with pytest.raises(ValueError, match="method"):
        build_typing_tool(X[["a"]], y, method="forest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels"):
        build_typing_tool(X[["a"]], y[:5])
    with pytest.raises(ValueError, match="not found"):
        build_typing_tool(X, y, items=["zz"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perm=st.permutations([1, 2, 3]), seed=st.integers(0, 10_000))
def test_label_permutation_and_row_order(perm: list[int], seed: int) -> None:
    """Renaming the segments renames the tool's answers; shuffling the rows (other folds)
    leaves the typed segments and the held-out accuracy all but unchanged."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=240)
    centres = np.array([[1, 6, 2, 5], [6, 1, 5, 2], [4, 4, 6, 6]])
    X = pd.DataFrame(
        np.clip(np.rint(centres[y] + rng.normal(0, 0.9, (240, 4))), 1, 7).astype(int),
        columns=list("abcd"),
    )
    lab = y + 1
    base = build_typing_tool(X, lab, method="lda", max_questions=3, cv=3, target=0.9)
    relab = np.asarray(perm)[y]
    r2 = build_typing_tool(X, relab, method="lda", max_questions=3, cv=3, target=0.9)
    A = X.to_numpy()
    mapped = np.asarray(perm)[base.tool.predict(X[list(base.tool.items)].to_numpy()) - 1]
    again = r2.tool.predict(X[list(r2.tool.items)].to_numpy())
    assert (again == mapped).mean() > 0.9  # a broken mapping gives about 1/3
    assert abs(r2.accuracy - base.accuracy) < 0.05
    order = np.random.default_rng(seed).permutation(len(X))
    r3 = build_typing_tool(X.iloc[order].reset_index(drop=True), lab[order], method="lda",
                           max_questions=3, cv=3, target=0.9)  # fmt: skip
    same = r3.tool.predict(X[list(r3.tool.items)].to_numpy())
    assert (same == base.tool.predict(X[list(base.tool.items)].to_numpy())).mean() > 0.9
    assert abs(r3.accuracy - base.accuracy) < 0.05
    assert A.shape == X.shape


def test_tool_from_dict_type() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        TypingTool.from_dict([1, 2])
