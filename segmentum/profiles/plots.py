"""Plots of the profiles stage (Plotly, imported inside the functions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from segmentum.profiles.profile import Profile, Role


def index_heatmap(
    profile: Profile,
    *,
    role: Role = "basis",
    names: Mapping[int, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Heat map of the index (100 = average) per variable and segment.

    Cells are coloured on a diverging scale centred on 100 (log scale, capped at 25 and
    400); significant cells (BH-adjusted) are marked with an asterisk. Rows are labelled
    with the variable's name made readable (``need_fast_claims_payout`` → "Fast claims
    payout"; ``labels`` maps a variable to its own label), then ``: level`` for a level.
    """
    import plotly.graph_objects as go

    from segmentum.report.format import item_labels

    m = profile.index_matrix(role)
    t = profile.rows(role=role)
    key = np.where(t["kind"] != "categorical", t["variable"], t["variable"] + ": " + t["level"])
    variables = list(dict.fromkeys(t["variable"].astype(str)))
    named = dict(zip(variables, item_labels(variables, labels), strict=True))
    row_label = {
        str(k): named[str(v)] + ("" if k == v else str(k)[len(str(v)) :])
        for k, v in zip(key, t["variable"], strict=True)
    }
    sig = (
        t.assign(key=key)
        .pivot_table(
            index="key", columns="segment", values="significant", aggfunc="max", sort=False
        )
        .reindex_like(m)
    )
    means = _mean_text(t.assign(key=key)).reindex_like(m).fillna("")
    z = np.log2(np.clip(m.to_numpy(dtype=float), 25, 400) / 100.0)
    text = [
        [
            ("" if not np.isfinite(v) else f"{v:.0f}") + ("*" if bool(s) else "")
            for v, s in zip(row_v, row_s, strict=True)
        ]
        for row_v, row_s in zip(m.to_numpy(dtype=float), sig.fillna(False).to_numpy(), strict=True)
    ]
    cols = [(names or {}).get(int(c), f"Segment {c}") for c in m.columns]
    rows = [row_label.get(str(r), str(r)) for r in m.index]  # a label on every row
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-2,
            zmax=2,
            showscale=False,
            customdata=means.to_numpy(dtype=object),
            hovertemplate="%{y}<br>%{x}<br>%{customdata}<br>index %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Index by segment ({role}; 100 = average, * = significant after BH)",
        template="plotly_white",
        height=160 + 22 * len(m.index),
        # rows in the profile's order: ordered levels (Never … Once a week) stay in order
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": rows},
    )
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=rows)
    return fig


def _mean_text(t: Any) -> Any:
    """Per row key and segment: "mean 3.42 (overall 3.10)", or "62 % (overall 48 %)" for a
    share (binary and categorical rows)."""
    share = t["kind"] != "numeric"

    def fmt(v: float, is_share: bool) -> str:
        return "" if not np.isfinite(v) else (f"{v:.0%}" if is_share else f"{v:.3g}")

    words = [
        f"{'share' if sh else 'mean'} {fmt(v, sh)} (overall {fmt(o, sh)})"
        for v, o, sh in zip(t["value"].astype(float), t["total"].astype(float), share, strict=True)
    ]
    return t.assign(words=words).pivot_table(
        index="key", columns="segment", values="words", aggfunc="first", sort=False
    )


def size_figure(profile: Profile, *, names: Mapping[int, str] | None = None) -> Any:
    """Segment sizes: population share (weighted) and sample share."""
    import plotly.graph_objects as go

    s = profile.sizes
    labels = [(names or {}).get(int(v), f"Segment {v}") for v in s["segment"]]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=s["share"], name="population (weighted)"),
            go.Bar(x=labels, y=s["share_sample"], name="sample"),
        ]
    )
    fig.update_layout(
        barmode="group",
        yaxis_tickformat=".0%",
        template="plotly_white",
        title="Segment sizes",
        height=360,
    )
    return fig
