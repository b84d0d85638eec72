"""What the benchmarks share: the best-of-N wall-clock timer.

Each benchmark runs as a script (``python benchmarks/bench_x.py``), so this folder is the
first entry of ``sys.path`` and ``from _common import best_time`` finds this module.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["best_time", "best_time_and_result"]

T = TypeVar("T")


def best_time_and_result(
    fn: Callable[[], T], repeat: int, *, collect: bool = True
) -> tuple[float, T]:
    """The fastest of ``repeat`` calls of ``fn`` in seconds, and what the last call returned.

    The garbage collector runs before each call (``collect=False`` skips it), so one call's
    garbage is not collected inside the next one's timing. The minimum is the usual summary
    of repeated timings: the noise other processes add is never negative.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    best = float("inf")
    for _ in range(repeat):
        if collect:
            gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def best_time(fn: Callable[[], object], repeat: int, *, collect: bool = True) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds (:func:`best_time_and_result`)."""
    return best_time_and_result(fn, repeat, collect=collect)[0]
