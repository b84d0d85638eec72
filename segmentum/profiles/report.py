"""The profiles stage's part of the report (built from a :class:`ProfilesResult` only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from segmentum.maps.report import add_map_blocks, white_space_sentence
from segmentum.profiles.persona_art import persona_svg
from segmentum.report.section import Section

if TYPE_CHECKING:
    from segmentum.profiles.stage import ProfilesResult

ART_CSS = (
    "<style>.persona-gallery{display:flex;flex-wrap:wrap;gap:12px}"
    ".persona-gallery .persona-art{flex:1 1 560px;max-width:720px;width:100%;height:auto}</style>"
)
CARD_CSS = (
    "<style>.persona-cards{display:flex;flex-wrap:wrap;gap:12px}"
    ".persona-card{flex:1 1 320px;border:1px solid #ddd;border-radius:8px;padding:10px 14px;"
    "font-size:0.92em}.persona-card h3{margin:4px 0}.persona-card h4{margin:8px 0 2px}"
    ".persona-card ul{margin:0;padding-left:18px}.persona-card blockquote{margin:4px 0;"
    "padding-left:8px;border-left:3px solid #ccc;color:#444}.persona-size{color:#666;margin:0}</style>"
)


def report_section(result: ProfilesResult) -> Section:
    """Persona cards, index heat maps and the exclusivity verdict.

    When the map stage ran with these profiles (:func:`run_profiles`), its map, white space
    and themes follow in the same section; in a project run they are the map stage's own.
    """
    from segmentum.profiles.plots import index_heatmap, size_figure

    prof, ex = result.profile, result.exclusivity
    names = result.names()
    summary = (
        f"{len(prof.segments)} segments; mutually-exclusive check "
        f"{'passed' if ex.passed else 'failed'} (score {ex.score:.2f})."
    )
    if result.maps is not None and (sentence := white_space_sentence(result.maps)):
        summary += " " + sentence
    title = "Segments: profiles, map and white space" if result.maps else "Segments: profiles"
    sec = Section("profiles", title, summary=summary)
    for w in result.warnings:
        sec.warn(w)
    if result.notes:
        sec.text("Levels shown in their order. " + "; ".join(result.notes) + ".")
    sec.html(
        CARD_CSS
        + '<div class="persona-cards">'
        + "".join(p.to_html() for p in result.personas)
        + "</div>",
        caption="Personas built from the data (templates; names can be overridden)",
    )
    sec.html(
        ART_CSS
        + '<div class="persona-gallery">'
        + "".join(persona_svg(p, stages=result.stage_mix.get(p.segment)) for p in result.personas)
        + "</div>",
        caption="Persona pictures drawn from each card's numbers (badges: descriptors that "
        "over-index, with share and index; bars: defining needs around index 100; how they "
        "buy, with the lifecycle-stage mix of the segment's customers when the run has one). "
        "The same pictures and printable posters are in the run folder's personas/.",
    )
    sizes = prof.sizes.assign(name=prof.sizes["segment"].map(names))
    sec.table(sizes, caption="Segment sizes (sample and weighted population) and value")
    sec.figure(size_figure(prof, names=names), caption="Segment sizes")
    sec.figure(
        index_heatmap(prof, role="basis", names=names),
        caption="Needs: index by segment (100 = average; * significant after Benjamini-Hochberg)",
    )
    if prof.descriptors:
        sec.figure(
            index_heatmap(prof, role="descriptor", names=names),
            caption="Descriptors: index by segment",
        )
    sec.text(ex.verdict())
    if not ex.passed:
        sec.warn(
            "Segments are not mutually exclusive in the needs that define them: " + ex.verdict()
        )
    sec.table(
        ex.table.assign(
            defining_needs=ex.table["defining_needs"].map(", ".join),
            exclusive_needs=ex.table["exclusive_needs"].map(", ".join),
            shared_needs=ex.table["shared_needs"].map(", ".join),
        ),
        caption="Exclusivity per segment",
    )
    if result.maps is not None:
        add_map_blocks(sec, result.maps)
    sec.table(
        _significant(prof.table),
        caption="Significant differences (BH-adjusted), largest effects first",
    )
    return sec


def _significant(t: pd.DataFrame) -> pd.DataFrame:
    s = t[t["significant"]]
    s = s.reindex(s["effect_size"].abs().sort_values(ascending=False).index)
    return s[
        [
            "segment",
            "variable",
            "role",
            "level",
            "value",
            "total",
            "index",
            "p_adjusted",
            "effect_size",
        ]
    ]
