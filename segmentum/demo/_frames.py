"""Small helpers that build pandas columns fast (through Arrow, without Python loops)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

STR_DTYPE = pd.StringDtype(na_value=np.nan)
"""pandas' default string dtype (``str``); missing values read as NaN."""


def str_column(
    labels: np.ndarray, codes: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """A string column from labels, optionally indexed by integer codes.

    Parameters
    ----------
    labels : numpy.ndarray, dtype object
        The strings (None for missing).
    codes : numpy.ndarray of int, optional
        Positions into ``labels``; when given, the column is ``labels[codes]`` built in Arrow
        without creating one Python string per row.

    Returns
    -------
    pandas.api.extensions.ExtensionArray
        Array of dtype ``str``.
    """
    arrow = pa.array(labels, type=pa.string())
    if codes is not None:
        arrow = arrow.take(pa.array(np.asarray(codes, dtype=np.int64)))
    return pd.array(arrow, dtype=STR_DTYPE)
