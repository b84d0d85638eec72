"""Projection, lifecycle stage, next best offer and audiences on Spark equal the DuckDB run's.

One small demo project (1,500 customers, 400 respondents) runs once on DuckDB; its clean
tables and results are then fed to what the stages call on Spark (the valuation stage run on
a context with ``engine = "spark"``, then the activation stage's
``customer_activation_spark``), and the Spark answers are compared with the run's: the same
segments (probabilities within 1e-9), stages, control flags and offers (expected value
within 1e-9), and the same rows in every audience file. Planted cases pin what the demo
cannot: a tie between segments and between offers, a binding offer limit broken by the
hash, refusals and the half-to-even rounding of the control group's size.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from segmentum.activation.audiences import write_audiences  # noqa: E402
from segmentum.activation.customers import ASSIGNMENT_COLUMNS  # noqa: E402
from segmentum.activation.offers import (  # noqa: E402
    control_group,
    hash_uniform,
    next_best_offer,
    read_offers,
)
from segmentum.activation.settings import ContactPolicy  # noqa: E402
from segmentum.activation.spark import (  # noqa: E402
    audience_people_spark,
    control_group_spark,
    next_best_offer_spark,
    write_audiences_spark,
)
from segmentum.activation.spark_customers import customer_activation_spark  # noqa: E402
from segmentum.data.project import with_engine  # noqa: E402
from segmentum.flow import Results, StageContext  # noqa: E402
from segmentum.valuation.projection import ProjectionModel  # noqa: E402
from segmentum.valuation.spark import project_spark  # noqa: E402
from segmentum.valuation.stage import VALUATION  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo project run once on DuckDB (fewer restarts and draws: it is about scoring)."""
    from segmentum.demo.project import write_demo_project
    from segmentum.project import Project

    folder = tmp_path_factory.mktemp("spark-activation")
    project_file = write_demo_project(folder, n_customers=1_500, n_respondents=400)
    text = project_file.read_text(encoding="utf-8")
    text = text.replace("n_boot = 50", "n_boot = 0\nn_null = 0\nn_init = 3\nn_segments = 6")
    text = text.replace("[valuation]\n", "[valuation]\nn_draws = 100\n", 1)
    text = re.sub(r"scenarios = \[.*\]\n", "", text)
    project_file.write_text(text, encoding="utf-8")
    project = Project.load(project_file)
    return project, project.run()


@pytest.fixture(scope="module")
def spark_ctx(demo, spark):  # type: ignore[no-untyped-def]
    """The run's context as an ``engine = "spark"`` run sees it (tables handed to Spark)."""
    project, run = demo
    results = Results()
    for name, outcome in run.outcomes.items():
        if outcome.status == "ran":
            results.add(name, outcome.result)
    config = with_engine(project.config, "spark")
    return StageContext(config, run.data, config.project.seed, results=results)


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _text(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), "<none>").astype(str).to_numpy()


@pytest.fixture(scope="module")
def valuation_on_spark(spark_ctx):  # type: ignore[no-untyped-def]
    """The valuation stage as an ``engine = "spark"`` run runs it: every customer's
    assignments in its Spark frame (the projection fitted on features Spark computed)."""
    got = VALUATION.run(spark_ctx)
    assert got.spark is not None
    return got


def test_projection_segments_identical_and_probabilities_within_1e9(
    demo, valuation_on_spark
) -> None:  # type: ignore[no-untyped-def]
    _, run = demo
    vst = run.outcomes["valuation"].result
    assert vst.result.projection is not None
    got = valuation_on_spark.spark.toPandas()
    want = vst.assignments
    assert sorted(got.columns) == sorted(want.columns)
    assert len(got) == len(want)
    assert (want["segment_source"] == "projected").sum() > 900  # most customers are projected
    key = ["respondent_id", "customer_id"]
    g = got.assign(_k=_text(got[key[0]]) + "|" + _text(got[key[1]]))
    w = want.assign(_k=_text(want[key[0]]) + "|" + _text(want[key[1]]))
    g, w = _sorted(g, "_k"), _sorted(w, "_k")
    assert (g["_k"] == w["_k"]).all()
    assert (g["segment"].to_numpy() == w["segment"].to_numpy()).all()
    assert (g["segment_source"].to_numpy() == w["segment_source"].to_numpy()).all()
    diff = np.abs(g["segment_probability"].to_numpy() - w["segment_probability"].to_numpy())
    assert diff.max() < 1e-9


def test_projection_tie_goes_to_the_first_segment_as_numpy_argmax(spark) -> None:  # type: ignore[no-untyped-def]
    # segments 3 and 1 score the same on every row: numpy's argmax takes the first (3)
    W = np.array([[0.5, -1.0], [0.5, -1.0], [0.2, 0.3]])
    model = ProjectionModel(
        segments=(3, 1, 2), numeric=("x", "y"), fill=np.array([0.0, 1.0]), weights=W,
        intercepts=np.array([0.1, 0.1, -5.0]),
        categorical={"region": (["N", "S"], np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]))},
    )  # fmt: skip
    feats = pd.DataFrame(
        {"id": [f"c{i}" for i in range(6)], "x": [0.0, 1.0, np.nan, 2.0, -1.0, 0.5],
         "y": [1.0, np.nan, 0.0, 3.0, 0.0, -2.0], "region": ["N", "S", None, "E", "N", "S"]}
    )  # fmt: skip
    want = model.project(feats.set_index("id"))
    assert (want["segment"] == 3).any() and not (want["segment"] == 1).any()
    got = project_spark(model, spark.createDataFrame(feats), "id").toPandas().set_index("id")
    got = got.loc[want.index]
    assert (got["segment"].to_numpy() == want["segment"].to_numpy()).all()
    assert np.abs(got["segment_probability"] - want["segment_probability"]).max() < 1e-12


@pytest.fixture(scope="module")
def on_spark(demo, spark_ctx, valuation_on_spark):  # type: ignore[no-untyped-def]
    """The activation stage's assignments and audience people computed by Spark, as the
    stage computes them (:func:`customer_activation_spark`, :func:`audience_people_spark`)
    from the valuation stage's Spark frame (as an engine = "spark" run chains them)."""
    from segmentum.activation.stage import _driver_tables

    _, run = demo
    spark_ctx.results.add("valuation", valuation_on_spark)
    ca = run.outcomes["activation"].result.customers
    tables = _driver_tables(spark_ctx)
    got = customer_activation_spark(
        spark_ctx, ca.analysis_date, config=ca.config, offers=tables.get("offers"),
        responses=tables.get("responses"), offers_label=tables.get("offers_label", "offers"),
        uplift=ca.uplift,
    )  # fmt: skip
    assert got.spark is not None
    people = audience_people_spark(spark_ctx, got.spark, ca.config)
    return got.spark.select("customer_id", *ASSIGNMENT_COLUMNS).toPandas(), people


def test_stages_control_and_offers_identical(demo, on_spark) -> None:  # type: ignore[no-untyped-def]
    _, run = demo
    act = run.outcomes["activation"].result
    got = on_spark[0]
    want = _sorted(act.customers.assignment_columns(), "customer_id")
    got = _sorted(got, "customer_id")
    assert list(got.columns) == list(want.columns)
    assert (got["customer_id"] == want["customer_id"]).all()
    assert want["stage"].nunique() >= 5  # the demo's customers sit in most stages
    assert (got["stage"].to_numpy() == want["stage"].to_numpy()).all()
    assert (got["control"].to_numpy(dtype=bool) == want["control"].to_numpy(dtype=bool)).all()
    assert 0 < want["control"].sum() < len(want)
    assert (_text(got["next_best_offer"]) == _text(want["next_best_offer"])).all()
    assert want["next_best_offer"].nunique() >= 3
    ev_w = want["offer_expected_value"].to_numpy(dtype=float)
    ev_g = got["offer_expected_value"].to_numpy(dtype=float)
    assert (np.isnan(ev_w) == np.isnan(ev_g)).all()
    assert np.nanmax(np.abs(ev_w - ev_g)) < 1e-9


def test_audience_files_have_the_duckdb_rows(demo, on_spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, run = demo
    people = on_spark[1]
    market = run.outcomes["activation"].result.market
    cfg = market.config
    out = write_audiences_spark(
        tmp_path / "audiences", people,
        columns=[c for c in cfg.audience_columns if c != "customer_id"],
        segment_names=market.segment_names, xlsx=False,
    )  # fmt: skip
    duck = run.run_dir / "audiences"
    listed = json.loads((duck / "manifest.json").read_text(encoding="utf-8"))["files"]
    kinds = ("segment", "segment_stage", "offer", "control")  # the kit adds trigger files
    csvs = sorted(
        duck / f["path"] for f in listed if f["path"].endswith(".csv") and f["kind"] in kinds
    )
    assert len(csvs) > 20
    spark_names = {f["path"] for f in out.files}
    assert spark_names == {p.stem for p in csvs}
    for path in csvs:
        want = pd.read_csv(path, dtype=str, keep_default_na=False)
        parts = sorted((tmp_path / "audiences" / path.stem).glob("part-*.csv"))
        got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts])
        assert list(got.columns) == list(want.columns), path.name
        key = list(want.columns)
        pd.testing.assert_frame_equal(
            _sorted(got, key[0])[key].sort_values(key, ignore_index=True),
            want.sort_values(key, ignore_index=True),
            obj=path.name,
        )
    manifest = {f["path"]: f for f in out.files}
    assert manifest["control"]["rows"] == int(run.assignments["control"].fillna(False).sum())


def test_audiences_neutralise_formulas_as_duckdb(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    people = pd.DataFrame(
        {"customer_id": ["=1+1", "c2", "c3", "@x"], "segment": [1, 1, 2, 2],
         "email": ['=HYPERLINK("http://x","y")', "a@b.c", "+44 1", "-5"],
         "stage": ["new", "-lost", "new", "new"], "offer": ["o1", None, "=o2", "o1"],
         "expected_value": [1.5, np.nan, 2.0, 0.25], "control": [False, False, False, True]}
    )  # fmt: skip
    duck = write_audiences(tmp_path / "duck", people, columns=["email"], xlsx=False)
    sp = write_audiences_spark(
        tmp_path / "spark", spark.createDataFrame(people), columns=["email"], xlsx=False
    )
    assert {f["path"].removesuffix(".csv") for f in duck.files} == {f["path"] for f in sp.files}
    assert "segment_1_lost" in {f["path"] for f in sp.files}  # the slug of "-lost"
    for f in duck.files:
        want = pd.read_csv(tmp_path / "duck" / f["path"], dtype=str, keep_default_na=False)
        folder = tmp_path / "spark" / f["path"].removesuffix(".csv")
        got = pd.concat(
            [pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("part-*")]
        )
        key = list(want.columns)
        pd.testing.assert_frame_equal(
            got[key].sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
        )
    seg1 = pd.concat(
        pd.read_csv(p, dtype=str) for p in (tmp_path / "spark/segment_1").glob("*.csv")
    )
    assert '\'=HYPERLINK("http://x","y")' in set(seg1["email"])
    assert "'=1+1" in set(seg1["customer_id"])
    assert sp.summary() == duck.summary()


def _planted_offers() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """60 customers in two segments. Offers A and B have the same expected value (a tie,
    B only for segment 2) and A a binding limit of 7; D, worth most to loyal customers, is
    refused three times in the window by some (banned); C is everyone's fallback."""
    rng = np.random.default_rng(5)
    n = 60
    customers = pd.DataFrame(
        {"customer_id": [f"k{i:03d}" for i in range(n)], "segment": np.repeat([1, 2], n // 2),
         "stage": np.where(np.arange(n) % 3 == 0, "new", "loyal")}
    )  # fmt: skip
    raw = pd.DataFrame(
        {"offer_id": ["A", "B", "C", "D"], "value": [10.0, 10.0, 4.0, 30.0],
         "cost": [1.0, 1.0, 0.5, 1.0], "segments": [None, "2", None, None],
         "stages": [None, None, None, "loyal"], "limit": [7, np.nan, np.nan, np.nan]}
    )  # fmt: skip
    offers = read_offers(raw, known_segments=[1, 2], known_stages=["new", "loyal"])
    p = {"A": 0.3, "B": 0.3, "C": 0.5, "D": 0.2}  # EV: A = B = 2, C = 1.5, D = 5
    acceptance = pd.DataFrame(
        [(s, t, o, q) for s in (1, 2) for t in ("new", "loyal") for o, q in p.items()],
        columns=["segment", "stage", "offer_id", "p_accept"],
    )
    history = [
        (customers["customer_id"][i], "D", False, int(rng.integers(1, 170)))
        for i in range(n)
        for _ in range(int(rng.integers(0, 5)))
    ]
    responses = pd.DataFrame(history, columns=["customer_id", "offer_id", "accepted", "days"])
    responses["timestamp"] = pd.Timestamp("2025-07-01") - pd.to_timedelta(
        responses.pop("days"), "D"
    )
    return customers, offers, acceptance, responses


@pytest.mark.parametrize("seed", [0, 11])
def test_planted_tie_limit_and_refusals_match_pandas(spark, seed: int) -> None:  # type: ignore[no-untyped-def]
    customers, offers, acceptance, responses = _planted_offers()
    policy = ContactPolicy(suppress_after_refusals=3, max_offers_per_period=2)
    control = control_group(customers["customer_id"], seed, 0.1, strata=customers["segment"])
    date = pd.Timestamp("2025-07-01")
    want = next_best_offer(
        customers, offers, acceptance, control=control, responses=responses,
        analysis_date=date, policy=policy, tie_break=hash_uniform(customers["customer_id"], seed + 1),
    )  # fmt: skip
    sc = spark.createDataFrame(customers.assign(control=control))
    got = next_best_offer_spark(
        sc, offers, acceptance, seed=seed, responses=spark.createDataFrame(responses),
        analysis_date=date, policy=policy,
    ).toPandas()  # fmt: skip
    got = got.set_index("customer_id").loc[want["customer_id"]].reset_index()
    assert (want["next_best_offer"] == "A").sum() == 7  # the limit binds
    assert (want["next_best_offer"] == "B").sum() > 0  # B: the tie lost to A in segment 2
    assert (want["no_offer_reason"] == "control").sum() == control.sum() > 0
    assert (want["no_offer_reason"] == "contact limit").sum() > 0
    loyal_free = (customers["stage"] == "loyal") & ~control & want["no_offer_reason"].isna()
    assert (want.loc[loyal_free, "next_best_offer"] != "D").sum() > 0  # D banned for some
    for col in ("next_best_offer", "no_offer_reason"):
        assert (_text(got[col]) == _text(want[col])).all(), col
    for col in ("offer_expected_value", "offer_p_accept"):
        w, g = want[col].to_numpy(dtype=float), got[col].to_numpy(dtype=float)
        assert (np.isnan(w) == np.isnan(g)).all()
        assert np.nanmax(np.abs(w - g)) < 1e-12


def test_limit_keepers_follow_the_hash(spark) -> None:  # type: ignore[no-untyped-def]
    """Who keeps the limited offer is decided by the hash: another seed keeps others."""
    customers, offers, acceptance, _ = _planted_offers()
    kept = []
    for seed in (0, 11):
        got = next_best_offer_spark(
            spark.createDataFrame(customers), offers, acceptance, seed=seed
        ).toPandas()
        kept.append(set(got.loc[got["next_best_offer"] == "A", "customer_id"]))
        assert len(kept[-1]) == 7
    assert kept[0] != kept[1]


def test_control_group_rounds_half_to_even(spark) -> None:  # type: ignore[no-untyped-def]
    # sizes 10, 30 and 50 at share 0.05: 0.5, 1.5, 2.5 people -> 0, 2, 2 (NumPy's rint)
    ids = [f"p{i}" for i in range(90)]
    strata = np.repeat([1, 2, 3], [10, 30, 50])
    want = control_group(ids, 3, 0.05, strata=strata)
    frame = spark.createDataFrame(pd.DataFrame({"customer_id": ids, "segment": strata}))
    got = control_group_spark(frame, 3, 0.05).toPandas().set_index("customer_id").loc[ids]
    assert [int(want[strata == s].sum()) for s in (1, 2, 3)] == [0, 2, 2]
    assert (got["control"].to_numpy(dtype=bool) == want).all()


def test_projection_missing_feature_is_named(spark) -> None:  # type: ignore[no-untyped-def]
    model = ProjectionModel((1, 2), ("x",), np.zeros(1), np.ones((2, 1)), np.zeros(2), {})
    with pytest.raises(ValueError, match=r"lack column\(s\) \['x'\]"):
        project_spark(model, spark.createDataFrame(pd.DataFrame({"id": ["a"]})), "id")


def test_spark_writes_audience_parts_with_a_manifest(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "segment": [1, 1, 2], "control": [False, True, False]}
    )
    out = write_audiences_spark(tmp_path, spark.createDataFrame(people), bom=True)
    entry = {f["path"]: f for f in out.files}
    assert entry["segment_1"]["rows"] == 1 and entry["control"]["rows"] == 1
    for f in out.files:
        if f.get("format") == "csv":
            for part in f["parts"]:
                assert (tmp_path / part["path"]).read_bytes().startswith("\ufeff".encode())
    assert not list(tmp_path.rglob("*.crc")) and not list(tmp_path.rglob("_SUCCESS"))
    assert (tmp_path / "manifest.json").is_file()


def test_clv_uplift_matches_pandas(spark) -> None:  # type: ignore[no-untyped-def]
    """Per-customer CLV uplift of two offers (customers without a row: 0), on both engines."""
    customers, offers, acceptance, _ = _planted_offers()
    rng = np.random.default_rng(1)
    ids = customers["customer_id"]
    up = pd.DataFrame({"customer_id": ids, "C": rng.normal(0, 3, len(ids)),
                       "A": rng.normal(0, 1, len(ids))}).iloc[3:]  # fmt: skip
    matrix = np.zeros((len(ids), len(offers)))
    matrix[3:, 2], matrix[3:, 0] = up["C"], up["A"]
    want = next_best_offer(
        customers, offers, acceptance, clv_uplift=matrix, tie_break=hash_uniform(ids, 1)
    )
    got = next_best_offer_spark(
        spark.createDataFrame(customers), offers, acceptance, seed=0,
        uplift=spark.createDataFrame(up),
    ).toPandas()  # fmt: skip
    got = got.set_index("customer_id").loc[want["customer_id"]].reset_index()
    assert (want["next_best_offer"] == "C").sum() > 0  # the uplift moves some to C
    assert (_text(got["next_best_offer"]) == _text(want["next_best_offer"])).all()
    for col in ("offer_expected_value", "offer_clv_uplift"):
        w, g = want[col].to_numpy(dtype=float), got[col].to_numpy(dtype=float)
        assert (np.isnan(w) == np.isnan(g)).all()
        assert np.nanmax(np.abs(w - g)) < 1e-12


def _planted_events(customers: pd.DataFrame) -> pd.DataFrame:
    """Visits and quotes of the planted customers around 2025-07-01 (some after it)."""
    rng = np.random.default_rng(8)
    rows = [
        (cid, kind, pd.Timestamp("2025-07-01") - pd.Timedelta(hours=int(rng.integers(-48, 300))))
        for cid in customers["customer_id"]
        for kind in rng.choice(["visit", "quote", "other"], size=int(rng.integers(0, 8)))
    ]
    return pd.DataFrame(rows, columns=["customer_id", "event_type", "timestamp"])


def test_triggers_in_spark_match_pandas_and_bound_the_firing_rows(spark) -> None:  # type: ignore[no-untyped-def]
    from segmentum.activation.spark_customers import evaluate_triggers_spark
    from segmentum.activation.triggers import TriggerRule, evaluate_triggers

    customers, _, _, _ = _planted_offers()
    customers = customers.assign(control=control_group(customers["customer_id"], 3, 0.2))
    events = _planted_events(customers)
    rules = [
        TriggerRule(id="r1", segment=1, stage="loyal", events=["visit"], within_days=5),
        TriggerRule(id="r2", stage="new", events=["visit", "quote"], min_events=2),
        TriggerRule(id="r3", segment=2, events=["nothing"], within_days=2),
    ]
    cells = pd.DataFrame({"segment": [1], "stage": ["loyal"], "offer": ["A"],
                          "expected_value": [2.5]})  # fmt: skip
    date = pd.Timestamp("2025-07-01")
    want = evaluate_triggers(rules, customers, events, date, segment_stage=cells)
    sc, se = spark.createDataFrame(customers), spark.createDataFrame(events)
    got = evaluate_triggers_spark(rules, sc, se, date, segment_stage=cells)
    assert want.table["customers_firing"].iloc[:2].min() > 1  # the rules fire
    pd.testing.assert_frame_equal(got.table, want.table)
    assert got.summary() == want.summary() and got.warnings == want.warnings
    key = ["rule_id", "customer_id"]
    pd.testing.assert_frame_equal(
        got.firing.sort_values(key, ignore_index=True),
        want.firing.sort_values(key, ignore_index=True),
        check_dtype=False,
    )
    bounded = evaluate_triggers_spark(rules, sc, se, date, segment_stage=cells, max_rows=3)
    assert len(bounded.firing) == 3 and bounded.n_firing == want.n_firing
    assert "first 3 of" in bounded.warnings[-1]


def test_acceptance_and_counts_from_spark_aggregates_match_pandas(spark) -> None:  # type: ignore[no-untyped-def]
    """The acceptance estimates from the responses counted in Spark, and the cell table
    counted in Spark, give the pandas figures (planted: a logged odd stage, an unknown
    customer)."""
    from segmentum.activation.customers import (
        _responses_with_cells,
        cell_table,
        ordered_cells,
        segment_stage_table,
        tally,
    )
    from segmentum.activation.offers import acceptance_estimates, acceptance_from_counts
    from segmentum.activation.spark_customers import cell_table_spark, response_counts_spark

    customers, offers, _, responses = _planted_offers()
    labels = ["new", "loyal"]
    r = responses.assign(accepted=np.arange(len(responses)) % 3 == 0, stage="loyal")
    r.loc[r.index[:4], "stage"] = "vip"  # a stage the rules do not have
    r.loc[r.index[4], "customer_id"] = "nobody"
    w_warn: list[str] = []
    cells = ordered_cells(customers, labels)
    want = acceptance_estimates(_responses_with_cells(r, customers, labels, w_warn), offers, cells)
    g_warn: list[str] = []
    counts = response_counts_spark(
        spark.createDataFrame(r), spark.createDataFrame(customers), labels, g_warn
    )
    got = acceptance_from_counts(counts, offers, cells)
    pd.testing.assert_frame_equal(got, want)
    assert g_warn == w_warn and len(w_warn) == 2
    c = customers.assign(
        control=control_group(customers["customer_id"], 0, 0.1),
        next_best_offer=np.where(np.arange(len(customers)) % 4 == 0, None, "A"),
        no_offer_reason=np.where(np.arange(len(customers)) % 4 == 0, "contact limit", None),
    )
    c["offer_expected_value"] = np.where(c["next_best_offer"].notna(), 2.0, np.nan)
    value = pd.Series(np.linspace(0, 50, len(c)))
    w_cells = cell_table(c, value)
    g_cells = cell_table_spark(
        spark.createDataFrame(c),
        spark.createDataFrame(pd.DataFrame({"customer_id": c["customer_id"], "_value": value})),
    )
    want_k, got_k = tally(w_cells, labels), tally(g_cells, labels)
    assert got_k.stages == want_k.stages and got_k.no_offer == want_k.no_offer
    assert got_k.control == want_k.control > 0 and got_k.chosen() == want_k.chosen()
    pd.testing.assert_frame_equal(got_k.by_segment, want_k.by_segment)
    pd.testing.assert_frame_equal(
        segment_stage_table(g_cells, labels, True), segment_stage_table(w_cells, labels, True)
    )


def test_a_missing_audience_column_is_named_on_both_writers(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = pd.DataFrame({"customer_id": ["a", "b"], "segment": [1, 2]})
    message = r"column\(s\) \['email'\] not found \(give them in the customers table"
    with pytest.raises(ValueError, match=message):
        write_audiences(tmp_path / "duck", people, columns=["email"], xlsx=False)
    with pytest.raises(ValueError, match=message):
        write_audiences_spark(
            tmp_path / "spark", spark.createDataFrame(people), columns=["email"], xlsx=False
        )
    assert not (tmp_path / "spark").exists()  # checked before anything is written
