"""Plotly figures for the segments stage (plotly is imported inside each function)."""

from __future__ import annotations

from collections.abc import Mapping
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


#: The fit indices drawn against k, and which way is better ("" for neither).
FIT_INDICES: dict[str, str] = {
    "stability_median": "higher",
    "bic": "lower",
    "icl": "lower",
    "silhouette": "higher",
    "calinski_harabasz": "higher",
    "within_dispersion": "lower",
    "min_segment_share": "",
}


def fit_indices_chart(selection: pd.DataFrame) -> Any:
    """Fit indices against k, in one chart: each index scaled to its own range over k (0 =
    its lowest value, 1 = its highest), so their shapes (peaks, elbows) compare on one axis;
    the legend says which way is better, the hover gives each value in its own units.

    One chart instead of one panel per index: the page draws it in one ``Plotly.newPlot``
    (five panels took about 220 ms in the browser, one chart about 40 ms); the values
    themselves are in the evidence table beside it.
    """
    import plotly.graph_objects as go

    from segmentum.report.format import format_number, human_label
    from segmentum.report.labels import STAGE_LABELS

    cols = [c for c in FIT_INDICES if c in selection.columns and selection[c].notna().any()]
    fig = go.Figure()
    for c in cols:
        y = selection[c].astype(float)
        low, high = float(y.min()), float(y.max())
        scaled = (y - low) / (high - low) if high > low else y * 0 + 0.5
        title = human_label(c, STAGE_LABELS["segments"])
        way = FIT_INDICES[c]
        fig.add_trace(
            go.Scatter(
                x=selection["k"],
                y=scaled,
                mode="lines+markers",
                name=f"{title} ({way} is better)" if way else title,
                customdata=[format_number(v) if np.isfinite(v) else "" for v in y],
                hovertemplate=f"{title}<br>k = %{{x}}: %{{customdata}}<extra></extra>",
            )
        )
    rec = selection.loc[selection["recommended"], "k"]
    if len(rec):
        fig.add_vline(x=float(rec.iloc[0]), line_dash="dot")
    fig.update_layout(
        title="Fit indices by number of segments (each scaled to its range over k)",
        template="plotly_white",
        height=420,
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title_text="k", dtick=1)
    fig.update_yaxes(
        title_text="Scaled to its range (0 = lowest, 1 = highest)", range=[-0.05, 1.05]
    )
    return fig


#: Index (100 = the item's average) at which the heat map's colour is full.
INDEX_SATURATES = 200.0


def centroid_colour(
    centroids: pd.DataFrame, shares: Mapping[int, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Colour values (segment x item) and the index behind them, for :func:`centroid_heatmap`.

    The index is each segment's mean against the item's overall mean (100 = average; the
    segments' means weighted by their population ``shares``, equal weights without them).
    The colour value is ``log2(index / 100)`` clipped to +-1 (index 50 and 200 are full
    colour), so it reads the same whatever the number of segments: with k = 2 a small
    difference stays pale. Items whose means are not all positive (centred scores) have no
    index; their colour is the difference from the mean over the largest absolute mean.
    """
    vals = centroids.to_numpy(dtype=float)
    w = np.ones(len(centroids))
    if shares is not None:
        w = np.array([float(shares.get(int(s), 0.0)) for s in centroids.index])
        if not w.sum() > 0:
            w = np.ones(len(centroids))
    w = w / w.sum()
    mean = w @ np.nan_to_num(vals)
    positive = (np.nan_to_num(vals, nan=1.0) >= 0).all(axis=0) & (mean > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(positive, 100.0 * vals / np.where(positive, mean, 1.0), np.nan)
        log_index = np.log2(np.clip(index, 1e-9, None) / 100.0) / np.log2(INDEX_SATURATES / 100)
        spread = np.nanmax(np.abs(vals), axis=0)
        diff = (vals - mean) / np.where(spread > 0, spread, 1.0)
    z = np.clip(np.where(positive, log_index, diff), -1.0, 1.0)
    return z, index


def _cell_text(vals: np.ndarray) -> list[list[str]]:
    """Cell text per item (columns): shares as percentages, other means with 3 digits."""
    share = np.nan_to_num(vals, nan=0.5)
    is_share = ((share >= 0) & (share <= 1)).all(axis=0)
    return [
        [
            "" if not np.isfinite(v) else (f"{v:.0%}" if is_share[j] else f"{v:.3g}")
            for j, v in enumerate(row)
        ]
        for row in vals
    ]


def centroid_heatmap(
    centroids: pd.DataFrame,
    shares: Mapping[int, float] | None = None,
    *,
    names: Mapping[int, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Heat map of the chosen solution's segment profiles (item x segment).

    Parameters
    ----------
    centroids : pandas.DataFrame
        Segment x item means in item units (``SegmentsResult.centroids``).
    shares : mapping of int to float, optional
        Each segment's population share, for the items' overall means.
    names : mapping of int to str, optional
        Column titles (default ``Segment <n>``).
    labels : mapping of str to str, optional
        Item → row label (``[report.labels]``); by default the item's name made readable
        (``need_fast_claims_payout`` → "Fast claims payout",
        :func:`segmentum.report.format.item_labels`).

    Colours are the index against the item's overall mean on a diverging scale centred on
    100 (see :func:`centroid_colour`); the cell text is the mean in the item's units
    (shares as percentages), in a colour that contrasts with the cell. Every item has its
    own row label; the figure grows 26 px per item.
    """
    import plotly.graph_objects as go

    from segmentum.report.format import item_labels

    vals = centroids.to_numpy(dtype=float)
    z, index = centroid_colour(centroids, shares)
    items = item_labels(centroids.columns, labels)
    cols = [(names or {}).get(int(s), f"Segment {s}") for s in centroids.index]
    ticks = [50, 71, 100, 141, 200]
    fig = go.Figure(
        go.Heatmap(
            z=z.T,
            x=cols,
            y=items,
            text=np.array(_cell_text(vals), dtype=object).T,
            texttemplate="%{text}",
            textfont={"size": 12},
            customdata=np.nan_to_num(index.T, nan=-1).round(0),
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
            colorbar={
                "title": {"text": "index"},
                "tickvals": list(np.log2(np.array(ticks) / 100) / np.log2(INDEX_SATURATES / 100)),
                "ticktext": [str(t) for t in ticks],
            },
            xgap=1,
            ygap=1,
            hovertemplate="%{y}<br>%{x}<br>mean %{text}<br>index %{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Segment profiles (colour: index vs the item's average, 100 = average)",
        template="plotly_white",
        height=160 + 26 * len(items),
    )
    fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=items, ticktext=items)
    fig.update_xaxes(side="top")
    return fig
