"""Safe to open: nothing in a run folder runs code, SQL sources only read, and paths stay
inside the project folder unless the project file says otherwise."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum import model_store
from segmentum.cli.main import app
from segmentum.data import ProjectError, ingest, load_config
from segmentum.project import Project
from segmentum.runs import (
    TMP_MARKER,
    Catalogue,
    CatalogueError,
    RunFolder,
    clean_stale_temporaries,
    new_run_id,
)
from segmentum.segments import persist
from segmentum.segments.stage import SegmentsConfig, run_segments

runner = CliRunner()
ITEMS = "yummy convenient spicy fattening greasy fast cheap tasty expensive healthy disgusting"
BASIS = ITEMS.split()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, " ".join((result.output or "").split())


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- no code from a run folder ---------------------------------------------------------


class Payload:
    """Unpickling this creates a folder: the proof that code from a file ran."""

    def __init__(self, proof: Path):
        self.proof = proof

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.proof),)


@pytest.fixture()
def survey_project(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(shared_data / "msa" / "mcdonalds.csv", folder / "survey.csv")
    basis = ", ".join(f'"{c}"' for c in BASIS)
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "msa"\nseed = 3\n\n[sources.survey]\npath = "survey.csv"\n'
        f"basis = [{basis}]\n\n[segments]\nk_range = [2, 4]\nn_boot = 4\nn_init = 2\n"
        "n_jobs = 1\n"
    )
    return folder / "segmentum.toml"


def plant_run(runs_dir: Path, run_id: str, started_at: str, proof: Path) -> Path:
    """A run folder someone sent: a pickle that runs code, and a crafted data model."""
    folder = runs_dir / run_id
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "segments.joblib").write_bytes(pickle.dumps(Payload(proof)))
    crafted = {
        "format": model_store.FORMAT,
        "version": model_store.FORMAT_VERSION,
        "root": {"$obj": {"id": 0, "type": "subprocess.Popen", "state": {}}},
    }
    (folder / "model" / "segments_model.json").write_text(json.dumps(crafted))
    np.savez(folder / "model" / "segments_model.npz")
    pd.DataFrame({"respondent_id": ["1"], "segment": [1]}).to_parquet(
        folder / "model" / "segments_previous.parquet"
    )
    files = {"model/segments_previous.parquet": "0" * 64}
    manifest = {"run_id": run_id, "started_at": started_at, "stages": {}, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_planted_run_folder_is_never_loaded(survey_project: Path, tmp_path: Path) -> None:
    proof = tmp_path / "code-ran"
    project = Project.load(survey_project)
    real = project.run()
    runs_dir = survey_project.parent / "runs"
    # from the future: would sort first and pose as the latest run
    future = plant_run(runs_dir, "29990101-000000.000-beef", "2999-01-01T00:00:00+00:00", proof)
    # a current id whose manifest agrees but whose files do not match it
    now_id = new_run_id()
    started = f"{now_id[:4]}-{now_id[4:6]}-{now_id[6:8]}T{now_id[9:11]}:{now_id[11:13]}:"
    started += f"{now_id[13:15]}.{now_id[16:19]}+00:00"
    tampered = plant_run(runs_dir, now_id, started, proof)
    # and a catalogue row pointing at the future folder, as if an older version took it in
    Catalogue(project.folder, runs_dir).record(
        {"run_id": future.name, "started_at": "2999-01-01T00:00:00"}, future
    )

    code, output = cli("run", str(survey_project))
    assert code == 0, output
    assert not proof.exists(), "code from a planted run folder ran"
    latest = sorted(p for p in runs_dir.iterdir() if p.name not in (future.name, tampered.name))
    manifest = json.loads((latest[-1] / "manifest.json").read_text())
    assert manifest["previous_run"] == real.run_id  # the genuine run, not the planted ones
    warnings = " ".join(manifest["warnings"])
    assert "29990101-000000.000-beef" in warnings and "in the future" in warnings
    assert now_id in warnings and "does not list" in warnings
    assert "in the future" in output  # the CLI shows why
    assert future.name not in {f.name for f, _ in Catalogue(project.folder, runs_dir).scan()}
    # loading the crafted model refuses the class instead of creating it
    with pytest.raises(model_store.UntrustedModelError, match=r"subprocess\.Popen"):
        persist.load_model(future)
    assert not proof.exists()


def test_edited_file_in_a_run_stops_it_being_previous(survey_project: Path) -> None:
    project = Project.load(survey_project)
    first = project.run()
    assert project.catalogue.latest() == first.run_dir
    prev = first.run_dir / "model" / persist.PREVIOUS
    frame = pd.read_parquet(prev)
    frame["segment"] = 1
    frame.to_parquet(prev, index=False)
    catalogue = project.catalogue
    assert catalogue.latest() is None
    assert "segments_previous.parquet does not match the checksum" in catalogue.warnings[0]
    second = project.run()
    assert second.manifest["previous_run"] is None


def test_manifest_lists_every_file_with_its_sha256(survey_project: Path) -> None:
    result = Project.load(survey_project).run()
    files = result.manifest["files"]
    on_disk = {
        p.relative_to(result.run_dir).as_posix()
        for p in result.run_dir.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert set(files) == on_disk and "model/segments_model.npz" in files
    for rel, digest in files.items():
        assert hashlib.sha256((result.run_dir / rel).read_bytes()).hexdigest() == digest
    assert not list(result.run_dir.rglob("*.joblib")) and not list(result.run_dir.rglob("*.pkl"))


@pytest.mark.parametrize(
    ("method", "weights", "reduce"),
    [
        ("kmeans", None, None),
        ("kmeans", "w", "pca"),
        ("gmm", None, None),
        ("gmm", "w", None),  # weighted EM: its class used to be local, so saving failed
        ("lca", None, None),
        ("kprototypes", None, None),
        ("ensemble", None, None),
    ],
)
def test_every_method_round_trips_without_pickle(
    shared_data: Path, tmp_path: Path, method: str, weights: str | None, reduce: str | None
) -> None:
    survey = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    survey.insert(0, "rid", [f"r{i}" for i in range(len(survey))])
    survey["w"] = np.where(survey["Gender"] == "Female", 0.8, 1.2)
    cfg = SegmentsConfig(k_range=(2, 4), n_boot=0, n_init=2, method=method, reduce=reduce, n_jobs=1)  # type: ignore[arg-type]
    result = run_segments(survey, id_column="rid", basis=BASIS, weights=weights, config=cfg)
    (tmp_path / "model").mkdir()
    persist.save_segments(result, tmp_path / "model")
    with np.load(tmp_path / "model" / f"{persist.MODEL}.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
    model = persist.load_model(tmp_path)
    assert type(model) is type(result.model)
    np.testing.assert_array_equal(model.predict(survey), result.model.predict(survey))
    np.testing.assert_allclose(
        model.predict_proba(survey).to_numpy(), result.model.predict_proba(survey).to_numpy()
    )
    previous = persist.load_previous(tmp_path)
    assert previous is not None
    pd.testing.assert_frame_equal(previous["assignments"], result.assignments[["rid", "segment"]])
    np.testing.assert_allclose(previous["centroids"].to_numpy(), result.centroids.to_numpy())


def test_model_store_refuses_untrusted_classes(tmp_path: Path) -> None:
    class Local:
        pass

    with pytest.raises(TypeError, match="not in the trusted list"):
        model_store.dump({"x": Local()}, tmp_path, "m", trusted=())
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]}, index=pd.Index([3, 5]))
    value = {"f": frame, 1: (np.float32(2.5), {"s"}), "inf": float("inf")}
    model_store.dump(value, tmp_path, "m", trusted=())
    back = model_store.load(tmp_path, "m", trusted=())
    pd.testing.assert_frame_equal(back["f"], frame)
    assert back[1] == (np.float32(2.5), {"s"}) and back["inf"] == float("inf")
    # a file naming a class that exists but is not trusted is refused on load
    header = json.loads((tmp_path / "m.json").read_text())
    header["root"] = {"$obj": {"id": 0, "type": "pathlib.Path", "state": {}}}
    (tmp_path / "m.json").write_text(json.dumps(header))
    with pytest.raises(model_store.UntrustedModelError, match=r"pathlib\.Path"):
        model_store.load(tmp_path, "m", trusted=())


# --- SQL sources only read ---------------------------------------------------------------

CUSTOMERS = "customer_id,age\nC1,34\nC2,51\nC3,29\n"


def query_project(folder: Path, query: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "sql"\n\n[sources.customers]\n'
        f'query = {json.dumps(query)}\n{extra}descriptors = ["age"]\n'
    )
    return folder / "segmentum.toml"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("COPY (SELECT 1 AS x) TO '{out}/x.csv'", "this is a COPY statement"),
        ("SELECT * FROM read_csv('customers.csv'); COPY (SELECT 1) TO '{out}/x.csv'", "found 2"),
        ("ATTACH '{out}/x.duckdb' AS x", "this is a ATTACH statement"),
        ("CREATE TABLE t AS SELECT 1", "this is a CREATE statement"),
        ("INSTALL httpfs", "only a SELECT may read a source"),
        ("SET enable_external_access = true", "this is a SET statement"),
        ("SELECT * FROM read_csv('{secret}')", "reads a file outside the project folder"),
        ("SELECT * FROM read_csv('../outside/secret.csv')", "outside the project folder"),
        ("SELECT * FROM read_csv('/etc/passwd')", "outside the project folder"),
        ("SELECT * FROM query('COPY (SELECT 1) TO ''{out}/x.csv''')", "sources.customers.query"),
        ("SELECT * FROM read_csv('customers.csv')) --", "sources.customers.query"),
    ],
)
def test_sql_source_only_reads_inside_the_project(tmp_path: Path, query: str, words: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("customer_id,age\nS1,1\n")
    text = query.format(out=outside, secret=outside / "secret.csv")
    project_file = query_project(tmp_path / "project", text)
    before, outside_before = snapshot(project_file.parent), snapshot(outside)
    for command in ("validate", "run"):
        code, output = cli(command, str(project_file))
        assert code == 2, output
        assert "sources.customers.query" in output and words in output, output
        assert "Traceback" not in output
    assert snapshot(project_file.parent) == before and snapshot(outside) == outside_before


def test_sql_source_reads_project_files_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_file = query_project(
        tmp_path / "project", "SELECT * FROM read_csv('customers.csv') WHERE age > 30"
    )
    # a file of the same name in the working folder must not be read instead
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "customers.csv").write_text("customer_id,age\nX1,99\nX2,98\nX3,97\n")
    monkeypatch.chdir(elsewhere)
    data = ingest(load_config(project_file), project_file.parent)
    assert sorted(data.frame("customers")["customer_id"]) == ["C1", "C2"]
    assert Path.cwd() == elsewhere


def test_sql_source_with_allow_outside_reads_there_and_is_named(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.csv").write_text("customer_id,age\nS1,40\n")
    query = f"SELECT * FROM read_csv('{outside / 'more.csv'}')"
    project_file = query_project(tmp_path / "project", query, extra="allow_outside = true\n")
    result = Project.load(project_file).run()
    assert list(result.data.frame("customers")["customer_id"]) == ["S1"]
    assert "sources.customers" in result.manifest["outside_project"]
    assert "Outside the project folder" in (result.run_dir / "report.html").read_text()


# --- paths stay inside the project folder --------------------------------------------------


def path_project(folder: Path, path: str, extra: str = "", project_extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "segmentum.toml").write_text(
        f'[project]\nname = "paths"\n{project_extra}\n[sources.customers]\n'
        f'path = "{path}"\n{extra}descriptors = ["age"]\n'
    )
    return folder / "segmentum.toml"


def test_path_outside_the_project_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(CUSTOMERS)
    project_file = path_project(tmp_path / "project", "../outside/secret.csv")
    for command in ("validate", "run"):
        code, output = cli(command, str(project_file))
        assert code == 2, output
        assert "[sources.customers] path = '../outside/secret.csv' is outside the project" in output
        assert "allow_outside = true" in output
    assert not (project_file.parent / "runs").exists()


def test_symlink_to_outside_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(CUSTOMERS)
    project_file = path_project(tmp_path / "project", "link.csv")
    (project_file.parent / "link.csv").symlink_to(secret)
    code, output = cli("validate", str(project_file))
    assert code == 2 and "is outside the project folder" in output and str(secret) in output


def test_allow_outside_reads_the_file_and_names_it(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "shared.csv"
    secret.parent.mkdir()
    secret.write_text(CUSTOMERS)
    project_file = path_project(
        tmp_path / "project", "../outside/shared.csv", extra="allow_outside = true\n"
    )
    code, output = cli("validate", str(project_file))
    assert code == 0 and f"allow_outside = true): sources.customers: {secret.resolve()}" in output
    result = Project.load(project_file).run()
    assert result.manifest["outside_project"] == {"sources.customers": str(secret.resolve())}
    assert str(secret.resolve()) in (result.run_dir / "report.html").read_text()


def test_table_source_database_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    con = duckdb.connect(str(outside / "crm.duckdb"))
    con.execute("CREATE TABLE c AS SELECT 'C1' AS customer_id, 3 AS age")
    con.close()
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "segmentum.toml").write_text(
        '[sources.customers]\ntable = "../outside/crm.duckdb:c"\ndescriptors = ["age"]\n'
    )
    with pytest.raises(ProjectError, match="outside the project folder"):
        ingest(load_config(folder / "segmentum.toml"), folder)
    text = (folder / "segmentum.toml").read_text().replace("[sources.customers]\n", "")
    (folder / "segmentum.toml").write_text("[sources.customers]\nallow_outside = true\n" + text)
    data = ingest(load_config(folder / "segmentum.toml"), folder)
    assert list(data.frame("customers")["customer_id"]) == ["C1"]


def test_runs_dir_outside_the_project_is_refused(tmp_path: Path) -> None:
    project_file = path_project(
        tmp_path / "project", "customers.csv", project_extra='runs_dir = "../x"\n'
    )
    code, output = cli("run", str(project_file))
    assert code == 2, output
    assert "[project] runs_dir = '../x' is outside the project folder" in output
    assert not (tmp_path / "x").exists()
    allowed = path_project(
        tmp_path / "p2", "customers.csv", project_extra='runs_dir = "../x"\nallow_outside = true\n'
    )
    result = Project.load(allowed).run()
    assert result.run_dir.parent == (tmp_path / "x").resolve()
    assert result.manifest["outside_project"] == {
        "project.runs_dir": str((tmp_path / "x").resolve())
    }


# --- only segmentum's own temporaries are cleaned --------------------------------------------


def test_only_marked_temporaries_are_cleaned(tmp_path: Path) -> None:
    users = tmp_path / ".tmp-my-notes"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    (users / ".pid").write_text("999999999")  # even with a dead pid, not ours
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / TMP_MARKER).write_text(json.dumps({"run_id": "x", "pid": 999999999}))
    (tmp_path / ".tmp-x").symlink_to(elsewhere)  # a link is never followed
    dead = RunFolder(tmp_path, new_run_id())
    dead.open()
    marker = json.loads((dead.tmp / TMP_MARKER).read_text())
    (dead.tmp / TMP_MARKER).write_text(json.dumps({**marker, "pid": 999999999}))
    (dead.tmp / ".pid").write_text("999999999")
    live = RunFolder(tmp_path, new_run_id())
    live.open()
    assert clean_stale_temporaries(tmp_path) == [dead.tmp]
    assert (users / "notes.txt").read_text() == "mine"
    assert (elsewhere / TMP_MARKER).exists() and live.tmp.is_dir()


def test_runs_dir_symlink_loop_is_a_project_error(tmp_path: Path) -> None:
    project_file = path_project(
        tmp_path / "project", "customers.csv", project_extra='runs_dir = "r1"\n'
    )
    (project_file.parent / "r1").symlink_to(project_file.parent / "r2")
    (project_file.parent / "r2").symlink_to(project_file.parent / "r1")
    code, output = cli("run", str(project_file))
    assert code == 2, output
    assert "[project] runs_dir = 'r1': cannot resolve it" in output


def test_init_with_a_file_outside_writes_allow_outside(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(CUSTOMERS)
    project_file = tmp_path / "project" / "segmentum.toml"
    project_file.parent.mkdir()
    code, output = cli("init", str(data / "customers.csv"), "-o", str(project_file))
    assert code == 0, output
    text = project_file.read_text()
    assert 'path = "../data/customers.csv"' in text and "allow_outside = true" in text
    assert cli("validate", str(project_file))[0] == 0


def test_crafted_catalogue_cannot_read_files(tmp_path: Path) -> None:
    project_file = path_project(tmp_path / "project", "customers.csv")
    con = duckdb.connect(str(project_file.parent / "catalogue.duckdb"))
    con.execute(f"CREATE VIEW runs AS SELECT * FROM read_text('{project_file}')")
    con.close()
    with pytest.raises(CatalogueError, match="Delete it"):
        Catalogue(project_file.parent, project_file.parent / "runs").runs()
    code, output = cli("runs", str(project_file))
    assert code == 1 and "cannot be used" in output and "Traceback" not in output


def test_runs_dir_linked_outside_is_refused(tmp_path: Path) -> None:
    project_file = path_project(tmp_path / "project", "customers.csv")
    (tmp_path / "elsewhere").mkdir()
    (project_file.parent / "runs").symlink_to(tmp_path / "elsewhere")
    code, output = cli("run", str(project_file))
    assert code == 2 and "[project] runs_dir = 'runs' is outside the project folder" in output
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_runs_lists_a_consistent_folder_with_missing_fields(tmp_path: Path) -> None:
    project_file = path_project(tmp_path / "project", "customers.csv")
    run_id = new_run_id()
    folder = project_file.parent / "runs" / run_id
    folder.mkdir(parents=True)
    from segmentum.runs import run_id_time

    when = run_id_time(run_id)
    assert when is not None
    (folder / "manifest.json").write_text(
        json.dumps({"run_id": run_id, "started_at": when.isoformat(), "stages": "odd", "seed": "x"})
    )
    code, output = cli("runs", str(project_file))
    assert code == 0 and run_id in output, output
