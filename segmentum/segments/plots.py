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


def stability_curve(selection: pd.DataFrame) -> Any:
    """Global stability against k (median and quartiles of the bootstrap ARIs) beside the
    null band: the same analysis on the items permuted independently (5 %–95 % and median).
    Reproducible k are marked; the chosen k is highlighted."""
    import plotly.graph_objects as go

    sel = selection.sort_values("k")
    k = sel["k"].astype(int).tolist()
    fig = go.Figure()
    if sel["null_q95"].notna().any():
        fig.add_trace(
            go.Scatter(
                x=k + k[::-1],
                y=sel["null_q95"].tolist() + sel["null_q05"].tolist()[::-1],
                fill="toself",
                fillcolor="rgba(127,127,127,0.25)",
                line={"width": 0},
                name="no-structure band (items permuted, 5–95 %)",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=k,
                y=sel["null_median"],
                mode="lines",
                line={"color": "#7f7f7f", "dash": "dot"},
                name="no-structure median",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=k,
            y=sel["stability_median"],
            mode="lines+markers",
            line={"color": "#1f77b4"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (sel["stability_q75"] - sel["stability_median"]).tolist(),
                "arrayminus": (sel["stability_median"] - sel["stability_q25"]).tolist(),
            },
            marker={
                "size": [14 if c else 8 for c in sel["chosen"]],
                "color": ["#2ca02c" if r else "#d62728" for r in sel["reproducible"]],
                "line": {"width": [2 if c else 0 for c in sel["chosen"]], "color": "black"},
            },
            name="these data (median, quartiles); green = reproducible",
        )
    )
    fig.update_layout(
        title="Global stability against structureless data",
        xaxis_title="number of segments",
        yaxis_title="adjusted Rand index (bootstrap pairs)",
        yaxis_range=[min(0.0, float(sel["null_q05"].min(skipna=True) or 0.0)), 1.02],
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


_BAND_COLORS = {
    "highly stable": "#1a9850",
    "stable": "#91cf60",
    "doubtful": "#fdae61",
    "unstable": "#f46d43",
    "dissolved": "#d73027",
    "unknown": "#bbbbbb",
}


def segment_stability_chart(segment_stability: pd.DataFrame, threshold: float = 0.6) -> Any:
    """Bar chart of each segment's mean bootstrap Jaccard, coloured by Hennig's bands
    (≥ .85 highly stable, ≥ .75 stable, ≥ .6 doubtful, < .5 dissolved)."""
    import plotly.graph_objects as go

    st = segment_stability.sort_values("segment")
    bands = st["band"] if "band" in st else ["unknown"] * len(st)
    fig = go.Figure(
        go.Bar(
            x=[f"Segment {int(s)}" for s in st["segment"]],
            y=st["jaccard_mean"],
            marker_color=[_BAND_COLORS.get(b, "#bbbbbb") for b in bands],
            text=[f"{b}; {v:.0%} of respondents" for b, v in zip(bands, st["share"], strict=True)],
        )
    )
    for y, label in ((0.85, "highly stable"), (0.75, "stable"), (threshold, "doubtful")):
        fig.add_hline(y=y, line_dash="dash", line_width=1, annotation_text=label)
    fig.update_layout(
        title="Segment-level stability (Jaccard with the best bootstrap match)",
        yaxis_title="mean Jaccard over bootstrap samples",
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
