"""Plots of the valuation stage: the typing tool's curve and the segment evaluation plot.

Plotly is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmentum.valuation.typing_tool import TypingToolResult

__all__ = ["evaluation_plot", "typing_curve"]


def typing_curve(result: TypingToolResult) -> Any:
    """Held-out agreement against the number of golden questions, with the target and the
    proportional chance criterion (±1 SD across outer folds as error bars)."""
    import plotly.graph_objects as go

    c = result.curve
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=c["n_questions"],
            y=c["accuracy"],
            mode="lines+markers",
            name="held-out agreement",
            error_y={"type": "data", "array": c["accuracy_sd"], "visible": True},
            text=[f"+ {i}" for i in c["item"]],
            hovertemplate="%{x} questions (%{text}): %{y:.1%}<extra></extra>",
        )
    )
    x = [float(c["n_questions"].min()), float(c["n_questions"].max())]
    fig.add_trace(
        go.Scatter(x=x, y=[result.chance] * 2, mode="lines", name="proportional chance",
                   line={"dash": "dot", "color": "grey"})
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=x, y=[result.target] * 2, mode="lines", name="target",
                   line={"dash": "dash", "color": "green"})
    )  # fmt: skip
    fig.add_vline(x=result.n_questions, line={"color": "black", "width": 1})
    fig.update_layout(
        xaxis_title="number of golden questions",
        yaxis_title="agreement with the full-basis segment (held out)",
        yaxis={"tickformat": ".0%", "range": [0, 1.02]},
        template="plotly_white",
        height=420,
    )
    return fig


def evaluation_plot(priority: pd.DataFrame, names: dict[int, str] | None = None) -> Any:
    """The segment evaluation plot (Dolnicar, Grün & Leisch 2018, step 8): attractiveness ×
    competitiveness, bubble area = population share, colour = CLV per head; knocked-out
    segments drawn hollow.

    Parameters
    ----------
    priority : pandas.DataFrame
        :attr:`Priorities.table`: indexed by segment with ``attractiveness``,
        ``competitiveness``, ``population_share``, ``clv_per_head``, ``knocked_out``, ``rank``.
    """
    import plotly.graph_objects as go

    t = priority
    size = t["population_share"].to_numpy(dtype=float)
    top = float(np.nanmax(size)) if size.size and np.nanmax(size) > 0 else 1.0
    comp = t["competitiveness"].to_numpy(dtype=float)
    comp = np.where(np.isnan(comp), 0.0, comp)
    label = [
        f"{s}: {(names or {}).get(int(s), '')}".rstrip(": ") + f" (#{int(r)})"
        for s, r in zip(t.index, t["rank"], strict=True)
    ]
    ko = t["knocked_out"].to_numpy(dtype=bool)
    fig = go.Figure(
        go.Scatter(
            x=comp,
            y=t["attractiveness"],
            mode="markers+text",
            text=label,
            textposition="top center",
            marker={
                "size": size,
                "sizemode": "area",
                "sizeref": 2.0 * top / 70.0**2,
                "color": t["clv_per_head"],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "CLV per head"},
                "line": {"width": np.where(ko, 3, 1), "color": "black"},
                "opacity": 0.85,
                "symbol": np.where(ko, "circle-open", "circle"),
            },
            hovertemplate="%{text}<br>attractiveness %{y:.2f}<br>competitiveness %{x:.2f}"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="competitiveness (our brand vs the best competitor on the segment's needs)",
        yaxis_title="segment attractiveness (weighted criteria, 0-1)",
        template="plotly_white",
        height=480,
    )
    return fig
