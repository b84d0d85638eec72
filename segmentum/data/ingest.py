"""Ingest: read every declared source through embedded DuckDB and check it against its roles.

Nothing is dropped silently. Each bad value becomes a :class:`~segmentum.data.errors.Problem`
naming file, row, column, value and what was expected. With ``on_bad_rows = "fail"`` (the
default) any problem stops the run with a :class:`~segmentum.data.errors.DataError`; with
``"quarantine"`` the offending rows are set aside with their reasons (the run writes them to
``rejected/``) and counted in the report.

Every value a stage uses is checked: answers against their rating scale (declared with
``scale``/``scales``, else inferred from the answers), numbers for NaN, infinity and absurd
magnitudes, dates for zero dates and the future. What ingest reads into the data rather than
rejects (missing-value codes, Yes/No spellings, an inferred scale) is said in the table's
``notes``.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segmentum.data.errors import DataError, Problem, ProjectError
from segmentum.data.locate import check_query, in_folder, lock_down, source_file
from segmentum.data.project import (
    ChannelsSource,
    CompetitorRatingsSource,
    CustomersSource,
    EventsSource,
    LeadsSource,
    OffersSource,
    ProjectConfig,
    ResponsesSource,
    Scale,
    Source,
    SurveySource,
    TransactionsSource,
)

ROW = "__row"
_INGEST_ORDER = (
    "customers",
    "survey",
    "transactions",
    "events",
    "competitor_ratings",
    "offers",
    "responses",
    "leads",
    "channels",
)
MAX_LISTED = 10  # problems spelled out in an error message; all are counted

ID_ROLES = {"id", "customer_id", "respondent_id", "offer_id"}
NUMBER_ROLES = {
    "amount",
    "margin",
    "cost",
    "weight",
    "rating",
    "acquisition_cost",
    "value",
    "limit",
}
FLAG_ROLES = {"accepted"}
TIME_ROLES = {"timestamp"}
# Basis items and behaviours must be numbers or consistent labels (Yes/No); a column that is
# mostly numeric with a few stray words is flagged row by row.
ITEM_ROLES = {"basis", "behaviours"}
# Money beyond a trillion per row is a unit or export error, not a purchase; it overflows the
# value models (an amount of 1e300 makes every CLV vanish).
MAX_MONEY = 1e12
# A respondent who counts for more than 10,000 typical respondents is a broken weight.
MAX_WEIGHT_RATIO = 1e4
YES = ("yes", "y", "true", "t")
NO = ("no", "n", "false", "f")
# A text basis item with more distinct answers than this, or longer answers on average, is
# free text, not categories.
MAX_CATEGORIES = 20
MAX_CATEGORY_LENGTH = 30
EARLIEST_DATE = "1900-01-01 00:00:00"
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")


class Deferred:
    """A table kept in the engine (Spark), brought to the driver only when asked for.

    ``collect`` gives the pandas frame (called once, on the first :meth:`get`; the result is
    kept); ``n_rows`` and ``columns`` are known without collecting; ``spark`` is the Spark
    DataFrame it is collected from. ``asked_by`` names the code that had it collected
    (``module:function:line``, the first caller outside this module): a stage that still
    reads a big table on the driver shows there.
    """

    def __init__(
        self,
        collect: Callable[[], pd.DataFrame],
        n_rows: int,
        columns: list[str],
        spark: Any = None,
    ):
        self._collect = collect
        self._frame: pd.DataFrame | None = None
        self.n_rows = n_rows
        self.columns = list(columns)
        self.spark = spark
        self.asked_by: list[str] = []

    def get(self) -> pd.DataFrame:
        """The rows as a pandas frame, collected from the engine on the first call."""
        if self._frame is None:
            self.asked_by.append(_asker())
            self._frame = self._collect()
        return self._frame

    def __repr__(self) -> str:
        state = "collected" if self._frame is not None else "in the engine"
        return f"Deferred({self.n_rows:,} rows, {len(self.columns)} columns, {state})"


def _asker() -> str:
    """``module:function:line`` of the first caller outside this module."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "?"
    return f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_name}:{frame.f_lineno}"


def collect_frame(value: pd.DataFrame | Deferred) -> pd.DataFrame:
    """The one place a table kept in the engine is brought to the driver (see
    :class:`Deferred`); a pandas frame is returned as it is."""
    return value.get() if isinstance(value, Deferred) else value


@dataclass(frozen=True)
class IngestedTable:
    """One validated source table.

    ``contents`` are the clean rows and ``set_aside`` the rejected ones with their reasons:
    pandas frames, or, for a table Spark read (``engine = "spark"``), :class:`Deferred`
    tables that stay in Spark until someone reads :attr:`frame` or :attr:`rejected`. Row
    counts (:attr:`n_used`, :attr:`n_rejected`) never collect. ``spark`` is the clean table
    as a (persisted) Spark DataFrame when Spark read it (the same rows and columns as
    ``frame``), else ``None``; the stages that run in the engine read it.
    """

    name: str
    source: Source
    contents: pd.DataFrame | Deferred
    fingerprint: str
    n_rows_read: int
    set_aside: pd.DataFrame | Deferred = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()  # what ingest read into the data (inferred scales, recodes)
    spark: Any = field(default=None, compare=False, repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        """The clean rows as pandas (on Spark: collected on first use, see :class:`Deferred`)."""
        return collect_frame(self.contents)

    @property
    def rejected(self) -> pd.DataFrame:
        """The rows set aside (``source_row``, ``reason`` and the row's values) as pandas."""
        return collect_frame(self.set_aside)

    @property
    def columns(self) -> list[str]:
        """The clean table's columns (without collecting it)."""
        c = self.contents
        return list(c.columns) if isinstance(c, Deferred) else [str(x) for x in c.columns]

    @property
    def n_used(self) -> int:
        """Rows of the clean table (without collecting it)."""
        c = self.contents
        return c.n_rows if isinstance(c, Deferred) else len(c)

    @property
    def n_rejected(self) -> int:
        """Rows set aside (exact; without collecting them)."""
        r = self.set_aside
        return r.n_rows if isinstance(r, Deferred) else len(r)

    @property
    def rejected_spark(self) -> Any:
        """The rows set aside as a Spark DataFrame when Spark checked the table, else None."""
        r = self.set_aside
        return r.spark if isinstance(r, Deferred) else None


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

    def spark(self, name: str) -> Any:
        """The clean table ``name`` as a Spark DataFrame, or ``None`` (not read by Spark)."""
        table = self.tables.get(name)
        return None if table is None else table.spark

    @property
    def n_rejected(self) -> dict[str, int]:
        return {name: t.n_rejected for name, t in self.tables.items()}

    def release(self) -> None:
        """Unpersist the Spark tables the ingest persisted (the clean and rejected rows);
        they stay usable, recomputed from their files if read again."""
        for table in self.tables.values():
            for frame in (table.spark, table.rejected_spark):
                if frame is not None:
                    frame.unpersist()


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
    """Raise :class:`DataError` at the first byte that is not UTF-8, naming line and byte.

    A ``.gz`` file is checked as the text it holds (line and byte of the decompressed text),
    not as its compressed bytes.
    """
    label = label or str(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines_before = 0
    compressed = path.suffix.lower() == ".gz"
    with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
        while chunk := _read_chunk(handle, chunk_size, label):
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


def _read_chunk(handle: Any, size: int, label: str) -> bytes:
    """The next bytes of a plain or gzip file; a damaged gzip file is a DataError."""
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{label}: the file cannot be decompressed ({exc}).",
            hint="The .gz file is damaged or not gzip: compress the CSV again with gzip.",
        ) from None


def fingerprint_file(path: Path) -> str:
    """``sha256:`` of the file's bytes, streamed in 4 MB chunks (the driver holds one chunk
    at a time, whatever the file's size; a source is one file, never a folder)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def fingerprint_frame(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashed.tobytes()).hexdigest()


def _resolve_file(path: Path, label: str, key: str) -> Path:
    """``path`` made absolute, or a DataError for a symbolic link that loops."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # Python 3.11 raises RuntimeError on a loop
        raise DataError(
            f"{label}: the path cannot be followed ({key} in the project file): {exc}.",
            hint="A symbolic link points (through others) back to itself; point the path at "
            "the data file itself.",
        ) from None


def _check_is_file(path: Path, label: str, key: str) -> None:
    """A source path must be a readable file, not a folder or a device."""
    if path.is_dir():
        raise DataError(
            f"{label}: is a folder, not a data file ({key} in the project file).",
            hint="Point the path at one CSV or Parquet file in that folder, or read several "
            "with query = \"SELECT * FROM read_parquet('folder/*.parquet')\".",
        )
    if not path.is_file():
        raise DataError(
            f"{label}: is not a regular file ({key} in the project file).",
            hint="Point the path at a CSV or Parquet file.",
        )
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise DataError(
            f"{label}: cannot be read ({key} in the project file): {exc.strerror}.",
            hint="Check the file's permissions.",
        ) from None


def ragged_lines(path: Path, delimiter: str, limit: int = 5) -> tuple[int, list[tuple[int, int]]]:
    """Lines of a CSV file whose field count differs from the header's.

    Returns the header's field count and up to ``limit`` ``(line, fields)`` pairs (lines
    are 1-based, the header is line 1; a quoted field spanning lines counts from its start).
    """
    import csv

    found: list[tuple[int, int]] = []
    with path.open(encoding="utf-8", newline="", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except (StopIteration, csv.Error):
            return 0, found
        start = reader.line_num + 1
        try:
            for row in reader:
                if row and len(row) != len(header):
                    found.append((start, len(row)))
                    if len(found) >= limit:
                        break
                start = reader.line_num + 1
        except csv.Error:
            found.append((start, -1))
    return len(header), found


def duckdb_read_error(text: str) -> str:
    """DuckDB's read error, without the advice that applies to its own options.

    A ragged CSV line deep in a file ("CSV Error on Line: 25001 … Expected Number of
    Columns: 7 Found: 8") is said as the line and its number of fields.
    """
    import re

    match = re.search(
        r"CSV Error on Line: (\d+)\s*\nOriginal Line: (.*?)\n"
        r"Expected Number of Columns: (\d+) Found: (\d+)",
        text,
        flags=re.DOTALL,
    )
    if match:
        line, original, expected, found = match.groups()
        return (
            f"line {line} has {found} fields where the header has {expected} "
            f"(the line reads {original[:120]!r})"
        )
    first = text.split("\n\n")[0]
    return first.split("\nPossible fixes:")[0].strip()


def duplicate_header(path: Path, n_columns: int) -> list[str]:
    """Column names that a CSV file's header (of ``n_columns`` fields) gives more than once.

    DuckDB renames a repeated ``region`` to ``region_1``, so the file's own first line is
    read, split on the delimiter that gives ``n_columns`` fields.
    """
    import csv

    with path.open(encoding="utf-8", newline="", errors="replace") as handle:
        first = handle.readline(1 << 20)
    for delimiter in (",", ";", "\t", "|"):
        try:
            header = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:
            continue
        if len(header) == n_columns:
            names = [h.strip().lstrip("\ufeff") for h in header]
            return sorted({n for n in names if names.count(n) > 1})
    return []


def check_csv_shape(con: duckdb.DuckDBPyConnection, raw: str, path: Path, label: str) -> None:
    """A CSV that DuckDB read as one column because some line is ragged: name that line.

    DuckDB falls back to a single column when rows disagree on their number of fields early
    in the file; every role column then looks missing. When the header itself has several
    fields, the file is scanned for the lines that break the shape.
    """
    if path.suffix.lower() == ".gz":  # compressed: DuckDB's own errors name the line
        return
    columns = [c for c in con.table(raw).columns if c != ROW]
    if len(columns) != 1:
        twice = duplicate_header(path, len(columns))
        if twice:
            raise duplicate_header_error(label, twice)
        return
    error = ragged_error(path, label, columns[0])
    if error is not None:
        raise error


def duplicate_header_error(label: str, twice: list[str]) -> DataError:
    """The error for a header that names ``twice`` more than once."""
    return DataError(
        f"{label}: the header names column{'s' if len(twice) > 1 else ''} "
        f"{', '.join(repr(t) for t in twice)} more than once (line 1); which one is "
        "meant is not clear.",
        [
            Problem("", label, None, t, None, "each column name once", "duplicate column")
            for t in twice
        ],
        hint="Rename or remove the repeated columns in the file.",
    )


def ragged_error(path: Path, label: str, header: str) -> DataError | None:
    """The error naming the lines of ``path`` whose field count differs from the header's
    (the delimiter is the one ``header`` holds most of), or None when every line fits."""
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    delimiter, n = max(counts.items(), key=lambda kv: kv[1])
    if n == 0:
        return None
    n_fields, bad = ragged_lines(path, delimiter)
    if not bad:
        return None
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    listed = "; ".join(
        f"line {line} cannot be split (unclosed quote?)"
        if fields < 0
        else f"line {line} has {fields} fields"
        for line, fields in bad
    )
    return DataError(
        f"{label}: rows do not all have the {n_fields} fields of the header "
        f"(delimiter {shown}): {listed}.",
        [
            Problem(
                "",
                label,
                max(line - 1, 1),
                None,
                None,
                f"{n_fields} fields like the header",
                "ragged line",
            )
            for line, _ in bad
        ],
        hint="Fix those lines (a stray delimiter, a missing field or an unquoted text with "
        "the delimiter in it), or quote text fields when exporting.",
    )


# --- what each check says: shared by the DuckDB checker and the Spark one -------------


def missing_columns_error(
    name: str, label: str, columns: list[str], roles: dict[str, str]
) -> DataError | None:
    """The error for role columns (column → role) that ``columns`` lacks, or None."""
    missing = [(col, role) for col, role in roles.items() if col not in columns]
    if not missing:
        return None
    import difflib

    lines = []
    for col, role in missing:
        close = difflib.get_close_matches(col, columns, n=1)
        tip = f" Did you mean '{close[0]}'?" if close else ""
        lines.append(f"column '{col}' (role: {role}) is not in the table.{tip}")
    problems = [
        Problem(name, label, None, c, None, f"a column for role {r}", "missing column")
        for c, r in missing
    ]
    return DataError(
        f"{label}: "
        + " ".join(lines)
        + f" Columns present: {', '.join(columns[:30])}"
        + (" …" if len(columns) > 30 else "")
        + ".",
        problems,
        hint=f"Fix the column names under [sources.{name}] in the project file.",
    )


def empty_table_error(name: str, label: str) -> DataError:
    return DataError(
        f"{label}: the table has no rows (sources.{name}).",
        hint="Export it again with its data, or remove it from the project.",
    )


def missing_id_rule(what: str) -> tuple[str, str]:
    """(reason, expected) for a row without its id (``what`` is the role)."""
    return f"missing {what}", f"a value on every row (role: {what})"


DUPLICATE_ID_RULE = ("duplicate id", "each id once")


def unknown_id_rule(label: str) -> tuple[str, str]:
    """(reason, expected) for an id that the parent table ``label`` lacks."""
    return f"unknown id (not in {label})", f"an id present in {label}"


def finite_item_rule(role: str) -> tuple[str, str]:
    """(reason, expected) for NaN or infinity in a numeric item or descriptor."""
    return (
        "not a finite number",
        f"a finite answer (role: {role}); leave the cell empty where there is no answer",
    )


def number_rules(
    role: str,
    *,
    allow_negative: bool = True,
    positive: bool = False,
    hint_negative: str = "",
    median: float | None = None,
) -> list[tuple[str, str, str, bool]]:
    """The checks of a number column for ``role``, in the order they are tried: (rule,
    reason, expected, whether to show the cell's value). Rules: ``not_number``,
    ``not_finite``, ``absurd_amount``, ``absurd_weight`` (when ``median``, the median
    positive weight, is known), ``missing``, ``not_positive``, ``negative``."""
    rules: list[tuple[str, str, str, bool]] = [
        ("not_number", "not a number", f"a number (role: {role})", True),
        (
            "not_finite",
            "not a finite number",
            f"a finite number (role: {role}); leave the cell empty where there is no value",
            True,
        ),
    ]
    if role in ("amount", "margin", "cost", "acquisition_cost"):
        rules.append(
            (
                "absurd_amount",
                "absurd amount",
                f"an amount below {MAX_MONEY:.0e} in absolute value (role: {role}); check "
                "the export's units and decimal separator",
                True,
            )
        )
    if role == "weight" and median is not None:
        rules.append(
            (
                "absurd_weight",
                "absurd weight",
                f"a weight at most {MAX_WEIGHT_RATIO:,.0f} times the median weight "
                f"({median:g}); trim or recompute the survey weights",
                True,
            )
        )
    if role in ("amount", "weight", "rating"):
        rules.append(("missing", "missing value", f"a number on every row (role: {role})", False))
    if positive:
        rules.append(("not_positive", "not positive", f"a positive number (role: {role})", True))
    elif not allow_negative:
        rules.append(
            (
                "negative",
                "negative amount",
                f"an amount ≥ 0 (role: {role}){hint_negative}",
                True,
            )
        )
    return rules


def date_expected(date_format: str | None) -> str:
    """What a readable date looks like (the ``expected`` of a "not a date" problem)."""
    if date_format:
        return f"a date in the format {date_format}"
    return "an ISO date or time (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS; set date_format otherwise)"


def after_analysis_rule(analysis_date: pd.Timestamp) -> tuple[str, bool, str, str]:
    """(bound as 'YYYY-MM-DD HH:MM:SS', bound itself too late?, reason, expected) for dates
    after the analysis date; a bare analysis date covers that whole day."""
    whole_day = analysis_date == analysis_date.normalize()
    bound = analysis_date + pd.Timedelta(days=1) if whole_day else analysis_date
    return (
        bound.isoformat(sep=" "),
        whole_day,
        "date after the analysis date",
        f"a date on or before the analysis date {analysis_date.date()} ([project] analysis_date)",
    )


def absurd_date_rules(analysis_date: pd.Timestamp | None) -> list[tuple[str, str, str, str]]:
    """(comparison, bound, reason, expected) for dates before 1900 and, without an analysis
    date, dates after today, in the order they are tried."""
    rules = [
        (
            "<",
            EARLIEST_DATE,
            "date before 1900",
            f"a date from {EARLIEST_DATE[:4]} on; an export's empty date (0001-01-01, "
            "1899-12-30) should be left empty",
        )
    ]
    if analysis_date is None:
        tomorrow = (pd.Timestamp.now().normalize() + pd.Timedelta(days=1)).isoformat(sep=" ")
        rules.append(
            (
                ">=",
                tomorrow,
                "date in the future",
                f"a date on or before today ({tomorrow[:10]} is tomorrow); set [project] "
                "analysis_date if the data are meant to reach past today",
            )
        )
    return rules


def yes_no_note(col: str, spellings: list[Any]) -> str:
    return (
        f"column '{col}': {len(spellings)} spellings of Yes/No "
        f"({', '.join(repr(v) for v in spellings)}) read as Yes and No."
    )


def labels_note(col: str, changed: list[tuple[str, int]]) -> str:
    shown = ", ".join(f"{v!r} → {v.strip().lower()!r}" for v, _ in changed[:5])
    return (
        f"column '{col}': {sum(n for _, n in changed):,} value(s) read trimmed and in lower "
        f"case ({shown}{', …' if len(changed) > 5 else ''})."
    )


def check_source_file(name: str, source: Source, base_dir: Path) -> tuple[str, Path, bool]:
    """The file of a ``path`` source, checked before any engine reads it.

    Returns (label used in messages, resolved path, is_csv). Raises a DataError for a file
    that is missing, not a regular file, empty, not UTF-8 (CSV) or of an unknown type, and
    for one outside the project folder unless ``allow_outside``.
    """
    label = str(source.path)
    path = _resolve_file(base_dir / label, label, f"sources.{name}.path")
    if not path.exists():
        raise DataError(
            f"{label}: file not found (sources.{name}.path in the project file, "
            f"looked for {path}).",
            hint="Fix the path in the project file; it is relative to the project file.",
        )
    _check_is_file(path, label, f"sources.{name}.path")
    found = source_file(name, source, base_dir)  # inside, unless allow_outside
    assert found is not None
    path = found
    if path.stat().st_size == 0:
        raise DataError(
            f"{label}: the file is empty (sources.{name}).",
            hint="Export the table again, with its header row.",
        )
    suffix = path.suffix.lower()
    is_csv = suffix in (".csv", ".tsv", ".txt", ".gz")
    if is_csv:
        check_utf8(path, label)
    elif suffix not in (".parquet", ".pq"):
        raise DataError(
            f"{label}: unknown file type '{suffix}' (sources.{name}.path).",
            hint="Use a .csv or .parquet file, or a DuckDB table or query.",
        )
    return label, path, is_csv


class _Reader:
    """Loads one source into a DuckDB table ``raw_<name>`` with a 1-based ``__row`` column."""

    def __init__(self, con: duckdb.DuckDBPyConnection, base_dir: Path):
        self.con = con
        self.base_dir = base_dir

    def load(self, name: str, source: Source) -> tuple[str, str, bool]:
        """Return (label used in messages, fingerprint, was_csv)."""
        raw = f"raw_{name}"
        if source.path:
            label, path, is_csv = check_source_file(name, source, self.base_dir)
            reader = (
                f"read_csv({_literal(str(path))}, header=true, all_varchar=true, "
                "auto_detect=true, strict_mode=true)"
                if is_csv
                else f"read_parquet({_literal(str(path))})"
            )
            self._create(raw, f"SELECT * FROM {reader}", label)
            if is_csv:
                check_csv_shape(self.con, raw, path, label)
            return label, fingerprint_file(path), is_csv
        if source.table:
            db, _, table = source.table.rpartition(":")
            if not db or not table:
                raise ProjectError(
                    f"sources.{name}.table = {source.table!r}: write it as 'file.duckdb:table'."
                )
            db_path = _resolve_file(self.base_dir / db, db, f"sources.{name}.table")
            if not db_path.exists():
                raise DataError(
                    f"{db}: DuckDB file not found (sources.{name}.table).",
                    hint="Fix the path in the project file.",
                )
            _check_is_file(db_path, db, f"sources.{name}.table")
            db_path = source_file(name, source, self.base_dir)  # inside, unless allow_outside
            assert db_path is not None
            alias = f"src_{name}"
            try:
                self.con.execute(f"ATTACH {_literal(str(db_path))} AS {alias} (READ_ONLY)")
            except duckdb.Error as exc:
                raise DataError(
                    f"{db}: not a DuckDB database DuckDB can open (sources.{name}.table): "
                    f"{duckdb_read_error(str(exc))}",
                    hint="Point table = 'file.duckdb:table' at a DuckDB file; read a CSV or "
                    "Parquet file with path = '…' instead.",
                ) from None
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
            message = duckdb_read_error(str(exc))
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
        self.notes: list[str] = []
        self.numeric: dict[str, bool] = {}  # column → mostly numbers (survey items)
        self.columns = [c for c in con.table(self.raw).columns if c != ROW]
        self.types = dict(zip(con.table(self.raw).columns, con.table(self.raw).dtypes, strict=True))

    def add_rows(self, sql: str, column: str | None, reason: str, expected: str) -> None:
        """``sql`` selects (__row, value) of offending rows."""
        for row, value in self.con.execute(sql).fetchall():
            self.problems.append(
                (int(row), column, None if value is None else str(value), reason, expected)
            )

    def require_columns(self, roles: dict[str, str]) -> None:
        error = missing_columns_error(self.name, self.label, self.columns, roles)
        if error is not None:
            raise error

    def check_empty(self) -> int:
        n = self.con.execute(f"SELECT count(*) FROM {self.raw}").fetchone()[0]
        if n == 0:
            raise empty_table_error(self.name, self.label)
        return int(n)

    def check_id(self, col: str, unique: bool, what: str = "id") -> None:
        q = _quote(col)
        self.add_rows(
            f"SELECT {ROW}, NULL FROM {self.raw} WHERE {q} IS NULL "
            f"OR trim(CAST({q} AS VARCHAR)) = ''",
            col,
            *missing_id_rule(what),
        )
        if unique:
            sql = f"""
                SELECT {ROW}, CAST({q} AS VARCHAR) || ' (first seen on row ' || first_row || ')'
                FROM (SELECT {ROW}, {q}, min({ROW}) OVER (PARTITION BY {q}) AS first_row
                      FROM {self.raw} WHERE {q} IS NOT NULL)
                WHERE {ROW} > first_row ORDER BY {ROW}"""
            self.add_rows(sql, col, *DUPLICATE_ID_RULE)

    def check_number(
        self,
        col: str,
        role: str,
        *,
        allow_negative: bool = True,
        positive: bool = False,
        hint_negative: str = "",
    ) -> None:
        """Flag every cell of a number column that is not a usable number, in one scan.

        Not a number, NaN or infinite, absurd (money beyond :data:`MAX_MONEY`, a weight more
        than :data:`MAX_WEIGHT_RATIO` times the median), missing where the role needs a
        value, not positive or negative where the role forbids it.
        """
        q = _quote(col)
        value = f"TRY_CAST({q} AS DOUBLE)"
        checks = self._number_checks(col, role, allow_negative, positive, hint_negative)
        kind = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, *_) in enumerate(checks))
        rows = self.con.execute(
            f"SELECT {ROW}, CAST({q} AS VARCHAR), kind FROM ("
            f"SELECT {ROW}, {q}, CASE {kind} END AS kind FROM ("
            f"SELECT {ROW}, {q}, trim(CAST({q} AS VARCHAR)) AS t, {value} AS v FROM {self.raw}"
            f")) WHERE kind IS NOT NULL ORDER BY {ROW}"
        ).fetchall()
        for row, cell, i in rows:
            _, reason, expected, show = checks[i]
            shown = None if cell is None or not show else str(cell)
            self.problems.append((int(row), col, shown, reason, expected))

    def _number_checks(
        self, col: str, role: str, allow_negative: bool, positive: bool, hint_negative: str
    ) -> list[tuple[str, str, str, bool]]:
        """The checks :meth:`check_number` runs on ``col`` for ``role``, in order: SQL
        condition, reason, what was expected, whether to show the cell's value."""
        median = None
        if role == "weight":
            value = f"TRY_CAST({_quote(col)} AS DOUBLE)"
            finite = f"{value} IS NOT NULL AND isfinite({value})"  # for the median, on raw
            median = self.con.execute(
                f"SELECT median({value}) FROM {self.raw} WHERE {finite} AND {value} > 0"
            ).fetchone()[0]
        rules = number_rules(
            role,
            allow_negative=allow_negative,
            positive=positive,
            hint_negative=hint_negative,
            median=None if median is None else float(median),
        )
        # The conditions read t (the cell as text, trimmed) and v (the cell as a number),
        # computed once per row.
        conditions = {
            "not_number": "t <> '' AND v IS NULL",
            "not_finite": "v IS NOT NULL AND NOT isfinite(v)",
            "absurd_amount": f"isfinite(v) AND abs(v) > {MAX_MONEY!r}",
            "missing": "t IS NULL OR t = ''",
            "not_positive": "isfinite(v) AND v <= 0",
            "negative": "isfinite(v) AND v < 0",
        }
        if median is not None:
            conditions["absurd_weight"] = (
                f"isfinite(v) AND v > {float(median) * MAX_WEIGHT_RATIO!r}"
            )
        return [(conditions[rule], *texts) for rule, *texts in rules]  # type: ignore[misc]

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
        fmt = date_expected(date_format)
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
            bound, inclusive, reason, expected = after_analysis_rule(analysis_date)
            cmp = ">=" if inclusive else ">"
            self.add_rows(
                f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {self.raw} "
                f"WHERE {expr} {cmp} TIMESTAMP {_literal(bound)}",
                col,
                reason,
                expected,
            )
        self.check_absurd_dates(col, expr, analysis_date)

    def check_absurd_dates(self, col: str, expr: str, analysis_date: pd.Timestamp | None) -> None:
        """Dates before 1900 (an export's zero date) and, when no analysis date is declared,
        dates after today: the latest date would become the analysis date and every customer
        would look lapsed."""
        q = _quote(col)
        checks = [
            (f"t {cmp} TIMESTAMP {_literal(bound)}", reason, expected)
            for cmp, bound, reason, expected in absurd_date_rules(analysis_date)
        ]
        kind = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, *_) in enumerate(checks))
        rows = self.con.execute(
            f"SELECT {ROW}, CAST({q} AS VARCHAR), kind FROM ("
            f"SELECT {ROW}, {q}, CASE {kind} END AS kind FROM ("
            f"SELECT {ROW}, {q}, {expr} AS t FROM {self.raw})) "
            f"WHERE kind IS NOT NULL ORDER BY {ROW}"
        ).fetchall()
        for row, cell, i in rows:
            _, reason, expected = checks[i]
            self.problems.append(
                (int(row), col, None if cell is None else str(cell), reason, expected)
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
                    f"a number like the other {n_num:,} values (role: {role}); if it means "
                    "no answer, list it in missing = [...] under [sources.survey]",
                )

    def check_foreign(self, col: str, other: str, other_id: str, label: str) -> None:
        q = _quote(col)
        self.add_rows(
            f"SELECT r.{ROW}, CAST(r.{q} AS VARCHAR) FROM {self.raw} r "
            f"WHERE r.{q} IS NOT NULL AND trim(CAST(r.{q} AS VARCHAR)) <> '' AND NOT EXISTS "
            f"(SELECT 1 FROM {other} o WHERE CAST(o.{_quote(other_id)} AS VARCHAR) = "
            f"CAST(r.{q} AS VARCHAR))",
            col,
            *unknown_id_rule(label),
        )

    def to_problems(self) -> list[Problem]:
        return [
            Problem(self.name, self.label, row, col, value, expected, reason)
            for row, col, value, reason, expected in sorted(
                self.problems, key=lambda p: (p[0] or 0, p[1] or "")
            )
        ]


# --- survey items: missing codes, Yes/No spellings, free text, finiteness, scales ----------


def rating_run(counts: dict[float, int]) -> Scale | None:
    """The rating scale a set of answers is on, or None if they do not look like one.

    ``counts`` maps each distinct answer to how often it was given. Answers on a rating
    scale are whole numbers; the scale is the run of consecutive whole numbers that holds
    the most answers, when that run has at least two points, spans at most 11 (0–10) and
    holds at least half of the answers. Values beyond it (a ``99`` "don't know" code, a
    ``-7`` typo on a 1–7 item) are not on the scale.

    Examples
    --------
    >>> rating_run({1: 40, 2: 51, 3: 60, 4: 58, 5: 49, 6: 30, 7: 11, 99: 1})
    (1.0, 7.0)
    >>> rating_run({0.25: 3, 1.5: 4}) is None  # not whole numbers
    True
    """
    values = sorted(v for v in counts if counts[v] > 0)
    if not values or any(float(v) != int(v) for v in values):
        return None
    total = sum(counts[v] for v in values)
    best: tuple[int, float, float] | None = None
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] - values[i - 1] > 1:
            run = values[start:i]
            n = sum(counts[v] for v in run)
            if best is None or n > best[0]:
                best = (n, float(run[0]), float(run[-1]))
            start = i
    assert best is not None
    n, low, high = best
    if high == low or high - low > 10 or n < 0.5 * total:
        return None
    return low, high


def _is_numeric_column(checker: _Checker, col: str) -> bool:
    """Typed numbers, or text cells of which at least half read as numbers.

    Asked after missing codes and Yes/No spellings are read, so the answer is kept.
    """
    known = checker.numeric.get(col)
    if known is not None:
        return known
    dtype = str(checker.types.get(col, ""))
    if dtype in NUMERIC_TYPES or dtype.startswith("DECIMAL"):
        answer = True
    elif dtype != "VARCHAR":
        answer = False
    else:
        q = _quote(col)
        n, n_num = checker.con.execute(
            f"SELECT count({q}), count(TRY_CAST({q} AS DOUBLE)) FROM {checker.raw} "
            f"WHERE trim({q}) <> ''"
        ).fetchone()
        answer = bool(n) and n_num >= 0.5 * n
    checker.numeric[col] = answer
    return answer


def recode_missing(checker: _Checker, cols: list[str], codes: list[float | str]) -> None:
    """Read the declared missing-value codes as no answer (NULL), with a note."""
    if not codes:
        return
    numbers = [float(c) for c in codes if not isinstance(c, str)]
    texts = [c.strip().lower() for c in codes if isinstance(c, str)]
    recoded: dict[str, int] = {}
    for col in cols:
        q = _quote(col)
        parts = []
        if numbers:
            parts.append(f"TRY_CAST({q} AS DOUBLE) IN ({', '.join(repr(x) for x in numbers)})")
        if texts:
            parts.append(
                f"lower(trim(CAST({q} AS VARCHAR))) IN ({', '.join(_literal(t) for t in texts)})"
            )
        where = " OR ".join(parts)
        n = checker.con.execute(f"SELECT count(*) FROM {checker.raw} WHERE {where}").fetchone()[0]
        if n:
            checker.con.execute(f"UPDATE {checker.raw} SET {q} = NULL WHERE {where}")
            recoded[col] = int(n)
    shown = ", ".join(repr(c) if isinstance(c, str) else f"{c:g}" for c in codes)
    if recoded:
        listed = ", ".join(f"{k} ({v:,})" for k, v in recoded.items())
        checker.notes.append(
            f"{sum(recoded.values()):,} answer(s) coded as missing ({shown}) read as no answer: "
            f"{listed}."
        )
    else:
        checker.notes.append(f"no answer matched the missing-value codes ({shown}).")


def normalise_yes_no(checker: _Checker, cols: list[str]) -> None:
    """Yes/No items spelled several ways (``Yes``, ``yes``, ``Y``, ``YES ``) become Yes/No."""
    for col in cols:
        if checker.types.get(col) != "VARCHAR":
            continue
        q = _quote(col)
        spellings = [
            r[0]
            for r in checker.con.execute(
                f"SELECT DISTINCT {q} FROM {checker.raw} WHERE trim({q}) <> '' ORDER BY 1 LIMIT 50"
            ).fetchall()
        ]
        lowered = {str(v).strip().lower() for v in spellings}
        if not spellings or not lowered <= set(YES) | set(NO):
            continue
        groups = {("Yes" if v in YES else "No") for v in lowered}
        if len(spellings) <= len(groups):
            continue  # one spelling for each of Yes and No: nothing to normalise
        yes = ", ".join(_literal(v) for v in YES)
        checker.con.execute(
            f"UPDATE {checker.raw} SET {q} = CASE WHEN lower(trim({q})) IN ({yes}) "
            f"THEN 'Yes' ELSE 'No' END WHERE trim({q}) <> ''"
        )
        checker.notes.append(yes_no_note(col, spellings))


def normalise_labels(checker: _Checker, col: str) -> None:
    """Event types are read trimmed and in lower case (``Support `` is ``support``), with a
    note: the value stage looks for ``support`` and would miss the other spellings."""
    if checker.types.get(col) != "VARCHAR":
        return
    q = _quote(col)
    changed = checker.con.execute(
        f"SELECT {q}, count(*) FROM {checker.raw} WHERE {q} <> lower(trim({q})) "
        f"GROUP BY {q} ORDER BY 2 DESC"
    ).fetchall()
    if not changed:
        return
    checker.con.execute(
        f"UPDATE {checker.raw} SET {q} = lower(trim({q})) WHERE {q} <> lower(trim({q}))"
    )
    checker.notes.append(labels_note(col, changed))


def check_free_text(checker: _Checker, cols: list[str], role: str) -> None:
    """A text item with many distinct or long answers cannot be a basis item: an error."""
    found = []
    for col in cols:
        if checker.types.get(col) != "VARCHAR" or _is_numeric_column(checker, col):
            continue
        q = _quote(col)
        n, distinct, length, example = checker.con.execute(
            f"SELECT count({q}), count(DISTINCT trim({q})), avg(length(trim({q}))), "
            f"max_by({q}, length({q})) FROM {checker.raw} WHERE trim({q}) <> ''"
        ).fetchone()
        if n and (distinct > MAX_CATEGORIES or (length or 0) > MAX_CATEGORY_LENGTH):
            found.append((col, int(distinct), str(example)))
    if not found:
        return
    lines = [
        f"column '{col}' (role: {role}) holds free text ({distinct:,} different answers, such "
        f"as {example[:60]!r}), not numbers, Yes/No or categories."
        for col, distinct, example in found
    ]
    raise DataError(
        f"{checker.label}: " + " ".join(lines),
        [
            Problem(
                checker.name,
                checker.label,
                None,
                col,
                example[:60],
                f"numbers, Yes/No or at most {MAX_CATEGORIES} categories (role: {role})",
                "free text",
            )
            for col, _, example in found
        ],
        hint=f"Remove it from {role} under [sources.{checker.name}]: declare an open answer as "
        f'text = "…" or keep it among the descriptors; recode a categorical item to at most '
        f"{MAX_CATEGORIES} categories.",
    )


def check_finite_items(checker: _Checker, cols: list[str], role: str) -> None:
    """NaN and infinity in a numeric column are bad rows (an empty cell means no answer)."""
    for col in cols:
        dtype = str(checker.types.get(col, ""))
        if dtype not in ("VARCHAR", "FLOAT", "DOUBLE") or not _is_numeric_column(checker, col):
            continue
        q = _quote(col)
        value = f"TRY_CAST({q} AS DOUBLE)"
        checker.add_rows(
            f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {checker.raw} "
            f"WHERE {value} IS NOT NULL AND NOT isfinite({value})",
            col,
            *finite_item_rule(role),
        )


def _answer_counts(checker: _Checker, col: str) -> dict[float, int]:
    q = _quote(col)
    value = f"TRY_CAST({q} AS DOUBLE)"
    rows = checker.con.execute(
        f"SELECT v, count(*) FROM (SELECT {value} AS v FROM {checker.raw}) "
        "WHERE v IS NOT NULL AND isfinite(v) GROUP BY v LIMIT 1001"
    ).fetchall()
    return {} if len(rows) > 1000 else {float(v): int(n) for v, n in rows}


def check_scales(checker: _Checker, source: SurveySource) -> None:
    """Answers outside their rating scale are bad rows: declared scales, else inferred ones."""
    inferred: dict[str, list[tuple[str, Scale]]] = {"basis": [], "behaviours": []}
    for col in source.items:
        if not _is_numeric_column(checker, col):
            continue
        declared = source.scale_of(col)
        if declared is not None:
            (low, high), where = declared
            _out_of_scale(
                checker,
                col,
                low,
                high,
                f"an answer from {low:g} to {high:g} ([sources.{checker.name}] {where}); if "
                "the value means no answer, list it in missing = [...]",
            )
            continue
        run = rating_run(_answer_counts(checker, col))
        if run is not None:
            inferred["basis" if col in source.basis else "behaviours"].append((col, run))
    for role, items in inferred.items():
        if not items:
            continue
        low = min(r[0] for _, r in items)
        high = max(r[1] for _, r in items)
        for col, _ in items:
            _out_of_scale(
                checker,
                col,
                low,
                high,
                f"an answer on the scale {low:g}–{high:g} the other answers use (declare "
                f"scale = [low, high] under [sources.{checker.name}] if the scale is wider; if "
                "the value means no answer, list it in missing = [...])",
            )
        if (low, high) == (0.0, 1.0):
            continue  # 0/1 items: nothing to say, though a 2 or a 9 is still a bad row
        declare = "scale" if role == "basis" else f"scales = {{ {items[0][0]} = [...] }}"
        checker.notes.append(
            f"no scale declared for {len(items)} {role} item(s): read as the rating scale "
            f"{low:g}–{high:g}, inferred from the answers; declare {declare}"
            + (f" = [{low:g}, {high:g}]" if role == "basis" else "")
            + f" under [sources.{checker.name}] to check them against the questionnaire."
        )


def check_rating_scale(checker: _Checker, col: str, scale: Scale | None) -> None:
    """Competitor ratings outside their scale (declared, else inferred) are bad rows."""
    where = f"[sources.{checker.name}] scale"
    if scale is None:
        scale = rating_run(_answer_counts(checker, col))
        if scale is None:
            return
        checker.notes.append(
            f"no scale declared for '{col}': read as the rating scale {scale[0]:g}–"
            f"{scale[1]:g}, inferred from the ratings; declare scale = [{scale[0]:g}, "
            f"{scale[1]:g}] under [sources.{checker.name}] to check it."
        )
        where = "inferred from the other ratings; declare scale = [low, high] if it is wider"
    _out_of_scale(
        checker,
        col,
        scale[0],
        scale[1],
        f"a rating from {scale[0]:g} to {scale[1]:g} ({where})",
    )


def _out_of_scale(checker: _Checker, col: str, low: float, high: float, expected: str) -> None:
    value = f"TRY_CAST({_quote(col)} AS DOUBLE)"
    checker.add_rows(
        f"SELECT {ROW}, CAST({_quote(col)} AS VARCHAR) FROM {checker.raw} "
        f"WHERE {value} IS NOT NULL AND isfinite({value}) "
        f"AND ({value} < {low!r} OR {value} > {high!r})",
        col,
        "outside the rating scale",
        expected,
    )


def check_all_missing(checker: _Checker, cols: list[str]) -> None:
    """A respondent with no answer to any basis item cannot be segmented: a bad row."""
    if not cols:
        return
    empty = " AND ".join(f"NULLIF(trim(CAST({_quote(c)} AS VARCHAR)), '') IS NULL" for c in cols)
    checker.add_rows(
        f"SELECT {ROW}, NULL FROM {checker.raw} WHERE {empty}",
        cols[0] if len(cols) == 1 else None,
        "no answer to any basis item",
        f"an answer to at least one basis item ({', '.join(cols[:5])}"
        + (", …)" if len(cols) > 5 else ")"),
    )


def _check_survey_items(checker: _Checker, source: SurveySource) -> None:
    """Every value the segments and profiles stages use from a survey, checked or read."""
    recode_missing(checker, source.items, source.missing)
    normalise_yes_no(checker, [*source.items, *source.descriptors])
    check_free_text(checker, source.basis, "basis")
    check_free_text(checker, source.behaviours, "behaviours")
    checker.check_items(source.basis, "basis")
    checker.check_items(source.behaviours, "behaviours")
    check_finite_items(checker, source.basis, "basis")
    check_finite_items(checker, source.behaviours, "behaviours")
    check_finite_items(checker, source.descriptors, "descriptors")
    check_scales(checker, source)
    check_all_missing(checker, source.basis)
    check_levels(checker, source)


def check_levels(checker: _Checker, source: SurveySource) -> None:
    """Declared ``levels`` cover every answer (else a DataError naming file, column and the
    values missed); an order inferred from the labels is said in a note. Columns whose
    answers are all numbers are profiled by their mean and left alone."""
    from segmentum.stats.levels import order_levels

    for col in dict.fromkeys([*source.descriptors, *source.behaviours, *source.basis]):
        if col not in checker.columns:
            continue
        q = _quote(col)
        words = (
            checker.types.get(col) == "VARCHAR"
            and checker.con.execute(
                f"SELECT DISTINCT {q} FROM {checker.raw} WHERE trim({q}) <> '' "
                f"AND TRY_CAST({q} AS DOUBLE) IS NULL LIMIT 1"
            ).fetchall()
        )
        if not words:  # all numbers: profiled by their mean
            if col in source.levels:
                checker.notes.append(
                    f"levels.{col} is not used: its answers are numbers, profiled by their mean."
                )
            continue
        declared = source.levels.get(col)
        limit = "" if declared is not None else " LIMIT 201"  # a declared list sees them all
        found = [
            r[0]
            for r in checker.con.execute(
                f"SELECT DISTINCT {q} FROM {checker.raw} WHERE trim({q}) <> ''{limit}"
            ).fetchall()
        ]
        if len(found) > 200 and declared is None:
            continue
        try:
            order = order_levels(col, found, declared)
        except ValueError as exc:
            raise DataError(
                f"{checker.label}: {exc}.",
                hint=f"levels.{col} under [sources.survey] must list every answer the "
                "column holds; remove it to let segmentum infer the order.",
            ) from None
        if order is not None and order.inferred:
            checker.notes.append(order.note() + ".")


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


def analysis_date_of(config: ProjectConfig) -> pd.Timestamp | None:
    """``[project] analysis_date`` as a Timestamp (None when not set), else a ProjectError."""
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
    spark: Any = None,
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
    spark : SparkIngest, optional
        With ``[project] engine = "spark"``: the Spark ingest that reads and checks the
        customer-side tables (:func:`segmentum.data.spark_ingest.ingest_spark` passes it).

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
    analysis_date = analysis_date_of(config)
    sources = config.sources.declared()
    if spark is None and config.project.engine == "spark" and any(map(on_spark, sources.items())):
        raise ValueError(
            'engine = "spark": read the project with segmentum.data.spark_ingest.ingest_spark '
            "(or Project.validate), which starts the Spark session"
        )
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = {_literal(str(base_dir.resolve()))}")
        con.execute(f"SET threads = {max(os.cpu_count() or 1, 1)}")
        lock_down(con, config, base_dir)  # read-only, project folder only, settings locked
        reader = _Reader(con, base_dir)
        tables: dict[str, IngestedTable] = {}
        id_tables: dict[str, tuple[str, str]] = {}  # table → (clean table name, id column)
        spark_parents: dict[str, str] = {}  # table Spark checked → its id column
        # Parents before children so foreign keys check against cleaned ids.
        for name in _INGEST_ORDER:
            if name not in sources:
                continue
            source = sources[name]
            if progress:
                progress(name)
            if spark is not None and on_spark((name, source)):
                tables[name] = _ingest_on_spark(spark, name, source, quarantine)
                if isinstance(source, CustomersSource):
                    spark_parents[name] = source.id
                    id_tables[name] = (f"clean_{name}", source.id)
                continue
            label, fingerprint, is_csv = reader.load(name, source)
            if isinstance(source, SurveySource) and source.id is None:
                _number_rows(con, f"raw_{name}", label)
            checker = _Checker(con, name, label, is_csv)
            roles = source.role_columns()
            checker.require_columns(roles)
            n_rows = checker.check_empty()
            if spark is not None and "customers" in spark_parents:
                _known_customers(con, spark, checker, source, spark_parents["customers"])
            _check_roles(checker, name, source, analysis_date, id_tables)
            problems = checker.to_problems()
            if problems and not quarantine:
                _raise(problems, label, is_csv)
            table = _finish(con, checker, source, problems, fingerprint, n_rows)
            if isinstance(source, SurveySource):
                id_tables[name] = (f"clean_{name}", source.id_column)
            elif isinstance(source, CustomersSource | OffersSource):
                id_tables[name] = (f"clean_{name}", source.id)
            if spark is not None and isinstance(source, CustomersSource):
                spark.adopt(name, table.contents, source.id)  # for the anti-joins on Spark
            tables[name] = table
        if analysis_date is None:
            analysis_date = _latest_date(tables)
        return Ingested(tables, analysis_date)
    finally:
        con.close()
        if spark is not None:
            spark.close()


SPARK_TABLES = ("customers", "transactions", "events")


def on_spark(table: tuple[str, Source]) -> bool:
    """Whether ``engine = "spark"`` reads this (name, source): a customer-side table
    (:data:`SPARK_TABLES`) declared by ``path``; the others stay on DuckDB."""
    name, source = table
    return name in SPARK_TABLES and source.path is not None


def _ingest_on_spark(spark: Any, name: str, source: Source, quarantine: bool) -> IngestedTable:
    """One customer-side table read and checked by Spark (engine = "spark"): the error
    gives the counts and the first problems Spark found; the clean table stays in Spark."""
    checked = spark.check(name, source)
    if checked.n_problems and not quarantine:
        _raise(
            checked.problems,
            checked.label,
            checked.is_csv,
            n_problems=checked.n_problems,
            n_rows=checked.n_bad_rows,
        )
    table: IngestedTable = spark.finish(checked)
    return table


def _known_customers(
    con: duckdb.DuckDBPyConnection,
    spark: Any,
    checker: _Checker,
    source: Source,
    id_column: str,
) -> None:
    """``clean_customers`` in DuckDB for a table DuckDB checks against customers Spark read:
    only the ids this table names that Spark's clean customers hold (the table's distinct
    ids go to Spark and the known ones come back; the customers stay in Spark)."""
    col = getattr(source, "customer_id", None)
    if not isinstance(source, _CUSTOMER_CHILDREN) or not col or col not in checker.columns:
        return
    q = _quote(col)
    rows = con.execute(
        f"SELECT DISTINCT CAST({q} AS VARCHAR) FROM {checker.raw} "
        f"WHERE {q} IS NOT NULL AND trim(CAST({q} AS VARCHAR)) <> ''"
    ).fetchall()
    ids = [r[0] for r in rows]
    known = pd.DataFrame({id_column: spark.known_ids("customers", ids)}, dtype=object)
    con.register("spark_known_ids", known)
    con.execute(
        "CREATE OR REPLACE TABLE clean_customers AS SELECT CAST("
        f"{_quote(id_column)} AS VARCHAR) AS {_quote(id_column)} FROM spark_known_ids"
    )
    con.unregister("spark_known_ids")


_CUSTOMER_CHILDREN = (SurveySource, TransactionsSource, EventsSource, ResponsesSource)


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
        _check_survey_items(checker, source)
        if source.customer_id and "customers" in id_tables:
            clean, id_col = id_tables["customers"]
            checker.check_foreign(source.customer_id, clean, id_col, "customers")
    if isinstance(source, CustomersSource):
        normalise_yes_no(checker, source.descriptors)
        check_finite_items(checker, source.descriptors, "descriptors")
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
        normalise_labels(checker, source.event_type)
    if isinstance(source, OffersSource | ResponsesSource):
        _check_offer_roles(checker, source, analysis_date, id_tables)
    if isinstance(source, LeadsSource):
        checker.check_id(source.id, unique=True)
    if isinstance(source, ChannelsSource):
        checker.check_id(source.channel, unique=True, what="channel")
    if isinstance(source, CompetitorRatingsSource):
        checker.check_id(source.respondent_id, unique=False)
        checker.check_number(source.rating, "rating")
        check_rating_scale(checker, source.rating, source.scale)
        if "survey" in id_tables:
            clean, id_col = id_tables["survey"]
            checker.check_foreign(source.respondent_id, clean, id_col, "survey")


def _check_offer_roles(
    checker: _Checker,
    source: OffersSource | ResponsesSource,
    analysis_date: pd.Timestamp | None,
    id_tables: dict[str, tuple[str, str]],
) -> None:
    """The offers (unique ids, numbers, a cost never negative) and the responses (known
    customers and offers, dates, a yes/no ``accepted``)."""
    if isinstance(source, OffersSource):
        checker.check_id(source.id, unique=True)
        checker.check_number(source.value, "value")
        if source.cost:
            checker.check_number(source.cost, "cost", allow_negative=False)
        if source.limit:
            q = _quote(source.limit)
            checker.add_rows(
                f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {checker.raw} WHERE {q} IS NOT NULL "
                f"AND trim(CAST({q} AS VARCHAR)) <> '' AND (TRY_CAST({q} AS DOUBLE) IS NULL "
                f"OR TRY_CAST({q} AS DOUBLE) < 0 OR TRY_CAST({q} AS DOUBLE) <> "
                f"round(TRY_CAST({q} AS DOUBLE)))",
                source.limit,
                "not a whole number of customers",
                "a whole number >= 0, or empty for no limit",
            )
        return
    checker.check_id(source.customer_id, unique=False)
    checker.check_id(source.offer_id, unique=False, what="offer_id")
    checker.check_timestamp(source.timestamp, source.date_format, analysis_date)
    for table, key in (("customers", source.customer_id), ("offers", source.offer_id)):
        if table in id_tables:
            clean, id_col = id_tables[table]
            checker.check_foreign(key, clean, id_col, table)
    q = _quote(source.accepted)
    flags = ", ".join(_literal(v) for v in (*YES, *NO, "1", "0", "1.0", "0.0"))
    checker.add_rows(
        f"SELECT {ROW}, CAST({q} AS VARCHAR) FROM {checker.raw} WHERE {q} IS NULL OR "
        f"lower(trim(CAST({q} AS VARCHAR))) NOT IN ({flags})",
        source.accepted,
        "not yes/no",
        "1/0, true/false or yes/no on every row",
    )


def _raise(
    problems: list[Problem],
    label: str,
    csv: bool,
    n_problems: int | None = None,
    n_rows: int | None = None,
) -> None:
    """Raise the DataError of a table's problems: the counts, the first
    :data:`MAX_LISTED` spelled out. ``problems`` may be only the first ones (Spark counts
    the rest in the engine); ``n_problems`` and ``n_rows`` then give the totals."""
    listed = "\n".join("  " + p.describe(csv) for p in problems[:MAX_LISTED])
    total = len(problems) if n_problems is None else n_problems
    more = total - MAX_LISTED
    rows = len({p.row for p in problems}) if n_rows is None else n_rows
    head = (
        f"{label}: {total:,} problem{'s' if total > 1 else ''} in "
        f"{rows:,} row{'s' if rows > 1 else ''}:\n{listed}"
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
        elif role in FLAG_ROLES:
            yes = ", ".join(_literal(v) for v in (*YES, "1", "1.0"))
            expr = f"lower(trim(CAST({q} AS VARCHAR))) IN ({yes})"
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
    if isinstance(source, (SurveySource, CustomersSource, OffersSource)):
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
    return IngestedTable(
        name, source, frame, fingerprint, n_rows, rejected, notes=tuple(checker.notes)
    )


def _latest_date(tables: dict[str, IngestedTable]) -> pd.Timestamp | None:
    latest: pd.Timestamp | None = None
    for table in tables.values():
        col = getattr(table.source, "timestamp", None)
        if not col or col not in table.columns or not table.n_used:
            continue
        if table.spark is not None:  # the latest date computed in Spark
            from pyspark.sql import functions as F

            micros = table.spark.agg(F.unix_micros(F.max(F.col(f"`{col}`")))).first()[0]
            if micros is None:
                continue
            value = pd.Timestamp(int(micros), unit="us")
        else:
            value = pd.Timestamp(table.frame[col].max())
        latest = value if latest is None or value > latest else latest
    return latest
