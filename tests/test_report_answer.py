"""The answer first, and words and numbers for people (issue 15, items 1 and 2).

Formatter units (percent, money, p-values, thousands, labels, ``[report.labels]`` from the
project file), wide tables split behind a toggle with a CSV download, positional indexes
left out; the answer screen of a value-only run (CDNOW) and of a survey-only run
(McDonald's), and :func:`check_readable_report`, which the demo run's test reuses.
"""

from __future__ import annotations

import doctest
import importlib
import io
import json
import re
import shutil
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from segmentum.data.errors import ProjectError
from segmentum.project import Project
from segmentum.registry import report_settings
from segmentum.report import Section, render_json, render_report
from segmentum.report.answer import answer_for
from segmentum.report.context import table_context
from segmentum.report.format import (
    ITEM_COLUMNS,
    ReportSettings,
    column_kind,
    format_money,
    format_number,
    format_percent,
    format_pvalue,
    human_label,
    item_label,
)

SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
EXPONENT = re.compile(r"\d[eE][-+]?\d")


#: A raw identifier inside a sentence ("next best offer: home_bundle").
SNAKE_WORD = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(_[a-z0-9]+)+(?![\w./-])")


def figure_labels(figure: dict[str, Any]) -> list[str]:
    """The words a figure shows a reader: axis titles and tick labels, the categories its
    traces put on an axis, legend names, colour bar titles and annotations (subplot titles,
    the map's labels), each line on its own."""
    layout = figure.get("layout", {})
    words: list[Any] = []
    for key, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key) and isinstance(axis, dict):
            words += [(axis.get("title") or {}).get("text"), *(axis.get("ticktext") or [])]
    for trace in figure.get("data", []):
        words += [trace.get("name")] if trace.get("showlegend") is not False else []
        words += [trace.get("colorbar", {}).get("title", {}).get("text")]
        for key in ("x", "y"):
            values = trace.get(key)
            words += values if isinstance(values, list) else []
    words += [a.get("text") for a in layout.get("annotations", [])]
    lines = [
        re.sub("<[^>]+>", "", line) for w in words if isinstance(w, str) for line in w.split("<br>")
    ]
    return [line.strip() for line in lines if line.strip()]


#: snake_case words a reader may meet in the story: the run folder's file names, which a
#: sentence names so the reader can find them (``assignments.parquet``, ``whatif.csv``);
#: a name with a file extension or a path is never flagged (see :data:`SNAKE_WORD`).
ALLOWED_SNAKE: frozenset[str] = frozenset()


class _VisibleText(HTMLParser):
    """The text a reader sees on the page before the appendix: no scripts, styles or
    attributes; the header, the answer and the story's sections (tables, captions, cards)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0  # inside <script>/<style>
        self.stopped = False  # the appendix and the manifest start
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if ("id", "appendix") in attrs:
            self.stopped = True
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and not self.stopped and data.strip():
            self.parts.append(data.strip())


def visible_text(page: str) -> list[str]:
    """The page's visible text outside the appendix, one string per text node."""
    parser = _VisibleText()
    parser.feed(page)
    return parser.parts


def raw_words(page: str) -> list[str]:
    """The snake_case tokens (``conference_b``, ``income_band``, ``need_price``) in the
    page's visible text outside the appendix, less :data:`ALLOWED_SNAKE`."""
    found = [m.group(0) for text in visible_text(page) for m in SNAKE_WORD.finditer(text)]
    return [w for w in found if w not in ALLOWED_SNAKE]


def check_readable_report(run_dir: Path, max_columns: int = 8) -> dict[str, Any]:
    """What a manager's report must be, checked on a run folder; returns ``report.json``.

    Every table shows at most ``max_columns`` columns (in the page and in each part of the
    twin), no header is a raw snake_case name, no cell is in ``e-`` notation, no figure
    labels an axis, a row, a legend entry or a panel with one, the answer's sentences name
    no raw id (an offer, a channel), no sentence, caption, list or cell the reader sees
    outside the technical appendix holds a snake_case name (:func:`raw_words`), and the page
    opens with the answer, which names the segments it picked.
    """
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    raw_text = raw_words(page)
    assert not raw_text, sorted(set(raw_text))[:12]
    twin = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    tables = [b for s in twin["sections"] for b in s["blocks"] if b["kind"] == "table"]
    assert tables
    for t in tables:
        assert all(len(part) <= max_columns for part in t["parts"]), (t["id"], t["columns"])
        assert sorted({j for part in t["parts"] for j in part}) == list(range(len(t["columns"])))
        raw = [h for h in t["headers"] if SNAKE.match(h)]
        assert not raw, (t["id"], raw)
        cells = [c for row in t["cells"] for c in row if EXPONENT.search(c)]
        assert not cells, (t["id"], cells[:3])
        items = [j for j, c in enumerate(t["columns"]) if c in ITEM_COLUMNS]
        raw_items = [p for row in t["cells"] for j in items for p in row[j].split(", ")]
        assert not [p for p in raw_items if SNAKE.match(p)], (t["id"], raw_items[:3])
    for key, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S):
        summary = "".join(re.findall(r'<p class="summary">(.*?)</p>', body, re.S))
        texts = re.findall(r'<p class="text">(.*?)</p>', body, re.S)
        said = [t for t in texts if summary and t in summary]
        assert not said, (key, said)  # the summary's sentences are said once
    figures = [b for s in twin["sections"] for b in s["blocks"] if b["kind"] == "figure"]
    for f in figures:
        raw = [w for w in figure_labels(f["figure"]) if SNAKE.match(w)]
        assert not raw, (f["id"], raw[:5])
    said = [twin["answer"]["headline"], *(p["text"] for p in twin["answer"]["points"])]
    raw_ids = [m.group(0) for text in said for m in SNAKE_WORD.finditer(text)]
    assert not raw_ids, raw_ids[:5]
    heads = re.findall(r"<thead><tr>(.*?)</tr></thead>", page, re.S)
    assert heads and max(h.count("<th") for h in heads) <= max_columns
    assert re.findall(r'<section id="([^"]+)"', page)[0] == "answer"
    answer = twin["answer"]
    screen = page[page.index('<section id="answer"') : page.index("</section>")]
    for card in answer["segments"]:
        assert f"Segment {card['segment']}" in screen
        assert escape(card["name"]) in screen, card["name"]
    return twin


# --- formatter units ---------------------------------------------------------------------------


def test_numbers_are_written_for_people() -> None:
    assert [format_percent(x) for x in (0.296, 0.054, 0.0035, 1.0, 0)] == [
        "30 %",
        "5.4 %",
        "0.35 %",
        "100 %",
        "0 %",
    ]
    assert format_money(1234567.891) == "1,234,568"  # no currency declared: none shown
    assert format_money(1234567.891, "$") == "$1,234,568"
    assert format_money(-12.5, "€") == "-€12.50" and format_money(98000, "CHF") == "98,000 CHF"
    assert format_pvalue(1.39e-264) == "< 0.001" and format_pvalue(0.0421) == "0.042"
    assert format_number(1234567.8) == "1,234,568" and format_number(0.0000123) == "0.0000123"
    assert not EXPONENT.search(format_number(1.5e-7))


def test_column_kinds_follow_names_and_values() -> None:
    share = pd.Series([0.1, 0.9])
    assert column_kind("customers_cum_share", share) == "share"
    assert column_kind("p_first", share) == "share"
    assert column_kind("growth_share", pd.Series([1.5, -0.2])) == "number"  # not within 0..1
    assert column_kind("p_adjusted", share) == "pvalue"
    assert column_kind("clv_per_head", pd.Series([12.0])) == "money"
    assert column_kind("value_decile", pd.Series([1, 2])) == "count"
    assert column_kind("error_pct", pd.Series([48.9])) == "percent"
    assert column_kind("segment", pd.Series(["a"])) == "text"


def test_labels_read_as_words_and_the_project_overrides_them() -> None:
    assert human_label("customers_cum_share") == "Customers (cumulative share)"
    assert human_label("clv_per_head") == "CLV per head"
    assert human_label("rows read") == "Rows read"
    assert human_label("n_vehicles") == "Number of vehicles"
    assert human_label("Like") == "Like" and human_label("col <b>") == "col <b>"  # as given
    assert human_label("p_first", {"p_first": "Ranks first"}) == "Ranks first"  # stage table
    assert human_label("p_first", {"p_first": "Ranks first"}, {"p_first": "First"}) == "First"


def test_cells_naming_needs_and_fields_read_as_labels() -> None:
    frame = pd.DataFrame(
        {
            "need": ["need_fast_claims_payout", "luxury / be spoilt"],
            "defining_needs": ["need_manage_online, beh_bought_online", "Like"],
            "label": ["need_kept_as_is", "x_y"],  # not a column that names items
        }
    )
    t = table_context(frame, settings=ReportSettings(labels={"Like": "Liking"}))
    assert [row[:2] for row in t["cells"]] == [
        ["Fast claims payout", "Manage online, Bought online"],
        ["luxury / be spoilt", "Liking"],
    ]
    assert [row[2] for row in t["cells"]] == ["need_kept_as_is", "x_y"]
    assert t["rows"][0][0] == "need_fast_claims_payout"  # the twin keeps the names
    assert item_label(["need_a_b", "profit_clv"]) == "A b, Profit CLV"


def test_report_labels_and_currency_come_from_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "tx.csv").write_text("customer_id,date,amount\nA,2024-01-01,10\n")
    base = (
        '[sources.transactions]\npath = "tx.csv"\ncustomer_id = "customer_id"\n'
        'timestamp = "date"\namount = "amount"\n'
    )
    (tmp_path / "segmentum.toml").write_text(
        base + '\n[report]\ncurrency = "$"\n\n[report.labels]\nrevenue = "Sales"\n'
    )
    settings = report_settings(Project.load(tmp_path / "segmentum.toml").config)
    assert settings.currency == "$" and settings.labels == {"revenue": "Sales"}
    t = table_context(
        pd.DataFrame({"decile": [1], "revenue": [1234.6], "revenue_share": [0.3]}),
        section="value",
        settings=settings,
    )
    assert t["headers"] == ["Value decile", "Sales", "Revenue (share)"]
    assert t["cells"] == [["1", "$1,235", "30 %"]]
    (tmp_path / "segmentum.toml").write_text(base + '\n[report]\ncurrncy = "$"\n')
    with pytest.raises(ProjectError, match=r"\[report\] unknown key 'currncy'.*'currency'"):
        Project.load(tmp_path / "segmentum.toml")
    (tmp_path / "segmentum.toml").write_text(base + "\n[report.labels]\nrevenue = 3\n")
    with pytest.raises(ProjectError, match=r"\[report.labels.revenue\]"):
        Project.load(tmp_path / "segmentum.toml")


def test_wide_tables_show_eight_columns_and_the_rest_behind_a_toggle_with_a_csv() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((3, 20)), columns=[f"metric_{i}_share" for i in range(20)])
    frame.insert(0, "segment", [1, 2, 3])
    t = table_context(frame)
    assert t["parts"][0] == list(range(8))
    assert all(len(p) <= 8 and p[0] == 0 for p in t["parts"])  # the key column repeats
    assert sorted({j for p in t["parts"] for j in p}) == list(range(21))
    back = pd.read_csv(io.StringIO(t["csv"]))
    assert list(back.columns) == list(frame.columns) and len(back) == 3
    page = render_report([Section("value", "V").table(frame)], title="t")
    assert page.count('<details class="more-columns">') == 1 and "13 more columns" in page
    link = re.search(r'href="data:text/csv;charset=utf-8,([^"]+)"', page).group(1)
    assert unquote(unescape(link)) == t["csv"]  # the whole table, as the link downloads it
    # a wide table cut to its first rows: the CSV still holds every row
    cut = table_context(frame, max_rows=2)
    assert len(cut["cells"]) == 2 and len(pd.read_csv(io.StringIO(cut["csv"]))) == 3
    # a narrow table needs neither (long ones say how many rows they show)
    small = table_context(frame.iloc[:, :4], max_rows=2)
    assert len(small["parts"]) == 1 and small["csv"] is None and "2 of 3 rows" in small["note"]


def test_positional_indexes_are_left_out_and_named_ones_kept() -> None:
    frame = pd.DataFrame({"effect": [0.5, 0.1, 0.3]}, index=[7, 3, 12])  # rows sorted
    assert table_context(frame)["columns"] == ["effect"]
    named = pd.DataFrame({"share": [0.4, 0.6]}, index=pd.RangeIndex(1, 3, name="segment"))
    t = table_context(named)
    assert t["columns"] == ["segment", "share"] and t["index_columns"] == 1


@pytest.mark.parametrize("name", ["segmentum.report.format", "segmentum.report.answer"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# --- the answer screen ---------------------------------------------------------------------------


def test_value_only_run_answers_about_value_and_is_no_segmentation_report(
    tmp_path: Path, shared_data: Path
) -> None:
    shutil.copy(shared_data / "cdnow" / "cdnow_sample_transactions.csv", tmp_path / "tx.csv")
    (tmp_path / "segmentum.toml").write_text(
        '[project]\nname = "CDNOW"\n\n[report]\ncurrency = "$"\n\n'
        '[sources.transactions]\npath = "tx.csv"\ncustomer_id = "customer_id"\n'
        'timestamp = "date"\namount = "dollar_value"\n'
    )
    result = Project.load(tmp_path / "segmentum.toml").run()
    twin = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))
    assert "segmentation" not in twin["title"].lower() and twin["title"].startswith("CDNOW")
    answer = twin["answer"]
    assert answer["kind"] == "value" and not answer["segments"]
    top = result["value"].deciles.iloc[0]
    assert format_percent(top["revenue_share"]) in answer["headline"]  # the top decile's share
    said = " ".join(p["text"] for p in answer["points"])
    assert format_percent(top["clv_share"]) in said  # CLV concentration
    assert "no survey table" in said  # what it could not answer, and why
    pc = result["value"].per_customer
    top = pc.nlargest(5, "clv")  # the most valuable customers, named
    assert [c["customer_id"] for c in answer["top_customers"]] == top["customer_id"].astype(
        str
    ).tolist()
    assert answer["top_customers"][0]["clv_text"].startswith("$")
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "segmentation" not in page[: page.index("</header>")].lower()
    deciles = next(b for b in twin["sections"][1]["blocks"] if b["kind"] == "table")
    revenue = deciles["columns"].index("revenue")
    assert deciles["cells"][0][revenue].startswith("$")  # the project's currency
    check_readable_report(result.run_dir)


@pytest.fixture(scope="module")
def mcdonalds_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Any:
    folder = tmp_path_factory.mktemp("mcd-report")
    shutil.copy(shared_data / "msa" / "mcdonalds.csv", folder / "mcdonalds.csv")
    basis = "yummy convenient spicy fattening greasy fast cheap tasty expensive healthy disgusting"
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "McDonald\'s"\n\n[sources.survey]\npath = "mcdonalds.csv"\n'
        f"basis = {json.dumps(basis.split())}\n"
        'descriptors = ["Age", "Gender", "Like", "VisitFrequency"]\n\n'
        "[segments]\nn_boot = 8\n\n"
        # one mapping for every word: the tables, the figures and the sentences (issue 15)
        '[report.labels]\nyummy = "Tastes good"\nGender = "Sex"\n',
        encoding="utf-8",
    )
    return Project.load(folder / "segmentum.toml").run()


def test_mcdonalds_report_opens_with_the_priority_segments(mcdonalds_run: Any) -> None:
    twin = check_readable_report(mcdonalds_run.run_dir)
    answer = twin["answer"]
    assert answer["kind"] == "segments" and "segmentation" in twin["title"]
    ranking = mcdonalds_run["valuation"].result.priorities.table
    live = ranking[~ranking["knocked_out"]].sort_values("rank")
    assert [c["segment"] for c in answer["segments"]] == [int(s) for s in live.index[:2]]
    whom = answer["points"][0]
    assert whom["question"] == "To whom we sell" and whom["href"] == "#valuation"
    for card in answer["segments"]:
        assert f"{card['segment']} ({card['name']})" in whom["text"]
        assert card["needs"]  # their defining needs, from the personas
    sure = next(p for p in answer["points"] if p["question"] == "How sure we are")
    assert mcdonalds_run["segments"].structure in sure["text"]  # "reproducible"
    exclusive = mcdonalds_run["profiles"].exclusivity.passed
    assert ("not mutually exclusive" in sure["text"]) is (not exclusive)
    # the technical evidence sits in the appendix, after the story
    page = (mcdonalds_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert page.index('<section id="valuation">') < page.index('id="appendix"')
    assert page.index('id="appendix"') < page.index('<section id="segments-evidence">')
    assert "p (BH-adjusted)" in page and "&lt; 0.001" in page


def test_project_labels_reach_the_figures_and_the_sentences(mcdonalds_run: Any) -> None:
    """``[report.labels]`` (``yummy = "Tastes good"``, ``Gender = "Sex"``) is the one mapping
    the stages' figures and sentences read, not only the tables' headers: the heat maps' rows
    and the map's need labels, the persona cards, the answer and the profile tables' cells say
    the project's words and never the names they replace."""
    run = mcdonalds_run.run_dir
    twin = json.loads((run / "report.json").read_text(encoding="utf-8"))
    figures = {b["id"]: b["figure"] for s in twin["sections"] for b in s["blocks"]
               if b["kind"] == "figure"}  # fmt: skip
    said = {f: figure_labels(fig) for f, fig in figures.items()}
    heat = [f for f, words in said.items() if "Tastes good" in words]
    assert heat, "no figure labels a row or axis with the project's label"
    assert any("Sex: Female" in w or "Sex: Male" in w for words in said.values() for w in words)
    assert not [f for f, words in said.items() if "Yummy" in words or "yummy" in words]
    page = (run / "report.html").read_text(encoding="utf-8")
    text = " ".join(visible_text(page))
    assert "Tastes good" in text  # persona cards, exclusivity, the answer's needs
    assert not re.search(r"\byummy\b", text, re.I), "the replaced name is still shown"
    personas = (run / "personas.md").read_text(encoding="utf-8")
    assert "Tastes good" in personas and not re.search(r"\byummy\b", personas, re.I)


def test_without_valuation_the_answer_names_every_segment_by_size(mcdonalds_run: Any) -> None:
    results = {
        k: o.result
        for k, o in mcdonalds_run.outcomes.items()
        if o.status == "ran" and k != "valuation"
    }
    answer = answer_for(results, project="McDonald's")
    sizes = mcdonalds_run["segments"].summary["sizes"]
    by_size = sorted(sizes, key=lambda s: -sizes[s]["weighted_share"])
    assert [c.segment for c in answer.segments] == [int(s) for s in by_size]
    assert all(c.rank is None and c.needs for c in answer.segments)
    assert answer.points[0].question == "Who the segments are"
    assert "no segment is prioritised" in answer.points[0].text
    largest = answer.segments[0]
    assert f"{largest.segment} ({largest.name})" in answer.headline


def test_readme_report_block_is_a_valid_report_table() -> None:
    import tomllib

    from segmentum.flow import stage_settings
    from segmentum.report.format import ReportSettings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[report]" in b)
    settings = stage_settings(ReportSettings, tomllib.loads(block)["report"], "report")
    assert settings.currency == "$" and settings.labels["clv"] == "Lifetime value"


def test_offer_and_stage_mix_come_from_the_activation_aggregates_or_its_rows() -> None:
    """The cards' offer and stage mix: from ``stage_mix()``/``top_offers()`` where the
    activation result has them (both engines), else counted from its per-customer rows; the
    two give the same answer."""
    from types import SimpleNamespace

    from segmentum.report.answer import _offer, _stages

    rows = pd.DataFrame(
        {"segment": [1.0, 1.0, 1.0, 2.0, 2.0, np.nan, 3.0],
         "stage": ["loyal", "lost", "loyal", "new", "new", "lost", "new"],
         "next_best_offer": ["B", "A", "B", None, None, "C", "A"]}
    )  # fmt: skip
    from_rows = {"activation": SimpleNamespace(customers=SimpleNamespace(customers=rows))}
    mix = pd.DataFrame(
        {"segment": [1, 1, 2, 3], "stage": ["loyal", "lost", "new", "new"],
         "customers": [2, 1, 2, 1], "share": [2 / 3, 1 / 3, 1.0, 1.0]}
    )  # fmt: skip
    top = pd.Series({1: "B", 3: "A"})
    from_counts = {"activation": SimpleNamespace(stage_mix=lambda: mix, top_offers=lambda: top)}
    for results in (from_rows, from_counts):
        assert _offer(results, 1) == "B" and _offer(results, 3) == "A"
        assert _offer(results, 2) is None  # no offer made in segment 2
        assert _stages(results, 1) == (("loyal", pytest.approx(2 / 3)), ("lost", 1 / 3))
        assert _stages(results, 1, n=1) == (("loyal", pytest.approx(2 / 3)),)
        assert _stages(results, 2) == (("new", 1.0),)
        assert _stages(results, 4) == ()
    assert _offer({}, 1) is None and _stages({}, 1) == ()


# --- one figure drawn once ---------------------------------------------------------------------


def test_a_figure_another_section_draws_better_is_left_out() -> None:
    """``Section.figure(..., unless="profiles")``: left out of a report with a profiles
    section (it draws the same heat map), kept without one; the others keep their ids."""
    import plotly.graph_objects as go

    def segments() -> Section:
        sec = Section("segments", "Segments").text("Six.")
        sec.figure(go.Figure(go.Bar(x=[1], y=[2])), "Segment profiles", unless="profiles")
        return sec.text("After.")

    alone = render_json([segments()], title="t")
    both = render_json([segments(), Section("profiles", "Profiles").text("Cards.")], title="t")
    kinds = [[b["kind"] for b in s["blocks"]] for s in json.loads(alone)["sections"]]
    assert kinds == [["text", "figure", "text"]]
    blocks = json.loads(both)["sections"][0]["blocks"]
    assert [b["kind"] for b in blocks] == ["text", "text"]
    assert [b["id"] for b in blocks] == ["segments-1", "segments-3"]  # anchors unchanged


def test_the_profile_heat_map_is_drawn_once_with_the_means_in_its_hover(mcdonalds_run: Any) -> None:
    twin = json.loads((mcdonalds_run.run_dir / "report.json").read_text(encoding="utf-8"))
    sections = {s["key"]: s for s in twin["sections"]}
    heat = [
        b["figure"]
        for s in sections.values()
        for b in s["blocks"]
        if b["kind"] == "figure" and b["figure"]["data"][0].get("type") == "heatmap"
    ]
    basis = [f for f in heat if "basis" in f["layout"]["title"]["text"]]
    assert len(basis) == 1  # the segments section's copy is left out
    assert not [f for f in heat if f["layout"]["title"]["text"].startswith("Segment profiles")]
    trace = basis[0]["data"][0]
    assert "%{customdata}" in trace["hovertemplate"]
    prof = mcdonalds_run["profiles"].profile.rows(role="basis")
    yummy = prof[(prof["variable"] == "yummy") & (prof["segment"] == 1)].iloc[0]
    row = trace["y"].index("Tastes good")
    column = trace["x"].index(mcdonalds_run["profiles"].names()[1])
    hover = trace["customdata"][row][column]
    # the mean (a share for a Yes/No item) as profiles.csv holds it, beside the overall one
    assert hover == f"share {yummy['value']:.0%} (overall {yummy['total']:.0%})"
    csv = pd.read_csv(mcdonalds_run.run_dir / "profiles.csv")
    assert {"value", "total"} <= set(csv.columns)
