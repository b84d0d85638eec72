"""Pattern compression of the BTYD summary: distinct ``(x, t_x, T)`` rows with their counts.

The BG/NBD, Pareto/NBD and BG/BB likelihoods depend on a customer only through
``(frequency, recency, T)``, so customers sharing those three numbers contribute the same
term: the log-likelihood of the customers is that of the distinct patterns, each weighted by
how many customers it stands for (the models' ``weights`` column). Fitting on the patterns
gives the same parameters, standard errors and log-likelihood as fitting on the customers,
at a cost set by the number of patterns, not of customers. Summaries from transactions sit
on a day grid (``recency`` and ``T`` are whole days, or days / 7 in weeks, so both units
give the same number of patterns): 1,000,000 simulated customers over three years have
about 406,000 patterns, over one year 177,000; simulated summaries with continuous ages do
not compress at all. Predictions (P(alive), expected purchases, discounted purchases) are
functions of the pattern too, so they can be computed once per pattern and gathered back to
the customers with the index :func:`pattern_index` returns.

The Gamma-Gamma spend model depends on ``(x, mean spend)``; mean spends are continuous, so
its input does not compress in general (CDNOW's 946 repeat buyers have 760 distinct
``(x, mean spend)`` pairs) and it is fitted per customer.

Covariate fits compress when the key includes the covariate columns: categorical covariates
multiply the patterns by their levels at most; continuous ones make nearly every customer a
pattern of its own, and :func:`compresses` then says to fit per customer.

:func:`pattern_sql` is the same grouping as one SQL statement for an engine (DuckDB, or Spark
SQL where the customers live), identical in both dialects apart from identifier quoting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from segmentum.spark_run import spark_identifier

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "COMPRESS_RATIO",
    "PATTERN_COLUMNS",
    "compresses",
    "pattern_counts",
    "pattern_index",
    "pattern_sql",
    "patterns_duckdb",
]

#: the columns a BTYD likelihood sees of a customer
PATTERN_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T")

#: fit on the patterns when there are fewer than this share of the rows
COMPRESS_RATIO = 0.5

#: combined codes are re-numbered before they could overflow int64
_CODE_LIMIT = 2**62


def compresses(n_patterns: int, n_rows: int, ratio: float = COMPRESS_RATIO) -> bool:
    """Whether fitting on ``n_patterns`` patterns pays against ``n_rows`` rows.

    The rule is ``n_patterns < ratio × n_rows`` (default ``ratio = 0.5``): the fit's cost is
    linear in its rows, and computing the patterns costs a few hash passes over the rows, so
    halving the rows is the least worth the detour.
    """
    return n_rows > 0 and n_patterns < ratio * n_rows


def _key_columns(summary: pd.DataFrame, covariates: Sequence[str], caller: str) -> list[str]:
    """The grouping columns, checked: present, unique, without missing values."""
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"{caller} expects a pandas DataFrame, got {type(summary).__name__}")
    cols = [*PATTERN_COLUMNS, *([covariates] if isinstance(covariates, str) else covariates)]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise ValueError(f"{caller}: column(s) {dupes} named twice in the pattern key")
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise ValueError(
            f"{caller}: the summary table lacks column(s) {missing}; it has "
            f"{list(summary.columns)}. Build it with segmentum.value.summarize(transactions, ...)."
        )
    for c in cols:
        na = summary[c].isna().to_numpy()
        if na.any():
            rows = [int(i) for i in np.flatnonzero(na)[:5]]
            raise ValueError(
                f"{caller}: column {c!r} has {int(na.sum())} missing value(s) (first at "
                f"row(s) {rows}); fill them or drop those customers before compressing"
            )
    return cols


def _grid_codes(v: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Order-preserving codes of values on a day grid (whole numbers, or sevenths), or None.

    A summary's ``recency`` and ``T`` are whole days divided by the days of the unit, so
    ``rint(v·s)`` recovers the days exactly: codes by arithmetic, without a hash or a sort.
    """
    if v.size == 0 or not np.all(np.isfinite(v)):
        return None
    for s in (1.0, 7.0):
        k = np.rint(v * s)
        if float(np.max(np.abs(k))) < 2.0**40 and np.array_equal(k / s, v):
            ki = k.astype(np.int64)
            lo = int(ki.min())
            span = int(ki.max()) - lo + 1
            if span > 4 * v.size + 1024:  # sparse values: a hash costs less than a span
                return None
            present = np.zeros(span, dtype=bool)
            present[ki - lo] = True
            if present.all():
                return ki - lo, span
            lookup = np.cumsum(present) - 1  # re-number the present values, order kept
            return lookup[ki - lo], int(present.sum())
    return None


def _column_codes(s: pd.Series) -> tuple[np.ndarray, int]:
    """Codes ``0..k-1`` of a column's values that sort as the values (text: as ``str``)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        grid = _grid_codes(s.to_numpy(dtype=float))
        if grid is not None:
            return grid
        codes, uniques = pd.factorize(s.to_numpy(dtype=float), sort=True)
        return codes.astype(np.int64), len(uniques)
    codes, uniques = pd.factorize(s)
    # rank the levels by their text, so the order does not depend on the rows' order
    order = np.argsort(np.array([str(u) for u in uniques], dtype=object), kind="stable")
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    return rank[codes], len(uniques)


def pattern_index(
    summary: pd.DataFrame, covariates: Sequence[str] = ()
) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct ``(frequency, recency, T[, covariates])`` rows, their weights and each row's.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per customer (:func:`segmentum.value.summarize`), or already aggregated
        rows with a ``weights`` column (the weights are then summed).
    covariates : sequence of str, optional
        Further columns of the key (the covariates of a covariate fit).

    Returns
    -------
    patterns : pandas.DataFrame
        The key columns (values and dtypes as in ``summary``) and ``weights`` (float): one
        row per distinct key, sorted by the key (text covariates by their text), so the
        table does not depend on the order of the rows.
    inverse : numpy.ndarray of int64
        For each row of ``summary``, the row of ``patterns`` it belongs to:
        ``patterns.iloc[inverse]`` has the key columns of ``summary``, row by row.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [0, 2, 0, 2], "recency": [0, 5, 0, 5],
    ...                   "T": [9, 9, 9, 9]})
    >>> patterns, inverse = pattern_index(s)
    >>> patterns.to_dict("list")
    {'frequency': [0, 2], 'recency': [0, 5], 'T': [9, 9], 'weights': [2.0, 2.0]}
    >>> inverse.tolist()
    [0, 1, 0, 1]
    """
    cols = _key_columns(summary, covariates, "pattern_index")
    n = len(summary)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for c in cols:
        codes, k = _column_codes(summary[c])
        if span * k >= _CODE_LIMIT:  # re-number the combined codes (order kept) first
            key, uniq = pd.factorize(key, sort=True)
            key, span = key.astype(np.int64), len(uniq)
        key = key * k + codes
        span *= max(k, 1)
    inverse, uniques = pd.factorize(key, sort=True)
    inverse = inverse.astype(np.int64)
    m = len(uniques)
    first = np.empty(m, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)  # the first row of each pattern
    if "weights" in summary.columns:
        w = pd.to_numeric(summary["weights"], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(
                "pattern_index: column 'weights' must hold finite numbers >= 0 (customers per row)"
            )
        weights = np.bincount(inverse, weights=w, minlength=m)
    else:
        weights = np.bincount(inverse, minlength=m).astype(float)
    patterns = summary[cols].iloc[first].reset_index(drop=True)
    patterns["weights"] = weights
    return patterns, inverse


def pattern_counts(summary: pd.DataFrame, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """The distinct ``(frequency, recency, T)`` patterns of a summary with their counts.

    Fitting a BG/NBD, Pareto/NBD or BG/BB model on this table gives the parameters, standard
    errors and log-likelihood of the fit on ``summary`` (the likelihood of a customer depends
    on nothing else). See :func:`pattern_index` for the parameters and the columns.

    Examples
    --------
    >>> from segmentum.value import BetaGeoModel
    >>> from segmentum.value.models.bgnbd import simulate_bgnbd
    >>> params = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
    >>> s = simulate_bgnbd(params, T=52.0, n=5000, seed=1)
    >>> s["recency"] = np.ceil(s["recency"] * 7) / 7  # whole days, in weeks
    >>> p = pattern_counts(s)
    >>> len(p) < len(s) / 2, int(p["weights"].sum())
    (True, 5000)
    >>> a, b = BetaGeoModel().fit(s), BetaGeoModel().fit(p)
    >>> bool(abs(a.params_["r"] / b.params_["r"] - 1) < 1e-6)
    True
    """
    return pattern_index(summary, covariates)[0]


def _quote(name: str, dialect: str) -> str:
    if dialect == "spark":
        return spark_identifier(name)
    return '"' + name.replace('"', '""') + '"'


def pattern_sql(
    view: str,
    dialect: Literal["duckdb", "spark"] = "duckdb",
    *,
    covariates: Sequence[str] = (),
    weights: str | None = None,
) -> str:
    """The pattern table of a summary as one SQL statement (DuckDB or Spark SQL).

    ``GROUP BY frequency, recency, T`` (and the covariates) with ``COUNT(*)``, ordered by the
    key; the two dialects differ only in identifier quoting. Counts are ``BIGINT`` in both
    engines (the models read ``weights`` as floats).

    Parameters
    ----------
    view : str
        A table expression holding the summary: a table or view name (quoted by the caller
        if it needs quoting), or e.g. ``read_parquet('…')``.
    dialect : {"duckdb", "spark"}, default="duckdb"
        SQL dialect (identifier quoting: ``"…"`` or backticks).
    covariates : sequence of str, optional
        Further key columns (categorical covariates of a covariate fit).
    weights : str, optional
        A column of customers per row, summed instead of counting rows.

    Returns
    -------
    str
        One ``SELECT`` statement: the key columns and ``weights``.

    Examples
    --------
    >>> print(pattern_sql("summary", "spark"))
    SELECT `frequency`, `recency`, `T`, COUNT(*) AS `weights`
    FROM summary
    GROUP BY `frequency`, `recency`, `T`
    ORDER BY `frequency`, `recency`, `T`
    """
    if dialect not in ("duckdb", "spark"):
        raise ValueError(f"pattern_sql: dialect must be 'duckdb' or 'spark', got {dialect!r}")
    cov = [covariates] if isinstance(covariates, str) else list(covariates)
    cols = [*PATTERN_COLUMNS, *cov]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise ValueError(f"pattern_sql: column(s) {dupes} named twice in the pattern key")
    key = ", ".join(_quote(c, dialect) for c in cols)
    count = "COUNT(*)" if weights is None else f"SUM({_quote(weights, dialect)})"
    return (
        f"SELECT {key}, {count} AS {_quote('weights', dialect)}\n"
        f"FROM {view}\n"
        f"GROUP BY {key}\n"
        f"ORDER BY {key}"
    )


def patterns_duckdb(
    summary: pd.DataFrame,
    *,
    covariates: Sequence[str] = (),
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """:func:`pattern_sql` run in DuckDB on a summary frame: the table of :func:`pattern_counts`.

    ``weights`` comes back as floats; rows are sorted by the key as in
    :func:`pattern_counts` (text covariates in DuckDB's collation).
    """
    import duckdb

    cols = _key_columns(summary, covariates, "patterns_duckdb")
    con = connection if connection is not None else duckdb.connect()
    name = "_segmentum_patterns_summary"
    keep = [*cols, "weights"] if "weights" in summary.columns else cols
    con.register(name, summary[keep])
    try:
        sql = pattern_sql(
            _quote(name, "duckdb"),
            "duckdb",
            covariates=cols[len(PATTERN_COLUMNS) :],
            weights="weights" if "weights" in summary.columns else None,
        )
        out = con.execute(sql).df()
    finally:
        con.unregister(name)
        if connection is None:
            con.close()
    out["weights"] = out["weights"].astype(float)
    return out
