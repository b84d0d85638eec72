"""Ingest on Spark gives what ingest on DuckDB gives (needs the ``spark`` extra).

The bad-input corpus's variants that concern the customer-side tables (customers,
transactions) fail with the same exit code, the same message and the same problems (table,
file, row, column, value, reason) on both engines; a clean project and a quarantined one
give the same frames, the same rejected rows and the same reasons.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

sys.path.insert(0, str(Path(__file__).parent))
from test_bad_inputs import CORPUS, Variant, run_cli, write_project  # noqa: E402

from segmentum.data import ingest, load_config  # noqa: E402
from segmentum.data.errors import ProjectError, SegmentumError  # noqa: E402
from segmentum.data.project import with_engine  # noqa: E402
from segmentum.data.spark_ingest import SPARK_NOTE, ingest_spark, spark_pattern  # noqa: E402

pytestmark = pytest.mark.spark

# The corpus's variants whose bad input is in customers.csv or transactions.csv.
CUSTOMER_SIDE = (
    "file not found",
    "folder as a source",
    "symlink loop",
    "device as a source",
    "CSV given as a DuckDB table",
    "unknown file type",
    "empty file",
    "header only",
    "not UTF-8",
    "repeated header column",
    "amount NaN",
    "amount infinite",
    "amount 1e300",
    "amount negative",
    "amount text",
    "amount decimal comma",
    "amount empty",
    "margin infinite",
    "date unreadable",
    "date after the analysis date",
    "date before 1900",
    "date in the future, no analysis date",
    "transaction's customer unknown",
    "transaction without customer",
    "customer id repeated",
    "acquisition cost 1e300",
    "descriptor infinite",
    "acquisition cost NaN",
)
VARIANTS = [v for v in CORPUS if v.name in CUSTOMER_SIDE]
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
#: Set by the ingest on its session when a Parquet file holds nanosecond timestamps (the
#: run's frames read them lazily, so the ingest leaves it set); each test sets it back.
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


@pytest.fixture(autouse=True)
def _nanos_setting_back() -> Any:
    """The shared session's ``nanosAsLong`` as before the test (the ingest of a Parquet
    file with nanosecond timestamps sets it on the running session)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    before = None if active is None else active.conf.get(NANOS_AS_LONG, None)
    yield
    session = SparkSession.getActiveSession()
    if session is None:
        return
    if before is None:
        session.conf.unset(NANOS_AS_LONG)
    else:
        session.conf.set(NANOS_AS_LONG, before)


def _outcome(
    project: Path, folder: Path, engine: str, session: Any = None
) -> tuple[int, str, list[tuple]]:
    """(exit code, message, problems) of ingesting ``project`` on ``engine``; on Spark in
    ``session`` with one shuffle partition (the corpus's tables have a hundred rows: four
    partitions are four tasks a stage, for nothing)."""
    try:
        config = with_engine(load_config(project), engine)
        if engine == "spark":
            partitions = session.conf.get(SHUFFLE_PARTITIONS)
            session.conf.set(SHUFFLE_PARTITIONS, "1")
            try:
                ingest_spark(config, folder, session=session)
            finally:
                session.conf.set(SHUFFLE_PARTITIONS, partitions)
        else:
            ingest(config, folder)
    except SegmentumError as exc:
        problems = [
            (p.table, p.file, p.row, p.column, p.value, p.reason, p.expected)
            for p in getattr(exc, "problems", [])
        ]
        return exc.exit_code, str(exc), problems
    return 0, "", []


def test_the_corpus_holds_every_customer_side_variant() -> None:
    assert len(VARIANTS) == len(CUSTOMER_SIDE)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_bad_input_fails_the_same_on_spark(spark, tmp_path: Path, variant: Variant) -> None:  # type: ignore[no-untyped-def]
    project = write_project(tmp_path)
    variant.mutate(tmp_path)
    code, message, problems = _outcome(project, tmp_path, "spark", spark)
    assert code == variant.code, message
    for word in variant.words:
        assert word in message
    assert (code, message, problems) == _outcome(project, tmp_path, "duckdb")


def test_cli_engine_option_overrides_the_project(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--engine spark` reaches ingest: Spark's note is in the output; a wrong engine is a
    usage error naming the choices (bad rows through the CLI: the test below)."""
    project = write_project(tmp_path)
    code, output, traceback = run_cli(["validate", str(project), "--engine", "spark"])
    assert traceback is None and code == 0, output
    assert "read and checked by Spark" in output
    code, output, _ = run_cli(["validate", str(project)])
    assert code == 0 and "read and checked by Spark" not in output
    code, output, _ = run_cli(["validate", str(project), "--engine", "polars"])
    assert code == 2 and "duckdb, spark" in output


# A file the path cannot reach, a repeated id (a window by id), a negative amount (a row
# check) and an unknown customer (the anti-join): each kind of failure Spark reaches.
CLI_CASES = (
    "file not found",
    "customer id repeated",
    "amount negative",
    "transaction's customer unknown",
)


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_fails_the_same_on_both_engines(spark, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """`validate` and `run` with `--engine spark` exit with DuckDB's code and print DuckDB's
    message word for word, without a traceback or a run folder (in-process through
    CliRunner, so the module's Spark session is reused)."""
    (variant,) = [v for v in VARIANTS if v.name == name]
    project = write_project(tmp_path)
    variant.mutate(tmp_path)
    for command in ("validate", "run"):
        duck = run_cli([command, str(project)])
        code, output, traceback = run_cli([command, str(project), "--engine", "spark"])
        assert traceback is None and duck[2] is None, f"{command}: {traceback!r}"
        assert code == duck[0] == variant.code, f"{command}: exit {code}: {output}"
        assert _error(output) == _error(duck[1]), command
        if command == "validate":  # no progress bar: the whole output is the same
            assert output == duck[1]
        assert all(word in output for word in variant.words), output
        assert not (tmp_path / "runs").exists(), f"{command} left a run folder"


def _error(output: str) -> str:
    """The error message of a CLI output, without the progress bar's spinner and time."""
    start = output.find("Error:")
    assert start >= 0, output
    return re.split(r" [\u2800-\u28ff] ", output[start:])[0]


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (hidden ones too): its SHA-256, or "dir"."""
    return {
        str(p.relative_to(folder)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def _messy_project(folder: Path, n: int = 3_000) -> Path:
    """A quarantined project with bad rows of every kind in customers, transactions and
    events, a descriptor spelled Yes/yes/Y, event types in mixed case."""
    project = write_project(folder, project_extra='on_bad_rows = "quarantine"')
    rng = np.random.default_rng(5)
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    customers["member"] = ["Yes", "yes", "Y", "No", "no"] * 8
    customers.loc[[4, 11], "customer_id"] = ["C1", ""]
    customers.loc[20, "acquisition_cost"] = "-3"
    customers.loc[25, "age"] = "inf"
    customers.to_csv(folder / "customers.csv", index=False)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), "D")
    tx = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in rng.integers(1, 41, n)],
            "date": dates.strftime("%Y-%m-%d"),
            "amount": rng.gamma(2.0, 20.0, n).round(2).astype(str),
            "margin": rng.normal(5.0, 2.0, n).round(2).astype(str),
        }
    )
    bad = {
        "amount": {7: "NaN", 500: "-5", 1999: "ten", 2500: "", 2998: "1e300"},
        "date": {8: "10/02/2024", 1200: "2024-07-02", 2999: "0001-01-01"},
        "customer_id": {9: "C77", 1500: ""},
        "margin": {10: "-inf"},
    }
    for col, cells in bad.items():
        for row, value in cells.items():
            tx.loc[row, col] = value
    tx.to_csv(folder / "transactions.csv", index=False)
    events = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C99", "C5"],
            "timestamp": ["2024-02-01", "2024-02-02", "x", "2024-02-04", "2024-02-05"],
            "event_type": ["support", "Support", "SUPPORT ", "visit", "visit"],
        }
    )
    events.to_csv(folder / "events.csv", index=False)
    with project.open("a", encoding="utf-8") as handle:
        handle.write('\n[sources.events]\npath = "events.csv"\n')
    text = project.read_text(encoding="utf-8")
    project.write_text(
        text.replace('descriptors = ["age", "region"]', 'descriptors = ["age", "region", "member"]')
    )
    return project


def test_quarantine_and_frames_are_the_same_on_both_engines(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Bad rows planted across partitions: the same rows set aside with the same reasons,
    the same clean frames (values and types), the same notes."""
    project = _messy_project(tmp_path)
    config = load_config(project)
    duck = ingest(config, tmp_path)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # several splits per file
    try:
        splits = spark.read.csv(str(tmp_path / "transactions.csv")).rdd.getNumPartitions()
        on_spark = ingest_spark(with_engine(config, "spark"), tmp_path)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert splits > 2
    for name in ("customers", "transactions", "events", "survey"):
        a, b = duck.tables[name], on_spark.tables[name]
        pd.testing.assert_frame_equal(b.frame, a.frame, check_dtype=True)
        assert b.n_rows_read == a.n_rows_read
        assert b.fingerprint == a.fingerprint
        pd.testing.assert_frame_equal(
            b.rejected.reset_index(drop=True), a.rejected.reset_index(drop=True)
        )
        spark_notes = [n for n in b.notes if n != SPARK_NOTE]
        assert spark_notes == list(a.notes)
        assert (SPARK_NOTE in b.notes) == (name != "survey")
    planted = {8, 9, 10, 11, 501, 1201, 1501, 2000, 2501, 2999, 3000}
    assert planted <= set(on_spark.tables["transactions"].rejected["source_row"])
    assert list(on_spark.tables["customers"].rejected["source_row"]) == [5, 12, 21, 26]
    assert {3, 4} <= set(on_spark.tables["events"].rejected["source_row"])
    assert duck.n_rejected == on_spark.n_rejected


def test_row_numbers_hold_across_partitions(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A file read in several splits is numbered in file order (not by
    monotonically_increasing_id, which jumps at each partition)."""
    from segmentum.data.spark_ingest import with_row_numbers

    n = 5_000
    path = tmp_path / "rows.csv"
    pd.DataFrame({"k": np.arange(1, n + 1)}).to_csv(path, index=False)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        raw = spark.read.csv(str(path), header=True)
        assert raw.rdd.getNumPartitions() > 3
        rows = with_row_numbers(raw).toPandas()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert (rows["__row"].to_numpy() == rows["k"].astype(int).to_numpy()).all()


def test_spark_without_pyspark_names_the_extra(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = load_config(write_project(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name)
    )
    with pytest.raises(ProjectError, match=r"segmentum\[spark\]"):
        with_engine(config, "spark")
    assert with_engine(config, "duckdb").project.engine == "duckdb"


def test_settings_list_the_engine_and_the_spark_table() -> None:
    code, output, _ = run_cli(["settings", "--json"])
    rows = json.loads(output) if code == 0 else []
    keys = {(r["table"], r["key"]): r for r in rows}
    assert keys[("project", "engine")]["default"] == "duckdb"
    assert ("spark", "master") in keys and ("spark", "config") in keys


def test_spark_pattern_translates_strptime() -> None:
    assert spark_pattern("%Y-%m-%d") == "yyyy'-'M'-'d"
    assert spark_pattern("%d/%m/%y %H:%M:%S") == "d'/'M'/'yy H':'m':'s"
    with pytest.raises(ProjectError, match="%Q"):
        spark_pattern("%Q")


def test_small_demo_parquet_ingests_the_same(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The demo's Parquet tables (typed dates and numbers): the same frames on both engines."""
    from segmentum.demo.project import write_demo_project

    project = write_demo_project(tmp_path, n_customers=300, n_respondents=200)
    config = load_config(project)
    duck = ingest(config, tmp_path)
    on_spark = ingest_spark(with_engine(config, "spark"), tmp_path)
    assert set(on_spark.tables) == set(duck.tables)
    spark_read = [n for n, t in on_spark.tables.items() if SPARK_NOTE in t.notes]
    assert sorted(spark_read) == sorted(
        n for n in ("customers", "transactions", "events") if n in duck
    )
    for name in duck.tables:
        a, b = duck.tables[name], on_spark.tables[name]
        pd.testing.assert_frame_equal(b.frame, a.frame)
        assert (b.n_rows_read, b.n_rejected) == (a.n_rows_read, a.n_rejected)
    assert on_spark.analysis_date == duck.analysis_date


def test_run_with_engine_spark_names_it_in_the_manifest(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A Spark run names its engine; a failed one after it changes nothing in runs/."""
    project = write_project(tmp_path)
    code, output, traceback = run_cli(["run", str(project), "--engine", "spark"])
    assert traceback is None and code == 0, output
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == "spark"
    assert SPARK_NOTE in manifest["inputs"]["transactions"]["notes"]
    assert SPARK_NOTE not in manifest["inputs"]["survey"]["notes"]
    # a failed Spark run leaves no folder (no hidden temporary one either) and the earlier
    # run as it was, byte for byte
    before = _snapshot(tmp_path / "runs")
    assert str(run.relative_to(tmp_path / "runs")) in before
    (unknown,) = [v for v in VARIANTS if v.name == "transaction's customer unknown"]
    unknown.mutate(tmp_path)
    code, output, traceback = run_cli(["run", str(project), "--engine", "spark"])
    assert traceback is None and code == unknown.code, output
    assert all(word in output for word in unknown.words), output
    assert _snapshot(tmp_path / "runs") == before


def _many_bad_rows(folder: Path, n: int = 20_000, every: int = 4) -> tuple[Path, int]:
    """The corpus project with an ``n``-line transactions file of which every ``every``-th
    row has a negative amount; (project file, number of bad rows)."""
    project = write_project(folder)
    amount = np.round(5.0 + (np.arange(n) * 7) % 50, 2)
    amount[every - 1 :: every] = -3.0
    pd.DataFrame(
        {
            "customer_id": [f"C{1 + i % 40}" for i in range(n)],
            "date": (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 180, "D"))
            .strftime("%Y-%m-%d")
            .tolist(),
            "amount": amount,
            "margin": 1.5,
        }
    ).to_csv(folder / "transactions.csv", index=False)
    return project, len(amount[every - 1 :: every])


def _at_most_the_message(calls: list[Any], limit: int) -> None:
    """No collection of the ingest returned more than ``limit`` rows, but the survey's
    known customer ids (30 linked respondents: the ids go to Spark, the known come back)."""
    ours = [c for c in calls if c.caller.startswith("segmentum.data.")]
    known = [c for c in ours if ":known_ids:" in c.caller]
    assert ours and known and max(c.rows for c in known) <= 30, [str(c) for c in known]
    rest = [c.rows for c in ours if c not in known]
    assert max(rest) <= limit, [str(c) for c in ours]


def test_many_bad_rows_are_counted_in_spark_and_only_the_first_reach_the_driver(
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """5,000 bad rows of 20,000: the message gives the exact counts and the first rows (as
    on DuckDB, word for word), and no collection of the ingest returns more rows than the
    message shows; quarantined, the 5,000 are set aside (counted in Spark) without coming
    to the driver, and the clean table stays in Spark until asked for."""
    sys.path.insert(0, str(Path(__file__).parent))
    from spark_collections import record_collections

    from segmentum.data.ingest import MAX_LISTED

    project, n_bad = _many_bad_rows(tmp_path)
    assert n_bad == 5_000
    duck = _outcome(project, tmp_path, "duckdb")
    with record_collections() as calls:
        code, message, problems = _outcome(project, tmp_path, "spark", spark)
    assert (code, message) == duck[:2] and code == 3
    assert f"{n_bad:,} problems in {n_bad:,} rows" in message
    assert f"… and {n_bad - MAX_LISTED:,} more." in message
    assert problems == duck[2][:MAX_LISTED]  # the first ones; DuckDB carries them all
    assert [p[2] for p in problems] == [4 * (i + 1) for i in range(MAX_LISTED)]
    _at_most_the_message(calls, MAX_LISTED)

    text = project.read_text(encoding="utf-8")
    project.write_text(text.replace("[project]\n", '[project]\non_bad_rows = "quarantine"\n'))
    config = with_engine(load_config(project), "spark")
    with record_collections() as calls:
        data = ingest_spark(config, tmp_path, session=spark)
    table = data.tables["transactions"]
    assert (table.n_rejected, table.n_used, table.n_rows_read) == (n_bad, 15_000, 20_000)
    _at_most_the_message(calls, MAX_LISTED)
    assert not table.contents.asked_by and not table.set_aside.asked_by  # still in Spark
    assert table.rejected_spark.count() == n_bad  # the quarantine, in Spark
    # asked for, the frames are DuckDB's (collected once, through Deferred.get)
    quarantined = ingest(load_config(project), tmp_path).tables["transactions"]
    pd.testing.assert_frame_equal(table.frame, quarantined.frame)
    pd.testing.assert_frame_equal(table.rejected, quarantined.rejected)
    assert len(table.contents.asked_by) == 1 and table.frame is table.frame
    data.release()


def test_a_session_in_another_time_zone_reads_utc_and_gets_its_zone_back(
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """Dates are UTC wall times for segmentum: a user's session in New York ingests them as
    DuckDB does, so the clean table collected after the ingest and the table Spark writes
    through Arrow (as the run folder's part files are written, instants in UTC) hold the
    dates of the file, not shifted by five hours; the session has its zone back afterwards.
    A project asking for another zone is a ProjectError naming the setting."""
    from segmentum.data.spark_ingest import TIME_ZONE, spark_session
    from segmentum.spark_run import pandas_schema, write_parquet_parts

    project = write_project(tmp_path)
    duck = ingest(load_config(project), tmp_path)
    want = duck.tables["transactions"].frame
    spark.conf.set(TIME_ZONE, "America/New_York")
    try:
        data = ingest_spark(with_engine(load_config(project), "spark"), tmp_path, session=spark)
        assert spark.conf.get(TIME_ZONE) == "America/New_York"
        got = data.tables["transactions"].frame  # collected outside the ingest
        frame = data.spark("transactions")
        write_parquet_parts(frame, tmp_path / "written.parquet", pandas_schema(frame))
        assert spark.conf.get(TIME_ZONE) == "America/New_York"
    finally:
        spark.conf.set(TIME_ZONE, "UTC")
    pd.testing.assert_frame_equal(got, want)
    written = pd.read_parquet(tmp_path / "written.parquet")
    assert sorted(written["date"]) == sorted(want["date"])
    assert data.analysis_date == duck.analysis_date
    data.release()
    config = load_config(project)
    paris = config.spark.model_copy(update={"config": {TIME_ZONE: "Europe/Paris"}})
    with pytest.raises(ProjectError, match=r"spark\.sql\.session\.timeZone = 'Europe/Paris'"):
        spark_session(config.model_copy(update={"spark": paris}))


def test_a_run_scope_lets_go_of_what_it_persisted_only(spark) -> None:  # type: ignore[no-untyped-def]
    """:func:`segmentum.spark_run.run_scope`: what was persisted inside is unpersisted at
    the end (a local checkpoint is kept: results may read it), what was held before stays,
    and the session's zone is UTC inside and its own after."""
    from segmentum.data.spark_ingest import TIME_ZONE
    from segmentum.spark_run import persisted_rdds, run_scope

    mine = spark.range(50).persist()
    mine.count()
    held = persisted_rdds(spark)
    spark.conf.set(TIME_ZONE, "Asia/Tokyo")
    try:
        with run_scope(spark):
            assert spark.conf.get(TIME_ZONE) == "UTC"
            inside = spark.range(60).selectExpr("id * 2 AS x").persist()
            inside.count()
            kept = spark.range(70).localCheckpoint()
            during = persisted_rdds(spark)
        after = persisted_rdds(spark)
        assert spark.conf.get(TIME_ZONE) == "Asia/Tokyo"
    finally:
        spark.conf.set(TIME_ZONE, "UTC")
    new = during - held
    assert len(new) == 2  # the persisted frame and the checkpoint
    assert held <= after and len(after - held) == 1  # only the checkpoint is still held
    assert kept.count() == 70 and inside.count() == 60  # both still usable
    mine.unpersist()
