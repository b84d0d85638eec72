"""Where sources may live and what their SQL may do.

A project file is something people email each other, so reading one must not reach beyond
the project folder or change anything:

* every ``path``, ``table`` database and the ``runs_dir`` resolve (symbolic links
  followed) to somewhere inside the project folder, unless the project file says
  ``allow_outside = true`` for it; the run's report and manifest then name it;
* a ``query`` is one read-only ``SELECT`` (parsed by DuckDB), refused otherwise;
* the DuckDB connection that reads the sources may open only the project folder and the
  files declared outside it (``enable_external_access = false`` with
  ``allowed_directories``/``allowed_paths``, then ``lock_configuration``), so
  ``read_csv('/etc/passwd')`` inside a query fails, and nothing can write a file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from segmentum.data.errors import ProjectError
from segmentum.data.project import ProjectConfig, Source


def resolve_inside(
    text: str, base_dir: Path, *, key: str, section: str, allow_outside: bool
) -> Path:
    """``base_dir / text`` with symbolic links resolved; refuse it outside ``base_dir``.

    Parameters
    ----------
    text : str
        The path as the project file gives it.
    base_dir : Path
        The project folder.
    key, section : str
        Where it is in the project file (``path``, ``sources.survey``), for the message.
    allow_outside : bool
        The project file's ``allow_outside`` for it.

    Raises
    ------
    ProjectError
        When it resolves outside the project folder and ``allow_outside`` is not set, or
        when resolving it runs into a loop of symbolic links.
    """
    base = base_dir.resolve()
    try:
        resolved = (base / text).resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before 3.13)
        raise ProjectError(
            f"[{section}] {key} = {text!r}: cannot resolve it ({exc}); fix the symbolic link."
        ) from None
    if not allow_outside and not resolved.is_relative_to(base):
        raise ProjectError(
            f"[{section}] {key} = {text!r} is outside the project folder {base} (it resolves "
            f"to {resolved}). Move it into the project folder, or add allow_outside = true "
            f"under [{section}] if it is meant to be read from there."
        )
    return resolved


def source_file(name: str, source: Source, base_dir: Path) -> Path | None:
    """The file a source reads (its ``path``, or the DuckDB file of its ``table``)."""
    section = f"sources.{name}"
    allow = bool(getattr(source, "allow_outside", False))
    if source.path:
        return resolve_inside(
            source.path, base_dir, key="path", section=section, allow_outside=allow
        )
    if source.table:
        db, _, _ = source.table.rpartition(":")
        if db:
            return resolve_inside(db, base_dir, key="table", section=section, allow_outside=allow)
    return None


def runs_folder(config: ProjectConfig, base_dir: Path) -> Path:
    """The runs folder, refused outside the project folder unless ``[project]`` says
    ``allow_outside = true``."""
    return resolve_inside(
        config.project.runs_dir,
        base_dir,
        key="runs_dir",
        section="project",
        allow_outside=config.project.allow_outside,
    )


def outside_locations(config: ProjectConfig, base_dir: Path) -> dict[str, str]:
    """What the project reads or writes outside its folder (``allow_outside = true``):
    ``sources.<name>`` / ``project.runs_dir`` → the resolved path (``query`` sources:
    ``"any file"``)."""
    base = base_dir.resolve()
    out: dict[str, str] = {}
    for name, source in config.sources.declared().items():
        if not getattr(source, "allow_outside", False):
            continue
        if source.query:
            out[f"sources.{name}"] = "any file (query with allow_outside = true)"
            continue
        path = source_file(name, source, base_dir)
        if path is not None and not path.is_relative_to(base):
            out[f"sources.{name}"] = str(path)
    runs = runs_folder(config, base_dir)
    if not runs.is_relative_to(base):
        out["project.runs_dir"] = str(runs)
    return out


def check_query(sql: str, label: str) -> str:
    """The query, if it is exactly one ``SELECT``; raise :class:`ProjectError` otherwise.

    ``WITH … SELECT``, ``FROM t`` and ``VALUES`` are SELECTs; ``COPY``, ``ATTACH``,
    ``CREATE``, ``INSERT``, ``SET``, ``PRAGMA``, ``CALL``, ``INSTALL``/``LOAD`` and a second
    statement are not.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        message = str(exc).split("\n\n")[0]
        raise ProjectError(f"{label}: the query is not valid SQL: {message}") from None
    if len(statements) != 1:
        raise ProjectError(
            f"{label}: give exactly one SELECT statement (found {len(statements)}); a source "
            "query only reads."
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ProjectError(
            f"{label}: only a SELECT may read a source; this is a {kind.name} statement. A "
            "source query cannot write files, attach databases or change settings."
        )
    return sql.strip().rstrip(";").strip()


def lock_down(con: duckdb.DuckDBPyConnection, config: ProjectConfig, base_dir: Path) -> None:
    """Limit ``con`` to reading the project folder and the sources declared outside it.

    Run before anything else on the connection; afterwards its settings cannot change.
    """
    base = base_dir.resolve()
    directories = [str(base) + os.sep]
    paths: list[str] = []
    for name, source in config.sources.declared().items():
        if not getattr(source, "allow_outside", False):
            continue
        if source.query:
            directories.append(os.sep)  # the project file lets this query read anywhere
            continue
        path = source_file(name, source, base_dir)
        if path is not None and not path.is_relative_to(base):
            paths.append(str(path))
            if source.table:  # DuckDB looks for the database's write-ahead log beside it
                paths.append(f"{path}.wal")
    temp = con.execute("SELECT current_setting('temp_directory')").fetchone()
    if temp and temp[0]:  # DuckDB's own spill files, where they went before (not moved by
        spill = os.path.abspath(str(temp[0]))  # a query run from the project folder)
        con.execute(f"SET temp_directory = {_list([spill])[1:-1]}")
        directories.append(spill + os.sep)
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET python_enable_replacements = false")
    con.execute(f"SET allowed_directories = {_list(directories)}")
    if paths:
        con.execute(f"SET allowed_paths = {_list(paths)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _list(items: list[str]) -> str:
    return "[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"


_CWD_LOCK = threading.Lock()


@contextlib.contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    """Run a source query from the project folder, so its relative paths mean files there.

    DuckDB resolves a relative path against the process's working folder before checking
    it against ``allowed_directories``; the working folder is restored afterwards. Queries
    of projects ingested in several threads at once take turns (the folder is per process).
    """
    with _CWD_LOCK:
        before = os.getcwd()
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(before)
