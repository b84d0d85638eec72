"""Run folders and the catalogue of runs.

A run is written into a hidden temporary folder beside the others and renamed into place only
when everything in it is written, so a crash or a kill never leaves a half run, and earlier
runs are never touched. The catalogue (``catalogue.duckdb`` in the project folder) lists the
finished runs; it is updated after the rename and rebuilt from the run folders when a run
finished but was not yet recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

CATALOGUE = "catalogue.duckdb"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: ``20261123-051502.347-3fa9`` (UTC, to the millisecond)."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}.{now.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(runs_dir: Path) -> list[Path]:
    """Remove temporary folders left by runs that were killed (their process is gone)."""
    removed = []
    if not runs_dir.is_dir():
        return removed
    for folder in runs_dir.glob(f"{TMP_PREFIX}*"):
        pid_file = folder / ".pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = -1
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
        (self.tmp / ".pid").write_text(str(os.getpid()))
        return self.tmp

    def commit(self) -> Path:
        (self.tmp / ".pid").unlink(missing_ok=True)
        _fsync_tree(self.tmp)
        os.replace(self.tmp, self.final)
        _fsync_dir(self.runs_dir)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


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


class Catalogue:
    """The DuckDB table of finished runs in the project folder."""

    def __init__(self, project_dir: Path, runs_dir: Path):
        self.path = project_dir / CATALOGUE
        self.runs_dir = runs_dir

    @contextlib.contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path))
        try:
            con.execute(_SCHEMA)
            yield con
        finally:
            con.close()

    def record(self, manifest: dict[str, Any], run_dir: Path) -> None:
        with self._connect() as con:
            self._insert(con, manifest, run_dir)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], run_dir: Path) -> None:
        stages = [k for k, v in manifest.get("stages", {}).items() if v.get("status") == "ran"]
        con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                manifest["run_id"],
                manifest.get("project"),
                manifest.get("started_at"),
                manifest.get("finished_at"),
                manifest.get("seconds"),
                manifest.get("seed"),
                ",".join(stages),
                manifest.get("n_segments"),
                str(run_dir),
            ],
        )

    def reconcile(self) -> None:
        """Record finished run folders the catalogue does not list yet (a kill after rename)."""
        if not self.runs_dir.is_dir():
            return
        with self._connect() as con:
            known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
            for folder in sorted(self.runs_dir.iterdir()):
                manifest_path = folder / MANIFEST
                if folder.name.startswith(".") or folder.name in known:
                    continue
                if not manifest_path.is_file():
                    continue
                try:
                    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    continue
                self._insert(con, manifest, folder)

    def runs(self) -> pd.DataFrame:
        """All recorded runs, newest first."""
        if not self.path.exists():
            return pd.DataFrame(
                columns=[
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
            )
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute("SELECT * FROM runs ORDER BY started_at DESC, run_id DESC").df()
        finally:
            con.close()

    def latest(self) -> Path | None:
        """The newest finished run folder that still exists (found by run id under the
        runs folder, so a moved project still finds its runs)."""
        for run_id in self.runs()["run_id"]:
            folder = self.runs_dir / str(run_id)
            if folder.is_dir():
                return folder
        return None
