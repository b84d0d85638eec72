"""The app's Jinja2 templates (``segmentum/app/templates``), autoescaped."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

__all__ = ["templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
