"""Turn what a section holds (tables, Plotly figures, values) into plain JSON-ready data.

The report's templates and its JSON twin read the same context: lists, dicts, strings,
numbers, booleans and ``None`` only. Tables shown to people are labelled and formatted here,
once (:mod:`segmentum.report.format`: percentages, money, p-values, thousands separators),
so the HTML and any other page that reuses the context agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from segmentum.report.format import ReportSettings


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy and pandas scalars unwrapped, gaps as ``None``.

    Non-finite floats become ``None`` (JSON has no NaN or infinity), timestamps ISO 8601
    strings, arrays and tuples lists, sets sorted lists; anything else its ``str``.

    Examples
    --------
    >>> jsonable({"n": np.int64(3), "share": np.float64("nan"), "when": pd.Timestamp("2024-05-01")})
    {'n': 3, 'share': None, 'when': '2024-05-01T00:00:00'}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series | pd.Index):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, datetime | date | time | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, timedelta | pd.Timedelta):
        return str(value)
    return str(value)


def _label(name: Any) -> str:
    if isinstance(name, tuple):
        return " · ".join(str(n) for n in name if n is not None and str(n) != "")
    return "" if name is None else str(name)


def _is_missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists and arrays are values, not gaps
        return False


def _index_series(frame: pd.DataFrame) -> tuple[list[pd.Series], list[str]]:
    """The index levels worth showing, as columns: none for a positional index.

    An unnamed ``RangeIndex`` or integer index (rows filtered or sorted, the positions
    pandas kept) says nothing to a reader and is left out; a named index (``segment``, even
    a ``RangeIndex`` from 1) or one of labels is kept as the first column(s).
    """
    idx = frame.index
    unnamed = idx.nlevels == 1 and idx.name is None
    if unnamed and (isinstance(idx, pd.RangeIndex) or pd.api.types.is_integer_dtype(idx.dtype)):
        return [], []
    series = [pd.Series(idx.get_level_values(i)) for i in range(idx.nlevels)]
    return series, [_label(n) for n in idx.names]


def _lead_first(frame: pd.DataFrame, lead: list[str]) -> pd.DataFrame:
    """The first column (the key) stays first; then the columns named in ``lead`` (in that
    order), then the others as they were."""
    if not lead or frame.columns.has_duplicates or frame.shape[1] < 3:
        return frame
    key = frame.columns[0]
    first = [key] + [c for c in lead if c in frame.columns and c != key]
    return frame[first + [c for c in frame.columns if c not in first]]


def _parts(n_columns: int, n_keys: int, width: int) -> list[list[int]]:
    """Column positions per table shown: the first ``width``, then the rest in tables of at
    most ``width`` columns that repeat the key (row-header) columns."""
    parts = [list(range(min(n_columns, width)))]
    keys = list(range(min(n_keys, width - 1)))
    step = width - len(keys)
    for start in range(width, n_columns, step):
        parts.append(keys + list(range(start, min(start + step, n_columns))))
    return parts


#: Rows a table's CSV download carries at most.
CSV_ROWS = 2_000


def _csv(frame: pd.DataFrame) -> str:
    """The table (index levels as columns) as CSV text, for the page's download link;
    numbers to 5 significant digits (the page stays small)."""
    return frame.head(CSV_ROWS).to_csv(index=False, lineterminator="\n", float_format="%.5g")


def table_context(
    frame: pd.DataFrame,
    max_rows: int = 60,
    *,
    section: str = "",
    settings: ReportSettings | None = None,
) -> dict[str, Any]:
    """One table as data: names, labels, raw rows, rows as shown, and notes when cut.

    Every table of the report comes through here, so labels and number formats are the
    same everywhere (:mod:`segmentum.report.format`). A meaningful index (named, or of
    labels) is kept as the first column(s), counted in ``index_columns`` so the page can show
    it as row headers; a positional one is left out.

    Parameters
    ----------
    frame : DataFrame
        The table as the stage made it.
    max_rows : int, default=60
        Rows beyond this are left out, and ``note`` says how many there were.
    section : str, default=""
        The section's key: its label table, formats and lead columns
        (:mod:`segmentum.report.labels`).
    settings : ReportSettings, optional
        ``[report]`` of the project: label overrides, currency, columns shown.

    Returns
    -------
    dict
        ``columns`` (the names), ``headers`` (their labels), ``kinds``, ``rows`` (JSON
        values), ``cells`` (str, as shown), ``index_columns``, ``n_rows`` (before the cut),
        ``note``, ``parts`` (column positions of each table shown: the first is visible,
        the others behind a "details" toggle) and ``csv`` (for a table wider than that, the
        whole table, every row up to :data:`CSV_ROWS`, as CSV text; else ``None``).

    Examples
    --------
    >>> t = table_context(pd.DataFrame({"segment": [1, 2], "revenue_share": [0.296, 0.704]}))
    >>> t["columns"], t["headers"], t["cells"][0]
    (['segment', 'revenue_share'], ['Segment', 'Revenue (share)'], ['1', '30 %'])
    """
    from segmentum.report.format import (
        ITEM_COLUMNS,
        ReportSettings,
        cell_words,
        column_formatter,
        column_kind,
        human_label,
        item_label,
    )
    from segmentum.report.labels import STAGE_KINDS, STAGE_LABELS, STAGE_LEAD_COLUMNS

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"a report table needs a pandas DataFrame, got {type(frame).__name__}; "
            "wrap it with pd.DataFrame(...) before Section.table()"
        )
    settings = settings or ReportSettings()
    frame = _lead_first(frame, STAGE_LEAD_COLUMNS.get(section, []))
    index, index_names = _index_series(frame)
    columns = index_names + [_label(c) for c in frame.columns]
    n_rows = len(frame)
    # Columns by position: two columns may share a label.
    series = index + [frame.iloc[:, j].reset_index(drop=True) for j in range(frame.shape[1])]
    kinds = [
        column_kind(name, s, STAGE_KINDS.get(section))
        for name, s in zip(columns, series, strict=True)
    ]
    formatters = [
        column_formatter(k, s, settings.currency) for k, s in zip(kinds, series, strict=True)
    ]
    for j, (name, kind) in enumerate(zip(columns, kinds, strict=True)):
        if kind == "text" and name in ITEM_COLUMNS:  # cells that name needs or fields
            formatters[j] = lambda v: item_label(v, settings.labels)
        elif kind == "text" and (words := cell_words(name)) is not None:  # offers, levels
            formatters[j] = words
    parts = _parts(len(columns), len(index) or 1, settings.max_columns)
    csv = None
    if series and len(parts) > 1:
        csv = _csv(pd.concat(series, axis=1, ignore_index=True).set_axis(columns, axis=1))
    note = f"Showing the first {max_rows:,} of {n_rows:,} rows." if n_rows > max_rows else ""
    raw, shown = [], []
    for row in zip(*(s.head(max_rows).tolist() for s in series), strict=True):
        raw.append([jsonable(v) for v in row])
        shown.append(
            ["" if _is_missing(v) else fmt(v) for v, fmt in zip(row, formatters, strict=True)]
        )
    stage_labels = STAGE_LABELS.get(section)
    return {
        "columns": columns,
        "headers": [human_label(c, stage_labels, settings.labels) for c in columns],
        "kinds": kinds,
        "rows": raw,
        "cells": shown,
        "index_columns": len(index),
        "n_rows": n_rows,
        "note": note,
        "parts": parts,
        "csv": csv,
    }


def figure_context(fig: Any) -> dict[str, Any]:
    """A Plotly figure as Plotly's own JSON (``data``, ``layout``, ``frames`` when animated).

    The dict is what ``Plotly.newPlot`` takes and what ``plotly.io.from_json`` reads back;
    float arrays are rounded to :data:`segmentum.report.packing.DIGITS` significant digits,
    and the layout's margins are the ones Plotly would end with
    (:func:`segmentum.report.margins.preset_margins`), so the figure is drawn once.
    """
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from segmentum.report.margins import preset_margins
    from segmentum.report.packing import round_arrays

    if isinstance(fig, Mapping):
        fig = go.Figure(fig)
    if not isinstance(fig, go.Figure):
        raise TypeError(
            f"a report figure needs a plotly.graph_objects.Figure, got {type(fig).__name__}"
        )
    spec = json.loads(pio.to_json(fig, validate=False))
    out = {"data": round_arrays(spec.get("data", [])), "layout": spec.get("layout", {})}
    if spec.get("frames"):
        out["frames"] = round_arrays(spec["frames"])
    return preset_margins(out)
