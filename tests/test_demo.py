"""The demo market generator: contract, determinism, planted structure and speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segmentum.demo import (
    NEED_COLUMNS,
    ROLES,
    SEGMENT_NAMES,
    Market,
    defining_needs,
    make_market,
    write_market,
)

N_CUSTOMERS = 5_000
TABLES = ("survey", "customers", "transactions", "events", "competitor_ratings", "truth")


@pytest.fixture(scope="module")
def market() -> Market:
    """Default seed and survey size, few customers (the survey does not depend on them)."""
    return make_market(seed=0, n_customers=N_CUSTOMERS)


@pytest.fixture(scope="module")
def segment_of(market: Market) -> pd.Series:
    """Planted segment by customer id."""
    linked = market.truth.dropna(subset=["customer_id"])
    return linked.set_index("customer_id")["segment"]


def _need_matrix(market: Market) -> tuple[np.ndarray, np.ndarray]:
    needs = market.survey[list(NEED_COLUMNS)].to_numpy(dtype=float)
    truth = market.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    labels = truth.loc[market.survey["respondent_id"]].to_numpy()
    return needs, labels


def _kmeans_labels(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)


# --- contract and determinism -----------------------------------------------------------
def test_same_seed_gives_identical_frames() -> None:
    a = make_market(seed=3, n_customers=1_500, n_respondents=400)
    b = make_market(seed=3, n_customers=1_500, n_respondents=400)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.white_space_need == b.white_space_need
    assert a.analysis_date == b.analysis_date
    assert a.seed == 3


def test_different_seeds_give_different_frames() -> None:
    a = make_market(seed=1, n_customers=1_500, n_respondents=400)
    b = make_market(seed=2, n_customers=1_500, n_respondents=400)
    assert not a.survey.equals(b.survey)
    assert not a.transactions.equals(b.transactions)
    assert not a.truth.equals(b.truth)


def test_survey_does_not_depend_on_customer_count(market: Market) -> None:
    other = make_market(seed=0, n_customers=800, n_respondents=3_000)
    cols = [c for c in market.survey.columns if c != "customer_id"]
    pd.testing.assert_frame_equal(market.survey[cols], other.survey[cols])


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_bad_sizes_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="n_customers"):
        make_market(n_customers=bad)  # type: ignore[arg-type]


def test_roles_name_existing_columns(market: Market) -> None:
    for table, roles in ROLES.items():
        frame = getattr(market, table)
        for role, value in roles.items():
            cols = value if isinstance(value, list) else [value]
            missing = set(cols) - set(frame.columns)
            assert not missing, f"{table}.{role} names missing columns {missing}"
    assert ROLES["survey"]["basis"] == list(NEED_COLUMNS)


# --- schema, dtypes, ranges ---------------------------------------------------------------
def test_survey_schema(market: Market) -> None:
    s = market.survey
    assert len(s) == 3_000
    assert s["respondent_id"].is_unique
    assert s["respondent_id"].str.fullmatch(r"R\d{6}").all()
    needs = [c for c in s.columns if c.startswith("need_")]
    behaviours = [c for c in s.columns if c.startswith("beh_")]
    assert 20 <= len(needs) <= 30 and needs == list(NEED_COLUMNS)
    assert 4 <= len(behaviours) <= 6
    for c in needs:
        assert s[c].dtype == np.int64 and s[c].between(1, 7).all()
        assert s[c].nunique() >= 5, c
    for c in behaviours:
        assert set(s[c].unique()) <= {0, 1}
    linked = s["customer_id"].notna().mean()
    assert 0.55 <= linked <= 0.65
    w = s["weight"]
    assert w.dtype == np.float64 and abs(w.mean() - 1) < 1e-9
    assert w.min() >= 0.3 - 1e-3 and w.max() <= 3.0 + 1e-3 and w.std() > 0.2
    assert s["age"].dtype == np.int64 and s["age"].between(18, 90).all()
    for c in ("gender", "region", "income_band", "household", "i_wish"):
        assert pd.api.types.is_string_dtype(s[c]) and s[c].notna().all()
    assert s["i_wish"].str.contains("wish").all()
    assert s["i_wish"].nunique() > len(s) // 3  # varied wording, not copy-paste


def test_customers_schema(market: Market) -> None:
    c = market.customers
    assert len(c) == N_CUSTOMERS and c["customer_id"].is_unique
    assert c["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert pd.api.types.is_datetime64_any_dtype(c["signup_date"])
    assert (c["signup_date"] < market.analysis_date).all()
    assert set(c["acquisition_channel"]) == {"agent", "web", "app", "comparison_site", "phone"}
    assert (c["acquisition_cost"] > 0).all()
    assert c["age"].between(18, 90).all()
    age_at_signup = c["age"] - (market.analysis_date - c["signup_date"]).dt.days / 365.25
    # ages are whole years as of the analysis date and birthdays fall on any day, so a
    # customer who signed up on turning 18 can be up to a year short of 18 here
    assert age_at_signup.min() >= 17.0
    # and nobody piles up on the last day (an 18-year-old may have turned 18 any day)
    assert (c["signup_date"] >= market.analysis_date - pd.Timedelta(days=7)).mean() < 0.01
    # linked rows agree with the survey, both ways
    linked = c.dropna(subset=["respondent_id"])
    s = market.survey.dropna(subset=["customer_id"]).set_index("customer_id")
    assert len(linked) == len(s)
    assert (
        s.loc[linked["customer_id"], "respondent_id"].to_numpy() == linked["respondent_id"]
    ).all()
    assert (s.loc[linked["customer_id"], "age"].to_numpy() == linked["age"]).all()


def test_transactions_schema(market: Market) -> None:
    t = market.transactions
    assert list(t.columns) == ["customer_id", "date", "amount", "margin", "channel", "product"]
    assert pd.api.types.is_datetime64_any_dtype(t["date"])
    assert (t["amount"] > 0).all() and t["margin"].dtype == np.float64
    assert (t["margin"] < t["amount"]).all()
    assert set(t["channel"]) == {"agent", "web", "app", "phone"}
    assert {"auto_policy", "roadside", "home_bundle", "glass_cover"} <= set(t["product"])
    assert t["customer_id"].isin(market.customers["customer_id"]).all()
    assert 30 <= len(t) / N_CUSTOMERS <= 70  # about 5 million rows for 100,000 customers


def test_events_schema(market: Market) -> None:
    e = market.events
    assert list(e.columns) == ["customer_id", "timestamp", "event_type", "channel"]
    assert set(e["event_type"]) == {"visit", "quote", "purchase", "support", "cancellation"}
    assert set(e["channel"]) <= {"agent", "web", "app", "phone"}
    assert e["customer_id"].isin(market.customers["customer_id"]).all()
    assert (
        e.groupby("customer_id")["event_type"].apply(lambda x: (x == "cancellation").sum()).max()
        == 1
    )


def test_all_dates_are_within_three_years_before_the_analysis_date(market: Market) -> None:
    start = market.analysis_date - pd.DateOffset(years=3)
    for frame, col in ((market.transactions, "date"), (market.events, "timestamp")):
        assert frame[col].max() <= market.analysis_date
        assert frame[col].min() >= start
    assert market.customers["signup_date"].max() <= market.analysis_date


def test_competitor_ratings_schema(market: Market) -> None:
    r = market.competitor_ratings
    assert list(r.columns) == ["respondent_id", "brand", "need", "rating"]
    assert r["brand"].nunique() == 3
    assert set(r["need"]) == set(NEED_COLUMNS)
    assert r["rating"].between(1, 5).all()
    assert r["respondent_id"].isin(market.survey["respondent_id"]).all()
    assert len(r) == len(market.survey) * 3 * len(NEED_COLUMNS)


def test_truth_covers_every_customer_and_respondent_once(market: Market) -> None:
    t = market.truth
    assert list(t.columns) == ["respondent_id", "customer_id", "segment"]
    assert set(t["segment"]) == set(SEGMENT_NAMES)
    resp = t["respondent_id"].dropna()
    cust = t["customer_id"].dropna()
    assert resp.is_unique and set(resp) == set(market.survey["respondent_id"])
    assert cust.is_unique and set(cust) == set(market.customers["customer_id"])
    assert (t["respondent_id"].notna() | t["customer_id"].notna()).all()
    shares = t.loc[t["respondent_id"].notna(), "segment"].value_counts(normalize=True)
    planted = market.truth_summary()["segments"]
    for name, share in planted.items():
        assert abs(shares[name] - share) < 0.03, name
    assert len(set(np.round(list(planted.values()), 2))) == len(planted)  # unequal sizes


# --- planted structure --------------------------------------------------------------------
def test_white_space_need_is_important_and_unserved(market: Market) -> None:
    need = market.white_space_need
    assert need in NEED_COLUMNS
    survey = market.survey.merge(market.truth[["respondent_id", "segment"]], on="respondent_id")
    by_segment = survey.groupby("segment")[need].mean()
    sizes = survey["segment"].value_counts(normalize=True)
    assert any(by_segment[s] >= 5.8 and sizes[s] >= 0.2 for s in by_segment.index)
    best = (
        market.competitor_ratings.groupby(["need", "brand"])["rating"].mean().groupby("need").max()
    )
    assert best.idxmin() == need
    others = best.drop(need)
    assert best[need] < 2.6 and others.min() >= 3.4  # every other need has a strong brand


def test_brand_positionings(market: Market) -> None:
    means = market.competitor_ratings.groupby(["need", "brand"])["rating"].mean().unstack()
    assert means.loc["need_personal_agent"].idxmax() == "Acme Mutual"
    assert means.loc["need_mobile_app"].idxmax() == "QuickQuote"
    assert means.loc["need_lowest_premium"].idxmax() == "Shield Direct"


def test_defining_needs_are_the_segments_highest_items(market: Market) -> None:
    needs, labels = _need_matrix(market)
    centred = needs - needs.mean(axis=1, keepdims=True)
    top = defining_needs(5)
    assert set(top) == set(SEGMENT_NAMES)
    for name, cols in top.items():
        assert len(cols) == 5
        lift = centred[labels == name].mean(axis=0) - centred[labels != name].mean(axis=0)
        observed = {NEED_COLUMNS[j] for j in np.argsort(-lift)[:5]}
        assert len(observed & set(cols)) >= 4, name


def test_segments_buy_differently(market: Market, segment_of: pd.Series) -> None:
    t = market.transactions.assign(segment=lambda d: d["customer_id"].map(segment_of))
    online = t["channel"].isin(["web", "app"]).groupby(t["segment"]).mean()
    assert online["online_self_service"] > 0.9 and online["agent_loyal"] < 0.15
    assert online["agent_loyal"] == online.min()
    spend = t.groupby("customer_id")["amount"].sum().groupby(segment_of).mean()
    assert spend.idxmin() == "price_driven"
    plan = market.customers.set_index("customer_id")["payment_plan"].eq("monthly")
    monthly = plan.groupby(segment_of).mean()
    assert monthly["price_driven"] > monthly["agent_loyal"] + 0.2


def test_lapse_and_support_differ_by_segment(market: Market, segment_of: pd.Series) -> None:
    e = market.events.assign(segment=lambda d: d["customer_id"].map(segment_of))
    n = segment_of.value_counts()
    cancel = e[e["event_type"] == "cancellation"].groupby("segment").size() / n
    assert cancel["price_driven"] > 2 * cancel["agent_loyal"]
    support = e[e["event_type"] == "support"]
    per_customer = support.groupby("segment").size() / n
    assert per_customer.idxmax() == "worried_high_risk"
    agent_share = support["channel"].eq("agent").groupby(support["segment"]).mean()
    assert agent_share.idxmax() == "agent_loyal"
    # lapsed customers stop paying
    last_tx = market.transactions.groupby("customer_id")["date"].max()
    cancelled = e.loc[e["event_type"] == "cancellation"].set_index("customer_id")["timestamp"]
    paid = last_tx.reindex(cancelled.index)
    has_paid = paid.notna()
    assert has_paid.mean() > 0.9
    assert (paid[has_paid] <= cancelled[has_paid]).all()


# --- recoverability ---------------------------------------------------------------------
def test_kmeans_on_centred_needs_recovers_planted_segments(market: Market) -> None:
    needs, labels = _need_matrix(market)
    centred = needs - needs.mean(axis=1, keepdims=True)
    k = len(SEGMENT_NAMES)
    ari_centred = adjusted_rand_score(labels, _kmeans_labels(centred, k))
    ari_raw = adjusted_rand_score(labels, _kmeans_labels(needs, k))
    assert ari_centred >= 0.88, ari_centred
    assert ari_raw <= ari_centred - 0.15, (ari_raw, ari_centred)  # scale use hurts


def test_true_k_is_most_stable(market: Market) -> None:
    needs, _ = _need_matrix(market)
    x = needs - needs.mean(axis=1, keepdims=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    rng = np.random.default_rng(0)
    halves = [rng.choice(len(x), size=len(x) // 2, replace=False) for _ in range(2)]
    k_true = len(SEGMENT_NAMES)

    def stability(k: int) -> float:
        fits = [
            KMeans(n_clusters=k, n_init=4, random_state=i).fit(x[h]) for i, h in enumerate(halves)
        ]
        return adjusted_rand_score(fits[0].predict(x), fits[1].predict(x))

    scores = {k: stability(k) for k in (k_true - 1, k_true, k_true + 1)}
    assert scores[k_true] == max(scores.values()), scores


# --- writing ------------------------------------------------------------------------------
def test_write_market_writes_readable_parquet_and_truth(tmp_path: Path) -> None:
    m = make_market(seed=5, n_customers=1_000, n_respondents=300)
    paths = write_market(m, tmp_path)
    for name in ("survey", "customers", "transactions", "events", "competitor_ratings"):
        assert paths[name] == tmp_path / "data" / f"{name}.parquet"
        back = pd.read_parquet(paths[name])
        pd.testing.assert_frame_equal(back, getattr(m, name), check_dtype=False)
    assert paths["truth"] == tmp_path / "truth.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(paths["truth"]), m.truth, check_dtype=False)
    info = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert info["seed"] == 5 and info["white_space_need"] == m.white_space_need
    assert info["analysis_date"] == m.analysis_date.strftime("%Y-%m-%d")
    assert list(info["segments"]) == list(SEGMENT_NAMES)
    assert abs(sum(info["segments"].values()) - 1) < 1e-9
    assert all(len(v) == 5 for v in info["defining_needs"].values())
    assert not (tmp_path / "data" / "truth.parquet").exists()


@pytest.mark.slow
def test_default_size_is_fast_and_about_five_million_rows(tmp_path: Path) -> None:
    start = time.perf_counter()
    m = make_market()
    elapsed = time.perf_counter() - start
    assert len(m.customers) == 100_000 and len(m.survey) == 3_000
    assert 4_000_000 <= len(m.transactions) <= 6_000_000
    assert elapsed < 30, f"make_market took {elapsed:.1f} s"


# --- issue 12: the planted economics and the value ranking -------------------------------
def _valuation_of_planted_segments(market: Market, segment_of: pd.Series) -> pd.DataFrame:
    """The valuation stage's per-segment table, on the planted segments of every customer."""
    from segmentum.demo.project import DEMO_SETTINGS
    from segmentum.valuation import segment_valuation
    from segmentum.value import ValueConfig, run_value

    value = run_value(
        market.transactions, customer_id="customer_id", timestamp="date", amount="amount",
        margin="margin", channel="channel", events=market.events, customers=market.customers,
        analysis_date=market.analysis_date, config=ValueConfig(**DEMO_SETTINGS["value"]),
    )  # fmt: skip
    codes = segment_of.map({name: i for i, name in enumerate(SEGMENT_NAMES)})
    shares = {i: float(s) for i, s in enumerate(market.segment_shares.values())}
    val = segment_valuation(
        codes, value.per_customer, id_column="customer_id", transactions=market.transactions,
        timestamp="date", amount="amount", population_shares=shares,
    )  # fmt: skip
    val.index = [SEGMENT_NAMES[int(i)] for i in val.index]
    return val


def test_planted_economics_are_what_the_books_show(market: Market, segment_of: pd.Series) -> None:
    from scipy.stats import spearmanr

    from segmentum.demo._economics import planted_economics

    planted = planted_economics()
    seen = _valuation_of_planted_segments(market, segment_of).loc[planted.index]
    # revenue, margin and cost-to-serve per customer: the expectations, within sampling error
    for col in ("revenue_per_head", "margin_per_head", "cost_to_serve_per_head"):
        ratio = seen[col] / planted[col]
        assert ratio.between(0.9, 1.1).all(), (col, ratio.round(3).to_dict())
    # profit changes sign where planted (price-driven customers cost more than they earn)
    assert (np.sign(seen["profit_per_head"]) == np.sign(planted["profit_per_head"]))[
        planted["profit_per_head"].abs() > 100
    ].all()
    # growth: the digital self-servers grow fastest, every segment near its planted trend
    assert seen["growth"].idxmax() == planted["growth"].idxmax() == "online_self_service"
    assert (seen["growth"] - planted["growth"]).abs().max() < 0.1, seen["growth"].round(3)
    # CLV per head comes from a fitted model, so only its order is compared
    rho = spearmanr(seen["clv_per_head"], planted["clv_per_head"]).statistic
    assert rho >= 0.8, seen["clv_per_head"].round(1).to_dict()


def test_truth_json_records_the_planted_value_ranking(tmp_path: Path) -> None:
    from segmentum.demo._economics import priority_table
    from segmentum.demo._spec import OUR_BRAND
    from segmentum.valuation import ValuationConfig, prioritise

    write_market(make_market(seed=0, n_customers=300, n_respondents=200), tmp_path)
    info = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    ranking = info["value_ranking"]
    assert sorted(ranking) == sorted(SEGMENT_NAMES) and info["our_brand"] == OUR_BRAND
    econ = pd.DataFrame(info["economics"]).T
    assert [econ.loc[n, "rank"] for n in ranking] == list(range(1, len(ranking) + 1))
    # a reader can check it: truth.json's own numbers through the valuation's ranking
    frame = econ.loc[list(SEGMENT_NAMES)].reset_index(drop=True).astype(float)
    frame.index.name = "segment"
    cfg = ValuationConfig(our_brand=OUR_BRAND, n_draws=2000)
    table = prioritise(frame, cfg, frame[["competitiveness"]]).table
    assert [SEGMENT_NAMES[int(i)] for i in table.index] == ranking
    # a clear top segment: it leads by a margin and survives resampled weights
    scores = table["score"].to_numpy()
    assert scores[0] - scores[1] >= 0.05 and table["p_first"].iloc[0] >= 0.7
    # the ranking follows the planted economics: the segment with the lowest profit, CLV
    # and competitiveness is never on top, the one best on CLV and profit never last
    assert ranking[0] != econ["clv_per_head"].astype(float).idxmin()
    assert ranking[-1] != econ["profit_per_head"].astype(float).idxmax()
    assert list(priority_table().index) == ranking


def test_planted_competitiveness_matches_the_ratings(market: Market) -> None:
    from segmentum.demo._economics import planted_competitiveness
    from segmentum.demo._spec import OUR_BRAND
    from segmentum.valuation import competitiveness

    truth = market.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    code = {name: i for i, name in enumerate(SEGMENT_NAMES)}
    needs = {code[k]: v for k, v in defining_needs(5).items()}
    seen = competitiveness(market.competitor_ratings, truth.map(code), needs, our_brand=OUR_BRAND)[
        "competitiveness"
    ]
    planted = planted_competitiveness()
    assert np.allclose(seen.to_numpy(), planted.loc[list(SEGMENT_NAMES)].to_numpy(), atol=0.1)


def test_demo_project_declares_scales_and_our_brand(tmp_path: Path) -> None:
    from segmentum.demo._spec import OUR_BRAND
    from segmentum.demo.project import write_demo_project
    from segmentum.project import Project

    project = Project.load(write_demo_project(tmp_path, n_customers=300, n_respondents=200))
    src = project.config.sources
    assert src.survey is not None and src.survey.scale == (1, 7)
    assert src.competitor_ratings is not None and src.competitor_ratings.scale == (1, 5)
    assert project.config.valuation["our_brand"] == OUR_BRAND
    data = project.validate()
    notes = [n for t in data.tables.values() for n in t.notes]
    assert not [n for n in notes if "inferred" in n], notes
