"""RFM scores and the decile (Pareto) table: where value sits in the customer base."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["assign_deciles", "decile_table", "rfm_grid", "rfm_scores"]


def _quantile_score(values: pd.Series, bins: int) -> pd.Series:
    """1…bins by rank quantile, every score used; equal values always share a score.

    Each distinct value starts from the rank-quantile score of its average rank, so heavy
    ties stay together. Where ties sit on quantile edges that alone can skip scores (on
    CDNOW more than half the customers never bought again and would all score 2 on
    frequency, leaving no 1), so the scores of the distinct values are then made to run
    1, 2, …, ``bins`` without a gap: the lowest value scores 1, each next distinct value
    at most one more than the previous, and enough room is left for the highest to score
    ``bins``. With fewer distinct values than scores, they are spread evenly over 1…bins
    (lowest 1, highest ``bins``); the scores in between stay empty.
    """
    if values.empty:
        return pd.Series([], dtype="int64", index=values.index)
    uniq, inverse = np.unique(values.to_numpy(dtype=float), return_inverse=True)
    d = len(uniq)
    if d == 1:
        per_value = np.ones(1, dtype="int64")
    elif d < bins:
        per_value = np.rint(1 + np.arange(d) * (bins - 1) / (d - 1)).astype("int64")
    else:
        counts = np.bincount(inverse, minlength=d)
        mid_rank = np.cumsum(counts) - (counts - 1) / 2  # average rank of each value
        start = np.ceil(mid_rank / len(values) * bins).clip(1, bins).astype("int64")
        j = np.arange(d)
        # at least the score that still lets the higher values reach ``bins`` …
        floor = np.maximum(start, bins - (d - 1 - j))
        # … and at most one more than the previous value's: s_j = min(floor_j, s_(j-1) + 1)
        per_value = (j + np.minimum(1, np.minimum.accumulate(floor - j))).astype("int64")
    return pd.Series(per_value[inverse], index=values.index, dtype="int64")


def rfm_scores(summary: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Quantile RFM scores, ``bins`` = best.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`segmentum.value.summarize` (``T``, ``recency``, ``frequency``,
        ``revenue``).
    bins : int, default=5
        Number of quantile classes per dimension (2-9).

    Returns
    -------
    pandas.DataFrame
        ``recency_score`` (recent buyers score high: ranked on time since the last purchase,
        ``T − recency``), ``frequency_score`` (purchase days), ``monetary_score`` (revenue)
        and ``rfm_score``, the three digits as a string (``"545"``), same index as ``summary``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"T": [10, 10, 10, 10], "recency": [9, 1, 5, 0],
    ...                   "frequency": [3, 1, 2, 0], "revenue": [90, 20, 50, 10]})
    >>> rfm_scores(s, bins=4)["rfm_score"].tolist()
    ['444', '222', '333', '111']
    """
    if not 2 <= int(bins) <= 9:
        raise ValueError(f"rfm bins must be between 2 and 9, got {bins}")
    missing = [c for c in ("T", "recency", "frequency", "revenue") if c not in summary]
    if missing:
        raise ValueError(f"rfm_scores: summary lacks column(s) {missing}")
    out = pd.DataFrame(index=summary.index)
    out["recency_score"] = _quantile_score(-(summary["T"] - summary["recency"]), bins)
    out["frequency_score"] = _quantile_score(summary["frequency"], bins)
    out["monetary_score"] = _quantile_score(summary["revenue"], bins)
    out["rfm_score"] = (
        out["recency_score"].astype(str)
        + out["frequency_score"].astype(str)
        + out["monetary_score"].astype(str)
    )
    return out


def assign_deciles(values: pd.Series, n: int = 10) -> pd.Series:
    """Equal-count deciles of ``values``, 1 = highest; ties broken by order of appearance."""
    k = min(n, len(values))
    if k == 0:
        return pd.Series([], dtype="int64", index=values.index, name="value_decile")
    rank = values.rank(method="first", ascending=False).to_numpy()
    dec = np.ceil(rank * k / len(values)).astype("int64")
    return pd.Series(dec, index=values.index, name="value_decile")


def decile_table(
    per_customer: pd.DataFrame,
    decile: str = "value_decile",
    columns: Sequence[str] = ("revenue", "margin", "clv", "profit"),
) -> pd.DataFrame:
    """Customers and value per decile with shares and cumulative shares (the Pareto curve).

    Parameters
    ----------
    per_customer : pandas.DataFrame
        One row per customer with a decile column (1 = top).
    decile : str, default="value_decile"
        Name of the decile column.
    columns : sequence of str
        Value columns to total; those absent are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per decile: ``customers``, ``customers_share``, and for each value column its
        total, ``<col>_share`` and ``<col>_cum_share``.
    """
    cols = [c for c in columns if c in per_customer]
    g = per_customer.groupby(decile, sort=True)
    out = pd.DataFrame({"customers": g.size()})
    out["customers_share"] = out["customers"] / out["customers"].sum()
    out["customers_cum_share"] = out["customers_share"].cumsum()
    for c in cols:
        tot = g[c].sum()
        out[c] = tot
        denom = float(tot.sum())
        out[f"{c}_share"] = tot / denom if denom else np.nan
        out[f"{c}_cum_share"] = out[f"{c}_share"].cumsum()
    out.index.name = "decile"
    return out.reset_index()


def rfm_grid(
    per_customer: pd.DataFrame, value: str = "revenue", bins: int | None = None
) -> pd.DataFrame:
    """Recency × frequency score grid: customers and mean ``value`` per cell (long format).

    Every cell of the ``bins`` × ``bins`` grid is present, in score order: an empty cell has
    0 customers (and no mean), so a plot of the grid never skips a score.

    Parameters
    ----------
    per_customer : pandas.DataFrame
        ``recency_score``, ``frequency_score`` and, optionally, ``value``.
    value : str, default="revenue"
        Column averaged per cell (``mean_<value>``), when present.
    bins : int, optional
        Scores per dimension; defaults to the highest score present.

    Examples
    --------
    >>> pc = pd.DataFrame({"recency_score": [1, 2], "frequency_score": [1, 1],
    ...                    "revenue": [10.0, 30.0]})
    >>> rfm_grid(pc, bins=2)["customers"].tolist()
    [1, 0, 1, 0]
    """
    r, f = per_customer["recency_score"], per_customer["frequency_score"]
    if bins is None:
        bins = int(max(r.max(), f.max(), 1)) if len(per_customer) else 1
    g = per_customer.groupby([r.rename("recency_score"), f.rename("frequency_score")])
    out = pd.DataFrame({"customers": g.size()})
    if value in per_customer:
        out[f"mean_{value}"] = g[value].mean()
    cells = pd.MultiIndex.from_product(
        [range(1, bins + 1), range(1, bins + 1)], names=["recency_score", "frequency_score"]
    )
    out = out.reindex(cells)
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out.reset_index()
