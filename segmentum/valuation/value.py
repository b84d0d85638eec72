"""Segment valuation (seed 003): size, revenue, margin, CLV, growth, cost-to-serve, profit.

:func:`segment_valuation` joins the value stage's per-customer table to the segment of every
customer and sums per segment; growth is the segment's revenue trend over the last two
comparable periods of the transactions (the last ``period_days`` against the
``period_days`` before). Pure function, no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "VALUE_COLUMNS",
    "growth_from_revenue",
    "growth_periods",
    "segment_valuation",
    "valuation_table",
]

#: per-customer value columns summed per segment when present
VALUE_COLUMNS: tuple[str, ...] = (
    "revenue",
    "margin",
    "clv",
    "cost_to_serve",
    "profit",
    "profit_clv",
)


def segment_valuation(
    segments: pd.Series,
    per_customer: pd.DataFrame,
    *,
    id_column: str,
    transactions: pd.DataFrame | None = None,
    timestamp: str | None = None,
    amount: str | None = None,
    population_shares: dict[int, float] | None = None,
    period_days: int = 365,
) -> pd.DataFrame:
    """Value of each segment in the customer base.

    Parameters
    ----------
    segments : pandas.Series
        Segment (int) of each customer, indexed by customer id (survey or projected).
    per_customer : pandas.DataFrame
        The value stage's per-customer table (``revenue``, ``margin``, ``clv``,
        ``cost_to_serve``, ``profit``, ``profit_clv``; those present are used).
    id_column : str
        Customer id column of ``per_customer`` (and ``transactions``).
    transactions : pandas.DataFrame, optional
        For growth, with ``timestamp`` and ``amount`` columns.
    population_shares : dict of int to float, optional
        Weighted survey share of each segment (the population share).
    period_days : int, default=365
        Length of each of the two periods compared for growth (shortened to half the data
        span when the data are shorter).

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``population_share``, ``customers``, ``customer_share``, each
        value column's total and ``<col>_per_head``, ``clv_per_head``, ``growth`` (revenue
        of the last period over the one before, minus 1), ``revenue_share``, ``value_share``
        (share of CLV, else revenue) and ``value_index`` (value share / customer share).
    """
    pc = per_customer.set_index(id_column)
    seg = segments.dropna().astype(np.int64)
    seg.index.name = id_column
    joined = pc.join(seg.rename("segment"), how="inner")
    cols = [c for c in VALUE_COLUMNS if c in joined.columns]
    g = joined.groupby("segment")
    growth = None
    if transactions is not None and timestamp and amount:
        growth = _growth(transactions, seg, id_column, timestamp, amount, period_days)
    return valuation_table(g.size(), g[cols].sum(), growth, population_shares)


def valuation_table(
    customers: pd.Series,
    sums: pd.DataFrame,
    growth: pd.Series | None = None,
    population_shares: dict[int, float] | None = None,
) -> pd.DataFrame:
    """The segment valuation table from per-segment aggregates (what either engine sums).

    Parameters
    ----------
    customers : pandas.Series
        Number of valued customers of each segment, indexed by segment.
    sums : pandas.DataFrame
        Each value column's total by segment (the columns of :data:`VALUE_COLUMNS` present).
    growth : pandas.Series, optional
        Revenue growth by segment (:func:`growth_from_revenue`); NaN when not given.
    population_shares : dict of int to float, optional
        Weighted survey share of each segment (default: the customer share).

    Returns
    -------
    pandas.DataFrame
        As :func:`segment_valuation`.
    """
    out = pd.DataFrame({"customers": customers.astype(np.int64)})
    out["customer_share"] = out["customers"] / out["customers"].sum()
    for c in [c for c in VALUE_COLUMNS if c in sums.columns]:
        out[c] = sums[c].reindex(out.index)
        out[f"{c}_per_head"] = out[c] / out["customers"]
    if population_shares is not None:
        out.insert(
            0, "population_share", [float(population_shares.get(int(s), np.nan)) for s in out.index]
        )
    else:
        out.insert(0, "population_share", out["customer_share"])
    out["growth"] = np.nan if growth is None else growth
    if "revenue" in out:
        out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    base = "clv" if "clv" in out else ("revenue" if "revenue" in out else None)
    if base is not None:
        total = out[base].sum()
        out["value_share"] = out[base] / total if total else np.nan
        out["value_index"] = out["value_share"] / out["customer_share"]
    out.index.name = "segment"
    return out


def growth_periods(
    start: pd.Timestamp, end: pd.Timestamp, period_days: int
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The two periods growth compares: ``(cut0, cut1)``, the last period being
    ``(cut1, end]`` and the one before ``(cut0, cut1]``, each ``period_days`` long (half the
    span ``end - start`` when shorter); ``None`` when the data span less than two days."""
    days = int(min(period_days, (end - start).days // 2))
    if days < 1:
        return None
    cut1 = end - pd.Timedelta(days=days)
    return cut1 - pd.Timedelta(days=days), cut1


def growth_from_revenue(revenue: pd.DataFrame) -> pd.Series:
    """Growth by segment from the revenue of the two periods: ``revenue`` indexed by
    segment with columns ``0`` (the period before) and ``1`` (the last period); the last
    over the one before, minus 1 (NaN without revenue in the period before)."""
    rev = revenue.reindex(columns=[0, 1], fill_value=0.0)
    growth: Any = rev[1] / rev[0].where(rev[0] > 0) - 1.0
    growth.index = growth.index.astype(np.int64)
    return growth  # type: ignore[no-any-return]


def _growth(
    tx: pd.DataFrame,
    seg: pd.Series,
    id_column: str,
    timestamp: str,
    amount: str,
    period_days: int,
) -> pd.Series:
    t = pd.to_datetime(tx[timestamp])
    cuts = growth_periods(t.min(), t.max(), period_days)
    if cuts is None:
        return pd.Series(np.nan, index=seg.unique())
    cut0, cut1 = cuts
    period = np.where(t > cut1, 1, np.where(t > cut0, 0, -1))
    frame = pd.DataFrame(
        {
            "segment": tx[id_column].map(seg).to_numpy(),
            "period": period,
            "amount": tx[amount].to_numpy(dtype=float),
        }
    )
    frame = frame[(frame["period"] >= 0) & frame["segment"].notna()]
    rev = frame.groupby(["segment", "period"])["amount"].sum().unstack(fill_value=0.0)
    return growth_from_revenue(rev)
