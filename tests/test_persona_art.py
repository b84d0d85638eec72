"""Persona pictures: every mark is a number of the card, profiles differ so pictures differ,
hostile labels stay text, and the run folder's pictures are the report's."""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import McDonalds

from segmentum.profiles import (
    Persona,
    ProfilesConfig,
    ProfilesResult,
    persona_from_json,
    persona_poster,
    persona_svg,
    profile_segments,
    read_stage_mix,
    stage_mix,
)

SVG = "{http://www.w3.org/2000/svg}"
MARKS = {"rect", "circle", "path", "line", "polygon", "text"}
EVIL = "<script>alert('x')</script> & \"quoted\""


@pytest.fixture(scope="module")
def mcd(mcdonalds: McDonalds) -> ProfilesResult:
    descriptors = ["Age", "Gender", "VisitFrequency"]
    x = mcdonalds.answers.join(mcdonalds.data[descriptors])
    return profile_segments(x, mcdonalds.labels, basis=mcdonalds.basis, descriptors=descriptors)


def _marks(svg: str) -> list[tuple[ET.Element, dict[str, str] | None]]:
    """Every drawn element with the data attributes it carries or inherits (``None``: a
    layout element)."""
    root = ET.fromstring(svg)
    out: list[tuple[ET.Element, dict[str, str] | None]] = []

    def walk(el: ET.Element, inherited: dict[str, str] | None, layout: bool) -> None:
        own = {k: v for k, v in el.attrib.items() if k.startswith("data-")}
        layout = layout or own.get("data-role") == "layout"
        if "data-source" in own:
            inherited = own
        if el.tag.removeprefix(SVG) in MARKS:
            out.append((el, None if layout else inherited))
        for child in el:
            walk(child, inherited, layout)

    walk(root, None, False)
    return out


def _sources(svg: str) -> list[tuple[str, float, dict[str, str]]]:
    root = ET.fromstring(svg)
    return [
        (el.attrib["data-source"], float(el.attrib["data-value"]), el.attrib)
        for el in root.iter()
        if "data-source" in el.attrib
    ]


def _resolve(entry: dict[str, Any], path: str) -> Any:
    node: Any = entry
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _fact_number(el: ET.Element) -> int:
    """N of a mark whose ``data-source`` is ``card_facts.N.<key>``."""
    return int(el.attrib["data-source"].split(".")[1])


def _check_against_json(svg: str, entry: dict[str, Any]) -> int:
    """Every mark of ``segments.json`` (a plain path) equals the number it names in the
    segment's entry (to the 4 digits drawn), and every index drawn is printed on the card;
    returns how many were checked."""
    checked = 0
    for source, value, _ in _sources(svg):
        if source.startswith("assignments.parquet:"):
            continue
        expected = _resolve(entry, source)
        assert expected is not None, source
        assert math.isclose(value, float(expected), rel_tol=5e-4, abs_tol=1e-9), source
        if source.endswith(".index"):
            fact = _resolve(entry, source.rsplit(".", 1)[0])
            assert f"index {float(expected):.0f}" in entry["persona"], (source, value)
            assert fact["label"] in entry["persona"], fact
        checked += 1
    assert f"{entry['share']:.0%} of the population" in entry["persona"]
    return checked


def test_every_mark_is_a_number_on_the_card(mcd: ProfilesResult) -> None:
    entries = {e["segment"]: e for e in mcd.segments_json()["segments"]}
    for card in mcd.personas:
        svg = persona_svg(card)
        marks = _marks(svg)
        untraced = [ET.tostring(el)[:80] for el, attrs in marks if attrs == {}]
        assert not untraced, untraced
        drawn = [a for _, a in marks if a]
        assert drawn, "nothing drawn from data"
        assert all("data-value" in a for a in drawn)
        checked = _check_against_json(svg, entries[card.segment])
        # the share, the size, the segment and each defining need shown
        shown = {f.line for f in card.facts_in("defines") if f.index is not None}
        assert checked >= 3 + min(3, len(shown)), checked
        figures = ET.fromstring(svg).find(f".//{SVG}g[@class='population']")
        assert figures is not None
        assert int(figures.attrib["data-figures"]) == round(card.share * 20)


def test_defining_needs_are_drawn_strongest_above_and_below(mcd: ProfilesResult) -> None:
    for card in mcd.personas:
        root = ET.fromstring(persona_svg(card))
        bars = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "need"]
        lines = {f.line: f.index for f in card.facts_in("defines") if f.index is not None}
        assert len(bars) == min(3, len(lines))
        drawn = [card.facts[_fact_number(g)] for g in bars]
        ups = [ln for ln, i in sorted(lines.items()) if i >= 100]
        downs = [ln for ln, i in sorted(lines.items()) if i < 100]
        # the first needs above the rest, in card order, and the strongest below when any
        assert (
            [f.line for f in drawn if f.index >= 100]
            == ups[: len(drawn)][  # type: ignore[operator]
                : sum(
                    f.index >= 100 for f in drawn
                )  # type: ignore[operator]
            ]
        )
        if ups and downs:
            assert any(f.index < 100 for f in drawn) and any(f.index >= 100 for f in drawn)  # type: ignore[operator]
        for g in bars:
            fact = card.facts[_fact_number(g)]
            assert fact.section == "defines" and fact.line in lines and fact in drawn
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            tick = g.find(f"{SVG}path[@data-role='layout']")  # the index-100 line
            assert tick is not None
            mid = float(tick.attrib["d"].split(",")[0].removeprefix("M"))
            # above the rest: the bar starts at index 100 and goes right; below: ends there
            x, w = float(rect.attrib["x"]), float(rect.attrib["width"])
            if fact.index is not None and fact.index > 100:
                assert math.isclose(x, mid, abs_tol=0.11)
            else:
                assert math.isclose(x + w, mid, abs_tol=0.11)


def test_different_profiles_get_different_pictures(mcd: ProfilesResult) -> None:
    cards = mcd.personas
    svgs = [persona_svg(c) for c in cards]
    assert len(set(svgs)) == len(svgs)
    # not only the title: the marks drawn (what they encode) differ between every two
    encoded = [
        sorted((s.split(".")[-1], round(v, 6)) for s, v, _ in _sources(x) if "card_facts" in s)
        for x in svgs
    ]
    for a, b in itertools.combinations(range(len(cards)), 2):
        assert encoded[a] != encoded[b], (cards[a].segment, cards[b].segment)
    # the same card with one number changed gets another picture; the same card the same
    card = cards[0]
    f0 = card.facts_in("defines")[0]
    changed = Persona(
        **{
            **card.__dict__,
            "facts": tuple(
                f if f is not f0 else type(f)(**{**f.__dict__, "index": f0.index + 30})  # type: ignore[operator]
                for f in card.facts
            ),
        }
    )
    assert persona_svg(changed) != persona_svg(card)
    assert persona_svg(card) == persona_svg(cards[0])


def test_a_card_without_distinctive_needs_says_so_and_draws_no_need() -> None:
    card = Persona(3, "No distinctive need", "No distinctive need", 50, 0.1, *[()] * 7)
    svg = persona_svg(card)
    assert "no need sets them apart" in svg
    assert not [s for s, _, _ in _sources(svg) if "card_facts" in s]
    assert {s for s, _, _ in _sources(svg)} == {"segment", "size", "share"}


def test_stage_mix_is_drawn_from_assignments(tmp_path: Path, mcd: ProfilesResult) -> None:
    a = pd.DataFrame(
        {
            "segment": [1, 1, 1, 1, 2, 2, None],
            "stage": ["loyal", "loyal", "lapsing", None, "new", "renamed", "lost"],
        }
    )
    a["segment"] = a["segment"].astype("Int64")
    a.to_parquet(tmp_path / "assignments.parquet")
    mix = read_stage_mix(tmp_path / "assignments.parquet")
    assert mix == stage_mix(a) == {1: {"lapsing": 1, "loyal": 2}, 2: {"new": 1, "renamed": 1}}
    assert read_stage_mix(tmp_path / "missing.parquet") == {}
    a[["segment"]].to_parquet(tmp_path / "no_stage.parquet")
    assert read_stage_mix(tmp_path / "no_stage.parquet") == {}
    svg = persona_svg(mcd.personas[0], stages=mix[1])
    stages = [
        (el.attrib["data-source"], float(el.attrib["data-value"]), int(el.attrib["data-count"]))
        for el in ET.fromstring(svg).iter(f"{SVG}rect")
        if el.attrib.get("class") == "stage"
    ]
    assert [(src, n) for src, _, n in stages] == [
        ("assignments.parquet:stage=loyal", 2),
        ("assignments.parquet:stage=lapsing", 1),
    ]
    assert [round(v, 3) for _, v, _ in stages] == [round(2 / 3, 3), round(1 / 3, 3)]
    assert "assignments.parquet" not in persona_svg(mcd.personas[0])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [f"{k}={v}" for k, v in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_labels_stay_text_in_picture_and_poster() -> None:
    survey = pd.DataFrame(
        {
            f"need_{EVIL}": [1.0] * 20 + [0.0] * 20,
            "need_plain": [0.0, 1.0] * 20,
            "region": [f"North {EVIL}"] * 18 + ["South"] * 2 + ["South"] * 20,
        }
    )
    labels = [1] * 20 + [2] * 20
    res = profile_segments(
        survey,
        labels,
        basis=[f"need_{EVIL}", "need_plain"],
        descriptors=["region"],
        config=ProfilesConfig(names={1: f"Seg {EVIL}"}, min_size=5),
    )
    card = res.personas[0]
    assert any(EVIL in (f.label + str(f.level)) for f in card.facts), card.facts
    svg = persona_svg(card, stages={EVIL: 3, "loyal": 1})
    root = ET.fromstring(svg)  # well formed: every label escaped
    assert not [el for el in root.iter() if el.tag.removeprefix(SVG) == "script"]
    assert "<script" not in svg
    texts = "".join(root.itertext())
    assert "Seg <script>" in texts  # shown as text, as written
    poster = persona_poster(card, stages={EVIL: 3, "loyal": 1}, project=EVIL)
    parser = _Tags()
    parser.feed(poster)
    assert "script" not in parser.tags
    assert not [a for a in parser.attrs if a.startswith(("src=", "href="))]  # self-contained
    assert "<script" not in poster
    assert any("<script>alert" in t for t in parser.text)
    assert "@media print" in poster and poster.count("<svg") == 1


def _svg_in(text: str, segment: int) -> str:
    m = re.search(rf'<svg [^>]*data-segment="{segment}".*?</svg>', text, re.S)
    assert m, f"no picture of segment {segment}"
    return m.group(0)


def test_run_folder_pictures_posters_and_report_agree(app_demo: Path) -> None:
    run = next(p for p in (app_demo / "runs").iterdir() if (p / "manifest.json").is_file())
    seg_json = json.loads((run / "segments.json").read_text())
    mix = read_stage_mix(run / "assignments.parquet")
    assert mix, "the demo run has lifecycle stages"
    activation = json.loads((run / "activation.json").read_text())
    by_cell = {(r["segment"], r["stage"]): r["customers"]
               for r in activation["lifecycle"]["segment_stage"]}  # fmt: skip
    report = (run / "report.html").read_text(encoding="utf-8")
    blocks = [
        b.get("html", "")
        for sec in json.loads((run / "report.json").read_text(encoding="utf-8"))["sections"]
        for b in sec["blocks"]
    ]
    manifest = json.loads((run / "manifest.json").read_text())
    for entry in seg_json["segments"]:
        s = entry["segment"]
        svg = (run / "personas" / f"segment_{s}.svg").read_text(encoding="utf-8").strip()
        assert _check_against_json(svg, entry) >= 5
        stages = [(src, v, a) for src, v, a in _sources(svg) if src.startswith("assignments")]
        drawn = {src.split("=", 1)[1]: (v, int(a["data-count"])) for src, v, a in stages}
        total = sum(mix[s].values())
        assert drawn and set(drawn) == {k for k, n in mix[s].items() if n}
        for stage, (share, count) in drawn.items():
            assert count == mix[s][stage] == by_cell[(s, stage)]
            assert math.isclose(share, count / total, rel_tol=5e-4)
        # the same picture in the report (HTML and its JSON twin) and on the poster
        assert _svg_in(report, s) == svg
        assert any(svg in b for b in blocks)
        poster = (run / "personas" / f"segment_{s}.html").read_text(encoding="utf-8")
        assert _svg_in(poster, s) == svg and "<script" not in poster
        assert f"personas/segment_{s}.svg" in manifest["files"]
        # the web app redraws it from segments.json's numbers alone: the same picture
        assert persona_svg(persona_from_json(entry), stages=mix[s]).strip() == svg
        assert f"personas/segment_{s}.html" in manifest["files"]


def test_docstring_examples() -> None:
    import doctest

    from segmentum.profiles import persona_art

    result = doctest.testmod(persona_art, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0
