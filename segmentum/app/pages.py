"""Server-rendered pages (Jinja2 + Plotly, no build step); each has a JSON twin at the
same path with ``.json`` or with ``Accept: application/json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from segmentum.app.auth import csrf_token, require
from segmentum.app.core import ProjectView
from segmentum.app.templating import templates

__all__ = ["render", "router"]

router = APIRouter(include_in_schema=False, dependencies=[Depends(require("read"))])


def _project(request: Request) -> ProjectView:
    return request.app.state.project


def wants_json(request: Request) -> bool:
    return (
        request.url.path.endswith(".json")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def render(request: Request, template: str, data: dict[str, Any], title: str) -> Response:
    """The page, or its data as JSON (the twin holds exactly what the page shows)."""
    if wants_json(request):
        return JSONResponse(data)
    context = {"data": data, "title": title, "csrf_token": csrf_token(request)}
    return templates.TemplateResponse(request, template, context)


@router.get("/")
@router.get("/runs")
@router.get("/runs.json")
def runs_page(request: Request, project: ProjectView = Depends(_project)) -> Response:
    """The project's runs, newest first."""
    data = {"project": project.name, "runs": project.runs()}
    return render(request, "runs.html", data, f"{project.name}: runs")
