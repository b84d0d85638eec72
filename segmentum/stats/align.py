"""Label and weight alignment and variable kinds, shared by every stage.

Survey tables reach the profiles and the map with labels and weights in several shapes (a
Series keyed by the survey index, an array in row order, a weights column name); these
helpers turn them into Series on the survey's index, and :func:`classify` says whether a
column is numeric, binary or categorical the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "binary", "categorical"]

_YES = {"yes", "y", "true", "1", "ja", "oui", "si", "t"}
_NO = {"no", "n", "false", "0", "nein", "non", "f"}


def align_labels(frame: pd.DataFrame, labels: pd.Series | np.ndarray | Sequence[int]) -> pd.Series:
    """One segment label per row of ``frame``, as a Series on ``frame.index``.

    A Series is matched on the index when it can be (reordered if needed), else taken in
    row order when the lengths agree; arrays and lists are taken in row order.

    >>> frame = pd.DataFrame({"q": [1, 2, 3]}, index=[10, 11, 12])
    >>> align_labels(frame, pd.Series([2, 3, 1], index=[12, 11, 10])).tolist()
    [1, 3, 2]
    """
    if isinstance(labels, pd.Series):
        if labels.index.equals(frame.index):
            lab = labels
        elif frame.index.isin(labels.index).all() and labels.index.is_unique:
            lab = labels.reindex(frame.index)
        elif len(labels) == len(frame):
            lab = pd.Series(labels.to_numpy(), index=frame.index)
        else:
            raise ValueError("labels do not align with the survey rows (index or length)")
    else:
        arr = np.asarray(labels)
        if arr.shape[0] != len(frame):
            raise ValueError(
                f"labels has {arr.shape[0]} entries but the frame has {len(frame)} rows; "
                "pass one segment label per survey row"
            )
        lab = pd.Series(arr, index=frame.index)
    return lab


def align_weights(frame: pd.DataFrame, weights: str | pd.Series | np.ndarray | None) -> pd.Series:
    """Survey weights per row of ``frame``: a column name, a Series or an array (1 when None).

    Missing weights count as 0; negative weights raise ``ValueError``.

    >>> frame = pd.DataFrame({"w": [1.0, None, 2.0]})
    >>> align_weights(frame, "w").tolist()
    [1.0, 0.0, 2.0]
    """
    if weights is None:
        return pd.Series(1.0, index=frame.index)
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise KeyError(f"weights column {weights!r} is not in the survey table")
        w = pd.to_numeric(frame[weights], errors="coerce")
    elif isinstance(weights, pd.Series):
        w = pd.to_numeric(weights, errors="coerce")
        if not w.index.equals(frame.index):
            w = (
                pd.Series(w.to_numpy(), index=frame.index)
                if len(w) == len(frame)
                else w.reindex(frame.index)
            )
    else:
        w = pd.Series(np.asarray(weights, dtype=float), index=frame.index)
    w = w.astype(float)
    if (w < 0).any():
        raise ValueError("survey weights must be non-negative")
    return w.fillna(0.0)


def classify(series: pd.Series, max_levels: int = 20) -> tuple[Kind, pd.Series, list[str]] | None:
    """Kind of a column and its coded form.

    Returns ``(kind, coded, levels)``: numeric columns as floats; binary columns (0/1, bool,
    or two levels one of which reads as *yes*) as 0/1 floats with ``levels = [positive]``;
    other columns as strings with their levels. ``None`` when a categorical column has
    more than ``max_levels`` levels.
    """
    s = series
    if pd.api.types.is_bool_dtype(s):
        return "binary", s.astype(float), ["True"]
    if pd.api.types.is_numeric_dtype(s):
        x = s.astype(float)
        vals = set(np.unique(x.dropna()))
        if vals and vals <= {0.0, 1.0}:
            return "binary", x, ["1"]
        return "numeric", x, ["mean"]
    st = s.astype("string")
    levels = sorted(st.dropna().unique().tolist(), key=str)
    low = [lv.strip().lower() for lv in levels]
    if len(levels) == 2 and any(v in _YES for v in low) and any(v in _NO for v in low):
        pos = levels[0] if low[0] in _YES else levels[1]
        coded = (st == pos).astype(float).where(st.notna())
        return "binary", coded, [pos]
    if len(levels) > max_levels:
        return None
    return "categorical", st, levels
