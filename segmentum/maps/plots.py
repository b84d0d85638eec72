"""Plots of the map stage: the interactive map, a static image for slides, the theme chart.

Plotly is imported inside the functions. Bubbles use ``sizemode="area"`` so that the drawn
area is proportional to the segment's share (or value), as in the static SVG. Both maps
are drawn from one :class:`~segmentum.maps.layout.MapLayout` (pixel frame, bubble radii,
label boxes placed without overlap), so the SVG and the interactive map agree.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from segmentum.maps.labels import LINE_HEIGHT, PlacedLabel
from segmentum.maps.layout import (
    COMPETITOR_HALF,
    MAP_HEIGHT,
    MAP_WIDTH,
    MAX_BUBBLE_PX,
    MIN_BUBBLE_RADIUS,
    MapLayout,
    layout_map,
)
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
#: Font of the maps (Plotly and SVG); label boxes are estimated with Helvetica's widths.
FONT = "Helvetica, Arial, sans-serif"
LABEL_COLOUR = {"segment": "#111111", "competitor": "#222222", "gap": "#d62728", "need": "#333333"}


def bubble_sizes(smap: SegmentMap) -> tuple[np.ndarray, float]:
    """Marker sizes and ``sizeref`` for Plotly's ``sizemode="area"``.

    The marker size is the bubble's measure itself; with ``sizemode="area"`` Plotly draws
    an area proportional to it, the largest bubble ``MAX_BUBBLE_PX`` across.
    """
    size = smap.segments["size"].to_numpy(dtype=float)
    top = float(size.max()) if size.size and size.max() > 0 else 1.0
    return size, 2.0 * top / MAX_BUBBLE_PX**2


def _colours(smap: SegmentMap) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(smap.segments))]


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


#: Respondents drawn on the interactive map at most (a seeded sample of the rest).
MAP_POINTS = 2000
#: A respondent's dot: radius (px), colour and opacity (each dot's own, so overlaps darken).
POINT_RADIUS, POINT_COLOUR, POINT_OPACITY = 1.5, "#bbbbbb", 0.35


def respondents_picture(smap: SegmentMap, lay: MapLayout, max_points: int = MAP_POINTS) -> str:
    """The respondents as one SVG picture of the plot area (a ``data:`` link), a dot each.

    A seeded sample of ``max_points`` when there are more. The dots sit at their pixels in
    the map's frame (:class:`~segmentum.maps.layout.MapFrame`), rounded to the pixel.
    """
    f = lay.frame
    pts = smap.points
    if len(pts) > max_points:
        pts = pts.sample(max_points, random_state=0)
    x0, y0, x1, y1 = f.plot_box
    px = np.rint([f.px(float(x)) - x0 for x in pts["x"]]).astype(int)
    py = np.rint([f.py(float(y)) - y0 for y in pts["y"]]).astype(int)
    dots = "".join(f"<circle cx='{a}' cy='{b}'/>" for a, b in zip(px, py, strict=True))
    w, h = round(x1 - x0), round(y1 - y0)
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
        f"viewBox='0 0 {w} {h}'><style>circle{{r:{POINT_RADIUS}px}}</style>"
        f"<g fill='{POINT_COLOUR.replace('#', '%23')}' fill-opacity='{POINT_OPACITY}'>"
        f"{dots}</g></svg>"
    )
    return "data:image/svg+xml;utf8," + svg


def _add_respondents(fig: Any, smap: SegmentMap, lay: MapLayout) -> None:
    """Respondents as faint dots: one SVG picture under the plot, fixed to the data's axes
    (it moves and scales with a zoom), and a legend entry that names them.

    One picture, not a marker each: Plotly builds and styles an SVG element per marker in
    script (2,000 of them were most of the map's drawing time); the browser paints the
    picture's dots itself. They look the same: grey, 3 px, each 35 % opaque.
    """
    import plotly.graph_objects as go

    if not len(smap.points):
        return
    f = lay.frame
    fig.add_layout_image(
        source=respondents_picture(smap, lay),
        xref="x",
        yref="y",
        x=f.x0,
        y=f.y1,
        sizex=f.x1 - f.x0,
        sizey=f.y1 - f.y0,
        xanchor="left",
        yanchor="top",
        sizing="stretch",
        layer="below",
    )
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="respondents",
            marker={"size": 2 * POINT_RADIUS, "color": POINT_COLOUR, "opacity": POINT_OPACITY},
            hoverinfo="skip",
        )
    )


def _add_gaps(fig: Any, smap: SegmentMap) -> None:
    """Gaps as dashed circles (their labels are placed with the others)."""
    for _, gp in smap.gaps.iterrows():
        fig.add_shape(
            type="circle",
            x0=gp["x"] - gp["radius"],
            x1=gp["x"] + gp["radius"],
            y0=gp["y"] - gp["radius"],
            y1=gp["y"] + gp["radius"],
            line={"color": "#d62728", "dash": "dash", "width": 1.5},
        )


def _add_need_arrows(fig: Any, lay: MapLayout) -> None:
    """Need arrows from the origin (no text: labels are placed apart) and a hover point at
    each tip that names the need."""
    import plotly.graph_objects as go

    a = lay.arrows
    for _, row in a.iterrows():
        fig.add_annotation(
            x=row["x"],
            y=row["y"],
            ax=0,
            ay=0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            text="",
            showarrow=True,
            arrowhead=2,
            arrowsize=1,
            arrowwidth=1,
            arrowcolor="#555555",
        )
    if len(a):
        fig.add_trace(
            go.Scatter(
                x=a["x"],
                y=a["y"],
                mode="markers",
                name="needs",
                text=[html.escape(str(n)) for n in a["need"]],
                marker={"size": 6, "color": "#555555", "opacity": 0.6},
                hovertemplate="%{text}<extra>need</extra>",
            )
        )


def _add_competitors(fig: Any, smap: SegmentMap) -> None:
    """Competitors as diamonds (named on hover; labels are placed with the others)."""
    import plotly.graph_objects as go

    if not len(smap.competitors):
        return
    c = smap.competitors
    fig.add_trace(
        go.Scatter(
            x=c["x"],
            y=c["y"],
            mode="markers",
            name="competitors",
            text=[html.escape(str(b)) for b in c["brand"]],
            marker={"symbol": "diamond", "size": 2 * COMPETITOR_HALF, "color": "#222222"},
            hovertemplate="%{text}<extra>competitor</extra>",
        )
    )


def _add_segments(fig: Any, smap: SegmentMap) -> None:
    """Segments as bubbles (area proportional to ``size``, coloured by segment or a
    measure): translucent with an outline in their own colour, so overlapping bubbles
    both stay visible."""
    import plotly.graph_objects as go

    seg = smap.segments
    size, sizeref = bubble_sizes(smap)
    numeric_colour = smap.color_by != "segment"
    colours = seg["color"].to_numpy(dtype=float) if numeric_colour else _colours(smap)
    marker: dict[str, Any] = {
        "size": size,
        "sizemode": "area",
        "sizeref": sizeref,
        "sizemin": MIN_BUBBLE_RADIUS,
        "color": colours,
        "opacity": 0.6,
        "line": {"width": 2, "color": "#444444" if numeric_colour else colours},
    }
    if numeric_colour:
        marker.update(
            colorscale="Viridis", showscale=True, colorbar={"title": {"text": smap.color_by}}
        )
    fig.add_trace(
        go.Scatter(
            x=seg["x"],
            y=seg["y"],
            mode="markers",
            name="segments",
            text=[html.escape(str(n)) for n in seg["name"]],
            marker=marker,
            customdata=np.column_stack([seg["segment"], seg["share"], seg["size"]]),
            hovertemplate="%{text}<br>segment %{customdata[0]}<br>share %{customdata[1]:.1%}"
            f"<br>{smap.size_by} " + "%{customdata[2]:,.3g}<extra></extra>",
        )
    )


def _kind(label: PlacedLabel) -> str:
    return label.spec.key.split(":", 1)[0]


def _label_text(label: PlacedLabel) -> str:
    text = "<br>".join(html.escape(line) for line in label.spec.lines)
    return f"<b>{text}</b>" if label.spec.bold else text


def _add_labels(fig: Any, lay: MapLayout) -> None:
    """Every placed label as an annotation centred on its box; a leader line to its anchor
    when it was moved away."""
    f = lay.frame
    for lb in lay.labels:
        cx, cy = f.data(*lb.centre)
        font = {"size": lb.spec.font_size, "color": LABEL_COLOUR[_kind(lb)], "family": FONT}
        common = {"text": _label_text(lb), "font": font, "xref": "x", "yref": "y"}
        if lb.leader:
            sx, sy = f.data(*lb.leader_start())
            fig.add_annotation(
                x=sx,
                y=sy,
                ax=cx,
                ay=cy,
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=0,
                arrowwidth=0.8,
                arrowcolor="#999999",
                **common,
            )
        else:
            fig.add_annotation(
                x=cx, y=cy, showarrow=False, xanchor="center", yanchor="middle", **common
            )


def _frame_layout(fig: Any, lay: MapLayout, title: str, smap: SegmentMap) -> None:
    """Fix the figure to the layout's pixel frame: size, margins, equal-aspect ranges
    (no automatic margins, so the labels' pixel boxes hold in the browser)."""
    f = lay.frame
    ph = f.height - f.top - f.bottom
    fig.update_layout(
        title={"text": html.escape(title), "x": 0.5, "xanchor": "center"},
        template="plotly_white",
        font={"family": FONT},
        width=f.width,
        height=f.height,
        autosize=False,
        margin={"l": f.left, "r": f.right, "t": f.top, "b": f.bottom, "autoexpand": False},
        legend={"orientation": "h", "x": 0, "y": -52 / ph, "yanchor": "top"},
    )
    fig.update_xaxes(
        range=[f.x0, f.x1], title={"text": smap.axes[0], "standoff": 8}, automargin=False
    )
    fig.update_yaxes(
        range=[f.y0, f.y1],
        title={"text": smap.axes[1]},
        automargin=False,
        scaleanchor="x",
        scaleratio=1,
    )


def map_figure(
    smap: SegmentMap,
    *,
    title: str = "Segmentation map",
    show_points: bool = True,
    max_arrows: int | None = 12,
    label_needs: int | None = 8,
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
) -> Any:
    """The interactive segmentation map (``plotly.graph_objects.Figure``).

    Layers: respondents (faint), demand density contours, gaps (dashed circles), need
    arrows (the ``max_arrows`` longest; the ``label_needs`` longest labelled at their
    tips, every one named on hover), competitors (diamonds), segments (bubbles, area
    proportional to ``size``). Labels are placed by :func:`segmentum.maps.layout.layout_map`
    so that none overlaps another; the figure has a fixed pixel size for that reason.
    """
    import plotly.graph_objects as go

    lay = layout_map(
        smap, width=width, height=height, max_arrows=max_arrows, label_needs=label_needs
    )
    fig = go.Figure()
    _add_density(fig, smap)
    if show_points:
        _add_respondents(fig, smap, lay)
    _add_gaps(fig, smap)
    _add_need_arrows(fig, lay)
    _add_competitors(fig, smap)
    _add_segments(fig, smap)
    _add_labels(fig, lay)
    _frame_layout(fig, lay, title, smap)
    return fig


def _svg_label(lb: PlacedLabel) -> str:
    """One placed label as SVG text (one ``tspan`` per line); ``data-bbox`` is its box."""
    e = html.escape
    s = lb.spec
    x0, y0, x1, y1 = lb.box
    cx = 0.5 * (x0 + x1)
    # each line's baseline: the middle of its line box, lowered by ~0.35 em
    base = [y0 + ((i + 0.5) * LINE_HEIGHT + 0.35) * s.font_size for i in range(len(s.lines))]
    lines = "".join(
        f'<tspan x="{cx:.1f}" y="{y:.1f}">{e(line)}</tspan>'
        for y, line in zip(base, s.lines, strict=True)
    )
    bbox = f"{x0:.1f} {y0:.1f} {x1:.1f} {y1:.1f}"
    style = f'font-size="{s.font_size:g}" fill="{LABEL_COLOUR[_kind(lb)]}"' + (
        ' font-weight="bold"' if s.bold else ""
    )
    return (
        f'<text class="label" data-key="{e(s.key)}" data-bbox="{bbox}" text-anchor="middle" '
        f"{style}>{lines}</text>"
    )


def _svg_leader(lb: PlacedLabel) -> str:
    sx, sy = lb.leader_start()
    x0, y0, x1, y1 = lb.box
    ex, ey = min(max(sx, x0), x1), min(max(sy, y0), y1)  # nearest point of the box
    return (
        f'<line class="leader" x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" '
        'stroke="#999" stroke-width="0.8"/>'
    )


def _svg_frame(lay: MapLayout, title: str, smap: SegmentMap) -> list[str]:
    """The SVG's opening: canvas, title, axis titles, zero lines, the plot-area clip."""
    e, f = html.escape, lay.frame
    left, top, right, bottom = f.plot_box
    pw, ph = right - left, bottom - top
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{f.width}" height="{f.height}" '
        f'viewBox="0 0 {f.width} {f.height}" font-family="{FONT}">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
        f'<clipPath id="plot"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/>'
        "</clipPath></defs>",
        f'<rect width="{f.width}" height="{f.height}" fill="white"/>',
        f'<text x="{f.width / 2}" y="30" text-anchor="middle" font-size="18">{e(title)}</text>',
        f'<text x="{left + pw / 2}" y="{bottom + 40}" text-anchor="middle" font-size="13">'
        f"{e(smap.axes[0])}</text>",
        f'<text x="22" y="{top + ph / 2}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 22 {top + ph / 2})">{e(smap.axes[1])}</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#eee"/>',
        f'<line x1="{left}" y1="{f.py(0):.1f}" x2="{right}" y2="{f.py(0):.1f}" stroke="#ddd"/>',
        f'<line x1="{f.px(0):.1f}" y1="{top}" x2="{f.px(0):.1f}" y2="{bottom}" stroke="#ddd"/>',
    ]


def _svg_marks(lay: MapLayout, smap: SegmentMap) -> list[str]:
    """Points, gaps, need arrows, bubbles and competitor diamonds, in paint order."""
    e, f = html.escape, lay.frame
    out = ['<g clip-path="url(#plot)">']
    if len(smap.points):
        pts = smap.points if len(smap.points) <= 1500 else smap.points.sample(1500, random_state=0)
        out += [
            f'<circle cx="{f.px(x):.1f}" cy="{f.py(y):.1f}" r="1.5" fill="#ccc"/>'
            for x, y in zip(pts["x"], pts["y"], strict=True)
        ]
    out += [
        f'<circle class="gap" cx="{f.px(g["x"]):.1f}" cy="{f.py(g["y"]):.1f}" '
        f'r="{g["radius"] * f.scale:.1f}" fill="none" stroke="#d62728" stroke-dasharray="5,4" '
        'stroke-width="1.5"/>'
        for _, g in smap.gaps.iterrows()
    ]
    out += [
        f'<line class="need" x1="{f.px(0):.1f}" y1="{f.py(0):.1f}" x2="{f.px(a["x"]):.1f}" '
        f'y2="{f.py(a["y"]):.1f}" stroke="#555" stroke-width="1" marker-end="url(#arrow)">'
        f"<title>{e(str(a['need']))}</title></line>"
        for _, a in lay.arrows.iterrows()
    ]
    for i, (_, s) in enumerate(smap.segments.iterrows()):
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<circle class="segment" data-segment="{int(s["segment"])}" cx="{f.px(s["x"]):.1f}" '
            f'cy="{f.py(s["y"]):.1f}" r="{lay.radii[i]:.2f}" fill="{colour}" fill-opacity="0.55" '
            f'stroke="{colour}" stroke-width="2"><title>{e(str(s["name"]))}</title></circle>'
        )
    h = COMPETITOR_HALF
    for _, c in smap.competitors.iterrows():
        cx, cy = f.px(float(c["x"])), f.py(float(c["y"]))
        out.append(
            f'<path class="competitor" d="M{cx:.1f},{cy - h:.1f} L{cx + h:.1f},{cy:.1f} '
            f'L{cx:.1f},{cy + h:.1f} L{cx - h:.1f},{cy:.1f} z" fill="#222">'
            f"<title>{e(str(c['brand']))}</title></path>"
        )
    return [*out, "</g>"]


def map_svg(
    smap: SegmentMap,
    *,
    title: str = "Segmentation map",
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
    max_arrows: int | None = 12,
    label_needs: int | None = 8,
) -> str:
    """A static SVG of the map (no browser or plotting library needed).

    The same layout as :func:`map_figure` (frame, bubble radii, label boxes): bubble radii
    are ``sqrt(area)``-scaled so that drawn areas follow ``size``; only the ``max_arrows``
    longest need arrows are drawn and the ``label_needs`` longest labelled (the others
    carry their name as a tooltip). Each label's ``<text>`` has a ``data-bbox`` attribute
    (``x0 y0 x1 y1``, px): the box the placement kept clear of every other label.
    """
    lay = layout_map(
        smap, width=width, height=height, max_arrows=max_arrows, label_needs=label_needs
    )
    out = _svg_frame(lay, title, smap) + _svg_marks(lay, smap)
    out += [_svg_leader(lb) for lb in lay.labels if lb.leader]
    out += [_svg_label(lb) for lb in lay.labels]
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
    """Theme share per segment as a grouped horizontal bar chart.

    The segments' legend stands below the bars (segment names are long: beside the plot they
    took a third of its width), the figure 20 px taller a segment."""
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
    rows = 0 if bs.empty else int(bs["segment"].nunique())  # long names: one a row
    fig.update_layout(
        barmode="group",
        template="plotly_white",
        title="'I wish' themes by segment",
        xaxis_tickformat=".0%",
        height=120 + 40 * max(1, len(th.themes)) * 1.5 + 20 * rows,
        legend={"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"},
    )
    return fig
