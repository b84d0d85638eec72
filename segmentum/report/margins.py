"""Each figure's final margins, estimated before the browser draws it.

Plotly's ``automargin`` draws a figure with the margins its layout gives, then measures what
its tick labels, legend and colour bar need; where that is more, it grows the margins and
draws the figure again. In the report that second draw is most of the drawing time of a
heat map with long row labels. :func:`preset_margins` estimates what each of those pushes
will be from the figure's own JSON (label lengths at the font size in use, legend entries,
colour bars) and writes margins that hold them into the layout, so the first draw is the
last. ``automargin`` stays on: an estimate that is low costs the redraw, never a clipped
label; one that is high leaves a little white space.

The estimate follows Plotly's own rules (``Plots.doAutoMargin``: a pusher at paper position
``val`` that needs ``size`` pixels, solved against the margin on the other side) with
character widths of DejaVu Sans, which is as wide as Verdana (the second font of Plotly's
stack, the one most readers' browsers use) and a little wider than Arial.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["estimate_margins", "preset_margins", "text_width"]

#: Plotly's margins where the layout and its template give none.
DEFAULT_MARGIN: dict[str, int] = {"l": 80, "r": 80, "t": 100, "b": 80}
#: The width a figure is drawn at in the report (the page's column, less the figure box's own
#: padding) when its layout gives none.
REPORT_WIDTH = 1050
#: Plotly's default figure height.
DEFAULT_HEIGHT = 450
#: Arial's widths against :func:`text_width`'s (Liberation Sans over DejaVu Sans, lower case).
NARROW = 0.87
#: Pixels added to every estimated push: rounding, borders, the estimate's own error.
SLACK = 4
_ASCII = (
    "0123456789 !\"#$%&'()*+,-./:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~"
)
#: Advance widths of DejaVu Sans in em, in the order of :data:`_ASCII`.
_EM = (
    [0.636] * 10
    + [0.318, 0.401, 0.46, 0.838, 0.636, 0.95, 0.78, 0.275, 0.39, 0.39, 0.5, 0.838, 0.318]
    + [0.361, 0.318, 0.337, 0.337, 0.337, 0.838, 0.838, 0.838, 0.531, 1.0, 0.684, 0.686]
    + [0.698, 0.77, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748]
    + [0.787, 0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685]
    + [0.39, 0.337, 0.39, 0.838, 0.5, 0.5, 0.613, 0.635, 0.55, 0.635, 0.615, 0.352, 0.635]
    + [0.634, 0.278, 0.278, 0.579, 0.278, 0.974, 0.634, 0.612, 0.635, 0.635, 0.411, 0.521]
    + [0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525, 0.636, 0.337, 0.636, 0.838]
)
_WIDTH = dict(zip(_ASCII, _EM, strict=True))
#: Any other character (accented letters, dashes, symbols): about a capital letter.
_OTHER_EM = 0.7
_TAGS = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>", re.I)
#: Trace types drawn on x/y axes (the others: pies, Sankey diagrams, tables, maps…).
_CARTESIAN = frozenset(
    {"scatter", "scattergl", "bar", "box", "violin", "histogram", "heatmap", "contour"}
    | {"histogram2d", "histogram2dcontour", "waterfall", "funnel", "ohlc", "candlestick"}
)
#: Trace types that have no legend entry unless they ask for one.
_NO_LEGEND = frozenset({"heatmap", "contour", "histogram2d", "histogram2dcontour", "sankey"})
#: Trace types that show a colour bar by default (``showscale`` true).
_SCALED = frozenset({"heatmap", "contour", "histogram2d", "histogram2dcontour"})


def text_width(text: Any, size: float = 12.0) -> float:
    """Estimated width in pixels of ``text`` (one line, markup left out) at ``size`` px.

    The widest line of text with ``<br>`` breaks; a little wider than Arial draws it.

    Examples
    --------
    >>> round(text_width("Segment 1"), 1), text_width("Segment 10") > text_width("Segment 1")
    (65.4, True)
    """
    lines = _BREAK.split(str(text))
    return max(sum(_WIDTH.get(c, _OTHER_EM) for c in _TAGS.sub("", line)) * size for line in lines)


def _lines(text: Any) -> int:
    return len(_BREAK.split(str(text)))


def _get(tree: Mapping[str, Any] | None, *path: str) -> Any:
    node: Any = tree
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


class _Layout:
    """A layout read through its template: the figure's value, else the template's."""

    def __init__(self, layout: Mapping[str, Any]) -> None:
        self.layout = layout
        self.template = _get(layout, "template", "layout") or {}

    def get(self, *path: str, default: Any = None) -> Any:
        value = _get(self.layout, *path)
        if value is None:
            value = _get(self.template, *path)
        return default if value is None else value

    def axis(self, name: str, *path: str, default: Any = None) -> Any:
        """An axis attribute: the axis's own, else the template's for its letter."""
        value = _get(self.layout, name, *path)
        if value is None:
            value = _get(self.template, name[:5], *path)
        return default if value is None else value

    def font_size(self, *path: str) -> float:
        """The size of the font at ``path`` (``("legend", "font")``), else the layout's."""
        size = self.get(*path, "size") if path else None
        return float(size if size is not None else self.get("font", "size", default=12))


def _title_text(title: Any) -> str:
    if isinstance(title, Mapping):
        return str(title.get("text") or "")
    return "" if title is None else str(title)


def _values(value: Any) -> list[Any]:
    """A trace's array as a Python list (typed arrays decoded, 2-D flattened)."""
    from segmentum.report.packing import _numeric

    arr = _numeric(value)
    if arr is not None:
        return arr.ravel().tolist()
    if isinstance(value, list):
        return [v for row in value for v in (row if isinstance(row, list) else [row])]
    return []


def _is_text(values: Iterable[Any]) -> bool:
    """Values of a category axis: strings that are not numbers or dates."""
    seen = False
    for v in values:
        if v is None:
            continue
        if not isinstance(v, str):
            return False
        seen = True
        try:
            float(v)
            return False
        except ValueError:
            if re.match(r"^\d{4}-\d{2}-\d{2}", v):
                return False
    return seen


def _number_text(v: float, step: float, percent: bool) -> str:
    """A tick label as Plotly writes a number near ``v`` with ticks ``step`` apart."""
    if percent:
        v, step = 100 * v, 100 * step
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    if abs(v) >= 10_000 and not percent:
        power = 3 * int(math.log10(abs(v)) // 3)
        text = f"{v / 10**power:.3g}" + {3: "k", 6: "M", 9: "G", 12: "T"}.get(power, "")
    else:
        text = f"{v:.{min(decimals, 6)}f}"
    return ("\u2212" if text.startswith("-") else "") + text.lstrip("-") + ("%" if percent else "")


def _numeric_labels(values: list[Any], axis_range: Any, tickformat: str) -> list[str]:
    """The longest tick labels a numeric axis over ``values`` (or its range) may show."""
    numbers = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if isinstance(axis_range, list) and len(axis_range) == 2:
        numbers = [float(v) for v in axis_range if isinstance(v, int | float)] or numbers
    if not numbers:
        return ["0.0"]
    lo, hi = min(numbers), max(numbers)
    span = hi - lo if hi > lo else abs(hi) or 1.0
    step = 10 ** math.floor(math.log10(span / 5)) if span > 0 else 1.0
    percent = "%" in tickformat
    return [_number_text(v, step, percent) for v in (lo, hi, (lo + hi) / 2, lo + step / 2)]


def _axis_name(ref: Any, letter: str) -> str:
    """``"x2"`` → ``"xaxis2"``; a trace's default axis is ``x``/``y``."""
    ref = str(ref or letter)
    return f"{letter}axis{ref[1:]}"


def _trace_positions(trace: Mapping[str, Any], letter: str) -> list[Any]:
    """What a trace puts along its ``letter`` axis (categories for a box or bar by name)."""
    kind = str(trace.get("type", "scatter"))
    other = "y" if letter == "x" else "x"
    if letter in trace:
        return _values(trace[letter])
    if kind in ("box", "violin") and other in trace:
        horizontal = trace.get("orientation") == "h"
        if (letter == "y") == horizontal and trace.get("name") is not None:
            return [str(trace["name"])]
    return []


def _tick_labels(lay: _Layout, name: str, values: list[Any]) -> tuple[list[str], bool]:
    """The labels an axis shows and whether it is a category axis (one label per value)."""
    kind = lay.axis(name, "type", default="-")
    prefix = str(lay.axis(name, "tickprefix", default=""))
    suffix = str(lay.axis(name, "ticksuffix", default=""))
    ticktext = lay.axis(name, "ticktext")
    if isinstance(ticktext, list) and ticktext:
        return [f"{prefix}{t}{suffix}" for t in ticktext], True
    order = lay.axis(name, "categoryarray")
    if kind == "category" or (kind == "-" and _is_text(values)):
        cats = list(dict.fromkeys(str(v) for v in [*(order or []), *values] if v is not None))
        return [f"{prefix}{c}{suffix}" for c in cats], True
    if kind == "date" or (kind == "-" and values and isinstance(values[0], str)):
        return ["Mmm 00, 0000"], False
    tickformat = str(lay.axis(name, "tickformat", default=""))
    labels = _numeric_labels(values, lay.axis(name, "range"), tickformat)
    return [f"{prefix}{t}{suffix}" for t in labels], False


def _title_depth(lay: _Layout, name: str) -> float:
    """What an axis title adds to its axis's push (Plotly's ``approxTitleDepth`` + standoff)."""
    title = lay.axis(name, "title")
    text = _title_text(title)
    if not text and not (isinstance(title, Mapping) and "text" in title):
        return 0.0  # an empty title given is still a title to Plotly: it makes room for it
    size = float(lay.axis(name, "title", "font", "size") or round(1.2 * lay.font_size()))
    standoff = lay.axis(name, "title", "standoff")
    extra = _lines(text) - 1
    if standoff is not None:
        return size * (0.7 + 1.3 * extra) + float(standoff)
    return size * (extra + 1) * 1.3 if extra else size


#: A pusher: for each side it pushes, (paper position, pixels it needs beyond it).
Push = dict[str, tuple[float, float]]
#: The offset of the first point of an anchor from its paper position, per anchor.
_FROM_TL = {"left": 0.0, "center": 0.5, "right": 1.0, "top": 0.0, "middle": 0.5, "bottom": 1.0}


def _axis_push(
    lay: _Layout, name: str, labels: list[str], category: bool, box: tuple[float, float]
) -> Push:
    """What one axis's tick labels and title push, on its side and, rotated, beside it."""
    letter = name[0]
    fs = float(lay.axis(name, "tickfont", "size") or lay.font_size())
    ticklen = float(lay.axis(name, "ticklen", default=5)) if lay.axis(name, "ticks") else 0.0
    shown = lay.axis(name, "showticklabels", default=True) and labels
    widths = [text_width(t, fs) for t in labels] if shown else [0.0]
    lines = max((_lines(t) for t in labels), default=1)
    counter = "y" if letter == "x" else "x"
    anchor = lay.axis(name, "anchor", default=counter)
    if anchor == "free":
        domain = [float(lay.axis(name, "position", default=0.0))] * 2
    else:
        domain = lay.axis(_axis_name(anchor, counter), "domain", default=[0.0, 1.0])
    own = lay.axis(name, "domain", default=[0.0, 1.0])
    push: Push = {}
    if letter == "y":
        side = "r" if lay.axis(name, "side") == "right" else "l"
        depth = (max(widths) + ticklen + 3) if shown else 0.0
        push[side] = (float(domain[1] if side == "r" else domain[0]), depth)
    else:
        side = "t" if lay.axis(name, "side") == "top" else "b"
        length = max(box[0] * (float(own[1]) - float(own[0])), 1.0)
        angle = _tick_angle(lay, name, widths, category, length, fs * lines)
        rad = math.radians(abs(angle))
        height = 1.3 * fs * lines
        depth = ticklen + 4 + max(widths) * math.sin(rad) + height * math.cos(rad)
        push[side] = (float(domain[1] if side == "t" else domain[0]), depth if shown else 0.0)
        if shown and angle and category:
            slot = length / max(len(widths), 1)
            if angle > 0:  # labels run down to the right of their ticks: the last overflows
                push["r"] = (float(own[1]), widths[-1] * math.cos(rad) - slot / 2)
            else:
                push["l"] = (float(own[0]), widths[0] * math.cos(rad) - slot / 2)
    where, depth = push[side]
    push[side] = (where, depth + _title_depth(lay, name))
    return push


def _tick_angle(
    lay: _Layout, name: str, widths: list[float], category: bool, length: float, height: float
) -> float:
    """The angle Plotly turns an x axis's labels to: its own, else 0 where they fit side by
    side, -30 where a slanted line has room, -90 otherwise (Plotly's ``autotickangles``)."""
    angle = lay.axis(name, "tickangle", default="auto")
    if isinstance(angle, int | float):
        return float(angle)
    if not category or len(widths) < 2:
        return 0.0
    slot = length / len(widths)
    # whether they fit is judged with Arial's narrower widths: where they fit in Arial but not
    # in Verdana, a wrong guess of "turned" would leave a wide empty margin, one of "side by
    # side" only costs the redraw
    narrow = [NARROW * w for w in widths]
    if all(slot > (a + b) / 2 + 2 for a, b in itertools.pairwise(narrow)):
        return 0.0
    return 30.0 if slot >= math.sqrt(3) * 1.25 * height else 90.0


def _legend_entries(data: list[Mapping[str, Any]]) -> list[str]:
    """The names a legend lists (traces shown in it, a pie's labels)."""
    names: list[str] = []
    for i, trace in enumerate(data):
        kind = str(trace.get("type", "scatter"))
        if trace.get("visible") is False or trace.get("showlegend") is False:
            continue
        if kind in ("pie", "funnelarea"):
            names.extend(str(v) for v in _values(trace.get("labels")))
        elif kind not in _NO_LEGEND or trace.get("showlegend") is True:
            names.append(str(trace.get("name", f"trace {i}")))
    return names


def _legend_push(lay: _Layout, data: list[Mapping[str, Any]], box: tuple[float, float]) -> Push:
    """What the legend pushes: its box, from its paper position and anchors."""
    names = _legend_entries(data)
    explicit = [t.get("showlegend") is True for t in data]
    shown = lay.get("showlegend")
    if shown is False or not names or (shown is None and len(names) < 2 and not any(explicit)):
        return {}
    fs = lay.font_size("legend", "font")
    entry = [text_width(n, fs) + 40 for n in names]
    row = 1.3 * fs * max(_lines(n) for n in names) + 5
    title = _title_text(lay.get("legend", "title"))
    horizontal = lay.get("legend", "orientation") == "h"
    if horizontal:  # one row when all fit, else a grid of columns as wide as the widest
        rows = 1
        if sum(entry) + 5 * len(entry) > box[0]:
            rows = math.ceil(len(entry) / max(1, int(box[0] // (max(entry) + 5))))
        width, height = min(sum(entry), box[0]), rows * row + 10
    else:
        width, height = max(entry) + 10, len(names) * row + 10
    if title:
        width = max(width, text_width(title, fs) + 10) if not horizontal else width
        height += row if not horizontal else 0
    x = float(lay.get("legend", "x", default=0.0 if horizontal else 1.02))
    y = float(lay.get("legend", "y", default=-0.1 if horizontal else 1.0))
    xanchor = str(lay.get("legend", "xanchor", default="left"))
    yanchor = str(lay.get("legend", "yanchor", default="top" if horizontal else "auto"))
    if xanchor == "auto":
        xanchor = "left" if x <= 1 / 3 else "right" if x >= 2 / 3 else "center"
    if yanchor == "auto":
        yanchor = "bottom" if y <= 1 / 3 else "top" if y >= 2 / 3 else "middle"
    tl_x, tl_y = _FROM_TL.get(xanchor, 0.0), _FROM_TL.get(yanchor, 0.0)
    return {
        "l": (x, width * tl_x),
        "r": (x, width * (1 - tl_x)),
        "t": (y, height * tl_y),
        "b": (y, height * (1 - tl_y)),
    }


def _colorbar_pushes(lay: _Layout, data: list[Mapping[str, Any]]) -> list[Push]:
    """What each colour bar pushes (heat maps, contours, markers with a scale), on the right."""
    pushes = []
    axes = {str(a) for t in data for a in (t.get("coloraxis"), _get(t, "marker", "coloraxis")) if a}
    shared = [lay.layout.get(a) or {} for a in sorted(axes)]  # px.imshow: one shared scale
    for trace in [*data, *({"type": "heatmap", **a} for a in shared)]:
        kind = str(trace.get("type", "scatter"))
        marker = trace.get("marker") if isinstance(trace.get("marker"), Mapping) else {}
        if kind in _SCALED and trace.get("showscale", True) and not trace.get("coloraxis"):
            bar, values = trace.get("colorbar") or {}, _values(trace.get("z"))
            bounds = [trace.get("zmin", trace.get("cmin")), trace.get("zmax", trace.get("cmax"))]
        elif marker.get("showscale") and not marker.get("coloraxis"):
            bar, values = marker.get("colorbar") or {}, _values(marker.get("color"))
            bounds = [marker.get("cmin"), marker.get("cmax")]
        else:
            continue
        fs = float(_get(bar, "tickfont", "size") or lay.font_size())
        ticktext = bar.get("ticktext")
        if isinstance(ticktext, list) and ticktext:
            labels = [str(t) for t in ticktext]
        else:
            rng = bounds if all(isinstance(b, int | float) for b in bounds) else None
            labels = _numeric_labels(values, rng, str(bar.get("tickformat", "")))
        width = float(bar.get("thickness", 30)) + 2 * float(bar.get("xpad", 10)) + 6
        width += max(text_width(t, fs) for t in labels)
        title = _title_text(bar.get("title"))
        if title:
            width = max(width, text_width(title, fs) + 2 * float(bar.get("xpad", 10)))
        x = float(bar.get("x", 1.02))
        pushes.append({"l": (x, 0.0), "r": (x, width)})
    return pushes


def _solve(
    pushes: list[Push], margin: Mapping[str, float], size: tuple[float, float]
) -> dict[str, float]:
    """The margins Plotly ends with (``Plots.doAutoMargin``): for each pair of pushers on
    opposite sides, margins that leave both room, the largest pair winning; 12 px pad each."""
    out = dict(margin)
    base: Push = {
        "l": (0.0, out["l"]),
        "r": (1.0, out["r"]),
        "t": (1.0, out["t"]),
        "b": (0.0, out["b"]),
    }
    padded = [base] + [{k: (v, s + 12 + SLACK) for k, (v, s) in p.items()} for p in pushes]
    for lo, hi, full in (("l", "r", size[0]), ("b", "t", size[1])):
        for one in padded:
            if lo not in one:
                continue
            f_lo, p_lo = one[lo]
            for two in padded:
                if hi not in two:
                    continue
                f_hi, p_hi = two[hi]
                if f_hi > f_lo:
                    new_lo = (p_lo * f_hi + (p_hi - full) * f_lo) / (f_hi - f_lo)
                    new_hi = (p_hi * (1 - f_lo) + (p_lo - full) * (1 - f_hi)) / (f_hi - f_lo)
                    if new_lo + new_hi > out[lo] + out[hi]:
                        out[lo], out[hi] = new_lo, new_hi
    return out


def _axes(lay: _Layout, data: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Every cartesian axis of the figure and what its traces put along it."""
    axes: dict[str, list[Any]] = {}
    if any(str(t.get("type", "scatter")) in _CARTESIAN for t in data):
        axes = {"xaxis": [], "yaxis": []}
    axes |= {k: [] for k in lay.layout if re.fullmatch(r"[xy]axis\d*", k)}
    for trace in data:
        if str(trace.get("type", "scatter")) not in _CARTESIAN:
            continue
        for letter in "xy":
            name = _axis_name(trace.get(f"{letter}axis"), letter)
            axes.setdefault(name, []).extend(_trace_positions(trace, letter))
    return axes


def estimate_margins(figure: Mapping[str, Any], width: float = REPORT_WIDTH) -> dict[str, int]:
    """The margins (``l``, ``r``, ``t``, ``b`` in px) a figure ends with once Plotly has made
    room for its tick labels, axis titles, legend and colour bars.

    Parameters
    ----------
    figure : mapping
        Plotly's JSON of the figure (``data``, ``layout``), as :func:`figure_context` gives it.
    width : float, default=REPORT_WIDTH
        The width it is drawn at when its layout gives none (the report's column).

    Examples
    --------
    >>> short = {"data": [{"type": "bar", "y": ["a", "b"], "x": [1, 2], "orientation": "h"}]}
    >>> long = {"data": [{"type": "bar", "y": ["a" * 40, "b"], "x": [1, 2], "orientation": "h"}]}
    >>> estimate_margins(short)["l"], estimate_margins(long)["l"]
    (80, 314)
    """
    layout = figure.get("layout") or {}
    data = [t for t in figure.get("data") or [] if isinstance(t, Mapping)]
    lay = _Layout(layout)
    margin = {k: float(lay.get("margin", k, default=v)) for k, v in DEFAULT_MARGIN.items()}
    size = (
        float(lay.get("width", default=width)),
        float(lay.get("height", default=DEFAULT_HEIGHT)),
    )
    if lay.get("margin", "autoexpand") is False:
        return {k: round(v) for k, v in margin.items()}
    labels = {name: _tick_labels(lay, name, values) for name, values in _axes(lay, data).items()}
    out = margin
    for _ in range(2):  # the plot's size depends on the margins, the pushes on the plot's size
        box = (max(size[0] - out["l"] - out["r"], 1.0), max(size[1] - out["t"] - out["b"], 1.0))
        pushes = [_axis_push(lay, n, *labels[n], box) for n in labels]
        pushes += [_legend_push(lay, data, box), *_colorbar_pushes(lay, data)]
        out = _solve([p for p in pushes if p], margin, size)
    return {k: max(round(margin[k]), math.ceil(out[k])) for k in ("l", "r", "t", "b")}


def preset_margins(figure: dict[str, Any], width: float = REPORT_WIDTH) -> dict[str, Any]:
    """The figure with :func:`estimate_margins` written into its layout (a new dict; margins
    it already gives are kept where they are larger), ``automargin`` left on."""
    try:
        margins = estimate_margins(figure, width)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
        return figure  # a figure the estimate cannot read is drawn as Plotly would anyway
    layout = dict(figure.get("layout") or {})
    own = layout.get("margin") if isinstance(layout.get("margin"), Mapping) else {}
    if own.get("autoexpand") is False:
        return figure
    layout["margin"] = {**own, **margins}
    return {**figure, "layout": layout}
