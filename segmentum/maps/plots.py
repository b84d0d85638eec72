"""Plots of the map stage: the interactive map, a static image for slides, the theme chart.

Plotly is imported inside the functions. Bubbles use ``sizemode="area"`` so that the drawn
area is proportional to the segment's share (or value), as in the static SVG.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from segmentum.maps.projection import SegmentMap
from segmentum.maps.themes import Themes

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
MAX_BUBBLE_PX = 80.0


def bubble_sizes(smap: SegmentMap) -> tuple[np.ndarray, float]:
    """Marker sizes and ``sizeref`` for Plotly's ``sizemode="area"``.

    The marker size is the bubble's measure itself; with ``sizemode="area"`` Plotly draws
    an area proportional to it, the largest bubble ``MAX_BUBBLE_PX`` across.
    """
    size = smap.segments["size"].to_numpy(dtype=float)
    top = float(size.max()) if size.size and size.max() > 0 else 1.0
    return size, 2.0 * top / MAX_BUBBLE_PX**2


def _top_arrows(smap: SegmentMap, max_arrows: int | None) -> Any:
    a = smap.arrows
    if max_arrows is None or len(a) <= max_arrows:
        return a
    length = np.hypot(a["x"].to_numpy(dtype=float), a["y"].to_numpy(dtype=float))
    return a.iloc[np.sort(np.argsort(-length, kind="stable")[:max_arrows])]


def _add_density(fig: Any, smap: SegmentMap) -> None:
    """Demand density contours (skipped when the density is empty)."""
    import plotly.graph_objects as go

    xs, ys, z = smap.density
    if z.size and np.nanmax(z) > 0:
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=z,
                showscale=False,
                name="demand density",
                contours={"coloring": "lines"},
                line={"width": 0.6},
                colorscale="Greys",
                opacity=0.5,
                hoverinfo="skip",
            )
        )


def _add_respondents(fig: Any, smap: SegmentMap) -> None:
    """Respondents as faint points (a fixed sample of 3,000 when there are more)."""
    import plotly.graph_objects as go

    if not len(smap.points):
        return
    pts = smap.points
    if len(pts) > 3000:
        pts = pts.sample(3000, random_state=0)
    fig.add_trace(
        go.Scattergl(
            x=pts["x"],
            y=pts["y"],
            mode="markers",
            name="respondents",
            marker={"size": 3, "color": "#bbbbbb", "opacity": 0.35},
            hoverinfo="skip",
        )
    )


def _add_gaps(fig: Any, smap: SegmentMap) -> None:
    """Gaps as dashed circles labelled with their share of demand."""
    for _, gp in smap.gaps.iterrows():
        fig.add_shape(
            type="circle",
            x0=gp["x"] - gp["radius"],
            x1=gp["x"] + gp["radius"],
            y0=gp["y"] - gp["radius"],
            y1=gp["y"] + gp["radius"],
            line={"color": "#d62728", "dash": "dash", "width": 1.5},
        )
        fig.add_annotation(
            x=gp["x"],
            y=gp["y"],
            text=f"gap {int(gp['gap'])}: {gp['demand_share']:.0%} of demand",
            showarrow=False,
            font={"color": "#d62728", "size": 11},
        )


def _add_need_arrows(fig: Any, smap: SegmentMap, max_arrows: int | None) -> None:
    """The ``max_arrows`` longest need arrows, from the origin, labelled with the need."""
    for _, a in _top_arrows(smap, max_arrows).iterrows():
        fig.add_annotation(
            x=a["x"],
            y=a["y"],
            ax=0,
            ay=0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1,
            arrowwidth=1,
            arrowcolor="#555555",
            text=html.escape(str(a["need"])),
            font={"size": 10, "color": "#333333"},
        )


def _add_competitors(fig: Any, smap: SegmentMap) -> None:
    """Competitors as labelled diamonds."""
    import plotly.graph_objects as go

    if not len(smap.competitors):
        return
    c = smap.competitors
    fig.add_trace(
        go.Scatter(
            x=c["x"],
            y=c["y"],
            mode="markers+text",
            name="competitors",
            text=c["brand"].astype(str),
            textposition="bottom center",
            marker={"symbol": "diamond", "size": 13, "color": "#222222"},
        )
    )


def _add_segments(fig: Any, smap: SegmentMap) -> None:
    """Segments as bubbles (area proportional to ``size``, coloured by segment or a measure)."""
    import plotly.graph_objects as go

    seg = smap.segments
    size, sizeref = bubble_sizes(smap)
    numeric_colour = smap.color_by != "segment"
    colours = (
        seg["color"].to_numpy(dtype=float)
        if numeric_colour
        else [PALETTE[i % len(PALETTE)] for i in range(len(seg))]
    )
    marker: dict[str, Any] = {
        "size": size,
        "sizemode": "area",
        "sizeref": sizeref,
        "sizemin": 4,
        "color": colours,
        "opacity": 0.75,
        "line": {"width": 1, "color": "white"},
    }
    if numeric_colour:
        marker.update(
            colorscale="Viridis", showscale=True, colorbar={"title": {"text": smap.color_by}}
        )
    fig.add_trace(
        go.Scatter(
            x=seg["x"],
            y=seg["y"],
            mode="markers+text",
            name="segments",
            text=[f"{n}" for n in seg["name"]],
            textposition="top center",
            marker=marker,
            customdata=np.column_stack([seg["segment"], seg["share"], seg["size"]]),
            hovertemplate="segment %{customdata[0]}<br>share %{customdata[1]:.1%}"
            f"<br>{smap.size_by} " + "%{customdata[2]:,.3g}<extra></extra>",
        )
    )


def map_figure(
    smap: SegmentMap,
    *,
    title: str = "Segmentation map",
    show_points: bool = True,
    max_arrows: int | None = 12,
) -> Any:
    """The interactive segmentation map (``plotly.graph_objects.Figure``).

    Layers: respondents (faint), demand density contours, gaps (dashed circles), need
    arrows (the ``max_arrows`` longest), competitors (diamonds), segments (bubbles, area
    proportional to ``size``).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    _add_density(fig, smap)
    if show_points:
        _add_respondents(fig, smap)
    _add_gaps(fig, smap)
    _add_need_arrows(fig, smap, max_arrows)
    _add_competitors(fig, smap)
    _add_segments(fig, smap)
    fig.update_layout(
        title=title,
        xaxis_title=smap.axes[0],
        yaxis_title=smap.axes[1],
        template="plotly_white",
        height=620,
        legend={"orientation": "h"},
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


# long: one SVG drawn layer by layer in paint order (axes, points, gaps, arrows, segments,
# brands); every layer reads the same px/py transform.
def map_svg(
    smap: SegmentMap,
    *,
    title: str = "Segmentation map",
    width: int = 960,
    height: int = 680,
    max_arrows: int | None = 12,
) -> str:
    """A static SVG of the map (no browser or plotting library needed).

    Bubble radii are ``sqrt(area)``-scaled so that drawn areas follow ``size``; only the
    ``max_arrows`` longest need arrows are drawn.
    """
    e = html.escape
    seg, arr, comp, gaps = smap.segments, _top_arrows(smap, max_arrows), smap.competitors, smap.gaps
    xs = np.concatenate(
        [seg["x"], arr["x"], comp["x"].astype(float), gaps["x"].astype(float), [0.0]]
    )
    ys = np.concatenate(
        [seg["y"], arr["y"], comp["y"].astype(float), gaps["y"].astype(float), [0.0]]
    )
    if len(smap.points):
        xs = np.concatenate([xs, np.quantile(smap.points["x"], [0.02, 0.98])])
        ys = np.concatenate([ys, np.quantile(smap.points["y"], [0.02, 0.98])])
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    padx, pady = 0.12 * (x1 - x0 or 1), 0.12 * (y1 - y0 or 1)
    x0, x1, y0, y1 = x0 - padx, x1 + padx, y0 - pady, y1 + pady
    left, right, top, bottom = 70, 30, 50, 60
    pw, ph = width - left - right, height - top - bottom
    scale = min(pw / (x1 - x0), ph / (y1 - y0))  # equal aspect

    def px(x: float) -> float:
        return left + (x - x0) * scale

    def py(y: float) -> float:
        return top + ph - (y - y0) * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="28" text-anchor="middle" font-size="18">{e(title)}</text>',
        f'<text x="{left + pw / 2}" y="{height - 18}" text-anchor="middle" font-size="13">{e(smap.axes[0])}</text>',
        f'<text x="18" y="{top + ph / 2}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 18 {top + ph / 2})">{e(smap.axes[1])}</text>',
        f'<line x1="{px(x0):.1f}" y1="{py(0):.1f}" x2="{px(x1):.1f}" y2="{py(0):.1f}" stroke="#ddd"/>',
        f'<line x1="{px(0):.1f}" y1="{py(y0):.1f}" x2="{px(0):.1f}" y2="{py(y1):.1f}" stroke="#ddd"/>',
    ]
    if len(smap.points):
        pts = smap.points if len(smap.points) <= 1500 else smap.points.sample(1500, random_state=0)
        out += [
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="1.5" fill="#ccc"/>'
            for x, y in zip(pts["x"], pts["y"], strict=True)
        ]
    for _, g in gaps.iterrows():
        out.append(
            f'<circle class="gap" cx="{px(g["x"]):.1f}" cy="{py(g["y"]):.1f}" r="{g["radius"] * scale:.1f}" '
            'fill="none" stroke="#d62728" stroke-dasharray="5,4" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{px(g["x"]):.1f}" y="{py(g["y"]):.1f}" text-anchor="middle" font-size="11" '
            f'fill="#d62728">gap {int(g["gap"])}: {g["demand_share"]:.0%}</text>'
        )
    for _, a in arr.iterrows():
        out.append(
            f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(a["x"]):.1f}" y2="{py(a["y"]):.1f}" '
            'stroke="#555" stroke-width="1" marker-end="url(#arrow)"/>'
        )
        out.append(
            f'<text x="{px(a["x"]):.1f}" y="{py(a["y"]) - 4:.1f}" font-size="10" fill="#333" '
            f'text-anchor="middle">{e(str(a["need"]))}</text>'
        )
    size = seg["size"].to_numpy(dtype=float)
    rmax = 0.5 * MAX_BUBBLE_PX
    radii = (
        rmax * np.sqrt(size / size.max()) if size.size and size.max() > 0 else np.zeros(len(seg))
    )
    for i, (_, s) in enumerate(seg.iterrows()):
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<circle class="segment" data-segment="{int(s["segment"])}" cx="{px(s["x"]):.1f}" '
            f'cy="{py(s["y"]):.1f}" r="{radii[i]:.2f}" fill="{colour}" fill-opacity="0.7" stroke="white"/>'
        )
        out.append(
            f'<text x="{px(s["x"]):.1f}" y="{py(s["y"]) - radii[i] - 4:.1f}" text-anchor="middle" '
            f'font-size="12" font-weight="bold">{e(str(s["name"]))} ({s["share"]:.0%})</text>'
        )
    for _, c in comp.iterrows():
        cx, cy = px(float(c["x"])), py(float(c["y"]))
        out.append(
            f'<path d="M{cx:.1f},{cy - 7:.1f} L{cx + 7:.1f},{cy:.1f} L{cx:.1f},{cy + 7:.1f} '
            f'L{cx - 7:.1f},{cy:.1f} z" fill="#222"/>'
        )
        out.append(
            f'<text x="{cx:.1f}" y="{cy + 20:.1f}" text-anchor="middle" font-size="11">{e(str(c["brand"]))}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def write_static(smap: SegmentMap, path: str | Path, *, title: str = "Segmentation map") -> Path:
    """Write the map as a static file for slides; returns the path written.

    ``.svg`` is written by :func:`map_svg` (always works, offline). ``.png``, ``.pdf``,
    ``.jpg`` and ``.webp`` go through Plotly + kaleido, which needs kaleido and a Chrome or
    Chromium browser; when that fails the SVG is written beside the requested path
    (same stem, ``.svg``) and that path is returned. ``.html`` writes the interactive
    figure with plotly.js inlined (opens offline).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".svg":
        p.write_text(map_svg(smap, title=title), encoding="utf-8")
        return p
    if suffix == ".html":
        map_figure(smap, title=title).write_html(str(p), include_plotlyjs=True, full_html=True)
        return p
    if suffix in (".png", ".pdf", ".jpg", ".jpeg", ".webp"):
        try:
            map_figure(smap, title=title).write_image(str(p), width=1200, height=800)
            return p
        except Exception:  # kaleido missing, or no browser for kaleido>=1
            fallback = p.with_suffix(".svg")
            fallback.write_text(map_svg(smap, title=title), encoding="utf-8")
            return fallback
    raise ValueError(
        f"unsupported image type {p.suffix!r}: use .svg, .png, .pdf, .jpg, .webp or .html"
    )


def themes_figure(th: Themes, *, names: dict[int, str] | None = None) -> Any:
    """Theme share per segment as a grouped horizontal bar chart."""
    import plotly.graph_objects as go

    fig = go.Figure()
    bs = th.by_segment
    if bs.empty:
        t = th.themes
        fig.add_trace(go.Bar(x=t["share"], y=t["label"], orientation="h", name="all"))
    else:
        for s in sorted(bs["segment"].unique()):
            d = bs[bs["segment"] == s]
            fig.add_trace(
                go.Bar(
                    x=d["share"],
                    y=d["label"],
                    orientation="h",
                    name=(names or {}).get(int(s), f"Segment {s}"),
                )
            )
    fig.update_layout(
        barmode="group",
        template="plotly_white",
        title="'I wish' themes by segment",
        xaxis_tickformat=".0%",
        height=120 + 40 * max(1, len(th.themes)) * 1.5,
    )
    return fig
