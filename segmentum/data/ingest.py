"""Ingest: read every declared source through embedded DuckDB and check it against its roles.

Nothing is dropped silently. Each bad value becomes a :class:`~segmentum.data.errors.Problem`
naming file, row, column, value and what was expected. With ``on_bad_rows = "fail"`` (the
default) any problem stops the run with a :class:`~segmentum.data.errors.DataError`; with
``"quarantine"`` the offending rows are set aside with their reasons (the run writes them to
``rejected/``) and counted in the report.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from segmentum.data.errors import DataError, Problem, ProjectError
from segmentum.data.locate import check_query, in_folder, lock_down, source_file
from segmentum.data.project import (
    CompetitorRatingsSource,
    CustomersSource,
    EventsSource,
    ProjectConfig,
    Source,
    SurveySource,
    TransactionsSource,
)

ROW = "__row"
_INGEST_ORDER = ("customers", "survey", "transactions", "events", "competitor_ratings")
MAX_LISTED = 10  # problems spelled out in an error message; all are counted

ID_ROLES = {"id", "customer_id", "respondent_id"}
NUMBER_ROLES = {"amount", "margin", "cost", "weight", "rating", "acquisition_cost"}
TIME_ROLES = {"timestamp"}
# Basis items and behaviours must be numbers or consistent labels (Yes/No); a column that is
# mostly numeric with a few stray words is flagged row by row.
ITEM_ROLES = {"basis", "behaviours"}


@dataclass(frozen=True)
class IngestedTable:
    """One validated source table."""

    name: str
    source: Source
    frame: pd.DataFrame
    fingerprint: str
    n_rows_read: int
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)


@dataclass(frozen=True)
class Ingested:
    """All validated tables of a project, plus the analysis date they were checked against."""

    tables: dict[str, IngestedTable]
    analysis_date: pd.Timestamp | None

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def frame(self, name: str) -> pd.DataFrame:
        return self.tables[name].frame

    def get(self, name: str) -> pd.DataFrame | None:
        table = self.tables.get(name)
        return None if table is None else table.frame

    @property
    def n_rejected(self) -> dict[str, int]:
        return {name: t.n_rejected for name, t in self.tables.items()}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def to_pandas(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """DuckDB result → pandas through Arrow (several times faster than ``.df()`` on text)."""
    if hasattr(relation, "to_arrow_table"):
        table = relation.to_arrow_table()
    else:  # duckdb < 1.4
        table = relation.arrow()
    if hasattr(table, "read_all"):
        table = table.read_all()
    # DATE columns as datetime64, not Python date objects: later stages scan these frames
    # in DuckDB and pandas, where object columns are an order of magnitude slower
    return table.to_pandas(date_as_object=False)


def check_utf8(path: Path, label: str | None = None, chunk_size: int = 1 << 24) -> None:
    """Raise :class:`DataError` at the first byte that is not UTF-8, naming line and byte."""
    label = label or str(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines_before = 0
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the bytes the decoder held (pending + this chunk).
                pending = len(exc.object) - len(chunk)
                position = max(exc.start - pending, 0)
                line = lines_before + chunk.count(b"\n", 0, position) + 1
                bad = chunk[position : position + 1].hex()
                raise DataError(
                    f"{label}: line {line} (byte {offset + position}) is not UTF-8 text "
                    f"(byte 0x{bad}).",
                    [Problem("", label, None, None, f"0x{bad}", "UTF-8 text", "not UTF-8")],
                    hint="Re-save the file as UTF-8 (for example `iconv -f latin1 -t utf-8`).",
                ) from None
            offset += len(chunk)
            lines_before += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataError(
                f"{label}: the file ends in the middle of a UTF-8 character.",
                hint="Re-save the file as UTF-8.",
            ) from None


def fingerprint_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def fingerprint_frame(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashed.tobytes()).hexdigest()


class _Reader:
    """Loads one source into a DuckDB table ``raw_<name>`` with a 1-based ``__row`` column."""

    def __init__(self, con: duckdb.DuckDBPyConnection, base_dir: Path):
        self.con = con
        self.base_dir = base_dir

    def load(self, name: str, source: Source) -> tuple[str, str, bool]:
        """Return (label used in messages, fingerprint, was_csv)."""
        raw = f"raw_{name}"
        if source.path:
            path = source_file(name, source, self.base_dir)
            assert path is not None
            label = source.path
            if not path.exists():
                raise DataError(
                    f"{label}: file not found (sources.{name}.path in the project file, "
                    f"looked for {path}).",
                    hint="Fix the path in the project file; it is relative to the project file.",
                )
            if path.stat().st_size == 0:
                raise DataError(
                    f"{label}: the file is empty (sources.{name}).",
                    hint="Export the table again, with its header row.",
                )
            suffix = path.suffix.lower()
            is_csv = suffix in (".csv", ".tsv", ".txt", ".gz")
            if is_csv:
                check_utf8(path, label)
                reader = (
                    f"read_csv({_literal(str(path))}, header=true, all_varchar=true, "
                    "auto_detect=true, strict_mode=true)"
                )
            elif suffix in (".parquet", ".pq"):
                reader = f"read_parquet({_literal(str(path))})"
            else:
                raise DataError(
                    f"{label}: unknown file type '{suffix}' (sources.{name}.path).",
                    hint="Use a .csv or .parquet file, or a DuckDB table or query.",
                )
            self._create(raw, f"SELECT * FROM {reader}", label)
            return label, fingerprint_file(path), is_csv
        if source.table:
            db, _, table = source.table.rpartition(":")
            if not db or not table:
                raise ProjectError(
                    f"sources.{name}.table = {source.table!r}: write it as 'file.duckdb:table'."
                )
            db_path = source_file(name, source, self.base_dir)
            assert db_path is not None
            if not db_path.exists():
                raise DataError(
                    f"{db}: DuckDB file not found (sources.{name}.table).",
                    hint="Fix the path in the project file.",
                )
            alias = f"src_{name}"
            self.con.execute(f"ATTACH {_literal(str(db_path))} AS {alias} (READ_ONLY)")
            label = source.table
            self._create(raw, f"SELECT * FROM {alias}.{_quote(table)}", label)
        else:
            label = f"sources.{name}.query"
            query = check_query(str(source.query), label)
            with in_folder(self.base_dir.resolve()):
                self._create(raw, query, label)
        frame = to_pandas(self.con.sql(f"SELECT * EXCLUDE ({ROW}) FROM {raw} ORDER BY {ROW}"))
        return label, fingerprint_frame(frame), False

    def _create(self, raw: str, select: str, label: str) -> None:
        sql = f"CREATE TABLE {raw} AS SELECT row_number() OVER () AS {ROW}, * FROM ({select})"
        if len(duckdb.extract_statements(sql)) != 1:  # the query cannot close the bracket
            raise ProjectError(f"{label}: give exactly one SELECT statement.")
        try:
            self.con.execute(sql)
        except duckdb.ParserException as exc:  # e.g. query('COPY …') inside a SELECT
            message = str(exc).split("\n\n")[0]
            raise ProjectError(f"{label}: the query is not a plain SELECT: {message}.") from None
        except duckdb.PermissionException as exc:
            message = str(exc).split("\n\n")[0]
            raise ProjectError(
                f"{label}: reads a file outside the project folder: {message}. A source may "
                "read only files inside the project folder; move the file there, or add "
                "allow_outside = true under the source if it is meant to be read from there."
            ) from None
        except duckdb.Error as exc:
            message = str(exc).split("\n\n")[0]
            raise DataError(
                f"{label}: DuckDB could not read it: {message}",
                hint="Check the file's delimiter, quoting and header row.",
            ) from None


class _Checker:
    """Runs the role checks on ``raw_<name>`` and collects problems."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, label: str, csv: bool):
        self.con = con
        self.name = name
        self.raw = f"raw_{name}"
        self.label = label
        self.csv = csv
        self.problems: list[tuple[int | None, str | None, str | None, str, str]] = []
        self.columns = [c for c in con.table(self.raw).columns if c != ROW]
        self.types = dict(zip(con.table(self.raw).columns, con.table(self.raw).dtypes, strict=True))

    def add_rows(self, sql: str, column: str, reason: str, expected: str) -> None:
        """``sql`` selects (__row, value) of offending rows."""
        for row, value in self.con.execute(sql).fetchall():
            self.problems.append(
                (int(row), column, None if value is None else str(value), reason, expected)
            )

    def require_columns(self, roles: dict[str, str]) -> None:
        missing = [(col, role) for col, role in roles.items() if col not in self.columns]
        if not missing:
            return
        import difflib

        lines = []
        for col, role in missing:
            close = difflib.get_close_matches(col, self.columns, n=1)
            tip = f" Did you mean '{close[0]}'?" if close else ""
            lines.append(f"column '{col}' (role: {role}) is not in the table.{tip}")
        problems = [
            Problem(
                self.name, self.label, None, c, None, f"a column for role {r}", "missing column"
            )
            for c, r in missing
        ]
        raise DataError(
            f"{self.label}: "
            + " ".join(lines)
            + f" Columns present: {', '.join(self.columns[:30])}"
            + (" …" if len(self.columns) > 30 else "")
            + ".",
            problems,
            hint=f"Fix the column names under [sources.{self.name}] in the project file.",
        )

    def check_empty(self) -> int:
        n = self.con.execute(f"SELECT count(*) FROM {self.raw}").fetchone()[0]
        if n == 0:
            raise DataError(
                f"{self.label}: the table has no rows (sources.{self.name}).",
                hint="Export it again with its data, or remove it from the project.",
            )
        return int(n)

    def check_id(self, col: str, unique: bool, what: str = "id") -> None:
        q = _quote(col)
        self.add_rows(
            f"SELECT {ROW}, NULL FROM {self.raw} WHERE {q} IS NULL "
            f"OR trim(CAST({q} AS VARCHAR)) = ''",
            col,
            f"missing {what}",
            f"a value on every row (role: {what})",
        )
        if unique:
            sql = f"""
                SELECT {ROW}, CAST({q} AS VARCHAR) || ' (first seen on row ' || first_row || ')'
                FROM (SELECT {ROW}, {q}, min({ROW}) OVER (PARTITION BY {q}) AS first_row
                      FROM {self.raw} WHERE {q} IS NOT NULL)
                WHERE {ROW} > first_row ORDER BY {ROW}"""
            self.add_rows(sql, col, "duplicate id", "each id once")

    def check_number(
        self,
        col: str,
        role: str,
        *,
        allow_negative: bool = True,
        positive: bool = False,
        hint_negative: str = "",
    ) -> None:
        q = _quote(col)
        self.add_rows(
            f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} "
            f"WHERE {q} IS NOT NULL AND trim(CAST({q} AS VARCHAR)) <> '' "
            f"AND TRY_CAST({q} AS DOUBLE) IS NULL",
            col,
            "not a number",
            f"a number (role: {role})",
        )
        value = f"TRY_CAST({q} AS DOUBLE)"
        if role in ("amount", "weight", "rating"):
            self.add_rows(
                f"SELECT {ROW}, NULL FROM {self.raw} WHERE {q} IS NULL "
                f"OR trim(CAST({q} AS VARCHAR)) = ''",
                col,
                "missing value",
                f"a number on every row (role: {role})",
            )
        if positive:
            self.add_rows(
                f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} WHERE {value} <= 0",
                col,
                "not positive",
                f"a positive number (role: {role})",
            )
        elif not allow_negative:
            self.add_rows(
                f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} WHERE {value} < 0",
                col,
                "negative amount",
                f"an amount ≥ 0 (role: {role}){hint_negative}",
            )

    def timestamp_expr(self, col: str, date_format: str | None) -> str:
        q = _quote(col)
        if self.types.get(col) in (
            "TIMESTAMP",
            "DATE",
            "TIMESTAMP WITH TIME ZONE",
            "TIMESTAMP_NS",
            "TIMESTAMP_MS",
            "TIMESTAMP_S",
        ):
            return f"CAST({q} AS TIMESTAMP)"
        if date_format:
            return f"try_strptime(CAST({q} AS VARCHAR), {_literal(date_format)})"
        return f"TRY_CAST(CAST({q} AS VARCHAR) AS TIMESTAMP)"

    def check_timestamp(
        self, col: str, date_format: str | None, analysis_date: pd.Timestamp | None
    ) -> None:
        q = _quote(col)
        expr = self.timestamp_expr(col, date_format)
        fmt = (
            f"a date in the format {date_format}"
            if date_format
            else "an ISO date or time (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS; set date_format otherwise)"
        )
        self.add_rows(
            f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} "
            f"WHERE {q} IS NOT NULL AND {expr} IS NULL",
            col,
            "not a date",
            fmt,
        )
        self.add_rows(
            f"SELECT {ROW}, NULL FROM {self.raw} WHERE {q} IS NULL",
            col,
            "missing date",
            "a date on every row",
        )
        if analysis_date is not None:
            limit = _literal(analysis_date.isoformat(sep=" "))
            day_end = _literal((analysis_date + pd.Timedelta(days=1)).isoformat(sep=" "))
            # A bare analysis date covers that whole day.
            bound = day_end if analysis_date == analysis_date.normalize() else limit
            cmp = ">=" if bound == day_end else ">"
            self.add_rows(
                f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} "
                f"WHERE {expr} {cmp} TIMESTAMP {bound}",
                col,
                "date after the analysis date",
                f"a date on or before the analysis date {analysis_date.date()} "
                "([project] analysis_date)",
            )

    def check_items(self, cols: list[str], role: str) -> None:
        """Flag stray non-numbers in a mostly numeric basis or behaviour column."""
        for col in cols:
            if self.types.get(col) != "VARCHAR":
                continue
            q = _quote(col)
            n, n_num = self.con.execute(
                f"SELECT count({q}), count(TRY_CAST({q} AS DOUBLE)) FROM {self.raw} "
                f"WHERE trim({q}) <> ''"
            ).fetchone()
            if n and n_num and n_num < n and n_num >= 0.5 * n:
                self.add_rows(
                    f"SELECT {ROW}, {q} FROM {self.raw} WHERE trim({q}) <> '' "
                    f"AND TRY_CAST({q} AS DOUBLE) IS NULL",
                    col,
                    "not a number in a numeric column",
                    f"a number like the other {n_num:,} values (role: {role})",
                )

    def check_foreign(self, col: str, other: str, other_id: str, label: str) -> None:
        q = _quote(col)
        self.add_rows(
            f"SELECT r.{ROW}, CAST(r.{q} AS VARCHAR) FROM {self.raw} r "
            f"WHERE r.{q} IS NOT NULL AND trim(CAST(r.{q} AS VARCHAR)) <> '' AND NOT EXISTS "
            f"(SELECT 1 FROM {other} o WHERE CAST(o.{_quote(other_id)} AS VARCHAR) = "
            f"CAST(r.{q} AS VARCHAR))",
            col,
            f"unknown id (not in {label})",
            f"an id present in {label}",
        )

    def to_problems(self) -> list[Problem]:
        return [
            Problem(self.name, self.label, row, col, value, expected, reason)
            for row, col, value, reason, expected in sorted(
                self.problems, key=lambda p: (p[0] or 0, p[1] or "")
            )
        ]


def _infer_varchar(con: duckdb.DuckDBPyConnection, raw: str, col: str) -> str:
    """CSV columns arrive as text; give each the narrowest type all its values fit."""
    q = _quote(col)
    n, n_int, n_dbl = con.execute(
        f"SELECT count({q}), count(TRY_CAST({q} AS BIGINT)), count(TRY_CAST({q} AS DOUBLE)) "
        f"FROM {raw} WHERE trim({q}) <> ''"
    ).fetchone()
    if n and n_int == n:
        return f"TRY_CAST(NULLIF(trim({q}), '') AS BIGINT)"
    if n and n_dbl == n:
        return f"TRY_CAST(NULLIF(trim({q}), '') AS DOUBLE)"
    return f"NULLIF({q}, '')" if n else "CAST(NULL AS VARCHAR)"


def _number_rows(con: duckdb.DuckDBPyConnection, raw: str, label: str) -> None:
    """A survey without an id column: respondents are numbered by row."""
    if "respondent_id" in con.table(raw).columns:
        raise ProjectError(
            f"{label} has a column 'respondent_id' but [sources.survey] declares no id: "
            'add id = "respondent_id" to the project file.'
        )
    con.execute(f"ALTER TABLE {raw} ADD COLUMN respondent_id VARCHAR")
    con.execute(f"UPDATE {raw} SET respondent_id = CAST({ROW} AS VARCHAR)")


def _analysis_date(config: ProjectConfig) -> pd.Timestamp | None:
    text = config.project.analysis_date
    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ProjectError(
            f"[project] analysis_date = {text!r} is not a date: write it as YYYY-MM-DD."
        ) from exc


def ingest(
    config: ProjectConfig,
    base_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> Ingested:
    """Read and check every declared table.

    Parameters
    ----------
    config : ProjectConfig
        The validated project file.
    base_dir : path
        The folder of the project file; source paths are relative to it.
    progress : callable, optional
        Called with each table's name as it starts.

    Returns
    -------
    Ingested
        Clean tables (pandas DataFrames in the source's row order) and the rows set aside.

    Raises
    ------
    DataError
        When a table breaks its contract and ``on_bad_rows = "fail"``.
    """
    base_dir = Path(base_dir)
    quarantine = config.project.on_bad_rows == "quarantine"
    analysis_date = _analysis_date(config)
    sources = config.sources.declared()
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = {_literal(str(base_dir.resolve()))}")
        con.execute(f"SET threads = {max(os.cpu_count() or 1, 1)}")
        lock_down(con, config, base_dir)  # read-only, project folder only, settings locked
        reader = _Reader(con, base_dir)
        tables: dict[str, IngestedTable] = {}
        id_tables: dict[str, tuple[str, str]] = {}  # table → (clean table name, id column)
        # Parents before children so foreign keys check against cleaned ids.
        for name in _INGEST_ORDER:
            if name not in sources:
                continue
            source = sources[name]
            if progress:
                progress(name)
            label, fingerprint, is_csv = reader.load(name, source)
            if isinstance(source, SurveySource) and source.id is None:
                _number_rows(con, f"raw_{name}", label)
            checker = _Checker(con, name, label, is_csv)
            roles = source.role_columns()
            checker.require_columns(roles)
            n_rows = checker.check_empty()
            _check_roles(checker, name, source, analysis_date, id_tables)
            problems = checker.to_problems()
            if problems and not quarantine:
                _raise(problems, label, is_csv)
            table = _finish(con, checker, source, problems, fingerprint, n_rows)
            if isinstance(source, SurveySource):
                id_tables[name] = (f"clean_{name}", source.id_column)
            elif isinstance(source, CustomersSource):
                id_tables[name] = (f"clean_{name}", source.id)
            tables[name] = table
        if analysis_date is None:
            analysis_date = _latest_date(tables)
        return Ingested(tables, analysis_date)
    finally:
        con.close()


def _check_roles(
    checker: _Checker,
    name: str,
    source: Source,
    analysis_date: pd.Timestamp | None,
    id_tables: dict[str, tuple[str, str]],
) -> None:
    if isinstance(source, SurveySource):
        checker.check_id(source.id_column, unique=True)
    if isinstance(source, CustomersSource):
        checker.check_id(source.id, unique=True)
    if isinstance(source, SurveySource):
        if source.weight:
            checker.check_number(source.weight, "weight", positive=True)
        checker.check_items(source.basis, "basis")
        checker.check_items(source.behaviours, "behaviours")
        if source.customer_id and "customers" in id_tables:
            clean, id_col = id_tables["customers"]
            checker.check_foreign(source.customer_id, clean, id_col, "customers")
    if isinstance(source, CustomersSource) and source.acquisition_cost:
        checker.check_number(source.acquisition_cost, "acquisition_cost", allow_negative=False)
    if isinstance(source, (TransactionsSource, EventsSource)):
        checker.check_id(source.customer_id, unique=False)
        checker.check_timestamp(source.timestamp, source.date_format, analysis_date)
        if "customers" in id_tables:
            clean, id_col = id_tables["customers"]
            checker.check_foreign(source.customer_id, clean, id_col, "customers")
    if isinstance(source, TransactionsSource):
        checker.check_number(
            source.amount,
            "amount",
            allow_negative=source.allow_returns,
            hint_negative="; if these are returns, set allow_returns = true under "
            "[sources.transactions]",
        )
        for role in ("margin", "cost"):
            col = getattr(source, role)
            if col:
                checker.check_number(col, role)
    if isinstance(source, EventsSource):
        checker.check_id(source.event_type, unique=False, what="event_type")
    if isinstance(source, CompetitorRatingsSource):
        checker.check_id(source.respondent_id, unique=False)
        checker.check_number(source.rating, "rating")
        if "survey" in id_tables:
            clean, id_col = id_tables["survey"]
            checker.check_foreign(source.respondent_id, clean, id_col, "survey")


def _raise(problems: list[Problem], label: str, csv: bool) -> None:
    listed = "\n".join("  " + p.describe(csv) for p in problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    rows = {p.row for p in problems}
    head = (
        f"{label}: {len(problems):,} problem{'s' if len(problems) > 1 else ''} in "
        f"{len(rows):,} row{'s' if len(rows) > 1 else ''}:\n{listed}"
    )
    if more > 0:
        head += f"\n  … and {more:,} more."
    raise DataError(
        head,
        problems,
        hint='Fix the data, or set on_bad_rows = "quarantine" under [project] to set such '
        "rows aside (they are written to the run's rejected/ folder with their reasons).",
    )


def _finish(
    con: duckdb.DuckDBPyConnection,
    checker: _Checker,
    source: Source,
    problems: list[Problem],
    fingerprint: str,
    n_rows: int,
) -> IngestedTable:
    name, raw = checker.name, checker.raw
    roles = source.role_columns()
    date_format = getattr(source, "date_format", None)
    exprs = []
    for col in checker.columns:
        q = _quote(col)
        role = roles.get(col)
        if role in ID_ROLES or (role == "event_type"):
            expr = f"NULLIF(trim(CAST({q} AS VARCHAR)), '')"
        elif role in NUMBER_ROLES:
            expr = f"TRY_CAST({q} AS DOUBLE)"
        elif role in TIME_ROLES:
            expr = checker.timestamp_expr(col, date_format)
        elif checker.types.get(col) == "VARCHAR" and checker.csv:
            expr = _infer_varchar(con, raw, col)
        else:
            expr = q
        exprs.append(f"{expr} AS {q}")
    bad = sorted({p.row for p in problems if p.row is not None})
    con.execute("CREATE OR REPLACE TEMP TABLE bad_rows (r BIGINT)")
    if bad:
        con.executemany("INSERT INTO bad_rows VALUES (?)", [[r] for r in bad])
    where = f"WHERE {ROW} NOT IN (SELECT r FROM bad_rows)" if bad else ""
    select = f"SELECT {', '.join(exprs)} FROM {raw} {where} ORDER BY {ROW}"
    if isinstance(source, (SurveySource, CustomersSource)):
        # Kept as a table: later tables check their foreign keys against it.
        con.execute(f"CREATE TABLE clean_{name} AS {select}")
        frame = to_pandas(con.table(f"clean_{name}"))
    else:
        frame = to_pandas(con.sql(select))
    rejected = pd.DataFrame()
    if bad:
        reasons = (
            pd.DataFrame(
                [(p.row, p.describe(checker.csv)) for p in problems if p.row is not None],
                columns=[ROW, "reason"],
            )
            .groupby(ROW, sort=True)["reason"]
            .agg(" | ".join)
            .reset_index()
        )
        con.register("reasons_df", reasons)
        rejected = con.sql(
            f"SELECT r.{ROW} AS source_row, x.reason, r.* EXCLUDE ({ROW}) FROM {raw} r "
            f"JOIN reasons_df x ON x.{ROW} = r.{ROW} ORDER BY r.{ROW}"
        ).df()
        con.unregister("reasons_df")
    return IngestedTable(name, source, frame, fingerprint, n_rows, rejected)


def _latest_date(tables: dict[str, IngestedTable]) -> pd.Timestamp | None:
    latest: pd.Timestamp | None = None
    for table in tables.values():
        col = getattr(table.source, "timestamp", None)
        if col and col in table.frame and len(table.frame):
            value = pd.Timestamp(table.frame[col].max())
            latest = value if latest is None or value > latest else latest
    return latest
