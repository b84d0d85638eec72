"""The versioned JSON API, mounted at ``/api/v1`` behind a key (see :mod:`.server`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from segmentum.app.auth import require
from segmentum.app.core import ProjectView

__all__ = ["router"]

router = APIRouter(tags=["api"])


def _project(request: Request) -> ProjectView:
    return request.app.state.project


@router.get("/runs", dependencies=[Depends(require("read"))])
def runs(project: ProjectView = Depends(_project)) -> list[dict[str, Any]]:
    """The project's finished runs, newest first."""
    return project.runs()
