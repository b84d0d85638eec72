"""The answer page's data: the report's ``answer`` (its first screen), with its evidence
links pointing at the app's pages.

A run whose ``report.json`` has an ``answer`` object (:mod:`segmentum.report.answer`) shows
that object. An older run has none; its answer is put together here from ``segments.json``
and ``activation.json`` (to whom, what, how, how sure) — read, never recomputed — as the
report's own :class:`~segmentum.report.answer.Answer`, with the report's questions, cards,
figure labels and number formats, so both answers read alike.
"""

from __future__ import annotations

from typing import Any

from segmentum.report.answer import (
    Answer,
    Figure,
    Point,
    SegmentCard,
    report_title,
    what_point,
)
from segmentum.report.format import format_percent

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


def _share(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _targets(summary: dict[str, Any], activation: dict[str, Any]) -> list[dict[str, Any]]:
    """The priority segments (activation's targets, else the two best ranked that pass the
    knock-outs), else every segment by size."""
    segs = [s for s in summary.get("segments", []) if isinstance(s, dict)]
    wanted = [int(t) for t in activation.get("targets", []) if isinstance(t, int | float)]
    if not wanted:
        ranked = [
            s
            for s in segs
            if (s.get("priority") or {}).get("rank") is not None
            and not s["priority"].get("knocked_out")
        ]
        ranked.sort(key=lambda s: s["priority"]["rank"])
        wanted = [int(s["segment"]) for s in ranked[:2]]
    by_id = {int(s["segment"]): s for s in segs}
    chosen = [by_id[t] for t in wanted if t in by_id]
    return chosen or sorted(segs, key=lambda s: -(_share(s.get("share")) or 0.0))


def _offer(activation: dict[str, Any], segment: int) -> str | None:
    """The next best offer most of the segment's customers get."""
    cells = (activation.get("offers") or {}).get("by_segment_stage", [])
    counts: dict[str, int] = {}
    for c in cells:
        if c.get("segment") == segment and c.get("offer"):
            counts[str(c["offer"])] = counts.get(str(c["offer"]), 0) + int(c.get("offered") or 0)
    return max(counts, key=counts.__getitem__) if counts else None


def _stage_shares(activation: dict[str, Any], segment: int) -> tuple[tuple[str, float], ...]:
    """The segment's three largest lifecycle stages and their shares of its customers."""
    cells = (activation.get("lifecycle") or {}).get("segment_stage", [])
    counts = {
        str(c["stage"]): float(c.get("customers") or 0)
        for c in cells
        if c.get("segment") == segment
    }
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return tuple((stage, n / total) for stage, n in top) if total else ()


def _card(seg: dict[str, Any], activation: dict[str, Any]) -> SegmentCard:
    from segmentum.app.pages.base import label

    val = seg.get("valuation") or {}
    rank = (seg.get("priority") or {}).get("rank")
    customers = _share(val.get("customers"))
    return SegmentCard(
        segment=int(seg["segment"]),
        name=str(seg.get("name", "")),
        rank=None if rank is None else int(rank),
        population_share=_share(val.get("population_share", seg.get("share"))),
        customers=None if customers is None else int(customers),
        value_share=_share(val.get("value_share")),
        clv_per_head=_share(val.get("clv_per_head")),
        needs=tuple(label(n) for n in seg.get("defining_needs", [])[:3]),
        offer=_offer(activation, int(seg["segment"])),
        stages=_stage_shares(activation, int(seg["segment"])),
    )


def _card_label(card: SegmentCard) -> str:
    return f"{card.segment} ({card.name})" if card.name else str(card.segment)


def _whom(cards: list[SegmentCard], prioritised: bool, k: int) -> Point:
    """The report's "To whom we sell" (or, without valuation, "Who the segments are")."""
    parts = []
    for card in cards if prioritised else cards[:3]:
        facts = card.facts()
        parts.append(_card_label(card) + (f": {', '.join(facts[:3])}" if facts else ""))
    if prioritised:
        text = f"Priority segments (of {k}): " + "; ".join(parts) + "."
        return Point("To whom we sell", text, "#valuation", "Where to play")
    text = f"No valuation ran, so no segment is prioritised; by size: {'; '.join(parts)}."
    return Point("Who the segments are", text, "#profiles", "Personas")


def _how(cards: list[SegmentCard], activation: dict[str, Any]) -> Point | None:
    parts = []
    chosen = [str(c["channel"]) for c in activation.get("channels", []) if c.get("chosen")]
    if chosen:
        parts.append("Channel: " + ", ".join(chosen))
    sentence = (activation.get("channel_choice") or {}).get("sentence")
    if sentence:
        parts.append(str(sentence).split(" — ")[0].split("; ")[0].rstrip("."))
    parts += [
        f"Customers of segment {card.segment}: {card.stage_mix()}"
        for card in cards[:3]
        if card.stages
    ]
    if not parts:
        return None
    return Point("How to reach them", ". ".join(parts) + ".", "#activation", "Acting on customers")


def _how_sure(summary: dict[str, Any]) -> Point:
    seg = summary.get("segmentation") or {}
    parts = [str(seg.get("verdict", "")).split(" (")[0].split(". ")[0].rstrip(".")]
    ex = summary.get("exclusivity") or {}
    if ex.get("score") is not None:
        parts.append(
            f"the segments are {'' if ex.get('passed') else 'not '}mutually exclusive in the "
            f"needs that define them (score {float(ex['score']):.2f})"
        )
    proj = summary.get("projection") or {}
    if proj.get("accuracy") is not None and proj.get("chance") is not None:
        parts.append(
            f"the customer database projects {format_percent(proj['accuracy'])} of held-out "
            f"respondents to their segment (chance {format_percent(proj['chance'])})"
        )
    tool = summary.get("typing_tool") or {}
    if tool.get("accuracy") is not None:
        parts.append(
            f"{tool.get('n_questions')} golden questions type "
            f"{format_percent(tool['accuracy'])} of held-out respondents correctly"
        )
    text = "; ".join(p for p in parts if p) + "."
    return Point("How sure we are", text, "#segments", "Needs-based segments")


def _value_figures(value: dict[str, Any]) -> list[Figure]:
    out = [Figure("Customers", f"{int(value.get('customers', 0)):,}")]
    if value.get("top_decile_revenue_share") is not None:
        out.append(Figure("Top 10 %'s revenue", format_percent(value["top_decile_revenue_share"])))
    return out


def _segments_answer(title: str, summary: dict[str, Any], activation: dict[str, Any]) -> Answer:
    """To whom (the targets), what (their needs), how (the channel), how sure."""
    seg = summary.get("segmentation") or {}
    cards = [_card(s, activation) for s in _targets(summary, activation)]
    prioritised = any(c.rank is not None for c in cards)
    k = int(seg.get("k") or len(summary["segments"]))
    points = [_whom(cards, prioritised, k), what_point(cards)]
    how = _how(cards, activation)
    if how is not None:
        points.append(how)
    points.append(_how_sure(summary))
    figures = [Figure("Segments", f"{k}"), Figure("Structure", str(seg.get("structure", "")))]
    if seg.get("stability") is not None:
        figures.append(Figure("Stability (median ARI)", f"{float(seg['stability']):.2f}"))
    figures += _value_figures(summary.get("value") or {})[:2] if summary.get("value") else []
    sentence = (summary.get("where_to_play") or {}).get("sentence")
    if sentence and prioritised:
        headline = str(sentence).split(". ")[0].rstrip(".") + "."
    else:
        headline = f"{k} needs-based segments; the largest: "
        headline += ", ".join(_card_label(c) for c in cards[:3]) + "."
    return Answer(
        "segments",
        title or report_title("segmentum project", "segments"),
        headline,
        points=tuple(points),
        figures=tuple(figures),
        segments=tuple(cards if prioritised else cards[:3]),
    )


def fallback_answer(
    report: dict[str, Any], summary: dict[str, Any], activation: dict[str, Any]
) -> dict[str, Any]:
    """The answer of a run whose report has none: the report's
    :class:`~segmentum.report.answer.Answer` as plain data (``kind``, ``title``,
    ``headline``, ``points``, ``figures``, ``segments``), about the segments when the run
    has them, else about value, else empty."""
    title = str(report.get("title", ""))
    if summary.get("segments"):
        return _segments_answer(title, summary, activation).to_context()
    value = summary.get("value") or {}
    if not value:
        return Answer("inputs", title, "").to_context()
    sections = report.get("sections", [])
    headline = next((s.get("summary", "") for s in sections if s.get("key") == "value"), "")
    answer = Answer("value", title, str(headline), figures=tuple(_value_figures(value)))
    return answer.to_context()
