"""The rendered report in a real browser (headless Chromium): every figure drawn, no script error.

Skipped where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from segmentum.report import Section, render_report

pytestmark = pytest.mark.browser

EVIL = "</script><script>alert(1)</script>"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def test_report_draws_every_figure_without_errors(tmp_path: Path) -> None:
    sec = Section("segments", f"Segments {EVIL}", summary="Three segments.")
    sec.figure(go.Figure(go.Bar(x=[f"Seg {EVIL}", "Two"], y=[3, 4])), caption=EVIL)
    sec.table(pd.DataFrame({EVIL: [1234567]}))
    sec.warn(EVIL)
    other = Section("value", "Value").figure(
        go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3])).update_layout(height=300)
    )
    path = tmp_path / "report.html"
    path.write_text(render_report([sec, other], title=EVIL, manifest={"x": EVIL}))
    run = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=8000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = run.stdout
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    # both figures drawn by Plotly (it adds its class and its SVG to each figure's div)
    drawn = re.findall(r'<div id="(\w+-\d+)" class="plotly-graph-div js-plotly-plot"', dom)
    assert drawn == ["segments-1", "value-1"]
    assert dom.count('class="main-svg"') >= 2
    # the data's markup stayed text: the only scripts are the page's own three
    assert dom.count("<script") == 3
    assert "Seg &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # an axis label


#: Every figure div has been drawn by Plotly (its class added, its SVG inside).
ALL_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].every(
    d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))"""
#: Chromium's own notes on software WebGL in a headless machine without a GPU, not the page's.
GPU_NOTES = ("WebGL", "GL Driver Message", "GPU stall")


def test_light_report_opens_without_console_warnings_and_draws_every_plot(
    tmp_path: Path,
) -> None:
    import time

    import numpy as np

    sync_api = pytest.importorskip("playwright.sync_api")
    rng = np.random.default_rng(0)
    cloud = go.Figure(
        [
            go.Scattergl(x=rng.normal(size=n), y=rng.normal(size=n), mode="markers", name=name)
            for name, n in {"Seg 1": 6_000, "Seg 2": 3_000, "Seg 3": 500}.items()
        ]
    ).update_layout(title="Income $30,001-$60,000 vs $5")  # "$" pairs: LaTeX to MathJax
    bars = go.Figure(go.Bar(x=["$30,001-$60,000", "$60,001-$90,000"], y=[3, 4]))
    sec = Section("maps", "Map").figure(cloud, caption="Respondents").figure(bars)
    path = tmp_path / "report.html"
    path.write_text(render_report([sec, _extra_section()], title="Light"), encoding="utf-8")
    messages: list[tuple[str, str]] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: messages.append((m.type, m.text)))
        page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        loaded = time.perf_counter() - start
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        drawn = time.perf_counter() - start
        n_plots = page.locator(".plotly-graph-div").count()
        sample_note = page.locator("p.caption").first.inner_text()
        browser.close()
    print(f"report {path.stat().st_size / 1e6:.2f} MB: load {loaded:.2f} s, drawn {drawn:.2f} s")
    assert n_plots == 3
    assert "random sample of" in sample_note
    noisy = [
        (kind, text)
        for kind, text in messages
        # Plotly warns through console.trace ("WARN: MathJax is not loaded ...")
        if (kind in ("error", "warning", "trace", "pageerror") or "WARN" in text)
        and not any(g in text for g in GPU_NOTES)
    ]
    assert not noisy, noisy  # no script error, no "MathJax is not loaded" warning


def _extra_section() -> Section:
    return Section("value", "Value").figure(go.Figure(go.Histogram(x=list(range(50)))))


#: Before the page's scripts: the order in which Plotly takes the figures (it marks each div
#: with its class as it starts one) and when it took the first.
DRAW_ORDER = """
window.__order = []; window.__firstDraw = null;
new MutationObserver(records => {
  for (const r of records) {
    const id = r.target.id;
    if (r.target.classList.contains('js-plotly-plot') && !window.__order.includes(id)) {
      if (window.__firstDraw === null) window.__firstDraw = performance.now();
      window.__order.push(id);
    }
  }
}).observe(document, {attributes: true, attributeFilter: ['class'], subtree: true});
"""


def test_figures_are_drawn_after_the_first_paint_those_in_view_first(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    near = Section("near", "Near the top")
    for i in range(5):
        near.figure(go.Figure(go.Bar(x=["a", "b"], y=[i, 1])).update_layout(height=500))
    far = Section("far", "Far down")
    for i in range(2):
        far.figure(go.Figure(go.Scatter(x=[1, 2], y=[i, 2])).update_layout(height=300))
    after = Section("after", "After it")
    for i in range(5):
        after.figure(go.Figure(go.Bar(x=["c"], y=[i])).update_layout(height=500))
    path = tmp_path / "report.html"
    path.write_text(render_report([near, far, after], title="Order"), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.add_init_script(DRAW_ORDER)
        page.goto(path.as_uri() + "#far", wait_until="load")  # opened at the last section
        page.wait_for_function(ALL_DRAWN, timeout=60_000)  # every figure, without scrolling
        order = page.evaluate("window.__order")
        first_draw = page.evaluate("window.__firstDraw")
        paint = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)"
        )
        browser.close()
    ids = [f"{k}-{i}" for k in ("near", "after") for i in range(1, 6)] + ["far-1", "far-2"]
    assert sorted(order) == sorted(ids)
    assert order[:2] == ["far-1", "far-2"]  # the figures in view first, then the nearest
    assert order.index("near-5") < order.index("near-1")
    assert order.index("after-2") < order.index("after-5")
    assert paint and paint[0] < first_draw  # the page painted before any figure was drawn


#: Every persona picture laid out with a size (its box) and shown (not hidden by CSS).
PERSONAS_SHOWN = """() => [...document.querySelectorAll('svg.persona-art')].map(s => {
    const r = s.getBoundingClientRect(), st = getComputedStyle(s);
    return [r.width, r.height, st.visibility, st.display, s.querySelectorAll('[data-source]').length];
})"""


def test_persona_pictures_are_shown_in_the_report(tmp_path: Path) -> None:
    from segmentum.profiles import profile_segments, report_section

    sync_api = pytest.importorskip("playwright.sync_api")
    survey = pd.DataFrame(
        {
            "need_online": [1.0] * 30 + [0.0] * 30,
            "need_agent": [0.0] * 30 + [1.0] * 30,
            "region": ["West"] * 25 + ["East"] * 35,
        }
    )
    result = profile_segments(
        survey, [1] * 30 + [2] * 30, basis=["need_online", "need_agent"], descriptors=["region"]
    )
    path = tmp_path / "report.html"
    path.write_text(render_report([report_section(result)], title="Personas"), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(path.as_uri(), wait_until="load")
        shown = page.evaluate(PERSONAS_SHOWN)
        browser.close()
    assert len(shown) == 2
    for width, height, visibility, display, marks in shown:
        assert width > 200 and height > 100 and visibility == "visible" and display != "none"
        assert marks >= 5


# --- the reports of real runs: the demo's and McDonald's (issue 15) ------------------------------

ROOT = Path(__file__).resolve().parents[1]
#: Screenshots of the rendered reports, kept as test artefacts (git-ignored).
ARTIFACTS = ROOT / "artifacts" / "report-browser"
VIEWPORT = {"width": 1280, "height": 900}
#: Visible tables wider than the box they sit in (the page's width, less its margins).
WIDE_TABLES = """() => [...document.querySelectorAll('table.data')]
    .filter(t => t.offsetParent !== null)
    .map(t => [t.closest('.tablewrap').id, t.scrollWidth, t.closest('.tablewrap').clientWidth])
    .filter(([id, need, box]) => need > box + 1)"""


#: Figures whose margins Plotly had to grow past the ones their layout gives (each such figure
#: is drawn twice: ``automargin`` measures, grows the margins and draws again): id, side, px.
PUSHED = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(g => {
    const given = g.layout.margin || {}, size = g._fullLayout._size;
    const dflt = {l: 80, r: 80, t: 100, b: 80};
    return ['l', 'r', 't', 'b'].map(k => [g.id, k, Math.round(size[k] - (given[k] ?? dflt[k]))])
        .filter(([id, k, px]) => px > 3);
})"""


#: Each figure's margins once Plotly has drawn it (``automargin``'s result), by id.
FINAL_MARGINS = """() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')]
    .map(g => [g.id, ['l', 'r', 't', 'b'].map(k => Math.round(g._fullLayout._size[k]))]))"""


def _demo_report(folder: Path) -> Path:
    from segmentum.demo.project import write_demo_project
    from segmentum.project import Project

    project_file = write_demo_project(folder, n_customers=1_500, n_respondents=600)
    text = project_file.read_text(encoding="utf-8").replace("n_boot = 50", "n_boot = 5")
    project_file.write_text(text, encoding="utf-8")
    return Project.load(project_file).run().run_dir


def _mcdonalds_report(folder: Path) -> Path:
    import json

    from segmentum.project import Project

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    shutil.copy(shared / "msa" / "mcdonalds.csv", folder / "mcdonalds.csv")
    basis = "yummy convenient spicy fattening greasy fast cheap tasty expensive healthy disgusting"
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "McDonalds"\n\n[sources.survey]\npath = "mcdonalds.csv"\n'
        f"basis = {json.dumps(basis.split())}\n"
        'descriptors = ["Age", "Gender", "Like", "VisitFrequency"]\n\n[segments]\nn_boot = 5\n',
        encoding="utf-8",
    )
    return Project.load(folder / "segmentum.toml").run().run_dir


@pytest.mark.parametrize("which", ["demo", "mcdonalds"])
def test_run_report_fits_the_page_and_opens_with_the_priority_segments(
    which: str, tmp_path: Path
) -> None:
    import json

    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = _chromium()
    run_dir = (_demo_report if which == "demo" else _mcdonalds_report)(tmp_path)
    answer = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["answer"]
    assert answer["segments"], "the run has priority segments to name"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    messages: list[tuple[str, str]] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.on("console", lambda m: messages.append((m.type, m.text)))
        page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
        page.goto((run_dir / "report.html").as_uri(), wait_until="load")
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / f"{which}-first-screen.png"))
        box = page.locator("#answer").bounding_box()
        first_screen = page.locator("#answer").inner_text()
        page_width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(WIDE_TABLES)
        pushed = page.evaluate(PUSHED)
        n_figures = page.locator(".js-plotly-plot").count()
        page.screenshot(path=str(ARTIFACTS / f"{which}-full.png"), full_page=True)
        browser.close()
    errors = [
        (kind, text)
        for kind, text in messages
        if kind in ("error", "pageerror") and not any(g in text for g in GPU_NOTES)
    ]
    assert not errors, errors
    assert page_width <= VIEWPORT["width"]  # nothing pushes the page sideways
    assert not wide, wide  # no table wider than its box
    # every figure drawn once: its margins, estimated up front, held its labels and legend
    assert n_figures >= 5 and not pushed, pushed
    assert box is not None and box["y"] < VIEWPORT["height"] / 2  # the answer opens the page
    for card in answer["segments"]:  # the first screen names the priority segments
        assert f"Segment {card['segment']}: {card['name']}" in first_screen


def _margin_cases() -> list[go.Figure]:
    """Figures whose labels, legends and colour bars push every side, some a lot."""
    long = [f"{i}: " + "a long category label" * (1 + i % 3) for i in range(8)]
    names = [f"series {i} " + "with a long name " * (i % 3) for i in range(7)]
    lines = [go.Scatter(x=[1, 2, 3], y=[i, i + 1, i], name=n) for i, n in enumerate(names)]
    return [
        go.Figure(go.Bar(y=long, x=list(range(8)), orientation="h")),
        go.Figure(go.Bar(x=long, y=list(range(8)))).update_layout(template="plotly_white"),
        go.Figure(go.Bar(x=long[:3], y=[1, 2, 3])).update_layout(xaxis_title="the categories"),
        go.Figure(lines),
        go.Figure(lines).update_layout(legend={"orientation": "h"}, height=380),
        go.Figure(lines).update_layout(legend={"orientation": "h", "y": -0.25}),
        go.Figure(
            go.Heatmap(z=[[1, 20000], [3, 4]], x=long[:2], y=long[2:4], colorbar={"title": "n"})
        ).update_xaxes(side="top"),
        go.Figure(go.Box(y=[1, 2, 3], name="need_fast_claims_payout")).update_layout(
            yaxis_title="ARI", template="plotly_white"
        ),
    ]


def test_estimated_margins_hold_in_the_browser_with_little_to_spare(tmp_path: Path) -> None:
    """Planted labels, legends and colour bars: Plotly grows no figure's margins (each is
    drawn once), and the estimate is at most a little above the margins Plotly grows the
    same figure to when it is given none."""
    from segmentum.report.html import render_html, report_context

    sync_api = pytest.importorskip("playwright.sync_api")
    sec = Section("cases", "Margins")
    for fig in _margin_cases():
        sec.figure(fig)
    context = report_context([sec], title="Margins")
    preset = {b["id"]: b["figure"]["layout"]["margin"] for b in context["sections"][0]["blocks"]}
    (tmp_path / "preset.html").write_text(render_html(context), encoding="utf-8")
    for block in context["sections"][0]["blocks"]:  # the same figures, Plotly on its own
        block["figure"]["layout"].pop("margin")
    (tmp_path / "plotly.html").write_text(render_html(context), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        found = {}
        for name in ("preset", "plotly"):
            page.goto((tmp_path / f"{name}.html").as_uri(), wait_until="load")
            page.wait_for_function(ALL_DRAWN, timeout=60_000)
            found[name] = page.evaluate(PUSHED), page.evaluate(FINAL_MARGINS)
        browser.close()
    assert not found["preset"][0], found["preset"][0]  # no figure drawn twice
    grown = found["plotly"][1]
    assert any(m != [80, 80, 100, 80] for m in grown.values())  # the cases push
    for fid, needed in grown.items():
        given = [preset[fid][k] for k in "lrtb"]
        # at most a quarter + 24 px above (text estimated as wide as Verdana, ~15 % over Arial)
        loose = [
            (k, g, n) for k, g, n in zip("lrtb", given, needed, strict=True) if g > n * 1.25 + 24
        ]
        assert not loose, (fid, loose)
