"""What the report and the headline figures need of the per-customer value table, as small
tables: the same on both engines.

:class:`ValueAggregates` holds the totals of the headline summary, the per-decile means the
report describes, the RFM grid and the CLV histogram. :func:`value_aggregates` computes them
from the pandas per-customer table (DuckDB); :func:`segmentum.value.spark_scoring.aggregates_spark`
computes the same tables in Spark, so a Spark run never brings its customers to the driver
for the report. :func:`histogram_edges` fixes the CLV histogram's bin edges (those of
``numpy.histogram``) from the range alone, so both engines count into the same bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentum.value.rfm import rfm_grid

__all__ = [
    "CLV_BINS",
    "ValueAggregates",
    "clv_histogram",
    "complete_rfm_grid",
    "decile_profile",
    "histogram_edges",
    "histogram_table",
    "value_aggregates",
]

#: bars of the CLV distribution
CLV_BINS = 50


@dataclass(frozen=True)
class ValueAggregates:
    """Small tables of the per-customer value table (a few dozen rows whatever its size).

    Attributes
    ----------
    columns : tuple of str
        The per-customer columns present (``"clv"`` only when CLV was computed, …).
    totals : dict
        ``customers``, ``repeat_buyers``, ``transactions``, ``revenue`` and, when the columns
        are there, ``margin``, ``clv_total``, ``clv_mean``, ``profit_total`` and
        ``unprofitable_customers``.
    decile_profile : pandas.DataFrame
        Per value decile (:func:`decile_profile`).
    rfm_grid : pandas.DataFrame or None
        Customers and mean revenue per recency × frequency score
        (:func:`segmentum.value.rfm.rfm_grid`); ``None`` without RFM scores.
    clv_histogram : pandas.DataFrame or None
        ``left``, ``right`` and ``customers`` of each CLV bin (:func:`clv_histogram`);
        ``None`` without CLV.
    """

    columns: tuple[str, ...]
    totals: dict[str, Any]
    decile_profile: pd.DataFrame
    rfm_grid: pd.DataFrame | None = None
    clv_histogram: pd.DataFrame | None = None


def histogram_edges(low: float, high: float, bins: int = CLV_BINS) -> np.ndarray:
    """The bin edges ``numpy.histogram(values, bins)`` uses for values from ``low`` to ``high``.

    ``bins + 1`` equally spaced edges from the smallest to the largest value (half a unit
    either side when they are equal), so the edges follow from the range alone.

    Examples
    --------
    >>> histogram_edges(0.0, 10.0, 5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    >>> histogram_edges(3.0, 3.0, 2).tolist()
    [2.5, 3.0, 3.5]
    """
    low, high = float(low), float(high)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, int(bins) + 1)


def clv_histogram(values: pd.Series | np.ndarray, bins: int = CLV_BINS) -> pd.DataFrame:
    """Customers per bin of the finite ``values`` (those of ``numpy.histogram(values, bins)``).

    Returns ``left``, ``right`` (the bin's edges; the last bin includes its right edge) and
    ``customers``; no rows when no value is finite.

    Examples
    --------
    >>> clv_histogram(np.array([0.0, 1.0, 1.0, 4.0, np.nan]), bins=2)["customers"].tolist()
    [3, 1]
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return pd.DataFrame(
            {"left": np.zeros(0), "right": np.zeros(0), "customers": np.zeros(0, dtype="int64")}
        )
    edges = histogram_edges(v.min(), v.max(), bins)
    counts, _ = np.histogram(v, bins=edges)
    return histogram_table(edges, counts)


def histogram_table(edges: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """The histogram table of ``edges`` (``len(counts) + 1``) and ``counts``."""
    edges = np.asarray(edges, dtype=float)
    return pd.DataFrame(
        {"left": edges[:-1], "right": edges[1:], "customers": np.asarray(counts, dtype="int64")}
    )


def decile_profile(per_customer: pd.DataFrame, decile: str = "value_decile") -> pd.DataFrame:
    """Per value decile: ``customers``, ``frequency_mean``, ``revenue_mean`` and, when present,
    ``expected_purchases_mean`` and ``unprofitable`` (customers with ``profit`` below zero).

    Examples
    --------
    >>> pc = pd.DataFrame({"value_decile": [1, 1, 2], "frequency": [2.0, 4.0, 0.0],
    ...                    "revenue": [30.0, 50.0, 5.0]})
    >>> decile_profile(pc)["frequency_mean"].tolist()
    [3.0, 0.0]
    """
    g = per_customer.groupby(decile, sort=True)
    out = pd.DataFrame({"customers": g.size().astype("int64")})
    out["frequency_mean"] = g["frequency"].mean()
    out["revenue_mean"] = g["revenue"].mean()
    if "expected_purchases" in per_customer:
        out["expected_purchases_mean"] = g["expected_purchases"].mean()
    if "profit" in per_customer:
        out["unprofitable"] = (per_customer["profit"] < 0).groupby(per_customer[decile]).sum()
        out["unprofitable"] = out["unprofitable"].astype("int64")
    out.index.name = "decile"
    return out.reset_index().astype({"decile": "int64"})


def complete_rfm_grid(cells: pd.DataFrame, bins: int, value: str = "revenue") -> pd.DataFrame:
    """:func:`segmentum.value.rfm.rfm_grid` from cell counts: ``recency_score``,
    ``frequency_score``, ``customers`` and ``mean_<value>`` of the cells that have customers.

    Every cell of the ``bins`` × ``bins`` grid comes out, in score order (empty ones with
    0 customers and no mean).
    """
    keys = ["recency_score", "frequency_score"]
    out = cells.astype({k: "int64" for k in keys}).set_index(keys)
    grid = pd.MultiIndex.from_product([range(1, bins + 1), range(1, bins + 1)], names=keys)
    out = out[["customers", *([f"mean_{value}"] if f"mean_{value}" in out else [])]]
    out = out.reindex(grid)
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out.reset_index()


def value_aggregates(
    per_customer: pd.DataFrame, rfm_bins: int = 5, bins: int = CLV_BINS
) -> ValueAggregates:
    """The :class:`ValueAggregates` of a pandas per-customer table (``ValueResult.per_customer``).

    Parameters
    ----------
    per_customer : pandas.DataFrame
        One row per customer with ``frequency``, ``revenue``, ``n_transactions``,
        ``value_decile`` and the optional value columns.
    rfm_bins : int, default=5
        Scores per RFM dimension (the grid is ``rfm_bins`` × ``rfm_bins``).
    bins : int, default=CLV_BINS
        Bars of the CLV histogram.
    """
    pc = per_customer
    totals: dict[str, Any] = {
        "customers": len(pc),
        "repeat_buyers": int((pc["frequency"] > 0).sum()),
        "transactions": int(pc["n_transactions"].sum()),
        "revenue": float(pc["revenue"].sum()),
    }
    if "margin" in pc:
        totals["margin"] = float(pc["margin"].sum())
    if "clv" in pc:
        totals["clv_total"] = float(pc["clv"].sum())
        totals["clv_mean"] = float(pc["clv"].mean())
    if "profit" in pc:
        totals["profit_total"] = float(pc["profit"].sum())
        totals["unprofitable_customers"] = int((pc["profit"] < 0).sum())
    grid = rfm_grid(pc, bins=rfm_bins) if "recency_score" in pc else None
    return ValueAggregates(
        columns=tuple(str(c) for c in pc.columns),
        totals=totals,
        decile_profile=decile_profile(pc),
        rfm_grid=grid,
        clv_histogram=clv_histogram(pc["clv"], bins) if "clv" in pc else None,
    )
