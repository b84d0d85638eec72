"""Run folders and the catalogue of runs.

A run is written into a hidden temporary folder beside the others and renamed into place only
when everything in it is written, so a crash or a kill never leaves a half run, and earlier
runs are never touched. The temporary folder holds a marker file (:data:`TMP_MARKER`); only
folders with it are cleaned after a kill. The catalogue (``catalogue.duckdb`` in the project
folder) lists the finished runs; it is updated after the rename and rebuilt from the run
folders when a run finished but was not yet recorded.

Run folders are things people send each other, so nothing in one is trusted until checked:
the manifest records the SHA-256 of every other file (:func:`checksum_files`), the catalogue
takes in only folders whose name, manifest run id and start time agree and are not in the
future (:func:`check_identity`), and a run is handed out as the previous run only when its
files match (:func:`verify_run`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segmentum.data.errors import SegmentumError
from segmentum.version import __version__

CATALOGUE = "catalogue.duckdb"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
# segmentum writes this file into each temporary run folder it creates; only folders that
# hold it are ever cleaned up (a user's own ``.tmp-something`` folder is left alone).
TMP_MARKER = ".segmentum-run"
_PID_FILE = ".pid"
_NOT_CHECKSUMMED = {MANIFEST, TMP_MARKER, _PID_FILE}
RUN_ID_PATTERN = re.compile(r"^(\d{8}-\d{6})\.(\d{3})-[0-9a-f]{4}$")
# A manifest may be this far ahead of the local clock (another machine's clock); further
# in the future is refused, so a planted run cannot pose as the latest one forever.
CLOCK_SKEW = timedelta(minutes=5)
CATALOGUE_WAIT_S = 10.0  # how long a catalogue lock held by another process is waited for


class CatalogueError(SegmentumError):
    """The catalogue cannot be used (CLI exit code 1); the message says how to fix it."""

    exit_code = 1


class CatalogueBusy(CatalogueError):
    """The catalogue stayed locked by another segmentum process longer than we waited."""


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: ``20261123-051502.347-3fa9`` (UTC, to the millisecond)."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}.{now.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def run_id_time(run_id: str) -> datetime | None:
    """The UTC time a run id encodes, or ``None`` when it is not a run id."""
    match = RUN_ID_PATTERN.match(run_id)
    if match is None:
        return None
    try:
        base = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return base + timedelta(milliseconds=int(match.group(2)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_temporary(folder: Path) -> bool:
    """A real folder (not a link) holding the marker segmentum wrote for this run id."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    marker = folder / TMP_MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        payload = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and payload.get("run_id") == folder.name[len(TMP_PREFIX) :]


def _temporary_pid(folder: Path) -> int:
    for path, key in ((folder / _PID_FILE, None), (folder / TMP_MARKER, "pid")):
        try:
            text = path.read_text(encoding="utf-8")
            return int(json.loads(text)[key] if key else text)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return -1


def clean_stale_temporaries(runs_dir: Path) -> list[Path]:
    """Remove temporary folders left by runs that were killed (their process is gone).

    Only folders segmentum made are touched: named ``.tmp-<run id>``, a real folder, with
    the marker file it wrote when the run started.
    """
    removed: list[Path] = []
    if not runs_dir.is_dir():
        return removed
    for folder in sorted(runs_dir.glob(f"{TMP_PREFIX}*")):
        if not _is_our_temporary(folder):
            continue
        pid = _temporary_pid(folder)
        if pid > 0 and _pid_alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@dataclass
class RunFolder:
    """The folder a run writes into; :meth:`commit` moves it into place atomically."""

    runs_dir: Path
    run_id: str

    @property
    def tmp(self) -> Path:
        return self.runs_dir / f"{TMP_PREFIX}{self.run_id}"

    @property
    def final(self) -> Path:
        return self.runs_dir / self.run_id

    def open(self) -> Path:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir()
        marker = {"run_id": self.run_id, "pid": os.getpid(), "segmentum": __version__}
        (self.tmp / TMP_MARKER).write_text(json.dumps(marker), encoding="utf-8")
        (self.tmp / _PID_FILE).write_text(str(os.getpid()))
        return self.tmp

    def commit(self) -> Path:
        (self.tmp / _PID_FILE).unlink(missing_ok=True)
        (self.tmp / TMP_MARKER).unlink(missing_ok=True)
        _fsync_tree(self.tmp)
        os.replace(self.tmp, self.final)
        _fsync_dir(self.runs_dir)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _run_files(run_dir: Path) -> list[Path]:
    """Every file of a run folder except the manifest (and the temporary's marker files)."""
    out = []
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if len(rel.parts) == 1 and rel.name in _NOT_CHECKSUMMED:
            continue
        if path.is_symlink() or not path.is_dir():
            out.append(path)
    return out


def checksum_files(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in a run folder (``relative/path`` → hex digest)."""
    return {p.relative_to(run_dir).as_posix(): _sha256(p) for p in _run_files(run_dir)}


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """A run folder's manifest; raise ``ValueError`` saying why it cannot be used."""
    path = run_dir / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise ValueError("it has no manifest.json")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its manifest.json cannot be read ({exc})") from None
    if not isinstance(manifest, dict):
        raise ValueError("its manifest.json is not a JSON object")
    return manifest


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def check_identity(run_dir: Path, manifest: dict[str, Any], now: datetime | None = None) -> None:
    """The folder name, the manifest's run id and its start time agree, and it is not from
    the future; raise ``ValueError`` saying what does not."""
    now = now or datetime.now(UTC)
    run_id = manifest.get("run_id")
    if run_id != run_dir.name:
        raise ValueError(f"its manifest names run {run_id!r}, not the folder's {run_dir.name!r}")
    id_time = run_id_time(run_dir.name)
    if id_time is None:
        raise ValueError(f"{run_dir.name!r} is not a segmentum run id")
    started = _parse_time(manifest.get("started_at"))
    if started is None:
        raise ValueError(f"its started_at {manifest.get('started_at')!r} is not a time")
    if abs(started - id_time) > timedelta(seconds=1):
        raise ValueError(f"its started_at {started.isoformat()} does not match its run id")
    for key in ("started_at", "finished_at"):
        when = _parse_time(manifest.get(key))
        if when is not None and when > now + CLOCK_SKEW:
            raise ValueError(
                f"its {key} {when.isoformat()} is in the future (now {now.isoformat()})"
            )


def verify_run(run_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """Check a finished run folder before anything in it is used; return its manifest.

    Its id, manifest and start time must agree (:func:`check_identity`) and every file must
    match the SHA-256 the manifest recorded, with no file added or missing.

    Raises
    ------
    ValueError
        Saying why the folder cannot be trusted.
    """
    if run_dir.is_symlink():
        raise ValueError("it is a symbolic link")
    manifest = read_manifest(run_dir)
    check_identity(run_dir, manifest, now)
    recorded = manifest.get("files")
    if not isinstance(recorded, dict) or not recorded:
        raise ValueError("its manifest records no file checksums (an older segmentum wrote it)")
    present = {p.relative_to(run_dir).as_posix(): p for p in _run_files(run_dir)}
    added = sorted(set(present) - set(recorded))
    if added:
        raise ValueError(f"it holds files its manifest does not list: {', '.join(added[:5])}")
    missing = sorted(set(recorded) - set(present))
    if missing:
        raise ValueError(f"files its manifest lists are missing: {', '.join(missing[:5])}")
    for rel, path in present.items():
        if path.is_symlink():
            raise ValueError(f"{rel} is a symbolic link")
        if _sha256(path) != recorded[rel]:
            raise ValueError(f"{rel} does not match the checksum in its manifest")
    return manifest


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with contextlib.suppress(OSError), path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(root)


def write_json(path: Path, payload: Any) -> None:
    path.write_text(
        json.dumps(payload, indent=2, default=_json_default, ensure_ascii=False), encoding="utf-8"
    )


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    project VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    seconds DOUBLE,
    seed BIGINT,
    stages VARCHAR,
    n_segments INTEGER,
    path VARCHAR
)
"""


_COLUMNS = [
    "run_id",
    "project",
    "started_at",
    "finished_at",
    "seconds",
    "seed",
    "stages",
    "n_segments",
    "path",
]


_CATALOGUE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
}


def _typed(value: Any, kind: type) -> Any:
    """``value`` if it is a ``kind`` (bool is not a number here), else ``None``."""
    if isinstance(value, bool) and kind is not bool:
        return None
    if kind is float and isinstance(value, int):
        return float(value)
    return value if isinstance(value, kind) else None


def catalogue_row(manifest: dict[str, Any], run_dir: Path) -> list[Any]:
    """A manifest as one catalogue row; a field of the wrong type (a hand-edited or crafted
    manifest) is left empty rather than breaking the catalogue."""
    stages = manifest.get("stages")
    ran = [
        str(k)
        for k, v in (stages.items() if isinstance(stages, dict) else ())
        if isinstance(v, dict) and v.get("status") == "ran"
    ]
    started, finished = (_parse_time(manifest.get(k)) for k in ("started_at", "finished_at"))
    seed = _typed(manifest.get("seed"), int)
    n_segments = _typed(manifest.get("n_segments"), int)
    return [
        str(manifest["run_id"]),
        _typed(manifest.get("project"), str),
        None if started is None else started.astimezone(UTC).replace(tzinfo=None),
        None if finished is None else finished.astimezone(UTC).replace(tzinfo=None),
        _typed(manifest.get("seconds"), float),
        seed if seed is None or abs(seed) < 2**63 else None,
        ",".join(ran),
        n_segments if n_segments is None or abs(n_segments) < 2**31 else None,
        str(run_dir),
    ]


def _is_being_created(exc: duckdb.Error) -> bool:
    """What opening a catalogue file that another process has only begun to write says."""
    return "not a valid duckdb database file" in str(exc).lower()


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text or "conflicting" in text


@dataclass
class Catalogue:
    """The DuckDB table of finished runs in the project folder.

    Another segmentum process may hold the file for a moment (DuckDB allows one writer
    process); every access waits up to ``wait_s`` seconds (default
    :data:`CATALOGUE_WAIT_S`) for it, then raises
    :class:`CatalogueBusy` saying so. Only run folders whose id, manifest and start time
    agree are taken in, and :meth:`latest` checks a run's files before handing it out.
    """

    project_dir: Path
    runs_dir: Path
    wait_s: float | None = None  # None: CATALOGUE_WAIT_S
    warnings: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.project_dir / CATALOGUE

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        wait_s = CATALOGUE_WAIT_S if self.wait_s is None else self.wait_s
        deadline = time.monotonic() + wait_s
        delay = 0.05
        while True:
            try:
                # external access off: a crafted catalogue (a view over read_csv, say)
                # cannot read files through it
                con = duckdb.connect(str(self.path), read_only=read_only, config=_CATALOGUE_CONFIG)
                break
            except duckdb.Error as exc:
                transient = _is_being_created(exc)  # another process is creating the file
                if not (transient or _is_lock_conflict(exc)):
                    raise CatalogueError(
                        f"the run catalogue {self.path} cannot be opened "
                        f"({str(exc).splitlines()[0]}). Delete it: the next run or "
                        "`segmentum runs` rebuilds it from the run folders."
                    ) from None
                if time.monotonic() >= deadline and transient:
                    raise CatalogueError(
                        f"the run catalogue {self.path} is not a DuckDB database "
                        f"({str(exc).splitlines()[0]}). Delete it: the next run or "
                        "`segmentum runs` rebuilds it from the run folders."
                    ) from None
                if time.monotonic() >= deadline:
                    raise CatalogueBusy(
                        f"the run catalogue {self.path} is in use by another segmentum "
                        f"process and stayed locked for {wait_s:g} s "
                        f"({str(exc).splitlines()[0]}). Wait for the other run to finish, "
                        "then try again."
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            if not read_only:
                con.execute(_SCHEMA)
            yield con
        except duckdb.Error as exc:
            raise CatalogueError(
                f"the run catalogue {self.path} cannot be used ({str(exc).splitlines()[0]}). "
                "Delete it: the next run or `segmentum runs` rebuilds it from the run folders."
            ) from None
        finally:
            con.close()

    def record(self, manifest: dict[str, Any], run_dir: Path) -> None:
        with self._connect() as con:
            self._insert(con, manifest, run_dir)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], run_dir: Path) -> None:
        row = catalogue_row(manifest, run_dir)
        con.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def scan(self) -> list[tuple[Path, dict[str, Any]]]:
        """Finished run folders whose id, manifest and start time agree (newest first).

        Folders that do not are left out, each with a line in :attr:`warnings`.
        """
        found: list[tuple[Path, dict[str, Any]]] = []
        if not self.runs_dir.is_dir():
            return found
        for folder in sorted(self.runs_dir.iterdir(), reverse=True):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                manifest = read_manifest(folder)
                check_identity(folder, manifest)
            except ValueError as exc:
                if (folder / MANIFEST).exists() or RUN_ID_PATTERN.match(folder.name):
                    self._warn(f"run folder {folder.name} was not taken into the catalogue: {exc}")
                continue
            found.append((folder, manifest))
        return found

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def reconcile(self) -> None:
        """Record finished run folders the catalogue does not list yet (a kill after rename)."""
        if not self.runs_dir.is_dir():
            return
        folders = self.scan()
        with self._connect() as con:
            known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
            for folder, manifest in folders:
                if folder.name not in known:
                    self._insert(con, manifest, folder)

    def runs(self) -> pd.DataFrame:
        """All recorded runs, newest first."""
        if not self.path.exists():
            return pd.DataFrame(columns=_COLUMNS)
        with self._connect(read_only=True) as con:
            return con.execute("SELECT * FROM runs ORDER BY started_at DESC, run_id DESC").df()

    def runs_from_folders(self) -> pd.DataFrame:
        """The same table as :meth:`runs`, read from the run folders (no catalogue needed)."""
        rows = [catalogue_row(m, folder) for folder, m in self.scan()]
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        return frame.sort_values(["started_at", "run_id"], ascending=False, ignore_index=True)

    def latest(self) -> Path | None:
        """The newest finished run folder that exists and passes :func:`verify_run` (found by
        run id under the runs folder, so a moved project still finds its runs).

        Newer runs that fail the check are passed over, each with a line in
        :attr:`warnings` saying why.
        """
        for run_id in self.runs()["run_id"]:
            folder = self.runs_dir / str(run_id)
            if not RUN_ID_PATTERN.match(str(run_id)) or not folder.is_dir():
                continue
            try:
                verify_run(folder)
            except ValueError as exc:
                self._warn(f"run {run_id} is not used as the previous run: {exc}")
                continue
            return folder
        return None
