"""The answer page's data: the report's ``answer`` (its first screen), with its evidence
links pointing at the app's pages.

A run whose ``report.json`` has an ``answer`` object (:mod:`segmentum.report.answer`) shows
that object. An older run has none; its answer is put together here, in the same shape, from
``segments.json`` and ``activation.json`` (to whom, what, how, how sure) — read, never
recomputed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["answer_for_run", "app_href", "fallback_answer"]

#: Report section anchors → the app page showing that section (under ``/runs/{id}``).
SECTION_PAGES: dict[str, str] = {
    "overview": "",
    "answer": "",
    "value": "/value",
    "segments": "/segments",
    "profiles": "/segments",
    "personas": "/segments",
    "maps": "/map",
    "valuation": "/where-to-play",
    "activation": "/activation",
}


def app_href(run_id: str, href: str) -> str:
    """A report link (``#valuation``, ``#valuation-2``) as a link to the app's page."""
    if not href.startswith("#"):
        return href if href.startswith("/") else f"/runs/{run_id}"
    anchor = href[1:]
    key = anchor.split("-", 1)[0]
    page = SECTION_PAGES.get(key, SECTION_PAGES.get(anchor, ""))
    return f"/runs/{run_id}{page}" + (f"#{anchor}" if anchor not in SECTION_PAGES else "")


def answer_for_run(
    run_id: str, report: dict[str, Any], summary: dict[str, Any], activation: dict[str, Any]
) -> dict[str, Any]:
    """The run's answer: ``report.json``'s own, or :func:`fallback_answer`; links mapped."""
    found = report.get("answer")
    answer = found if isinstance(found, dict) else fallback_answer(report, summary, activation)
    points = [
        {**p, "href": app_href(run_id, str(p.get("href", "")))}
        for p in answer.get("points", [])
        if isinstance(p, dict)
    ]
    return {**answer, "points": points}


def _pct(x: Any) -> str:
    return f"{float(x):.0%}" if isinstance(x, int | float) else ""


def _targets(summary: dict[str, Any], activation: dict[str, Any]) -> list[dict[str, Any]]:
    segs = [s for s in summary.get("segments", []) if isinstance(s, dict)]
    wanted = [int(t) for t in activation.get("targets", []) if isinstance(t, int | float)]
    if not wanted:
        ranked = [s for s in segs if (s.get("priority") or {}).get("rank") is not None]
        ranked.sort(key=lambda s: s["priority"]["rank"])
        wanted = [int(s["segment"]) for s in ranked[:2]]
    by_id = {int(s["segment"]): s for s in segs}
    chosen = [by_id[t] for t in wanted if t in by_id]
    return chosen or sorted(segs, key=lambda s: -float(s.get("share") or 0))[:3]


def _offer(activation: dict[str, Any], segment: int) -> str | None:
    cells = (activation.get("offers") or {}).get("by_segment_stage", [])
    counts: dict[str, int] = {}
    for c in cells:
        if c.get("segment") == segment and c.get("offer"):
            counts[str(c["offer"])] = counts.get(str(c["offer"]), 0) + int(c.get("offered") or 0)
    return max(counts, key=counts.__getitem__) if counts else None


def _stage_shares(activation: dict[str, Any], segment: int) -> list[tuple[str, float]]:
    """The segment's three largest lifecycle stages and their shares of its customers."""
    cells = (activation.get("lifecycle") or {}).get("segment_stage", [])
    counts = {
        str(c["stage"]): float(c.get("customers") or 0)
        for c in cells
        if c.get("segment") == segment
    }
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return [(stage, n / total) for stage, n in top] if total else []


def _card(seg: dict[str, Any], activation: dict[str, Any]) -> dict[str, Any]:
    from segmentum.app.pages.base import label

    val = seg.get("valuation") or {}
    share = seg.get("share")
    facts = [f"{_pct(share)} of the population"] if share is not None else []
    if val.get("customers") is not None:
        facts.append(f"{int(val['customers']):,} customers")
    if val.get("value_share") is not None:
        facts.append(f"{_pct(val['value_share'])} of the customer value")
    return {
        "segment": int(seg["segment"]),
        "name": str(seg.get("name", "")),
        "rank": (seg.get("priority") or {}).get("rank"),
        "population_share": share,
        "customers": val.get("customers"),
        "value_share": val.get("value_share"),
        "clv_per_head": val.get("clv_per_head"),
        "needs": [label(n) for n in seg.get("defining_needs", [])[:4]],
        "offer": _offer(activation, int(seg["segment"])),
        "stages": _stage_shares(activation, int(seg["segment"])),
        "facts": facts,
    }


def _point(question: str, text: str, href: str, evidence: str) -> dict[str, str]:
    return {"question": question, "text": text, "href": href, "evidence": evidence}


def _answer(kind: str, title: str, headline: str, **parts: Any) -> dict[str, Any]:
    """An answer in :class:`segmentum.report.answer.Answer`'s shape."""
    empty: dict[str, Any] = {"points": [], "figures": [], "segments": [], "currency": None}
    return {"kind": kind, "title": title, "headline": headline, **empty, **parts}


def _segments_answer(
    title: str, summary: dict[str, Any], activation: dict[str, Any]
) -> dict[str, Any]:
    """To whom (the targets), what (their needs), how (the channel), how sure."""
    seg = summary.get("segmentation") or {}
    tool = summary.get("typing_tool") or {}
    cards = [_card(s, activation) for s in _targets(summary, activation)]
    names = "; ".join(f"{c['segment']} ({c['name']}, {_pct(c['population_share'])})" for c in cards)
    points = [_point("To whom?", names, "#valuation", "Where to play")]
    needs = "; ".join(f"{c['segment']}: {', '.join(c['needs'])}" for c in cards if c["needs"])
    if needs:
        points.append(_point("What?", needs, "#profiles", "Segments"))
    how = (activation.get("channel_choice") or {}).get("sentence")
    if how:
        points.append(_point("How?", str(how), "#activation", "Activation"))
    sure = [str(seg.get("verdict", ""))]
    if tool.get("accuracy") is not None:
        sure.append(
            f"{tool.get('n_questions')} golden questions type {_pct(tool['accuracy'])} of "
            "held-out respondents into their segment."
        )
    points.append(_point("How sure?", " ".join(s for s in sure if s), "#segments", "Segments"))
    figures = [{"label": "segments", "value": str(seg.get("k", len(summary["segments"])))}]
    if seg.get("stability") is not None:
        figures.append({"label": "stability (median ARI)", "value": f"{seg['stability']:.2f}"})
    if tool.get("accuracy") is not None:
        figures.append({"label": "typing tool accuracy", "value": _pct(tool["accuracy"])})
    headline = (summary.get("where_to_play") or {}).get("sentence") or seg.get("verdict", "")
    return _answer("segments", title, str(headline), points=points, figures=figures, segments=cards)


def fallback_answer(
    report: dict[str, Any], summary: dict[str, Any], activation: dict[str, Any]
) -> dict[str, Any]:
    """The answer of a run whose report has none, in :class:`segmentum.report.answer.Answer`'s
    shape (``kind``, ``title``, ``headline``, ``points``, ``figures``, ``segments``): about
    the segments when the run has them, else about value, else empty."""
    title = str(report.get("title", ""))
    if summary.get("segments"):
        return _segments_answer(title, summary, activation)
    value = summary.get("value") or {}
    if not value:
        return _answer("inputs", title, "")
    sections = report.get("sections", [])
    headline = next((s.get("summary", "") for s in sections if s.get("key") == "value"), "")
    share = _pct(value.get("top_decile_revenue_share"))
    figures = [
        {"label": "customers", "value": f"{int(value.get('customers', 0)):,}"},
        {"label": "top decile's revenue share", "value": share},
    ]
    return _answer("value", title, str(headline), figures=figures)
