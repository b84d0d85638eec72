"""Channel choice (issue 14): seed 001's conferences, the integer programme against brute
force, the descriptor route through raking, and bad channel tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from segmentum.activation.channels import (
    CHANNEL_FIELDS,
    channel_table,
    choose_channels,
    mix_from_descriptors,
    plan_channels,
    read_mix,
    value_frontier,
)
from segmentum.data.errors import DataError

SEGS = [1, 2, 3]
MARKET = {1: 0.2, 2: 0.3, 3: 0.5}
VALUE = {1: 500.0, 2: 300.0, 3: 100.0}


def seed_001(cost_b: float = 20_000.0) -> pd.DataFrame:
    """Seed 001: A, 10,000 people, few in the market; B, ~1,000, most in it; same cost."""
    return pd.DataFrame(
        {
            "channel": ["conference_a", "conference_b"],
            "cost": [20_000.0, cost_b],
            "audience": [10_000, 1_050],
            "segment_1": [0.03, 0.80],
            "segment_2": [0.02, 0.10],
            "segment_3": [0.95, 0.10],
        }
    )


def plan(channels: pd.DataFrame, budget: float | None = 20_000.0):  # type: ignore[no-untyped-def]
    by_seg, _ = read_mix(channels, SEGS)
    return plan_channels(
        channels, by_seg, targets=[1, 2], value_per_head=VALUE, market_shares=MARKET,
        budget=budget,
    )  # fmt: skip


def test_seed_001_b_over_a_at_equal_cost_and_why() -> None:
    p = plan(seed_001())
    t = p.table.set_index("channel")
    assert t.loc["conference_b", "chosen"] and not t.loc["conference_a", "chosen"]
    # B reaches 1,050 × 90 % = 945 target people, A 10,000 × 5 % = 500
    assert t.loc["conference_b", "target_people"] == pytest.approx(945.0)
    assert t.loc["conference_a", "target_people"] == pytest.approx(500.0)
    # affinity index: 90 % target vs 50 % in the market
    assert t.loc["conference_b", "index"] == pytest.approx(180.0)
    ratio = 945.0 / 500.0
    # channels by their labels (issue 15): conference_b -> "Conference B"
    assert p.sentence.startswith("Buy Conference B: 1,050 people of whom 90% are in target")
    assert f"{ratio:.1f}× Conference A's target people per unit of cost" in p.sentence
    js = p.to_json()
    assert [set(CHANNEL_FIELDS) <= set(e) for e in js] == [True, True]
    assert [e["chosen"] for e in js] == [False, True]


def test_raising_b_cost_makes_a_win_and_break_even_is_printed() -> None:
    p = plan(seed_001(), budget=None)
    be = p.break_even["conference_b"]
    ev = p.table.set_index("channel")["expected_value"]
    assert be == pytest.approx(ev["conference_b"] / ev["conference_a"] * 20_000.0)
    assert f"up to a cost of {be:,.0f} (break-even)" in p.sentence
    below = plan(seed_001(cost_b=be * 0.99), budget=None).table.set_index("channel")
    above = plan(seed_001(cost_b=be * 1.01), budget=None).table.set_index("channel")
    assert below.loc["conference_b", "chosen"] and not below.loc["conference_a", "chosen"]
    assert above.loc["conference_a", "chosen"] and not above.loc["conference_b", "chosen"]
    assert plan(seed_001(cost_b=be * 1.01), budget=None).sentence.startswith("Buy Conference A")


def test_milp_equals_brute_force_on_small_cases() -> None:
    rng = np.random.default_rng(7)
    for _ in range(25):
        n = int(rng.integers(2, 7))
        t = pd.DataFrame(
            {
                "channel": [f"c{i}" for i in range(n)],
                "cost": rng.integers(1, 20, n).astype(float) * 1000,
                "expected_value": rng.gamma(2.0, 1000.0, n),
                "max_units": rng.integers(1, 3, n),
            }
        )
        budget = float(rng.uniform(0.2, 0.8) * (t["cost"] * t["max_units"]).sum())
        units = choose_channels(t, budget)
        best = 0.0
        for combo in itertools.product(*[range(int(c) + 1) for c in t["max_units"]]):
            u = np.array(combo)
            if (u * t["cost"]).sum() <= budget:
                best = max(best, float((u * t["expected_value"]).sum()))
        assert (units * t["cost"]).sum() <= budget + 1e-6
        assert float((units * t["expected_value"]).sum()) == pytest.approx(best, rel=1e-9)


def test_frontier_rises_with_budget() -> None:
    by_seg, _ = read_mix(seed_001(), SEGS)
    t = channel_table(seed_001(), by_seg, targets=[1, 2], value_per_head=VALUE,
                      market_shares=MARKET)  # fmt: skip
    t["units"] = 0
    f = value_frontier(t)
    assert f["expected_value"].is_monotonic_increasing
    assert f["spent"].le(f["budget"] + 1e-9).all()
    both = f[f["budget"] >= 40_000].iloc[0]
    assert both["channels"] == "conference_a, conference_b"


def test_mix_by_descriptors_through_raking() -> None:
    # people: source web → mostly segment 1; agent → segment 3
    ref = pd.DataFrame({"source": ["web"] * 50 + ["agent"] * 50})
    P = np.vstack([np.tile([0.8, 0.1, 0.1], (50, 1)), np.tile([0.1, 0.1, 0.8], (50, 1))])
    mix = mix_from_descriptors({"source": {"web": 0.9, "agent": 0.1}}, ref, P)
    assert mix == pytest.approx(0.9 * P[0] + 0.1 * P[-1])
    assert mix.sum() == pytest.approx(1.0)
    ch = pd.DataFrame(
        {"channel": ["x"], "cost": [1.0], "audience": [10], "source=web": [0.9],
         "source=agent": [0.1]}
    )  # fmt: skip
    by_seg, desc = read_mix(ch, SEGS)
    assert desc == {"source": ["source=web", "source=agent"]}
    assert by_seg.isna().all(axis=None)


@pytest.mark.parametrize(
    ("change", "row", "column", "words"),
    [
        ({"segment_1": [0.03, 0.70]}, 2, "segment_1, segment_2, segment_3", "sums to 0.900"),
        ({"audience": [10_000, -5]}, 2, "audience", "negative"),
        ({"segment_9": [0.0, 0.0]}, None, "segment_9", "unknown segment"),
        ({"cost": ["20k", 20_000]}, 1, "cost", "not a number"),
    ],
)
def test_bad_channel_tables_name_table_row_and_column(
    change: dict[str, list[object]], row: int | None, column: str, words: str
) -> None:
    ch = seed_001().assign(**change)
    with pytest.raises(DataError) as err:
        read_mix(ch, SEGS)
    msg = str(err.value)
    assert msg.startswith("channels:") and words in msg and f"column '{column}'" in msg
    p = err.value.problems[0]
    assert (p.table, p.row, p.column) == ("channels", row, column)


def test_mix_within_one_percent_is_accepted_and_renormalised() -> None:
    ch = seed_001().assign(segment_3=[0.955, 0.10])  # sums to 1.005
    by_seg, _ = read_mix(ch, SEGS)
    assert by_seg.sum(axis=1).to_numpy() == pytest.approx([1.0, 1.0])


def test_with_a_budget_the_sentence_compares_what_the_budget_could_buy() -> None:
    dear = pd.DataFrame(
        {"channel": ["tv"], "cost": [90_000.0], "audience": [50_000], "segment_1": [0.5],
         "segment_2": [0.2], "segment_3": [0.3]}
    )  # fmt: skip
    p = plan(pd.concat([seed_001(), dear], ignore_index=True))
    assert p.table.set_index("channel")["chosen"].to_dict() == {
        "conference_a": False, "conference_b": True, "tv": False,
    }  # fmt: skip
    assert (
        "Conference A's target people" in p.sentence
        and "TV" not in p.sentence
        and "Tv" not in p.sentence
    )


def test_the_sentence_names_channels_by_the_project_labels() -> None:
    """``[report.labels]`` reach the sentence (issue 15): the words in use when it is read."""
    from segmentum.report.format import use_labels

    p = plan(seed_001(), budget=None)
    with use_labels({"conference_b": "the trade fair", "conference_a": "the expo"}):
        assert p.sentence.startswith("Buy the trade fair: ")
        assert "the expo's target people" in p.sentence and "Conference" not in p.sentence
    assert p.sentence.startswith("Buy Conference B: ")  # outside the block: the defaults
