"""Benchmark of the report page: size and time to open in headless Chromium.

For each run folder given (its ``report.json``, the report's twin), pages of the same figures
are measured, each opening of each page in turn so that all are measured in the same minute:

- ours: the page ``segmentum`` writes (Plotly's library packed once, clouds sampled, layout
  templates once, figures drawn after the page has painted, each with its final margins
  given up front), re-rendered from the twin with this checkout's code;
- peer: bare Plotly, every figure as ``fig.to_html(full_html=False)`` in one page with
  Plotly's library inlined once as text (``include_plotlyjs=True`` on the first figure), the
  figures as the twin holds them;
- baseline (with ``--baseline CHECKOUT=RUN``): RUN's twin rendered by another checkout's code
  (for example ``/work/main``, the build before a change, with a run it made).

Times are from the start of navigation, read from the page's own clocks (best of ``--repeat``
openings, Playwright driving Debian's ``/usr/bin/chromium``):

- first paint: the first contentful paint (the header and the answer screen);
- answer: the answer's headline painted (Element Timing; "-" in a page without one);
- load: the ``load`` event;
- all plots drawn: the first frame in which every figure holds Plotly's SVG;
- CPU: user + system seconds of all Chromium's processes from the start of navigation to all
  plots drawn (``psutil``): on a machine busy with other work, wall times wait for a core,
  this does not, so it compares pages more steadily.

The target is < 2 MB and < 2 s for the demo. Needs ``pip install playwright`` (no browser
download).

Usage: ``python benchmarks/bench_report.py RUN_FOLDER [RUN_FOLDER ...] [--repeat 3]
[--baseline CHECKOUT=RUN_FOLDER]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import plotly.io as pio

from segmentum.report.html import render_html
from segmentum.report.margins import preset_margins
from segmentum.report.packing import round_arrays, sample_clouds

#: Set up before the page's own scripts: notes the answer's paint and, each frame, whether
#: every figure is drawn (Plotly's class and SVG in each figure's div).
CLOCKS = """
window.__bench = {answer: null, drawn: null};
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (e.identifier === 'answer' && window.__bench.answer === null)
    window.__bench.answer = e.renderTime || e.loadTime;
}).observe({type: 'element', buffered: true});
(function check() {
  const divs = document.querySelectorAll('.plotly-graph-div');
  if (document.readyState !== 'loading' && divs.length && [...divs].every(
      d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))) {
    window.__bench.drawn = performance.now();
    return;
  }
  requestAnimationFrame(check);
})();
"""
READ_CLOCKS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return [fcp ? fcp.startTime : null, window.__bench.answer, nav.loadEventStart,
          window.__bench.drawn];
}"""
#: Renders a twin with the checkout on ``PYTHONPATH`` (its own ``render_html``), as ``ours``.
RENDER_WITH = """
import json, sys
from segmentum.report.html import render_html
from segmentum.report.packing import round_arrays, sample_clouds
context = json.loads(open(sys.argv[1], encoding="utf-8").read())
for s in context["sections"]:
    for b in s["blocks"]:
        if b["kind"] == "figure":
            f = {**b["figure"], "data": round_arrays(b["figure"]["data"])}
            b["figure"] = sample_clouds(f)[0]
open(sys.argv[2], "w", encoding="utf-8").write(render_html(context))
"""


def _figures(context: dict) -> list[dict]:
    return [b for s in context["sections"] for b in s["blocks"] if b["kind"] == "figure"]


def ours(context: dict) -> str:
    """The report as this checkout renders it (figures sampled, rounded and given their
    margins up front, as a run does in :func:`segmentum.report.context.figure_context`)."""
    for block in _figures(context):
        figure = {**block["figure"], "data": round_arrays(block["figure"]["data"])}
        block["figure"] = sample_clouds(preset_margins(figure))[0]
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


def baseline(checkout: Path, run: Path, out: Path) -> None:
    """RUN's twin rendered into ``out`` by the code of another checkout (a subprocess)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    twin = str((run / "report.json").resolve())
    # run from the checkout: ``python -c`` puts the working folder first on the path
    subprocess.run(
        [sys.executable, "-c", RENDER_WITH, twin, str(out.resolve())],
        env=env,
        cwd=checkout,
        check=True,
    )


def _browser_cpu() -> float:
    """CPU seconds (user + system) of the Chromium processes this script started."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                times = child.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def open_times(page, path: Path) -> tuple[float, ...]:
    """Seconds from navigation to first paint, the answer painted, load, all plots drawn;
    and the browser's CPU seconds until then."""
    cpu = _browser_cpu()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => window.__bench.drawn !== null", timeout=120_000)
    cpu = _browser_cpu() - cpu
    times = page.evaluate(READ_CLOCKS)
    page.goto("about:blank")
    return (*(float("nan") if t is None else t / 1000 for t in times), cpu)


def _pages(runs: list[Path], baselines: list[str], tmp: Path) -> list[tuple[str, str, Path]]:
    """(run, page, file) for every page measured, written into ``tmp``."""
    pages = []
    for run in runs:
        for name, render in (("ours", ours), ("peer", peer)):
            context = json.loads((run / "report.json").read_text(encoding="utf-8"))
            path = tmp / f"{run.name}-{name}.html"
            path.write_text(render(context), encoding="utf-8")
            pages.append((run.name, name, path))
    for spec in baselines:
        checkout, _, run = spec.partition("=")
        path = tmp / f"{Path(run).name}-baseline.html"
        baseline(Path(checkout), Path(run), path)
        pages.append((Path(run).name, f"baseline ({checkout})", path))
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (with report.json)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="CHECKOUT=RUN",
        help="also RUN's report rendered by CHECKOUT's code (may be given more than once)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        pages = _pages(args.runs, args.baseline, Path(tmp))
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.add_init_script(CLOCKS)
        best = {path: (float("inf"),) * 5 for _, _, path in pages}
        for _ in range(args.repeat):
            for _, _, path in pages:
                times = open_times(page, path)
                cpu = min(best[path][4], times[4])  # the least CPU of any opening
                best[path] = (*min(best[path], times, key=lambda t: t[3])[:4], cpu)
        browser.close()
        sizes = {path: path.stat().st_size / 1e6 for _, _, path in pages}
    print("| run | page | size | first paint | answer | load | all plots drawn | CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for run, name, path in pages:
        cells = " | ".join("-" if t != t else f"{t:.2f} s" for t in best[path])
        print(f"| {run} | {name} | {sizes[path]:.2f} MB | {cells} |")


if __name__ == "__main__":
    main()
