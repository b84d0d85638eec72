"""Run folders are written atomically and recorded in the catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from segmentum import flow as stages_module
from segmentum.project import Project
from segmentum.registry import STAGES
from segmentum.runs import Catalogue, RunFolder, clean_stale_temporaries

CUSTOMERS = "customer_id,age,region\nC1,34,North\nC2,51,South\nC3,29,North\n"


def assert_self_contained(report: str) -> None:
    """Every script and style is inlined: nothing is fetched when the file opens."""
    assert "Plotly" in report
    assert not re.findall(r"<script[^>]*\ssrc=", report)
    assert not re.findall(r"<link[^>]*\shref=", report)


@pytest.fixture()
def customers_project(tmp_path: Path) -> Path:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "segmentum.toml").write_text(
        '[project]\nname = "tiny"\nseed = 7\n\n[sources.customers]\npath = "customers.csv"\n'
        'descriptors = ["age", "region"]\n'
    )
    return tmp_path / "segmentum.toml"


def test_run_writes_a_complete_folder(customers_project: Path) -> None:
    result = Project.load(customers_project).run()
    run_dir = result.run_dir
    assert run_dir.parent == customers_project.parent / "runs"
    for name in (
        "manifest.json",
        "assignments.parquet",
        "segments.json",
        "report.html",
        "model/VERSION.json",
    ):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert manifest["inputs"]["customers"]["rows_read"] == 3
    assert manifest["inputs"]["customers"]["fingerprint"].startswith("sha256:")
    assert manifest["stages"]["segments"]["status"] == "skipped"
    assert "no survey table" in manifest["stages"]["segments"]["reason"]
    assert "numpy" in manifest["versions"]
    report = (run_dir / "report.html").read_text()
    assert "no survey table is declared" in report
    assert_self_contained(report)
    assert not list(run_dir.parent.glob(".tmp-*"))


def test_catalogue_lists_runs_newest_first(customers_project: Path) -> None:
    project = Project.load(customers_project)
    first = project.run()
    second = project.run()
    runs = project.catalogue.runs()
    assert list(runs["run_id"]) == sorted([first.run_id, second.run_id], reverse=True)
    assert project.catalogue.latest() == second.run_dir


def test_failed_stage_leaves_no_run_and_keeps_earlier_ones(
    customers_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.load(customers_project)
    good = project.run()

    def boom(ctx: stages_module.StageContext) -> None:
        raise RuntimeError("stage crashed")

    broken = stages_module.Stage("boom", "Boom", lambda ctx: None, boom, lambda r: None)
    monkeypatch.setattr("segmentum.project.STAGES", (*STAGES, broken))
    with pytest.raises(RuntimeError, match="stage crashed"):
        project.run()
    runs_dir = customers_project.parent / "runs"
    assert sorted(p.name for p in runs_dir.iterdir()) == [good.run_id]
    assert list(project.catalogue.runs()["run_id"]) == [good.run_id]


def test_catalogue_reconciles_a_run_renamed_but_not_recorded(customers_project: Path) -> None:
    project = Project.load(customers_project)
    result = project.run()
    project.catalogue.path.unlink()  # as if killed between rename and record
    catalogue = Catalogue(project.folder, project.runs_dir)
    catalogue.reconcile()
    assert list(catalogue.runs()["run_id"]) == [result.run_id]


def test_stale_temporary_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path, "20260101-000000-dead")
    tmp = folder.open()
    (tmp / ".pid").write_text("999999999")
    live = RunFolder(tmp_path, "20260101-000000-live").open()  # our own pid: alive
    removed = clean_stale_temporaries(tmp_path)
    assert removed == [tmp]
    assert live.exists()


def test_assignments_have_one_row_per_customer_or_respondent() -> None:
    from segmentum.project import _merge_assignments

    value = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "clv": [1.0, 2.0, 3.0]})
    segments = pd.DataFrame(
        {
            "respondent_id": ["R1", "R2", "R3"],
            "customer_id": ["C2", None, "C9"],
            "segment": [1, 2, 2],
        }
    )
    merged = _merge_assignments([value, segments])
    assert len(merged) == 5  # C1, C3 (customers only), R1↔C2, R2 (no customer), R3↔C9
    row = merged.set_index("respondent_id").loc["R1"]
    assert row["customer_id"] == "C2" and row["clv"] == 2.0 and row["segment"] == 1
    assert merged["respondent_id"].notna().sum() == 3
    assert set(merged["customer_id"].dropna()) == {"C1", "C2", "C3", "C9"}


def test_quarantined_rows_are_written_beside_the_run_and_counted(
    tmp_path: Path, shared_data: Path
) -> None:
    tx = (shared_data / "cdnow" / "cdnow_sample_transactions.csv").read_text().splitlines()
    tx.insert(5, "1,4,1997-02-30,1,10.0")  # no such day
    tx.insert(9, "2,21,1997-03-01,1,-20.0")  # a return, not declared
    (tmp_path / "tx.csv").write_text("\n".join(tx) + "\n")
    (tmp_path / "segmentum.toml").write_text(
        '[project]\nanalysis_date = "1998-06-30"\non_bad_rows = "quarantine"\n\n'
        '[sources.transactions]\npath = "tx.csv"\ncustomer_id = "customer_id"\n'
        'timestamp = "date"\namount = "dollar_value"\n\n[value]\ntime_unit = "W"\n'
    )
    result = Project.load(tmp_path / "segmentum.toml").run()
    rejected = pd.read_parquet(result.run_dir / "rejected" / "transactions.parquet")
    assert list(rejected["source_row"]) == [5, 9]
    assert "not a date" in rejected["reason"].iloc[0]
    assert "negative amount" in rejected["reason"].iloc[1]
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["inputs"]["transactions"]["rows_rejected"] == 2
    assert manifest["inputs"]["transactions"]["rows_used"] == len(tx) - 1 - 2
    report = (result.run_dir / "report.html").read_text()
    assert "Rows were set aside as bad input" in report and "transactions: 2" in report
    assert result.outcomes["value"].status == "ran"
