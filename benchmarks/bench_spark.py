"""Scaling benchmark of the Spark path against DuckDB: 5 M, 20 M and 50 M transactions.

Usage::

    python benchmarks/bench_spark.py [--quick] [--sizes 5,50] [--keep-data]
    python benchmarks/bench_spark.py --spend 2   # the Gamma-Gamma fit alone, 2 M buyers

For each size (``--quick``: 1 M and 5 M; ``--sizes`` in millions picks others) a Parquet
file of transactions (customers ≈ transactions / 25, three years of days, a few planted bad
rows: unknown customers, negative amounts, dates after the analysis date) and a customers
file (one id missing every 100,003, one id repeated) are generated with DuckDB ``range()``
and hashing. Then each engine runs in its own fresh child process (so the peaks are its
own): Spark ``local[2]`` through :func:`segmentum.value.spark.local_spark_session`
(``spark.driver.memory`` 4g, spill under ``benchmarks/results/``) and DuckDB (2 threads,
4 GB memory limit, same spill folder). The steps:

(a) **checks**: the real ingest role checks of both tables, without bringing the clean rows
    to the driver: :class:`segmentum.data.spark_ingest.SparkIngest` ``.check`` on Spark, the
    DuckDB ingest's reader and checker on DuckDB (ids missing or repeated, the anti-join of
    transactions against customers, numbers, dates, future dates);
(b) **summary**: the BTYD summary (``summary_sql``, weekly units) written as Parquet by the
    engine (per-customer rows never reach the driver);
(c) **patterns**: the distinct (frequency, recency, T) with their counts, computed from the
    transactions (summary included) and collected: what a fit needs on the driver;
(d) **scoring**: per-customer scoring in the engine (``segmentum.value.spark_scoring``):
    BG/NBD on the patterns, Gamma-Gamma as the value stage fits it on Spark, then
    ``mapInPandas(score_chunk)`` written as Parquet.

``--spend N`` runs only the Gamma-Gamma fit of the value stage on N million simulated repeat
buyers (one spend pair each), twice: with the pairs collected and with the likelihood's sums
computed in Spark (:mod:`segmentum.value.spark_spend`); wall, CPU, peaks and the largest
collection of each.

Each step reports wall time, rows/s per core (transactions / wall / 2), and the peak
resident memory (``VmHWM``, reset before each step through ``/proc/<pid>/clear_refs``) of
the Python driver and of the Spark JVM (in ``local[2]`` the JVM is driver and executors at
once). One run of each step after a warm-up on tiny data; data are removed afterwards unless
``--keep-data``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "spark"
CORES = 2
DRIVER_MEMORY = "4g"
DUCKDB_MEMORY = "4GB"
CALIBRATION_END = "2023-12-31"  # the last of the 1,095 generated days
PROJECT = """[project]
name = "bench_spark"
analysis_date = "2023-12-31"

[sources.customers]
path = "customers.parquet"
id = "customer_id"
acquisition_cost = "acquisition_cost"

[sources.transactions]
path = "transactions.parquet"
customer_id = "customer_id"
timestamp = "date"
amount = "amount"
"""


# -- data -----------------------------------------------------------------------------------
def make_data(folder: Path, n_tx: int) -> dict[str, int]:
    """Transactions and customers as Parquet in ``folder`` (and its project file); returns
    the planted bad rows by kind."""
    import duckdb

    n_cust = max(n_tx // 25, 1)
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{RESULTS / 'spill'}'")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(
        f"""
        COPY (
          SELECT CAST(hash(i) % {n_cust} AS BIGINT) AS customer_id,
                 CASE WHEN i % 2000003 = 11 THEN DATE '2024-06-01'
                      ELSE DATE '2021-01-01' + CAST(hash(i + 1000000000000) % 1095 AS INTEGER)
                 END AS date,
                 CASE WHEN i % 1000003 = 5 THEN -1.0 ELSE 1.0 END
                   * round(CAST(hash(i + 2000000000000) % 10000 AS DOUBLE) / 100.0 + 1, 2)
                   AS amount
          FROM range({n_tx}) t(i)
        ) TO '{folder / "transactions.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    con.execute(
        f"""
        COPY (
          SELECT CAST(i AS BIGINT) AS customer_id,
                 round(CAST(hash(i + 3000000000000) % 5000 AS DOUBLE) / 100.0, 2)
                   AS acquisition_cost
          FROM range({n_cust}) t(i) WHERE i % 100003 <> 17
          UNION ALL SELECT 3, 1.0
        ) TO '{folder / "customers.parquet"}' (FORMAT parquet)
        """
    )
    (folder / "segmentum.toml").write_text(PROJECT, encoding="utf-8")
    path = f"read_parquet('{folder / 'transactions.parquet'}')"
    (unknown,) = con.execute(
        f"SELECT count(*) FROM {path} WHERE customer_id % 100003 = 17"
    ).fetchone()
    return {
        "customers": n_cust,
        "unknown id": int(unknown),
        "negative amount": len(range(5, n_tx, 1000003)),
        "future date": len(range(11, n_tx, 2000003)),
        "repeated id": 1,
    }


# -- memory -----------------------------------------------------------------------------------
def _hwm(pid: int | str = "self") -> int:
    """Peak resident memory (bytes) of a process since its last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_hwm(pid: int | str = "self") -> None:
    # not Linux, or not allowed: the peak then runs from the process's start
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu(pid: int | str = "self") -> float:
    """CPU seconds (user + system, all threads) a process and the processes under it (the
    JVM's Python workers) have used so far."""
    root = os.getpid() if pid == "self" else int(pid)
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry.name)
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root]
    while todo:
        current = todo.pop()
        total += ticks.get(current, 0)
        if pid != "self":  # the driver's own child is the JVM, counted apart
            todo += children.get(current, [])
    return total / os.sysconf("SC_CLK_TCK")


def _measure(
    steps: dict[str, Callable[[], dict[str, Any]]], pids: dict[str, int | str]
) -> dict[str, dict[str, Any]]:
    out = {}
    for name, step in steps.items():
        for pid in pids.values():
            _reset_hwm(pid)
        cpu = sum(_cpu(pid) for pid in pids.values())
        t = time.perf_counter()
        info = step()
        info["seconds"] = time.perf_counter() - t
        info["cpu"] = sum(_cpu(pid) for pid in pids.values()) - cpu
        info.update({f"peak_{who}": _hwm(pid) for who, pid in pids.items()})
        out[name] = info
        print(
            f"    {name}: {info['seconds']:.1f} s, {info['cpu']:.1f} CPU s {_info(info)}",
            flush=True,
        )
    return out


def _info(info: dict[str, Any]) -> str:
    keys = ("problems", "rows", "patterns", "driver_rows", "params")
    return ", ".join(f"{k} {v}" for k, v in info.items() if k in keys)


# -- patterns -------------------------------------------------------------------------------
def _pattern_query(summary: str, dialect: str) -> str:
    """The distinct (frequency, recency, T) of a summary with their counts: the ``patterns``
    module's SQL when it is there, else the same ``GROUP BY``."""
    try:
        from segmentum.value.patterns import pattern_sql  # type: ignore[import-not-found]
    except ImportError:
        q = "`" if dialect == "spark" else '"'
        cols = ", ".join(f"{q}{c}{q}" for c in ("frequency", "recency", "T"))
        return f"SELECT {cols}, COUNT(*) AS weights FROM {summary} GROUP BY {cols}"
    return str(pattern_sql(summary, dialect=dialect))


_WHOLE_WEEKS = (
    "SELECT COUNT(*) FROM (SELECT DISTINCT frequency, FLOOR(recency) AS r, FLOOR(T) AS t "
    "FROM {summary})"
)


# -- work run in child processes ------------------------------------------------------------
def _summary_sql(source: str, dialect: str) -> str:
    import datetime as dt

    from segmentum.value.summary import summary_sql

    return summary_sql(
        source,
        customer_id="customer_id",
        timestamp="date",
        amount="amount",
        calibration_end=dt.date.fromisoformat(CALIBRATION_END),
        time_unit="W",
        dialect=dialect,  # type: ignore[arg-type]
    )


def run_duckdb(folder: str) -> dict[str, Any]:
    """The steps on DuckDB, in this (child) process."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    base = Path(folder)
    con = duckdb.connect()
    con.execute(f"SET threads = {CORES}")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET temp_directory = '{RESULTS / 'spill'}'")
    tx = f"read_parquet('{base / 'transactions.parquet'}')"
    summary = f"({_summary_sql(tx, 'duckdb')}) AS s"

    def checks() -> dict[str, Any]:
        return {"problems": _duckdb_checks(base)}

    def write_summary() -> dict[str, Any]:
        out = base / "summary_duckdb.parquet"
        con.execute(f"COPY (SELECT * FROM {summary}) TO '{out}' (FORMAT parquet)")
        return {"rows": con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]}

    def patterns() -> dict[str, Any]:
        frame = con.execute(_pattern_query(summary, "duckdb")).df()
        return {"patterns": len(frame), "customers": int(frame.iloc[:, -1].sum())}

    steps = {"checks": checks, "summary": write_summary, "patterns": patterns}
    result = _measure(steps, {"python": "self"})
    written = f"read_parquet('{base / 'summary_duckdb.parquet'}')"
    result["whole_weeks"] = con.execute(_WHOLE_WEEKS.format(summary=written)).fetchone()[0]
    return result


def _duckdb_checks(base: Path) -> int:
    """The DuckDB ingest's checks of both tables (its reader and checker; the clean rows
    are not brought to pandas); returns the number of problems found."""
    import importlib

    import duckdb

    # the module, not the function segmentum.data re-exports under the same name
    ingest_module = importlib.import_module("segmentum.data.ingest")
    from segmentum.data import load_config

    config = load_config(base / "segmentum.toml")
    sources = config.sources.declared()
    con = duckdb.connect()
    con.execute(f"SET threads = {CORES}")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET temp_directory = '{RESULTS / 'spill'}'")
    # its reader and checker (private): the real checks, without collecting the clean rows
    reader = ingest_module._Reader(con, base)
    id_tables: dict[str, tuple[str, str]] = {}
    found = 0
    for name in ("customers", "transactions"):
        label, _, is_csv = reader.load(name, sources[name])
        checker = ingest_module._Checker(con, name, label, is_csv)
        checker.require_columns(sources[name].role_columns())
        checker.check_empty()
        analysis = ingest_module.analysis_date_of(config)
        ingest_module._check_roles(checker, name, sources[name], analysis, id_tables)
        found += len(checker.to_problems())
        if name == "customers":
            con.execute("CREATE TABLE clean_customers AS SELECT customer_id FROM raw_customers")
            id_tables[name] = ("clean_customers", "customer_id")
    con.close()
    return found


def _spark_session(n_tx: int) -> Any:
    spill = RESULTS / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    os.environ["PYSPARK_SUBMIT_ARGS"] = (
        f"--driver-memory {DRIVER_MEMORY} --conf spark.local.dir={spill} pyspark-shell"
    )
    from segmentum.value.spark import local_spark_session

    spark = local_spark_session("segmentum-bench", threads=CORES)
    spark.sparkContext.setLogLevel("ERROR")
    # about 2.5 M lines (~100 MB of shuffle) a partition; AQE coalesces small ones
    spark.conf.set("spark.sql.shuffle.partitions", str(max(4, n_tx // 2_500_000)))
    return spark


def run_spark(folder: str, n_tx: int) -> dict[str, Any]:
    """The steps on Spark ``local[2]``, in this (child) process."""
    sys.path.insert(0, str(ROOT))
    from segmentum.value.spark import summarize_spark

    base = Path(folder)
    spark = _spark_session(n_tx)
    jvm = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    _spark_warm_up(spark)
    tx = spark.read.parquet(str(base / "transactions.parquet"))

    def checks() -> dict[str, Any]:
        return {"problems": _spark_checks(spark, base)}

    def write_summary() -> dict[str, Any]:
        out = str(base / "summary_spark")
        summarize_spark(tx, calibration_end=CALIBRATION_END, time_unit="W").write.mode(
            "overwrite"
        ).parquet(out)
        return {"rows": spark.read.parquet(out).count()}

    def patterns() -> dict[str, Any]:
        tx.createOrReplaceTempView("bench_tx")
        frame = spark.sql(_pattern_query(f"({_summary_sql('bench_tx', 'spark')}) s", "spark"))
        local = frame.toPandas()
        return {"patterns": len(local), "customers": int(local.iloc[:, -1].sum())}

    steps = {"checks": checks, "summary": write_summary, "patterns": patterns}
    steps.update(_spark_scoring_step(spark, base))
    result = _measure(steps, {"python": "self", "jvm": jvm})
    spark.stop()
    return result


def _spark_warm_up(spark: Any) -> None:
    """The JVM's first queries compile and load classes: one tiny run of each kind."""
    import pandas as pd

    from segmentum.value.spark import summarize_spark

    tiny = spark.createDataFrame(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 2],
                "date": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01"]).date,
                "amount": [1.0, 2.0, 3.0],
            }
        )
    )
    summarize_spark(tiny, calibration_end=CALIBRATION_END).toPandas()


def _spark_checks(spark: Any, base: Path) -> int:
    """:class:`SparkIngest` checks of both tables (no clean rows to the driver); the
    customers' ids for the anti-join are Spark's own read of the customers file."""
    from segmentum.data import load_config
    from segmentum.data.ingest import analysis_date_of
    from segmentum.data.spark_ingest import SparkIngest

    config = load_config(base / "segmentum.toml")
    sources = config.sources.declared()
    ingest = SparkIngest(config, base, analysis_date_of(config), spark)
    try:
        # n_problems counts them all (``problems`` holds the first few a message shows)
        found = ingest.check("customers", sources["customers"]).n_problems
        ids = spark.read.parquet(str(base / "customers.parquet")).select("customer_id")
        ingest.parents["customers"] = ids
        found += ingest.check("transactions", sources["transactions"]).n_problems
    finally:
        ingest.close()
    return found


def _spark_scoring_step(spark: Any, base: Path) -> dict[str, Callable[[], dict[str, Any]]]:
    """Per-customer scoring in Spark (``segmentum.value.spark_scoring``, when it is there):
    BG/NBD fitted on the driver on the summary's patterns, Gamma-Gamma as the value stage
    fits it (:func:`_spend_fit`), then ``p_alive``, expected purchases and spend,
    and CLV for every customer by ``mapInPandas(score_chunk)``, written as Parquet."""
    try:
        from segmentum.value.spark_scoring import (  # type: ignore[import-not-found]
            Fitted,
            score_chunk,
        )
    except ImportError:
        return {}

    def scoring() -> dict[str, Any]:
        from pyspark.sql import types as T

        from segmentum.value import BetaGeoModel

        summary = spark.read.parquet(str(base / "summary_spark"))
        summary.createOrReplaceTempView("bench_summary")
        patterns = spark.sql(_pattern_query("bench_summary", "spark")).toPandas()
        patterns["weights"] = patterns["weights"].astype(float)
        fitted = Fitted(
            purchase=BetaGeoModel().fit(patterns),
            # the generated spends do not vary between customers: v is not identified
            spend=_spend_fit(summary.persist(), penalizer=0.001),
            horizon=52.0,
            step=52.0 / 12,
            step_rate=0.01,
        )
        added = ("p_alive", "expected_purchases", "expected_spend", "clv")
        schema = T.StructType(
            [*summary.schema.fields, *(T.StructField(c, T.DoubleType()) for c in added)]
        )
        names = schema.fieldNames()

        def score(batches: Any) -> Any:
            for batch in batches:
                yield score_chunk(batch, fitted)[names]

        out = str(base / "scores_spark")
        summary.mapInPandas(score, schema).write.mode("overwrite").parquet(out)
        summary.unpersist()
        return {"rows": spark.read.parquet(out).count(), "patterns": len(patterns)}

    return {"scoring": scoring}


def _spend_fit(summary: Any, penalizer: float) -> Any:
    """Gamma-Gamma as the value stage fits it on Spark (``spark_scoring._fit_spend``: the
    collected (frequency, spend) pairs up to the cap, the likelihood's sums in Spark above)."""
    from pyspark.sql import functions as F

    from segmentum.value.spark_scoring import _fit_spend
    from segmentum.value.steps import ValueConfig, _Log

    n, n_repeat = summary.agg(
        F.count(F.lit(1)), F.sum((F.col("frequency") > 0).cast("long"))
    ).first()
    model = _fit_spend(summary, int(n), int(n_repeat), ValueConfig(penalizer=penalizer), _Log())
    if model is None:
        raise RuntimeError("bench_spark: the Gamma-Gamma fit was skipped")
    return model


# -- the Gamma-Gamma fit alone: collected pairs against the likelihood's sums ---------------
def make_spend_data(folder: Path, n_buyers: int) -> Path:
    """A summary of ``n_buyers`` repeat buyers with Gamma-Gamma spends (p 6, q 4, γ 15;
    frequency 1 + Poisson(2)), as Parquet: continuous spends, one pair per buyer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from segmentum.value.models.gamma_gamma import simulate_gamma_gamma

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spend_summary.parquet"
    rng = np.random.default_rng(17)
    with pq.ParquetWriter(
        path, pa.schema([("frequency", pa.float64()), ("monetary_value", pa.float64())])
    ) as out:
        for start in range(0, n_buyers, 1_000_000):
            x = 1 + rng.poisson(2.0, min(1_000_000, n_buyers - start))
            df = simulate_gamma_gamma({"p": 6.0, "q": 4.0, "v": 15.0}, x, seed=start)
            out.write_table(pa.Table.from_pandas(df, preserve_index=False))
    return path


def run_spend(path: str, n_buyers: int, cap: int) -> dict[str, Any]:
    """The value stage's Gamma-Gamma fit on Spark with the pairs cap ``cap`` (a huge one:
    the pairs collected; 0: the sums in Spark), in this (child) process."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    os.environ["SEGMENTUM_SPARK_SPEND_PAIRS_CAP"] = str(cap)
    from spark_collections import record_collections  # type: ignore[import-not-found]

    spark = _spark_session(n_buyers * 25)
    jvm = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    _spark_warm_up(spark)
    summary = spark.read.parquet(path).persist()
    summary.count()

    def fit() -> dict[str, Any]:
        with record_collections() as calls:
            model = _spend_fit(summary, penalizer=0.0)
        return {
            "driver_rows": max(c.rows for c in calls),
            "params": {k: round(v, 6) for k, v in model.params_.items()},
        }

    result = _measure({"spend": fit}, {"python": "self", "jvm": jvm})
    spark.stop()
    return result


def main_spend(n_buyers: int) -> int:
    """``--spend``: the two ways of fitting Gamma-Gamma on ``n_buyers`` repeat buyers."""
    folder = RESULTS / f"spend_{n_buyers}"
    path = make_spend_data(folder, n_buyers)
    rows = []
    for label, cap in (("collected pairs", 10**12), ("sums in Spark", 0)):
        print(f"  {label}:", flush=True)
        info = _in_child(run_spend, str(path), n_buyers, cap)["spend"]
        rows.append(
            f"{n_buyers:,} | {label} | {info['seconds']:.1f} s | {info['cpu']:.1f} s | "
            f"{info['peak_python'] / 2**20:.0f} MiB | {info['peak_jvm'] / 2**30:.2f} GiB | "
            f"{info['driver_rows']:,} | {info['params']}"
        )
    shutil.rmtree(folder, ignore_errors=True)
    print("\nbuyers | fit | wall | CPU | Python peak | JVM peak | most rows to driver | params")
    print("\n".join(rows))
    return 0


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


# -- report -----------------------------------------------------------------------------------
def _row(n_tx: int, step: str, engine: str, info: dict[str, Any]) -> tuple[str, ...]:
    s = info["seconds"]
    jvm = info.get("peak_jvm")
    return (
        f"{n_tx / 1e6:g} M",
        step,
        engine,
        f"{s:.1f} s",
        f"{info['cpu']:.1f} s",
        f"{n_tx / s / CORES / 1e6:.2f} M",
        f"{n_tx / info['cpu'] / 1e6:.2f} M",
        f"{info['peak_python'] / 2**20:.0f} MiB",
        "-" if jvm is None else f"{jvm / 2**30:.2f} GiB",
        _info(info),
    )


def _print_table(rows: list[tuple[str, ...]]) -> None:
    head = (
        "rows",
        "step",
        "engine",
        "wall",
        "CPU",
        "rows/s/core (wall)",
        "rows/CPU s",
        "Python peak",
        "JVM peak",
        "",
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print()
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(
        f"\n(cpu count {os.cpu_count()}, {CORES} used; one run per step after a warm-up; CPU is "
        "user + system seconds of the Python process and the JVM; rows/s/core (wall) is rows / "
        f"wall / {CORES}; peak memory is VmHWM since the step began; Spark driver memory "
        f"{DRIVER_MEMORY})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 M and 5 M transactions")
    ap.add_argument("--sizes", help="sizes in millions of transactions, e.g. 5,20,50")
    ap.add_argument("--keep-data", action="store_true", help="keep the generated files")
    ap.add_argument(
        "--spend",
        type=float,
        help="only the Gamma-Gamma fit, on this many millions of repeat buyers: the collected "
        "pairs against the likelihood's sums in Spark",
    )
    args = ap.parse_args(argv)
    if args.spend:
        RESULTS.mkdir(parents=True, exist_ok=True)
        return main_spend(int(args.spend * 1_000_000))
    sizes = (1, 5) if args.quick else (5, 20, 50)
    if args.sizes:
        sizes = tuple(float(s) for s in args.sizes.split(","))  # type: ignore[assignment]
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    for size in sizes:
        n_tx = int(size * 1_000_000)
        folder = RESULTS / f"tx_{size:g}M"
        print(f"generating {n_tx:,} transactions ...", flush=True)
        t = time.perf_counter()
        planted = make_data(folder, n_tx)
        mb = (folder / "transactions.parquet").stat().st_size / 1e6
        print(f"  {time.perf_counter() - t:.0f} s, {mb:.0f} MB; planted {planted}", flush=True)
        for engine, fn, fn_args in (
            ("DuckDB", run_duckdb, (str(folder),)),
            ("Spark local[2]", run_spark, (str(folder), n_tx)),
        ):
            print(f"  {engine}:", flush=True)
            result = _in_child(fn, *fn_args)
            for step in ("checks", "summary", "patterns", "scoring"):
                if step in result:
                    rows.append(_row(n_tx, step, engine, result[step]))
            if "whole_weeks" in result:
                print(
                    f"    distinct patterns: {result['patterns']['patterns']:,} exact (the "
                    f"same in days or weeks), {result['whole_weeks']:,} with recency and T "
                    f"in whole weeks, of {planted['customers']:,} customers",
                    flush=True,
                )
        if not args.keep_data:
            shutil.rmtree(folder, ignore_errors=True)
    if not args.keep_data:
        shutil.rmtree(RESULTS, ignore_errors=True)
    _print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
