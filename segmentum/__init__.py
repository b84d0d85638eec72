"""segmentum: needs-based customer segmentation and strategy.

To whom do we sell, and what? segmentum turns customer data and survey answers into
needs-based segments that are sized, valued, mapped and ready to act on.

>>> import segmentum
>>> result = segmentum.Project.load("segmentum.toml").run()   # doctest: +SKIP
>>> market = segmentum.demo.make_market(seed=0)                # doctest: +SKIP

Importing :mod:`segmentum` (or one stage package such as :mod:`segmentum.segments`) is
light: the run machinery (:class:`Project`, DuckDB ingest) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segmentum.version import __version__

if TYPE_CHECKING:
    from segmentum.project import Project, RunResult

__all__ = ["Project", "RunResult", "__version__"]

_LAZY = {"Project": "segmentum.project", "RunResult": "segmentum.project"}
_SUBPACKAGES = ("data", "demo", "maps", "profiles", "segments", "stats", "value")


def __getattr__(name: str) -> Any:
    # Lazy: `segmentum.Project` and `segmentum.demo` work without importing the run up front.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"segmentum.{name}")
    raise AttributeError(f"module 'segmentum' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBPACKAGES])
