"""A project and its runs: the one object the CLI, the notebook and the app share.

>>> result = Project.load("segmentum.toml").run()      # doctest: +SKIP
>>> result.assignments.head()                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segmentum.data.errors import SegmentumError, StageError
from segmentum.data.ingest import Ingested, ingest, on_spark
from segmentum.data.locate import outside_locations, runs_folder
from segmentum.data.project import ProjectConfig, load_config, with_engine
from segmentum.flow import Stage, StageContext, StageOutcome
from segmentum.registry import STAGES, check_settings, report_settings
from segmentum.report.answer import answer_for
from segmentum.report.format import use_labels
from segmentum.report.html import render_report
from segmentum.report.section import Section
from segmentum.runs import (
    MANIFEST,
    Catalogue,
    RunFolder,
    checksum_files,
    clean_stale_temporaries,
    new_run_id,
    write_json,
)
from segmentum.version import __version__

_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "duckdb",
    "pyarrow",
    "plotly",
    "pydantic",
    "joblib",
)


class RunProgress:
    """Receives progress from a run; the CLI shows it with rich, notebooks ignore it."""

    def stage(self, name: str, total: int) -> None:  # a new step starts
        pass

    def advance(self, message: str = "") -> None:  # one unit of the current step done
        pass

    def done(self, name: str, outcome: str) -> None:
        pass


@dataclass
class RunResult:
    """Everything one run produced, in memory, plus where it was written."""

    run_id: str
    run_dir: Path
    manifest: dict[str, Any]
    assignments: pd.DataFrame
    outcomes: dict[str, StageOutcome]
    data: Ingested
    sections: list[Section] = field(default_factory=list)

    def __getitem__(self, stage: str) -> Any:
        return self.outcomes[stage].result

    @property
    def value(self) -> Any:
        return self._result("value")

    @property
    def segments(self) -> Any:
        return self._result("segments")

    @property
    def profiles(self) -> Any:
        return self._result("profiles")

    @property
    def maps(self) -> Any:
        return self._result("maps")

    def _result(self, name: str) -> Any:
        outcome = self.outcomes.get(name)
        return None if outcome is None else outcome.result

    @property
    def skipped(self) -> dict[str, str]:
        return {k: o.reason for k, o in self.outcomes.items() if o.status == "skipped"}


def _versions() -> dict[str, str]:
    out = {"segmentum": __version__, "python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _check_scenarios(config: ProjectConfig, folder: Path) -> None:
    """Read the declared what-if scenario files now, so a bad one fails ``validate``."""
    from segmentum.activation.scenarios import load_scenarios
    from segmentum.activation.settings import ActivationConfig

    raw = dict(getattr(config, "activation", None) or {})
    paths = ActivationConfig.model_validate(raw).scenarios
    if paths:
        load_scenarios(paths, folder)


class Project:
    """A project file and the folder it lives in.

    Parameters
    ----------
    config : ProjectConfig
        The validated project file.
    path : Path
        Where the project file is; sources, runs and the catalogue are relative to its folder.
    """

    def __init__(self, config: ProjectConfig, path: Path):
        self.config = config
        self.path = Path(path)

    @classmethod
    def load(cls, path: str | Path, *, engine: str | None = None) -> Project:
        """Read and validate a project file (a ``.toml`` file or a folder holding one).

        ``engine`` (``"duckdb"`` or ``"spark"``) overrides ``[project] engine``.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "segmentum.toml"
        config = with_engine(load_config(path), engine)
        check_settings(config, STAGES)
        _check_scenarios(config, path.parent)
        runs_folder(config, path.parent)  # refuse a runs_dir outside the project folder now
        return cls(config, path)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def runs_dir(self) -> Path:
        """Where run folders go: inside the project folder unless ``[project]`` says
        ``allow_outside = true`` (symbolic links resolved)."""
        return runs_folder(self.config, self.folder)

    @property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.folder, self.runs_dir)

    def validate(self, progress: Callable[[str], None] | None = None) -> Ingested:
        """Read and check every source; raise :class:`~segmentum.data.DataError` on bad data.

        Nothing is written.
        """
        if self.config.project.engine == "spark":
            from segmentum.data.spark_ingest import ingest_spark

            return ingest_spark(self.config, self.folder, progress=progress)
        return ingest(self.config, self.folder, progress=progress)

    def plan(self, data: Ingested) -> dict[str, str | None]:
        """Which stages the data allow: stage → reason it is skipped (``None`` = it runs)."""
        ctx = StageContext(self.config, data, self.config.project.seed)
        plan: dict[str, str | None] = {}
        for stage in STAGES:
            reason = stage.skip_reason(ctx)
            if reason is None:
                missing = [d for d in stage.needs if plan.get(d) is not None]
                if missing:
                    reason = f"it needs the {missing[0]} stage, which is skipped"
            plan[stage.name] = reason
        return plan

    def run(self, progress: RunProgress | None = None) -> RunResult:
        """Run every stage the data allow and write one run folder atomically.

        Returns
        -------
        RunResult
            The stages' results, the assignments table and the run folder's path.

        Raises
        ------
        SegmentumError
            On a bad project file or bad data; earlier runs are untouched and no run
            folder is left behind.
        """
        # [report.labels]: the one mapping every word of the run reads (the stages' sentences,
        # personas and playbooks, the report's figures and tables): segmentum.report.format
        with use_labels(report_settings(self.config).labels):
            if self.config.project.engine == "spark" and any(
                map(on_spark, self.config.sources.declared().items())
            ):
                from segmentum.data.spark_ingest import spark_session
                from segmentum.spark_run import run_scope

                # UTC for the run, and what the run persisted let go at its end
                with run_scope(spark_session(self.config)):
                    return self._run(progress)
            return self._run(progress)

    def _run(self, progress: RunProgress | None) -> RunResult:
        """:meth:`run`, inside the Spark scope of an ``engine = "spark"`` run."""
        progress = progress or RunProgress()
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}

        progress.stage("read and check data", len(self.config.sources.declared()))
        data = self.validate(progress=lambda name: progress.advance(name))
        timings["ingest"] = round(time.perf_counter() - t0, 3)
        progress.done("read and check data", "ok")

        clean_stale_temporaries(self.runs_dir)
        catalogue = self.catalogue
        catalogue.reconcile()
        previous = catalogue.latest()  # only a run whose files match its manifest
        warnings = list(catalogue.warnings)

        run_id = new_run_id(started)
        folder = RunFolder(self.runs_dir, run_id)
        tmp = folder.open()
        try:
            ctx = StageContext(
                self.config,
                data,
                self.config.project.seed,
                previous_run=previous,
                folder=self.folder,
            )
            outcomes = self._run_stages(ctx, progress, timings)
            progress.stage("write run folder", 1)
            manifest = self._manifest(run_id, started, data, outcomes, timings)
            manifest["previous_run"] = None if previous is None else previous.name
            manifest["warnings"] = warnings
            result = self._write(tmp, manifest, data, outcomes, ctx)
            manifest["finished_at"] = datetime.now(UTC).isoformat()
            manifest["seconds"] = round(time.perf_counter() - t0, 3)
            manifest["files"] = checksum_files(tmp)  # SHA-256 of every other file
            write_json(tmp / MANIFEST, manifest)
            final = folder.commit()
        except BaseException:
            folder.abandon()
            raise
        # The run is complete from here on: a catalogue that cannot be updated now is
        # brought up to date by the next run or `segmentum runs` (reconcile), so say so
        # and do not report the run as failed.
        try:
            catalogue.record(manifest, final)
        except (SegmentumError, duckdb.Error, OSError) as exc:
            manifest["warnings"].append(
                f"the run is complete in {final}, but the catalogue could not list it yet "
                f"({exc}); the next run or `segmentum runs` will add it"
            )
        progress.done("write run folder", "ok")
        result.run_dir = final
        return result

    def _run_stages(
        self, ctx: StageContext, progress: RunProgress, timings: dict[str, float]
    ) -> dict[str, StageOutcome]:
        plan = self.plan(ctx.data)
        outcomes: dict[str, StageOutcome] = {}
        for stage in STAGES:
            reason = plan[stage.name]
            if reason is not None:
                outcomes[stage.name] = StageOutcome(stage.name, "skipped", reason)
                progress.done(stage.name, f"skipped: {reason}")
                continue
            progress.stage(stage.title, 1)
            ctx.tick = progress.advance
            t = time.perf_counter()
            try:
                result = stage.run(ctx)
            except SegmentumError:
                raise
            except ValueError as exc:
                # Stages raise ValueError for data they cannot use, naming column or setting.
                raise StageError(
                    f"the {stage.name} stage cannot run on these data: {exc}",
                ) from exc
            seconds = round(time.perf_counter() - t, 3)
            timings[stage.name] = seconds
            ctx.results.add(stage.name, result, *stage.provides(result))
            outcomes[stage.name] = StageOutcome(stage.name, "ran", "", seconds, result)
            progress.done(stage.name, "ok")
        return outcomes

    def _manifest(
        self,
        run_id: str,
        started: datetime,
        data: Ingested,
        outcomes: dict[str, StageOutcome],
        timings: dict[str, float],
    ) -> dict[str, Any]:
        inputs = {
            name: {
                "location": t.source.location,
                "fingerprint": t.fingerprint,
                "rows_read": t.n_rows_read,
                "rows_rejected": t.n_rejected,
                "rows_used": t.n_used,
                "notes": list(t.notes),
            }
            for name, t in data.tables.items()
        }
        n_segments = None
        seg = outcomes.get("segments")
        if seg is not None and seg.status == "ran":
            n_segments = int(seg.result.summary.get("k", 0)) or None
        return {
            "run_id": run_id,
            "project": self.config.project.name,
            "project_file": str(self.path.resolve()),
            "project_sha256": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "seed": self.config.project.seed,
            "engine": self.config.project.engine,
            "analysis_date": None if data.analysis_date is None else str(data.analysis_date),
            "started_at": started.isoformat(),
            "inputs": inputs,
            "parameters": self.config.model_dump(mode="json"),
            "stages": {
                k: {"status": o.status, "reason": o.reason, "seconds": o.seconds}
                for k, o in outcomes.items()
            },
            "n_segments": n_segments,
            "outside_project": outside_locations(self.config, self.folder),
            "timings": timings,
            "versions": _versions(),
            "platform": platform.platform(),
        }

    def _write(
        self,
        tmp: Path,
        manifest: dict[str, Any],
        data: Ingested,
        outcomes: dict[str, StageOutcome],
        ctx: StageContext,
    ) -> RunResult:
        stages = {s.name: s for s in STAGES}
        ran = [(stages[k], o) for k, o in outcomes.items() if o.status == "ran"]

        if self.config.project.engine == "spark":
            assignments = _write_assignments_spark(self.config, tmp, manifest, data, ran, ctx)
        else:
            assignments = _merge_assignments(
                [*_id_frames(self.config, data)]
                + [stage.assignments(o.result, ctx) for stage, o in ran]
            )
            assignments.to_parquet(tmp / "assignments.parquet", index=False)

        # segments.json: the profiles and map stages give the `segments`, `exclusivity` and
        # `white_space` entries; other stages' headline figures sit under their own key.
        summary: dict[str, Any] = {"run_id": manifest["run_id"]}
        for stage, outcome in ran:
            figures = stage.summary(outcome.result)
            if stage.summary_at_top:
                summary.update(figures)
            else:
                summary[stage.summary_key or stage.name] = figures
        write_json(tmp / "segments.json", summary)

        model_dir = tmp / "model"
        model_dir.mkdir()
        for stage, outcome in ran:
            if stage.save_model is not None:
                stage.save_model(outcome.result, model_dir)
        write_json(
            model_dir / "VERSION.json",
            {
                "segmentum": __version__,
                "run_id": manifest["run_id"],
                "stages": [s.name for s, _ in ran if s.save_model is not None],
            },
        )

        for stage, outcome in ran:
            if stage.write_files is not None:
                stage.write_files(outcome.result, tmp)

        _write_rejected(tmp, manifest, data)

        sections = [overview_section(self, data, outcomes, stages, manifest)]
        sections += [s for stage, o in ran if (s := stage.section(o.result)) is not None]
        settings = report_settings(self.config)
        answer = answer_for(
            {stage.name: o.result for stage, o in ran},
            project=self.config.project.name,
            currency=settings.currency,
            skipped={stages[k].title: o.reason for k, o in outcomes.items() if o.status != "ran"},
        )
        html = render_report(
            sections,
            title=answer.title,
            subtitle=_subtitle(manifest, data, outcomes),
            manifest=manifest,
            json_path=tmp / "report.json",
            answer=answer,
            settings=settings,
        )
        (tmp / "report.html").write_text(html, encoding="utf-8")
        return RunResult(manifest["run_id"], tmp, manifest, assignments, outcomes, data, sections)


def _subtitle(manifest: dict[str, Any], data: Ingested, outcomes: dict[str, StageOutcome]) -> str:
    """The report's header line: run, seed and the analysis date where the run has one.

    The date is the project's ``analysis_date`` or, when none is declared, the value stage's
    (the last transaction day); a survey-only run has none, so none is printed.
    """
    parts = [f"Run {manifest['run_id']}", f"seed {manifest['seed']}"]
    value = outcomes.get("value")
    if data.analysis_date is not None:
        parts.append(f"analysis date {str(data.analysis_date)[:10]}")
    elif value is not None and value.status == "ran" and value.result.summary.get("analysis_date"):
        parts.append(f"analysis date {value.result.summary['analysis_date']} (last transaction)")
    return " · ".join(parts)


def _write_rejected(tmp: Path, manifest: dict[str, Any], data: Ingested) -> None:
    """``rejected/<table>.parquet``: the rows set aside, with their reasons; written by
    Spark as a folder of part files for a table Spark checked (the rows never come to the
    driver), listed in the manifest under ``rejected``."""
    rejected_dir = tmp / "rejected"
    listed: dict[str, Any] = {}
    for name, table in data.tables.items():
        if not table.n_rejected:
            continue
        rejected_dir.mkdir(exist_ok=True)
        path = rejected_dir / f"{name}.parquet"
        entry: dict[str, Any] = {"path": path.relative_to(tmp).as_posix()}
        entry["rows"] = table.n_rejected
        if table.rejected_spark is not None:
            from segmentum.spark_run import write_rejected

            parts = write_rejected(table.rejected_spark, path)
            entry["written_by"] = "spark"
            entry["parts"] = [p.relative_to(tmp).as_posix() for p in parts]
        else:
            table.rejected.to_parquet(path, index=False)
            entry["written_by"] = "duckdb"
        listed[name] = entry
    if listed:
        manifest["rejected"] = listed


def _write_assignments_spark(
    config: ProjectConfig,
    tmp: Path,
    manifest: dict[str, Any],
    data: Ingested,
    ran: list[tuple[Stage, StageOutcome]],
    ctx: StageContext,
) -> pd.DataFrame:
    """``engine = "spark"``: the assignments joined in Spark and written by Spark as the
    part files of ``assignments.parquet/`` (listed in the manifest under ``assignments``);
    the table is read back for the in-memory result."""
    from segmentum.data.spark_ingest import spark_session
    from segmentum.spark_run import (
        merge_assignments_spark,
        nullable_columns,
        pandas_schema,
        to_spark,
        write_parquet_parts,
    )

    session = next(
        (t.spark.sparkSession for t in data.tables.values() if t.spark is not None), None
    )
    session = session or spark_session(config)
    frames: list[Any] = _id_frames_spark(config, data, session)
    nullable: set[str] = set()
    for stage, outcome in ran:
        frame = None
        if stage.assignments_spark is not None:
            frame = stage.assignments_spark(outcome.result, ctx)
            if frame is not None:  # cut the stage's lineage: the joined plan stays small
                frame = frame.localCheckpoint()
        if frame is None:
            pandas_frame = stage.assignments(outcome.result, ctx)
            if pandas_frame is not None:
                nullable |= nullable_columns(pandas_frame)
                frame = to_spark(session, pandas_frame)
        frames.append(frame)
    merged = merge_assignments_spark(frames)
    if merged is not None:  # computed once, for the dtypes and for the write
        merged = merged.localCheckpoint()
    folder = tmp / "assignments.parquet"
    if merged is None:
        folder.mkdir()
        _merge_assignments([]).to_parquet(folder / "part-00000.parquet", index=False)
        parts = [folder / "part-00000.parquet"]
    else:
        parts = write_parquet_parts(merged, folder, pandas_schema(merged, nullable))
    manifest["assignments"] = {
        "written_by": "spark",
        "path": "assignments.parquet",
        "parts": [p.relative_to(tmp).as_posix() for p in parts],
    }
    return pd.read_parquet(folder)


def _id_frames(
    config: ProjectConfig, data: Ingested, *, customers: bool = True
) -> list[pd.DataFrame]:
    """Every customer and every respondent gets a row, whatever the stages could compute
    (``customers = False``: the respondents' only)."""
    frames = []
    source = config.sources.customers if customers else None
    if source is not None and "customers" in data:
        frames.append(
            pd.DataFrame({"customer_id": data.frame("customers")[source.id].astype("str")})
        )
    survey = config.sources.survey
    if survey is not None and "survey" in data:
        frame = data.frame("survey")
        ids = pd.DataFrame({"respondent_id": frame[survey.id_column].astype("str")})
        if survey.customer_id:
            ids["customer_id"] = (
                frame[survey.customer_id].astype("str").where(frame[survey.customer_id].notna())
            )
        frames.append(ids)
    return frames


def _id_frames_spark(config: ProjectConfig, data: Ingested, session: Any) -> list[Any]:
    """:func:`_id_frames` as Spark frames: the customers Spark read stay in Spark (their ids
    are selected there), the survey's ids are handed over from the driver."""
    from pyspark.sql import functions as F

    from segmentum.spark_run import to_spark

    customers = config.sources.customers
    table = data.tables.get("customers")
    if customers is None or table is None or table.spark is None:
        return [to_spark(session, f) for f in _id_frames(config, data)]
    ids = table.spark.select(F.col(f"`{customers.id}`").cast("string").alias("customer_id"))
    return [ids, *(to_spark(session, f) for f in _id_frames(config, data, customers=False))]


def _merge_assignments(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    """Join stage columns into one row per respondent or customer."""
    frames = [f for f in frames if f is not None and len(f.columns)]
    integer_columns = {c for f in frames for c in f.columns if pd.api.types.is_integer_dtype(f[c])}
    if not frames:
        return pd.DataFrame(
            {"respondent_id": pd.Series(dtype="str"), "customer_id": pd.Series(dtype="str")}
        )
    merged = frames[0]
    for frame in frames[1:]:
        keys = [
            k
            for k in ("respondent_id", "customer_id")
            if k in merged.columns and k in frame.columns
        ]
        if not keys:
            # No key in common (a survey without customer_id beside a customers table):
            # respondents and customers are different rows.
            merged = pd.concat([merged, frame], ignore_index=True)
        elif len(keys) == 2 and frame["respondent_id"].isna().any():
            # Rows for respondents and rows for customers only (a projected segment): each
            # part joins on its own id.
            merged = _merge_on(merged, frame[frame["respondent_id"].notna()], "respondent_id")
            rest = frame[frame["respondent_id"].isna()].drop(columns="respondent_id")
            merged = _merge_on(merged, rest, "customer_id")
        else:
            merged = _merge_on(merged, frame, keys[0])
    # Outer joins leave gaps; integer columns (segment, decile) stay integers with gaps.
    for col in integer_columns & set(merged.columns):
        if not pd.api.types.is_integer_dtype(merged[col]):
            merged[col] = merged[col].astype("Int64")
    front = [c for c in ("respondent_id", "customer_id") if c in merged.columns]
    return merged[front + [c for c in merged.columns if c not in front]]


def _merge_on(merged: pd.DataFrame, frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Outer join on ``key``; a column both carry keeps the earlier value and takes the later
    one only where the earlier is missing (a projected segment fills the customers the
    survey did not reach)."""
    # Rows without the key (respondents who are no customer, customers who answered no
    # survey) must not all match each other on a null key.
    left = merged[merged[key].notna()]
    unlinked = merged[merged[key].isna()]
    joined = left.merge(frame, on=key, how="outer", suffixes=("", "_dup"))
    if len(unlinked):
        joined = pd.concat([joined, unlinked], ignore_index=True)
    for dup in [c for c in joined.columns if c.endswith("_dup")]:
        col = dup.removesuffix("_dup")
        if col not in ("respondent_id", "customer_id"):
            joined[col] = joined[col].where(joined[col].notna(), joined[dup])
    return joined[[c for c in joined.columns if not c.endswith("_dup")]]


def overview_section(
    project: Project,
    data: Ingested,
    outcomes: dict[str, StageOutcome],
    stages: dict[str, Stage],
    manifest: dict[str, Any] | None = None,
) -> Section:
    """The report's first section: what was read, what ran and what was skipped, and why;
    files read or written outside the project folder; earlier runs passed over, and why."""
    ran = [stages[k].title for k, o in outcomes.items() if o.status == "ran"]
    section = Section(
        "overview",
        "Inputs and stages",
        appendix=True,
        summary=(
            f"{len(data.tables)} table(s) read; stages run: {', '.join(ran) if ran else 'none'}."
        ),
    )
    rows = []
    for name, table in data.tables.items():
        rows.append(
            {
                "table": name,
                "source": table.source.location,
                "rows read": table.n_rows_read,
                "rows set aside": table.n_rejected,
                "rows used": table.n_used,
            }
        )
    section.table(pd.DataFrame(rows), caption="Inputs, as read and checked through DuckDB.")
    for table in data.tables.values():
        for note in table.notes:
            section.text(f"{table.source.location}: {note}")
    manifest = manifest or {}
    outside = manifest.get("outside_project") or {}
    if outside:
        section.warn(
            "Outside the project folder (allow_outside = true in the project file): "
            + "; ".join(f"{k}: {v}" for k, v in outside.items())
            + "."
        )
    for message in manifest.get("warnings") or []:
        section.warn(message[:1].upper() + message[1:] + ".")
    rejected = {k: v for k, v in data.n_rejected.items() if v}
    if rejected:
        section.warn(
            'Rows were set aside as bad input (on_bad_rows = "quarantine"): '
            + ", ".join(f"{k}: {v:,}" for k, v in rejected.items())
            + ". They are in the run's rejected/ folder, each with its reason."
        )
    stage_rows = [
        {
            "stage": stages[k].title,
            "status": o.status,
            "seconds": o.seconds if o.status == "ran" else None,
            "why skipped": o.reason,
        }
        for k, o in outcomes.items()
    ]
    section.table(pd.DataFrame(stage_rows), caption="Stages of this run.")
    for key, outcome in outcomes.items():
        if outcome.status == "skipped":
            section.text(f"{stages[key].title} was skipped: {outcome.reason}.")
    return section


__all__ = ["Project", "RunProgress", "RunResult", "SegmentumError"]
