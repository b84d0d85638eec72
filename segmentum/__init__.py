"""segmentum: needs-based customer segmentation and strategy.

To whom do we sell, and what? segmentum turns customer data and survey answers into
needs-based segments that are sized, valued, mapped and ready to act on.

>>> import segmentum
>>> result = segmentum.Project.load("segmentum.toml").run()   # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from segmentum.project import Project, RunResult

__all__ = ["Project", "RunResult", "__version__"]


def __getattr__(name: str) -> object:
    """Lazy public names: ``segmentum.score`` (imports the valuation package on first use)."""
    if name == "score":
        from segmentum.valuation.score import score

        return score
    raise AttributeError(f"module 'segmentum' has no attribute {name!r}")
