"""Plotly figures for the segments stage (plotly is imported inside each function)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def stability_boxplot(selection: pd.DataFrame, samples: dict[int, np.ndarray]) -> Any:
    """Box plot of bootstrap adjusted Rand indices per k; the recommended k is highlighted.

    Parameters
    ----------
    selection : pandas.DataFrame
        ``NeedsSegmenter.selection_`` (for the recommended k).
    samples : dict
        k → bootstrap ARIs (``NeedsSegmenter.stability_samples_``).
    """
    import plotly.graph_objects as go

    rec = set(selection.loc[selection["recommended"], "k"].astype(int))
    fig = go.Figure()
    for k in sorted(samples):
        fig.add_trace(
            go.Box(
                y=np.asarray(samples[k]),
                name=f"k = {k}",
                boxpoints=False,
                marker_color="#d62728" if k in rec else "#1f77b4",
            )
        )
    fig.update_layout(
        title="Global stability by number of segments",
        yaxis_title="adjusted Rand index (bootstrap pairs)",
        xaxis_title="number of segments",
        showlegend=False,
        yaxis_range=[min(0.0, min((float(np.min(v)) for v in samples.values()), default=0)), 1.02],
    )
    return fig


def segment_stability_chart(segment_stability: pd.DataFrame, threshold: float = 0.6) -> Any:
    """Bar chart of each segment's median Jaccard stability, with the flag threshold."""
    import plotly.graph_objects as go

    st = segment_stability.sort_values("segment")
    err_lo = st["jaccard_median"] - st["jaccard_q25"]
    colors = ["#d62728" if f else "#2ca02c" for f in st["flagged"]]
    fig = go.Figure(
        go.Bar(
            x=[f"Segment {int(s)}" for s in st["segment"]],
            y=st["jaccard_median"],
            marker_color=colors,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [0] * len(st),
                "arrayminus": err_lo,
            },
            text=[f"{v:.0%} of respondents" for v in st["share"]],
        )
    )
    fig.add_hline(y=threshold, line_dash="dash", annotation_text="unstable below")
    fig.update_layout(
        title="Segment-level stability (Jaccard with best bootstrap match)",
        yaxis_title="median Jaccard",
        yaxis_range=[0, 1.02],
    )
    return fig


def fit_indices_chart(selection: pd.DataFrame) -> Any:
    """Fit indices against k: one small panel per index that is defined."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = [
        c
        for c in (
            "stability_median",
            "bic",
            "icl",
            "silhouette",
            "calinski_harabasz",
            "within_dispersion",
            "min_segment_share",
        )
        if c in selection.columns and selection[c].notna().any()
    ]
    fig = make_subplots(rows=1, cols=max(len(cols), 1), subplot_titles=cols)
    rec = selection.loc[selection["recommended"], "k"]
    for i, c in enumerate(cols, start=1):
        fig.add_trace(
            go.Scatter(x=selection["k"], y=selection[c], mode="lines+markers", name=c),
            row=1,
            col=i,
        )
        if len(rec):
            fig.add_vline(x=float(rec.iloc[0]), line_dash="dot", row=1, col=i)
    fig.update_layout(title="Fit indices by number of segments", showlegend=False)
    fig.update_xaxes(title_text="k", dtick=1)
    return fig


def centroid_heatmap(centroids: pd.DataFrame) -> Any:
    """Heat map of the chosen solution's segment profiles (segment × item, item units).

    Colours are standardised per item (so items on different scales compare); the cell
    text shows the mean in the item's own units.
    """
    import plotly.graph_objects as go

    vals = centroids.to_numpy(dtype=float)
    sd = vals.std(axis=0)
    z = (vals - vals.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    fig = go.Figure(
        go.Heatmap(
            z=z.T,
            x=[f"Segment {s}" for s in centroids.index],
            y=list(centroids.columns),
            text=np.round(vals.T, 2),
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": "relative"},
        )
    )
    fig.update_layout(title="Segment profiles", yaxis_autorange="reversed")
    return fig
