"""Compiled per-customer summary: the fast path of :func:`segmentum.value.summarize`.

Why hand-written: the BTYD summary merges purchases made on the same day, and in SQL that
needs a second look at every (customer, day) pair, as an aggregate by (customer, day), a
``COUNT(DISTINCT day)`` or the window the SQL path uses. On data where nearly every line is
its own customer-day each of these costs about one more hash aggregate, so the SQL summary
takes about twice a bare ``GROUP BY customer``. No library call does the merge in one pass.

Here the rows are radix-partitioned by customer into blocks small enough for the CPU cache
(one parallel, stable pass; 4,096 customers a block, fewer when the days span many years),
and each block is then summarised in one pass with a bitmap of its customers' days, which
merges same-day lines exactly (over more than 11 years of days the block's lines are sorted
instead). Blocks run in parallel. The result is the same as the SQL (sums differ in the last
bits only, by summation order); ``benchmarks/bench_value.py`` measures both against the
bare ``GROUP BY``.
"""

from __future__ import annotations

import threading

import numba as nb
import numpy as np
from numba import prange

__all__ = ["STATE_COLUMNS", "dense_codes", "summarise_codes"]

#: columns of the per-customer state returned by :func:`summarise_codes`
STATE_COLUMNS = (
    "first_d",  # first calibration day (day number), +inf when none
    "last_d",  # last calibration day
    "n_transactions",  # calibration lines
    "n_days",  # distinct calibration days
    "revenue",  # calibration revenue
    "first_day_revenue",  # revenue of the first day's lines
    "revenue_holdout",  # revenue after the calibration end
    "n_days_holdout",  # distinct days after the calibration end
    "margin",  # calibration margin
)
_NS = len(STATE_COLUMNS)
# numba's default threading layer (workqueue) aborts the process when two threads launch
# parallel kernels at once (a web app serving two runs): one launch at a time
_LAUNCH = threading.Lock()
# a block's day bitmaps stay within this many bytes (in the L2 cache): 4,096 customers
# over three years of days; fewer customers per block when the days span longer
_BLOCK_BYTES = 1 << 20
_MAX_BLOCK_SHIFT = 12
# above this many 64-day words (11 years) per customer the blocks sort instead of bitmaps
_MAX_BITMAP_WORDS = 64


def _block_shift(n_words: int) -> int:
    """log2 of the customers per block, so that a block's bitmaps fit ``_BLOCK_BYTES``."""
    per_customer = 8 * n_words
    shift = 0
    while shift < _MAX_BLOCK_SHIFT and (2 << shift) * per_customer <= _BLOCK_BYTES:
        shift += 1
    return shift


@nb.njit(parallel=True, cache=True)
def _dense_lookup(ids: np.ndarray, lo: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    # mark the ids present (idempotent writes, so the parallel loop is safe), then number
    # them in id order: the codes sort like the ids
    present = np.zeros(span, np.int32)
    for i in prange(ids.size):
        present[ids[i] - lo] = 1
    n = 0
    for j in range(span):
        if present[j]:
            present[j] = n
            n += 1
        else:
            present[j] = -1
    uniques = np.empty(n, np.int64)
    for j in range(span):
        if present[j] >= 0:
            uniques[present[j]] = j + lo
    codes = np.empty(ids.size, np.int32)
    for i in prange(ids.size):
        codes[i] = present[ids[i] - lo]
    return codes, uniques


def dense_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes 0..n-1 in id order for integer ids in a compact range, else ``None``.

    A lookup table over ``[min, max]`` is far cheaper than hashing; it is used when the
    range is at most 8 times the number of rows plus a million, which covers sequential
    customer numbers.
    """
    if ids.size == 0:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    lo, hi = int(ids.min()), int(ids.max())
    span = hi - lo + 1
    if span > 8 * ids.size + (1 << 20):
        return None
    with _LAUNCH:
        return _dense_lookup(ids.astype(np.int64, copy=False), lo, span)


@nb.njit(parallel=True, cache=True)
def _partition(
    codes: np.ndarray,
    day: np.ndarray,
    amt: np.ndarray,
    mrg: np.ndarray,
    shift: int,
    n_blocks: int,
    n_chunks: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # stable counting sort by block: per-chunk histograms, then each chunk scatters its rows
    # to its own slots, so rows keep their order within a block
    n = codes.size
    has_margin = mrg.size > 0
    bounds = np.linspace(0, n, n_chunks + 1).astype(np.int64)
    hist = np.zeros((n_chunks, n_blocks), np.int64)
    for t in prange(n_chunks):
        for i in range(bounds[t], bounds[t + 1]):
            hist[t, codes[i] >> shift] += 1
    pos = np.empty((n_chunks, n_blocks), np.int64)
    starts = np.empty(n_blocks + 1, np.int64)
    acc = 0
    for b in range(n_blocks):
        starts[b] = acc
        for t in range(n_chunks):
            pos[t, b] = acc
            acc += hist[t, b]
    starts[n_blocks] = acc
    c2 = np.empty(n, np.int32)
    d2 = np.empty(n, np.int32)
    a2 = np.empty(n, np.float64)
    m2 = np.empty(n if has_margin else 0, np.float64)
    for t in prange(n_chunks):
        for i in range(bounds[t], bounds[t + 1]):
            c = codes[i]
            b = c >> shift
            q = pos[t, b]
            c2[q] = c
            d2[q] = day[i]
            a2[q] = amt[i]
            if has_margin:
                m2[q] = mrg[i]
            pos[t, b] = q + 1
    return starts, c2, d2, a2, m2


@nb.njit(parallel=True, cache=True)
def _summarise_blocks(
    starts: np.ndarray,
    c2: np.ndarray,
    d2: np.ndarray,
    a2: np.ndarray,
    m2: np.ndarray,
    shift: int,
    n_customers: int,
    day_min: int,
    n_words: int,
    cal_end: int,
) -> np.ndarray:
    n_blocks = starts.size - 1
    has_margin = m2.size > 0
    use_bitmap = n_words > 0
    st = np.zeros((n_customers, _NS), np.float64)
    for b in prange(n_blocks):
        g0 = b << shift
        g1 = min(n_customers, (b + 1) << shift)
        lo = starts[b]
        m = starts[b + 1] - lo
        for g in range(g0, g1):
            st[g, 0] = np.inf
            st[g, 1] = -np.inf
        if use_bitmap:
            seen = np.zeros((g1 - g0) * n_words, np.uint64)
            keys = np.empty(0, np.int64)
            order = np.empty(0, np.int64)
        else:
            # days spanning many years: a bitmap per customer would be mostly zeros to
            # clear, so sort the block's lines by (customer, day) and compare neighbours
            seen = np.empty(0, np.uint64)
            keys = np.empty(m, np.int64)
            for j in range(m):
                keys[j] = (np.int64(c2[lo + j] - g0) << 32) | np.int64(d2[lo + j] - day_min)
            order = np.argsort(keys, kind="mergesort")
        prev_key = np.int64(-1)
        for j in range(m):
            if use_bitmap:
                i = lo + j
                k = d2[i] - day_min
                w = (c2[i] - g0) * n_words + (k >> 6)
                bit = np.uint64(1) << np.uint64(k & 63)
                new_day = (seen[w] & bit) == 0
                if new_day:
                    seen[w] |= bit
            else:
                i = lo + order[j]
                new_day = keys[order[j]] != prev_key
                prev_key = keys[order[j]]
            g = c2[i]
            x = d2[i]
            v = a2[i]
            if x <= cal_end:
                st[g, 2] += 1.0
                st[g, 4] += v
                if new_day:
                    st[g, 3] += 1.0
                if x < st[g, 0]:
                    st[g, 0] = x
                    st[g, 5] = v
                elif x == st[g, 0]:
                    st[g, 5] += v
                if x > st[g, 1]:
                    st[g, 1] = x
                if has_margin:
                    st[g, 8] += m2[i]
            else:
                st[g, 6] += v
                if new_day:
                    st[g, 7] += 1.0
    return st


def summarise_codes(
    codes: np.ndarray,
    n_customers: int,
    day: np.ndarray,
    amount: np.ndarray,
    margin: np.ndarray | None,
    cal_end: int,
) -> np.ndarray:
    """Per-customer state (``n_customers`` × :data:`STATE_COLUMNS`) from coded lines.

    ``codes`` are int32 customer codes in ``[0, n_customers)``, ``day`` int32 day numbers,
    ``amount`` and ``margin`` float64; lines after ``cal_end`` count in the holdout columns.
    """
    if codes.size == 0:
        return np.zeros((n_customers, _NS))
    day_min = int(day.min())
    n_words = (int(day.max()) - day_min) // 64 + 1
    if n_words > _MAX_BITMAP_WORDS:
        n_words = 0  # sort within blocks instead
    shift = _block_shift(n_words)
    n_blocks = ((n_customers - 1) >> shift) + 1
    mrg = np.empty(0, np.float64) if margin is None else margin
    with _LAUNCH:
        starts, c2, d2, a2, m2 = _partition(
            codes, day, amount, mrg, shift, n_blocks, max(1, nb.get_num_threads())
        )
        return _summarise_blocks(
            starts, c2, d2, a2, m2, shift, n_customers, day_min, n_words, cal_end
        )
