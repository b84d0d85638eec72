"""What a Spark run brings to the driver: a recorder for tests (needs the ``spark`` extra).

``record_collections()`` wraps the pyspark calls that bring rows to the driver
(``DataFrame.toPandas``, ``collect``, ``take``, ``head``, ``tail``, ``toLocalIterator``) for as
long as it is open, and notes for each call how many rows came back and which segmentum
function asked for them (the innermost frame in the ``segmentum`` package). #17 asks that
per-customer results never collect to the driver: a test runs a Spark project inside the
recorder and fails on every call that returned as many rows as there are customers.

>>> with record_collections() as calls:          # doctest: +SKIP
...     Project.load(path, engine="spark").run()
>>> [c for c in calls if c.rows >= n_customers]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Collection", "record_collections"]

_METHODS = ("toPandas", "collect", "take", "head", "tail", "toLocalIterator")


@dataclass(frozen=True)
class Collection:
    """One call that brought rows to the driver."""

    method: str
    rows: int
    caller: str  # "segmentum.module:function:line", or "?" outside the package

    def __str__(self) -> str:
        return f"{self.method} of {self.rows:,} rows from {self.caller}"


def _caller() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "segmentum" or module.startswith("segmentum."):
            return f"{module}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


def _rows(result: Any) -> int:
    if result is None:
        return 0
    if hasattr(result, "shape"):  # a pandas frame
        return int(result.shape[0])
    if isinstance(result, list):
        return len(result)
    return 1  # a single Row (head() without n)


@contextlib.contextmanager
def record_collections() -> Iterator[list[Collection]]:
    """Record every driver collection of a Spark DataFrame while open (not thread-safe;
    only the calls made from this process are seen, which is where the stages run)."""
    from pyspark.sql import DataFrame

    calls: list[Collection] = []
    originals = {name: getattr(DataFrame, name) for name in _METHODS}
    depth = [0]  # toPandas calls collect inside: count the outer call only

    def wrap(name: str, original: Any) -> Any:
        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            try:
                result = original(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                if name == "toLocalIterator":
                    items = list(result)
                    calls.append(Collection(name, len(items), _caller()))
                    return iter(items)
                calls.append(Collection(name, _rows(result), _caller()))
            return result

        return recorded

    for name, original in originals.items():
        setattr(DataFrame, name, wrap(name, original))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(DataFrame, name, original)
