"""Who may call what, on the real ``segmentum serve``.

Every route of the app's route table (so a route added later cannot be forgotten) answers
401 without a key, except ``/health`` and the sign-in page; a key of the wrong scope gets
403; a key revoked from another process is refused on the very next request; a cookie
request that changes something without its CSRF token gets 403; an oversize body 413; a
non-loopback ``--host`` needs ``--public``; and fuzzing the API from its own OpenAPI schema
(schemathesis) finds no 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from starlette.routing import Mount
from typer.testing import CliRunner

from segmentum.app import create_app
from segmentum.app.auth import CSRF_HEADER, SESSION_COOKIE, Auth
from segmentum.app.keys import KeyStore, scope_allows
from segmentum.app.server import LOGIN_COOKIE, MAX_BODY_BYTES
from segmentum.cli.main import app as cli

#: the only routes a caller without a key may reach
PUBLIC = {("GET", "/health"), ("GET", "/login"), ("POST", "/login")}
#: routes any valid key may call (no scope)
AUTH_ONLY = {("POST", "/logout")}
_SAMPLE = {"run_id": "latest", "name": "segment_1.csv"}
_BODY = {"rows": [{"lead_id": "L1", "age": 40}]}
_FUZZ_HEADERS: dict[str, str] = {}  # the fuzzer's key (set by the api_schema fixture)


def _scopes(dependant: Any) -> set[str]:
    """The scopes the route's :func:`~segmentum.app.auth.require` dependencies ask for."""
    found: set[str] = set()
    for dep in getattr(dependant, "dependencies", []):
        scope = getattr(dep.call, "scope", None)
        found |= {scope} if isinstance(scope, str) else set()
        found |= _scopes(dep)
    return found


def _routes(app: Any) -> list[tuple[str, str, frozenset[str]]]:
    """(method, concrete path, scopes needed) of every route in the app's table."""
    out: list[tuple[str, str, frozenset[str]]] = []
    for route in iter_route_contexts(app.routes):  # included routers flattened, prefixed
        assert route.path is not None, route
        if isinstance(route.original_route, Mount):
            out.append(("GET", route.path.rstrip("/") + "/x", frozenset()))
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: _SAMPLE.get(m.group(1), "x"), route.path)
        needs = frozenset(_scopes(getattr(route, "dependant", None)))
        methods = sorted(route.methods or {"GET"})
        out += [(method, path, needs) for method in methods if method != "HEAD"]
    return out


@pytest.fixture(scope="module")
def routes(app_demo: Path) -> list[tuple[str, str, frozenset[str]]]:
    found = _routes(create_app(app_demo / "segmentum.toml"))
    paths = {p for _, p, _ in found}
    # the enumeration sees the API, the docs and the pages (it cannot be silently empty)
    assert {"/api/v1/score/leads", "/api/v1/runs", "/api/docs", "/health"} <= paths, paths
    # every route but the public ones and sign-out names the scope it needs
    unscoped = {(m, p) for m, p, needs in found if not needs} - PUBLIC - AUTH_ONLY
    assert not unscoped, f"routes without require(scope): {unscoped}"
    return found


def _send(base_url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    body = {"json": _BODY} if method in ("POST", "PUT", "PATCH") else {}
    return httpx.request(method, base_url + path, timeout=30, **body, **kwargs)


def test_every_route_needs_a_key(
    app_server: Any, routes: list[tuple[str, str, frozenset[str]]]
) -> None:
    forged = "sgm_000000000000_" + "A" * 43
    for method, path, _ in routes:
        if (method, path) in PUBLIC:
            continue
        for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic x"}):
            got = _send(app_server.base_url, method, path, headers=headers)
            assert got.status_code == 401, (method, path, headers, got.status_code, got.text)
        forged_cookie = {SESSION_COOKIE: "0123456789ab.9999999999.00"}
        got = _send(app_server.base_url, method, path, cookies=forged_cookie)
        assert got.status_code == 401, (method, path, "forged session", got.text)
    # a body that is not even JSON is refused for want of a key before it is read
    bad = httpx.post(
        app_server.base_url + "/api/v1/score/leads",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 401
    assert httpx.get(app_server.base_url + "/health").status_code == 200


def test_wrong_scope_is_403(app_server: Any, routes: list[tuple[str, str, frozenset[str]]]) -> None:
    scoped = [(m, p, needs) for m, p, needs in routes if needs]
    assert {needs for *_, needs in scoped} >= {frozenset({"read"}), frozenset({"score"})}
    checked = 0
    for scope in ("read", "score"):
        headers = {"Authorization": f"Bearer {app_server.keys[scope]}"}
        for method, path, needs in scoped:
            if any(scope_allows(scope, need) for need in needs):
                continue
            got = _send(app_server.base_url, method, path, headers=headers)
            assert got.status_code == 403, (scope, method, path, got.status_code, got.text)
            assert "scope" in got.json()["detail"]
            checked += 1
    assert checked >= 10
    admin = {"Authorization": f"Bearer {app_server.keys['admin']}"}
    for method, path, _ in scoped:
        got = _send(app_server.base_url, method, path, headers=admin)
        assert got.status_code != 403, (method, path, got.text)


def _sign_in(base_url: str, key: str) -> httpx.Client:
    """A browser-like client signed in with ``key`` (it holds the session cookie)."""
    client = httpx.Client(base_url=base_url, timeout=30)
    page = client.get("/login")
    token = client.cookies[LOGIN_COOKIE]
    assert token in page.text
    signed = client.post("/login", data={"key": key, "token": token})
    assert signed.status_code == 303, signed.text
    cookie = signed.headers["set-cookie"].lower()
    assert SESSION_COOKIE in cookie and "httponly" in cookie and "samesite=strict" in cookie
    return client


def test_revoked_key_is_refused_on_the_next_request(app_server: Any) -> None:
    record, key = KeyStore(app_server.folder).create("read", "to revoke")
    key_id = record.key_id
    headers = {"Authorization": f"Bearer {key}"}
    browser = _sign_in(app_server.base_url, key)
    url = app_server.base_url + "/api/v1/runs"
    assert httpx.get(url, headers=headers).status_code == 200
    assert browser.get("/api/v1/runs").status_code == 200
    app_server.cli("keys", "revoke", key_id, "-p", str(app_server.folder / "segmentum.toml"))
    assert httpx.get(url, headers=headers).status_code == 401
    assert browser.get("/api/v1/runs").status_code == 401  # the session names the key
    project = str(app_server.folder / "segmentum.toml")
    listed = CliRunner().invoke(cli, ["keys", "list", "-p", project]).stdout
    assert key_id in listed and key not in listed  # ids are listed, keys never


def test_cookie_requests_need_the_csrf_token(app_server: Any, app_demo: Path) -> None:
    browser = _sign_in(app_server.base_url, app_server.keys["score"])
    session = browser.cookies[SESSION_COOKIE]
    no_token = browser.post("/api/v1/score/leads", json=_BODY)
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    wrong = browser.post("/api/v1/score/leads", json=_BODY, headers={CSRF_HEADER: "0" * 64})
    assert wrong.status_code == 403
    token = Auth(KeyStore(app_demo)).csrf_for(session)
    right = browser.post("/api/v1/score/leads", json=_BODY, headers={CSRF_HEADER: token})
    assert right.status_code == 422  # past the CSRF check: the lead lacks fields (named)
    assert {p["field"] for p in right.json()["problems"]} >= {"gender", "region"}
    logout = browser.post("/logout")
    assert logout.status_code == 403  # a form post without its token too
    # signing in needs the form's token (no login CSRF)
    stranger = httpx.post(
        app_server.base_url + "/login", data={"key": app_server.keys["read"], "token": "x"}
    )
    assert stranger.status_code == 403 and SESSION_COOKIE not in stranger.headers.get(
        "set-cookie", ""
    )


def test_oversize_body_is_413(app_server: Any) -> None:
    url = app_server.base_url + "/api/v1/score/leads"
    headers = {
        "Authorization": f"Bearer {app_server.keys['score']}",
        "Content-Type": "application/json",
    }
    big = b'{"rows": [' + b" " * MAX_BODY_BYTES + b"]}"
    declared = httpx.post(url, content=big, headers=headers, timeout=60)
    assert declared.status_code == 413 and "bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"rows": ['
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 1):
            yield b" " * (1 << 20)
        yield b"]}"

    streamed = httpx.post(url, content=chunks(), headers=headers, timeout=60)
    assert streamed.status_code == 413


def test_public_host_needs_public(app_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    project = str(app_demo / "segmentum.toml")
    refused = CliRunner().invoke(cli, ["serve", project, "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "--public" in refused.output and not started
    allowed = CliRunner().invoke(cli, ["serve", project, "--host", "0.0.0.0", "--public"])
    assert allowed.exit_code == 0 and "Warning" in allowed.output
    assert started == [{"host": "0.0.0.0", "port": 8000, "log_level": "warning"}]
    local = CliRunner().invoke(cli, ["serve", project, "--host", "::1"])
    assert local.exit_code == 0 and len(started) == 2


@pytest.fixture(scope="module")
def api_schema(app_demo: Path) -> Any:
    """The API's own schema, loaded from the app in-process with an admin key."""
    _, key = KeyStore(app_demo).create("admin", "schemathesis")
    app = create_app(app_demo / "segmentum.toml")
    _FUZZ_HEADERS["Authorization"] = f"Bearer {key}"
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=_FUZZ_HEADERS)


def test_fuzzing_the_api_finds_no_server_error(api_schema: Any) -> None:
    """Valid and invalid inputs generated from the schema (30 of each per operation): any
    answer but a 5xx (a 4xx naming the problem is what invalid input should get)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/score/leads", "/api/v1/runs/{run_id}"}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                case.call_and_validate(headers=_FUZZ_HEADERS, checks=[not_a_server_error])

            call()


def test_spark_audience_parts_are_named_and_confined_by_both_manifests() -> None:
    """A Spark run's audience folder is served only when its name is a plain file name (it
    becomes the download's file name, a header) and every part is inside
    ``audiences/<name>/`` and covered by the run manifest."""
    from segmentum.app.api import _audience_parts

    files = {"audiences/segment_1/part-00000.csv": {}, "audiences/segment_1/part-00001.csv": {}}
    parts = [{"path": "segment_1/part-00000.csv"}, {"path": "segment_1/part-00001.csv"}]
    assert _audience_parts("segment_1", parts, files) == [f"audiences/{p['path']}" for p in parts]
    for name in ('seg"ment', "seg\r\nSet-Cookie: x", "../segment_1", ".hidden", "", "a b"):
        assert _audience_parts(name, parts, files) == [], name
    for bad in ("segment_2/part-00000.csv", "segment_1/../x.csv", "segment_1/.p.csv",
                "segment_1/part-00002.csv", "segment_1/part.txt"):  # fmt: skip
        assert _audience_parts("segment_1", [{"path": bad}], files) == [], bad
