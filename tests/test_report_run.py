"""A run writes the report's JSON twin beside the report: the same sections, the same words."""

from __future__ import annotations

import json
import re
from pathlib import Path

from segmentum.project import Project

CUSTOMERS = "customer_id,age,region\nC1,34,North\nC2,51,South\nC3,29,North\n"


def test_run_writes_report_json_matching_the_html(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "segmentum.toml").write_text(
        '[project]\nname = "tiny"\nseed = 7\n\n[sources.customers]\npath = "customers.csv"\n'
        'descriptors = ["age", "region"]\n'
    )
    result = Project.load(tmp_path / "segmentum.toml").run()
    twin = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert twin["format"] == "segmentum.report/1"
    assert twin["sections"] == [s.to_context() for s in result.sections]
    assert (
        twin["manifest"]["run_id"]
        == result.run_id
        == json.loads((result.run_dir / "manifest.json").read_text())["run_id"]
    )
    assert twin["title"] in page and f"<title>{twin['title']}</title>" in page
    keys = [s["key"] for s in twin["sections"]]
    assert keys[0] == "overview"
    # the page opens with the answer; the inputs and stages (the overview) are in the appendix
    assert re.findall(r'<section id="([^"]+)"', page) == ["answer", *keys, "manifest"]
    assert page.index('id="appendix"') < page.index('<section id="overview">')
    assert twin["answer"]["kind"] == "inputs" and "segmentation" not in twin["title"]
    overview = twin["sections"][0]
    inputs = next(b for b in overview["blocks"] if b["kind"] == "table")
    assert inputs["columns"][:2] == ["table", "source"]
    assert inputs["rows"][0][0] == "customers" and inputs["rows"][0][2] == 3  # rows read
    said = [b.get("text", "") for b in overview["blocks"]]
    assert any("no survey table is declared" in t for t in said)  # why a stage was skipped
