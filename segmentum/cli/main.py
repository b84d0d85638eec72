"""The ``segmentum`` command: a thin Typer shell over :class:`segmentum.project.Project`.

Exit codes: 0 success, 1 unexpected failure, 2 bad project file or usage, 3 bad data,
4 data a stage cannot use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from segmentum.cli.output import console, out
from segmentum.cli.output import fail as _fail
from segmentum.data.errors import SegmentumError
from segmentum.version import __version__

app = typer.Typer(
    help="segmentum: needs-based segments that are sized, valued, mapped and ready to act on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _RichProgress:
    """Shows each step of a run as a rich progress bar."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task: int | None = None

    def stage(self, name: str, total: int) -> None:
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, message: str = "") -> None:
        if self.task is not None:
            task = self.progress.tasks[self.task]
            if task.total is not None and task.completed >= task.total - 1:
                self.progress.update(self.task, total=task.total + 1)
            self.progress.update(self.task, advance=1)

    def done(self, name: str, outcome: str) -> None:
        if outcome.startswith("skipped"):
            self.progress.console.print(f"[yellow]•[/] {name} {escape(outcome)}")
            return
        if self.task is not None:
            task = self.progress.tasks[self.task]
            self.progress.update(self.task, completed=task.total)
            self.task = None


ENGINE_HELP = (
    "Where ingest reads and checks customers, transactions and events: duckdb or spark "
    "(overrides [project] engine)."
)


def _run_project(project_file: Path, engine: str | None = None) -> None:
    from segmentum.project import Project

    try:
        project = Project.load(project_file, engine=engine)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            result = project.run(progress=_RichProgress(bar))  # type: ignore[arg-type]
    except SegmentumError as exc:
        _fail(exc)
        return
    table = Table(title=f"Run {result.run_id}", show_header=True)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    for name, outcome in result.outcomes.items():
        status = "ran" if outcome.status == "ran" else escape(f"skipped: {outcome.reason}")
        table.add_row(name, status, f"{outcome.seconds:.1f}" if outcome.status == "ran" else "")
    out.print(table)
    segments = getattr(result, "segments", None)
    if segments is not None and getattr(segments, "structure", None):
        # the structure verdict belongs in the run's headline, constructive most of all
        style = "bold yellow" if segments.structure == "constructive" else "bold"
        out.print(
            f"[{style}]Segments: k = {segments.summary['k']}, "
            f"{segments.structure} structure.[/] {escape(segments.verdict)}"
        )
    for message in result.manifest.get("warnings") or []:
        console.print(f"[yellow]Warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
    out.print(f"Run folder: {result.run_dir}")
    out.print(f"Report:     {result.run_dir / 'report.html'}")


@app.command()
def run(
    project_file: Annotated[
        Path, typer.Argument(help="The project file (segmentum.toml) or the folder holding it.")
    ] = Path("segmentum.toml"),
    engine: Annotated[
        str | None, typer.Option("--engine", help=ENGINE_HELP, show_default=False)
    ] = None,
) -> None:
    """Run every stage the data allow and write one run folder (atomically)."""
    _run_project(project_file, engine)


@app.command()
def validate(
    project_file: Annotated[
        Path, typer.Argument(help="The project file to check (or the folder holding it).")
    ] = Path("segmentum.toml"),
    engine: Annotated[
        str | None, typer.Option("--engine", help=ENGINE_HELP, show_default=False)
    ] = None,
) -> None:
    """Check the project file and every source table; write nothing."""
    from segmentum.project import Project

    try:
        project = Project.load(project_file, engine=engine)
        data = project.validate()
    except SegmentumError as exc:
        _fail(exc)
        return
    table = Table(title="Sources", show_header=True)
    for col in ("table", "source", "rows", "columns"):
        table.add_column(col)
    for name, t in data.tables.items():
        table.add_row(name, escape(t.source.location), f"{t.n_used:,}", str(len(t.columns)))
    out.print(table)
    for t in data.tables.values():
        for note in t.notes:
            out.print(escape(f"Note: {t.source.location}: {note}"), soft_wrap=True)
    for name, reason in project.plan(data).items():
        out.print(escape(f"{name}: " + ("will run" if reason is None else f"skipped: {reason}")))
    from segmentum.data.locate import outside_locations

    for key, where in outside_locations(project.config, project.folder).items():
        out.print(
            escape(f"outside the project folder (allow_outside = true): {key}: {where}"),
            soft_wrap=True,  # a path broken over two lines cannot be copied
        )
    out.print("[green]The project is valid.[/]")


@app.command()
def init(
    data: Annotated[
        list[Path],
        typer.Argument(
            help="CSV or Parquet files: survey, customers, "
            "transactions, events, competitor ratings."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the project file.")
    ] = Path("segmentum.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing project file.")] = False,
) -> None:
    """Write a project file by inferring column roles from the data, for you to edit, and a
    ``.gitignore`` beside it that keeps the API keys and the runs out of git."""
    from segmentum.data.init import init_project, write_gitignore

    if output.exists() and not force:
        console.print(f"[bold red]Error:[/] {output} exists; pass --force to overwrite it.")
        raise typer.Exit(2)
    try:
        text, guesses = init_project(list(data), output)
    except SegmentumError as exc:
        _fail(exc)
        return
    output.write_text(text, encoding="utf-8")
    ignored = write_gitignore(output.parent)
    for g in guesses:
        out.print(f"{escape(g.path)}: looks like [bold]{escape(g.table)}[/]")
        for note in g.notes:
            if not note.startswith("left out"):
                out.print(escape(f"  {note}"), soft_wrap=True)
        for col, why in g.left_out.items():
            out.print(escape(f"  left out {col}: {why}"), soft_wrap=True)
    if ignored:
        where = output.parent / ".gitignore"
        out.print(escape(f"{where}: git leaves out {', '.join(ignored)}"), soft_wrap=True)
    out.print(f"Wrote {output}. Check the roles, then: segmentum validate {output}")


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="An empty folder for the demo project.")] = Path(
        "."
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 100_000,
    respondents: Annotated[int, typer.Option(help="Number of survey respondents.")] = 3_000,
    run_it: Annotated[
        bool, typer.Option("--run/--no-run", help="Run the project after writing it.")
    ] = True,
) -> None:
    """Write the demo auto-insurance market (data, project file, planted truth) and run it,
    with a ``.gitignore`` that keeps the API keys and the runs out of git."""
    from segmentum.data.init import write_gitignore
    from segmentum.demo.project import write_demo_project

    folder.mkdir(parents=True, exist_ok=True)
    clash = [p.name for p in folder.iterdir() if not p.name.startswith(".")]
    if clash:
        console.print(
            f"[bold red]Error:[/] {folder} is not empty ({', '.join(sorted(clash)[:5])})"
            "; give an empty or new folder."
        )
        raise typer.Exit(2)
    with console.status("Generating the demo market…"):
        project_file = write_demo_project(
            folder, seed=seed, n_customers=customers, n_respondents=respondents
        )
    ignored = write_gitignore(folder)
    out.print(f"Wrote the demo market and {project_file}.")
    if ignored:
        out.print(escape(f"{folder / '.gitignore'}: git leaves out {', '.join(ignored)}"))
    if run_it:
        _run_project(project_file)


@app.command()
def runs(
    project_file: Annotated[Path, typer.Argument(help="The project file.")] = Path(
        "segmentum.toml"
    ),
) -> None:
    """List the finished runs of a project, newest first.

    While another run holds the catalogue this waits a few seconds; if it stays busy, the
    runs are listed from their folders instead.
    """
    from segmentum.project import Project
    from segmentum.runs import CatalogueBusy

    try:
        project = Project.load(project_file)
        catalogue = project.catalogue
        try:
            catalogue.reconcile()
            frame = catalogue.runs()
        except CatalogueBusy as exc:
            console.print(
                f"[yellow]Note:[/] {escape(str(exc))} Listing the run folders instead.",
                highlight=False,
                soft_wrap=True,
            )
            frame = catalogue.runs_from_folders()
    except SegmentumError as exc:
        _fail(exc)
        return
    for message in catalogue.warnings:
        console.print(f"[yellow]Warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
    table = Table(show_header=True)
    # run ids never wrap (they are typed back into commands); long paths fold instead
    table.add_column("run_id", no_wrap=True, min_width=24)
    for col in ("stages", "n_segments", "seconds"):
        table.add_column(col)
    table.add_column("path", overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(
            str(row.run_id),
            str(row.stages),
            str(row.n_segments),
            f"{row.seconds:.1f}" if isinstance(row.seconds, (int, float)) else "",
            str(row.path),
        )
    out.print(table)


@app.command()
def whatif(
    project_file: Annotated[Path, typer.Argument(help="The project file (segmentum.toml).")],
    scenario: Annotated[
        Path, typer.Option("--scenario", help="The scenario, a TOML file of [[change]] tables.")
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="CSV to write: one row per segment and a total row.")
    ],
) -> None:
    """CLV per segment before and after an offering change, with the difference's interval."""
    import time

    from segmentum.data.errors import ProjectError, StageError
    from segmentum.flow import StageContext
    from segmentum.project import Project
    from segmentum.registry import STAGES
    from segmentum.value.whatif import (
        check_declared,
        customer_table,
        load_scenario,
        scenario_whatif,
    )

    t0 = time.perf_counter()
    try:
        try:
            sc, label = load_scenario(scenario)
            check_declared(sc, label)  # before any data are read
        except ValueError as exc:
            raise ProjectError(str(exc)) from exc
        project = Project.load(project_file)
        with console.status("Reading the data and fitting value and segments…"):
            data = project.validate()
            plan = project.plan(data)
            if plan.get("value") is not None:
                raise StageError(f"the value stage cannot run: {plan['value']}")
            ctx = StageContext(project.config, data, project.config.project.seed)
            ran: dict[str, object] = {}
            for stage in STAGES:
                if stage.name in ("value", "segments") and plan.get(stage.name) is None:
                    try:
                        ran[stage.name] = stage.run(ctx)
                    except ValueError as exc:
                        raise StageError(
                            f"the {stage.name} stage cannot run on these data: {exc}"
                        ) from exc
                    ctx.results.add(stage.name, ran[stage.name], *stage.provides(ran[stage.name]))
            table = customer_table(ctx, ran)
            try:
                result = scenario_whatif(ran["value"], table, sc, seed=project.config.project.seed)
            except ValueError as exc:
                raise ProjectError(f"scenario file {scenario}: {exc}") from exc
    except SegmentumError as exc:
        _fail(exc)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out_file, index=False)
    table_view = Table(title=f"What-if: {sc.name}")
    for col in result.columns:
        table_view.add_column(col, justify="left" if col == "segment" else "right")
    for row in result.itertuples(index=False):
        table_view.add_row(*(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row))
    out.print(table_view)
    out.print(f"Wrote {out_file} in {time.perf_counter() - t0:.1f} s.")


@app.command()
def settings(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the settings as JSON (for tools and the app).")
    ] = False,
) -> None:
    """List every setting of the project file ([project] and each stage's table): type, default, help."""
    import json

    from segmentum.data.project import Settings, SparkSettings
    from segmentum.flow import settings_rows
    from segmentum.registry import STAGES
    from segmentum.report.format import ReportSettings

    rows = settings_rows(Settings, "project") + [
        row
        for stage in STAGES
        if stage.settings is not None
        for row in settings_rows(stage.settings, stage.name)
    ]
    rows += settings_rows(ReportSettings, "report")
    rows += settings_rows(SparkSettings, "spark")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Settings of segmentum.toml", show_header=True, show_lines=False)
    # the table and key columns never wrap: a key folded over two lines cannot be copied
    widest = {
        c: max(len(f"[{r['table']}]") if c == "table" else len(r["key"]) for r in rows)
        for c in ("table", "key")
    }
    for col in ("table", "key"):
        table.add_column(col, no_wrap=True, min_width=widest[col])
    for col in ("type", "default", "help"):
        table.add_column(col, overflow="fold")
    for row in rows:
        kind = row["type"] + (f" ({row['bounds']})" if row["bounds"] else "")
        table.add_row(
            escape(f"[{row['table']}]"),
            row["key"],
            escape(kind),
            "(none)" if row["default"] is None else escape(json.dumps(row["default"])),
            escape(row["help"]),
        )
    out.print(table)


@app.command()
def score(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run folder (its model/typing_tool.json), the JSON itself, or a project "
            "folder (its newest run)."
        ),
    ],
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers", help="CSV or Parquet: one row per person, a column per question."
        ),
    ] = None,
    *,
    leads: Annotated[
        Path | None,
        typer.Option(
            "--leads",
            help="CSV or Parquet of sales leads: id, the lead model's descriptors and source "
            "(optionally golden-question answers); writes segment, target_probability, "
            "expected_value, score, keep, reason.",
        ),
    ] = None,
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the scored rows (.csv or .parquet).")
    ],
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="Id column to carry over (default: the survey's id column)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Assign new people to segments from their answers to the golden questions, or score
    and filter sales leads (--leads).

    --answers writes the id column plus segment, segment_name, segment_probability and
    unclassifiable. --leads writes the lead id plus segment, target_probability,
    expected_value, score, keep, reason (and segment_name, segment_probability, method,
    p_<segment>). Bad rows (a missing field, an answer off the scale, an empty file) stop
    the command with exit code 3, naming file, row and column; nothing is guessed.
    """
    from segmentum.valuation.score import score as score_answers

    if (answers is None) == (leads is None):
        console.print("[bold red]Error:[/] give exactly one of --answers FILE or --leads FILE.")
        raise typer.Exit(2)
    if out_file.exists() and not force:
        console.print(f"[bold red]Error:[/] {out_file} exists; pass --force to overwrite it.")
        raise typer.Exit(2)
    if leads is not None:
        _score_leads(run_dir, leads, out_file, id_column)
        return
    try:
        scored = score_answers(run_dir, answers, id_column=id_column)
    except SegmentumError as exc:
        _fail(exc)
        return
    _write_scored(scored, out_file)
    n_uncl = int(scored["unclassifiable"].sum())
    out.print(f"Scored {len(scored):,} rows into {out_file} ({n_uncl:,} unclassifiable).")


def _score_leads(run_dir: Path, leads: Path, out_file: Path, id_column: str | None) -> None:
    from segmentum.activation.leads import load_lead_scorer
    from segmentum.valuation.score import read_answers

    try:
        scorer = load_lead_scorer(_run_folder(run_dir))
        scored = scorer.score(read_answers(leads), id_column=id_column, table=str(leads))
    except SegmentumError as exc:
        _fail(exc)
        return
    _write_scored(scored, out_file)
    kept = int(scored["keep"].sum())
    out.print(
        f"Scored {len(scored):,} leads into {out_file}: keep {kept:,}, drop "
        f"{len(scored) - kept:,} (target probability ≥ {scorer.threshold:.0%}).",
        soft_wrap=True,
    )


def _write_scored(scored: Any, out_file: Path) -> None:
    """Parquet for a ``.parquet``/``.pq`` name, CSV otherwise."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if out_file.suffix.lower() in (".parquet", ".pq"):
        scored.to_parquet(out_file, index=False)
    else:
        scored.to_csv(out_file, index=False)


def _run_folder(path: Path) -> Path:
    """A run folder, or a project folder/file's newest run holding a lead model."""
    from segmentum.activation.leads import LEAD_MODEL_FILE

    if (path.is_file() and path.suffix.lower() != ".toml") or (path / LEAD_MODEL_FILE).is_file():
        return path
    project = path if path.is_dir() else path.parent
    runs = sorted(
        (p for p in (project / "runs").glob("*") if (p / LEAD_MODEL_FILE).is_file()),
        key=lambda p: p.name,
    )
    return runs[-1] if runs else path


@app.command()
def version() -> None:
    """Print the installed version."""
    out.print(__version__)


def _add_web_commands() -> None:
    # in their own module: main.py keeps the core commands
    from segmentum.cli.serve import keys_app, serve

    app.command()(serve)
    app.add_typer(keys_app, name="keys")


_add_web_commands()


def main() -> None:  # pragma: no cover - entry point
    app(prog_name="segmentum")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
