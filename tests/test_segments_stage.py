"""The segments stage: run_segments, matching to a previous run, the report section."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from segmentum.report.section import Section
from segmentum.segments.stage import SegmentsConfig, SegmentsResult, report_section, run_segments


@pytest.fixture(scope="module")
def survey(shared_data) -> pd.DataFrame:
    m = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    m.insert(0, "rid", [f"r{i}" for i in range(len(m))])
    m["w"] = np.where(m["Gender"] == "Female", 0.9, 1.1)
    return m


BASIS = ["yummy", "convenient", "spicy", "fattening", "greasy", "fast", "cheap", "tasty",
         "expensive", "healthy", "disgusting"]  # fmt: skip


@pytest.fixture(scope="module")
def result(survey) -> SegmentsResult:
    cfg = SegmentsConfig(k_range=(2, 5), n_boot=8, n_init=5, standardize=False)
    return run_segments(survey, id_column="rid", basis=BASIS, weights="w", config=cfg)


def test_mcdonalds_stability_analysis_runs(result, survey):
    sel = result.selection
    assert sel["k"].tolist() == [2, 3, 4, 5]
    assert sel["stability_median"].between(0, 1).all()
    k = result.summary["k"]
    assert int(sel.loc[sel["recommended"], "k"].iloc[0]) == k
    a = result.assignments
    assert list(a.columns) == ["rid", "segment", "segment_probability"]
    assert a["rid"].tolist() == survey["rid"].tolist()
    assert sorted(a["segment"].unique()) == list(range(1, k + 1))
    assert a["segment_probability"].between(0, 1).all()
    assert result.centroids.shape == (k, 11)
    assert result.centroids.to_numpy().min() >= 0 and result.centroids.to_numpy().max() <= 1
    assert result.recommendation.startswith(f"k = {k}:")


def test_summary_is_json_and_model_scores(result, survey):
    text = json.dumps(result.summary)
    back = json.loads(text)
    # segments.json carries the verdict and its evidence ("segmentation" key of the run)
    assert back["structure"] in ("natural", "reproducible", "constructive")
    ev = back["evidence"]
    assert ev["k"] == back["k"] and len(ev["per_k"]) == len(result.selection)
    assert set(ev["segments"]) == set(back["sizes"])
    assert ev["choice"]["k"] == back["k"]
    assert back["k"] == result.summary["k"]
    assert abs(sum(v["weighted_share"] for v in back["sizes"].values()) - 1) < 1e-9
    model = pickle.loads(pickle.dumps(result.model))
    np.testing.assert_array_equal(model.predict(survey), result.assignments["segment"])
    proba = model.predict_proba(survey.head(20))
    assert list(proba.columns) == list(range(1, result.summary["k"] + 1))


def test_previous_run_keeps_segment_numbers(survey):
    # a different seed finds the same segments, perhaps numbered differently; matching to
    # the previous run's centroids keeps segment 3 as segment 3. (k = 3 pinned: the chosen
    # k = 4 has two local optima a few restarts may land on either way.)
    k = 3
    first = SegmentsConfig(n_segments=k, n_boot=0, n_init=20, standardize=False, random_state=0)
    result = run_segments(survey, id_column="rid", basis=BASIS, weights="w", config=first)
    cfg = SegmentsConfig(n_segments=k, n_boot=0, n_init=20, standardize=False, random_state=9)
    again = run_segments(
        survey,
        id_column="rid",
        basis=BASIS,
        weights="w",
        config=cfg,
        previous={"centroids": result.centroids},
    )
    agree = (again.assignments["segment"] == result.assignments["segment"]).mean()
    assert agree > 0.95
    assert again.summary["match"]["mean_similarity"] > 0.9
    shuffled = result.assignments.assign(
        segment=result.assignments["segment"].map({s: (s % k) + 1 for s in range(1, k + 1)})
    )
    third = run_segments(
        survey, id_column="rid", basis=BASIS, weights="w", config=cfg,
        previous={"assignments": shuffled},
    )  # fmt: skip
    assert (third.assignments["segment"] == shuffled["segment"]).mean() > 0.95


def test_report_section(result):
    sec = report_section(result)
    assert isinstance(sec, Section)
    assert sec.key == "segments"
    # the verdict leads, in words, then the reason for k
    assert sec.summary.startswith(result.verdict) and result.recommendation in sec.summary
    assert result.verdict.startswith("These data have")
    kinds = [b.kind for b in sec.blocks]
    # stability against its null band first (its medians and quartiles: no box plot of the
    # same numbers besides, issue 15), segment stability, fit indices, the heat map
    assert kinds.count("figure") == 4
    heat = [b for b in sec.blocks if b.kind == "figure" and b.unless]
    assert [b.unless for b in heat] == ["profiles"]  # drawn by the profiles section instead
    assert "table" in kinds


def test_report_warns_small_and_unstable_segments(survey):
    cfg = SegmentsConfig(n_segments=8, k_range=(7, 8), n_boot=4, n_init=3, min_segment_share=0.12)
    res = run_segments(survey, id_column="rid", basis=BASIS, config=cfg)
    assert res.summary["k"] == 8  # pinned: never changed
    sec = report_section(res)
    assert any("under the 12%" in w for w in sec.warnings)


def test_lca_stage_with_missing_values(shared_data):
    df = pd.read_csv(shared_data / "polca" / "election.csv").iloc[:400, :12]
    df = df[df.notna().any(axis=1)].reset_index(drop=True)
    df.insert(0, "id", range(len(df)))
    cfg = SegmentsConfig(method="lca", n_segments=3, n_boot=0, n_init=10)
    res = run_segments(df, id_column="id", basis=list(df.columns[1:]), config=cfg)
    assert res.summary["k"] == 3
    assert res.summary["log_likelihood"] < 0
    assert not any("imputed" in w for w in res.warnings)  # LCA handles missing answers
    assert res.centroids.shape[0] == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id_column": "nope"}, "id column 'nope'"),
        ({"basis": ["yummy", "nope"]}, "not found"),
        ({"weights": "nope"}, "weights column"),
    ],
)
def test_stage_errors(survey, kwargs, match):
    args = {"id_column": "rid", "basis": BASIS} | kwargs
    with pytest.raises(ValueError, match=match):
        run_segments(survey, config=SegmentsConfig(n_boot=0, n_segments=2), **args)


def test_duplicate_ids(survey):
    bad = survey.assign(rid="same")
    with pytest.raises(ValueError, match="duplicated id 'same'"):
        run_segments(bad, id_column="rid", basis=BASIS)


def test_previous_run_on_another_basis_is_not_matched_but_warned():
    import numpy as np
    import pandas as pd

    from segmentum.segments import run_segments
    from segmentum.segments.stage import SegmentsConfig

    rng = np.random.default_rng(0)
    survey = pd.DataFrame(rng.integers(1, 8, size=(120, 4)), columns=["a", "b", "c", "d"])
    survey.insert(0, "rid", [f"R{i}" for i in range(120)])
    previous = {
        "centroids": pd.DataFrame(
            {"x": [1.0, 2.0], "y": [3.0, 1.0]}, index=pd.Index([1, 2], name="segment")
        )
    }
    result = run_segments(
        survey,
        id_column="rid",
        basis=["a", "b", "c", "d"],
        config=SegmentsConfig(n_segments=2, n_boot=0),
        previous=previous,
    )
    assert result.match is None
    assert any("not matched to the previous run" in w for w in result.warnings)
