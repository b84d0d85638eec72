"""Plotly figures of the value stage; plotly is imported inside each function.

Each function takes result tables (or a fitted model's tables) and returns a
``plotly.graph_objects.Figure``; none computes anything the stage did not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "clv_distribution",
    "conditional_expectations",
    "decile_chart",
    "histogram_chart",
    "rfm_heatmap",
    "tracking_plot",
]


def decile_chart(deciles: pd.DataFrame, value: str = "revenue") -> Any:
    """Bars of each decile's share of ``value`` and the cumulative share line (Pareto curve)."""
    import plotly.graph_objects as go

    share = deciles[f"{value}_share"] * 100
    cum = deciles[f"{value}_cum_share"] * 100
    fig = go.Figure()
    fig.add_bar(x=deciles["decile"], y=share, name=f"share of {value} (%)")
    fig.add_scatter(x=deciles["decile"], y=cum, name="cumulative share (%)", mode="lines+markers")
    fig.update_layout(
        title=f"Where {value} sits: share by value decile (1 = top)",
        xaxis={"title": "value decile", "dtick": 1},
        yaxis={"title": "% of total", "range": [min(0.0, float(share.min())), 105]},
        legend={"orientation": "h"},
    )
    return fig


def rfm_heatmap(grid: pd.DataFrame, value: str = "mean_revenue") -> Any:
    """Recency × frequency score grid coloured by ``value``, customers as cell text.

    Every cell of ``grid`` (see :func:`segmentum.value.rfm.rfm_grid`) is drawn: an empty
    cell shows 0 customers and the lowest colour; both axes are categorical, one equal
    column per score.
    """
    import plotly.graph_objects as go

    z = grid.pivot(index="recency_score", columns="frequency_score", values=value)
    n = grid.pivot(index="recency_score", columns="frequency_score", values="customers")
    n = n.reindex(index=z.index, columns=z.columns).fillna(0)
    text = n.map(lambda v: f"{int(v):,}")
    fig = go.Figure(
        go.Heatmap(
            z=z.where(n > 0, 0.0).fillna(0.0).to_numpy(),
            x=[str(c) for c in z.columns], y=[str(i) for i in z.index],
            text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues",
            colorbar={"title": value.replace("_", " ")},
            hovertemplate="recency %{y}, frequency %{x}: %{text} customers, "
            + value.replace("_", " ") + " %{z:,.2f}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        title="RFM grid: customers per recency × frequency score, coloured by "
        + value.replace("_", " "),
        xaxis={"title": "frequency score", "type": "category"},
        yaxis={"title": "recency score", "type": "category"},
    )
    return fig


def clv_distribution(per_customer: pd.DataFrame, column: str = "clv", bins: int = 50) -> Any:
    """Histogram of CLV (or any value column) across customers.

    Binned here, not by Plotly: the figure holds ``bins`` bars whatever the number of
    customers (a ``go.Histogram`` of 100,000 customers carries every value, 650 kB of JSON).
    The bars of a table already binned (a Spark run's) are drawn by :func:`histogram_chart`.
    """
    from segmentum.value.aggregates import clv_histogram

    return histogram_chart(clv_histogram(per_customer[column], bins), column)


def histogram_chart(histogram: pd.DataFrame, column: str = "clv") -> Any:
    """Bars of a binned distribution: ``left``, ``right`` and ``customers`` per bin
    (:func:`segmentum.value.aggregates.clv_histogram`)."""
    import plotly.graph_objects as go

    from segmentum.report.format import human_label

    left = histogram["left"].to_numpy(dtype=float)
    right = histogram["right"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=(left + right) / 2,
            y=histogram["customers"].to_numpy(),
            width=right - left,
            name=human_label(column),
            customdata=np.column_stack([left, right]),
            hovertemplate="%{customdata[0]:,.2f} to %{customdata[1]:,.2f}: "
            "%{y:,} customers<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Distribution of {human_label(column)} across customers",
        xaxis_title=column.replace("_", " "),
        yaxis_title="customers",
        bargap=0.02,
    )
    return fig


def conditional_expectations(validation: pd.DataFrame) -> Any:
    """Mean holdout purchases, actual vs predicted, by calibration frequency (FHL 2005, Fig. 4)."""
    import plotly.graph_objects as go

    v = validation[validation["calibration_frequency"] != "all"]
    fig = go.Figure()
    fig.add_scatter(
        x=v["calibration_frequency"], y=v["actual_mean"], name="actual", mode="lines+markers"
    )
    fig.add_scatter(
        x=v["calibration_frequency"],
        y=v["predicted_mean"],
        name="model",
        mode="lines+markers",
        line={"dash": "dash"},
    )
    fig.update_layout(
        title="Holdout purchases by calibration frequency: actual vs model",
        xaxis_title="repeat purchases in calibration",
        yaxis_title="mean purchases in holdout",
    )
    return fig


def tracking_plot(tracking: pd.DataFrame) -> Any:
    """Cumulative repeat transactions over time, actual vs model (FHL 2005, Fig. 3)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=tracking["date"], y=tracking["actual"], name="actual", mode="lines")
    fig.add_scatter(
        x=tracking["date"],
        y=tracking["expected"],
        name="model",
        mode="lines",
        line={"dash": "dash"},
    )
    cal = tracking.loc[tracking["calibration"], "date"]
    if len(cal):
        fig.add_vline(x=cal.max(), line={"dash": "dot", "color": "grey"})
    fig.update_layout(
        title="Tracking: cumulative repeat transactions, actual vs model (dotted line: end of calibration)",
        xaxis_title="date",
        yaxis_title="cumulative repeat transactions",
    )
    return fig
