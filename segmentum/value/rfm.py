"""RFM scores and the decile (Pareto) table: where value sits in the customer base."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["assign_deciles", "decile_table", "rfm_grid", "rfm_scores"]


def _quantile_score(values: pd.Series, bins: int) -> pd.Series:
    """1…bins by rank quantile; ties share a score (average rank), so heavy ties stay together."""
    pct = values.rank(method="average", pct=True)
    return np.ceil(pct * bins).clip(1, bins).astype("int64")


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


def rfm_grid(per_customer: pd.DataFrame, value: str = "revenue") -> pd.DataFrame:
    """Recency × frequency score grid: customers and mean ``value`` per cell (long format)."""
    g = per_customer.groupby(["recency_score", "frequency_score"])
    out = pd.DataFrame({"customers": g.size()})
    if value in per_customer:
        out[f"mean_{value}"] = g[value].mean()
    return out.reset_index()
