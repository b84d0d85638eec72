"""The map and white-space stage's part of the report (built from a :class:`MapsResult` only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmentum.report.section import Section

if TYPE_CHECKING:
    from segmentum.maps.stage import MapsResult

__all__ = ["add_map_blocks", "report_section", "white_space_sentence"]


def white_space_sentence(result: MapsResult) -> str:
    """One sentence on the strongest white space ("" when there is none)."""
    if not len(result.white_space.table):
        return ""
    from segmentum.report.format import item_label

    top = result.white_space.table.iloc[0]
    return (
        f"Top white space: {item_label(top['need'])} (important to segment(s) "
        f"{', '.join(map(str, top['segments']))}; best competitor {top['best_competitor_score']:.1f})."
    )


def add_map_blocks(sec: Section, result: MapsResult) -> Section:
    """The map, its gaps, the white space and the themes, in that order, added to ``sec``."""
    from segmentum.maps.plots import MAP_POINTS, themes_figure

    if result.map_figure is not None:
        n = 0 if result.map is None else len(result.map.points)
        sample = (
            f" (grey dots: a random sample of {MAP_POINTS:,} of {n:,} respondents)"
            if n > MAP_POINTS
            else ""
        )
        sec.figure(
            result.map_figure,
            caption="Segmentation map: bubble area = population share; "
            "arrows = needs (the strongest named at their tips, every one on hover); "
            f"diamonds = competitors; dashed circles = gaps{sample}",
        )
        if result.map is not None and len(result.map.gaps):
            sec.table(result.map.gaps, caption="Gaps: demand with no segment or competitor close")
    ws = result.white_space.table
    if len(ws):
        sec.table(
            ws.assign(segments=ws["segments"].map(lambda s: ", ".join(map(str, s)))),
            caption="White space: needs important to a sizeable segment that no competitor serves well",
        )
    if result.themes is not None:
        sec.figure(
            themes_figure(result.themes, names=result.names),
            caption="'I wish' themes by segment",
        )
        q = result.themes.quotes.groupby("theme")["text"].apply(" | ".join)
        sec.table(
            result.themes.themes.assign(quotes=result.themes.themes["theme"].map(q)).drop(
                columns=["terms"]
            ),
            caption="'I wish' themes and representative quotes",
        )
    return sec


def report_section(result: MapsResult) -> Section:
    """Map, gaps, white space and 'I wish' themes, with every skip as a warning."""
    summary = white_space_sentence(result) or "No white space found."
    sec = Section("maps", "Map and white space", summary=summary)
    for w in result.warnings:
        sec.warn(w)
    return add_map_blocks(sec, result)
