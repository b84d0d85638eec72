"""The scoring and read API (``/api/v1``) against the real server and the CLI.

The same rows scored through ``segmentum score`` and through the API give the same values
(batch and single row); errors name the row and the column; the read routes return what
the run folder holds; ``serve --get`` and ``keys create`` keep their contract; the README's
``curl`` example runs as written.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.app.keys import KeyStore
from segmentum.cli.main import app as cli
from segmentum.valuation.export import load_typing_tool

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(app_demo: Path) -> Path:
    (run,) = sorted(p for p in (app_demo / "runs").iterdir() if p.is_dir())
    return run


@pytest.fixture(scope="module")
def api(app_server: Any) -> httpx.Client:
    return httpx.Client(base_url=app_server.base_url, timeout=60)


def _auth(app_server: Any, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_server.keys[scope]}"}


def _cli_score(run_dir: Path, frame: pd.DataFrame, kind: str, tmp_path: Path) -> pd.DataFrame:
    """``segmentum score RUN --answers/--leads FILE`` on ``frame`` written as CSV."""
    src, out = tmp_path / f"{kind}.csv", tmp_path / f"{kind}-scored.csv"
    frame.to_csv(src, index=False)
    result = CliRunner().invoke(
        cli, ["score", str(run_dir), f"--{kind}", str(src), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return pd.read_csv(out)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON objects (an empty cell is null), as a CRM would send them."""
    return json.loads(frame.to_json(orient="records"))


def _assert_same(api_rows: list[dict[str, Any]], cli_frame: pd.DataFrame) -> None:
    got = pd.DataFrame(api_rows)
    assert list(got.columns) == list(cli_frame.columns)
    assert len(got) == len(cli_frame)
    for col in cli_frame.columns:
        want = cli_frame[col]
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(got[col].to_numpy(float), want.to_numpy(), atol=1e-13)
        else:
            assert got[col].tolist() == want.tolist(), col


def _inputs(app_demo: Path, run_dir: Path, tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads (with and without golden answers) and complete answers, read back from CSV
    so that the CLI and the API see the same cells."""
    tool = load_typing_tool(run_dir)
    leads = pd.read_parquet(app_demo / "data" / "leads.parquet").head(120)
    survey = pd.read_parquet(app_demo / "data" / "survey.parquet")
    answers = survey[["respondent_id", *tool.items]].dropna().head(80)
    leads.to_csv(tmp_path / "l.csv", index=False)
    answers.to_csv(tmp_path / "a.csv", index=False)
    return pd.read_csv(tmp_path / "l.csv"), pd.read_csv(tmp_path / "a.csv")


def test_scoring_api_gives_what_the_cli_writes(
    app_server: Any, api: httpx.Client, app_demo: Path, run_dir: Path, tmp_path: Path
) -> None:
    leads, answers = _inputs(app_demo, run_dir, tmp_path)
    assert leads.filter(like="need_").isna().all(axis=1).any()  # some leads skip the questions
    for kind, path, frame in (
        ("leads", "/api/v1/score/leads", leads),
        ("answers", "/api/v1/score/respondents", answers),
    ):
        want = _cli_score(run_dir, frame, kind, tmp_path)
        batch = api.post(path, json={"rows": _rows(frame)}, headers=_auth(app_server, "score"))
        assert batch.status_code == 200, batch.text
        _assert_same(batch.json()["rows"], want)
        # one row takes the fast path: the same fields and values as row 1 of the file
        for i in (0, 1, len(frame) - 1):
            one = api.post(
                path + f"?run={run_dir.name}",
                json={"rows": [_rows(frame)[i]]},
                headers=_auth(app_server, "admin"),
            )
            assert one.status_code == 200, one.text
            _assert_same(one.json()["rows"], want.iloc[[i]].reset_index(drop=True))
    scored = api.post(
        "/api/v1/score/leads", json={"rows": _rows(leads)}, headers=_auth(app_server, "score")
    ).json()["rows"]
    assert {r["method"] for r in scored} == {"lead_model", "typing_tool"}


def test_single_row_needs_no_dataframe(
    app_demo: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One row is scored without the table scorers (the fast path), batches with them."""
    from fastapi.testclient import TestClient

    from segmentum.activation.leads import LeadScorer
    from segmentum.app import create_app

    leads = pd.read_parquet(app_demo / "data" / "leads.parquet").head(2)
    client = TestClient(create_app(app_demo / "segmentum.toml"))
    _, key = KeyStore(app_demo).create("score", "fast path test")

    def no_table(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the DataFrame scorer was called")

    monkeypatch.setattr(LeadScorer, "score", no_table)
    monkeypatch.setattr(importlib.import_module("segmentum.valuation.score"), "_check", no_table)
    headers = {"Authorization": f"Bearer {key}"}
    one = client.post("/api/v1/score/leads", json={"rows": _rows(leads)[:1]}, headers=headers)
    assert one.status_code == 200 and one.json()["rows"][0]["lead_id"] == leads["lead_id"][0]
    tool = load_typing_tool(run_dir)
    person = {item: 3 for item in tool.items}
    answer = client.post("/api/v1/score/respondents", json={"rows": [person]}, headers=headers)
    assert answer.status_code == 200 and answer.json()["rows"][0]["row"] == 1
    with pytest.raises(AssertionError, match="DataFrame scorer"):
        client.post("/api/v1/score/leads", json={"rows": _rows(leads)}, headers=headers)


def test_errors_name_the_row_and_the_column(
    app_server: Any, api: httpx.Client, app_demo: Path, run_dir: Path
) -> None:
    tool = load_typing_tool(run_dir)
    rows = [{"respondent_id": f"r{i}", **{item: 4 for item in tool.items}} for i in range(5)]
    item = tool.items[2]
    rows[2][item] = None  # row 3 did not answer
    headers = _auth(app_server, "score")
    for sent, row in ((rows, 3), ([rows[2]], 1)):
        bad = api.post("/api/v1/score/respondents", json={"rows": sent}, headers=headers)
        assert bad.status_code == 422, bad.text
        problems = bad.json()["problems"]
        assert {"field": item, "row": row, "reason": "no answer"}.items() <= problems[0].items()
        assert item in bad.json()["detail"] and "Traceback" not in bad.text
    lead = _rows(pd.read_parquet(app_demo / "data" / "leads.parquet").head(2))
    lead[1]["age"] = "forty"
    bad = api.post("/api/v1/score/leads", json={"rows": lead}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["problems"][0] | {"value": "forty"} == {
        "field": "age", "row": 2, "value": "forty", "reason": "not a number",
        "expected": "a number",
    }  # fmt: skip
    # the body's own shape: field and reason from the schema
    for body, field in (
        ({"rows": []}, "rows"),
        ({"rows": [{"a": 1}] * 10_001}, "rows"),
        ({"rows": [{"a": {"nested": 1}}]}, "rows.0.a"),
        ({"rows": [{"a": 1}], "extra": 1}, "extra"),
        ({"rows": [{"a": 10**400}]}, "rows.0.a"),  # no finite double
        ({"rows": [{"a": [1, 2]}]}, "rows.0.a"),
    ):
        bad = api.post("/api/v1/score/leads", json=body, headers=headers)
        assert bad.status_code == 422, (field, bad.text)
        assert field in [d["field"] for d in bad.json()["detail"]], bad.text
    not_json = api.post(
        "/api/v1/score/leads",
        content=b'{"rows": [',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["field"] == "body"
    unknown = api.post("/api/v1/score/leads?run=20200101-000000.000-abcd", json={"rows": lead})
    assert unknown.status_code == 401  # no key: nothing about the run is said
    unknown = api.post(
        "/api/v1/score/leads?run=20200101-000000.000-abcd", json={"rows": lead}, headers=headers
    )
    assert unknown.status_code == 404 and "no run" in unknown.json()["detail"]


def test_read_routes_return_the_run_folder(
    app_server: Any, api: httpx.Client, run_dir: Path
) -> None:
    headers = _auth(app_server, "read")
    runs = api.get("/api/v1/runs", headers=headers).json()
    assert isinstance(runs, list) and runs[0]["run_id"] == run_dir.name
    summary = api.get(f"/api/v1/runs/{run_dir.name}", headers=headers)
    assert summary.json() == api.get("/api/v1/runs/latest", headers=headers).json()
    assert summary.json()["stages"]["segments"]["status"] == "ran"
    assert str(app_server.folder) not in summary.text  # server paths stay on the server
    segs_file = json.loads((run_dir / "segments.json").read_text())
    segs = api.get("/api/v1/runs/latest/segments", headers=headers).json()
    assert segs["structure"] == segs_file["segmentation"]["structure"]
    assert segs["k"] == len(segs["segments"]) == len(segs_file["segments"])
    assert [s["size"] for s in segs["segments"]] == [s["size"] for s in segs_file["segments"]]
    assert all(0 < s["stability"] <= 1 for s in segs["segments"])
    prio = api.get("/api/v1/runs/latest/priorities", headers=headers).json()["segments"]
    ranks = [p["rank"] for p in prio]
    assert ranks == sorted(ranks) and {p["segment"] for p in prio} == {
        s["segment"] for s in segs_file["segments"]
    }
    want = [
        f["path"] for f in json.loads((run_dir / "audiences/manifest.json").read_text())["files"]
    ]
    listed = api.get("/api/v1/runs/latest/audiences", headers=headers).json()["audiences"]
    assert [a["name"] for a in listed] == want
    before = len(KeyStore(app_server.folder).downloads())
    name = next(a["name"] for a in listed if a["name"].endswith(".csv"))
    got = api.get(f"/api/v1/runs/latest/audiences/{name}", headers=headers)
    assert got.status_code == 200 and got.content == (run_dir / "audiences" / name).read_bytes()
    assert got.headers["content-type"].startswith("text/csv")
    log = KeyStore(app_server.folder).downloads()
    assert len(log) == before + 1 and log[-1][2:4] == (run_dir.name, f"audiences/{name}")
    for path in (
        "/api/v1/runs/20200101-000000.000-abcd",
        "/api/v1/runs/not-a-run/segments",
        "/api/v1/runs/latest/audiences/nope.csv",
        "/api/v1/runs/latest/audiences/..%2Fmanifest.json",
        "/api/v1/runs/latest/audiences/manifest.json",
    ):
        missing = api.get(path, headers=headers)
        assert missing.status_code == 404, (path, missing.text)


def test_schema_and_docs_behind_a_key(app_server: Any, api: httpx.Client) -> None:
    assert api.get("/api/v1/openapi.json").status_code == 401
    assert api.get("/api/docs").status_code == 401
    schema = api.get("/api/v1/openapi.json", headers=_auth(app_server, "read")).json()
    paths = set(schema["paths"])
    assert {"/api/v1/score/leads", "/api/v1/score/respondents", "/api/v1/runs"} <= paths
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    request = schema["components"]["schemas"]["ScoreRequest"]["properties"]["rows"]
    assert request["maxItems"] == 10_000 and request["minItems"] == 1
    docs = api.get("/api/docs", headers=_auth(app_server, "read"))
    assert docs.headers["content-type"].startswith("text/html")
    assert all(p in docs.text for p in paths) and "<script" not in docs.text


def test_serve_get_for_scripts(app_server: Any) -> None:
    project = str(app_server.folder / "segmentum.toml")
    ok = CliRunner().invoke(
        cli, ["serve", project, "--get", "/api/v1/runs", "--key", app_server.keys["read"]]
    )
    assert ok.exit_code == 0, ok.output
    assert isinstance(json.loads(ok.stdout), list)
    refused = CliRunner().invoke(cli, ["serve", project, "--get", "/api/v1/runs"])
    assert refused.exit_code == 1 and "401" in refused.output
    env = CliRunner().invoke(
        cli,
        ["serve", project, "--get", "/api/v1/runs/latest/segments"],
        env={"SEGMENTUM_KEY": app_server.keys["read"]},
    )
    assert env.exit_code == 0 and json.loads(env.stdout)["k"] > 1


def test_keys_create_prints_the_key_alone_on_its_last_line(app_server: Any) -> None:
    project = str(app_server.folder / "segmentum.toml")
    for scope in ("read", "score", "admin"):
        result = CliRunner().invoke(cli, ["keys", "create", "--scope", scope, "-p", project])
        assert result.exit_code == 0, result.output
        out = result.stdout
        last = out.rstrip("\n").splitlines()[-1]
        assert re.fullmatch(r"sgm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", last), out
        found = KeyStore(app_server.folder).verify(last)
        assert found is not None and found.scope == scope
        assert httpx.get(
            f"{app_server.base_url}/api/v1/runs", headers={"Authorization": f"Bearer {last}"}
        ).status_code == (403 if scope == "score" else 200)


def _readme_curl() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL) if "curl" in b]
    assert blocks, "README has no curl example"
    return blocks[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_example_runs(app_server: Any) -> None:
    script = _readme_curl().replace("http://127.0.0.1:8000", app_server.base_url)
    env = {**os.environ, "SEGMENTUM_KEY": app_server.keys["score"]}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert len(rows) == 1 and {"segment", "score", "keep", "reason"} <= set(rows[0])


def test_score_one_matches_a_one_row_table(app_demo: Path, run_dir: Path) -> None:
    """The lead scorer's fast path gives what :meth:`LeadScorer.score` gives, edge cells too."""
    from segmentum.activation.leads import load_lead_scorer
    from segmentum.data.errors import DataError

    scorer = load_lead_scorer(run_dir)
    leads = _rows(pd.read_parquet(app_demo / "data" / "leads.parquet").head(60))
    base = {k: leads[1][k] for k in ("lead_id", "age", "gender", "region", "n_vehicles", "source")}
    item = scorer.typing_tool.items[0]  # type: ignore[union-attr]
    edge = [
        {**base, "age": None},  # numeric missing: the customers' median
        {**base, "age": ""},
        {**base, "region": "Atlantis", "source": None},  # unseen and missing levels
        {**base, "region": 3},  # a number where a level is expected
        {**base, "age": True},
        {**leads[0], item: ""},  # one golden answer left empty: the lead model
        {"age": 30, **{k: v for k, v in base.items() if k != "age"}},  # id not first
    ]
    for row in [*leads, *edge]:
        one = scorer.score_one(row)
        want = scorer.score(pd.DataFrame([row])).iloc[0].to_dict()
        assert list(one) == list(want)
        for k, v in one.items():
            if isinstance(v, float):
                assert v == pytest.approx(want[k], abs=1e-12), (k, row)
            else:
                assert v == want[k] or str(v) == str(want[k]), (k, v, want[k], row)
    for row, column in (
        ({**base, "age": "old"}, "age"),
        ({**leads[0], item: 99}, item),
        ({k: v for k, v in base.items() if k != "region"}, "region"),
    ):
        with pytest.raises(DataError) as fast:
            scorer.score_one(row)
        with pytest.raises(DataError) as table:
            scorer.score(pd.DataFrame([row]))
        assert [(p.row, p.column) for p in fast.value.problems] == [
            (p.row, p.column) for p in table.value.problems
        ]
        assert fast.value.problems[0].column == column
