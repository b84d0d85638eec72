"""Projection, segment valuation and priorities: planted truth on the demo and on synthetic
tables whose answers are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from segmentum.demo import make_market
from segmentum.valuation import (
    ValuationConfig,
    adjusted_shares,
    competitiveness,
    customer_features,
    fit_projection,
    prioritise,
    priority_sentence,
    segment_valuation,
)
from segmentum.valuation.plots import evaluation_plot
from segmentum.value import run_value


@pytest.fixture(scope="module")
def market():
    m = make_market(seed=0, n_customers=4000, n_respondents=1200)
    value = run_value(
        m.transactions,
        customer_id="customer_id",
        timestamp="date",
        amount="amount",
        margin="margin",
        channel="channel",
        events=m.events,
        customers=m.customers,
        analysis_date=m.analysis_date,
    )
    names = sorted(m.truth["segment"].unique())
    code = {n: i + 1 for i, n in enumerate(names)}
    cust_truth = m.truth.dropna(subset=["customer_id"]).set_index("customer_id")["segment"]
    truth = cust_truth.map(code).astype(int)
    feats = customer_features(
        m.customers.drop(columns=["respondent_id"]),
        id_column="customer_id",
        per_customer=value.per_customer,
        events=m.events,
        event_type="event_type",
        transactions=m.transactions,
        mix_columns=["product", "channel"],
    )
    linked = m.survey["customer_id"].dropna()
    return m, value, truth, feats, linked, code


@pytest.fixture(scope="module")
def projection(market):
    _, _, truth, feats, linked, _ = market
    return fit_projection(feats, truth.loc[linked])


def test_features_one_row_per_customer(market) -> None:
    m, _, _, feats, _, _ = market
    assert len(feats) == len(m.customers) and feats.index.is_unique
    assert isinstance(feats["acquisition_channel"].dtype, pd.CategoricalDtype)
    assert "events_purchase" in feats or any(c.startswith("events_") for c in feats)
    mix = feats[[c for c in feats if c.startswith("mix_product=")]]
    total = mix.sum(axis=1)
    buyers = total.index.isin(m.transactions["customer_id"].unique())
    assert total[buyers].to_numpy() == pytest.approx(1.0)  # shares of each buyer's lines
    assert (total[~buyers] == 0).all()


def test_projection_beats_chance_and_sizes_cover_planted(market, projection) -> None:
    _, _, truth, feats, linked, _ = market
    p = projection
    assert p.n_train == len(linked)
    assert p.informative and p.accuracy > 2 * p.chance
    assert "tells the segments apart" in p.verdict
    assert p.confusion.to_numpy().sum() == p.n_train
    assert np.trace(p.confusion.to_numpy()) / p.n_train == pytest.approx(p.accuracy)
    cal = p.calibration
    assert cal["n"].sum() == p.n_train
    ece = float((cal["n"] * abs(cal["mean_probability"] - cal["accuracy"])).sum() / p.n_train)
    assert p.ece == pytest.approx(ece)
    assert p.ece < 0.1  # held-out probabilities roughly calibrated
    proj = p.model.project(feats)
    assert list(proj.columns) == ["segment", "segment_probability"]
    assert proj.index.equals(feats.index)
    adj = p.adjusted_shares(proj["segment"].to_numpy())
    planted = truth.loc[feats.index].value_counts(normalize=True).reindex(adj.index)
    assert ((adj["low"] <= planted) & (planted <= adj["high"])).all(), adj.assign(true=planted)
    assert adj["adjusted_share"].sum() == pytest.approx(1.0)
    summary = p.summary()
    assert {"accuracy", "chance", "n_train"} <= set(summary)


def test_projection_model_matches_its_cv_free_refit(market, projection) -> None:
    """The plain-number model equals scikit-learn's predictions on the same design."""
    _, _, truth, feats, linked, _ = market
    a = projection.model.predict_proba(feats.loc[linked])
    assert a.sum(axis=1) == pytest.approx(1.0)
    agree = (np.asarray(projection.model.segments)[a.argmax(axis=1)] == truth.loc[linked]).mean()
    assert agree >= projection.accuracy - 0.02  # training fit at least the held-out one


def test_projection_says_so_when_the_database_cannot_tell() -> None:
    rng = np.random.default_rng(0)
    n = 1500
    feats = pd.DataFrame(
        {
            "age": rng.normal(45, 12, n),
            "region": pd.Categorical(rng.choice(["N", "S", "E"], n)),
        },
        index=pd.Index([f"C{i}" for i in range(n)], name="customer_id"),
    )
    labels = pd.Series(rng.integers(1, 5, n), index=feats.index).iloc[:600]
    p = fit_projection(feats, labels)
    assert not p.informative
    assert "cannot tell the segments apart" in p.verdict
    # the p-value as the report writes it ("p = 0.412" or "p < 0.001"), never "4.1e-01"
    assert re.search(r"\(p (= [01]\.\d{3}|< 0\.001)\)", p.verdict), p.verdict


def test_unknown_labelled_customer_is_named_as_a_plain_number() -> None:
    feats = pd.DataFrame({"x": np.arange(10.0)}, index=np.arange(10))
    labels = pd.Series([1, 2] * 3, index=[0, 1, 2, 3, 4, 77])
    with pytest.raises(ValueError, match=r"1 labelled customers are not in the features") as e:
        fit_projection(feats, labels)
    assert str(e.value).endswith("(first 77)")  # not np.int64(77)


def test_adjusted_shares_recover_planted_mix() -> None:
    """Classify-and-count is biased by misclassification; the adjusted estimate is not."""
    rng = np.random.default_rng(1)
    M = np.array([[0.8, 0.15, 0.05], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    held_true = rng.choice(3, 3000, p=[0.3, 0.3, 0.4])
    held_pred = np.array([rng.choice(3, p=M[t]) for t in held_true])
    conf = pd.crosstab(pd.Series(held_true + 1), pd.Series(held_pred + 1))
    pop_true = rng.choice(3, 50_000, p=[0.6, 0.3, 0.1])
    pop_pred = np.array([rng.choice(3, p=M[t]) for t in pop_true]) + 1
    out = adjusted_shares(conf, pop_pred, n_boot=100)
    assert abs(out.loc[1, "projected_share"] - 0.6) > 0.04  # the raw count is off (0.55)
    assert out["adjusted_share"].to_numpy() == pytest.approx([0.6, 0.3, 0.1], abs=0.025)
    assert ((out["low"] <= [0.6, 0.3, 0.1]) & (out["high"] >= [0.6, 0.3, 0.1])).all()


def _planted_base() -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Three segments with known value per head and known growth (+50 %, 0 %, -50 %)."""
    rng = np.random.default_rng(2)
    n = 900
    ids = np.array([f"C{i:04d}" for i in range(n)])
    seg = pd.Series(np.repeat([1, 2, 3], [500, 300, 100]), index=ids)
    per_head = {1: 100.0, 2: 300.0, 3: 50.0}
    pc = pd.DataFrame(
        {
            "customer_id": ids,
            "revenue": seg.map(per_head).to_numpy(),
            "margin": seg.map(per_head).to_numpy() * 0.3,
            "clv": seg.map(per_head).to_numpy() * 2,
            "cost_to_serve": seg.map({1: 10.0, 2: 20.0, 3: 40.0}).to_numpy(),
        }
    )
    pc["profit"] = pc["margin"] - pc["cost_to_serve"]
    growth = {1: 1.5, 2: 1.0, 3: 0.5}
    rows = []
    for cid, s in seg.items():
        for year, amt in ((2023, 10.0), (2024, 10.0 * growth[s])):
            day = pd.Timestamp(f"{year}-03-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
            rows.append((cid, day, amt))
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    tx.loc[len(tx)] = ("C0000", pd.Timestamp("2024-12-31"), 0.0)
    tx.loc[len(tx)] = ("C0000", pd.Timestamp("2023-01-01"), 0.0)
    return seg, pc, tx


def test_segment_valuation_planted_values_and_growth() -> None:
    seg, pc, tx = _planted_base()
    v = segment_valuation(
        seg, pc, id_column="customer_id", transactions=tx, timestamp="date", amount="amount",
        population_shares={1: 0.5, 2: 0.3, 3: 0.2},
    )  # fmt: skip
    assert v["customers"].tolist() == [500, 300, 100]
    assert v["revenue"].tolist() == pytest.approx([50_000, 90_000, 5_000])
    assert v["clv_per_head"].tolist() == pytest.approx([200, 600, 100])
    assert v["profit_per_head"].tolist() == pytest.approx([20, 70, -25])
    assert v["growth"].tolist() == pytest.approx([0.5, 0.0, -0.5])
    assert v["population_share"].tolist() == [0.5, 0.3, 0.2]
    assert v["value_share"].sum() == pytest.approx(1.0)
    assert v.loc[2, "value_index"] == pytest.approx((180_000 / 290_000) / (300 / 900))


def test_priorities_rank_knock_out_and_robustness() -> None:
    seg, pc, tx = _planted_base()
    v = segment_valuation(
        seg, pc, id_column="customer_id", transactions=tx, timestamp="date", amount="amount",
        population_shares={1: 0.55, 2: 0.41, 3: 0.04},
    )  # fmt: skip
    cfg = ValuationConfig(weights={"clv_per_head": 0.6, "size": 0.4}, n_draws=4000)
    pr = prioritise(v, cfg)
    t = pr.table
    assert t.loc[3, "knocked_out"] and "4.0% of the population" in t.loc[3, "knock_out_reason"]
    assert t.loc[3, "rank"] == 3 and t.loc[3, "p_first"] == 0 and t.loc[3, "p_top2"] == 0
    assert t.loc[2, "rank"] == 1  # CLV per head 600 vs 200 dominates at weight 0.6
    assert t["p_first"].sum() == pytest.approx(1.0)
    assert t["p_top2"].sum() == pytest.approx(2.0)
    assert 0.5 < t.loc[2, "p_first"] < 1.0  # the size weight sometimes puts 1 first
    assert pr.dropped == []
    # tight weights: the given ranking almost always wins; loose weights: less so
    tight = prioritise(v, cfg.model_copy(update={"concentration": 10_000.0})).table
    loose = prioritise(v, cfg.model_copy(update={"concentration": 2.0})).table
    assert tight.loc[2, "p_first"] > 0.99 > loose.loc[2, "p_first"]
    entry = pr.priority()[2]
    assert set(entry) >= {"rank", "attractiveness", "competitiveness", "knocked_out",
                          "p_first", "p_top2"}  # fmt: skip
    assert entry["rank"] == 1 and entry["competitiveness"] is None
    sentence = priority_sentence(pr, {1: "Agent lovers", 2: "Coverage maximisers"})
    assert sentence.startswith("Target 2 (Coverage maximisers) and 1 (Agent lovers)")
    assert "set aside 3" in sentence
    fig = evaluation_plot(pr.table, {2: "Coverage maximisers"})
    assert list(fig.data[0].marker.size) == pytest.approx(t["population_share"].tolist())


def test_missing_criterion_data_is_dropped_and_named() -> None:
    seg, pc, _ = _planted_base()
    v = segment_valuation(seg, pc, id_column="customer_id")
    pr = prioritise(v, ValuationConfig())
    assert {"growth", "competitiveness"} <= set(pr.dropped)
    assert sum(pr.weights.values()) == pytest.approx(1.0)


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations([0, 1, 2, 3]))
def test_ranking_ignores_row_order(perm: list[int]) -> None:
    v = pd.DataFrame(
        {
            "population_share": [0.4, 0.3, 0.2, 0.1],
            "clv_per_head": [100.0, 400.0, 250.0, 900.0],
            "profit_per_head": [10.0, 30.0, 50.0, 5.0],
            "customers": [400, 300, 200, 100],
        },
        index=pd.Index([1, 2, 3, 4], name="segment"),
    )
    a = prioritise(v).table.sort_index()
    b = prioritise(v.iloc[perm]).table.sort_index()
    assert a["rank"].tolist() == b["rank"].tolist()
    assert a["score"].to_numpy() == pytest.approx(b["score"].to_numpy())


def test_competitiveness_on_demo_ratings(market) -> None:
    m, _, _, _, _, code = market
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    segs = truth.map(code)
    needs = {code[name]: cols for name, cols in m.defining_needs.items()}
    brands = sorted(m.competitor_ratings["brand"].unique())
    comp = competitiveness(m.competitor_ratings, segs, needs, our_brand=brands[0])
    assert set(comp.index) == set(code.values())
    assert (comp["best_competitor"] != brands[0]).all()
    # by hand for one segment
    s = 1
    r = m.competitor_ratings
    sub = r[r["respondent_id"].map(segs).eq(s) & r["need"].isin(needs[s])]
    means = sub.groupby("brand")["rating"].mean()
    assert comp.loc[s, "competitiveness"] == pytest.approx(
        means[brands[0]] - means.drop(brands[0]).max()
    )
    with pytest.raises(ValueError, match="valid"):
        competitiveness(m.competitor_ratings, segs, needs, our_brand="Nobody")


def test_config_forbids_unknown_keys_and_bounds() -> None:
    with pytest.raises(ValidationError):
        ValuationConfig(wieghts={"size": 1.0})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unknown criteria"):
        ValuationConfig(weights={"sise": 1.0})
    with pytest.raises(ValidationError):
        ValuationConfig(min_population_share=1.5)
    with pytest.raises(ValidationError):
        ValuationConfig(typing_method="forest")


def test_project_equals_predict_proba_with_gaps_and_unseen_levels(market, projection) -> None:
    _, _, _, feats, _, _ = market
    f = feats.head(500).copy()
    f.iloc[:20, 0] = np.nan  # missing numeric: the fill value
    f["acquisition_channel"] = f["acquisition_channel"].astype(object)
    f.iloc[20:40, f.columns.get_loc("acquisition_channel")] = "carrier pigeon"  # unseen level
    p = projection.model.predict_proba(f)
    out = projection.model.project(f)
    assert (out["segment"].to_numpy() == np.asarray(projection.model.segments)[p.argmax(1)]).all()
    assert out["segment_probability"].to_numpy() == pytest.approx(p.max(axis=1))
    assert np.isfinite(p).all()


def test_valuation_table_of_the_project_file_is_checked() -> None:
    from segmentum.data.errors import ProjectError
    from segmentum.flow import stage_settings

    with pytest.raises(ProjectError, match="our_brand") as exc:
        stage_settings(ValuationConfig, {"our_brnd": "Acme"}, "valuation")
    assert exc.value.exit_code == 2
    cfg = stage_settings(ValuationConfig, {"our_brand": "Acme", "n_draws": 10}, "valuation")
    assert cfg.our_brand == "Acme" and cfg.n_draws == 10
