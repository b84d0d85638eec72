"""Profiles: index, tests, multiple-testing correction, defining needs, exclusivity, personas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segmentum.profiles import ExclusivityReport, exclusivity, personas, phrase, profile
from segmentum.stats.weighted import bh_adjust, effective_n


def _planted(n_per: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three segments, each high on two needs of its own; one need common to all."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([1, 2, 3], n_per)
    needs = {
        "need_online_self_service": (6.2, 3.0, 3.0),
        "need_mobile_app": (5.8, 3.1, 3.0),
        "need_lowest_price": (3.0, 6.3, 3.2),
        "need_compare_prices": (3.1, 5.9, 3.0),
        "need_personal_agent": (2.9, 3.0, 6.1),
        "need_local_office": (3.0, 3.2, 5.7),
        "need_reliable_claims": (6.0, 6.0, 6.0),
    }
    cols = {}
    for name, means in needs.items():
        mu = np.array(means)[labels - 1]
        cols[name] = np.clip(np.round(mu + rng.normal(0, 1.0, labels.size)), 1, 7)
    df = pd.DataFrame(cols)
    df["gender"] = np.where(
        rng.random(labels.size) < np.array([0.8, 0.4, 0.4])[labels - 1], "F", "M"
    )
    df["age"] = rng.normal(np.array([30.0, 45.0, 60.0])[labels - 1], 8)
    df["beh_bought_online"] = (
        rng.random(labels.size) < np.array([0.9, 0.4, 0.1])[labels - 1]
    ).astype(int)
    df["customer_id"] = [f"C{i:04d}" for i in range(labels.size)]
    return df, labels


BASIS = [
    "need_online_self_service",
    "need_mobile_app",
    "need_lowest_price",
    "need_compare_prices",
    "need_personal_agent",
    "need_local_office",
    "need_reliable_claims",
]


# ---------------------------------------------------------------------------------------------
# index: 100 = average, weighted
# ---------------------------------------------------------------------------------------------
def test_index_is_segment_over_total_times_100() -> None:
    df = pd.DataFrame(
        {
            "need_x": [2.0] * 10 + [6.0] * 10,
            "yes": [1] * 5 + [0] * 5 + [1] * 10,
            "colour": ["red"] * 10 + ["red"] * 2 + ["blue"] * 8,
        }
    )
    lab = [1] * 10 + [2] * 10
    p = profile(df, lab, basis=["need_x"], descriptors=["yes", "colour"], min_size=2)
    t = p.table.set_index(["segment", "variable", "level"])
    assert t.loc[(1, "need_x", "mean"), "value"] == pytest.approx(2.0)
    assert t.loc[(1, "need_x", "mean"), "total"] == pytest.approx(4.0)
    assert t.loc[(1, "need_x", "mean"), "index"] == pytest.approx(50.0)
    assert t.loc[(2, "need_x", "mean"), "index"] == pytest.approx(150.0)
    # binary share: 50 % vs 75 % overall
    assert t.loc[(1, "yes", "1"), "index"] == pytest.approx(100 * 0.5 / 0.75)
    assert t.loc[(2, "yes", "1"), "index"] == pytest.approx(100 * 1.0 / 0.75)
    # categorical levels: red is 100 % of segment 1, 60 % overall
    assert t.loc[(1, "colour", "red"), "index"] == pytest.approx(100 / 0.6)
    assert t.loc[(2, "colour", "blue"), "index"] == pytest.approx(100 * 0.8 / 0.4)


def test_index_and_shares_use_survey_weights() -> None:
    df = pd.DataFrame({"need_x": [2.0] * 10 + [6.0] * 10, "w": [3.0] * 10 + [1.0] * 10})
    p = profile(df, [1] * 10 + [2] * 10, basis=["need_x"], weights="w", min_size=2)
    t = p.table.set_index("segment")
    assert t.loc[1, "total"] == pytest.approx(3.0)  # (2 * 30 + 6 * 10) / 40
    assert t.loc[2, "index"] == pytest.approx(200.0)
    assert t.loc[1, "index"] == pytest.approx(100 * 2 / 3)
    sizes = p.sizes.set_index("segment")
    assert sizes.loc[1, "share"] == pytest.approx(0.75)
    assert sizes.loc[1, "share_sample"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# tests of difference
# ---------------------------------------------------------------------------------------------
def test_unweighted_numeric_test_is_welch_t() -> None:
    df, lab = _planted()
    p = profile(df, lab, basis=BASIS)
    row = p.table[(p.table["segment"] == 2) & (p.table["variable"] == "need_lowest_price")].iloc[0]
    x = df["need_lowest_price"].to_numpy()
    ref = stats.ttest_ind(x[lab == 2], x[lab != 2], equal_var=False)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-9)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    pooled = np.sqrt(
        ((lab == 2).sum() - 1) * x[lab == 2].var(ddof=1)
        + ((lab != 2).sum() - 1) * x[lab != 2].var(ddof=1)
    ) / np.sqrt(len(x) - 2)
    assert row["effect_size"] == pytest.approx((x[lab == 2].mean() - x[lab != 2].mean()) / pooled)


def test_unweighted_share_test_is_chi_square_2x2() -> None:
    df, lab = _planted()
    p = profile(df, lab, basis=BASIS, behaviours=["beh_bought_online"])
    row = p.table[(p.table["segment"] == 1) & (p.table["variable"] == "beh_bought_online")].iloc[0]
    y = df["beh_bought_online"].to_numpy()
    table = np.array(
        [
            [np.sum(y[lab == 1]), np.sum(1 - y[lab == 1])],
            [np.sum(y[lab != 1]), np.sum(1 - y[lab != 1])],
        ]
    )
    chi2, pv, _, _ = stats.chi2_contingency(table, correction=False)
    assert row["statistic"] ** 2 == pytest.approx(chi2, rel=1e-9)
    assert row["p_value"] == pytest.approx(pv, rel=1e-6)


def test_weights_enter_through_effective_sample_size() -> None:
    df, lab = _planted(n_per=60)
    base = profile(df, lab, basis=BASIS).table
    scaled = profile(df, lab, basis=BASIS, weights=np.full(len(df), 2.5)).table
    # scaling all weights changes nothing
    np.testing.assert_allclose(base["p_value"], scaled["p_value"], rtol=1e-9)
    rng = np.random.default_rng(1)
    uneven = rng.choice([0.2, 3.0], size=len(df))
    t = profile(df, lab, basis=BASIS, weights=uneven).table
    assert effective_n(uneven) < 0.7 * len(df)
    # less information: the same strong differences are less significant
    key = (t["segment"] == 1) & (t["variable"] == "need_online_self_service")
    kb = (base["segment"] == 1) & (base["variable"] == "need_online_self_service")
    assert abs(t.loc[key, "statistic"].iloc[0]) < abs(base.loc[kb, "statistic"].iloc[0])


def test_benjamini_hochberg_is_applied_across_all_tests() -> None:
    rng = np.random.default_rng(7)
    n = 200
    lab = np.repeat([1, 2], n // 2)
    noise = {f"need_noise_{i:02d}": rng.normal(4, 1, n) for i in range(60)}
    df = pd.DataFrame(noise)
    df["need_real"] = rng.normal(4, 1, n) + 1.2 * (lab == 2)
    p = profile(df, lab, basis=list(df.columns))
    t = p.table
    expected = stats.false_discovery_control(t["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(t["p_adjusted"], expected, rtol=1e-12)
    np.testing.assert_allclose(bh_adjust(t["p_value"].to_numpy()), expected, rtol=1e-12)
    assert (t["significant"] == (t["p_adjusted"] < 0.05)).all()
    noise_rows = t[t["variable"].str.startswith("need_noise")]
    # raw p-values would declare some noise items different; the correction must not
    assert (noise_rows["p_value"] < 0.05).any()
    assert not noise_rows["significant"].any()
    assert t.loc[t["variable"] == "need_real", "significant"].all()
    assert p.defining_needs[2] == ("need_real",)


def test_bh_leaves_untested_rows_out() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03])
    adj = bh_adjust(p)
    assert np.isnan(adj[1])
    np.testing.assert_allclose(adj[[0, 2, 3]], [0.03, 0.04, 0.04])


# ---------------------------------------------------------------------------------------------
# defining needs, descriptors, sizes, value
# ---------------------------------------------------------------------------------------------
def test_defining_needs_are_the_planted_ones_strongest_first() -> None:
    df, lab = _planted()
    p = profile(df, lab, basis=BASIS, descriptors=["gender", "age"])
    assert set(p.defining_needs[1]) == {"need_online_self_service", "need_mobile_app"}
    assert p.defining_needs[1][0] == "need_online_self_service"
    assert set(p.defining_needs[2]) == {"need_lowest_price", "need_compare_prices"}
    assert set(p.defining_needs[3]) == {"need_personal_agent", "need_local_office"}
    assert all("need_reliable_claims" not in d for d in p.defining_needs.values())
    d = p.segment_descriptors
    seg1 = d[d["segment"] == 1]
    assert ((seg1["variable"] == "gender") & (seg1["level"] == "F")).any()
    assert ((d["segment"] == 3) & (d["variable"] == "age") & (d["effect_size"] > 0)).any()
    assert ((d["segment"] == 1) & (d["variable"] == "age") & (d["effect_size"] < 0)).any()


def test_table_has_the_tidy_columns() -> None:
    df, lab = _planted(n_per=40)
    p = profile(df, lab, basis=BASIS, descriptors=["gender"])
    for c in (
        "segment",
        "variable",
        "role",
        "level",
        "value",
        "total",
        "index",
        "statistic",
        "p_value",
        "p_adjusted",
        "effect_size",
        "significant",
    ):
        assert c in p.table.columns
    assert set(p.table["role"]) == {"basis", "descriptor"}
    assert len(p.table) == 3 * (len(BASIS) + 2)
    assert p.index_matrix().shape == (len(BASIS), 3)


def test_value_table_linked_by_customer_id() -> None:
    df, lab = _planted(n_per=50)
    value = pd.DataFrame(
        {"customer_id": df["customer_id"], "revenue": np.where(lab == 1, 30.0, 10.0)}
    )
    value = value.sample(frac=1.0, random_state=0)  # order must not matter
    p = profile(df, lab, basis=BASIS, value=value, id_column="customer_id")
    s = p.sizes.set_index("segment")
    assert s.loc[1, "revenue_share"] == pytest.approx(1500 / 2500)
    assert s.loc[2, "revenue_mean"] == pytest.approx(10.0)
    assert s.loc[1, "customer_share"] == pytest.approx(1 / 3)
    assert "revenue" in p.value_measures


def test_small_segment_not_tested_and_too_many_levels_skipped() -> None:
    df, lab = _planted(n_per=40)
    lab = lab.copy()
    lab[:4] = 4  # a segment of four
    df["postcode"] = [f"P{i}" for i in range(len(df))]
    p = profile(df, lab, basis=BASIS, descriptors=["postcode", "gender"])
    assert any("segment 4" in w and "min_size" in w for w in p.warnings)
    assert any("postcode" in w and "categories" in w for w in p.warnings)
    assert p.rows(4)["p_value"].isna().all()
    assert not p.rows(4)["significant"].any()
    assert "postcode" not in p.descriptors


def test_labels_align_on_index_and_reject_wrong_length() -> None:
    df, lab = _planted(n_per=30)
    shuffled = pd.Series(lab, index=df.index).sample(frac=1.0, random_state=3)
    a = profile(df, lab, basis=BASIS).table
    b = profile(df, shuffled, basis=BASIS).table
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="labels"):
        profile(df, lab[:-1], basis=BASIS)


# ---------------------------------------------------------------------------------------------
# exclusivity
# ---------------------------------------------------------------------------------------------
def test_exclusivity_passes_on_distinct_segments() -> None:
    df, lab = _planted()
    rep = exclusivity(profile(df, lab, basis=BASIS))
    assert isinstance(rep, ExclusivityReport)
    assert rep.passed
    assert rep.uniqueness == pytest.approx(1.0)
    assert rep.coverage == pytest.approx(1.0)
    assert rep.common_needs == ("need_reliable_claims",)
    assert rep.score == pytest.approx((6 / 7) ** (1 / 3))
    assert rep.quantifiable


def test_exclusivity_fails_and_names_offenders() -> None:
    rng = np.random.default_rng(2)
    lab = np.repeat([1, 2, 3], 100)
    df = pd.DataFrame(
        {
            "need_price": rng.normal(np.array([6.0, 6.0, 2.0])[lab - 1], 1),
            "need_speed": rng.normal(np.array([5.0, 3.0, 3.0])[lab - 1], 1),
            "need_flat": rng.normal(4, 1, lab.size),
        }
    )
    rep = exclusivity(profile(df, lab, basis=list(df.columns)))
    assert not rep.passed
    assert rep.shared_needs == {"need_price": (1, 2)}
    assert set(rep.undefined_segments) == {2, 3}
    assert rep.common_needs == ("need_flat",)
    assert 0.0 <= rep.score < rep.threshold
    # the verdict names needs by their labels (the ids stay in shared_needs and offenders)
    assert "Price (1, 2)" in rep.verdict() and "FAILED" in rep.verdict()
    assert "need_" not in rep.verdict()
    assert rep.offenders["shared_needs"] == {"need_price": [1, 2]}


# ---------------------------------------------------------------------------------------------
# personas
# ---------------------------------------------------------------------------------------------
def test_phrases_and_names() -> None:
    assert phrase("need_online_self_service") == "online self-service"
    assert phrase("need_x", {"need_x": "something else"}) == "something else"
    df, lab = _planted()
    df["i_wish"] = np.where(
        lab == 1,
        "I wish I could do everything online in the app",
        np.where(lab == 2, "I wish the price was lower", "I wish my agent called me"),
    )
    df.loc[0, "i_wish"] = "I wish for world peace"
    cards = personas(
        profile(
            df, lab, basis=BASIS, descriptors=["gender", "age"], behaviours=["beh_bought_online"]
        ),
        names={3: "The loyalists"},
        texts=df["i_wish"],
    )
    assert [c.segment for c in cards] == [1, 2, 3]
    assert "online self-service" in cards[0].name.lower()
    assert cards[2].name == "The loyalists" and cards[2].suggested_name != "The loyalists"
    assert cards[0].quotes[0] == "I wish I could do everything online in the app"
    assert len(set(c.name for c in cards)) == 3
    md = cards[0].to_markdown()
    assert md.startswith("### Segment 1:") and "bought online" in md and "> I wish" in md
    html = cards[0].to_html()
    assert html.startswith('<div class="persona-card"') and "<li>" in html
    assert any("gender: F" in w for w in cards[0].who)
