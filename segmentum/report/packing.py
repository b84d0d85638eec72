"""Make the report light: Plotly's library packed once, figures' point clouds sampled and rounded.

Plotly's JavaScript is 4.8 MB as text; the report carries it gzip-compressed and written in a
base-85 alphabet that is safe inside a JavaScript string in ``<script>`` (1.8 MB). The page
unpacks it with the browser's own ``DecompressionStream`` (no CDN, opens offline) and then
draws the figures. Scatter clouds with more than :data:`MAX_POINTS` points are shown as a
seeded sample, spread over the traces (one trace per segment) in proportion to their size,
and numeric arrays are rounded to :data:`DIGITS` significant digits.
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from typing import Any

import numpy as np

#: The base-85 alphabet: printable ASCII without ``"$%&'<>\``` and the backtick, so the packed
#: text can stand in a JavaScript string literal inside ``<script>`` unescaped.
ALPHABET = "".join(chr(c) for c in range(33, 127) if chr(c) not in "\"$%&'<>\\`")
#: At most this many points in one figure's scatter traces (the rest is a seeded sample).
MAX_POINTS = 2000
#: Significant digits kept in a figure's numeric arrays.
DIGITS = 4
_POINT_KEYS = ("x", "y", "z", "text", "customdata", "hovertext", "ids")
_MARKER_KEYS = ("color", "size", "symbol", "opacity")


def b85encode(data: bytes) -> str:
    """``data`` in :data:`ALPHABET`, 5 characters per 4 bytes (zero-padded to a multiple of 4)."""
    padded = data + b"\0" * (-len(data) % 4)
    words = np.frombuffer(padded, dtype=">u4").astype(np.int64)
    digits = np.empty((len(words), 5), dtype=np.int64)
    for i in range(4, -1, -1):
        digits[:, i] = words % 85
        words //= 85
    table = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
    return table[digits.ravel()].tobytes().decode("ascii")


def b85decode(text: str, length: int) -> bytes:
    """The inverse of :func:`b85encode`, cut to ``length`` bytes (what the page's loader does)."""
    lookup = np.zeros(128, dtype=np.int64)
    lookup[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(85)
    digits = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)].reshape(-1, 5)
    words = np.zeros(len(digits), dtype=np.int64)
    for i in range(5):
        words = words * 85 + digits[:, i]
    return words.astype(">u4").tobytes()[:length]


@lru_cache(maxsize=1)
def packed_plotlyjs() -> tuple[str, int]:
    """Plotly's library, gzip-compressed, in :data:`ALPHABET`; and its compressed length."""
    import plotly.offline

    raw = gzip.compress(plotly.offline.get_plotlyjs().encode("utf-8"), 9, mtime=0)
    return b85encode(raw), len(raw)


def _round(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values) & (values != 0)
    out = values.astype(float).copy()
    mag = np.floor(np.log10(np.abs(values[finite])))
    scale = 10.0 ** (DIGITS - 1 - mag)
    out[finite] = np.round(values[finite] * scale) / scale
    return out


def _numeric(value: Any) -> np.ndarray | None:
    """A numeric array from Plotly JSON (a list of numbers or ``{"dtype", "bdata"}``), or None."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            shape = [int(s) for s in str(value["shape"]).split(",")]
            arr = arr.reshape(shape)
        return arr
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return np.asarray(value, dtype=float)
    return None


def round_arrays(node: Any) -> Any:
    """Every float array in a Plotly JSON tree rounded to :data:`DIGITS` significant digits."""
    if isinstance(node, dict):
        arr = _numeric(node)
        if arr is not None and arr.dtype.kind == "f":
            return _round(arr).tolist()
        return {k: round_arrays(v) for k, v in node.items()}
    if isinstance(node, list):
        arr = _numeric(node)
        if arr is not None and any(isinstance(v, float) for v in node):
            return _round(arr).tolist()
        return [round_arrays(v) for v in node]
    return node


def _length(trace: dict[str, Any]) -> int:
    value = trace.get("x", trace.get("y"))
    arr = _numeric(value)
    if arr is not None:
        return len(arr)
    return len(value) if isinstance(value, list) else 0


def _take(value: Any, keep: np.ndarray, n: int) -> Any:
    arr = _numeric(value)
    if arr is not None and arr.ndim == 1 and len(arr) == n:
        return arr[keep].tolist()
    if isinstance(value, list) and len(value) == n:
        return [value[i] for i in keep]
    return value


def sample_clouds(
    figure: dict[str, Any], max_points: int = MAX_POINTS, seed: int = 0
) -> tuple[dict[str, Any], int, int]:
    """Sample a figure's scatter traces down to ``max_points`` points in all.

    Each scatter trace keeps a share of the cap in proportion to its size (at least one point,
    so every segment drawn as its own trace stays in the plot); the points kept are a seeded
    random sample, in their original order. Traces with few points (segment centres, lines)
    are left whole: only traces over ``max_points / 10`` points are sampled.

    Returns
    -------
    figure, shown, total
        The figure (a new dict when sampled) and the sampled traces' points shown and in all;
        ``shown == total`` when nothing was sampled.
    """
    traces = figure.get("data", [])
    big = [
        i
        for i, t in enumerate(traces)
        if str(t.get("type", "scatter")).startswith("scatter")
        and _length(t) > max(max_points // 10, 1)
    ]
    sizes = {i: _length(traces[i]) for i in big}
    total = sum(sizes.values())
    if total <= max_points:
        return figure, total, total
    rng = np.random.default_rng(seed)
    data = list(traces)
    shown = 0
    for i in big:
        n = sizes[i]
        k = max(1, int(max_points * n / total))
        keep = np.sort(rng.choice(n, size=k, replace=False))
        trace = {key: _take(v, keep, n) if key in _POINT_KEYS else v for key, v in data[i].items()}
        if isinstance(trace.get("marker"), dict):
            trace["marker"] = {
                key: _take(v, keep, n) if key in _MARKER_KEYS else v
                for key, v in trace["marker"].items()
            }
        data[i] = trace
        shown += k
    return {**figure, "data": data}, shown, total
