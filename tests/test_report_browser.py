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
