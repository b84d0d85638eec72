"""The web app's pages over the shared demo run: every page and its JSON twin, the twin's
data on the page, the typing-tool form and the lead scorer against ``segmentum score``,
sign-in and CSRF.

The app runs in-process (``fastapi.testclient``) over :func:`app_demo`; nothing here adds a
run to it (the tampered-run test works on a copy).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from segmentum.app import create_app
from segmentum.app.keys import KeyStore
from segmentum.app.pages.answer import answer_for_run, app_href
from segmentum.app.pages.runs import parse_persona

#: Every page of a run, under /runs/{run_id} (the segment page for segment 1).
PAGES = ("", "/value", "/segments", "/segments/1", "/map", "/where-to-play", "/activation",
         "/type", "/leads")  # fmt: skip


@pytest.fixture(scope="module")
def key(app_demo: Path) -> str:
    return KeyStore(app_demo).create("read", "test_app_pages")[1]


@pytest.fixture(scope="module")
def client(app_demo: Path, key: str) -> TestClient:
    """The app with a read key in every request's Authorization header."""
    return TestClient(create_app(app_demo), headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def run_id(client: TestClient) -> str:
    return str(client.get("/runs.json").json()["runs"][0]["run_id"])


@pytest.fixture(scope="module")
def run_dir(app_demo: Path, run_id: str) -> Path:
    return app_demo / "runs" / run_id


def _browser(app_demo: Path, key: str) -> TestClient:
    """A client signed in the browser's way: /login with the key, then the session cookie."""
    browser = TestClient(create_app(app_demo), headers={"Accept": "text/html"})
    page = browser.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    signed_in = browser.post(
        "/login", data={"key": key, "token": token.group(1)}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and "segmentum_session" in browser.cookies
    return browser


def _csrf(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found is not None, "the page's form carries no CSRF token"
    return found.group(1)


def _text(page_html: str) -> str:
    """The page's text, unescaped (for looking up the twin's values)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page_html))


# -- every page and its twin ------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_and_its_json_twin(client: TestClient, run_id: str, page: str) -> None:
    path = f"/runs/{run_id}{page}"
    shown = client.get(path, headers={"Accept": "text/html"})
    assert shown.status_code == 200, shown.text[:500]
    assert shown.headers["content-type"].startswith("text/html")
    twin = client.get(path + ".json")
    assert twin.status_code == 200 and twin.headers["content-type"] == "application/json"
    by_accept = client.get(path, headers={"Accept": "application/json"})
    assert by_accept.json() == twin.json()
    assert twin.json()["run_id"] == run_id
    assert (
        shown.headers["x-frame-options"] == "DENY" and shown.headers["cache-control"] == "no-store"
    )
    # navigation to every page of the run, and at most one copy of Plotly's library
    for other, _ in [(p, None) for p in PAGES if p != "/segments/1"]:
        assert f'href="/runs/{run_id}{other}"' in shown.text
    assert shown.text.count("/static/plotly.min.js") <= 1


def test_home_is_the_newest_runs_answer_and_runs_page_lists_it(
    client: TestClient, run_id: str
) -> None:
    home = client.get("/", headers={"Accept": "application/json"}).json()
    assert home == client.get(f"/runs/{run_id}.json").json()
    assert client.get("/runs/latest/segments.json").json()["run_id"] == run_id
    runs = client.get("/runs", headers={"Accept": "text/html"})
    assert runs.status_code == 200 and f'href="/runs/{run_id}"' in runs.text
    assert [r["run_id"] for r in client.get("/runs.json").json()["runs"]] == [run_id]


def test_answer_page_names_the_priority_segments(
    client: TestClient, run_id: str, run_dir: Path
) -> None:
    data = client.get(f"/runs/{run_id}.json").json()
    answer = data["answer"]
    assert answer["headline"] and answer["points"] and answer["segments"]
    summary = json.loads((run_dir / "segments.json").read_text())
    ranks = {s["segment"]: s["priority"]["rank"] for s in summary["segments"]}
    named = [card["segment"] for card in answer["segments"]]
    assert min(ranks[s] for s in named) == 1  # the first priority is named
    text = _text(client.get(f"/runs/{run_id}", headers={"Accept": "text/html"}).text)
    assert answer["headline"] in text
    for card in answer["segments"]:
        assert card["name"] in text
        if card["offer"]:  # the offer by its label, as in the report, not its id
            assert f"Next best offer: {card['offer_text']}" in " ".join(text.split()), card
            assert card["offer_text"] != card["offer"]
    for point in answer["points"]:  # evidence links lead to the app's pages, not anchors
        assert point["href"].startswith(f"/runs/{run_id}")


def test_segments_page_shows_the_verdict_and_every_segment(
    client: TestClient, run_id: str, run_dir: Path
) -> None:
    data = client.get(f"/runs/{run_id}/segments.json").json()
    summary = json.loads((run_dir / "segments.json").read_text())
    assert data["structure"] == summary["segmentation"]["structure"]
    assert [s["segment"] for s in data["segments"]] == [s["segment"] for s in summary["segments"]]
    text = _text(client.get(f"/runs/{run_id}/segments", headers={"Accept": "text/html"}).text)
    assert data["verdict"] in text
    for row, seg in zip(data["segments"], summary["segments"], strict=True):
        assert row["n"] == seg["size"] and row["name"] == seg["name"]
        assert row["stability"] == summary["segmentation"]["segment_stability"][str(row["segment"])]
        assert seg["name"] in text and f"{seg['size']:,}" in text
        assert f"{seg['share']:.0%}" in text


def test_segment_page_shows_persona_value_priority_stages_and_offers(
    client: TestClient, run_id: str, run_dir: Path
) -> None:
    summary = json.loads((run_dir / "segments.json").read_text())
    seg = summary["segments"][0]
    n = seg["segment"]
    data = client.get(f"/runs/{run_id}/segments/{n}.json").json()
    assert data["name"] == seg["name"] and data["n"] == seg["size"]
    assert data["priority"] == seg["priority"] and data["valuation"] == seg["valuation"]
    activation = json.loads((run_dir / "activation.json").read_text())
    mix = [c for c in activation["lifecycle"]["segment_stage"] if c["segment"] == n]
    assert sum(c["customers"] for c in data["stage_mix"]) == sum(c["customers"] for c in mix)
    assert data["offers"] and all(o["offer"] for o in data["offers"])
    assert data["audiences"] and all(a["segment"] == n for a in data["audiences"])
    text = _text(client.get(f"/runs/{run_id}/segments/{n}", headers={"Accept": "text/html"}).text)
    groups = data["persona"]["groups"]
    assert [g["title"] for g in groups][:2] == ["Who they are", "What defines them"]
    for group in groups:
        for line in group["items"]:
            assert line in text
    for offer in data["offers"]:
        assert offer["offer"] in text
    # the persona's picture, drawn by the app from segments.json: the run's own picture
    html = client.get(f"/runs/{run_id}/segments/{n}", headers={"Accept": "text/html"}).text
    svg = (run_dir / "personas" / f"segment_{n}.svg").read_text(encoding="utf-8").strip()
    assert svg in html


def test_unknown_segment_and_run_are_404_in_html_and_json(client: TestClient, run_id: str) -> None:
    missing = client.get(f"/runs/{run_id}/segments/99.json")
    assert missing.status_code == 404 and "no segment 99" in missing.json()["detail"]
    page = client.get(f"/runs/{run_id}/segments/99", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "no segment 99" in page.text and "<html" in page.text
    assert client.get("/runs/19990101-000000.000-abcd.json").status_code == 404


def test_where_to_play_and_activation_twins_hold_what_the_pages_show(
    client: TestClient, run_id: str
) -> None:
    where = client.get(f"/runs/{run_id}/where-to-play.json").json()
    assert [p["rank"] for p in where["priorities"]] == sorted(
        p["rank"] for p in where["priorities"]
    )
    text = _text(client.get(f"/runs/{run_id}/where-to-play", headers={"Accept": "text/html"}).text)
    assert where["sentence"] in text
    for p in where["priorities"]:
        assert p["name"] in text
    act = client.get(f"/runs/{run_id}/activation.json").json()
    page = client.get(f"/runs/{run_id}/activation", headers={"Accept": "text/html"}).text
    for channel in act["channels"]:
        assert channel["channel"] in page
    for audience in act["audiences"]:
        assert f'href="{audience["href"]}"' in page
    # the report's figures are reused: every figure of the section has its div on the page
    figures = [b["id"] for b in act["section"]["blocks"] if b["kind"] == "figure"]
    assert figures and all(f'id="{f}"' in page for f in figures)


def test_audience_links_download_the_runs_files_through_the_api(
    app_demo: Path, key: str, run_id: str, run_dir: Path
) -> None:
    browser = _browser(app_demo, key)  # signed in with the session cookie, as a browser
    audiences = browser.get(f"/runs/{run_id}/activation.json").json()["audiences"]
    first = audiences[0]
    assert first["href"] == f"/api/v1/runs/{run_id}/audiences/{first['name']}"
    got = browser.get(first["href"])
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.content == (run_dir / "audiences" / first["name"]).read_bytes()
    logged = [row for row in KeyStore(app_demo).downloads() if row[2] == run_id]
    assert any(row[3].endswith(first["name"]) for row in logged)


# -- without a key, with a cookie ---------------------------------------------------------------


@pytest.mark.parametrize("page", ["/", "/runs", *[f"/runs/RUN{p}" for p in PAGES]])
def test_without_a_key_html_gets_sign_in_and_json_gets_401(
    app_demo: Path, run_id: str, page: str
) -> None:
    anonymous = TestClient(create_app(app_demo))
    path = page.replace("RUN", run_id)
    shown = anonymous.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert shown.status_code == 401
    assert 'action="/login"' in shown.text and "segmentum_login" in shown.headers["set-cookie"]
    twin = anonymous.get(path, headers={"Accept": "application/json"})
    assert twin.status_code == 401 and "API key" in twin.json()["detail"]
    assert anonymous.get("/static/plotly.min.js").status_code == 401


def test_sign_in_from_the_401_page_works(app_demo: Path, key: str, run_id: str) -> None:
    browser = TestClient(create_app(app_demo), headers={"Accept": "text/html"})
    shown = browser.get(f"/runs/{run_id}/map")
    token = re.search(r'name="token" value="([^"]+)"', shown.text)
    assert shown.status_code == 401 and token is not None
    browser.post("/login", data={"key": key, "token": token.group(1)})
    assert browser.get(f"/runs/{run_id}/map").status_code == 200


def test_cookie_form_posts_without_the_csrf_token_are_403(
    app_demo: Path, key: str, run_id: str
) -> None:
    browser = _browser(app_demo, key)
    for page in ("type", "leads"):
        sent = browser.post(f"/runs/{run_id}/{page}", data={"csv": "lead_id\nL1"})
        assert sent.status_code == 403
        wrong = browser.post(f"/runs/{run_id}/{page}", data={"csrf_token": "x" * 64})
        assert wrong.status_code == 403


# -- the typing tool ----------------------------------------------------------------------------


def _golden_answers(app_demo: Path, run_dir: Path, n: int = 6) -> pd.DataFrame:
    tool = json.loads((run_dir / "model" / "typing_tool.json").read_text())
    survey = pd.read_parquet(app_demo / "data" / "survey.parquet")
    rows = survey[[tool["id_column"], *tool["items"]]].dropna().head(n)
    return rows.astype({item: int for item in tool["items"]})


def test_typing_form_gives_what_segmentum_score_gives(
    app_demo: Path, key: str, run_id: str, run_dir: Path
) -> None:
    from segmentum import score

    answers = _golden_answers(app_demo, run_dir)
    expected = score(run_dir, answers)
    browser = _browser(app_demo, key)
    form = browser.get(f"/runs/{run_id}/type")
    token = _csrf(form.text)
    items = [c for c in answers.columns if c != "respondent_id"]
    for item in items:  # one input per golden question, offering its answer scale
        assert f'name="{item}"' in form.text
    for i, row in enumerate(answers.itertuples(index=False)):
        fields = {item: str(getattr(row, item)) for item in items} | {"csrf_token": token}
        got = browser.post(
            f"/runs/{run_id}/type", data=fields, headers={"Accept": "application/json"}
        )
        assert got.status_code == 200, got.text
        result = got.json()["result"]
        want = expected.iloc[i]
        assert result["segment"] == want["segment"]
        assert result["segment_name"] == want["segment_name"]
        assert result["segment_probability"] == pytest.approx(
            want["segment_probability"], abs=1e-12
        )
        assert result["unclassifiable"] == want["unclassifiable"]
        probabilities = [p["probability"] for p in result["probabilities"]]
        assert max(probabilities) == pytest.approx(result["segment_probability"], abs=1e-12)
    shown = browser.post(f"/runs/{run_id}/type", data=fields)
    assert shown.status_code == 200
    assert f'id="result-segment">{want["segment"]}<' in shown.text
    assert html.escape(str(want["segment_name"])) in shown.text


def test_typing_form_names_a_missing_answer(app_demo: Path, key: str, run_id: str) -> None:
    browser = _browser(app_demo, key)
    token = _csrf(browser.get(f"/runs/{run_id}/type").text)
    shown = browser.post(f"/runs/{run_id}/type", data={"csrf_token": token})
    assert shown.status_code == 422 and 'role="alert"' in shown.text and "no answer" in shown.text
    as_json = browser.post(
        f"/runs/{run_id}/type", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 422 and as_json.json()["problems"]


# -- the lead scorer ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leads_and_cli(app_demo: Path, run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # fmt: skip
    """Forty demo leads as a CSV file, and ``segmentum score --leads`` of it."""
    from segmentum.cli.main import app

    folder = tmp_path_factory.mktemp("leads")
    leads = folder / "leads.csv"
    pd.read_parquet(app_demo / "data" / "leads.parquet").head(40).to_csv(leads, index=False)
    out = folder / "scored.csv"
    result = CliRunner().invoke(
        app, ["score", str(run_dir), "--leads", str(leads), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return leads, out


def test_lead_upload_scores_as_the_cli_and_downloads_its_csv(
    app_demo: Path, key: str, run_id: str, leads_and_cli: tuple[Path, Path]
) -> None:
    leads, cli_out = leads_and_cli
    browser = _browser(app_demo, key)
    token = _csrf(browser.get(f"/runs/{run_id}/leads").text)
    upload = {"file": ("leads.csv", leads.read_bytes(), "text/csv")}
    got = browser.post(
        f"/runs/{run_id}/leads",
        data={"csrf_token": token},
        files=upload,
        headers={"Accept": "application/json"},
    )
    assert got.status_code == 200, got.text
    result = got.json()["result"]
    expected = pd.read_csv(cli_out)
    pd.testing.assert_frame_equal(
        pd.DataFrame(result["rows"])[list(expected.columns)], expected, check_dtype=False
    )
    assert base64.b64decode(result["csv_base64"]) == cli_out.read_bytes()
    assert result["kept"] == int(expected["keep"].sum())
    # the page: the table, and the download link holding the CLI's bytes
    shown = browser.post(f"/runs/{run_id}/leads", data={"csrf_token": token}, files=upload)
    link = re.search(r'id="download" download="[^"]+" href="data:text/csv;charset=utf-8;base64,([^"]+)"', shown.text)  # fmt: skip
    assert link is not None and base64.b64decode(link.group(1)) == cli_out.read_bytes()
    first = str(expected.iloc[0, 0])
    assert f"<td>{first}</td>" in shown.text
    header = re.search(r'<table class="data" id="scored">\s*<thead><tr>(.*?)</tr>', shown.text)
    assert header is not None and header.group(1).count("<th>") <= 8  # fits the page


def test_pasted_leads_score_the_same_and_bad_ones_are_named(
    app_demo: Path, key: str, run_id: str, leads_and_cli: tuple[Path, Path]
) -> None:
    leads, cli_out = leads_and_cli
    browser = _browser(app_demo, key)
    token = _csrf(browser.get(f"/runs/{run_id}/leads").text)
    pasted = browser.post(
        f"/runs/{run_id}/leads",
        data={"csrf_token": token, "csv": leads.read_text()},
        headers={"Accept": "application/json"},
    )
    assert base64.b64decode(pasted.json()["result"]["csv_base64"]) == cli_out.read_bytes()
    frame = pd.read_csv(leads).drop(columns=["age"])
    bad = browser.post(
        f"/runs/{run_id}/leads", data={"csrf_token": token, "csv": frame.to_csv(index=False)}
    )
    assert bad.status_code == 422 and "age" in bad.text and 'role="alert"' in bad.text
    empty = browser.post(f"/runs/{run_id}/leads", data={"csrf_token": token, "csv": " "})
    assert empty.status_code == 422 and "no leads sent" in empty.text


# -- safety and the answer's shape ---------------------------------------------------------------


def test_markup_from_a_tampered_run_stays_text(app_demo: Path, run_id: str, tmp_path: Path) -> None:
    """A run folder is untrusted: raw HTML blocks are left out, other text is escaped."""
    project = tmp_path / "project"
    shutil.copytree(app_demo, project, ignore=shutil.ignore_patterns("data", "keys.sqlite*"))
    run = project / "runs" / run_id
    report = json.loads((run / "report.json").read_text())
    evil = "<script>alert(1)</script>"
    value = next(s for s in report["sections"] if s["key"] == "value")
    value["blocks"] += [{"kind": "html", "id": "value-99", "caption": "", "html": evil},
                        {"kind": "text", "id": "value-100", "caption": "", "text": evil}]  # fmt: skip
    (run / "report.json").write_text(json.dumps(report))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"]["report.json"] = hashlib.sha256(
        (run / "report.json").read_bytes()
    ).hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest))
    tampered = KeyStore(project).create("read")[1]
    client = TestClient(create_app(project), headers={"Authorization": f"Bearer {tampered}"})
    page = client.get(f"/runs/{run_id}/value", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text[:300]
    assert evil not in page.text and html.escape(evil) in page.text


def test_app_links_point_at_the_pages() -> None:
    assert app_href("R", "#valuation") == "/runs/R/where-to-play"
    assert app_href("R", "#valuation-2") == "/runs/R/where-to-play#valuation-2"
    assert app_href("R", "#profiles") == "/runs/R/segments"
    assert app_href("R", "#maps-1") == "/runs/R/map#maps-1"
    assert app_href("R", "javascript:alert(1)") == "/runs/R"


def test_a_reports_own_answer_is_shown_with_app_links() -> None:
    own: dict[str, Any] = {
        "kind": "value",
        "title": "CDNOW: customer value report",
        "headline": "The top 10 % bring 47 % of revenue.",
        "points": [{"question": "Where?", "text": "top decile", "href": "#value-2", "evidence": "Value"}],
        "figures": [],
        "segments": [],
    }  # fmt: skip
    got = answer_for_run("R", {"answer": own}, {}, {})
    assert got["headline"] == own["headline"] and got["kind"] == "value"
    assert got["points"][0]["href"] == "/runs/R/value#value-2"


def test_parse_persona_reads_every_group() -> None:
    card = parse_persona(
        "### Segment 2: Savers\n\n*9 respondents, 4% of the population*\n\n**Who they are**\n"
        "- young\n- urban\n\n**In their words**\n> I wish it were cheaper\n"
    )
    assert card["title"] == "Segment 2: Savers" and card["size"].startswith("9 respondents")
    assert card["groups"] == [
        {"title": "Who they are", "items": ["young", "urban"]},
        {"title": "In their words", "items": ["I wish it were cheaper"]},
    ]


def test_plotly_comes_from_the_installed_package(client: TestClient) -> None:
    import plotly

    js = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert js.content == path.read_bytes()
    assert io.BytesIO(js.content).read(3) == b"/**"
    packed = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.content == js.content
    assert int(packed.headers["content-length"]) < len(js.content) / 2


def test_a_value_only_run_gets_an_answer_about_value() -> None:
    from segmentum.app.pages.answer import fallback_answer

    report = {"title": "CDNOW: customer value report",
              "sections": [{"key": "value", "summary": "The top 10 % bring 47 % of revenue."}]}  # fmt: skip
    value = {"customers": 2357, "top_decile_revenue_share": 0.4712}
    got = fallback_answer(report, {"value": value}, {})
    assert got["kind"] == "value" and got["headline"] == report["sections"][0]["summary"]
    assert {"label": "Top 10 %'s revenue", "value": "47 %"} in got["figures"]  # the report's
    assert got["segments"] == [] and fallback_answer({}, {}, {})["kind"] == "inputs"


def test_an_older_runs_answer_reads_like_the_reports_own(run_dir: Path) -> None:
    """A run without ``report.json["answer"]`` gets one built from its JSON files with the
    report's questions, cards and figures: on the demo run, the same as the report's."""
    from segmentum.app.pages.answer import fallback_answer

    def read(name: str) -> Any:
        return json.loads((run_dir / name).read_text(encoding="utf-8"))

    report = read("report.json")
    own = report.pop("answer")
    got = fallback_answer(report, read("segments.json"), read("activation.json"))
    assert got["kind"] == own["kind"] == "segments" and got["title"] == own["title"]
    assert got["headline"] == own["headline"]
    assert [(p["question"], p["href"]) for p in got["points"]] == [
        (p["question"], p["href"]) for p in own["points"]
    ]
    whom, own_whom = got["points"][0]["text"], own["points"][0]["text"]
    assert whom == own_whom, (whom, own_whom)
    cards = [(c["segment"], c["name"], c["rank"], c["facts"][:3], c["stage_mix"], c["offer"])
             for c in got["segments"]]  # fmt: skip
    assert cards == [
        (c["segment"], c["name"], c["rank"], c["facts"][:3], c["stage_mix"], c["offer"])
        for c in own["segments"]
    ]
    labels = [f["label"] for f in got["figures"]]
    assert labels == [f["label"] for f in own["figures"]]


def test_the_navigation_offers_only_what_a_run_has(tmp_path: Path) -> None:
    from segmentum.app.core import RunView
    from segmentum.app.pages.base import nav

    run = RunView(tmp_path, {"run_id": "R", "files": {"report.json": "0"}})
    run.__dict__["report"] = {"sections": [{"key": "overview"}, {"key": "value"}]}  # value only
    assert nav(run) == [("/runs/R", "Answer"), ("/runs/R/value", "Value")]
    run.manifest["files"]["model/typing_tool.json"] = "0"
    assert ("/runs/R/type", "Typing tool") in nav(run)


def test_a_section_the_report_templates_cannot_render_is_shown_plainly() -> None:
    from segmentum.app.pages.base import section_html

    # a table block of another report format (no `cells`): the report's template fails
    odd = {"key": "value", "title": "Customer value", "summary": "Top <10 %>.", "warnings": [],
           "blocks": [{"kind": "table", "id": "value-1", "caption": "", "columns": ["a"],
                       "rows": [[1]], "index_columns": 0, "n_rows": 1, "note": ""},
                      {"kind": "figure", "id": "value-2", "caption": "",
                       "figure": {"data": [{"type": "bar", "y": [1]}], "layout": {}}}]}  # fmt: skip
    shown = str(section_html(odd))
    assert 'id="value-1"' in shown and 'id="value-2"' in shown and "Top &lt;10 %&gt;." in shown
