"""Benchmark of the report page: size and time to open in headless Chromium.

For each run folder given (its ``report.json``, the report's twin), two pages of the same
figures are measured:

- ours: the page ``segmentum`` writes (Plotly's library packed once, clouds sampled, layout
  templates once), re-rendered from the twin with this checkout's code;
- peer: bare Plotly, every figure as ``fig.to_html(full_html=False)`` in one page with
  Plotly's library inlined once as text (``include_plotlyjs=True`` on the first figure), the
  figures as the twin holds them.

Times are to the ``load`` event and to every plot drawn (Plotly's SVG in each figure), best of
``--repeat`` openings, through Playwright driving Debian's ``/usr/bin/chromium``. The target is
< 2 MB and < 2 s for the demo. Needs ``pip install playwright`` (no browser download).

Usage: ``python benchmarks/bench_report.py RUN_FOLDER [RUN_FOLDER ...] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import plotly.io as pio

from segmentum.report.html import render_html
from segmentum.report.packing import round_arrays, sample_clouds

ALL_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].every(
    d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))"""


def _figures(context: dict) -> list[dict]:
    return [b for s in context["sections"] for b in s["blocks"] if b["kind"] == "figure"]


def ours(context: dict) -> str:
    """The report as this checkout renders it (figures sampled and rounded as a run does)."""
    for block in _figures(context):
        figure = {**block["figure"], "data": round_arrays(block["figure"]["data"])}
        block["figure"] = sample_clouds(figure)[0]
    return render_html(context)


def peer(context: dict) -> str:
    """Bare Plotly: the same figures, Plotly's library inlined once as text."""
    parts = [
        pio.to_html(b["figure"], full_html=False, include_plotlyjs=(i == 0), validate=False)
        for i, b in enumerate(_figures(context))
    ]
    return "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{}</body></html>".format(
        "\n".join(parts)
    )


def open_times(page, path: Path, repeat: int) -> tuple[float, float]:
    """Best time (s) to the load event and to every plot drawn."""
    best_load, best_drawn = float("inf"), float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        loaded = time.perf_counter() - start
        page.wait_for_function(ALL_DRAWN, timeout=120_000)
        drawn = time.perf_counter() - start
        best_load, best_drawn = min(best_load, loaded), min(best_drawn, drawn)
        page.goto("about:blank")
    return best_load, best_drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (with report.json)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        for run in args.runs:
            for name, render in (("ours", ours), ("peer", peer)):
                context = json.loads((run / "report.json").read_text(encoding="utf-8"))
                path = Path(tmp) / f"{run.name}-{name}.html"
                path.write_text(render(context), encoding="utf-8")
                loaded, drawn = open_times(page, path, args.repeat)
                rows.append((run.name, name, path.stat().st_size / 1e6, loaded, drawn))
        browser.close()
    print("| run | page | size | load | all plots drawn |")
    print("|---|---|---|---|---|")
    for run, name, size, loaded, drawn in rows:
        print(f"| {run} | {name} | {size:.2f} MB | {loaded:.2f} s | {drawn:.2f} s |")


if __name__ == "__main__":
    main()
