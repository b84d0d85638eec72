"""Label placement for the segmentation map: one deterministic routine for Plotly and SVG.

Every label is a box of estimated size (text length x font size, from Helvetica's widths,
which Arial and Liberation Sans share) near an anchor: an arrow tip for a need, a bubble's
edge for a segment, a marker for a competitor. :func:`place_labels` places the labels one
by one in the order given (the caller's priority), each at the cheapest free candidate
position around its anchor: candidates lie on rings at growing distances, in 16 directions
starting from the preferred one; a candidate is free when its box stays inside the bounds
and overlaps no box placed before and no hard obstacle (a marker). Bubbles and arrows are soft
obstacles: covering one costs, but is allowed. A label pushed away from its anchor gets a
leader line. When no ring has room the whole area is scanned on a grid for the free spot
nearest the anchor; only when none is left is a label dropped (``None``: the renderer
shows it on hover instead).

Written here rather than taken from a library: adjustText, the usual choice, moves
matplotlib ``Text`` artists and needs a drawn matplotlib figure; the maps are drawn by
Plotly (in the browser) and as plain SVG, and both must put each label at the same
place, so the placement works on estimated boxes in pixels and knows nothing of either
renderer. Greedy placement on candidates never creates an overlap, so no repulsion
pass is needed afterwards.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LINE_HEIGHT",
    "LabelSpec",
    "PlacedLabel",
    "boxes_overlap",
    "label_size",
    "place_labels",
    "text_width",
]

#: Line height of a label, in units of its font size (Plotly's line spacing is 1.3 em).
LINE_HEIGHT = 1.3
#: Safety factor on the estimated width: browsers' fonts are never quite Helvetica.
WIDTH_MARGIN = 1.06
#: Space kept between two labels and between a label and its anchor, px.
GAP = 3.0

# Advance widths (per 1000 em) of Helvetica and Helvetica-Bold for ASCII 32..126 (Adobe AFM;
# Arial and Liberation Sans are metric-compatible).
_REGULAR = (
    "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 "
    "556 556 556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 "
    "556 833 722 778 667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 "
    "556 500 556 556 278 556 556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 "
    "500 500 500 334 260 334 584"
)
_BOLD = (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 "
    "556 556 556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 "
    "611 833 722 778 667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 "
    "611 556 611 556 333 611 611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 "
    "556 556 500 389 280 389 584"
)
_WIDTHS = {
    False: dict(zip(map(chr, range(32, 127)), map(int, _REGULAR.split()), strict=True)),
    True: dict(zip(map(chr, range(32, 127)), map(int, _BOLD.split()), strict=True)),
}


def _char_width(ch: str, bold: bool) -> int:
    w = _WIDTHS[bold].get(ch)
    if w is not None:
        return w
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1000
    if unicodedata.combining(ch):
        return 0
    return 650 if bold else 600


def text_width(text: str, font_size: float, bold: bool = False) -> float:
    """Estimated width in px of one line of ``text`` in Helvetica/Arial at ``font_size`` px.

    Examples
    --------
    >>> round(text_width("need_price", 10), 1)
    52.4
    """
    return WIDTH_MARGIN * font_size * sum(_char_width(c, bold) for c in text) / 1000.0


def label_size(lines: Sequence[str], font_size: float, bold: bool = False) -> tuple[float, float]:
    """Width and height in px of a label of one or more lines."""
    width = max((text_width(line, font_size, bold) for line in lines), default=0.0)
    return width, LINE_HEIGHT * font_size * max(1, len(lines))


@dataclass(frozen=True)
class LabelSpec:
    """A label to place, in pixel coordinates (``y`` grows downwards, as in SVG).

    Attributes
    ----------
    lines : tuple of str
        The label's text, one entry per line.
    x, y : float
        The anchor: an arrow tip, a bubble's centre, a marker.
    font_size : float
    bold : bool
    clearance : float
        Radius around the anchor the label keeps clear of (a bubble's radius, a marker's
        half size).
    direction : tuple of float or None
        Preferred side of the anchor as a vector (a need's arrow direction); ``None``
        prefers above.
    key : str
        What the label belongs to (``"segment:3"``, ``"need:price"``), for the renderers.
    """

    lines: tuple[str, ...]
    x: float
    y: float
    font_size: float = 11.0
    bold: bool = False
    clearance: float = 0.0
    direction: tuple[float, float] | None = None
    key: str = ""

    @property
    def size(self) -> tuple[float, float]:
        return label_size(self.lines, self.font_size, self.bold)


@dataclass(frozen=True)
class PlacedLabel:
    """A placed label: its box ``(x0, y0, x1, y1)`` in px and whether it needs a leader line."""

    spec: LabelSpec
    box: tuple[float, float, float, float]
    leader: bool

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return 0.5 * (x0 + x1), 0.5 * (y0 + y1)

    def leader_start(self) -> tuple[float, float]:
        """Where a leader line leaves the anchor: on its clearance circle, towards the box."""
        cx, cy = self.centre
        dx, dy = cx - self.spec.x, cy - self.spec.y
        d = math.hypot(dx, dy) or 1.0
        r = self.spec.clearance
        return self.spec.x + r * dx / d, self.spec.y + r * dy / d


def boxes_overlap(
    a: Sequence[float], b: Sequence[float], pad: float = 0.0
) -> bool:  # (x0, y0, x1, y1) each
    """Whether two boxes overlap (touching edges do not; ``pad`` widens both)."""
    return bool(
        a[0] - pad < b[2] + pad
        and b[0] - pad < a[2] + pad
        and a[1] - pad < b[3] + pad
        and b[1] - pad < a[3] + pad
    )


#: Extra distance (px) of each candidate ring beyond the anchor's clearance.
RINGS = (0.0, 5.0, 12.0, 22.0, 36.0, 54.0, 78.0, 108.0, 145.0, 190.0)
#: A label whose box is further than this (px) beyond its anchor's clearance gets a leader line.
LEADER_FROM = 10.0
N_DIRECTIONS = 16


def _directions(preferred: tuple[float, float] | None) -> np.ndarray:
    """Unit vectors (px, y down) in 16 directions, nearest the preferred one first."""
    base = -math.pi / 2 if preferred is None else math.atan2(preferred[1], preferred[0])
    steps = [0]
    for i in range(1, N_DIRECTIONS // 2 + 1):
        steps += [i, -i] if i < N_DIRECTIONS // 2 else [i]
    ang = base + 2 * math.pi * np.array(steps) / N_DIRECTIONS
    return np.column_stack([np.cos(ang), np.sin(ang)])


def _nearest(t: np.ndarray, a: np.ndarray, b: np.ndarray, hx: float, hy: float) -> np.ndarray:
    """Distance from the anchor to a box of half sizes (hx, hy) centred ``t`` along (a, b)."""
    return np.hypot(np.maximum(t * a - hx, 0.0), np.maximum(t * b - hy, 0.0))


def _offsets(u: np.ndarray, hx: float, hy: float, dist: float) -> np.ndarray:
    """How far along each direction ``u`` a box's centre goes so that the box's nearest
    point is ``dist`` from the anchor (the box then just clears a circle of that radius)."""
    a, b = np.abs(u[:, 0]), np.abs(u[:, 1])
    with np.errstate(all="ignore"):  # inf offsets along an axis the direction lacks
        side_x = np.where(a > 1e-12, (dist + hx) / a, np.inf)  # the box's side faces it
        side_y = np.where(b > 1e-12, (dist + hy) / b, np.inf)
        p = a * hx + b * hy
        corner = p + np.sqrt(np.maximum(p * p - hx * hx - hy * hy + dist * dist, 0.0))
        t = np.column_stack([side_x, side_y, corner])
        ok = _nearest(t, a[:, None], b[:, None], hx, hy) >= dist - 1e-9
    return np.where(ok, t, np.inf).min(axis=1)


def _candidates(spec: LabelSpec, w: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate boxes (n x 4) around the anchor and their cost (distance + turn)."""
    u = _directions(spec.direction)
    hx, hy = 0.5 * w, 0.5 * h
    turn = np.arange(len(u)) // 2  # 0 for the preferred direction, growing both ways
    boxes, cost = [], []
    for extra in RINGS:
        t = _offsets(u, hx, hy, spec.clearance + GAP + extra)
        cx, cy = spec.x + u[:, 0] * t, spec.y + u[:, 1] * t
        boxes.append(np.column_stack([cx - hx, cy - hy, cx + hx, cy + hy]))
        cost.append(extra + 4.0 * turn)
    return np.vstack(boxes), np.concatenate(cost)


def _free(
    cand: np.ndarray, placed: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Which candidate boxes lie inside ``bounds`` and clear every box in ``placed``."""
    inside = (
        (cand[:, 0] >= bounds[0])
        & (cand[:, 1] >= bounds[1])
        & (cand[:, 2] <= bounds[2])
        & (cand[:, 3] <= bounds[3])
    )
    if not len(placed):
        return inside
    hit = (
        (cand[:, None, 0] < placed[None, :, 2] + GAP)
        & (placed[None, :, 0] - GAP < cand[:, None, 2])
        & (cand[:, None, 1] < placed[None, :, 3] + GAP)
        & (placed[None, :, 1] - GAP < cand[:, None, 3])
    )
    return inside & ~hit.any(axis=1)


def _bubble_cost(cand: np.ndarray, bubbles: np.ndarray) -> np.ndarray:
    """How much of each candidate box the soft circles cover (share of its area, summed)."""
    if not len(bubbles):
        return np.zeros(len(cand))
    # nearest point of each box to each circle centre, then the circle's depth there
    nx = np.clip(bubbles[None, :, 0], cand[:, None, 0], cand[:, None, 2])
    ny = np.clip(bubbles[None, :, 1], cand[:, None, 1], cand[:, None, 3])
    depth = bubbles[None, :, 2] - np.hypot(nx - bubbles[None, :, 0], ny - bubbles[None, :, 1])
    return np.clip(depth / np.maximum(bubbles[None, :, 2], 1.0), 0, 1).sum(axis=1)


def _line_points(lines: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Points every ~4 px along each line segment, and where each line's points start."""
    pts, starts = [], []
    n = 0
    for x0, y0, x1, y1 in lines:
        k = max(2, int(math.hypot(x1 - x0, y1 - y0) / 4.0) + 1)
        t = np.linspace(0.0, 1.0, k)
        pts.append(np.column_stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]))
        starts.append(n)
        n += k
    if not pts:
        return np.empty((0, 2)), np.empty(0, dtype=int)
    return np.vstack(pts), np.asarray(starts)


def _line_cost(cand: np.ndarray, points: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many of the lines cross each candidate box."""
    if not len(points):
        return np.zeros(len(cand))
    inside = (
        (points[None, :, 0] > cand[:, None, 0])
        & (points[None, :, 0] < cand[:, None, 2])
        & (points[None, :, 1] > cand[:, None, 1])
        & (points[None, :, 1] < cand[:, None, 3])
    )
    return np.maximum.reduceat(inside, starts, axis=1).sum(axis=1)


def _grid_fallback(
    spec: LabelSpec,
    w: float,
    h: float,
    placed: np.ndarray,
    bounds: tuple[float, float, float, float],
) -> np.ndarray | None:
    """The free grid position nearest the anchor over the whole area (None when full)."""
    step = max(4.0, 0.5 * h)
    xs = np.arange(bounds[0], bounds[2] - w + 1e-9, step)
    ys = np.arange(bounds[1], bounds[3] - h + 1e-9, step)
    if not len(xs) or not len(ys):
        return None
    gx, gy = np.meshgrid(xs, ys)
    cand = np.column_stack([gx.ravel(), gy.ravel(), gx.ravel() + w, gy.ravel() + h])
    # distance from the anchor to the nearest point of each box: the box keeps clear of the
    # anchor's clearance circle
    nx = np.clip(spec.x, cand[:, 0], cand[:, 2])
    ny = np.clip(spec.y, cand[:, 1], cand[:, 3])
    near = np.hypot(nx - spec.x, ny - spec.y)
    ok = _free(cand, placed, bounds) & (near >= spec.clearance + GAP)
    if not ok.any():
        return None
    return cand[int(np.argmin(np.where(ok, near, np.inf)))]


def _far(spec: LabelSpec, box: np.ndarray) -> bool:
    """Whether a box is far enough from its anchor to need a leader line."""
    nx, ny = min(max(spec.x, box[0]), box[2]), min(max(spec.y, box[1]), box[3])
    return math.hypot(nx - spec.x, ny - spec.y) > spec.clearance + GAP + LEADER_FROM


def place_labels(
    specs: Sequence[LabelSpec],
    bounds: tuple[float, float, float, float],
    *,
    obstacles: Sequence[Sequence[float]] = (),
    bubbles: Sequence[Sequence[float]] = (),
    lines: Sequence[Sequence[float]] = (),
    bubble_weight: float = 40.0,
    line_weight: float = 12.0,
) -> list[PlacedLabel | None]:
    """Place labels without overlap, in the order given (first = most important).

    Parameters
    ----------
    specs : sequence of LabelSpec
        The labels, most important first; earlier labels get the better places.
    bounds : (x0, y0, x1, y1)
        The area every label stays inside (px).
    obstacles : sequence of (x0, y0, x1, y1)
        Boxes no label may cover (markers).
    bubbles : sequence of (cx, cy, r)
        Circles a label should not cover: covering costs ``bubble_weight`` px of distance
        per circle fully covered.
    lines : sequence of (x0, y0, x1, y1)
        Line segments (arrows) a label should not cross: each crossed costs
        ``line_weight`` px of distance.
    bubble_weight, line_weight : float, default=40.0, 12.0

    Returns
    -------
    list of PlacedLabel or None
        In the order of ``specs``; ``None`` for a label with no free place left.

    Examples
    --------
    >>> a = LabelSpec(("alpha",), 100, 100)
    >>> b = LabelSpec(("beta",), 102, 101)
    >>> pa, pb = place_labels([a, b], (0, 0, 300, 300))
    >>> boxes_overlap(pa.box, pb.box)
    False
    """
    placed = np.asarray(obstacles, dtype=float).reshape(-1, 4)
    circles = np.asarray(bubbles, dtype=float).reshape(-1, 3)
    points, starts = _line_points(lines)
    out: list[PlacedLabel | None] = []
    for spec in specs:
        w, h = spec.size
        cand, cost = _candidates(spec, w, h)
        ok = _free(cand, placed, bounds)
        if ok.any():
            soft = bubble_weight * _bubble_cost(cand, circles)
            soft += line_weight * _line_cost(cand, points, starts)
            total = np.where(ok, cost + soft, np.inf)
            best = int(np.argmin(total))
            box = cand[best]
        else:
            found = _grid_fallback(spec, w, h, placed, bounds)
            if found is None:
                out.append(None)
                continue
            box = found
        placed = np.vstack([placed, box[None, :]])
        fixed = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        out.append(PlacedLabel(spec, fixed, _far(spec, box)))
    return out
