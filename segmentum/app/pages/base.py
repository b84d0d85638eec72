"""What every page shares: the router, HTML-or-JSON rendering, sign-in and error pages,
the run's report sections made safe to show, and Plotly's library from a static route.

A run folder is untrusted input (its manifest's checksums say the files were not changed
by accident, not who wrote them): the pages render the report's sections from
``report.json`` through the report's own templates, escaped, with one exception removed —
``html`` blocks (markup the report inlines as is) are left out; the pages build what those
blocks showed (persona cards, the questionnaire) from the run's data instead.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Coroutine
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from markupsafe import Markup

from segmentum.app.auth import csrf_token, require
from segmentum.app.core import NotFound, ProjectView, RunView
from segmentum.app.templating import templates

__all__ = [
    "NAV",
    "PAGE_HEADERS",
    "PageRoute",
    "data_page",
    "label",
    "nav",
    "plotly_src",
    "render",
    "router",
    "run_view",
    "section",
    "section_html",
    "wants_json",
]


def wants_json(request: Request) -> bool:
    """A ``.json`` path, or ``application/json`` first in ``Accept``: the page's JSON twin."""
    return (
        request.url.path.endswith(".json")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _wants_html(request: Request) -> bool:
    return not wants_json(request) and "text/html" in request.headers.get("accept", "")


class PageRoute(APIRoute):
    """A page's route: a browser that is not signed in gets the sign-in page (401), and a
    missing run or segment an error page (404); JSON requests keep the JSON errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if not _wants_html(request) or exc.status_code not in (401, 403, 404):
                    raise
                return await _error_page(request, exc.status_code, str(exc.detail))
            except NotFound as exc:
                if not _wants_html(request):
                    raise
                return await _error_page(request, 404, str(exc))

        return route


async def _error_page(request: Request, status: int, message: str) -> Response:
    if status == 401:
        return await _sign_in_page(request)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": f"Error {status}", "status": status, "message": message, "csrf_token": ""},
        status_code=status,
    )


async def _sign_in_page(request: Request) -> Response:
    """The app's own sign-in page (``GET /login``, with its login token), as a 401."""
    for route in request.app.routes:
        if getattr(route, "path", None) == "/login" and "GET" in getattr(route, "methods", ()):
            response: Response = await route.endpoint(request, error="")
            response.status_code = 401
            return response
    raise HTTPException(401, "sign in at /login")  # an app without a sign-in page


router = APIRouter(
    include_in_schema=False, dependencies=[Depends(require("read"))], route_class=PageRoute
)

#: The pages of a run, in the order of the navigation bar: (path under the run, label, what
#: the run must have for it: a report section, or a file its manifest lists).
NAV: tuple[tuple[str, str, str], ...] = (
    ("", "Answer", ""),
    ("/value", "Value", "section:value"),
    ("/segments", "Segments", "section:segments"),
    ("/map", "Map", "section:maps"),
    ("/where-to-play", "Where to play", "section:valuation"),
    ("/activation", "Activation", "section:activation"),
    ("/type", "Typing tool", "model/typing_tool.json"),
    ("/leads", "Lead scorer", "model/lead_projection.json"),
)


def nav(run: RunView) -> list[tuple[str, str]]:
    """The navigation bar of a run: (href, label) of the pages it has something to show on."""
    keys = {s.get("key") for s in run.report.get("sections", []) if isinstance(s, dict)}
    files = run.manifest.get("files", {})

    def has(need: str) -> bool:
        if need.startswith("section:"):
            return need.removeprefix("section:") in keys
        return not need or need in files

    return [(f"/runs/{run.run_id}{path}", text) for path, text, need in NAV if has(need)]


def _project(request: Request) -> ProjectView:
    return request.app.state.project


def run_view(request: Request, run_id: str | None = None) -> RunView:
    """The run a page names (``None`` or ``"latest"``: the newest), verified; 404 otherwise."""
    return _project(request).run(None if run_id == "latest" else run_id)


#: Sent with every page: not to be framed by another site (clickjacking on the forms), no
#: content-type guessing, the run's address not leaked to other sites.
PAGE_HEADERS: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def data_page(path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a GET page at ``path`` and its JSON twin at ``path + ".json"``."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        router.get(path + ".json", **kwargs)(func)  # first: `{run_id}` would match ".json"
        router.get(path, **kwargs)(func)
        return func

    return register


def render(
    request: Request,
    template: str,
    data: dict[str, Any],
    title: str,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """The page, or its data as JSON (the twin holds exactly what the page shows).

    ``extra`` goes to the template only: markup derived from ``data`` (a section's HTML).
    """
    if wants_json(request):
        return JSONResponse(data, status_code=status_code)
    run_id = data.get("run_id")
    context = {
        "data": data,
        "title": title,
        "csrf_token": csrf_token(request),
        "run_id": run_id,
        "nav": nav(_project(request).run(run_id)) if run_id else [],
        "here": request.url.path,
        "plotly_src": plotly_src(),
        "with_plotly": bool(extra.get("sections")),  # the report's figures need Plotly
        **extra,
    }
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


# -- the report's sections ------------------------------------------------------------------


def section(run: RunView, key: str) -> dict[str, Any] | None:
    """The report section ``key`` of a run (from ``report.json``), without ``html`` blocks."""
    for sec in run.report.get("sections", []):
        if isinstance(sec, dict) and sec.get("key") == key:
            blocks = [b for b in sec.get("blocks", []) if b.get("kind") != "html"]
            return {**sec, "blocks": blocks}
    return None


def section_html(sec: dict[str, Any] | None) -> Markup:
    """One section rendered by the report's own template (escaped; figures need Plotly)."""
    if sec is None:
        return Markup("")
    from jinja2 import TemplateError

    from segmentum.report.html import render_section

    try:
        return Markup(render_section(sec))
    except TemplateError:  # a report.json from another segmentum version: shown plainly
        return Markup(templates.get_template("section_fallback.html").render(section=sec))


_SNAKE = re.compile(r"[_\s]+")


def label(column: str) -> str:
    """A column or item name for people: ``need_personal_agent`` → "Personal agent"."""
    text = _SNAKE.sub(" ", str(column).removeprefix("need_")).strip()
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=1)
def report_css() -> Markup:
    """The report's stylesheet: the pages show its sections with the same look."""
    import segmentum.report

    path = Path(segmentum.report.__file__).parent / "templates" / "report.css"
    return Markup(path.read_text(encoding="utf-8"))


def pct(value: Any, digits: int = 0) -> str:
    """A share as a percentage (``0.253`` → "25%"); empty for a gap."""
    return f"{float(value):.{digits}%}" if isinstance(value, int | float) else ""


def num(value: Any, digits: int = 0) -> str:
    """A number with thousands separators (``12345.6`` → "12,346"); empty for a gap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:,.{digits}f}"


templates.env.filters["label"] = label
templates.env.filters["pct"] = pct
templates.env.filters["num"] = num
templates.env.globals["report_css"] = report_css


# -- Plotly's library, served once (behind the same key) and cached by the browser ---------


@lru_cache(maxsize=1)
def _plotly_js() -> tuple[bytes, bytes, str]:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    raw = path.read_bytes()
    return raw, gzip.compress(raw, 6, mtime=0), str(plotly.__version__)


def plotly_src() -> str:
    """The URL of Plotly's library (versioned, so a browser may keep it for a day)."""
    import plotly

    return f"/static/plotly.min.js?v={plotly.__version__}"


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """Plotly's JavaScript from the installed ``plotly`` package (works offline)."""
    raw, packed, _ = _plotly_js()
    headers = {"Cache-Control": "private, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)
