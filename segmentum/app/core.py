"""The web app's one core object: a project's runs, read safely (the datasette pattern —
the web layer only adapts :class:`ProjectView` and :class:`RunView`).

A run folder is untrusted input: a run is used only when its id is a segmentum run id the
project lists, and its files match the checksums in its manifest
(:func:`segmentum.runs.verify_run`); files are then read only through the manifest's list
(no path from a request ever reaches the file system), as JSON, Parquet or CSV. Models load
from their JSON formats once per run and stay in memory.
"""

from __future__ import annotations

import json
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from segmentum.data.errors import SegmentumError
from segmentum.project import Project
from segmentum.runs import RUN_ID_PATTERN, verify_run

__all__ = ["NotFound", "ProjectView", "RunView"]

_LATEST_TTL_S = 2.0  # how long "the newest run" is remembered between catalogue reads


class NotFound(SegmentumError):
    """A run, segment or file the request names does not exist (HTTP 404)."""


class RunView:
    """One verified run folder: its manifest, report twin, tables and models."""

    def __init__(self, folder: Path, manifest: dict[str, Any]):
        self.folder = folder
        self.manifest = manifest
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def files(self) -> list[str]:
        """The run's files (relative POSIX paths) as its manifest lists them."""
        return sorted(self.manifest.get("files", {}))

    def path(self, name: str) -> Path:
        """The file ``name`` of this run; only names the manifest lists are reachable."""
        if name not in self.manifest.get("files", {}):
            raise NotFound(f"run {self.run_id} has no file {name!r}")
        return self.folder / name

    def json(self, name: str) -> Any:
        """A JSON file of the run, parsed (never executed)."""
        return json.loads(self.path(name).read_text(encoding="utf-8"))

    def table(self, name: str) -> pd.DataFrame:
        """A Parquet or CSV table of the run; a Parquet folder of part files (what a run
        with ``engine = "spark"`` writes) is read as one table from the parts its
        manifest lists."""
        parts = sorted(f for f in self.manifest.get("files", {}) if f.startswith(name + "/"))
        if name.endswith(".parquet") and name not in self.manifest.get("files", {}) and parts:
            return pd.concat([pd.read_parquet(self.path(p)) for p in parts], ignore_index=True)
        path = self.path(name)
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)

    @cached_property
    def report(self) -> dict[str, Any]:
        """The run's ``report.json``: the same context the HTML report renders."""
        return self.json("report.json") if "report.json" in self.manifest.get("files", {}) else {}

    @cached_property
    def typing_tool(self) -> Any:
        """The run's typing tool (``model/typing_tool.json``), loaded once."""
        from segmentum.valuation.export import load_typing_tool

        self.path("model/typing_tool.json")  # NotFound when the run has none
        with self._lock:
            return load_typing_tool(self.folder)

    @cached_property
    def lead_scorer(self) -> Any:
        """The run's lead scorer (``model/lead_projection.json``), loaded once."""
        from segmentum.activation.leads import LEAD_MODEL_FILE, load_lead_scorer

        self.path(LEAD_MODEL_FILE)
        with self._lock:
            return load_lead_scorer(self.folder)


class ProjectView:
    """A project's catalogue of runs, for the web app.

    The catalogue is only ever opened read-only and only for the moment of a read, so
    ``segmentum run`` and ``segmentum keys`` keep working while the server runs.
    """

    def __init__(self, project: Project | Path | str, run_id: str | None = None):
        self.project = project if isinstance(project, Project) else Project.load(project)
        self.pinned = run_id  # serve this run instead of the newest
        self._runs: dict[str, RunView] = {}
        self._latest: tuple[float, str | None] = (0.0, None)
        self._refreshing = False
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        return self.project.folder

    @property
    def name(self) -> str:
        return str(getattr(self.project.config.project, "name", "") or self.folder.name)

    def runs(self) -> list[dict[str, Any]]:
        """Finished runs, newest first, as plain rows (JSON-ready)."""
        catalogue = self.project.catalogue
        frame = catalogue.runs() if catalogue.path.exists() else catalogue.runs_from_folders()
        # the folder path stays on the server
        frame = frame.drop(columns=["path"], errors="ignore")
        rows = json.loads(frame.to_json(orient="records", date_format="iso"))
        return [r for r in rows if RUN_ID_PATTERN.match(str(r.get("run_id", "")))]

    def latest_id(self) -> str | None:
        """The id of the newest run (or the pinned one), re-read at most every 2 s.

        Once known, an outdated value is answered at once while a background thread reads
        the catalogue again (it takes tens of milliseconds, which a request on the event
        loop should not wait for); a new run is served within about 2 s of finishing.
        """
        if self.pinned is not None:
            return self.pinned
        at, run_id = self._latest
        if time.monotonic() - at < _LATEST_TTL_S:
            return run_id
        if run_id is None:
            return self._read_latest()
        with self._lock:
            start = not self._refreshing
            self._refreshing = True
        if start:
            threading.Thread(target=self._refresh, name="segmentum-latest", daemon=True).start()
        return run_id

    def _read_latest(self) -> str | None:
        rows = self.runs()
        run_id = str(rows[0]["run_id"]) if rows else None
        self._latest = (time.monotonic(), run_id)
        return run_id

    def _refresh(self) -> None:
        try:
            self._read_latest()
        except Exception:  # keep serving the known run; the next request retries
            self._latest = (time.monotonic() - _LATEST_TTL_S / 2, self._latest[1])
        finally:
            self._refreshing = False

    def run(self, run_id: str | None = None) -> RunView:
        """A verified run: the one named, else the newest; :class:`NotFound` otherwise."""
        run_id = run_id or self.latest_id()
        if run_id is None:
            raise NotFound(
                f"project {self.name} has no finished run yet; `segmentum run` makes one"
            )
        if not RUN_ID_PATTERN.match(run_id):
            raise NotFound(f"{run_id!r} is not a run id")
        cached = self._runs.get(run_id)
        if cached is not None:
            return cached
        folder = self.project.runs_dir / run_id
        if not folder.is_dir() or run_id not in {r["run_id"] for r in self.runs()}:
            raise NotFound(f"project {self.name} has no run {run_id}")
        try:
            manifest = verify_run(folder)
        except ValueError as exc:
            raise NotFound(f"run {run_id} cannot be used: {exc}") from None
        with self._lock:
            return self._runs.setdefault(run_id, RunView(folder, manifest))
