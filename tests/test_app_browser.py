"""The web app in a real browser (Playwright driving headless Chromium) against a real
``segmentum serve`` (the ``app_server`` fixture): sign in with a key, the answer page, a
segment page, the map, the typing tool (the same segment as ``segmentum score``), a lead
file uploaded and its scored table downloaded (the bytes ``segmentum score --leads``
writes); no console error; no page wider than the window.

Screenshots are kept in ``artifacts/app-browser/`` (git-ignored; ``SEGMENTUM_ARTIFACTS``
moves it). Skipped where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("SEGMENTUM_ARTIFACTS", ROOT / "artifacts")) / "app-browser"
#: Every figure div has been drawn by Plotly (its class added, its SVG inside).
ALL_DRAWN = """() => [...document.querySelectorAll('.plotly-graph-div')].every(
    d => d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg'))"""
#: Chromium's own notes on software WebGL in a headless machine without a GPU, not the page's.
GPU_NOTES = ("WebGL", "GL Driver Message", "GPU stall")
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
#: Every table of the page fits its box (no scrolling sideways inside it).
TABLES_FIT = """() => [...document.querySelectorAll('.tablewrap')].every(
    w => w.scrollWidth <= w.clientWidth + 1)"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def _expected(folder: Path, run_id: str, tmp: Path) -> tuple[dict[str, Any], int, Path, bytes]:
    """One respondent's golden answers and ``segmentum.score``'s segment for them; a lead file
    and the bytes ``segmentum score --leads`` writes for it."""
    from segmentum import score

    run_dir = folder / "runs" / run_id
    tool = json.loads((run_dir / "model" / "typing_tool.json").read_text())
    survey = pd.read_parquet(folder / "data" / "survey.parquet")
    row = survey[tool["items"]].dropna().astype(int).iloc[7]
    answers = {item: int(row[item]) for item in tool["items"]}
    segment = int(score(run_dir, answers)["segment"])
    leads = tmp / "leads.csv"
    pd.read_parquet(folder / "data" / "leads.parquet").head(25).to_csv(leads, index=False)
    out = tmp / "scored_by_cli.csv"
    subprocess.run(
        [sys.executable, "-m", "segmentum", "score", str(run_dir), "--leads", str(leads),
         "--out", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return answers, segment, leads, out.read_bytes()


def test_sign_in_explore_type_and_score_leads_in_a_browser(app_server: Any, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    import httpx

    chromium = _chromium()
    key, base_url = app_server.keys["read"], app_server.base_url
    bearer = {"Authorization": f"Bearer {key}"}
    run_id = httpx.get(f"{base_url}/runs.json", headers=bearer).json()["runs"][0]["run_id"]
    answer = httpx.get(f"{base_url}/runs/{run_id}.json", headers=bearer).json()["answer"]
    answers, segment, leads, cli_bytes = _expected(app_server.folder, run_id, tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    messages: list[tuple[str, str]] = []
    wide: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.on("console", lambda m: messages.append((m.type, m.text)))
        page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))

        def shot(name: str) -> None:
            if not page.evaluate(FITS) or not page.evaluate(TABLES_FIT):
                wide.append(page.url)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

        # sign in: the key once, then the session cookie; "/" is the newest run's answer
        page.goto(f"{base_url}/login")
        page.fill("input[name=key]", key)
        page.click("button[type=submit]")
        page.wait_for_selector("#answer")
        first = answer["segments"][0]
        assert first["name"] in page.inner_text("#answer")
        shot("1-answer")

        # the first priority segment's page, from its card
        page.click(f"#answer a[href='/runs/{run_id}/segments/{first['segment']}']")
        page.wait_for_selector("#persona")
        assert page.inner_text("h1").startswith(f"Segment {first['segment']}")
        shot("2-segment")

        # the map: every figure drawn by Plotly
        page.click("nav >> text=Map")
        page.wait_for_url(f"**/runs/{run_id}/map")
        assert page.locator(".plotly-graph-div").count() >= 1
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        shot("3-map")

        # the typing tool: the same segment as segmentum.score for the same answers
        page.click("nav >> text=Typing tool")
        for item, value in answers.items():
            page.select_option(f"select[name={item}]", str(value))
        page.click("#typing-form button[type=submit]")
        page.wait_for_selector("#result-segment")
        assert int(page.inner_text("#result-segment")) == segment
        shot("4-typing-tool")

        # the lead scorer: upload a file, download the scored table
        page.click("nav >> text=Lead scorer")
        page.set_input_files("#lead-file", str(leads))
        page.click("#lead-form button[type=submit]")
        page.wait_for_selector("#scored")
        with page.expect_download() as download:
            page.click("#download")
        saved = tmp_path / "downloaded.csv"
        download.value.save_as(saved)
        shot("5-leads")

        # the other pages: drawn, and no wider than the window
        for n, path in enumerate(("value", "segments", "where-to-play", "activation"), 6):
            page.goto(f"{base_url}/runs/{run_id}/{path}")
            page.wait_for_function(ALL_DRAWN, timeout=60_000)
            shot(f"{n}-{path}")
        browser.close()
    assert saved.read_bytes() == cli_bytes
    assert not wide, f"pages wider than the window: {wide}"
    noisy = [
        (kind, text)
        for kind, text in messages
        if (kind in ("error", "warning", "trace", "pageerror") or "WARN" in text)
        and not any(g in text for g in GPU_NOTES)
    ]
    assert not noisy, noisy
