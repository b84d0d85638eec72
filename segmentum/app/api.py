"""The versioned JSON API, mounted at ``/api/v1`` behind a key (see :mod:`.server`).

Scoring (scope ``score``): ``POST /score/respondents`` and ``POST /score/leads`` take
``{"rows": [{column: value, ...}]}`` (1 to 10,000 rows) and answer ``{"rows": [...]}`` with
the fields ``segmentum score --answers`` / ``--leads`` write, computed by the same functions
(one row takes the scorers' fast path, no DataFrame). Reading (scope ``read``): runs, a
run's summary, segments, priorities and audience files (downloads are logged in the key
store). ``run`` / ``run_id`` is a run id or ``latest``. The OpenAPI schema is at
``/api/v1/openapi.json`` and its rendering at ``/api/docs``, both behind a key.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)

from segmentum.app.auth import Principal, require
from segmentum.app.core import NotFound, ProjectView, RunView
from segmentum.app.models import LeadScores, RespondentScores, ScoreRequest
from segmentum.data.errors import DataError, Problem

__all__ = ["docs_router", "openapi_schema", "router"]

router = APIRouter(tags=["api"])
#: ``/api/docs`` (outside the versioned prefix; included by :func:`.server.create_app`)
docs_router = APIRouter(include_in_schema=False)

API_PREFIX = "/api/v1"
_LATEST = "latest"
#: the segmentation's choice of k and structure verdict, as ``segments.json`` holds them
_VERDICT_FIELDS = (
    "k",
    "k_recommended",
    "pinned",
    "method",
    "stability",
    "n_boot",
    "structure",
    "verdict",
    "recommendation",
    "unstable_segments",
)
_AUDIENCE_TYPES = {".csv": "text/csv", ".xlsx": "application/vnd.ms-excel"}
RunParam = Annotated[
    str,
    Path(
        description="A run id (as `GET /api/v1/runs` lists them) or `latest`.",
        examples=["latest"],
        max_length=64,
    ),
]
RunQuery = Annotated[
    str | None,
    Query(
        alias="run",
        description="Score with this run's models (a run id or `latest`; default: the run "
        "the server serves, the newest unless `segmentum serve --run` pinned one).",
        max_length=64,
    ),
]


async def _project(request: Request) -> ProjectView:
    # async: a plain function would be run in the thread pool on every request
    return request.app.state.project


def _run(project: ProjectView, run_id: str | None) -> RunView:
    return project.run(None if run_id in (None, "", _LATEST) else run_id)


# -- scoring ---------------------------------------------------------------------------------


def _json(payload: str | dict[str, Any]) -> Response:
    body = payload if isinstance(payload, str) else json.dumps(payload, allow_nan=False)
    return Response(body, media_type="application/json")


def _rows_frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    """The rows as a table (columns in first-seen order); a row without fields is a
    :class:`DataError` naming it."""
    empty = [i for i, row in enumerate(rows) if not row]
    if empty:
        problems = [
            Problem(table, table, i + 1, None, None, "at least one field", "empty row")
            for i in empty[:20]
        ]
        raise DataError(
            f"{table}: {len(empty)} row(s) without any field; nothing was scored. "
            + " ".join(p.describe() for p in problems[:5]),
            problems,
        )
    return pd.DataFrame.from_records(rows)


def _records(frame: pd.DataFrame) -> Response:
    """``{"rows": [...]}`` from a scored table (pandas' fast JSON writer, 15 decimals:
    several times faster than ``json.dumps`` of the records for 10,000 rows)."""
    return _json('{"rows":' + frame.to_json(orient="records", double_precision=15) + "}")


def _respondent_id(tool: Any, row: dict[str, Any]) -> str:
    """The id field :func:`segmentum.valuation.score.score` picks for a table with these
    columns: the tool's id column, else the first non-question field, else ``row``."""
    if tool.id_column is not None and tool.id_column in row:
        return str(tool.id_column)
    rest = [c for c in row if c not in tool.items]
    return rest[0] if rest else "row"


def _score_respondents(tool: Any, rows: list[dict[str, Any]]) -> Response:
    from segmentum.valuation.score import score

    if len(rows) == 1 and rows[0]:
        one = score(tool, rows[0], id_column=_respondent_id(tool, rows[0]))
        return _json({"rows": [one]})
    return _records(score(tool, _rows_frame(rows, "answers")))


def _score_leads(scorer: Any, rows: list[dict[str, Any]]) -> Response:
    if len(rows) == 1 and rows[0]:
        return _json({"rows": [scorer.score_one(rows[0])]})
    return _records(scorer.score(_rows_frame(rows, "leads")))


async def _scored(work: Any, model: Any, rows: list[dict[str, Any]]) -> Response:
    """One row inline (about 0.1 ms); a batch in the thread pool, off the event loop."""
    if len(rows) == 1:
        return work(model, rows)
    return await run_in_threadpool(work, model, rows)


@router.post(
    "/score/respondents",
    response_model=RespondentScores,
    summary="Assign people to segments from their golden-question answers",
    dependencies=[Depends(require("score"))],
    responses={422: {"description": "A field or an answer is missing or invalid (named)."}},
)
async def score_respondents(
    body: ScoreRequest,
    run: RunQuery = None,
    project: ProjectView = Depends(_project),
) -> Response:
    """The typing tool of the run (the same as `segmentum score RUN --answers FILE`): per
    row the id, ``segment``, ``segment_name``, ``segment_probability`` and
    ``unclassifiable``. Every golden question needs an answer on its scale; a row that
    lacks one is refused with 422 naming the row (1-based) and the column."""
    return await _scored(_score_respondents, _run(project, run).typing_tool, body.rows)


@router.post(
    "/score/leads",
    response_model=LeadScores,
    summary="Score and filter sales leads",
    dependencies=[Depends(require("score"))],
    responses={422: {"description": "A field is missing or invalid (named)."}},
)
async def score_leads(
    body: ScoreRequest,
    run: RunQuery = None,
    project: ProjectView = Depends(_project),
) -> Response:
    """The lead scorer of the run (the same as `segmentum score RUN --leads FILE`): per
    lead the id, ``segment``, ``target_probability``, ``expected_value``, ``score``,
    ``keep``, ``reason``, ``segment_name``, ``segment_probability``, ``method`` and
    ``p_<segment>``. Leads that answered every golden question are typed with the typing
    tool, the others with the lead model (descriptors and source)."""
    return await _scored(_score_leads, _run(project, run).lead_scorer, body.rows)


# -- reading ---------------------------------------------------------------------------------


@router.get("/runs", dependencies=[Depends(require("read"))])
def runs(project: ProjectView = Depends(_project)) -> list[dict[str, Any]]:
    """The project's finished runs, newest first."""
    return project.runs()


@router.get("/runs/{run_id}", dependencies=[Depends(require("read"))])
def run_summary(run_id: RunParam, project: ProjectView = Depends(_project)) -> dict[str, Any]:
    """A run's manifest in short: when, which inputs (fingerprints and rows), parameters,
    stages, versions, warnings and its files (no server paths)."""
    view = _run(project, run_id)
    m = view.manifest
    keep = ("run_id", "project", "seed", "analysis_date", "started_at", "finished_at")
    out: dict[str, Any] = {k: m.get(k) for k in keep}
    out.update(
        seconds=m.get("seconds"),
        n_segments=m.get("n_segments"),
        previous_run=m.get("previous_run"),
        inputs={
            name: {k: v for k, v in dict(spec).items() if k != "location"}
            for name, spec in dict(m.get("inputs") or {}).items()
        },
        parameters=m.get("parameters", {}),
        stages=m.get("stages", {}),
        versions=m.get("versions", {}),
        warnings=m.get("warnings", []),
        files=view.files,
    )
    return out


def _segments_json(view: RunView) -> dict[str, Any]:
    if "segments.json" not in view.manifest.get("files", {}):
        raise NotFound(f"run {view.run_id} has no segments (its segments stage did not run)")
    data = view.json("segments.json")
    return data if isinstance(data, dict) else {}


@router.get("/runs/{run_id}/segments", dependencies=[Depends(require("read"))])
def segments(run_id: RunParam, project: ProjectView = Depends(_project)) -> dict[str, Any]:
    """The segments: the structure verdict (natural, reproducible or constructive), the
    choice of k with its stability, and per segment its size, share, name, stability and
    defining needs."""
    view = _run(project, run_id)
    data = _segments_json(view)
    seg = dict(data.get("segmentation") or {})
    stability = dict(seg.get("segment_stability") or {})
    sizes = dict(seg.get("sizes") or {})
    rows = [
        {
            "segment": s.get("segment"),
            "name": s.get("name"),
            "size": s.get("size"),
            "share": s.get("share"),
            "share_sample": s.get("share_sample"),
            "weighted_share": dict(sizes.get(str(s.get("segment"))) or {}).get("weighted_share"),
            "stability": stability.get(str(s.get("segment"))),
            "defining_needs": s.get("defining_needs", []),
        }
        for s in data.get("segments") or []
    ]
    verdict = {k: seg.get(k) for k in _VERDICT_FIELDS}
    return {"run_id": view.run_id, **verdict, "segments": rows}


@router.get("/runs/{run_id}/priorities", dependencies=[Depends(require("read"))])
def priorities(run_id: RunParam, project: ProjectView = Depends(_project)) -> dict[str, Any]:
    """The valuation's priority table, best first: per segment its rank, score,
    attractiveness, competitiveness, knock-out (and why), how often it ranks first or in
    the top two under reweighting, and its valuation (size, revenue, CLV, profit, growth
    per head and in total)."""
    view = _run(project, run_id)
    data = _segments_json(view)
    rows = [
        {
            "segment": s.get("segment"),
            "name": s.get("name"),
            **dict(s.get("priority") or {}),
            "valuation": s.get("valuation"),
        }
        for s in data.get("segments") or []
        if s.get("priority")
    ]
    if not rows:
        raise NotFound(f"run {view.run_id} has no priorities (its valuation stage did not run)")
    rows.sort(key=lambda r: (r.get("rank") is None, r.get("rank")))
    where = dict(data.get("where_to_play") or {})
    return {"run_id": view.run_id, "where_to_play": where.get("sentence"), "segments": rows}


def _audiences(view: RunView) -> list[dict[str, Any]]:
    """The run's audience files its audience manifest lists and its run manifest covers.

    A DuckDB run writes one file per audience (``segment_1.csv``); a Spark run writes a
    folder of CSV part files per audience (``segment_1/part-*.csv``, listed with its
    ``parts``), served as ``segment_1.csv``, its rows the audience's total.
    """
    if "audiences/manifest.json" not in view.manifest.get("files", {}):
        return []
    listed = dict(view.json("audiences/manifest.json")).get("files") or []
    files = view.manifest.get("files", {})
    out = []
    for f in listed:
        f = dict(f)
        name = str(f.get("path", ""))
        if "parts" in f:
            parts = _audience_parts(name, f.get("parts"), files)
            if parts:
                out.append(
                    {
                        "name": f"{name}.csv",
                        "kind": f.get("kind"),
                        "rows": f.get("rows"),
                        "parts": parts,
                    }
                )
        elif f"audiences/{name}" in files and "/" not in name:
            out.append({"name": name, "kind": f.get("kind"), "rows": f.get("rows")})
    return out


_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _audience_parts(name: str, parts: Any, files: dict[str, Any]) -> list[str]:
    """The part files of a Spark audience folder, as run-folder paths: each named by the
    audience manifest, inside ``audiences/<name>/`` and covered by the run manifest;
    ``[]`` (not listed) when any is not."""
    # the name becomes a download's file name (a header): letters, digits, _ . - only
    if not _SAFE_NAME.fullmatch(name) or name.startswith(".") or not isinstance(parts, list):
        return []
    out = []
    for part in parts:
        rel = str(dict(part).get("path", "")) if isinstance(part, dict) else ""
        head, _, leaf = rel.partition("/")
        if (
            head != name
            or not leaf
            or "/" in leaf
            or leaf.startswith(".")
            or not leaf.endswith(".csv")
        ):
            return []
        if f"audiences/{rel}" not in files:
            return []
        out.append(f"audiences/{rel}")
    return out


_BOM = b"\xef\xbb\xbf"


def _joined_parts(paths: list[Any], chunk: int = 1 << 20) -> Iterator[bytes]:
    """The CSV part files as one CSV: the first part whole (its BOM and header), each later
    part without its BOM and header line; read in chunks (never the whole audience)."""
    for i, path in enumerate(paths):
        with path.open("rb") as handle:
            if i:
                head = handle.readline()
                if head.startswith(_BOM) and not head[len(_BOM) :].strip():
                    head = handle.readline()  # a BOM on its own line: the header follows
            while block := handle.read(chunk):
                yield block


@router.get("/runs/{run_id}/audiences", dependencies=[Depends(require("read"))])
def audiences(run_id: RunParam, project: ProjectView = Depends(_project)) -> dict[str, Any]:
    """The run's audience files (per segment, segment × stage, offer and the control
    group; CSV and xlsx), with their rows; download one at ``.../audiences/{name}``."""
    view = _run(project, run_id)
    listed = [{k: v for k, v in a.items() if k != "parts"} for a in _audiences(view)]
    return {"run_id": view.run_id, "audiences": listed}


@router.get(
    "/runs/{run_id}/audiences/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The audience file."}},
)
def audience_file(
    run_id: RunParam,
    name: Annotated[str, Path(description="A file name as `.../audiences` lists it.")],
    request: Request,
    project: ProjectView = Depends(_project),
    principal: Principal = Depends(require("read")),
) -> Response:
    """Download one audience file (logged in the key store: who, when, which run and file);
    on a Spark run, an audience's part files streamed as one CSV with one header."""
    view = _run(project, run_id)
    found = next((a for a in _audiences(view) if a["name"] == name), None)
    if found is None:
        raise NotFound(f"run {view.run_id} has no audience file {name!r}")
    store = request.app.state.auth.store
    if "parts" in found:  # a Spark run's folder of parts, streamed as one CSV
        root = view.folder.resolve()
        paths = [view.path(p).resolve() for p in found["parts"]]
        if any(not p.is_relative_to(root) or not p.is_file() for p in paths):
            raise NotFound(f"run {view.run_id} has no audience file {name!r}")
        store.log_download(principal.key.key_id, view.run_id, f"audiences/{name}", found["rows"])
        return StreamingResponse(
            _joined_parts(paths),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    path = view.path(f"audiences/{name}")
    store.log_download(principal.key.key_id, view.run_id, f"audiences/{name}", found["rows"])
    return FileResponse(
        path,
        media_type=_AUDIENCE_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        filename=name,
    )


# -- the schema and its docs -------------------------------------------------------------


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema of the ``/api/v1`` routes, with the Bearer scheme (built once)."""
    cached = getattr(app.state, "openapi_schema", None)
    if cached is not None:
        return cached
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema["paths"] = {
        p: ops for p, ops in schema.get("paths", {}).items() if p.startswith(API_PREFIX)
    }
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `segmentum keys create --scope read|score|admin`.",
        }
    }
    schema["security"] = [{"bearer": []}]
    app.state.openapi_schema = schema
    return schema


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require("read"))])
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of this API."""
    return JSONResponse(openapi_schema(request.app))


@docs_router.get("/api/docs", response_class=HTMLResponse, dependencies=[Depends(require("read"))])
def docs(request: Request) -> HTMLResponse:
    """The API's reference, rendered on the server from its schema (no script, no CDN)."""
    return HTMLResponse(_docs_html(openapi_schema(request.app)))


def _docs_html(schema: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(schema['info']['title'])} API</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.45}code,pre{background:#f4f4f4;padding:.1rem .3rem}"
        "h3 code{font-size:1rem}.m{font-weight:bold;text-transform:uppercase}</style>",
        f"</head><body><h1>{e(schema['info']['title'])} API {e(schema['info']['version'])}</h1>",
        f"<p>{e(schema['info'].get('description', ''))}</p>",
        "<p>Send <code>Authorization: Bearer &lt;key&gt;</code> (create a key with "
        "<code>segmentum keys create --scope read</code>, or <code>score</code> for "
        f"scoring). The schema: <a href='{API_PREFIX}/openapi.json'>openapi.json</a>.</p>",
    ]
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            parts.append(f"<h3><span class='m'>{e(method)}</span> <code>{e(path)}</code></h3>")
            parts.append(f"<p><b>{e(op.get('summary', ''))}</b></p>")
            parts.append(f"<p>{e(op.get('description', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                items = "".join(
                    f"<li><code>{e(p['name'])}</code> ({e(p['in'])}): "
                    f"{e(p.get('description', ''))}</li>"
                    for p in params
                )
                parts.append(f"<ul>{items}</ul>")
            if "requestBody" in op:
                parts.append("<p>Body: <code>{\"rows\": [{column: value, …}]}</code>, 1 to "
                             "10,000 rows.</p>")  # fmt: skip
            codes = ", ".join(e(str(c)) for c in op.get("responses", {}))
            parts.append(f"<p>Answers: {codes}; 401 without a key, 403 with the wrong scope.</p>")
    parts.append("</body></html>")
    return "".join(parts)
