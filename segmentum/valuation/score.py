"""Scoring new people with a typing tool: ``segmentum.score`` and ``segmentum score``.

Every answer is checked before anything is scored: a missing item column, an empty or
non-numeric answer, a value outside the item's answer scale, or an empty file is a
:class:`~segmentum.data.errors.DataError` (CLI exit code 3) naming the file, the row and the
column. Nothing is ever guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.data.errors import DataError, Problem
from segmentum.valuation.export import load_typing_tool
from segmentum.valuation.typing_tool import TypingTool

__all__ = ["SCORE_COLUMNS", "read_answers", "score"]

#: columns :func:`score` adds after the id column
SCORE_COLUMNS: tuple[str, ...] = (
    "segment",
    "segment_name",
    "segment_probability",
    "unclassifiable",
)
_MAX_LISTED = 5


def read_answers(path: Path | str) -> pd.DataFrame:
    """Read an answers file (CSV or Parquet); an empty file is a :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: answers file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except Exception as exc:  # any parser failure is a problem of the user's file
        raise DataError(f"{path}: cannot read the answers ({exc})") from exc
    if len(frame) == 0:
        raise DataError(
            f"{path}: the answers file is empty (no data rows)",
            hint="Give one row per person with a column per golden question.",
        )
    return frame


def _expected(scale: Mapping[str, Any]) -> str:
    """What an item accepts, in words: "one of 0, 1" or "a number from 1 to 7"."""
    levels = scale.get("levels")
    if levels is not None:
        return "one of " + ", ".join(f"{float(v):g}" for v in levels)
    return f"a number from {float(scale['min']):g} to {float(scale['max']):g}"


def _check(tool: TypingTool, frame: pd.DataFrame, source: str) -> np.ndarray:
    """The answers as a float matrix (rows × tool items), or a DataError naming each bad cell."""
    csv = source.lower().endswith(".csv")
    if len(frame) == 0:
        raise DataError(f"{source}: no rows to score")
    missing = [c for c in tool.items if c not in frame.columns]
    if missing:
        probs = [
            Problem("answers", source, None, c, None, "a column per golden question", "missing")
            for c in missing
        ]
        raise DataError(
            f"{source}: missing golden question column(s) {missing}. "
            + "; ".join(p.describe(csv) for p in probs[:_MAX_LISTED]),
            probs,
            hint=f"The typing tool asks: {', '.join(tool.items)}.",
        )
    X = np.empty((len(frame), len(tool.items)))
    problems: list[Problem] = []
    for j, item in enumerate(tool.items):
        col = frame[item]
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        sc = tool.answer_scale[item]
        levels = sc.get("levels")
        if levels is not None:
            ok = np.isin(vals, np.asarray(levels, dtype=float))
        else:
            ok = (vals >= sc["min"]) & (vals <= sc["max"])
        expected = _expected(sc)
        for i in np.flatnonzero(~ok)[: _MAX_LISTED * 4]:
            raw = col.iloc[int(i)]
            empty = raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw == ""
            reason = (
                "no answer"
                if empty
                else ("not a number" if np.isnan(vals[i]) else "outside the answer scale")
            )
            problems.append(
                Problem(
                    "answers",
                    source,
                    int(i) + 1,
                    item,
                    None if empty else str(raw),
                    expected,
                    reason,
                )
            )
        X[:, j] = vals
    if problems:
        problems.sort(key=lambda p: (p.row or 0, tool.items.index(p.column or "")))
        raise DataError(
            f"{source}: {len(problems)}{'+' if len(problems) >= _MAX_LISTED * 4 else ''} bad "
            "answer(s); nothing was scored. "
            + " ".join(p.describe(csv) for p in problems[:_MAX_LISTED]),
            problems,
            hint="Fix or remove those rows; answers are never guessed.",
        )
    return X


def score(
    tool: TypingTool | Path | str,
    answers: pd.DataFrame | Mapping[str, Any] | Path | str,
    *,
    id_column: str | None = None,
) -> Any:
    """Assign people to segments from their answers to the golden questions.

    Parameters
    ----------
    tool : TypingTool, or path
        A fitted tool, a run folder (its ``model/typing_tool.json``), the JSON file itself,
        or a project folder (its newest run).
    answers : pandas.DataFrame, mapping, or path
        One row per person with a column per golden question (other columns are ignored);
        a mapping is one person; a path is a CSV or Parquet file.
    id_column : str, optional
        Id column to carry over; default the tool's id column when present, else the first
        column that is not a question, else the 1-based row number (``row``).

    Returns
    -------
    pandas.DataFrame or dict
        The id column plus ``segment`` (int), ``segment_name``, ``segment_probability`` (the
        top membership probability) and ``unclassifiable`` (top probability under the
        tool's threshold); for a mapping (one person), a dict with the same keys (the fast
        path: about 20 µs, no DataFrame).

    Raises
    ------
    DataError
        A missing question column, an empty or out-of-scale answer, an empty file (each
        named by file, row and column), or an invalid tool file.

    Examples
    --------
    >>> score("runs/20261201-101500", {"yummy": 1, "expensive": 0})  # doctest: +SKIP
    {'row': 1, 'segment': 3, 'segment_name': 'Segment 3', 'segment_probability': 0.91, ...}
    """
    if not isinstance(tool, TypingTool):
        tool = load_typing_tool(tool)
    if isinstance(answers, Mapping):
        return _score_one(tool, answers, id_column)
    source = "answers"
    if isinstance(answers, str | Path):
        source = str(answers)
        answers = read_answers(answers)
    X = _check(tool, answers, source)
    proba = tool.predict_proba(X)
    best = proba.argmax(axis=1)
    top = proba[np.arange(len(best)), best]
    segs = np.asarray(tool.segments, dtype=np.int64)[best]
    names = np.array([tool.segment_names[s] for s in tool.segments], dtype=object)[best]
    idc = id_column
    if idc is None:
        if tool.id_column is not None and tool.id_column in answers.columns:
            idc = tool.id_column
        else:
            rest = [c for c in answers.columns if c not in tool.items]
            idc = rest[0] if rest else None
    elif idc not in answers.columns:
        raise DataError(f"{source}: id column {idc!r} not found", hint="Pass --id COLUMN.")
    ids = answers[idc].to_numpy() if idc is not None else np.arange(1, len(answers) + 1)
    return pd.DataFrame(
        {
            idc or "row": ids,
            "segment": segs,
            "segment_name": names,
            "segment_probability": top,
            "unclassifiable": top < tool.threshold,
        }
    )


def _score_one(
    tool: TypingTool, answers: Mapping[str, Any], id_column: str | None
) -> dict[str, Any]:
    """One person (the fast path: no DataFrame on the way in)."""
    x = np.empty(len(tool.items))
    problems = []
    for j, item in enumerate(tool.items):
        raw = answers.get(item)
        sc = tool.answer_scale[item]
        try:
            v = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            v = float("nan")
        levels = sc.get("levels")
        ok = (v in levels) if levels is not None else (sc["min"] <= v <= sc["max"])
        if not ok:
            empty = raw is None or raw == ""
            reason = (
                "no answer"
                if empty
                else ("not a number" if np.isnan(v) else "outside the answer scale")
            )
            problems.append(
                Problem("answers", "answers", 1, item, None if empty else str(raw),
                        _expected(sc), reason)
            )  # fmt: skip
        x[j] = v
    if problems:
        raise DataError(
            "answers: bad answer(s); nothing was scored. "
            + " ".join(p.describe() for p in problems),
            problems,
            hint="Fix those answers; answers are never guessed.",
        )
    p = tool.predict_proba(x[None, :])[0]
    b = int(p.argmax())
    seg = tool.segments[b]
    idc = id_column or tool.id_column or "row"
    return {
        idc: answers.get(idc, 1),
        "segment": int(seg),
        "segment_name": tool.segment_names[seg],
        "segment_probability": float(p[b]),
        "unclassifiable": bool(p[b] < tool.threshold),
    }
