"""Turn what a section holds (tables, Plotly figures, values) into plain JSON-ready data.

The report's templates and its JSON twin read the same context: lists, dicts, strings,
numbers, booleans and ``None`` only. Numbers shown to people are formatted here, once
(thousands separators), so the HTML and any other page that reuses the context agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd


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


def _cell_formatter(column: pd.Series) -> Any:
    """How one column's values are shown: thousands separators, 3 significant digits."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return str
    if pd.api.types.is_integer_dtype(dtype):
        return lambda v: f"{v:,}"
    if pd.api.types.is_float_dtype(dtype):
        values = column.abs().dropna()
        big = bool(len(values)) and values.median() >= 100
        return (lambda v: f"{v:,.0f}") if big else (lambda v: f"{v:,.3g}")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        present = column.dropna()
        dates_only = bool(len(present)) and bool((present == present.dt.normalize()).all())
        return (lambda v: v.strftime("%Y-%m-%d")) if dates_only else str
    return str


def table_context(frame: pd.DataFrame, max_rows: int = 60) -> dict[str, Any]:
    """One table as data: column names, raw rows, rows as shown, and a note when cut.

    A meaningful index (anything but a plain ``RangeIndex``) is kept as the first column(s),
    counted in ``index_columns`` so the page can show it as row headers.

    Parameters
    ----------
    frame : DataFrame
        The table as the stage made it.
    max_rows : int, default=60
        Rows beyond this are left out, and ``note`` says how many there were.

    Returns
    -------
    dict
        ``columns`` (str), ``rows`` (JSON values), ``cells`` (str, as shown), ``index_columns``,
        ``n_rows`` (before the cut) and ``note``.

    Examples
    --------
    >>> t = table_context(pd.DataFrame({"segment": [1, 2], "revenue": [12345.6, 987.0]}))
    >>> t["columns"], t["rows"][0], t["cells"][0]
    (['segment', 'revenue'], [1, 12345.6], ['1', '12,346'])
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"a report table needs a pandas DataFrame, got {type(frame).__name__}; "
            "wrap it with pd.DataFrame(...) before Section.table()"
        )
    n_rows = len(frame)
    note = ""
    if n_rows > max_rows:
        note = f"Showing the first {max_rows:,} of {n_rows:,} rows."
        frame = frame.head(max_rows)
    index: list[pd.Series] = []
    index_names: list[str] = []
    if not isinstance(frame.index, pd.RangeIndex):
        index = [pd.Series(frame.index.get_level_values(i)) for i in range(frame.index.nlevels)]
        index_names = [_label(n) for n in frame.index.names]
    columns = index_names + [_label(c) for c in frame.columns]
    # Columns by position: two columns may share a label.
    series = index + [frame.iloc[:, j] for j in range(frame.shape[1])]
    formatters = [_cell_formatter(s) for s in series]
    rows = zip(*(s.tolist() for s in series), strict=True)
    raw, shown = [], []
    for row in rows:
        raw.append([jsonable(v) for v in row])
        shown.append(
            ["" if _is_missing(v) else fmt(v) for v, fmt in zip(row, formatters, strict=True)]
        )
    return {
        "columns": columns,
        "rows": raw,
        "cells": shown,
        "index_columns": len(index),
        "n_rows": n_rows,
        "note": note,
    }


def figure_context(fig: Any) -> dict[str, Any]:
    """A Plotly figure as Plotly's own JSON (``data``, ``layout``, ``frames`` when animated).

    The dict is what ``Plotly.newPlot`` takes and what ``plotly.io.from_json`` reads back;
    float arrays are rounded to :data:`segmentum.report.packing.DIGITS` significant digits.
    """
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

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
    return out
