"""The pages of a run: the answer, value, segments, one page per segment, the map, where to
play and activation (with its audience files). Each reads the run's files (``report.json``,
``segments.json``, ``activation.json``, ``audiences/manifest.json``) and reuses the report's
figures; nothing is recomputed."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup

from segmentum.app.core import NotFound, RunView
from segmentum.app.pages.answer import answer_for_run
from segmentum.app.pages.base import (
    data_page,
    render,
    router,
    run_view,
    section,
    section_html,
)

__all__: list[str] = []


def _json(run: RunView, name: str) -> dict[str, Any]:
    """A JSON file of the run, or ``{}`` when the run has none (a stage that did not run)."""
    try:
        found = run.json(name)
    except NotFound:
        return {}
    return found if isinstance(found, dict) else {}


def _segments(run: RunView) -> list[dict[str, Any]]:
    return [s for s in _json(run, "segments.json").get("segments", []) if isinstance(s, dict)]


def _sections_html(*sections: dict[str, Any] | None) -> Any:
    from markupsafe import Markup

    return Markup("").join(section_html(s) for s in sections if s is not None)


# -- runs, and a run's answer ---------------------------------------------------------------


@data_page("/runs")
def runs_page(request: Request) -> Response:
    """The project's runs, newest first."""
    project = request.app.state.project
    data = {"project": project.name, "runs": project.runs()}
    return render(request, "runs.html", data, f"{project.name}: runs")


@router.get("/")
def home(request: Request) -> Response:
    """The newest run's answer page (the runs page while there is no run)."""
    if request.app.state.project.latest_id() is None:
        return runs_page(request)
    return answer_page(request, None)


@data_page("/runs/{run_id}")
def answer_page(request: Request, run_id: str | None) -> Response:
    """A run's first screen: to whom, what, how, how sure."""
    run = run_view(request, run_id)
    summary = _json(run, "segments.json")
    report = run.report
    data = {
        "run_id": run.run_id,
        "title": report.get("title", ""),
        "subtitle": report.get("subtitle", ""),
        "answer": answer_for_run(run.run_id, report, summary, _json(run, "activation.json")),
        "segments": [_segment_row(s) for s in _segments(run)],
    }
    return render(request, "answer.html", data, str(data["title"] or run.run_id))


def _segment_row(seg: dict[str, Any]) -> dict[str, Any]:
    priority = seg.get("priority") or {}
    valuation = seg.get("valuation") or {}
    return {
        "segment": int(seg["segment"]),
        "name": str(seg.get("name", "")),
        "n": seg.get("size"),
        "share": seg.get("share"),
        "value_share": valuation.get("value_share"),
        "rank": priority.get("rank"),
    }


# -- value, segments, one segment -----------------------------------------------------------


@data_page("/runs/{run_id}/value")
def value_page(request: Request, run_id: str) -> Response:
    """Where value sits: deciles, RFM, CLV (the report's value section)."""
    run = run_view(request, run_id)
    value = _json(run, "segments.json").get("value") or {}
    keys = (
        "customers",
        "repeat_buyers",
        "transactions",
        "revenue",
        "top_decile_revenue_share",
        "clv_total",
        "clv_mean",
        "profit_total",
        "analysis_date",
        "model",
    )
    sec = section(run, "value")
    data = {
        "run_id": run.run_id,
        "summary": {k: value[k] for k in keys if k in value},
        "section": sec,
    }
    return render(request, "section_page.html", data, "Value", sections=_sections_html(sec))


@data_page("/runs/{run_id}/segments")
def segments_page(request: Request, run_id: str) -> Response:
    """The segments: structure verdict, stability, sizes, and the profiles' evidence."""
    run = run_view(request, run_id)
    summary = _json(run, "segments.json")
    seg = summary.get("segmentation") or {}
    stability = seg.get("segment_stability") or {}
    bands = {
        k: v.get("band") for k, v in ((seg.get("evidence") or {}).get("segments") or {}).items()
    }
    rows = [
        {
            **_segment_row(s),
            "stability": stability.get(str(s["segment"])),
            "band": bands.get(str(s["segment"])),
        }
        for s in _segments(run)
    ]
    sections = [section(run, "segments"), section(run, "profiles")]
    data = {
        "run_id": run.run_id,
        "structure": seg.get("structure"),
        "verdict": seg.get("verdict"),
        "k": seg.get("k"),
        "method": seg.get("method"),
        "stability": seg.get("stability"),
        "recommendation": seg.get("recommendation"),
        "exclusivity": summary.get("exclusivity"),
        "segments": rows,
        "sections": [s for s in sections if s is not None],
    }
    return render(request, "segments.html", data, "Segments", sections=_sections_html(*sections))


@data_page("/runs/{run_id}/segments/{segment}")
def segment_page(request: Request, run_id: str, segment: int) -> Response:
    """One segment: persona, profile, value, priority, stage mix, offers, audiences."""
    run = run_view(request, run_id)
    seg = next((s for s in _segments(run) if int(s["segment"]) == segment), None)
    if seg is None:
        raise NotFound(f"run {run.run_id} has no segment {segment}")
    activation = _json(run, "activation.json")
    stability = (_json(run, "segments.json").get("segmentation") or {}).get(
        "segment_stability"
    ) or {}
    data = {
        "run_id": run.run_id,
        "segment": segment,
        "name": str(seg.get("name", "")),
        "n": seg.get("size"),
        "share": seg.get("share"),
        "stability": stability.get(str(segment)),
        "persona": parse_persona(str(seg.get("persona", ""))),
        "defining_needs": list(seg.get("defining_needs", [])),
        "descriptors": list(seg.get("descriptors", [])),
        "value": seg.get("value") or {},
        "valuation": seg.get("valuation") or {},
        "priority": seg.get("priority") or {},
        "stage_mix": _stage_mix(activation, segment),
        "offers": _offers(activation, segment),
        "audiences": [a for a in _audiences(run) if a.get("segment") == segment],
        "segments": [_segment_row(s) for s in _segments(run)],
    }
    title = f"Segment {segment}: {data['name']}" if data["name"] else f"Segment {segment}"
    picture = _persona_picture(seg, data["stage_mix"])
    return render(request, "segment.html", data, title, picture=picture)


def _persona_picture(seg: dict[str, Any], stage_mix: list[dict[str, Any]]) -> Markup | None:
    """The persona's picture, drawn here from the numbers in ``segments.json`` (never the run
    folder's SVG file: the folder is untrusted, the drawing code escapes every text)."""
    from segmentum.profiles import persona_from_json, persona_svg

    if not seg.get("card_facts"):
        return None
    try:
        card = persona_from_json(seg)
        stages = {str(c["stage"]): int(c["customers"] or 0) for c in stage_mix if c.get("stage")}
        return Markup(persona_svg(card, stages=stages or None))
    except (ValueError, TypeError):
        return None  # a segments.json of another shape: the card's text still shows


def _stage_mix(activation: dict[str, Any], segment: int) -> list[dict[str, Any]]:
    cells = [
        c
        for c in (activation.get("lifecycle") or {}).get("segment_stage", [])
        if c.get("segment") == segment
    ]
    total = sum(float(c.get("customers") or 0) for c in cells) or 1.0
    return [
        {
            "stage": c.get("stage"),
            "customers": c.get("customers"),
            "value": c.get("value"),
            "share": float(c.get("customers") or 0) / total,
        }
        for c in cells
    ]


def _offers(activation: dict[str, Any], segment: int) -> list[dict[str, Any]]:
    cells = (activation.get("offers") or {}).get("by_segment_stage", [])
    return [
        {k: c.get(k) for k in ("stage", "offer", "offered", "expected_value")}
        for c in cells
        if c.get("segment") == segment and c.get("offer")
    ]


_SEGMENT_FILE = re.compile(r"^segment_(\d+)(?:_(\w+))?\.csv$")


def _audiences(run: RunView) -> list[dict[str, Any]]:
    """The run's audience CSV files (from ``audiences/manifest.json``) with their links."""
    files = _json(run, "audiences/manifest.json").get("files", [])
    out = []
    for f in files:
        path = str(f.get("path", ""))
        if not path.endswith(".csv") or f"audiences/{path}" not in run.manifest.get("files", {}):
            continue
        match = _SEGMENT_FILE.match(path)
        out.append(
            {
                "name": path,
                "kind": f.get("kind"),
                "rows": f.get("rows"),
                "segment": int(match.group(1)) if match else None,
                "stage": match.group(2) if match else None,
                # the API's download route (logged); the session cookie signs it
                "href": f"/api/v1/runs/{run.run_id}/audiences/{path}",
            }
        )
    return out


_MD_GROUP = re.compile(r"^\*\*(.+)\*\*$")


def parse_persona(markdown: str) -> dict[str, Any]:
    """A persona card's Markdown (``Persona.to_markdown``) as data: ``title``, ``size``
    and ``groups`` (``{"title", "items"}``; the quotes are the group "In their words").

    Examples
    --------
    >>> parse_persona("### Segment 1: A\\n\\n*3 respondents*\\n\\n**Who they are**\\n- young")
    {'title': 'Segment 1: A', 'size': '3 respondents', 'groups': [{'title': 'Who they are', 'items': ['young']}]}
    """
    out: dict[str, Any] = {"title": "", "size": "", "groups": []}
    for raw in markdown.splitlines():
        line = raw.strip()
        if line.startswith("### "):
            out["title"] = line[4:]
        elif match := _MD_GROUP.match(line):
            out["groups"].append({"title": match.group(1), "items": []})
        elif line.startswith("*") and line.endswith("*") and len(line) > 2:
            out["size"] = line.strip("*")
        elif line.startswith(("- ", "> ")) and out["groups"]:
            out["groups"][-1]["items"].append(line[2:])
    return out


# -- map, where to play, activation ---------------------------------------------------------


@data_page("/runs/{run_id}/map")
def map_page(request: Request, run_id: str) -> Response:
    """The segmentation map, gaps, white space and 'I wish' themes."""
    run = run_view(request, run_id)
    sec = section(run, "maps")
    data = {
        "run_id": run.run_id,
        "white_space": _json(run, "segments.json").get("white_space", []),
        "section": sec,
    }
    return render(request, "section_page.html", data, "Map", sections=_sections_html(sec))


@data_page("/runs/{run_id}/where-to-play")
def where_page(request: Request, run_id: str) -> Response:
    """Priorities: attractiveness × competitiveness, valuation, projection, typing tool."""
    run = run_view(request, run_id)
    summary = _json(run, "segments.json")
    priorities = [
        {**_segment_row(s), **(s.get("priority") or {})}
        for s in _segments(run)
        if s.get("priority")
    ]
    priorities.sort(key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    sec = section(run, "valuation")
    data = {
        "run_id": run.run_id,
        "sentence": (summary.get("where_to_play") or {}).get("sentence"),
        "priorities": priorities,
        "section": sec,
    }
    return render(request, "where.html", data, "Where to play", sections=_sections_html(sec))


@data_page("/runs/{run_id}/activation")
def activation_page(request: Request, run_id: str) -> Response:
    """Offers, channels and the audience files to download."""
    run = run_view(request, run_id)
    activation = _json(run, "activation.json")
    offers = activation.get("offers") or {}
    sec = section(run, "activation")
    data = {
        "run_id": run.run_id,
        "targets": activation.get("targets", []),
        "offers": {k: offers.get(k) for k in ("chosen", "no_offer", "expected_value_total")},
        "channels": activation.get("channels", []),
        "channel_choice": (activation.get("channel_choice") or {}).get("sentence"),
        "audiences": _audiences(run),
        "section": sec,
    }
    return render(request, "activation.html", data, "Activation", sections=_sections_html(sec))
