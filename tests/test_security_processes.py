"""Processes and locks: workers die with a killed run, kills leave no half run, the
catalogue waits for a lock and then says why, concurrent runs both succeed."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segmentum.cli.main import app
from segmentum.project import Project
from segmentum.runs import Catalogue, CatalogueBusy, CatalogueError

linux_only = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="finds processes through /proc"
)


def survey_project(folder: Path, shared_data: Path, n_boot: int = 400) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared_data / "msa" / "mcdonalds.csv", folder / "survey.csv")
    items = "yummy convenient spicy fattening greasy fast cheap tasty expensive healthy disgusting"
    basis = ", ".join(f'"{c}"' for c in items.split())
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "msa"\nseed = 1\n\n[sources.survey]\npath = "survey.csv"\n'
        f"basis = [{basis}]\n\n[segments]\nk_range = [2, 6]\nn_boot = {n_boot}\n"
        "n_init = 3\nn_jobs = 2\n"
    )
    return folder / "segmentum.toml"


def tagged(tag: str) -> list[int]:
    """Processes whose environment carries ``tag`` (the run and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"SEGMENTUM_TEST_TAG={tag}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def is_worker(pid: int) -> bool:
    return b"LokyProcess" in cmdline(pid)


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_gone(tag: str, seconds: float = 15.0) -> list[int]:
    """Wait for every tagged process to end; kill (and return) any still there after."""
    deadline = time.time() + seconds
    while (left := tagged(tag)) and time.time() < deadline:
        time.sleep(0.1)
    for pid in left:  # do not leave them running when the test fails
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


def start_run(project_file: Path, tag: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SEGMENTUM_TEST_TAG": tag, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "segmentum.cli.main", "run", str(project_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def finished_runs(project_file: Path) -> list[str]:
    runs = project_file.parent / "runs"
    return (
        sorted(p.name for p in runs.iterdir() if not p.name.startswith("."))
        if runs.is_dir()
        else []
    )


@linux_only
def test_kill_during_segments_leaves_no_worker_behind(tmp_path: Path, shared_data: Path) -> None:
    # bootstrap draws enough to keep the workers busy for a minute (400 take 2.5 s of CPU
    # a worker on a quiet machine: the run could end before the kill)
    project_file = survey_project(tmp_path / "p", shared_data, n_boot=8_000)
    tag = uuid.uuid4().hex
    proc = start_run(project_file, tag)
    try:
        deadline = time.time() + 240
        # the segments stage's bootstrap runs in loky workers: wait until they compute
        while len([p for p in tagged(tag) if cpu_seconds(p) > 1.5 and is_worker(p)]) < 2:
            assert proc.poll() is None, "the run ended before its workers got to work"
            assert time.time() < deadline, "no worker process ever started"
            time.sleep(0.05)
        children = [p for p in tagged(tag) if p != proc.pid]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = wait_until_gone(tag)
    assert not left, f"{len(left)} of {len(children)} child processes outlived the run: {left}"
    assert finished_runs(project_file) == []  # no half run


@linux_only
def test_kills_at_random_points_leave_no_orphan_and_no_half_run(
    tmp_path: Path, shared_data: Path
) -> None:
    project_file = survey_project(tmp_path / "p", shared_data, n_boot=16)
    first = Project.load(project_file).run()
    rng = random.Random(11)
    for _ in range(3):
        tag = uuid.uuid4().hex
        proc = start_run(project_file, tag)
        time.sleep(rng.uniform(0.5, 8.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not wait_until_gone(tag), "a process outlived the killed run"
        runs = finished_runs(project_file)
        assert first.run_id in runs
        for name in runs:  # every folder is a whole run (a kill after the rename is fine)
            manifest = json.loads(
                (project_file.parent / "runs" / name / "manifest.json").read_text()
            )
            assert manifest["run_id"] == name and manifest["files"]
    # the next run cleans the dead runs' temporaries and lists every whole run
    result = CliRunner().invoke(app, ["run", str(project_file)])
    assert result.exit_code == 0, result.output
    assert not list((project_file.parent / "runs").glob(".tmp-*"))
    catalogue = Catalogue(project_file.parent, project_file.parent / "runs")
    assert sorted(catalogue.runs()["run_id"]) == finished_runs(project_file)


LOCKER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INT)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_catalogue(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the catalogue's DuckDB file for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def customers_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text("customer_id,age\nC1,34\nC2,51\nC3,29\n")
    (folder / "segmentum.toml").write_text(
        '[project]\nname = "tiny"\n\n[sources.customers]\npath = "customers.csv"\n'
        'descriptors = ["age"]\n'
    )
    return folder / "segmentum.toml"


def test_catalogue_waits_for_a_short_lock(tmp_path: Path) -> None:
    project = Project.load(customers_project(tmp_path))
    project.run()
    holder = hold_catalogue(project.catalogue.path, 2.0)
    try:
        t = time.perf_counter()
        project.catalogue.reconcile()  # waits for the other process instead of failing
        waited = time.perf_counter() - t
    finally:
        holder.wait()
    assert waited >= 1.0
    holder = hold_catalogue(project.catalogue.path, 2.0)
    try:
        second = project.run()
    finally:
        holder.wait()
    assert second.run_id in set(project.catalogue.runs()["run_id"])


def test_catalogue_locked_too_long_says_why_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_file = customers_project(tmp_path)
    Project.load(project_file).run()
    monkeypatch.setattr("segmentum.runs.CATALOGUE_WAIT_S", 0.5)
    holder = hold_catalogue(tmp_path / "catalogue.duckdb", 20)
    try:
        with pytest.raises(CatalogueBusy, match="in use by another segmentum process"):
            Catalogue(tmp_path, tmp_path / "runs").runs()
        result = CliRunner().invoke(app, ["run", str(project_file)])
        listing = CliRunner().invoke(app, ["runs", str(project_file)], env={"COLUMNS": "250"})
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert "stayed locked" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    # `segmentum runs` still lists the runs, from their folders
    assert listing.exit_code == 0, listing.output
    assert "Listing the run folders instead" in listing.output
    assert len(finished_runs(project_file)) == 1
    assert finished_runs(project_file)[0] in listing.output


def test_committed_run_is_not_reported_failed_when_recording_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.load(customers_project(tmp_path))

    def busy(self: Catalogue, manifest: dict, run_dir: Path) -> None:
        raise CatalogueBusy("the run catalogue is in use by another segmentum process")

    monkeypatch.setattr(Catalogue, "record", busy)
    result = project.run()
    assert result.run_dir.is_dir() and (result.run_dir / "report.html").is_file()
    assert any(
        "the next run or `segmentum runs` will add it" in w for w in result.manifest["warnings"]
    )
    monkeypatch.undo()
    project.catalogue.reconcile()
    assert list(project.catalogue.runs()["run_id"]) == [result.run_id]


def test_two_concurrent_runs_both_succeed(tmp_path: Path) -> None:
    project_file = customers_project(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "segmentum.cli.main", "run", str(project_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert len(finished_runs(project_file)) == 3
    catalogue = Catalogue(tmp_path, tmp_path / "runs")
    assert sorted(catalogue.runs()["run_id"]) == finished_runs(project_file), outputs


def test_catalogue_file_being_created_is_waited_for_then_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("segmentum.runs.CATALOGUE_WAIT_S", 0.5)
    (tmp_path / "catalogue.duckdb").write_bytes(b"")  # as another process begins to write it
    t = time.perf_counter()
    with pytest.raises(CatalogueError, match="is not a DuckDB database") as info:
        Catalogue(tmp_path, tmp_path / "runs").runs()
    assert time.perf_counter() - t >= 0.5 and "Delete it" in str(info.value)


def test_runs_command_while_a_run_holds_the_catalogue(tmp_path: Path) -> None:
    project_file = customers_project(tmp_path)
    Project.load(project_file).run()
    holder = hold_catalogue(tmp_path / "catalogue.duckdb", 1.0)
    try:
        listing = CliRunner().invoke(app, ["runs", str(project_file)], env={"COLUMNS": "250"})
    finally:
        holder.wait()
    assert listing.exit_code == 0, listing.output
    assert finished_runs(project_file)[0] in listing.output


SLEEPERS = """
import sys, threading, time
from pathlib import Path
from joblib import Parallel, delayed
from segmentum.parallel import workers_die_with_parent

def task(i):
    Path(sys.argv[2], f"started-{i}").touch()  # the worker is past its start-up
    time.sleep(60)

def work():
    with workers_die_with_parent():
        Parallel(n_jobs=2)(delayed(task)(i) for i in range(2))

if sys.argv[1] == "main":
    work()
else:  # from another thread: no PR_SET_PDEATHSIG, the parent watch alone must do it
    t = threading.Thread(target=work)
    t.start()
    t.join()
"""


@linux_only
@pytest.mark.parametrize("thread", ["main", "side"])
def test_busy_workers_end_with_a_killed_parent(thread: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    env = {**os.environ, "SEGMENTUM_TEST_TAG": tag}
    proc = subprocess.Popen([sys.executable, "-c", SLEEPERS, thread, str(tmp_path)], env=env)
    try:
        deadline = time.time() + 120
        while len(list(tmp_path.glob("started-*"))) < 2:  # both workers inside a task
            assert proc.poll() is None and time.time() < deadline, "no task started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    t = time.perf_counter()
    left = wait_until_gone(tag)
    assert not left, f"{thread} thread: processes outlived their parent: {left}"
    assert time.perf_counter() - t < 10
