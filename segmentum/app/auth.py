"""Who may call what: API keys (``Authorization: Bearer``), browser sessions, CSRF.

Every route but ``/health`` and the sign-in page needs a key. The browser signs in with a
key once and gets a signed session cookie (HttpOnly, SameSite=Strict) naming the key; the
key is looked up on every request, so a key revoked from another process is refused on
the very next one. Unsafe requests made with the cookie must carry a CSRF token (a form
field or the ``X-CSRF-Token`` header) derived from the session; requests with a Bearer key
need none (a browser never adds that header on its own).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from segmentum.app.keys import ApiKey, KeyStore, scope_allows

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "ApiKeyGate",
    "Auth",
    "Principal",
    "authenticated",
    "csrf_token",
    "require",
]

SESSION_COOKIE = "segmentum_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_S = 8 * 3600  # a browser session lasts a working day
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_KEY = (
    "a valid API key is needed: send `Authorization: Bearer <key>` or sign in at /login "
    "(create a key with `segmentum keys create --scope read`)"
)
BAD_CSRF = "missing or wrong CSRF token; reload the page"


@dataclass(frozen=True)
class Principal:
    """The key a request was made with, and how it came (header or session cookie)."""

    key: ApiKey
    via: Literal["bearer", "cookie"]
    session: str | None = None

    @property
    def scope(self) -> str:
        return self.key.scope


class Auth:
    """Key checks and session signing for one app (the signing secret lives in the store)."""

    def __init__(self, store: KeyStore):
        self.store = store
        store.ensure()
        self._secret = store.secret("session")

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def session_for(self, key: ApiKey) -> str:
        """A session cookie value: key id, expiry and their signature."""
        payload = f"{key.key_id}.{int(time.time()) + SESSION_S}"
        return f"{payload}.{self._sign(payload)}"

    def from_session(self, value: str) -> ApiKey | None:
        """The active key a session cookie names, or None (forged, expired, revoked)."""
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        key_id, expiry, signature = parts
        if not hmac.compare_digest(self._sign(f"{key_id}.{expiry}"), signature):
            return None
        if int(expiry) < time.time():
            return None
        return self.store.active(key_id)

    def csrf_for(self, session: str) -> str:
        return self._sign(f"csrf:{session}")

    def principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None
            key = self.store.verify(token)
            return None if key is None else Principal(key, "bearer")
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            key = self.from_session(session)
            return None if key is None else Principal(key, "cookie", session)
        return None


def _auth(request: Request) -> Auth:
    return request.app.state.auth


async def authenticated(request: Request) -> Principal:
    """Dependency: the request's key (401 without a valid one; 403 for a cookie request
    that changes something without its CSRF token)."""
    checked: Principal | None = getattr(request.state, "principal", None)
    if checked is not None:  # the API gate has checked key and CSRF already
        return checked
    auth = _auth(request)
    principal = auth.principal(request)
    if principal is None:
        raise HTTPException(status_code=401, detail=NO_KEY, headers={"WWW-Authenticate": "Bearer"})
    if principal.via == "cookie" and request.method not in _SAFE_METHODS:
        await _check_csrf(request, auth, principal)
    request.state.principal = principal
    return principal


class ApiKeyGate:
    """ASGI middleware: requests under ``prefix`` need a key before anything else happens
    (401 before the body is read or parsed, so nothing about a route's input is revealed
    to a caller without a key); a cookie request there that changes something needs the
    ``X-CSRF-Token`` header (403). The checked key is left in the request's state, where
    :func:`authenticated` finds it (one key lookup per request)."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/"):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        auth: Auth = scope["app"].state.auth
        principal = auth.principal(request)
        if principal is None:
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse({"detail": NO_KEY}, 401, headers)(scope, receive, send)
            return
        if principal.via == "cookie" and request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            assert principal.session is not None
            if not hmac.compare_digest(sent, auth.csrf_for(principal.session)):
                await JSONResponse({"detail": BAD_CSRF}, 403)(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _check_csrf(request: Request, auth: Auth, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it for the route
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    assert principal.session is not None
    if sent is None or not hmac.compare_digest(sent, auth.csrf_for(principal.session)):
        raise HTTPException(status_code=403, detail=BAD_CSRF)


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the request's key must allow ``scope`` (403 otherwise)."""

    async def dependency(principal: Principal = Depends(authenticated)) -> Principal:
        if not scope_allows(principal.scope, scope):
            raise HTTPException(
                status_code=403,
                detail=f"this key has scope {principal.scope!r}; this needs {scope!r}",
            )
        return principal

    dependency.scope = scope  # type: ignore[attr-defined]  # read by the route-table tests
    return dependency


def csrf_token(request: Request) -> str:
    """The CSRF token a page's forms must carry (empty for Bearer requests, which need
    none)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.session is None:
        return ""
    return _auth(request).csrf_for(principal.session)
