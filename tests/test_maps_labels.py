"""A map you can read: labels at the arrow tips, no two labels overlapping (in the placement,
in ``map.svg`` and in the Plotly figure), distinct bubbles, on the demo and McDonald's."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import McDonalds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.maps import SegmentMap, segment_map
from segmentum.maps.labels import (
    GAP,
    LEADER_FROM,
    WIDTH_MARGIN,
    LabelSpec,
    PlacedLabel,
    boxes_overlap,
    label_size,
    place_labels,
    text_width,
)
from segmentum.maps.layout import MIN_BUBBLE_RADIUS, layout_map
from segmentum.maps.plots import map_figure, map_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo_map() -> SegmentMap:
    """The demo market's map with its planted segments, long persona-like names and the
    three competitors (a small market: 1,500 respondents)."""
    from segmentum.demo import NEED_COLUMNS, SEGMENT_NAMES, defining_needs, make_market

    m = make_market(0, n_customers=2_000, n_respondents=1_500)
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    code = {name: i + 1 for i, name in enumerate(SEGMENT_NAMES)}
    lab = m.survey["respondent_id"].map(truth).map(code).to_numpy()
    top = defining_needs(2)
    names = {
        code[s]: f"{s.replace('_', ' ').capitalize()}: "
        + " & ".join(n.removeprefix("need_").replace("_", " ") for n in top[s])
        for s in SEGMENT_NAMES
    }
    return segment_map(
        m.survey,
        lab,
        basis=NEED_COLUMNS,
        weights="weight",
        names=names,
        competitor_ratings=m.competitor_ratings,
    )


@pytest.fixture(scope="module")
def mcd_map(mcdonalds: McDonalds) -> SegmentMap:
    basis = mcdonalds.basis
    names = {1: "Tasty & cheap", 2: "Expensive & tasty", 3: "Cheap & disgusting", 4: "Greasy"}
    return segment_map(mcdonalds.data[basis], mcdonalds.labels, basis=basis, names=names)


MAPS = ["demo_map", "mcd_map"]


def _no_two_overlap(boxes: list[tuple[float, float, float, float]], pad: float = 0.0) -> None:
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not boxes_overlap(a, b, pad), (i, a, j, b)


# ---------------------------------------------------------------------------------------------
# the placement routine
# ---------------------------------------------------------------------------------------------
def test_text_width_follows_the_characters() -> None:
    assert text_width("iiii", 10) < text_width("need", 10) < text_width("WWWW", 10)
    assert text_width("need", 10, bold=True) > text_width("need", 10)
    assert text_width("need", 20) == pytest.approx(2 * text_width("need", 10))
    assert text_width("", 10) == 0.0
    assert text_width("市场", 10) > text_width("ab", 10)  # wide characters count wide
    w, h = label_size(("a", "longer line"), 10)
    assert w == pytest.approx(text_width("longer line", 10)) and h == pytest.approx(26.0)


def test_labels_piled_on_one_anchor_are_spread_without_overlap() -> None:
    specs = [LabelSpec((f"need number {i}",), 300.0, 200.0) for i in range(12)]
    placed = place_labels(specs, (0, 0, 600, 400))
    assert all(p is not None for p in placed)
    _no_two_overlap([p.box for p in placed if p is not None], pad=GAP / 2)
    # the first (most important) label sits next to its anchor, later ones further off
    dist = [np.hypot(*np.subtract(p.centre, (300, 200))) for p in placed if p is not None]
    assert dist[0] == min(dist)
    assert any(p.leader for p in placed if p is not None)


def test_need_label_sits_beyond_the_arrow_tip_and_segment_label_off_its_bubble() -> None:
    need = LabelSpec(("need_price",), 400.0, 100.0, clearance=4.0, direction=(1.0, -0.5))
    seg = LabelSpec(("Price seekers (30%)",), 200.0, 200.0, bold=True, clearance=35.0)
    pn, ps = place_labels([need, seg], (0, 0, 800, 600))
    assert pn is not None and ps is not None
    cx, cy = pn.centre
    assert (cx - 400.0) * 1.0 + (cy - 100.0) * -0.5 > 0  # on the arrow's side of the tip
    assert not pn.leader
    # the segment's label is just off its bubble: outside the circle, not far from it
    x0, y0, x1, y1 = ps.box
    nearest = np.hypot(np.clip(200, x0, x1) - 200, np.clip(200, y0, y1) - 200)
    assert 35.0 <= nearest <= 35.0 + 2 * GAP
    # and a marker (hard obstacle) is never covered
    marker = (pn.box[0] - 1, pn.box[1] - 1, pn.box[0] + 5, pn.box[1] + 5)
    again = place_labels([need], (0, 0, 800, 600), obstacles=[marker])[0]
    assert again is not None and not boxes_overlap(again.box, marker)


def test_a_label_with_no_room_is_dropped_not_overlapped() -> None:
    specs = [LabelSpec(("a rather long label",), 50.0, 20.0) for _ in range(5)]
    placed = place_labels(specs, (0, 0, 120, 40))
    kept = [p for p in placed if p is not None]
    assert 1 <= len(kept) < 5
    _no_two_overlap([p.box for p in kept])


@st.composite
def anchor_sets(draw: st.DrawFn) -> tuple[list[LabelSpec], tuple[float, float, float, float]]:
    n = draw(st.integers(1, 25))
    width, height = draw(st.sampled_from([(1000, 700), (600, 400)]))
    specs = []
    for i in range(n):
        text = "x" * draw(st.integers(1, 30))
        specs.append(
            LabelSpec(
                (text,),
                draw(st.floats(0, width)),
                draw(st.floats(0, height)),
                font_size=draw(st.sampled_from([10.0, 11.0, 12.0])),
                bold=draw(st.booleans()),
                clearance=draw(st.floats(0, 40)),
                direction=draw(st.none() | st.tuples(st.floats(-1, 1), st.floats(-1, 1))),
                key=str(i),
            )
        )
    return specs, (0.0, 0.0, float(width), float(height))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anchor_sets())
def test_placement_never_overlaps_and_places_all_when_there_is_room(
    case: tuple[list[LabelSpec], tuple[float, float, float, float]],
) -> None:
    specs, bounds = case
    placed = place_labels(specs, bounds)
    kept = [p for p in placed if p is not None]
    _no_two_overlap([p.box for p in kept], pad=GAP / 2 - 1e-6)
    for p in kept:
        assert bounds[0] <= p.box[0] and p.box[2] <= bounds[2]
        assert bounds[1] <= p.box[1] and p.box[3] <= bounds[3]
    area = sum(np.prod(np.add(s.size, 2 * GAP)) for s in specs)
    if area <= 0.15 * (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]):  # room to spare
        assert len(kept) == len(specs)
    assert placed == place_labels(specs, bounds)  # deterministic


# ---------------------------------------------------------------------------------------------
# the demo's and McDonald's maps: layout, SVG, Plotly
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MAPS)
def test_layout_labels_strongest_needs_at_their_tips(
    name: str, request: pytest.FixtureRequest
) -> None:
    smap: SegmentMap = request.getfixturevalue(name)
    lay = layout_map(smap, label_needs=8)
    assert not lay.dropped
    keys = {lb.spec.key for lb in lay.labels}
    assert {f"segment:{s}" for s in smap.segments["segment"]} <= keys
    assert {f"competitor:{i}" for i in range(len(smap.competitors))} <= keys
    # the 8 longest arrows are labelled, the rest are not
    length = np.hypot(smap.arrows["x"], smap.arrows["y"])
    longest = set(smap.arrows.loc[length.nlargest(8).index, "need"])
    assert set(lay.labelled_needs) == longest
    assert {k.removeprefix("need:") for k in keys if k.startswith("need:")} == longest
    f = lay.frame
    for need in longest:
        lb = lay.label(f"need:{need}")
        assert lb is not None
        tip = smap.arrows.set_index("need").loc[need, ["x", "y"]].to_numpy(dtype=float)
        tx, ty = f.px(tip[0]), f.py(tip[1])
        x0, y0, x1, y1 = lb.box
        near = np.hypot(np.clip(tx, x0, x1) - tx, np.clip(ty, y0, y1) - ty)
        # at its tip (or joined to it by a leader line), never at the origin
        assert near <= lb.spec.clearance + GAP + LEADER_FROM or lb.leader, (need, near)
        ox, oy = f.px(0), f.py(0)
        assert not (x0 <= ox <= x1 and y0 <= oy <= y1) or np.hypot(tx - ox, ty - oy) < 20
    _no_two_overlap([lb.box for lb in lay.labels])


def _svg_labels(svg: str) -> list[tuple[str, tuple[float, float, float, float], ET.Element]]:
    root = ET.fromstring(svg)
    out = []
    for t in root.iter(f"{SVG}text"):
        if t.get("class") == "label":
            box = tuple(float(v) for v in t.get("data-bbox", "").split())
            out.append((t.get("data-key", ""), box, t))
    return out


@pytest.mark.parametrize("name", MAPS)
def test_map_svg_labels_do_not_overlap(name: str, request: pytest.FixtureRequest) -> None:
    smap: SegmentMap = request.getfixturevalue(name)
    svg = map_svg(smap)
    labels = _svg_labels(svg)
    assert len(labels) >= len(smap.segments) + len(smap.competitors) + min(8, len(smap.arrows))
    boxes = []
    for key, box, el in labels:
        x0, y0, x1, y1 = box
        lines = ["".join(ts.itertext()) for ts in el.iter(f"{SVG}tspan")]
        size = float(el.get("font-size", "0"))
        bold = el.get("font-weight") == "bold"
        # the box holds the text as the renderer draws it: centred, every line inside
        assert x1 - x0 >= max(text_width(line, size, bold) for line in lines) - 0.2, key
        for ts in el.iter(f"{SVG}tspan"):
            assert float(ts.get("x", "nan")) == pytest.approx(0.5 * (x0 + x1), abs=0.11)
            assert y0 < float(ts.get("y", "nan")) < y1
        boxes.append(box)
    _no_two_overlap(boxes)
    # unlabelled arrows still name their need (a tooltip)
    titles = {t.text for t in ET.fromstring(svg).iter(f"{SVG}title")}
    assert set(layout_map(smap).arrows["need"]) <= titles


def _annotation_boxes(fig: object, smap: SegmentMap) -> list[tuple[float, float, float, float]]:
    """Each text annotation's box in px, from its position and the same size estimate."""
    lay = layout_map(smap)
    f = lay.frame
    boxes = []
    for ann in fig.layout.annotations:  # type: ignore[attr-defined]
        if not ann.text:
            continue
        cx, cy = (ann.ax, ann.ay) if ann.showarrow else (ann.x, ann.y)
        bold = ann.text.startswith("<b>")
        lines = re.sub("</?b>", "", ann.text).split("<br>")
        lines = [ln.replace("&amp;", "&").replace("&#x27;", "'") for ln in lines]
        w, h = label_size(lines, ann.font.size, bold)
        px, py = f.px(cx), f.py(cy)
        boxes.append((px - w / 2, py - h / 2, px + w / 2, py + h / 2))
    return boxes


@pytest.mark.parametrize("name", MAPS)
def test_plotly_map_labels_do_not_overlap_and_none_is_at_the_origin(
    name: str, request: pytest.FixtureRequest
) -> None:
    smap: SegmentMap = request.getfixturevalue(name)
    fig = map_figure(smap)
    boxes = _annotation_boxes(fig, smap)
    assert len(boxes) == len(layout_map(smap).labels)
    _no_two_overlap(boxes, pad=-0.2)
    # the figure is fixed to the layout's pixel frame, so the boxes hold in the browser
    f = layout_map(smap).frame
    assert fig.layout.width == f.width and fig.layout.height == f.height
    assert fig.layout.margin.autoexpand is False
    assert tuple(fig.layout.xaxis.range) == pytest.approx((f.x0, f.x1))
    # the old bug: every need label drawn at the arrows' tail, the origin
    arrows = [a for a in fig.layout.annotations if a.showarrow and not a.text]
    assert len(arrows) == len(layout_map(smap).arrows)
    ox, oy = f.px(0), f.py(0)
    at_origin = [b for b in boxes if b[0] <= ox <= b[2] and b[1] <= oy <= b[3]]
    assert len(at_origin) <= 1
    # every drawn arrow is named on hover
    needs = next(t for t in fig.data if t.name == "needs")
    assert len(needs.x) == len(arrows)


def test_close_segments_stay_distinct_and_small_ones_visible() -> None:
    rng = np.random.default_rng(3)
    # segment 3 sits on top of segment 2; segment 4 is tiny
    centres = np.array([[3, 0, 0, 0], [-3, 0, 0, 0], [-2.9, 0.05, 0, 0], [0, 3, 0, 0]])
    lab = np.repeat([1, 2, 3, 4], [400, 300, 290, 4])
    df = pd.DataFrame(centres[lab - 1] + rng.normal(0, 1, (lab.size, 4)), columns=list("pqrs"))
    names = {1: "First segment", 2: "Second segment", 3: "Third segment", 4: "Tiny"}
    smap = segment_map(df, lab, basis=list("pqrs"), method="pca", names=names)
    lay = layout_map(smap)
    assert lay.radii.min() >= MIN_BUBBLE_RADIUS
    boxes = [lay.label(f"segment:{s}") for s in (1, 2, 3, 4)]
    assert all(isinstance(b, PlacedLabel) for b in boxes)
    _no_two_overlap([b.box for b in boxes if b is not None])
    root = ET.fromstring(map_svg(smap))
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "segment"]
    assert len(circles) == 4
    for circ in circles:  # translucent, outlined in its own colour: overlaps stay visible
        assert float(circ.get("fill-opacity", "1")) < 0.7
        assert circ.get("stroke") == circ.get("fill")
        assert float(circ.get("r", "0")) >= MIN_BUBBLE_RADIUS
    bubbles = next(t for t in map_figure(smap).data if t.name == "segments")
    assert bubbles.marker.sizemin >= MIN_BUBBLE_RADIUS and bubbles.marker.opacity < 0.7


def test_docstring_examples_run() -> None:
    import doctest

    import segmentum.maps.labels as labels

    result = doctest.testmod(labels, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# in the browser: the boxes Chromium draws (marked browser; runs in CI)
# ---------------------------------------------------------------------------------------------
#: Screenshots of the drawn maps, kept as test artefacts (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "map-browser"
#: The drawn box of every non-empty label: Plotly's annotations and the SVG's labels.
DRAWN_BOXES = """(sel) => [...document.querySelectorAll(sel)]
    .filter(t => t.textContent.trim())
    .map(t => { const r = t.getBoundingClientRect();
                return [t.textContent, r.left, r.top, r.right, r.bottom,
                        t.getAttribute('data-bbox')]; })"""
#: Every Plotly figure drawn.
ALL_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].every(
    d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))"""
#: Width of a reference string in the page's map font, to tell a Helvetica-metric font.
REFERENCE_WIDTH = """() => { const c = document.createElement('canvas').getContext('2d');
    c.font = '100px Helvetica, Arial, sans-serif'; return c.measureText('need_price').width; }"""


def _drawn_overlaps(boxes: list[list]) -> list[tuple[str, str]]:
    """Pairs of drawn labels whose boxes overlap by more than half a pixel."""
    return [
        (a[0], b[0])
        for a, b in itertools.combinations(boxes, 2)
        if boxes_overlap(a[1:5], b[1:5], pad=-0.5)
    ]


@pytest.mark.browser
@pytest.mark.parametrize("name", MAPS)
def test_drawn_map_labels_do_not_overlap_in_chromium(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import shutil

    from segmentum.report import Section, render_report

    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    smap: SegmentMap = request.getfixturevalue(name)
    report = tmp_path / "report.html"
    sec = Section("maps", "Map").figure(map_figure(smap), caption="map")
    report.write_text(render_report([sec], title="Map"), encoding="utf-8")
    svg_page = tmp_path / "map.html"
    svg_page.write_text(f"<html><body style='margin:0'>{map_svg(smap)}</body></html>")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        plotly_boxes = page.evaluate(DRAWN_BOXES, ".annotation-text")
        page.locator(".plotly-graph-div").first.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        page.goto(svg_page.as_uri(), wait_until="load")
        svg_boxes = page.evaluate(DRAWN_BOXES, "text.label")
        reference = page.evaluate(REFERENCE_WIDTH)
        page.screenshot(path=str(ARTIFACTS / f"{name}-svg.png"))
        browser.close()
    n_labels = len(layout_map(smap).labels)
    assert len(plotly_boxes) == n_labels and len(svg_boxes) == n_labels
    assert not _drawn_overlaps(plotly_boxes), _drawn_overlaps(plotly_boxes)
    assert not _drawn_overlaps(svg_boxes), _drawn_overlaps(svg_boxes)
    # with a Helvetica-metric font (Arial, Liberation Sans) each drawn label lies inside the
    # box the placement kept free
    if abs(reference / (100 * text_width("need_price", 1) / WIDTH_MARGIN) - 1) < 0.03:
        for text, x0, y0, x1, y1, bbox in svg_boxes:
            b = [float(v) for v in bbox.split()]
            assert b[0] - 1 <= x0 and x1 <= b[2] + 1 and b[1] - 1 <= y0 and y1 <= b[3] + 1, text
