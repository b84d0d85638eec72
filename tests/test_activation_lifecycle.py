"""Lifecycle-stage rules (issue #13, item 1) as a pure function."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from segmentum.activation.lifecycle import STAGE_NAMES, LifecycleRules, lifecycle_stage

TODAY = pd.Timestamp("2025-07-01")


def _days(n: int) -> pd.Timestamp:
    return TODAY - pd.Timedelta(days=n)


CUSTOMERS = pd.DataFrame(
    [
        # id, purchases, first, last (days ago), P(alive), expected stage
        ("new", 1, 20, 20, 0.9, "new"),
        ("old_single", 1, 400, 400, 0.6, "repeat"),  # one purchase long ago but still alive
        ("repeat", 3, 300, 10, 0.95, "repeat"),
        ("loyal", 8, 700, 5, 0.99, "loyal"),
        ("lapsing", 6, 700, 120, 0.3, "lapsing"),
        ("recent_low_p", 2, 100, 10, 0.3, "repeat"),  # low P(alive) but bought 10 days ago
        ("lost", 2, 900, 500, 0.05, "lost"),
        ("low_p_not_old", 2, 400, 90, 0.05, "lapsing"),  # lost needs 180 days too
    ],
    columns=["customer_id", "n_transactions", "first", "last", "p_alive", "expected"],
)
CUSTOMERS["first_purchase"] = CUSTOMERS["first"].map(_days)
CUSTOMERS["last_purchase"] = CUSTOMERS["last"].map(_days)

EVENTS = pd.DataFrame(
    [
        ("p_disc", 5, "visit"),
        ("p_browse", 5, "visit"),
        ("p_browse", 3, "visit"),
        ("p_buy", 4, "visit"),
        ("p_buy", 2, "quote"),
        ("p_stale", 400, "quote"),  # a quote outside the 90-day window: discovering
        ("loyal", 1, "visit"),  # customers keep their purchase stage
    ],
    columns=["customer_id", "days", "event_type"],
)
EVENTS["timestamp"] = EVENTS["days"].map(_days)
EXPECTED_PROSPECTS = {"p_disc": "discovering", "p_browse": "browsing", "p_buy": "buying",
                      "p_stale": "discovering", "lead": "discovering"}  # fmt: skip


def test_every_default_rule() -> None:
    out = lifecycle_stage(CUSTOMERS, TODAY, events=EVENTS, prospects=["lead", "p_buy"])
    got = dict(zip(out["customer_id"], out["stage"], strict=True))
    expected = dict(zip(CUSTOMERS["customer_id"], CUSTOMERS["expected"], strict=True))
    assert got == expected | EXPECTED_PROSPECTS
    assert set(out["stage"]) <= set(STAGE_NAMES)
    assert out["customer_id"].is_unique


def test_rules_are_data_and_stages_can_be_renamed() -> None:
    rules = {"loyal_min_purchases": 3, "names": {"lost": "churned"}, "browsing_min_visits": 1}
    out = lifecycle_stage(CUSTOMERS, TODAY, events=EVENTS, rules=rules).set_index("customer_id")
    assert out.loc["repeat", "stage"] == "loyal"
    assert out.loc["lost", "stage"] == "churned"
    assert out.loc["p_disc", "stage"] == "browsing"


def test_bad_rules_and_tables_are_named() -> None:
    with pytest.raises(ValidationError, match=r"lost_p_alive .* must be below lapsing_p_alive"):
        LifecycleRules(lost_p_alive=0.6)
    with pytest.raises(ValidationError, match="unknown stage"):
        LifecycleRules(names={"sleeping": "x"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        LifecycleRules.model_validate({"lapsing_days": 10})
    with pytest.raises(ValueError, match=r"customers table lacks column\(s\) \['p_alive'\]"):
        lifecycle_stage(CUSTOMERS.drop(columns="p_alive"), TODAY)
