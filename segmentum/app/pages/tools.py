"""The two forms: the typing tool (answer the golden questions → the segment) and the lead
scorer (paste or upload leads → the scored table, and its CSV).

Both score exactly as ``segmentum score`` does, through the same functions
(:func:`segmentum.valuation.score.score` and :meth:`LeadScorer.score`) with the run's models
loaded once (:class:`~segmentum.app.core.RunView`). The forms are POSTed with the page's
CSRF token; a bad answer or lead is shown on the form (422), named by row and column.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from segmentum.app.core import NotFound, RunView
from segmentum.app.pages.base import label, render, router, run_view, wants_json
from segmentum.data.errors import DataError

__all__ = ["MAX_LEADS", "SHOWN_COLUMNS", "SHOWN_ROWS"]

#: Most leads one form accepts (the scoring API's batch bound).
MAX_LEADS = 10_000
#: Rows of the scored table shown on the page (the download holds them all).
SHOWN_ROWS = 100
#: Columns of the scored table shown on the page (the download holds them all).
SHOWN_COLUMNS = ("segment", "segment_name", "target_probability", "score", "keep", "reason")


# -- the typing tool ------------------------------------------------------------------------


def _tool(run: RunView) -> Any:
    try:
        return run.typing_tool
    except NotFound:
        raise NotFound(
            f"run {run.run_id} has no typing tool (model/typing_tool.json): the valuation "
            "stage did not run, or the survey had no segments"
        ) from None


def _scorer(run: RunView) -> Any:
    try:
        return run.lead_scorer
    except NotFound:
        raise NotFound(
            f"run {run.run_id} has no lead model (model/lead_projection.json): the activation "
            "stage did not run, or no customers were linked to the survey"
        ) from None


def _tool_data(run: RunView) -> dict[str, Any]:
    tool = _tool(run)
    questions = []
    for item in tool.items:
        scale = tool.answer_scale[item]
        levels = scale.get("levels")
        questions.append(
            {
                "item": item,
                "label": label(item),
                "min": scale.get("min"),
                "max": scale.get("max"),
                "levels": None if levels is None else [_num(v) for v in levels],
            }
        )
    meta = tool.metadata or {}
    return {
        "run_id": run.run_id,
        "questions": questions,
        "accuracy": meta.get("accuracy"),
        "threshold": tool.threshold,
        "answers": {},
        "result": None,
        "errors": [],
    }


def _num(v: Any) -> int | float:
    f = float(v)
    return int(f) if f.is_integer() else f


@router.get("/runs/{run_id}/type.json")
@router.get("/runs/{run_id}/type")
def typing_form(request: Request, run_id: str) -> Response:
    """The typing tool: one input per golden question, on its answer scale."""
    run = run_view(request, run_id)
    return render(request, "type.html", _tool_data(run), "Typing tool")


@router.post("/runs/{run_id}/type.json")
@router.post("/runs/{run_id}/type")
async def typing_result(request: Request, run_id: str) -> Response:
    """The segment, its name and probability for the answers sent (as ``segmentum
    score --answers`` gives them), and every segment's probability."""
    from segmentum.valuation.score import score

    run = run_view(request, run_id)
    data = _tool_data(run)
    tool = _tool(run)
    form = await request.form()
    answers: dict[str, Any] = {}
    for item in tool.items:
        value = form.get(item)
        answers[item] = value.strip() or None if isinstance(value, str) else None
    data["answers"] = answers
    try:
        result = score(tool, answers)
    except DataError as exc:
        if wants_json(request):
            raise
        data["errors"] = [str(exc)]
        return render(request, "type.html", data, "Typing tool", status_code=422)
    x = [[float(answers[i]) for i in tool.items]]
    proba = tool.predict_proba(x)[0]
    result["probabilities"] = [
        {"segment": int(s), "name": tool.segment_names.get(s, ""), "probability": float(p)}
        for s, p in zip(tool.segments, proba, strict=True)
    ]
    data["result"] = result
    return render(request, "type.html", data, "Typing tool")


# -- the lead scorer ------------------------------------------------------------------------


def _lead_data(run: RunView) -> dict[str, Any]:
    scorer = _scorer(run)
    fields = [*scorer.model.numeric, *scorer.model.categorical]
    source = scorer.source_column
    fields = [source if f == "source" and source else f for f in fields]
    return {
        "run_id": run.run_id,
        "id_column": scorer.id_column,
        "fields": fields,
        "golden_questions": list(scorer.typing_tool.items) if scorer.typing_tool else [],
        "threshold": scorer.threshold,
        "targets": [
            {"segment": int(t), "name": scorer.segment_names.get(int(t), "")}
            for t in scorer.targets
        ],
        "result": None,
        "errors": [],
    }


async def _leads_from_form(request: Request) -> tuple[pd.DataFrame, str]:
    """The leads sent: an uploaded CSV file, else the pasted CSV text."""
    form = await request.form()
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw, name = await upload.read(), upload.filename
    else:
        text = form.get("csv")
        raw, name = (text if isinstance(text, str) else "").encode("utf-8"), "pasted leads"
    if not raw.strip():
        raise DataError(f"{name}: no leads sent; paste CSV text or choose a CSV file")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except Exception as exc:  # any parser failure is a problem of the user's text
        raise DataError(f"{name}: cannot read the leads as CSV ({exc})") from exc
    if len(frame) == 0:
        raise DataError(f"{name}: the leads file is empty (no data rows)")
    if len(frame) > MAX_LEADS:
        raise DataError(
            f"{name}: {len(frame):,} leads; at most {MAX_LEADS:,} a time",
            hint="Split the file, or use `segmentum score --leads` for big files.",
        )
    return frame, name


def scored_result(scored: pd.DataFrame, name: str) -> dict[str, Any]:
    """The scored leads as the page shows them: counts, every row, and the CSV to download
    (the bytes ``segmentum score --leads`` writes)."""
    csv = scored.to_csv(index=False)
    kept = int(scored["keep"].sum())
    return {
        "source": name,
        "n": len(scored),
        "kept": kept,
        "dropped": len(scored) - kept,
        "columns": [str(c) for c in scored.columns],
        "rows": json.loads(scored.to_json(orient="records")),
        "csv_base64": base64.b64encode(csv.encode("utf-8")).decode("ascii"),
    }


@router.get("/runs/{run_id}/leads.json")
@router.get("/runs/{run_id}/leads")
def lead_form(request: Request, run_id: str) -> Response:
    """The lead scorer: paste leads as CSV text or upload a CSV file."""
    run = run_view(request, run_id)
    return render(request, "leads.html", _lead_data(run), "Lead scorer")


@router.post("/runs/{run_id}/leads.json")
@router.post("/runs/{run_id}/leads")
async def lead_result(request: Request, run_id: str) -> Response:
    """The leads scored and filtered as ``segmentum score --leads`` does it."""
    run = run_view(request, run_id)
    data = _lead_data(run)
    try:
        frame, name = await _leads_from_form(request)
        scored = _scorer(run).score(frame, table=name)
    except DataError as exc:
        if wants_json(request):
            raise
        data["errors"] = [str(exc)] + ([exc.hint] if getattr(exc, "hint", None) else [])
        return render(request, "leads.html", data, "Lead scorer", status_code=422)
    data["result"] = scored_result(scored, name)
    return render(request, "leads.html", data, "Lead scorer", shown_columns=_shown(data["result"]))


def _shown(result: dict[str, Any]) -> list[str]:
    """The id column and :data:`SHOWN_COLUMNS`: at most seven columns on the page."""
    columns = result["columns"]
    return [columns[0], *(c for c in SHOWN_COLUMNS if c in columns)]
