"""``segmentum serve``: the FastAPI app over a project's runs.

:func:`create_app` builds it; routers add the pages (:mod:`segmentum.app.pages`) and the
versioned API (:mod:`segmentum.app.api`). Every router is included behind
:func:`~segmentum.app.auth.authenticated`, so a route added later cannot be left open;
only ``/health`` and the sign-in page are public. Errors are JSON with the field and the
reason (422) or a message; never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from segmentum.app.auth import SESSION_COOKIE, SESSION_S, ApiKeyGate, Auth, authenticated
from segmentum.app.core import NotFound, ProjectView
from segmentum.app.keys import KeyStore
from segmentum.app.models import SCALAR_ERROR
from segmentum.app.templating import templates
from segmentum.data.errors import DataError, SegmentumError
from segmentum.version import __version__

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 16 * 1024 * 1024  # a 10,000-row batch of leads is a few MB as JSON
LOGIN_COOKIE = "segmentum_login"  # double-submit token against login CSRF
log = logging.getLogger("segmentum.app")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised while a body streams in; an HTTPException, so that FastAPI's body reader
    passes it on (as 413) instead of turning it into a 400."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit:,} bytes; send fewer rows per call")


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"detail": f"request body over {limit:,} bytes; send fewer rows per call"},
        status_code=413,
    )


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One validation error as ``{"field", "reason"}`` (a body that is not JSON: ``body``
    and where the parser stopped)."""
    loc = error.get("loc", ())
    if error.get("type") == "json_invalid":
        at = loc[-1] if loc else "?"
        return {"field": "body", "reason": f"{error.get('msg', '')} at character {at}"}
    if len(loc) == 5 and tuple(loc[:2]) == ("body", "rows"):  # a cell failed every member
        return {"field": _field(loc[:4]), "reason": SCALAR_ERROR}
    return {"field": _field(loc), "reason": str(error.get("msg", ""))}


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, str]] = []
        for e in exc.errors():
            problem = _problem(e)
            if not errors or problem != errors[-1]:  # a cell's union members: said once
                errors.append(problem)
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(DataError)
    async def bad_data(request: Request, exc: DataError) -> JSONResponse:
        problems = [
            {
                "field": p.column,
                "row": p.row,
                "value": p.value,
                "reason": p.reason,
                "expected": p.expected,
            }
            for p in getattr(exc, "problems", [])[:100]
        ]
        return JSONResponse({"detail": str(exc), "problems": problems}, status_code=422)

    @app.exception_handler(SegmentumError)
    async def user_error(request: Request, exc: SegmentumError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error serving %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error (logged by the server)"}, 500)


def _install_login(app: FastAPI) -> None:
    @app.get("/health", include_in_schema=True)
    async def health() -> dict[str, str]:
        """Liveness check (no key needed)."""
        return {"status": "ok", "version": __version__}

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, error: str = "") -> Response:
        token = secrets.token_urlsafe(16)
        response = templates.TemplateResponse(
            request, "login.html", {"token": token, "error": error, "title": "Sign in"}
        )
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=600)
        return response

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, key: str = Form(""), token: str = Form("")) -> Response:
        auth: Auth = request.app.state.auth
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, token):
            raise HTTPException(status_code=403, detail="sign-in form expired; reload /login")
        found = auth.store.verify(key)
        if found is None:
            return RedirectResponse("/login?error=That+key+is+not+valid+or+was+revoked.", 303)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            SESSION_COOKIE,
            auth.session_for(found),
            max_age=SESSION_S,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False, dependencies=[Depends(authenticated)])
    async def logout() -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def create_app(
    project: ProjectView | Path | str, run_id: str | None = None, *, max_body: int = MAX_BODY_BYTES
) -> FastAPI:
    """The web app and scoring API over a project's runs.

    Parameters
    ----------
    project : ProjectView, or path
        The project (its ``segmentum.toml`` or folder).
    run_id : str, optional
        Serve this run by default instead of the newest.
    max_body : int
        Largest request body accepted (bytes); larger ones get 413.
    """
    from segmentum.app import api, pages

    view = project if isinstance(project, ProjectView) else ProjectView(project, run_id)
    app = FastAPI(
        title="segmentum",
        version=__version__,
        description=f"Segments, scoring and audiences of the project {view.name}.",
        # the schema and docs are served behind a key by the API router, not FastAPI's
        # open defaults
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.project = view
    app.state.auth = Auth(KeyStore(view.folder))
    _install_errors(app)
    _install_login(app)
    app.include_router(api.router, prefix=api.API_PREFIX, dependencies=[Depends(authenticated)])
    app.include_router(api.docs_router, dependencies=[Depends(authenticated)])
    app.include_router(pages.router, dependencies=[Depends(authenticated)])
    app.add_middleware(ApiKeyGate, prefix="/api/")
    app.add_middleware(BodyLimit, limit=max_body)  # outermost: before anything reads a body
    return app
