"""Server-rendered pages (Jinja2 + Plotly, no build step, offline); each has a JSON twin at
the same path with ``.json`` or with ``Accept: application/json``.

``/`` is the newest run's answer page; ``/runs`` lists the runs; under ``/runs/{run_id}``:
the answer, ``/value``, ``/segments``, ``/segments/{n}``, ``/map``, ``/where-to-play``,
``/activation`` (audience files at ``/audiences/{name}``), ``/type`` (the typing tool) and
``/leads`` (the lead scorer). Plotly's library comes from ``/static/plotly.min.js``, behind
the same key.
"""

from __future__ import annotations

from segmentum.app.pages import runs, tools
from segmentum.app.pages.base import render, router, wants_json

__all__ = ["render", "router", "runs", "tools", "wants_json"]
