"""Where everything on the drawn map goes: the frame (data to pixels), bubbles and labels.

The interactive map (Plotly) and the static one (SVG) are drawn from the same
:class:`MapLayout`: the same pixel frame (width, height, margins, equal-aspect axis
ranges), the same bubble radii and the same label boxes, so what was checked for overlap
in one is what the other shows. Labels are placed by :func:`segmentum.maps.labels.place_labels`
in order of importance: segments (largest first), competitors, gaps, then the strongest
needs (longest arrows); the other needs are shown on hover.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segmentum.maps.labels import LabelSpec, PlacedLabel, place_labels
from segmentum.maps.projection import SegmentMap

__all__ = [
    "MAP_HEIGHT",
    "MAP_WIDTH",
    "MapFrame",
    "MapLayout",
    "bubble_radii",
    "layout_map",
    "top_arrows",
]

MAP_WIDTH = 1000
MAP_HEIGHT = 700
#: The largest bubble's diameter and the smallest bubble's radius, px.
MAX_BUBBLE_PX = 80.0
MIN_BUBBLE_RADIUS = 6.0
#: Label fonts (px) and the half size of the markers labels keep clear of.
SEGMENT_FONT, COMPETITOR_FONT, NEED_FONT, GAP_FONT = 12.0, 11.0, 10.0, 11.0
COMPETITOR_HALF, TIP_HALF = 7.0, 3.0
#: Segment names are wrapped at this many characters per line.
WRAP = 28


@dataclass(frozen=True)
class MapFrame:
    """The map's pixel frame: figure size, margins and the data range on equal axes.

    ``px``/``py`` turn data coordinates into pixels (``y`` down, as in SVG and in Plotly's
    drawing); the plot area is ``(left, top)`` to ``(width - right, height - bottom)``.
    """

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def scale(self) -> float:
        """Pixels per data unit (the same on both axes)."""
        return (self.width - self.left - self.right) / (self.x1 - self.x0)

    @property
    def plot_box(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.width - self.right, self.height - self.bottom)

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) * self.scale

    def py(self, y: float) -> float:
        return self.height - self.bottom - (y - self.y0) * self.scale

    def data(self, px: float, py: float) -> tuple[float, float]:
        """Data coordinates of a pixel."""
        return (
            self.x0 + (px - self.left) / self.scale,
            self.y0 + (self.height - self.bottom - py) / self.scale,
        )


def top_arrows(smap: SegmentMap, n: int | None) -> pd.DataFrame:
    """The ``n`` longest need arrows (all when ``n`` is None), in the map's order."""
    return longest(smap.arrows, n)


def longest(a: pd.DataFrame, n: int | None) -> pd.DataFrame:
    """The ``n`` longest arrows of ``a`` (columns ``x``, ``y``), in their order."""
    if n is None or len(a) <= n:
        return a
    length = np.hypot(a["x"].to_numpy(dtype=float), a["y"].to_numpy(dtype=float))
    return a.iloc[np.sort(np.argsort(-length, kind="stable")[:n])]


def bubble_radii(smap: SegmentMap) -> np.ndarray:
    """Bubble radii in px: area proportional to ``size``, the largest ``MAX_BUBBLE_PX``
    across, none smaller than ``MIN_BUBBLE_RADIUS`` (so a small segment stays visible)."""
    size = smap.segments["size"].to_numpy(dtype=float)
    if not size.size or not size.max() > 0:
        return np.full(len(size), MIN_BUBBLE_RADIUS)
    r = 0.5 * MAX_BUBBLE_PX * np.sqrt(np.clip(size, 0, None) / size.max())
    return np.maximum(r, MIN_BUBBLE_RADIUS)


def _extent(smap: SegmentMap, arrows: pd.DataFrame) -> tuple[float, float, float, float]:
    seg, comp, gaps = smap.segments, smap.competitors, smap.gaps
    xs = np.concatenate([seg["x"], arrows["x"], comp["x"], gaps["x"], [0.0]]).astype(float)
    ys = np.concatenate([seg["y"], arrows["y"], comp["y"], gaps["y"], [0.0]]).astype(float)
    if len(smap.points):
        xs = np.concatenate([xs, np.quantile(smap.points["x"], [0.02, 0.98])])
        ys = np.concatenate([ys, np.quantile(smap.points["y"], [0.02, 0.98])])
    return float(np.nanmin(xs)), float(np.nanmax(xs)), float(np.nanmin(ys)), float(np.nanmax(ys))


def fit_frame(
    smap: SegmentMap,
    arrows: pd.DataFrame,
    *,
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
    margins: tuple[float, float, float, float] = (70, 30, 50, 80),
) -> MapFrame:
    """The frame that shows everything on equal axes, with room for the largest bubble.

    ``margins`` are (left, right, top, bottom) in px.
    """
    left, right, top, bottom = margins
    pw, ph = width - left - right, height - top - bottom
    x0, x1, y0, y1 = _extent(smap, arrows)
    spanx, spany = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    # 12 % of the span on each side, plus the largest bubble's radius in data units
    room = 0.5 * MAX_BUBBLE_PX + 10.0
    scale = min((pw - 2 * room) / (1.24 * spanx), (ph - 2 * room) / (1.24 * spany))
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    hx, hy = 0.5 * pw / scale, 0.5 * ph / scale
    return MapFrame(width, height, left, right, top, bottom, cx - hx, cx + hx, cy - hy, cy + hy)


@dataclass(frozen=True)
class MapLayout:
    """Everything the renderers need to draw one map the same way.

    Attributes
    ----------
    frame : MapFrame
    arrows : pandas.DataFrame
        The need arrows drawn (the ``max_arrows`` longest).
    labelled_needs : tuple of str
        The needs whose arrows carry a label (the ``label_needs`` longest); the others are
        named on hover.
    radii : numpy.ndarray
        Bubble radius (px) of each row of ``smap.segments``.
    labels : tuple of PlacedLabel
        Every label placed, with its box in px; ``spec.key`` says what it names
        (``segment:<n>``, ``competitor:<i>``, ``gap:<n>``, ``need:<name>``).
    dropped : tuple of LabelSpec
        Labels that found no free place (shown on hover only).
    """

    frame: MapFrame
    arrows: pd.DataFrame = field(repr=False)
    labelled_needs: tuple[str, ...]
    radii: np.ndarray = field(repr=False)
    labels: tuple[PlacedLabel, ...]
    dropped: tuple[LabelSpec, ...] = ()

    def label(self, key: str) -> PlacedLabel | None:
        """The placed label for ``key`` (``None`` when it was dropped or never asked for)."""
        return next((lb for lb in self.labels if lb.spec.key == key), None)


def segment_label(name: str, share: float) -> tuple[str, ...]:
    """A segment's label lines: its name and population share, wrapped."""
    return tuple(textwrap.wrap(f"{name} ({share:.0%})", WRAP)) or (f"({share:.0%})",)


def _specs(
    smap: SegmentMap, frame: MapFrame, radii: np.ndarray, labelled: pd.DataFrame
) -> tuple[list[LabelSpec], list[tuple[float, float, float, float]]]:
    """Label specs in priority order and the markers labels must keep clear of (a need is
    labelled with its name made readable: ``need_fast_claims_payout`` → "Fast claims payout")."""
    from segmentum.report.format import item_label

    f = frame
    seg = smap.segments.assign(_r=radii).sort_values("share", ascending=False, kind="stable")
    specs = [
        LabelSpec(
            segment_label(str(s["name"]), float(s["share"])),
            f.px(s["x"]),
            f.py(s["y"]),
            font_size=SEGMENT_FONT,
            bold=True,
            clearance=float(s["_r"]),
            key=f"segment:{int(s['segment'])}",
        )
        for _, s in seg.iterrows()
    ]
    obstacles = []
    for i, c in enumerate(smap.competitors.itertuples(index=False)):
        cx, cy = f.px(float(c.x)), f.py(float(c.y))
        obstacles.append(
            (cx - COMPETITOR_HALF, cy - COMPETITOR_HALF, cx + COMPETITOR_HALF, cy + COMPETITOR_HALF)
        )
        specs.append(
            LabelSpec(
                (str(c.brand),),
                cx,
                cy,
                font_size=COMPETITOR_FONT,
                clearance=COMPETITOR_HALF + 2.0,
                direction=(0.0, 1.0),
                key=f"competitor:{i}",
            )
        )
    specs += [
        LabelSpec(
            (f"gap {int(g['gap'])}: {g['demand_share']:.0%} of demand",),
            f.px(g["x"]),
            f.py(g["y"]),
            font_size=GAP_FONT,
            key=f"gap:{int(g['gap'])}",
        )
        for _, g in smap.gaps.iterrows()
    ]
    for _, a in labelled.iterrows():
        tx, ty = f.px(a["x"]), f.py(a["y"])
        obstacles.append((tx - TIP_HALF, ty - TIP_HALF, tx + TIP_HALF, ty + TIP_HALF))
        specs.append(
            LabelSpec(
                (item_label(str(a["need"])),),
                tx,
                ty,
                font_size=NEED_FONT,
                clearance=TIP_HALF + 1.0,
                direction=(tx - f.px(0.0), ty - f.py(0.0)),
                key=f"need:{a['need']}",
            )
        )
    return specs, obstacles


def layout_map(
    smap: SegmentMap,
    *,
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
    max_arrows: int | None = 12,
    label_needs: int | None = 8,
) -> MapLayout:
    """Frame, bubbles and label boxes of a map (what :func:`map_figure` and :func:`map_svg`
    draw).

    Parameters
    ----------
    smap : SegmentMap
    width, height : int
        Figure size in px.
    max_arrows : int or None, default=12
        How many need arrows are drawn (the longest); ``None`` draws all.
    label_needs : int or None, default=8
        How many of them are labelled (the longest); ``None`` labels every drawn arrow.
    """
    arrows = top_arrows(smap, max_arrows)
    right = 130 if smap.color_by != "segment" else 30  # room for the colour bar
    frame = fit_frame(smap, arrows, width=width, height=height, margins=(70, right, 50, 80))
    radii = bubble_radii(smap)
    n_lab = len(arrows) if label_needs is None else max(0, label_needs)
    labelled = longest(arrows, n_lab)
    specs, obstacles = _specs(smap, frame, radii, labelled)
    bubbles = [
        (frame.px(x), frame.py(y), r)
        for x, y, r in zip(smap.segments["x"], smap.segments["y"], radii, strict=True)
    ]
    ox, oy = frame.px(0.0), frame.py(0.0)
    lines = [
        (ox, oy, frame.px(x), frame.py(y)) for x, y in zip(arrows["x"], arrows["y"], strict=True)
    ]
    placed = place_labels(specs, frame.plot_box, obstacles=obstacles, bubbles=bubbles, lines=lines)
    return MapLayout(
        frame=frame,
        arrows=arrows,
        labelled_needs=tuple(str(n) for n in labelled["need"]),
        radii=radii,
        labels=tuple(p for p in placed if p is not None),
        dropped=tuple(s for s, p in zip(specs, placed, strict=True) if p is None),
    )
