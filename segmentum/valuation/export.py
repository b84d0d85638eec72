"""Exports of the typing tool: ``typing_tool.json``, ``typing_tool.xlsx`` and a questionnaire.

The JSON is a data format (never pickle: run folders are untrusted input) and
:func:`load_typing_tool` validates its shape. The spreadsheet carries the scoring rule as
formulas in its cells, so a recruiter can type a person's answers into a row of the
``Score`` sheet and read the segment, with no macro and no add-in.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from segmentum.data.errors import DataError
from segmentum.valuation.typing_tool import TypingTool

__all__ = [
    "load_typing_tool",
    "questionnaire_html",
    "questionnaire_markdown",
    "save_typing_tool",
    "write_typing_tool_xlsx",
]

JSON_NAME = "typing_tool.json"
XLSX_NAME = "typing_tool.xlsx"


def save_typing_tool(tool: TypingTool, path: Path) -> Path:
    """Write ``tool`` as JSON (``path`` is a file, or a folder that gets ``typing_tool.json``)."""
    path = Path(path)
    if path.is_dir():
        path = path / JSON_NAME
    path.write_text(json.dumps(tool.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _resolve(source: Path) -> Path:
    source = Path(source)
    if source.is_file() and source.suffix.lower() != ".toml":
        return source
    for cand in (source / "model" / JSON_NAME, source / JSON_NAME):
        if cand.is_file():
            return cand
    # A project folder or file: its newest run.
    project_dir = source.parent if source.is_file() else source
    runs = project_dir / "runs"
    if runs.is_dir():
        done = sorted(
            (p for p in runs.iterdir() if (p / "model" / JSON_NAME).is_file()),
            key=lambda p: p.name,
        )
        if done:
            return done[-1] / "model" / JSON_NAME
    raise DataError(
        f"{source}: no typing tool found (looked for model/{JSON_NAME} in the run folder, "
        f"{JSON_NAME} itself and the project's runs/)",
        hint="Give a run folder written by a run whose valuation stage ran, or the JSON file.",
    )


def load_typing_tool(source: Path | str) -> TypingTool:
    """Read a typing tool from a run folder, its ``model/typing_tool.json``, or a project
    folder or file (its newest run holding one).

    Raises
    ------
    DataError
        No tool found, invalid JSON, or a field of the wrong shape (named with the file).
    """
    path = _resolve(Path(source))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from exc
    try:
        return TypingTool.from_dict(data, source=str(path))
    except ValueError as exc:
        raise DataError(str(exc)) from exc


def _scale_text(sc: dict[str, Any]) -> str:
    levels = sc.get("levels")
    if levels == [0.0, 1.0]:
        return "0 = No, 1 = Yes"
    if levels is not None:
        return ", ".join(_fmt(v) for v in levels)
    return f"any value from {_fmt(sc['min'])} to {_fmt(sc['max'])}"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def questionnaire_markdown(tool: TypingTool, questions: dict[str, str] | None = None) -> str:
    """A printable questionnaire: the golden questions in asking order with their scale.

    Parameters
    ----------
    tool : TypingTool
    questions : dict of str to str, optional
        Wording of each item; the column name is shown where none is given.
    """
    acc = tool.metadata.get("accuracy")
    lines = [
        "# Segment screener",
        "",
        f"{len(tool.items)} question{'s' if len(tool.items) != 1 else ''}; "
        + (
            f"agrees with the full survey's segment for {acc:.0%} of held-out respondents."
            if isinstance(acc, float)
            else "held-out agreement not recorded."
        ),
        "",
    ]
    for n, item in enumerate(tool.items, start=1):
        text = (questions or {}).get(item, item)
        lines.append(f"{n}. {text}  ")
        lines.append(f"   Answer: {_scale_text(tool.answer_scale[item])}  ")
        lines.append("   ☐ ______")
        lines.append("")
    lines.append(
        "Score the answers with `segmentum score RUN_DIR --answers FILE --out FILE`, or type "
        "them into a row of typing_tool.xlsx."
    )
    return "\n".join(lines) + "\n"


def questionnaire_html(tool: TypingTool, questions: dict[str, str] | None = None) -> str:
    """The questionnaire as an HTML fragment (escaped), for a report section; a question
    without its wording in ``questions`` is the item's label (``need_personal_agent`` →
    "Personal agent", or its ``[report.labels]`` words)."""
    from segmentum.report.format import item_labels

    labels = dict(zip(tool.items, item_labels(tool.items), strict=True))
    rows = "".join(
        f"<li><p>{html.escape((questions or {}).get(i, labels[i]))}</p>"
        f"<p class='scale'>Answer: {html.escape(_scale_text(tool.answer_scale[i]))}</p></li>"
        for i in tool.items
    )
    return f"<ol class='questionnaire'>{rows}</ol>"


def _col(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(n))


def write_typing_tool_xlsx(tool: TypingTool, path: Path, n_rows: int = 500) -> Path:
    """Write the typing tool as a spreadsheet with the scoring rule in formulas.

    Sheet ``Score``: column A an id, then one column per golden question (with a drop-down
    of the allowed answers); the segment's score, membership probabilities, segment number,
    name, top probability and the unclassifiable flag are formulas. Rows stay blank until
    every question is answered. Sheet ``Model`` holds the numbers the formulas read
    (standardisation, coefficients, intercepts, threshold), as in ``typing_tool.json``.

    Parameters
    ----------
    tool : TypingTool
    path : pathlib.Path
        The ``.xlsx`` file (or a folder that gets ``typing_tool.xlsx``).
    n_rows : int, default=500
        Rows prepared for answers.
    """
    from openpyxl import Workbook

    path = Path(path)
    if path.is_dir():
        path = path / XLSX_NAME
    wb = Workbook()
    ws = wb.active
    ws.title = "Score"
    thr_row = _write_model_sheet(wb.create_sheet("Model"), tool)
    _write_score_header(ws, tool)
    _add_answer_validation(ws, tool, n_rows)
    for r in range(2, n_rows + 2):
        _write_score_row(ws, tool, r, thr_row)
    ws.freeze_panes = "B2"
    wb.save(path)
    return path


def _write_model_sheet(md: Any, tool: TypingTool) -> int:
    """Sheet ``Model``: row 1 headers, rows 2-3 standardisation, rows 4.. one per segment,
    then the threshold (its row is returned) and the scoring rule in words."""
    items = list(tool.items)
    m, k = len(items), len(tool.segments)
    md.cell(1, 1, "parameter")
    for j, item in enumerate(items):
        md.cell(1, 2 + j, item)
    md.cell(1, 2 + m, "intercept")
    md.cell(1, 3 + m, "segment")
    md.cell(1, 4 + m, "name")
    md.cell(2, 1, "mean")
    md.cell(3, 1, "scale")
    for j in range(m):
        md.cell(2, 2 + j, float(tool.mean[j]))
        md.cell(3, 2 + j, float(tool.scale[j]))
    for s in range(k):
        r = 4 + s
        md.cell(r, 1, f"coefficients, segment {tool.segments[s]}")
        for j in range(m):
            md.cell(r, 2 + j, float(tool.coefficients[s, j]))
        md.cell(r, 2 + m, float(tool.intercepts[s]))
        md.cell(r, 3 + m, int(tool.segments[s]))
        md.cell(r, 4 + m, tool.segment_names.get(tool.segments[s], f"Segment {tool.segments[s]}"))
    thr_row = 4 + k
    md.cell(thr_row, 1, "unclassifiable_threshold")
    md.cell(thr_row, 2, float(tool.threshold))
    md.cell(thr_row + 2, 1, tool.to_dict()["how_to_score"])
    return thr_row


def _score_columns(m: int, k: int) -> tuple[int, int, int, int, int, int]:
    """Score sheet columns: first segment score, first probability, segment, name, top
    probability, unclassifiable flag (answers fill columns 2 .. 1 + m)."""
    c_score = 2 + m  # k columns of segment scores
    c_prob = c_score + k  # k columns of probabilities
    return c_score, c_prob, c_prob + k, c_prob + k + 1, c_prob + k + 2, c_prob + k + 3


def _write_score_header(ws: Any, tool: TypingTool) -> None:
    from openpyxl.styles import Font

    bold = Font(bold=True)
    heads = (
        ["id", *tool.items]
        + [f"score_{s}" for s in tool.segments]
        + [f"p_{s}" for s in tool.segments]
        + ["segment", "segment_name", "segment_probability", "unclassifiable"]
    )
    for j, h in enumerate(heads, start=1):
        ws.cell(1, j, h).font = bold


def _add_answer_validation(ws: Any, tool: TypingTool, n_rows: int) -> None:
    """A drop-down of the allowed answers (or a [min, max] check) on each question column."""
    from openpyxl.worksheet.datavalidation import DataValidation

    for j, item in enumerate(tool.items):
        sc = tool.answer_scale[item]
        letter = _col(2 + j)
        rng = f"{letter}2:{letter}{n_rows + 1}"
        if sc.get("levels") is not None:
            dv = DataValidation(
                type="list",
                formula1='"' + ",".join(_fmt(v) for v in sc["levels"]) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="Not on the scale",
                error=f"{item}: answer one of {_scale_text(sc)}",
            )
        else:
            dv = DataValidation(
                type="decimal",
                operator="between",
                formula1=_fmt(sc["min"]),
                formula2=_fmt(sc["max"]),
                allow_blank=True,
                showErrorMessage=True,
            )
        ws.add_data_validation(dv)
        dv.add(rng)


def _write_score_row(ws: Any, tool: TypingTool, r: int, thr_row: int) -> None:
    """Row ``r`` of the Score sheet: scores, probabilities, segment, name, top probability
    and the unclassifiable flag as formulas, blank until every question is answered."""
    from openpyxl.styles import PatternFill

    grey = PatternFill("solid", fgColor="EEEEEE")
    m, k = len(tool.items), len(tool.segments)
    c_score, c_prob, c_seg, c_name, c_top, c_uncl = _score_columns(m, k)
    seg_col, name_col = _col(3 + m), _col(4 + m)
    seg_range = f"Model!${seg_col}$4:${seg_col}${3 + k}"
    name_range = f"Model!${name_col}$4:${name_col}${3 + k}"
    filled = f"COUNT(${_col(2)}{r}:${_col(1 + m)}{r})={m}"
    for s in range(k):
        mrow = 4 + s
        if tool.method == "tree":
            body = _tree_formula(tool, 0, s, r)
        else:
            terms = [f"Model!${_col(2 + m)}${mrow}"]
            for j in range(m):
                a = _col(2 + j)
                mc = _col(2 + j)
                terms.append(f"({a}{r}-Model!${mc}$2)/Model!${mc}$3*Model!${mc}${mrow}")
            body = "+".join(terms)
        ws.cell(r, c_score + s, f'=IF({filled},{body},"")')
    scores = [f"{_col(c_score + s)}{r}" for s in range(k)]
    for s in range(k):
        if tool.method == "tree":  # the leaf's probabilities are the scores
            ws.cell(r, c_prob + s, f'=IF({filled},{scores[s]},"")')
        else:
            denom = "+".join(f"EXP({o}-{scores[s]})" for o in scores)
            ws.cell(r, c_prob + s, f'=IF({filled},1/({denom}),"")')
    p_rng = f"{_col(c_prob)}{r}:{_col(c_prob + k - 1)}{r}"
    top = f"{_col(c_top)}{r}"
    ws.cell(r, c_seg, f'=IF({filled},INDEX({seg_range},MATCH({top},{p_rng},0)),"")')
    ws.cell(r, c_name, f'=IF({filled},INDEX({name_range},MATCH({top},{p_rng},0)),"")')
    ws.cell(r, c_top, f'=IF({filled},MAX({p_rng}),"")')
    ws.cell(r, c_uncl, f'=IF({filled},{top}<Model!$B${thr_row},"")')
    for c in range(c_score, c_uncl + 1):
        ws.cell(r, c).fill = grey


def _tree_formula(tool: TypingTool, node_id: int, s: int, r: int) -> str:
    """Nested IF of a tree: segment ``s``'s leaf probability for the answers in row ``r``."""
    tree = tool.tree or {}
    node = tree["nodes"][node_id]
    if "proba" in node:
        return repr(float(node["proba"][s]))
    col = _col(2 + list(tool.items).index(node["item"]))
    left = _tree_formula(tool, int(node["left"]), s, r)
    right = _tree_formula(tool, int(node["right"]), s, r)
    return f"IF({col}{r}<={float(node['threshold'])!r},{left},{right})"
