"""The report from templates: one context per section, rendered as HTML and as its JSON twin."""

from __future__ import annotations

import doctest
import fnmatch
import gzip
import importlib
import importlib.resources
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from segmentum.report import (
    Section,
    render_json,
    render_report,
    render_section,
    report_context,
)
from segmentum.report.context import jsonable, table_context
from segmentum.report.html import _packed_figures, _shared_templates, environment
from segmentum.report.section import BLOCK_KINDS, Block

ROOT = Path(__file__).resolve().parents[1]
EVIL = '<script>alert("x")</script>'


def _section(key: str = "value") -> Section:
    sec = Section(key, "Customer value", summary="The top decile holds 41 % of revenue.")
    sec.text("First paragraph.\n\nSecond paragraph.")
    sec.table(
        pd.DataFrame({"segment": [1, 2, 3], "revenue": [1234567.0, 2500.5, np.nan]}),
        caption="Revenue by segment",
    )
    sec.warn("Pareto/NBD needs repeat purchases: 0 of 1,203 customers bought twice.")
    sec.figure(go.Figure(go.Bar(x=["a", "b"], y=[1, 2], name="bars")), caption="Bars")
    return sec


PACKED = re.compile(r'var z = "([^"]+)", n = (\d+);')
PACKED_FIGURES = re.compile(r'var figuresZ = "([^"]*)", figuresN = (\d+);')


def _plotly_copies(page: str) -> list[str]:
    """Every copy of Plotly's library packed in the page, unpacked as the page's loader does."""
    from segmentum.report.packing import decode

    return [
        gzip.decompress(decode(text, int(length))).decode("utf-8")
        for text, length in PACKED.findall(page)
    ]


def _figures_in(page: str) -> dict[str, Any]:
    """The page's figures (by block id), unpacked as the page's loader does."""
    from segmentum.report.packing import decode

    ((text, length),) = PACKED_FIGURES.findall(page)
    return json.loads(gzip.decompress(decode(text, int(length))))


def _texts(page: str) -> str:
    """The page without its packed text (Plotly's library and the figures' JSON)."""
    return PACKED_FIGURES.sub("", PACKED.sub("", page))


# ---------------------------------------------------------------------------------------------
# the context: plain data, one dict per section
# ---------------------------------------------------------------------------------------------


def test_section_context_is_plain_json_data() -> None:
    ctx = _section().to_context()
    assert json.loads(json.dumps(ctx, allow_nan=False)) == ctx  # strict JSON, nothing lost
    assert (ctx["key"], ctx["title"]) == ("value", "Customer value")
    assert [b["kind"] for b in ctx["blocks"]] == ["text", "table", "warning", "figure"]
    assert [b["id"] for b in ctx["blocks"]] == ["value-1", "value-2", "value-3", "value-4"]
    assert ctx["warnings"] == [ctx["blocks"][2]["text"]]
    table = ctx["blocks"][1]
    assert table["columns"] == ["segment", "revenue"]
    assert table["rows"] == [[1, 1234567.0], [2, 2500.5], [3, None]]  # NaN -> null
    assert table["cells"] == [["1", "1,234,567"], ["2", "2,500"], ["3", ""]]
    assert table["caption"] == "Revenue by segment"


def test_figure_context_is_plotly_json_that_reads_back() -> None:
    fig = go.Figure(go.Scatter(x=[1.5, 2.5], y=[3, np.nan], name="s", mode="markers"))
    fig.update_layout(height=380, title="T")
    block = Section("k", "K").figure(fig, caption="c").to_context()["blocks"][0]
    back = pio.from_json(json.dumps(block["figure"]))
    assert back.data[0].x == (1.5, 2.5) and back.data[0].name == "s"
    assert back.data[0].y[1] is None  # NaN as JSON null, as Plotly writes it
    assert back.layout.height == 380 and back.layout.title.text == "T"
    # the page sizes the figure's box as Plotly's own to_html does
    page = render_report([Section("k", "K").figure(fig)], title="t")
    assert '<div style="height:380px; width:100%;">' in page


def test_table_context_keeps_index_and_cuts_long_tables() -> None:
    frame = pd.DataFrame(
        {"n": np.arange(100) * 1000, "share": np.linspace(0, 1, 100)},
        index=pd.Index([f"s{i}" for i in range(100)], name="segment"),
    )
    t = table_context(frame, max_rows=10)
    assert t["columns"] == ["segment", "n", "share"] and t["index_columns"] == 1
    assert len(t["rows"]) == len(t["cells"]) == 10 and t["n_rows"] == 100
    assert t["note"] == "Showing the first 10 of 100 rows."
    assert t["cells"][9] == ["s9", "9,000", "9.1 %"]  # a share as a percentage (issue 15)
    # a plain RangeIndex is not shown; an index name clashing with a column is fine
    assert table_context(frame.reset_index())["index_columns"] == 0
    clash = pd.DataFrame({"a": [1]}, index=pd.Index([7], name="a"))
    assert table_context(clash)["rows"] == [[7, 1]]


def test_jsonable_cells_of_every_kind() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-02", None]),
            "flag": [True, False],
            "needs": [["price", "app"], []],
            "count": pd.array([5, None], dtype="Int64"),
            "cat": pd.Categorical(["x", "y"]),
            "inf": [np.inf, 1.0],
        }
    )
    t = table_context(frame)
    assert t["rows"] == [
        ["2024-01-02T00:00:00", True, ["price", "app"], 5, "x", None],
        [None, False, [], None, "y", 1.0],
    ]
    assert t["cells"][0][:2] == ["2024-01-02", "True"] and t["cells"][1][3] == ""
    assert jsonable({1: {np.int32(2)}, "t": (np.float32(0.5),)}) == {"1": [2], "t": [0.5]}


def test_bad_blocks_and_keys_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown report block kind 'chart'.*text, table"):
        Block("chart", None).to_context()  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a pandas DataFrame"):
        Section("k", "K").table([1, 2]).to_context()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'value' appear more than once"):
        report_context([_section(), _section()], title="t")


# ---------------------------------------------------------------------------------------------
# the page and its twin
# ---------------------------------------------------------------------------------------------


def test_page_is_self_contained_with_plotly_inlined_once() -> None:
    import plotly.offline

    sections = [_section("value"), _section("segments")]
    page = render_report(sections, title="Demo", subtitle="Run 1", manifest={"seed": 7})
    # Plotly's library exactly once, packed (and nowhere in plain text), and no CDN
    assert _plotly_copies(page) == [plotly.offline.get_plotlyjs()]
    assert "plotly.js v" not in page
    assert page.startswith("<!DOCTYPE html>")
    assert not re.findall(r"<script[^>]*\ssrc=", page)
    assert not re.findall(r"<link[^>]*\shref=", page)
    assert "cdn" not in _texts(page).lower()
    # table of contents: one link per section and the manifest
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
    assert re.findall(r'href="#([^"]+)"', nav) == ["value", "segments", "manifest"]
    # every block of the context is in the page under its id, every figure drawn by Plotly
    ctx = report_context(sections, title="Demo")
    for sec in ctx["sections"]:
        assert f'<section id="{sec["key"]}">' in page
        for block in sec["blocks"]:
            if block["kind"] != "text":
                assert f'id="{block["id"]}"' in page, block["id"]
    assert page.count("Plotly.newPlot(") == 2
    # each figure's JSON travels packed, whole, under its block's id
    figures = _figures_in(page)
    shown = [b for sec in ctx["sections"] for b in sec["blocks"] if b["kind"] == "figure"]
    assert sorted(figures) == sorted(b["id"] for b in shown)
    for block in shown:
        assert figures[block["id"]]["data"] == block["figure"]["data"]
    # as people read it: thousands separators, highlighted warnings, the manifest in full
    assert "<td>1,234,567</td>" in page
    assert re.search(r'<div class="warning"[^>]*>⚠ Pareto/NBD needs repeat', page)
    assert '<p class="text">First paragraph.</p>' in page
    assert '<p class="text">Second paragraph.</p>' in page
    assert "&#34;seed&#34;: 7" in page


def test_json_twin_is_the_same_context(tmp_path: Path) -> None:
    sections = [_section()]
    path = tmp_path / "report.json"
    render_report(sections, title="Demo", subtitle="s", manifest={"seed": 7}, json_path=path)
    twin = json.loads(path.read_text(encoding="utf-8"))
    assert twin == json.loads(
        render_json(sections, title="Demo", subtitle="s", manifest={"seed": 7})
    )
    assert twin["format"] == "segmentum.report/1" and twin["manifest"] == {"seed": 7}
    assert twin["sections"] == [sections[0].to_context()]
    assert twin["title"] == "Demo" and twin["subtitle"] == "s"
    assert json.loads(sections[0].to_json()) == sections[0].to_context()


def test_one_section_renders_alone_from_its_context() -> None:
    sec = _section("segments")
    fragment = render_section(sec)
    assert fragment.startswith('<section id="segments">') and fragment.endswith("</section>")
    assert fragment == render_section(json.loads(sec.to_json()))  # from the JSON twin alone
    # the page's own markup for it, but for the layout template the page writes once and
    # the figure's JSON, which the page carries packed
    (shared,), templates = _shared_templates([sec.to_context()])
    assert templates == [sec.to_context()["blocks"][-1]["figure"]["layout"]["template"]]
    (packed,), _ = _packed_figures([shared])
    page = render_report([sec], title="t")
    assert render_section(packed) in page
    assert (
        _figures_in(page)[packed["blocks"][-1]["id"]]["data"]
        == shared["blocks"][-1]["figure"]["data"]
    )
    assert "window.segmentumTemplates[0]" not in fragment  # alone, the figure is whole
    assert "Plotly.newPlot(" in fragment and "<!DOCTYPE" not in fragment


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_strings_from_data_are_escaped_in_html_and_intact_in_json() -> None:
    """Segment names, column names, text answers and 'I wish' quotes carrying markup."""
    from segmentum.profiles import report_section, run_profiles

    rng = np.random.default_rng(0)
    lab = np.repeat([1, 2], [60, 40])
    need = f"need {EVIL}"
    df = pd.DataFrame(
        {
            "rid": [f"R{i}" for i in range(lab.size)],
            need: np.clip(np.round(np.array([6.0, 2.0])[lab - 1] + rng.normal(0, 0.8, 100)), 1, 7),
            "need_price": np.clip(
                np.round(np.array([3.0, 6.0])[lab - 1] + rng.normal(0, 0.8, 100)), 1, 7
            ),
            "region": np.where(lab == 1, EVIL, "North"),
            "i_wish": np.where(lab == 1, f"I wish {EVIL} worked", "I wish prices were lower"),
        }
    )
    res = run_profiles(
        df,
        lab,
        id_column="rid",
        basis=[need, "need_price"],
        descriptors=["region"],
        text="i_wish",
        names={1: f"Seg {EVIL}"},
    )
    sec = report_section(res)
    sec.title = f"Profiles {EVIL}"
    sec.warn(f"Segment name {EVIL} is long")
    sec.table(pd.DataFrame({f"col {EVIL}": [EVIL]}, index=pd.Index([1], name=EVIL)))
    page = render_report([sec], title=f"Report {EVIL}", subtitle=EVIL, manifest={"name": EVIL})
    body = _texts(page)
    assert "<script>alert(" not in body  # nowhere, not in a table, a card or a figure's JSON
    assert body.count("<script") == body.count("</script>")  # no script opened by the data
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    assert f"<title>Report {escaped}</title>" in body
    assert f"<h2>Profiles {escaped}</h2>" in body
    assert f"<td>need {escaped}</td>" in body  # a need (column of the survey) in a table
    assert f"<th>col {escaped}</th>" in body and f"<th>{escaped}</th>" in body  # headers
    assert f"<td>{escaped}</td>" in body  # a cell
    assert "Segment name &lt;script&gt;" in body  # a warning
    # the figures' JSON travels packed (no "<" can stand in it) and unpacks intact
    assert json.dumps(f"Seg {EVIL}") in json.dumps(_figures_in(page), ensure_ascii=False)
    assert "I wish &lt;script&gt;alert" in body  # a quote on a persona card
    # the JSON twin holds the strings as they are
    twin = json.loads(render_json([sec], title=f"Report {EVIL}", manifest={"name": EVIL}))
    assert twin["title"] == f"Report {EVIL}" and twin["manifest"]["name"] == EVIL
    blocks = twin["sections"][0]["blocks"]
    tables = [b for b in blocks if b["kind"] == "table"]
    cells = [c for t in tables for row in t["rows"] for c in row]
    assert need in cells and EVIL in cells  # a need's name and a text value
    assert any(t["columns"] == [EVIL, f"col {EVIL}"] for t in tables)  # column names
    figures = json.dumps([b["figure"] for b in blocks if b["kind"] == "figure"])
    assert json.dumps(f"Seg {EVIL}")[1:-1] in figures  # a segment name in a figure, intact
    assert f"Segment name {EVIL} is long" in twin["sections"][0]["warnings"]


# ---------------------------------------------------------------------------------------------
# the templates ship with the package
# ---------------------------------------------------------------------------------------------


def test_templates_are_package_data() -> None:
    templates = importlib.resources.files("segmentum.report") / "templates"
    names = {p.name for p in templates.iterdir()}
    assert {"page.html", "section.html", "manifest.html", "report.css"} <= names
    assert {f"block_{kind}.html" for kind in BLOCK_KINDS} <= names
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["segmentum"]
    for p in templates.iterdir():  # every template is caught by the declared package data
        assert p.is_file(), f"{p.name}: package data does not recurse into folders"
        assert any(fnmatch.fnmatch(f"report/templates/{p.name}", pat) for pat in patterns)
    assert any(d.lower().startswith("jinja2") for d in config["project"]["dependencies"])
    env = environment()
    assert env.autoescape is True
    assert env.get_template("page.html").filename.startswith(str(templates))


REPORT_MODULES = [
    "segmentum.report.context",
    "segmentum.report.section",
    "segmentum.report.html",
    "segmentum.report.margins",
]


@pytest.mark.parametrize("name", REPORT_MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
