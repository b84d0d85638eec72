"""Make the report light: Plotly's library packed once, figures' point clouds sampled and rounded.

Plotly's JavaScript is 4.8 MB as text; the report carries it gzip-compressed and written in a
7-bit text that is safe inside a JavaScript string in ``<script>`` (1.7 MB). The page
unpacks it with the browser's own ``DecompressionStream`` (no CDN, opens offline) and then
draws the figures. Scatter clouds with more than :data:`MAX_POINTS` points are shown as a
seeded sample, spread over the traces (one trace per segment) in proportion to their size,
and numeric arrays are rounded to :data:`DIGITS` significant digits of their largest value.
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from typing import Any

import numpy as np

#: 7-bit values that may not stand as themselves in a JavaScript string inside ``<script>``
#: (NUL, line feed, carriage return, ``"``, ``<``, ``\\``); each is written with the next value
#: as one two-byte UTF-8 character (the "base-122" scheme).
ILLEGAL = (0, 10, 13, 34, 60, 92)
#: At most this many points in one figure's scatter traces (the rest is a seeded sample).
MAX_POINTS = 2000
#: Significant digits kept in a figure's numeric arrays.
DIGITS = 4
_POINT_KEYS = ("x", "y", "z", "text", "customdata", "hovertext", "ids")
_MARKER_KEYS = ("color", "size", "symbol", "opacity")


def encode(data: bytes) -> str:
    """``data`` as text, 7 bits a character: 8/7 bytes of UTF-8 per byte (base-122 scheme).

    The bits are cut into 7-bit values; a value that is in :data:`ILLEGAL` is written together
    with the value after it as the character ``128 + (index << 7 | next)`` (two bytes of
    UTF-8, 14 bits), every other value as the ASCII character of that code. The last value is
    padded with zero bits; :func:`decode` cuts back to the length.
    """
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    bits = np.concatenate([bits, np.zeros(-len(bits) % 7 + 7, dtype=np.uint8)])
    values = bits.reshape(-1, 7) @ (1 << np.arange(6, -1, -1))
    index = np.full(128, -1)
    index[list(ILLEGAL)] = np.arange(len(ILLEGAL))
    bad = index[values] >= 0
    # a value starts a character unless the one before is illegal and itself starts one: in a
    # run of illegal values that is every other one, from the run's first
    positions = np.arange(len(values))
    run_start = np.maximum.accumulate(np.where(~bad, positions + 1, 0))
    pairs = bad & ((positions - run_start) % 2 == 0)
    starts = np.flatnonzero(~np.concatenate([[False], pairs[:-1]]))
    starts = starts[starts < len(values) - 1]  # the last value is all padding
    partner = values[np.minimum(starts + 1, len(values) - 1)]
    codes = np.where(pairs[starts], 128 + (index[values[starts]] << 7 | partner), values[starts])
    return codes.astype("<u4").tobytes().decode("utf-32-le")


def decode(text: str, length: int) -> bytes:
    """The inverse of :func:`encode`, cut to ``length`` bytes (what the page's loader does)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    high = codes >= 128
    first = np.where(high, np.asarray(ILLEGAL)[np.where(high, (codes - 128) >> 7, 0)], codes)
    at = np.cumsum(1 + high) - (1 + high)
    values = np.zeros(int((1 + high).sum()), dtype=np.int64)
    values[at] = first
    values[at[high] + 1] = (codes[high] - 128) & 127
    bits = ((np.asarray(values, dtype=np.uint8)[:, None] >> np.arange(6, -1, -1)) & 1).ravel()
    return np.packbits(bits[: 8 * (len(bits) // 8)].astype(np.uint8)).tobytes()[:length]


@lru_cache(maxsize=1)
def packed_plotlyjs() -> tuple[str, int]:
    """Plotly's library, gzip-compressed, as :func:`encode` text; and its compressed length."""
    import plotly.offline

    raw = gzip.compress(plotly.offline.get_plotlyjs().encode("utf-8"), 9, mtime=0)
    return encode(raw), len(raw)


def _round(values: np.ndarray) -> np.ndarray:
    """Rounded to :data:`DIGITS` significant digits of the array's largest magnitude.

    A plot cannot show finer steps than 1/10,000 of its range, so ``[5.123456, 0.0001234]``
    becomes ``[5.123, 0.0]``: short numbers, and a density grid's far tails are zeros.
    """
    out = values.astype(float)
    finite = np.isfinite(out)
    if not finite.any():
        return out
    top = float(np.abs(out[finite]).max())
    if top == 0:
        return out
    decimals = DIGITS - 1 - int(np.floor(np.log10(top)))
    out[finite] = np.round(out[finite], decimals) + 0.0  # + 0.0: no "-0.0"
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


def _as_list(values: np.ndarray) -> list[Any]:
    """Rounded values as JSON numbers; NaN and infinities as ``null`` (Plotly's gaps)."""
    rounded = _round(values)
    out = (
        np.where(np.isfinite(rounded), rounded, None) if not np.isfinite(rounded).all() else rounded
    )
    return out.tolist()


def round_arrays(node: Any) -> Any:
    """Every float array in a Plotly JSON tree rounded to :data:`DIGITS` significant digits.

    Typed arrays (``{"dtype", "bdata"}``) become plain lists of the rounded numbers, which are
    shorter than base64 and read back the same; missing values become ``null``.
    """
    if isinstance(node, dict):
        arr = _numeric(node)
        if arr is not None and arr.dtype.kind == "f":
            return _as_list(arr)
        return {k: round_arrays(v) for k, v in node.items()}
    if isinstance(node, list):
        arr = _numeric(node)
        if arr is not None and any(isinstance(v, float) for v in node):
            return _as_list(arr)
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
