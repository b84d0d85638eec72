"""Benchmark of the value stage against its peers, in one run.

Usage::

    .venv/bin/python benchmarks/bench_value.py [--quick] [--keep-data]

Work measured (each side in its own fresh process, so peak memory is its own):

1. BG/NBD fit on the CDNOW sample (2,357 customers): ``segmentum.value.BetaGeoModel`` vs
   ``lifetimes.BetaGeoFitter`` (both compute parameters and standard errors).
2. BG/NBD fit on 1,000,000 simulated customers (``--quick``: 100,000).
3. BG/NBD fit with covariates (bundle and a 3-level channel on the purchase rate, bundle on
   the dropout) on 1,000,000 simulated customers (``--quick``: 100,000), against the plain
   fit of the same rows in the same process: best of 5 each, interleaved, and the median of
   the five paired ratios (the issue's bound: within 2x the plain fit).
4. Pattern compression: BG/NBD and Pareto/NBD fits on 1,000,000 customers on a day grid
   (first purchases over three years, weekly units, as ``summarize`` makes them) per
   customer vs on their distinct ``(x, t_x, T)`` patterns with counts, with the time to
   compute the patterns in pandas (``pattern_counts``) and in DuckDB (``pattern_sql``) and
   the largest relative difference of parameters, standard errors and log-likelihood; the
   counts of patterns for other spans and units; scoring (P(alive), expected purchases,
   12 discounted steps) per customer vs per pattern gathered back.
5. ``summarize`` (same-day merge, BTYD summary, RFM totals) of a Parquet file of 50 M
   transactions / 2 M customers (``--quick``: 5 M / 200 k), with each engine (``numba``, the
   default at this size, and the portable ``sql``), against bare DuckDB on the same file:
   (a) the plain one-level ``GROUP BY customer_id`` (count, sum, min, max), the issue's peer,
   and (b) the same summary hand-written in SQL, the way one would without segmentum.

Times are the best of the repeats; data are generated under ``benchmarks/results/``
(git-ignored) and removed afterwards unless ``--keep-data``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "value"
SHARED = Path(os.environ.get("SEGMENTUM_SHARED_DATA", ROOT.parent / "shared" / "data"))
CDNOW = SHARED / "cdnow" / "cdnow_sample_summary_calibration39w.csv"
TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


# -- work run in child processes ------------------------------------------------------------
def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _load_summary(source: str, n: int) -> Any:
    import numpy as np
    import pandas as pd

    if source == "cdnow":
        return pd.read_csv(CDNOW)
    from segmentum.value.models.bgnbd import simulate_bgnbd

    T = np.random.default_rng(1).uniform(20, 52, n)
    return simulate_bgnbd(TRUTH, T, n, seed=7)


def _fit_segmentum(source: str, n: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from segmentum.value import BetaGeoModel

    df = _load_summary(source, n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        m = BetaGeoModel().fit(df)
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, "peak": _peak_rss(), "params": m.params_, "ll": m.log_likelihood_}


def _fit_lifetimes(source: str, n: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    from lifetimes import BetaGeoFitter

    df = _load_summary(source, n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f = BetaGeoFitter().fit(df["frequency"], df["recency"], df["T"])
        best = min(best, time.perf_counter() - t)
    params = {k: float(v) for k, v in f.params_.items()}
    return {"seconds": best, "peak": _peak_rss(), "params": params, "ll": None}


def _fit_covariates(n: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pandas as pd

    from segmentum.value import BetaGeoModel
    from segmentum.value.models.simulate import simulate_bgnbd_covariates

    rng = np.random.default_rng(3)
    z = pd.DataFrame(
        {"bundle": rng.integers(0, 2, n).astype(float), "channel": rng.integers(0, 3, n)}
    )
    T = np.random.default_rng(1).uniform(20, 52, n)
    df = simulate_bgnbd_covariates(
        TRUTH, z, T, purchase={"bundle": 0.3, "channel": -0.2}, dropout={"bundle": 0.5}, seed=7
    )
    df["channel"] = df["channel"].map({0: "web", 1: "agent", 2: "phone"})
    plain_df = df[["frequency", "recency", "T"]]
    plain_s, cov_s = [], []
    for _ in range(repeats):  # interleaved: plain and covariate fit side by side in time
        t = time.perf_counter()
        BetaGeoModel().fit(plain_df)
        plain_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        m = BetaGeoModel().fit(
            df, purchase_covariates=["bundle", "channel"], dropout_covariates=["bundle"]
        )
        cov_s.append(time.perf_counter() - t)
    pair = sorted(c / p for c, p in zip(cov_s, plain_s, strict=True))
    return {
        "seconds": min(cov_s),
        "plain": min(plain_s),
        "median_ratio": pair[len(pair) // 2],
        "peak": _peak_rss(),
        "effects": m.covariate_effects_.to_dict("records"),
    }


def _day_grid_summary(n: int, span_days: int, unit: str = "W") -> Any:
    """1 M BG/NBD customers on a day grid, as ``summarize`` makes them from transactions.

    First purchases fall on whole days over ``span_days``; the last repeat purchase is the
    day after the simulated time (at least day 1, at most T); ``recency`` and ``T`` are whole
    days, divided by 7 in weeks. Daily rates are the CDNOW weekly ones divided by 7.
    """
    import numpy as np
    import pandas as pd

    from segmentum.value.models.bgnbd import simulate_bgnbd

    t_days = np.random.default_rng(1).integers(0, span_days, n).astype(float)
    s = simulate_bgnbd({**TRUTH, "alpha": TRUTH["alpha"] * 7}, t_days, n, seed=7)
    rec = np.where(s["frequency"] > 0, np.clip(np.ceil(s["recency"]), 1, t_days), 0.0)
    div = 7.0 if unit == "W" else 1.0
    return pd.DataFrame(
        {"frequency": np.minimum(s["frequency"], t_days), "recency": rec / div, "T": t_days / div}
    )


def _pattern_fit(model: str, n: int, span_days: int, on: str, repeats: int) -> dict[str, Any]:
    """One fit of ``model`` on the customers' rows or on their patterns (and their times)."""
    sys.path.insert(0, str(ROOT))
    from segmentum.value import BetaGeoModel, ParetoNBDModel
    from segmentum.value.patterns import pattern_counts, patterns_duckdb

    cls = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel}[model]
    df = _day_grid_summary(n, span_days)
    out: dict[str, Any] = {"patterns": None, "pandas_s": None, "duckdb_s": None}
    table = df
    if on == "patterns":
        import duckdb

        con = duckdb.connect()
        best_pd = best_db = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            table = pattern_counts(df)
            best_pd = min(best_pd, time.perf_counter() - t)
            t = time.perf_counter()
            sql = patterns_duckdb(df, connection=con)
            best_db = min(best_db, time.perf_counter() - t)
        assert len(sql) == len(table) and float(sql["weights"].sum()) == n
        out.update(patterns=len(table), pandas_s=best_pd, duckdb_s=best_db)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        m = cls().fit(table)
        best = min(best, time.perf_counter() - t)
    out.update(
        seconds=best,
        peak=_peak_rss(),
        params=m.params_,
        se=m.standard_errors_,
        ll=m.log_likelihood_,
    )
    return out


def _pattern_scoring(n: int, span_days: int, on: str, repeats: int) -> dict[str, Any]:
    """P(alive), expected purchases and 12 discounted monthly steps, per customer or pattern."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from segmentum.value import BetaGeoModel
    from segmentum.value.clv import discounted_expected_purchases
    from segmentum.value.patterns import pattern_index

    df = _day_grid_summary(n, span_days)
    model = BetaGeoModel().fit(df)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        if on == "patterns":
            table, inverse = pattern_index(df)
        else:
            table, inverse = df, np.arange(n)
        p_alive = model.probability_alive(table).to_numpy()[inverse]
        expected = model.expected_purchases(52.0, table).to_numpy()[inverse]
        disc = discounted_expected_purchases(
            model, table, horizon=52.0, step=52.0 / 12, discount_rate=0.008
        ).to_numpy()[inverse]
        best = min(best, time.perf_counter() - t)
    check = float(p_alive.sum() + expected.sum() + disc.sum())
    return {"seconds": best, "peak": _peak_rss(), "check": check}


def _pattern_counts_table(n: int) -> list[tuple[str, int]]:
    """Distinct (x, t_x, T) patterns of n customers: day grids of 1 and 3 years, D and W."""
    sys.path.insert(0, str(ROOT))

    from segmentum.value.patterns import pattern_counts

    out = []
    for span in (365, 1095):
        for unit in ("D", "W"):
            label = f"{span // 365} year(s) of first purchases, time unit {unit}"
            out.append((label, len(pattern_counts(_day_grid_summary(n, span, unit)))))
    cont = _load_summary("sim", n)
    out.append(("continuous ages (the simulated fit benchmark above)", len(pattern_counts(cont))))
    return out


def _ratio(peer: float, ours: float) -> str:
    r = peer / ours
    return f"{r:.1f}x faster" if r >= 1 else f"{1 / r:.2f}x the time"


def _patterns(
    n: int, pareto_n: int, rows: list[tuple[str, str, str, str, str, str]], span: int = 1095
) -> None:
    """Rows of the pattern-compression benchmark: fits and scoring, customers vs patterns.

    ``span``: days over which first purchases fall (three years by default).
    """
    print(f"distinct (x, t_x, T) patterns of {n:,} customers ...", flush=True)
    for label, k in _in_child(_pattern_counts_table, n):
        print(f"  {label}: {k:,} patterns ({k / n:.1%} of the customers)", flush=True)
    for model, m, name in (("bgnbd", n, "BG/NBD"), ("pareto_nbd", pareto_n, "Pareto/NBD")):
        if m <= 0:
            continue
        reps = 3 if model == "bgnbd" else 1
        print(f"{name} fit on {m:,} day-grid customers: per customer vs patterns ...", flush=True)
        cust = _in_child(_pattern_fit, model, m, span, "customers", reps)
        pat = _in_child(_pattern_fit, model, m, span, "patterns", reps)
        diff = {
            key: max(abs(pat[key][k] / cust[key][k] - 1) for k in cust[key])
            for key in ("params", "se")
        }
        ll_diff = abs(pat["ll"] / cust["ll"] - 1)
        print(
            f"  per customer {cust['seconds']:.3f} s; on {pat['patterns']:,} patterns "
            f"{pat['seconds']:.3f} s (+ patterns: pandas {pat['pandas_s']:.3f} s, DuckDB "
            f"{pat['duckdb_s']:.3f} s); largest relative difference: parameters "
            f"{diff['params']:.1e}, standard errors {diff['se']:.1e}, log-likelihood "
            f"{ll_diff:.1e}",
            flush=True,
        )
        total = pat["seconds"] + pat["pandas_s"]
        rows.append(
            (
                f"{name} fit, {m:,} customers on a {span}-day grid, on {pat['patterns']:,} patterns "
                f"(+ pattern_counts {_fmt_s(pat['pandas_s'])}; DuckDB pattern_sql "
                f"{_fmt_s(pat['duckdb_s'])}); params within {diff['params']:.0e}",
                f"{_fmt_s(pat['seconds'])} ({_fmt_s(total)} with the patterns)",
                f"{_fmt_s(cust['seconds'])} (per-customer fit)",
                _ratio(cust["seconds"], total) + " with the patterns",
                _gb(pat["peak"]),
                _gb(cust["peak"]),
            )
        )
    print(f"scoring {n:,} customers: per customer vs per pattern ...", flush=True)
    s_cust = _in_child(_pattern_scoring, n, span, "customers", 2)
    s_pat = _in_child(_pattern_scoring, n, span, "patterns", 2)
    assert abs(s_pat["check"] / s_cust["check"] - 1) < 1e-12
    rows.append(
        (
            f"BG/NBD P(alive) + expected purchases + 12 discounted steps, {n:,} customers "
            f"({span}-day grid), per pattern and gathered back (patterns included)",
            _fmt_s(s_pat["seconds"]),
            f"{_fmt_s(s_cust['seconds'])} (per customer)",
            _ratio(s_cust["seconds"], s_pat["seconds"]),
            _gb(s_pat["peak"]),
            _gb(s_cust["peak"]),
        )
    )
    print(f"  per pattern {s_pat['seconds']:.2f} s, per customer {s_cust['seconds']:.2f} s")


def _connection(threads: int | None) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '5GB'")
    con.execute(f"SET temp_directory = '{RESULTS / 'spill'}'")
    if threads:
        con.execute(f"SET threads = {threads}")
    return con


def _summarize_segmentum(
    path: str, repeats: int, threads: int | None, engine: str
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from segmentum.value import summarize

    con = _connection(threads)
    compile_s = None
    if engine == "numba":
        import numba

        if threads:
            numba.set_num_threads(threads)
        # the first call compiles the kernel (or loads it from numba's cache): time it apart
        t = time.perf_counter()
        tiny = pd.DataFrame(
            {"customer_id": [1, 1], "date": ["2024-01-01"] * 2, "amount": [1.0] * 2}
        )
        summarize(tiny, engine="numba")
        compile_s = time.perf_counter() - t
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = summarize(
            path, calibration_end="2023-12-31", time_unit="W", connection=con, engine=engine
        )
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, "peak": _peak_rss(), "rows": len(out), "compile": compile_s}


_BARE_SUMMARY = """
WITH d AS (
  SELECT customer_id, date, SUM(amount) AS v, COUNT(*) AS c
  FROM read_parquet('{path}') GROUP BY 1, 2)
SELECT customer_id, COUNT(*) - 1 AS frequency,
       date_diff('day', MIN(date), MAX(date)) / 7 AS recency,
       date_diff('day', MIN(date), DATE '2023-12-31') / 7 AS T,
       CASE WHEN COUNT(*) > 1 THEN (SUM(v) - ARG_MIN(v, date)) / (COUNT(*) - 1) ELSE 0 END
         AS monetary_value,
       MIN(date) AS first_purchase, MAX(date) AS last_purchase, SUM(c) AS n_transactions,
       SUM(v) AS revenue
FROM d GROUP BY 1
"""

_BARE_GROUPBY = """
SELECT customer_id, COUNT(*) AS n, SUM(amount) AS revenue, MIN(date) AS first_purchase,
       MAX(date) AS last_purchase
FROM read_parquet('{path}') GROUP BY 1
"""


def _bare(path: str, repeats: int, threads: int | None, query: str) -> dict[str, Any]:
    con = _connection(threads)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = con.execute(query.format(path=path)).df()
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, "peak": _peak_rss(), "rows": len(out)}


def _make_parquet(path: Path, n_tx: int, n_customers: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{RESULTS / 'spill'}'")
    con.execute(
        f"""
        COPY (
          SELECT CAST(hash(i) % {n_customers} AS BIGINT) AS customer_id,
                 DATE '2021-01-01' + CAST(hash(i + 1000000000000) % 1095 AS INTEGER) AS date,
                 round(CAST(hash(i + 2000000000000) % 10000 AS DOUBLE) / 100.0 + 1, 2) AS amount
          FROM range({n_tx}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


# -- report -----------------------------------------------------------------------------------
def _fmt_s(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def _gb(b: int) -> str:
    return f"{b / 1e9:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a minute or two)")
    ap.add_argument("--keep-data", action="store_true", help="keep the generated Parquet file")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    ap.add_argument(
        "--only-covariates", action="store_true", help="only the covariate-fit row (item 3)"
    )
    ap.add_argument(
        "--only-patterns",
        action="store_true",
        help="only the pattern-compression rows (fits and scoring, customers vs patterns)",
    )
    ap.add_argument(
        "--pattern-span",
        type=int,
        default=1095,
        help="days over which the pattern rows' first purchases fall (default 1095)",
    )
    ap.add_argument(
        "--pareto-n",
        type=int,
        default=None,
        help="customers of the Pareto/NBD pattern row (default: as the BG/NBD; 0 skips it)",
    )
    args = ap.parse_args(argv)
    n_fit = 100_000 if args.quick else 1_000_000
    n_tx, n_cust = (5_000_000, 200_000) if args.quick else (50_000_000, 2_000_000)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, str, str, str]] = []

    def add(work: str, ours: dict[str, Any], peer: dict[str, Any] | None, peer_name: str) -> None:
        if peer is None:
            rows.append(
                (
                    work,
                    _fmt_s(ours["seconds"]),
                    f"{peer_name}: could not run",
                    "-",
                    _gb(ours["peak"]),
                    "-",
                )
            )
            return
        ratio = peer["seconds"] / ours["seconds"]
        rows.append(
            (
                work,
                _fmt_s(ours["seconds"]),
                f"{_fmt_s(peer['seconds'])} ({peer_name})",
                f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x the time",
                _gb(ours["peak"]),
                _gb(peer["peak"]),
            )
        )
        print(
            f"  {work}: segmentum {ours['seconds']:.3f} s, {peer_name} {peer['seconds']:.3f} s",
            flush=True,
        )

    if args.only_patterns:
        _patterns(n_fit, n_fit if args.pareto_n is None else args.pareto_n, rows, args.pattern_span)
        _print_table(rows)
        return 0
    print(f"BG/NBD fit with covariates on {n_fit:,} simulated customers ...", flush=True)
    cov = _in_child(_fit_covariates, n_fit, 5)
    for e in cov["effects"]:
        print(f"  {e['process']} {e['covariate']}: {e['coef']:.3f} ({e['se']:.3f})", flush=True)
    rows.append(
        (
            f"BG/NBD fit with 3 covariates, {n_fit:,} simulated customers",
            _fmt_s(cov["seconds"]),
            f"{_fmt_s(cov['plain'])} (plain BG/NBD fit, same rows)",
            f"{cov['seconds'] / cov['plain']:.2f}x the time (median of the pairs "
            f"{cov['median_ratio']:.2f}x)",
            _gb(cov["peak"]),
            "-",
        )
    )
    print(
        f"  {cov['seconds']:.3f} s vs plain {cov['plain']:.3f} s; median paired ratio "
        f"{cov['median_ratio']:.2f}",
        flush=True,
    )
    fits = (
        ()
        if args.only_covariates
        else (("cdnow", 2357, 7), ("sim", n_fit, 1 if n_fit > 200_000 else 2))
    )
    for source, n, reps in fits:
        label = "CDNOW sample" if source == "cdnow" else f"{n:,} simulated customers"
        print(f"BG/NBD fit on {label} ...", flush=True)
        ours = _in_child(_fit_segmentum, source, n, reps)
        try:
            peer: dict[str, Any] | None = _in_child(_fit_lifetimes, source, n, reps)
        except Exception as exc:  # lifetimes unavailable or incompatible
            print(f"  lifetimes failed: {exc!r}", flush=True)
            peer = None
        if peer is not None:
            diff = max(
                abs(ours["params"][k] - peer["params"][k]) / peer["params"][k] for k in TRUTH
            )
            print(f"  largest relative parameter difference vs lifetimes: {diff:.1e}", flush=True)
        add(f"BG/NBD fit, {label}", ours, peer, "lifetimes")

    if not args.only_covariates:
        _patterns(n_fit, n_fit if args.pareto_n is None else args.pareto_n, rows, args.pattern_span)
    path = RESULTS / f"tx_{n_tx // 1_000_000}M.parquet"
    if args.only_covariates:
        _print_table(rows)
        return 0
    if not path.exists():
        print(f"generating {n_tx:,} transactions for {n_cust:,} customers ...", flush=True)
        t = time.perf_counter()
        _make_parquet(path, n_tx, n_cust)
        print(f"  done in {time.perf_counter() - t:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
    reps = 2
    print("summarize vs bare DuckDB ...", flush=True)
    bare_summary = _in_child(_bare, str(path), reps, args.threads, _BARE_SUMMARY)
    bare_group = _in_child(_bare, str(path), reps, args.threads, _BARE_GROUPBY)
    label = f"summarize {n_tx / 1e6:.0f}M tx / {n_cust / 1e6:.1f}M customers"
    for engine in ("numba", "sql"):
        ours = _in_child(_summarize_segmentum, str(path), reps, args.threads, engine)
        if ours["compile"] is not None:
            print(f"  kernel compiled or loaded from cache in {ours['compile']:.1f} s")
        for peer, name in (
            (bare_group, "DuckDB 1-level group-by"),
            (bare_summary, "DuckDB same summary"),
        ):
            ratio = ours["seconds"] / peer["seconds"]
            rows.append(
                (
                    f"{label}, engine={engine}",
                    _fmt_s(ours["seconds"]),
                    f"{_fmt_s(peer['seconds'])} ({name})",
                    f"{ratio:.2f}x the time",
                    _gb(ours["peak"]),
                    _gb(peer["peak"]),
                )
            )
            print(f"  engine={engine} vs {name}: {ratio:.2f}x", flush=True)
    if not args.keep_data:
        shutil.rmtree(RESULTS, ignore_errors=True)

    _print_table(rows)
    return 0


def _print_table(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    head = ("work", "segmentum", "peer", "ratio", "peak mem (ours)", "peak mem (peer)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print()
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        f"\n(cpu count {os.cpu_count()}; times are the best of the repeats; peak memory is the "
        "max RSS of the process that ran the work)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
