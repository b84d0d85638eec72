"""Audience files (issue 14): counts equal the assignments, the control group is in no
campaign file, formulas arrive as text in CSV and XLSX, and the manifest's checksums hold."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from segmentum.activation.audiences import write_audiences

EVIL = ['=HYPERLINK("http://x","y")', "+1-2", "-3", "@SUM(A1)", "\tTab", "\rCR"]


def people(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"Name {i}" for i in range(n)], dtype=object)
    names[: len(EVIL)] = EVIL
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "name": names,
            "email": [f"c{i}@example.com" for i in range(n)],
            "segment": rng.integers(1, 4, n),
            "stage": rng.choice(["browsing", "loyal", "lapsing"], n),
            "offer": rng.choice(["bundle", "upgrade"], n),
            "expected_value": rng.gamma(2.0, 50.0, n),
            "control": rng.random(n) < 0.1,
        }
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("run") / "audiences"
    p = people()
    files = write_audiences(
        folder, p, columns=["name", "email"], segment_names={1: "Price", 2: "Agent", 3: "Web"},
        bom=True,
    )  # fmt: skip
    return folder, p, files


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_counts_equal_the_assignments_and_control_is_apart(written) -> None:  # type: ignore[no-untyped-def]
    folder, p, _ = written
    campaign = p[~p["control"]]
    total = 0
    for s in (1, 2, 3):
        got = read_csv(folder / f"segment_{s}.csv")
        want = campaign[campaign["segment"] == s]
        assert got["customer_id"].tolist() == want["customer_id"].tolist()
        assert set(got["segment_name"]) == {{1: "Price", 2: "Agent", 3: "Web"}[s]}
        total += len(got)
        for stage in ("browsing", "loyal", "lapsing"):
            g = read_csv(folder / f"segment_{s}_{stage}.csv")
            w = want[want["stage"] == stage]
            assert sorted(g["customer_id"]) == sorted(w["customer_id"])
            assert set(g["stage"]) == {stage}
    assert total == len(campaign)
    control = read_csv(folder / "control.csv")
    assert set(control["customer_id"]) == set(p.loc[p["control"], "customer_id"])
    for f in folder.glob("*.csv"):
        if f.name != "control.csv":
            assert not set(read_csv(f)["customer_id"]) & set(control["customer_id"]), f.name
    offers = sum(len(read_csv(folder / f"offer_{o}.csv")) for o in ("bundle", "upgrade"))
    assert offers == len(campaign)
    head = read_csv(folder / "segment_1.csv").columns.tolist()
    assert head == ["customer_id", "name", "email", "segment", "segment_name", "stage", "offer",
                    "expected_value"]  # fmt: skip


def test_formulas_arrive_as_text_in_csv_and_xlsx(written) -> None:  # type: ignore[no-untyped-def]
    folder, p, _ = written
    evil = dict(zip(p["customer_id"][: len(EVIL)], EVIL, strict=True))
    seen_csv: dict[str, str] = {}
    seen_xlsx: dict[str, str] = {}
    for f in folder.glob("segment_?.csv"):
        raw = f.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # BOM asked for
        with f.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["customer_id"] in evil:
                    seen_csv[row["customer_id"]] = row["name"]
        wb = load_workbook(f.with_suffix(".xlsx"))
        for row in wb.active.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", (f.name, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
            if row[0].value in evil:
                seen_xlsx[row[0].value] = row[1].value.replace("\n", "\r")  # XML reads CR as LF
    in_campaign = {c for c in evil if not p.set_index("customer_id").loc[c, "control"]}
    assert set(seen_csv) == set(seen_xlsx) == in_campaign and in_campaign
    for c in in_campaign:
        assert seen_csv[c] == seen_xlsx[c] == "'" + evil[c]
    assert "'" + '=HYPERLINK("http://x","y")' in seen_csv.values()
    assert "'+1-2" in seen_csv.values()


def test_manifest_lists_every_file_with_rows_and_checksum(written) -> None:  # type: ignore[no-untyped-def]
    folder, p, files = written
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {f.name for f in folder.iterdir() if f.name != "manifest.json"}
    assert listed == on_disk
    for f in manifest["files"]:
        assert set(f) >= {"path", "rows", "sha256"}
        assert hashlib.sha256((folder / f["path"]).read_bytes()).hexdigest() == f["sha256"]
        if f["path"].endswith(".csv"):
            assert len(read_csv(folder / f["path"])) == f["rows"]
    assert files.summary()["people"] + files.summary()["control"] == len(p)


def test_without_stage_offer_or_control_only_segment_files(tmp_path: Path) -> None:
    p = people(60).drop(columns=["stage", "offer", "control"])
    files = write_audiences(tmp_path / "a", p, xlsx=False)
    assert sorted(f["path"] for f in files.files) == [f"segment_{s}.csv" for s in (1, 2, 3)]
    assert not (tmp_path / "a" / "segment_1.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(ValueError, match=r"\['phone'\] not found"):
        write_audiences(tmp_path / "b", p, columns=["phone"])


def test_large_files_are_csv_only_with_a_note(tmp_path: Path) -> None:
    files = write_audiences(tmp_path / "a", people(200), xlsx_max_rows=50)
    assert not any(f["path"].startswith("segment_1.") and f["path"].endswith("xlsx")
                   for f in files.files)  # fmt: skip
    assert any("over xlsx_max_rows" in n for n in files.notes)


def test_stage_and_offer_files_without_bom_hold_their_rows(tmp_path: Path) -> None:
    p = people(400, seed=3)
    files = write_audiences(tmp_path / "a", p, xlsx=False)
    campaign = p[~p["control"]]
    for f in files.files:
        got = read_csv(tmp_path / "a" / f["path"])
        assert len(got) == f["rows"], f["path"]
        if f["kind"] == "segment_stage":
            s, stage = f["path"].removesuffix(".csv").split("_", 2)[1:]
            want = campaign[(campaign["segment"] == int(s)) & (campaign["stage"] == stage)]
            assert sorted(got["customer_id"]) == sorted(want["customer_id"])
    assert not any(x.name.startswith(".") for x in (tmp_path / "a").iterdir())


def test_an_empty_offer_column_writes_no_offer_file(tmp_path: Path) -> None:
    p = people(50).assign(offer=None, stage=None)
    files = write_audiences(tmp_path / "a", p, xlsx=False)
    kinds = {f["kind"] for f in files.files}
    assert kinds == {"segment", "control"}
