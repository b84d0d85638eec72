"""The activation stage's customer half on small frames (issue 13): lifecycle stage of every
customer, P(accept) with its Beta prior, arbitration and contact policy, the control group,
bad offers named by table, row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentum.activation import (
    ActivationConfig,
    ContactPolicy,
    acceptance_estimates,
    control_group,
    customer_activation,
    hash_uniform,
    next_best_offer,
    read_offers,
)
from segmentum.data.errors import DataError
from segmentum.flow import stage_settings

TODAY = pd.Timestamp("2025-07-01")
STAGES = ["discovering", "browsing", "buying", "new", "repeat", "loyal", "lapsing", "lost"]


def _offers(**extra: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "offer_id": ["A", "B", "C"],
            "value": [100.0, 40.0, 500.0],
            "cost": [2.0, 1.0, 5.0],
            "segments": ["", "1;2", "2"],
            "stages": ["", "", "loyal"],
        }
    )
    for k, v in extra.items():
        frame[k] = v
    return frame


def test_control_group_is_stable_and_holds_the_share_of_every_segment() -> None:
    ids = [f"C{i:06d}" for i in range(30_000)]
    seg = np.repeat([1, 2, 3], [20_000, 9_000, 1_000])
    a = control_group(ids, seed=7, share=0.05, strata=seg)
    b = control_group(list(reversed(ids)), seed=7, share=0.05, strata=seg[::-1])[::-1]
    assert (a == b).all()  # the same people whatever the row order
    for s, n in ((1, 20_000), (2, 9_000), (3, 1_000)):
        assert a[seg == s].sum() == round(0.05 * n)
    other = control_group(ids, seed=8, share=0.05, strata=seg)
    assert (a & other).sum() < 0.2 * a.sum()  # another seed, other people
    u = hash_uniform(ids, 7)
    assert np.array_equal(u, hash_uniform(ids, 7)) and ((u >= 0) & (u < 1)).all()
    # uniform: each tenth holds a tenth of the ids (chi-square, 9 df, p = 0.001 at 27.9)
    counts = np.bincount((u * 10).astype(int), minlength=10)
    assert ((counts - 3_000) ** 2 / 3_000).sum() < 27.9
    # FNV-1a of the bytes of "7:C000000" then SplitMix64, written out: pinned across versions
    h = 0xCBF29CE484222325
    for byte in b"7:C000000":
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) % 2**64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) % 2**64
    h ^= h >> 31
    assert u[0] == (h >> 11) / 2**53


def test_acceptance_is_beta_smoothed_towards_the_offer_rate_with_its_n() -> None:
    offers = read_offers(_offers(), known_segments=[1, 2], known_stages=STAGES)
    rows = [(1, "loyal", "A", True)] * 30 + [(1, "loyal", "A", False)] * 70
    rows += [(2, "new", "A", True)] * 1 + [(2, "new", "A", False)] * 1  # a thin cell
    r = pd.DataFrame(rows, columns=["segment", "stage", "offer_id", "accepted"])
    cells = pd.DataFrame({"segment": [1, 2], "stage": ["loyal", "new"]})
    est = acceptance_estimates(r, offers, cells, prior_strength=20).set_index(
        ["segment", "stage", "offer_id"]
    )
    p0 = 31 / 102
    thick, thin = est.loc[(1, "loyal", "A")], est.loc[(2, "new", "A")]
    assert thick["n"] == 100 and thick["offer_n"] == 102
    assert thick["p_accept"] == pytest.approx((30 + 20 * p0) / 120)
    assert thin["p_accept"] == pytest.approx((1 + 20 * p0) / 22)  # leans on the offer rate
    assert thin["cell_rate"] == 0.5
    # offer B has no history: the pooled rate of all offers
    assert est.loc[(1, "loyal", "B"), "p_accept"] == pytest.approx(p0)


def _cells() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(6)],
            "segment": [1, 1, 2, 2, 2, 1],
            "stage": ["loyal", "new", "loyal", "new", "loyal", "loyal"],
        }
    )
    offers = read_offers(_offers(), known_segments=[1, 2], known_stages=STAGES)
    acc = pd.DataFrame(
        [(s, t, o, p) for s in (1, 2) for t in ("loyal", "new")
         for o, p in (("A", 0.10), ("B", 0.50), ("C", 0.05))],
        columns=["segment", "stage", "offer_id", "p_accept"],
    )  # fmt: skip
    return customers, offers, acc


def test_arbitration_eligibility_then_expected_value_then_contact_policy() -> None:
    customers, offers, acc = _cells()
    # EV: A = 0.1*100-2 = 8, B = 0.5*40-1 = 19 (segments 1, 2), C = 0.05*500-5 = 20 (2, loyal)
    out = next_best_offer(customers, offers, acc).set_index("customer_id")
    assert out["next_best_offer"].tolist() == ["B", "B", "C", "B", "C", "B"]
    assert out.loc["c2", "offer_expected_value"] == pytest.approx(20.0)
    # c0 refused B three times: suppressed, A is next; c1 was shown an offer this period
    day = pd.Timedelta(days=1)
    responses = pd.DataFrame(
        [("c0", TODAY - 90 * day, "B", False)] * 3
        + [("c3", TODAY - 400 * day, "B", False)] * 3  # older than the 180-day window
        + [("c1", TODAY - 5 * day, "A", True), ("c2", TODAY - 60 * day, "C", False)],
        columns=["customer_id", "timestamp", "offer_id", "accepted"],
    )
    control = np.array([False, False, False, False, False, True])
    out = next_best_offer(
        customers, offers, acc, responses=responses, analysis_date=TODAY, control=control,
        policy=ContactPolicy(max_offers_per_period=1, period_days=30, suppress_after_refusals=3),
    ).set_index("customer_id")  # fmt: skip
    assert out.loc["c0", "next_best_offer"] == "A"
    assert pd.isna(out.loc["c1", "next_best_offer"])
    assert out.loc["c1", "no_offer_reason"] == "contact limit"
    assert out.loc["c5", "no_offer_reason"] == "control"
    assert np.isnan(out.loc["c5", "offer_expected_value"])
    assert out.loc["c2", "next_best_offer"] == "C"  # refused once only: still made
    assert out.loc["c3", "next_best_offer"] == "B"  # its refusals are too old to count
    # nothing worth more than its cost: no offer
    out = next_best_offer(customers, offers, acc, min_expected_value=25).set_index("customer_id")
    assert out["next_best_offer"].isna().all()


def test_an_offer_limit_goes_to_the_highest_value_and_the_rest_fall_back() -> None:
    customers, _, acc = _cells()
    offers = read_offers(
        _offers(limit=[np.nan, 2, np.nan]), known_segments=[1, 2], known_stages=STAGES
    )
    acc = acc.copy()
    acc.loc[(acc["segment"] == 2) & (acc["offer_id"] == "B"), "p_accept"] = 0.6  # EV 23
    out = next_best_offer(customers, offers, acc).set_index("customer_id")
    assert (out["next_best_offer"] == "B").sum() == 2
    assert set(out.index[out["next_best_offer"] == "B"]) <= {"c2", "c3", "c4"}
    assert out.loc[["c0", "c1", "c5"], "next_best_offer"].tolist() == ["A", "A", "A"]


def test_bad_offers_are_named_by_table_row_and_column() -> None:
    bad = _offers(segments=["", "1;9", "2"], stages=["", "", "sleeping"])
    with pytest.raises(DataError) as err:
        read_offers(bad, known_segments=[1, 2], known_stages=STAGES, label="offers.csv")
    text = str(err.value)
    assert "offers.csv, row 2, column 'segments': unknown segment (value '9')" in text
    assert "row 3, column 'stages': unknown stage (value 'sleeping')" in text
    assert "segments that exist (1, 2)" in text
    with pytest.raises(DataError, match=r"row 1, column 'cost': negative cost"):
        read_offers(_offers(cost=[-1.0, 1.0, 1.0]), known_segments=[1, 2], known_stages=STAGES)


def test_every_customer_has_a_stage_and_the_flow_counts_them() -> None:
    pc = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "n_transactions": [1, 6, 3],
            "first_purchase": [TODAY - pd.Timedelta(days=10), TODAY - pd.Timedelta(days=700),
                               TODAY - pd.Timedelta(days=600)],
            "last_purchase": [TODAY - pd.Timedelta(days=10), TODAY - pd.Timedelta(days=5),
                              TODAY - pd.Timedelta(days=300)],
            "p_alive": [0.9, 0.99, 0.05],
            "clv": [10.0, 100.0, 1.0],
        }
    )  # fmt: skip
    events = pd.DataFrame(
        {"customer_id": ["d", "d"], "timestamp": [TODAY - pd.Timedelta(days=3)] * 2,
         "event_type": ["visit", "quote"]}
    )  # fmt: skip
    customers = pd.DataFrame({"customer_id": list("abcde"), "segment": [1, 1, 2, 2, 1]})
    before = pc.iloc[[1, 2]].assign(p_alive=[0.99, 0.9], n_transactions=[5, 3])
    ca = customer_activation(
        customers, TODAY, per_customer=pc, events=events,
        earlier=(TODAY - pd.Timedelta(days=90), before),
    )  # fmt: skip
    stage = ca.customers.set_index("customer_id")["stage"]
    assert stage.to_dict() == {"a": "new", "b": "loyal", "c": "lost", "d": "buying",
                               "e": "discovering"}  # fmt: skip
    moves = ca.flow.set_index(["from_stage", "to_stage"])["customers"]
    assert moves[("repeat", "lost")] == 1 and moves[("loyal", "loyal")] == 1
    assert moves[("not yet known", "new")] == 1
    table = ca.segment_stage.set_index(["segment", "stage"])
    assert table.loc[(1, "loyal"), "value"] == 100.0
    assert int(table["customers"].sum()) == 5
    js = ca.summary()
    assert js["lifecycle"]["stages"]["lost"] == 1 and js["control_group"]["customers"] == 5


def test_settings_table_is_checked() -> None:
    cfg = stage_settings(
        ActivationConfig,
        {
            "control_share": 0.1,
            "contact": {"max_offers_per_period": 2},
            "stages": {"lost_p_alive": 0.2},
        },
        "activation",
    )
    assert cfg.contact.max_offers_per_period == 2 and cfg.stages.lost_p_alive == 0.2
    from segmentum.data.errors import ProjectError

    with pytest.raises(
        ProjectError,
        match=r"\[activation.contact.max_offer\] unknown key 'max_offer'. Did you mean 'max_offers_per_period'",
    ):
        stage_settings(ActivationConfig, {"contact": {"max_offer": 2}}, "activation")
    with pytest.raises(ProjectError, match=r"control_share"):
        stage_settings(ActivationConfig, {"control_share": 1.5}, "activation")


def test_the_readme_activation_block_is_a_valid_project_fragment() -> None:
    import re
    import tomllib
    from pathlib import Path

    from segmentum.data.project import ProjectConfig

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(
        b for b in re.findall(r"```toml\n(.*?)```", text, re.DOTALL) if "[activation]" in b
    )
    raw = tomllib.loads(block)
    config = ProjectConfig.model_validate(raw)
    assert config.sources.offers is not None and config.sources.offers.segments == "segments"
    assert config.sources.responses is not None and config.sources.responses.stage == "stage"
    cfg = stage_settings(ActivationConfig, config.activation, "activation")
    assert cfg.stages.names == {"lost": "churned"}
    # the block states the defaults: only the renamed stage differs
    assert cfg.model_copy(update={"stages": ActivationConfig().stages}) == ActivationConfig()
    assert cfg.stages.model_copy(update={"names": {}}) == ActivationConfig().stages


def test_offers_without_history_or_logged_stage_say_so() -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b"], "segment": [1, 2]})
    offers = _offers()
    ca = customer_activation(customers, TODAY, offers=offers)
    assert ca.customers["next_best_offer"].isna().all()
    assert any("no response history" in w for w in ca.warnings)
    responses = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "zz"],
            "timestamp": [TODAY - pd.Timedelta(days=90)] * 4,
            "offer_id": ["A", "A", "B", "A"],
            "accepted": [True, False, True, True],
        }
    )
    ca = customer_activation(customers, TODAY, offers=offers, responses=responses)
    assert any("logs no stage" in w for w in ca.warnings)
    assert any("1 responses are of customers without a segment" in w for w in ca.warnings)
    assert ca.customers["next_best_offer"].notna().all()  # prospects: A is open to all
    assert ca.acceptance["n"].sum() == 3
    logged = responses.assign(stage=["loyal", "sleeping", "new", "new"])
    ca = customer_activation(customers, TODAY, offers=offers, responses=logged)
    assert any("log a stage the lifecycle rules do not have (sleeping)" in w for w in ca.warnings)
