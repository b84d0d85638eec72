"""A run with ``engine = "spark"`` gives the run ``engine = "duckdb"`` gives (needs the
``spark`` extra).

One small demo project (1,500 customers, 400 respondents, a few bad transaction lines set
aside by the quarantine), copied before any run, is run once on each engine: the value stage
runs in Spark (summary, pattern fits, scores by ``mapInPandas``, RFM and deciles as Spark
windows), and Spark writes ``assignments.parquet/`` as part files. The value outputs, the
segments, the stages, the next best offers, the assignments table and the rows set aside
must agree.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from spark_collections import record_collections  # noqa: E402

from segmentum.project import Project, RunResult  # noqa: E402
from segmentum.runs import Catalogue, verify_run  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module", autouse=True)
def _nanos_setting_back(spark):  # type: ignore[no-untyped-def]
    """The shared session's ``nanosAsLong`` as before the module: the ingest of the demo's
    Parquet files sets it on the running session and leaves it set (the run's frames read
    them lazily, and this module reads them until its last test)."""
    key = "spark.sql.legacy.parquet.nanosAsLong"
    before = spark.conf.get(key, None)
    yield
    if before is None:
        spark.conf.unset(key)
    else:
        spark.conf.set(key, before)


#: the continuous value columns (1e-6 relative, as the issue asks)
SCORES = ("clv", "p_alive", "expected_purchases", "expected_spend", "profit_clv")
#: the ranks and labels, identical
EXACT = (
    "recency_score", "frequency_score", "monetary_score", "rfm_score", "value_decile",
    "n_transactions", "segment", "segment_source", "stage", "next_best_offer", "control",
)  # fmt: skip


#: the offer of the demo that changes a covariate, declared in the project of ``runs``
BUNDLE_OFFER = (
    '[activation.offer_covariates.home_bundle]\ncovariate = "home_bundle"\nvalue = true\n'
)


def _small_project(folder: Path) -> Path:
    """The demo, made quick (6 segments pinned, few bootstrap fits, few what-if draws), with
    bad lines and the home bundle's CLV uplift declared."""
    from segmentum.demo.project import DEMO_SCENARIO_PATH, write_demo_project

    project = write_demo_project(folder, n_customers=1_500, n_respondents=400)
    text = project.read_text(encoding="utf-8")
    # the demo plants 6 segments (its channels table names them): pinned, few bootstraps
    text = re.sub(r"n_boot = \d+", "n_boot = 5\nn_segments = 6\nn_null = 0", text)
    # the demo's what-if scenario (20 draws) and an offer that changes a covariate: both
    # engines compute them in the run (whatif.csv, the next best offer's CLV uplift)
    scenario = folder / DEMO_SCENARIO_PATH
    scenario.write_text(
        re.sub(r"draws = \d+", "draws = 20", scenario.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    assert re.findall(r"^\[([\w.]+)\]", text, flags=re.M)[-1] == "activation"
    text = text.rstrip("\n") + "\n\n" + BUNDLE_OFFER
    text = re.sub(r'on_bad_rows = "\w+"', 'on_bad_rows = "quarantine"', text)
    assert 'on_bad_rows = "quarantine"' in text
    project.write_text(text, encoding="utf-8")
    tx_path = folder / "data" / "transactions.parquet"
    tx = pd.read_parquet(tx_path)
    tx.loc[tx.index[:4], "amount"] = -5.0  # negative amounts
    tx.loc[tx.index[4:7], "customer_id"] = "nobody"  # unknown customers
    tx.to_parquet(tx_path, index=False)
    return project


#: what the Spark run of :func:`runs` brought to the driver: ``calls``, every collection
#: (``tests/spark_collections.py``); ``fetches``, for each read of the value stage's
#: per-customer table (fetched on demand), the segmentum frames that asked for it
COLLECTED: dict[str, list] = {"calls": [], "fetches": []}  # type: ignore[type-arg]


def _segmentum_frames() -> list[str]:
    import sys

    out, frame = [], sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("segmentum."):
            out.append(f"{module}:{frame.f_code.co_name}")
        frame = frame.f_back  # type: ignore[assignment]
    return out


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> tuple[RunResult, RunResult]:  # type: ignore[no-untyped-def]
    from segmentum.value import spark_scoring

    base = tmp_path_factory.mktemp("spark_run")
    project = _small_project(base / "duckdb")
    shutil.copytree(base / "duckdb", base / "spark")
    duck = Project.load(project, engine="duckdb").run()
    fetch = spark_scoring._to_driver

    def asked(*args, **kwargs):  # type: ignore[no-untyped-def]
        COLLECTED["fetches"].append(_segmentum_frames())
        return fetch(*args, **kwargs)

    spark_scoring._to_driver = asked  # type: ignore[assignment]
    try:
        with record_collections() as calls:
            on_spark = Project.load(base / "spark" / "segmentum.toml", engine="spark").run()
    finally:
        spark_scoring._to_driver = fetch  # type: ignore[assignment]
    COLLECTED["calls"] = list(calls)
    return duck, on_spark


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("respondent_id", "customer_id") if c in frame]
    return frame.sort_values(keys, ignore_index=True, na_position="last")


def _close(got: pd.Series, want: pd.Series, name: str) -> None:
    """1e-6 relative; a difference of values (profit_clv = CLV − future service cost) may
    sit near 0, so it is held to 1e-6 of the column's scale."""
    scale = float(np.nanmax(np.abs(want.to_numpy(dtype=float)))) if want.notna().any() else 1.0
    atol = 1e-6 * scale if name.startswith("profit") else 0.0
    np.testing.assert_allclose(
        got.to_numpy(dtype=float), want.to_numpy(dtype=float),
        rtol=1e-6, atol=atol, err_msg=name,
    )  # fmt: skip


def test_value_stage_ran_in_spark_and_gives_the_duckdb_values(runs) -> None:  # type: ignore[no-untyped-def]
    duck, on_spark = runs
    assert duck.value.spark is None and on_spark.value.spark is not None
    a, b = duck.value.per_customer, on_spark.value.per_customer
    assert list(b.columns) == list(a.columns) and b.dtypes.to_dict() == a.dtypes.to_dict()
    assert b["customer_id"].tolist() == a["customer_id"].tolist()
    for col in a.columns:
        if col in SCORES or pd.api.types.is_float_dtype(a[col]):
            _close(b[col], a[col], col)
        else:
            assert b[col].tolist() == a[col].tolist(), col
    assert b["value_decile"].nunique() == 10 and b["rfm_score"].nunique() > 20
    pa, pb = duck.value.summary["purchase_model"], on_spark.value.summary["purchase_model"]
    for name, value in pa["params"].items():
        assert pb["params"][name] == pytest.approx(value, rel=1e-6)
    assert on_spark.value.warnings == duck.value.warnings
    assert on_spark.value.summary["skipped"] == duck.value.summary["skipped"]
    pd.testing.assert_frame_equal(on_spark.value.deciles, duck.value.deciles, rtol=1e-6)
    pd.testing.assert_frame_equal(on_spark.value.validation, duck.value.validation)


def test_assignments_written_by_spark_are_the_duckdb_table(runs) -> None:  # type: ignore[no-untyped-def]
    duck, on_spark = runs
    file, folder = duck.run_dir / "assignments.parquet", on_spark.run_dir / "assignments.parquet"
    assert file.is_file() and folder.is_dir()
    parts = sorted(p.name for p in folder.iterdir())
    assert parts and all(re.fullmatch(r"part-\d{5}\.parquet", p) for p in parts)
    a, b = _sorted(pd.read_parquet(file)), _sorted(pd.read_parquet(folder))
    assert list(b.columns) == list(a.columns)
    assert b.dtypes.to_dict() == a.dtypes.to_dict()
    assert len(b) == len(a) == len(duck.assignments)
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            _close(b[col], a[col], col)
        else:
            pd.testing.assert_series_equal(b[col], a[col], obj=col)
    assert {c for c in EXACT if c in a} >= {"segment", "stage", "next_best_offer"}
    pd.testing.assert_frame_equal(_sorted(on_spark.assignments), b, check_exact=False, rtol=1e-12)


def test_segments_and_rejected_rows_are_the_same(runs) -> None:  # type: ignore[no-untyped-def]
    duck, on_spark = runs
    assert on_spark.segments.summary["k"] == duck.segments.summary["k"]
    rejected = {}
    for run in runs:
        frame = pd.read_parquet(run.run_dir / "rejected" / "transactions.parquet")
        rejected[run.manifest["engine"]] = frame["reason"].value_counts().sort_index()
    pd.testing.assert_series_equal(rejected["spark"], rejected["duckdb"])
    assert rejected["duckdb"].sum() == 7
    assert on_spark.data.n_rejected == duck.data.n_rejected


def test_spark_run_folder_is_checked_listed_and_served(runs) -> None:  # type: ignore[no-untyped-def]
    from segmentum.app.core import RunView

    duck, on_spark = runs
    manifest = verify_run(on_spark.run_dir)  # every part file matches its checksum
    assert manifest["engine"] == "spark" and duck.manifest["engine"] == "duckdb"
    listed = manifest["assignments"]
    assert listed["written_by"] == "spark" and listed["parts"]
    assert set(listed["parts"]) <= set(manifest["files"])
    assert all(p.startswith("assignments.parquet/") for p in listed["parts"])
    catalogue = Catalogue(on_spark.run_dir.parent.parent, on_spark.run_dir.parent)
    assert on_spark.run_id in set(catalogue.runs()["run_id"])
    assert catalogue.latest() == on_spark.run_dir  # only a run that verifies
    view = RunView(on_spark.run_dir, manifest)
    served = _sorted(view.table("assignments.parquet"))
    pd.testing.assert_frame_equal(served, _sorted(on_spark.assignments))
    # the persona pages' stage mix is read from the part files as from the single file
    from segmentum.profiles.persona_art import read_stage_mix

    mix = read_stage_mix(on_spark.run_dir / "assignments.parquet")
    assert mix and mix == read_stage_mix(duck.run_dir / "assignments.parquet")


def _json_close(got: object, want: object, where: str = "") -> None:
    """Equal JSON, numbers within 1e-9 relative or absolute (Spark sums in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for k in want:
            _json_close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _json_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), where
    else:
        assert got == want, where


def test_activation_runs_in_spark_and_brings_only_aggregates(runs) -> None:  # type: ignore[no-untyped-def]
    """The activation stage computes every customer's stage, control flag and offer in
    Spark: none of its collections returns a row per customer, and activation.json gives
    the DuckDB run's figures."""
    import json

    duck, on_spark = runs
    n_customers = len(duck.data.frame("customers"))
    assert n_customers == 1_500
    ca = on_spark.outcomes["activation"].result.customers
    assert ca.customers is None and ca.spark is not None  # the rows stayed in Spark
    assert ca.counts.customers == duck.outcomes["activation"].result.customers.counts.customers
    mine = [c for c in COLLECTED["calls"] if c.caller.startswith("segmentum.activation")]
    assert mine, "the recorder saw no collection of the activation stage"
    big = [str(c) for c in mine if c.rows >= n_customers]
    assert not big, big
    a, b = (json.loads((r.run_dir / "activation.json").read_text(encoding="utf-8")) for r in runs)
    assert a["lifecycle"]["flow"] is not None and len(a["lifecycle"]["flow"]["moves"]) > 5
    assert len(a["offers"]["chosen"]) >= 3 and a["control_group"]["size"] > 0
    for key in ("lifecycle", "control_group", "offers", "acceptance", "warnings"):
        _json_close(b[key], a[key], key)
    for key in ("rules", "customers_firing", "warnings"):
        _json_close(b["triggers"][key], a["triggers"][key], f"triggers.{key}")
    assert a["triggers"]["customers_firing"] > 0
    _json_close(b["playbooks"], a["playbooks"], "playbooks")
    ca_duck = duck.outcomes["activation"].result
    pd.testing.assert_frame_equal(on_spark.outcomes["activation"].result.stage_mix(),
                                  ca_duck.stage_mix())  # fmt: skip
    pd.testing.assert_series_equal(on_spark.outcomes["activation"].result.top_offers(),
                                   ca_duck.top_offers())  # fmt: skip
    look, want = ca.sample(5), ca_duck.customers.sample(5)  # a bounded look, same rows
    assert len(look) == 5 and look["customer_id"].tolist() == want["customer_id"].tolist()
    assert look["stage"].tolist() == want["stage"].tolist()
    fired = [pd.read_csv(r.run_dir / "audiences" / "trigger_customers.csv", dtype=str)
             for r in runs]  # fmt: skip
    key = ["rule_id", "customer_id"]
    pd.testing.assert_frame_equal(
        fired[1].sort_values(key, ignore_index=True), fired[0].sort_values(key, ignore_index=True)
    )


# --- #17 item 4: the value stage brings only aggregates to the driver ----------------------

#: frames of segmentum.value a fetch of the per-customer table passes through when another
#: stage asks for it (the on-demand field, its loader, the run's join-key helper)
_FETCH_PATH = (
    "segmentum.value.steps:__get__",
    "segmentum.value.spark_scoring:<lambda>",
    "segmentum.value.stage:per_customer_columns",
)


def test_value_stage_collects_no_customer_table_on_spark(runs) -> None:  # type: ignore[no-untyped-def]
    duck, on_spark = runs
    n = duck.value.summary["customers"]
    assert n == on_spark.value.summary["customers"] > 1_400
    calls = [c for c in COLLECTED["calls"] if c.caller.startswith("segmentum.value.")]
    assert calls, COLLECTED["calls"]  # the recorder saw the value stage's aggregates
    # nothing the value stage computes comes back one row per customer (or transaction) …
    big = [str(c) for c in calls if c.rows >= n and ":_to_driver:" not in c.caller]
    assert big == [], big
    assert max(c.rows for c in calls if ":_to_driver:" not in c.caller) < n
    # … and when a later stage reads the per-customer table, it is fetched once, for it: the
    # value stage and its report section never read it
    fetches = COLLECTED["fetches"]
    assert len(fetches) <= 1, fetches
    for chain in fetches:
        own = [f for f in chain if f.startswith("segmentum.value.") and f not in _FETCH_PATH]
        assert own == [], chain


def _differences(got: object, want: object, path: str = "") -> list[str]:
    """Where two headline summaries differ (floats at 1e-6 relative, standard errors 1e-5:
    the full-period fit is the pattern fit on Spark, the per-customer fit on DuckDB)."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = set(want) | set(got)
        return [
            d
            for k in sorted(keys, key=str)
            for d in _differences(got.get(k), want.get(k), f"{path}/{k}")
        ]
    if isinstance(want, float) and isinstance(got, float):
        rel = 1e-5 if "/standard_errors/" in path else 1e-6  # as the pattern tests hold them
        # an error in percent is a difference of two totals: held to 1e-4 points
        tol = 1e-4 if path.endswith("error_pct") else 0.0
        close = got == pytest.approx(want, rel=rel, abs=tol, nan_ok=True)
        return [] if close else [f"{path}: {got} != {want}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_value_figures_from_spark_aggregates_are_the_duckdb_figures(runs) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from segmentum.value.aggregates import value_aggregates
    from segmentum.value.summary import summarize
    from segmentum.value.validation import holdout_metrics, holdout_validation, tracking_data

    duck, on_spark = runs
    a, b = duck.value, on_spark.value
    fit_specific = {
        "/fit_rows/purchase",
        "/fit_rows/purchase_calibration",
        "/purchase_model/fit_note",
    }
    diffs = [d for d in _differences(b.summary, a.summary) if d.split(":")[0] not in fit_specific]
    assert diffs == [], diffs
    for key in ("customers", "repeat_buyers", "transactions", "unprofitable_customers"):
        assert b.summary[key] == a.summary[key], key
    assert b.summary["revenue"] == pytest.approx(a.summary["revenue"], rel=1e-12)
    # the holdout: the same figures as DuckDB's …
    cols = ["customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total"]
    pd.testing.assert_frame_equal(b.validation[cols], a.validation[cols], rtol=1e-6)
    assert (
        b.validation["calibration_frequency"].tolist()
        == a.validation["calibration_frequency"].tolist()
    )
    pd.testing.assert_frame_equal(b.tracking, a.tracking, rtol=1e-6)
    # … and, for the same calibration model, DuckDB's per-customer formulas to 1e-9
    m_cal, h = b.models["purchase_calibration"], b.summary["holdout"]
    cal_end, end = (
        dt.date.fromisoformat(h["calibration_end"]),
        dt.date.fromisoformat(b.summary["analysis_date"]),
    )
    tx, unit = duck.data.frame("transactions"), b.config.time_unit
    cal = summarize(
        tx,
        "customer_id",
        "date",
        "amount",
        calibration_end=cal_end,
        holdout_end=end,
        time_unit=unit,
    )
    pd.testing.assert_frame_equal(b.validation, holdout_validation(m_cal, cal), rtol=1e-9)
    for name, value in holdout_metrics(m_cal, cal).items():
        assert h[name] == pytest.approx(value, rel=1e-9), name
    want = tracking_data(
        tx, m_cal, customer_id="customer_id", timestamp="date",
        calibration_end=cal_end, end=end, time_unit=unit,
    )  # fmt: skip
    pd.testing.assert_frame_equal(b.tracking, want, rtol=1e-9)
    # the report's tables: DuckDB's (1e-6: the fits), the Spark run's own customers' (1e-9)
    own = value_aggregates(b.per_customer, rfm_bins=b.config.rfm_bins)
    for other, rtol in ((a.aggregates, 1e-6), (own, 1e-9)):
        assert b.aggregates.columns == other.columns
        pd.testing.assert_frame_equal(b.aggregates.decile_profile, other.decile_profile, rtol=rtol)
        pd.testing.assert_frame_equal(b.aggregates.rfm_grid, other.rfm_grid, rtol=1e-9)
        got, exp = b.aggregates.clv_histogram, other.clv_histogram
        assert got["customers"].tolist() == exp["customers"].tolist()
        np.testing.assert_allclose(got[["left", "right"]], exp[["left", "right"]], rtol=rtol)
        for key, value in other.totals.items():
            assert b.aggregates.totals[key] == pytest.approx(value, rel=rtol), key
    assert b.aggregates.decile_profile["unprofitable"].sum() == a.summary["unprofitable_customers"]


def test_valuation_runs_in_spark_and_brings_only_aggregates(runs) -> None:  # type: ignore[no-untyped-def]
    """The valuation stage projects, counts and values every customer in Spark: no
    collection made by the valuation or the report returns a row per customer, and the
    valuation table, adjusted sizes and priorities are the DuckDB run's."""
    import json

    duck, on_spark = runs
    n_customers = int(duck.assignments["customer_id"].nunique())
    assert n_customers >= 1_500
    ours = [
        c
        for c in COLLECTED["calls"]
        if c.caller.startswith(("segmentum.valuation.", "segmentum.report."))
    ]
    assert any(c.caller.startswith("segmentum.valuation.") for c in ours), COLLECTED["calls"]
    big = [str(c) for c in ours if c.rows >= n_customers]
    assert not big, big
    want, got = duck["valuation"], on_spark["valuation"]
    assert (want.assignments["segment_source"] == "projected").sum() > 500
    assert (got.assignments["segment_source"] == "survey").all()  # the respondents only
    assert (got.result.customer_segments["segment_source"] == "survey").all()
    a, b = want.result, got.result
    assert b.valuation["customers"].tolist() == a.valuation["customers"].tolist()
    pd.testing.assert_frame_equal(b.valuation, a.valuation, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(b.adjusted_sizes, a.adjusted_sizes, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(
        b.priorities.table, a.priorities.table, check_exact=False, rtol=1e-9
    )
    assert b.sentence == a.sentence and b.warnings == a.warnings
    pd.testing.assert_frame_equal(b.projection.confusion, a.projection.confusion)
    seg_json = {
        r.manifest["engine"]: json.loads((r.run_dir / "segments.json").read_text()) for r in runs
    }
    for key in ("projection", "where_to_play", "segments"):
        _json_close(seg_json["spark"][key], seg_json["duckdb"][key], key)


def test_the_answer_screen_is_the_duckdb_one(runs) -> None:  # type: ignore[no-untyped-def]
    """The report's first screen (sizes, value, offers and stage mix of the priority
    segments) reads aggregates: the same figures and words on both engines."""
    import json

    report = {
        r.manifest["engine"]: json.loads((r.run_dir / "report.json").read_text()) for r in runs
    }
    answer = report["duckdb"]["answer"]
    assert answer["kind"] == "segments" and answer["segments"]
    assert any(card["offer"] for card in answer["segments"])
    assert any(card["stages"] for card in answer["segments"])
    _json_close(report["spark"]["answer"], answer, "answer")


def test_collection_plan_is_the_duckdb_one(runs) -> None:  # type: ignore[no-untyped-def]
    """The data-collection plan is refitted on the linked customers' features, which Spark
    filters and brings over (one row per linked customer): the same plan as DuckDB's."""
    plans = {r.manifest["engine"]: pd.read_csv(r.run_dir / "collection_plan.csv") for r in runs}
    want, got = plans["duckdb"], plans["spark"]
    assert len(want) >= 3 and want["field"].is_unique
    assert got["field"].tolist() == want["field"].tolist()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)


def _context(run: RunResult, value: object = None):  # type: ignore[no-untyped-def]
    """The stage context of a finished run (its results; ``value`` instead of its own)."""
    from segmentum.flow import Results, StageContext

    folder = run.run_dir.parent.parent
    config = Project.load(folder / "segmentum.toml", engine=run.manifest["engine"]).config
    results = Results()
    for name, outcome in run.outcomes.items():
        if outcome.status == "ran":
            own = value is not None and name == "value"
            results.add(name, value if own else outcome.result)
    return StageContext(config, run.data, config.project.seed, results=results, folder=folder)


def test_whatif_csv_and_the_clv_uplift_are_the_duckdb_ones(runs) -> None:  # type: ignore[no-untyped-def]
    """The declared scenario moves every customer (not the 400 respondents) and Spark's
    whatif.csv is DuckDB's: counts identical, money within 1e-9 relative; the home bundle's
    CLV uplift (customers moved, mean uplift, every customer's uplift) too."""
    import json

    duck, on_spark = runs
    want, got = (pd.read_csv(r.run_dir / "whatif.csv", dtype={"segment": str}) for r in runs)
    assert want["scenario"].nunique() == 1 and len(want) >= 4
    total = want[want["segment"] == "total"].iloc[0]
    assert int(total["customers"]) == 1_500  # every customer, not the respondents
    assert (want["difference"].abs() > 0).sum() >= 2 and (want["difference"] == 0).any()
    for col in ("scenario", "segment", "customers"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("clv_before", "clv_after", "difference", "low", "high"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=0, err_msg=col)
    a, b = (json.loads((r.run_dir / "activation.json").read_text(encoding="utf-8")) for r in runs)
    (up,) = a["offers"]["clv_uplift"]
    assert up["offer_id"] == "home_bundle" and up["customers_moved"] > 100
    _json_close(b["offers"]["clv_uplift"], a["offers"]["clv_uplift"], "clv_uplift")
    assert b["warnings"] == a["warnings"]  # no note that rows were brought over
    mine = on_spark.outcomes["activation"].result.customers.uplift
    theirs = duck.outcomes["activation"].result.customers.uplift
    assert mine.uplift is None and mine.spark is not None  # the rows stayed in Spark
    rows = mine.spark.toPandas().set_index("customer_id").sort_index()
    assert rows.index.tolist() == sorted(theirs.uplift.index)
    np.testing.assert_allclose(
        rows["home_bundle"], theirs.uplift.sort_index()["home_bundle"], rtol=1e-9, atol=1e-12
    )


#: the modules of the what-if scenarios and the CLV uplift
_WHATIF = (
    "segmentum.activation.scenarios",
    "segmentum.activation.uplift",
    "segmentum.activation.spark_whatif",
    "segmentum.value.whatif",
)


def test_whatif_and_the_clv_uplift_bring_only_sums_to_the_driver(runs) -> None:  # type: ignore[no-untyped-def]
    """On Spark the scenarios and the CLV uplift read no per-customer table on the driver:
    run again on the finished Spark run with a value result whose per-customer table is not
    fetched yet, no collection returns a row per customer and the table stays unfetched
    (the code before this change read it, and the customers table, for both)."""
    import dataclasses

    from segmentum.activation.settings import ActivationConfig
    from segmentum.activation.stage import _scenarios, _uplift
    from segmentum.value.steps import OnDemand

    on_spark = runs[1]
    n_customers = on_spark.data.tables["customers"].n_used
    n_buyers = on_spark.value.summary["customers"]
    assert n_customers == 1_500 and n_buyers < n_customers
    value = on_spark.value
    fresh = dataclasses.replace(value, per_customer=OnDemand(lambda: value.per_customer))
    assert not fresh.per_customer_fetched
    ctx = _context(on_spark, fresh)
    cfg = ActivationConfig(
        scenarios=["scenarios/monthly_plan.toml"],
        offer_covariates={"home_bundle": {"covariate": "home_bundle", "value": True}},
    )
    with record_collections() as calls:
        (outcome,), note = _scenarios(ctx, cfg)
        uplift, uplift_note = _uplift(ctx, cfg)
    assert note is None and uplift_note is None and uplift is not None
    assert int(outcome.table["customers"].iloc[-1]) == n_customers
    assert calls, "the recorder saw no collection"
    assert all(c.caller.startswith(_WHATIF) for c in calls), [str(c) for c in calls]
    big = [str(c) for c in calls if c.rows >= n_customers]
    assert not big, big
    # the largest: the buyers' patterns the model is refitted on (fewer than the buyers)
    assert max(c.rows for c in calls) < n_buyers
    assert not fresh.per_customer_fetched
    # the same in the run itself: the what-if code asked for no per-customer table …
    for chain in COLLECTED["fetches"]:
        assert not [f for f in chain if f.startswith(_WHATIF)], chain
    # … nor for the clean customers table, and its collections were all small
    held = on_spark.data.tables["customers"].contents
    assert not [a for a in getattr(held, "asked_by", ()) if a.startswith(_WHATIF)]
    ran = [c for c in COLLECTED["calls"] if c.caller.startswith(_WHATIF)]
    assert ran and max(c.rows for c in ran) < n_buyers, [str(c) for c in ran]


#: the run's own modules: the ingest, the run folder writer and the Spark run helpers
_RUN_MODULES = ("segmentum.data.", "segmentum.spark_run:", "segmentum.project:")
#: the one function a table kept in Spark is collected through when a stage asks for it
_ON_DEMAND = (":_collect_clean:", ":_collect_rejected:")


def test_ingest_and_run_folder_bring_no_customer_rows_to_the_driver(runs) -> None:  # type: ignore[no-untyped-def]
    """The ingest checks, counts and quarantines in Spark and the run folder is written by
    Spark: no collection the ingest or the run folder makes returns a row per customer (the
    demo's 1,500 customers, ~20,000 transactions); a clean table that comes to the driver at
    all does so because a stage asked for it (``Deferred.asked_by`` names it), never the
    ingest or the run folder."""
    duck, on_spark = runs
    tables = on_spark.data.tables
    n_customers = tables["customers"].n_used
    assert n_customers == 1_500 and tables["transactions"].n_rows_read > 10 * n_customers
    ours = [c for c in COLLECTED["calls"] if c.caller.startswith(_RUN_MODULES)]
    assert any(c.caller.startswith("segmentum.data.") for c in ours)  # the ingest was seen
    # on demand: a stage asked (named below); known_ids: the foreign keys of a table DuckDB
    # read (responses, leads) go to Spark and the known ones come back, ids the driver holds
    exempt = (*_ON_DEMAND, ":known_ids:")
    big = [
        str(c) for c in ours if c.rows >= n_customers and not any(key in c.caller for key in exempt)
    ]
    assert not big, big
    for name in ("customers", "transactions", "events"):
        held = (tables[name].contents, tables[name].set_aside)  # a frame when nothing is held
        askers = [a for part in held for a in getattr(part, "asked_by", ())]
        assert not [a for a in askers if a.startswith(_RUN_MODULES)], (name, askers)
        # the value stage and the playbooks read the Spark frames only
        stages = ("segmentum.value.", "segmentum.activation.kit:")
        assert not [a for a in askers if a.startswith(stages)], (name, askers)
    for name, t in tables.items():  # counted in Spark, as DuckDB counts them
        want = duck.data.tables[name]
        assert (t.n_rows_read, t.n_used, t.n_rejected) == (
            want.n_rows_read, want.n_used, want.n_rejected
        ), name  # fmt: skip
    assert on_spark.manifest["inputs"] == duck.manifest["inputs"] | {
        n: {**duck.manifest["inputs"][n], "notes": on_spark.manifest["inputs"][n]["notes"]}
        for n in ("customers", "transactions", "events") if n in duck.manifest["inputs"]
    }  # fmt: skip


def test_rejected_rows_are_written_by_spark_as_listed_part_files(runs) -> None:  # type: ignore[no-untyped-def]
    """``rejected/transactions.parquet/`` of the Spark run is Spark's part files (listed in
    the manifest with the exact count; checked by verify_run), read as the DuckDB run's
    single file: the same rows, reasons and values."""
    duck, on_spark = runs
    listed = on_spark.manifest["rejected"]["transactions"]
    folder = on_spark.run_dir / listed["path"]
    assert folder.is_dir() and listed["written_by"] == "spark" and listed["rows"] == 7
    assert listed["parts"] and all(p.startswith(listed["path"] + "/") for p in listed["parts"])
    assert set(listed["parts"]) <= set(verify_run(on_spark.run_dir)["files"])
    assert duck.manifest["rejected"]["transactions"] == {
        "path": "rejected/transactions.parquet", "rows": 7, "written_by": "duckdb",
    }  # fmt: skip
    a = pd.read_parquet(duck.run_dir / "rejected" / "transactions.parquet")
    b = pd.read_parquet(folder)
    assert b["source_row"].is_monotonic_increasing
    pd.testing.assert_frame_equal(b, a, check_dtype=False)
    assert b.dtypes["source_row"] == a.dtypes["source_row"]


def test_spark_audiences_are_listed_and_downloaded_as_one_csv(runs) -> None:  # type: ignore[no-untyped-def]
    """The app lists a Spark run's audience folders (``audiences/<name>/part-*.csv``) as
    the DuckDB run lists its files, one entry per audience with its rows, and serves each
    as one CSV with one header (the parts streamed in order); names outside the manifest
    are not found."""
    import io

    from fastapi.testclient import TestClient

    from segmentum.app import create_app
    from segmentum.app.api import _audiences
    from segmentum.app.core import RunView
    from segmentum.app.keys import KeyStore

    duck, on_spark = runs
    manifest = verify_run(on_spark.run_dir)
    listed = {a["name"]: a for a in _audiences(RunView(on_spark.run_dir, manifest))}
    want = {a["name"]: a["rows"] for a in _audiences(RunView(duck.run_dir, duck.manifest))}
    assert want and {n: a["rows"] for n, a in listed.items()} == want
    folders = [a for a in listed.values() if "parts" in a]
    assert folders, "the Spark run wrote no audience folders"
    project = on_spark.run_dir.parent.parent
    client = TestClient(create_app(project / "segmentum.toml"))
    _, key = KeyStore(project).create("read", "spark audiences test")
    headers = {"Authorization": f"Bearer {key}"}
    url = f"/api/v1/runs/{on_spark.run_id}/audiences"
    got = client.get(url, headers=headers).json()["audiences"]
    assert {a["name"]: a["rows"] for a in got} == want and all("parts" not in a for a in got)
    for audience in sorted(folders, key=lambda a: -int(a["rows"]))[:2]:
        body = client.get(f"{url}/{audience['name']}", headers=headers)
        assert body.status_code == 200 and body.headers["content-type"].startswith("text/csv")
        served = pd.read_csv(io.BytesIO(body.content), dtype=str, keep_default_na=False)
        parts = [on_spark.run_dir / p for p in audience["parts"]]
        whole = pd.concat(
            [pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts], ignore_index=True
        )
        assert len(served) == audience["rows"] == len(whole)
        pd.testing.assert_frame_equal(served, whole)
        header = body.content.splitlines()[0]
        assert body.content.count(header) == 1  # one header, not one per part
        duck_file = duck.run_dir / "audiences" / audience["name"]
        assert header == duck_file.read_bytes().splitlines()[0]
    for name in ("nope.csv", "..%2Fmanifest.json", "manifest.json", folders[0]["name"][:-4]):
        assert client.get(f"{url}/{name}", headers=headers).status_code == 404, name


# --- #17 item 4: the go-to-market half (lead model, channel mix) without the customers table


def _alike(got: object, want: object, path: str = "") -> list[str]:
    """:func:`_differences`, lists compared item by item (the channels, the model's weights)."""
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [d for i, (g, w) in pairs for d in _alike(g, w, f"{path}/{i}")]
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(set(want) | set(got), key=str)
        return [d for k in keys for d in _alike(got.get(k), want.get(k), f"{path}/{k}")]
    return _differences(got, want, path)


def test_activation_and_valuation_ask_for_no_clean_table_on_spark(runs) -> None:  # type: ignore[no-untyped-def]
    """On Spark no clean table (customers, transactions, events) is brought to the driver
    for the valuation or the activation stage: ``asked_by`` names neither package (the lead
    model is fitted on the linked customers' rows, selected in Spark, and the channel mix by
    descriptor is raked on cells counted in Spark), and no collection of the activation
    stage returns a row per customer."""
    _, on_spark = runs
    tables = on_spark.data.tables
    n_customers = tables["customers"].n_used
    assert n_customers == 1_500
    stages = ("segmentum.activation.", "segmentum.valuation.")
    for name in ("customers", "transactions", "events"):
        held = (tables[name].contents, tables[name].set_aside)
        askers = [a for part in held for a in getattr(part, "asked_by", ())]
        assert not [a for a in askers if a.startswith(stages)], (name, askers)
    mine = [c for c in COLLECTED["calls"] if c.caller.startswith("segmentum.activation.")]
    assert any("spark_leads" in c.caller for c in mine), mine  # the lead model's rows were seen
    big = [str(c) for c in mine if c.rows >= n_customers]
    assert not big, big
    linked = [c for c in mine if "spark_leads" in c.caller]
    n_linked = on_spark.outcomes["activation"].result.market.lead_fit.projection.n_train
    assert max(c.rows for c in linked) <= max(n_linked, 100), linked


def test_go_to_market_half_on_spark_is_the_duckdb_one(runs) -> None:  # type: ignore[no-untyped-def]
    """The demo's go-to-market half (the lead model on the linked customers, the 5,000 leads
    scored, the channels with a mix by segment and one by descriptor, the audience columns)
    gives on Spark the DuckDB run's activation.json figures, lead model file and scored
    leads."""
    import json

    a, b = (json.loads((r.run_dir / "activation.json").read_text(encoding="utf-8")) for r in runs)
    assert a["lead_model"] is not None and a["lead_model"]["n_train"] >= 100
    assert a["leads"]["kept"] > 0 and a["leads"]["dropped"] > 0
    assert len(a["channels"]) == 3  # two conferences by segment, one ad buy by descriptor
    for key in ("targets", "channels", "leads", "lead_model", "channel_choice",
                "market_warnings"):  # fmt: skip
        assert key in a
        diff = _alike(b[key], a[key], key)
        assert not diff, diff
    models = [json.loads((r.run_dir / "model" / "lead_projection.json").read_text("utf-8"))
              for r in runs]  # fmt: skip
    diff = _alike(models[1], models[0], "lead_projection")
    assert not diff, diff
    want, got = (r.outcomes["activation"].result.market for r in runs)
    pd.testing.assert_frame_equal(got.leads, want.leads, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(got.plan.table, want.plan.table, check_exact=False, rtol=1e-9)
