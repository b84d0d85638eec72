"""The web app and scoring API (``segmentum serve``; needs the ``app`` extra).

:func:`create_app` builds the FastAPI app over a project's runs; :class:`ProjectView` and
:class:`RunView` are the one core object the pages and the API adapt. Imported lazily, so
``segmentum keys`` works without FastAPI installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProjectView", "RunView", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from segmentum.app.server import create_app

        return create_app
    if name in ("ProjectView", "RunView"):
        from segmentum.app import core

        return getattr(core, name)
    raise AttributeError(f"module 'segmentum.app' has no attribute {name!r}")
