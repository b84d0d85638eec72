"""Trigger rules: hand-built event sequences fire exactly the customers they should."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from segmentum.activation.triggers import (
    TriggerRule,
    TriggerSettings,
    default_rules,
    evaluate_triggers,
    merged_rules,
    write_triggers,
)

TODAY = pd.Timestamp("2025-07-01")


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", '=HYPERLINK("http://x","y")'],
            "segment": [2, 2, 2, 1, 2, 2],
            "stage": ["lapsing", "lapsing", "loyal", "lapsing", "lapsing", "lapsing"],
            "control": [False, False, False, False, True, False],
        }
    )


def _events() -> pd.DataFrame:
    rows = [
        ("a", "2025-06-28 10:00", "visit"),  # lapsing, segment 2, recent visit: fires
        ("b", "2025-06-01 10:00", "visit"),  # too old
        ("b", "2025-07-02 10:00", "visit"),  # after the analysis date
        ("b", "2025-06-29 10:00", "purchase"),  # not a rule event
        ("c", "2025-06-29 10:00", "visit"),  # loyal, not lapsing
        ("d", "2025-06-29 10:00", "visit"),  # segment 1
        ("e", "2025-06-29 10:00", "visit"),  # control group
        ('=HYPERLINK("http://x","y")', "2025-06-30 09:00", "support"),  # fires
    ]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "event_type"])


def test_rule_fires_for_exactly_the_customers_it_should() -> None:
    rule = TriggerRule(id="lapse2", segment=2, stage="lapsing", events=["visit", "support"])
    res = evaluate_triggers([rule], _customers(), _events(), TODAY)
    fired = set(res.firing["customer_id"])
    assert fired == {"a", '=HYPERLINK("http://x","y")'}
    assert int(res.table.loc[0, "customers_firing"]) == 2
    # a wider window brings in b's old visit; min_events=2 then still excludes a
    wide = TriggerRule(id="w", segment=2, stage="lapsing", events=["visit"], within_days=45)
    assert set(evaluate_triggers([wide], _customers(), _events(), TODAY).firing["customer_id"]) == {
        "a", "b"
    }  # fmt: skip
    twice = TriggerRule(id="t", segment=2, stage="lapsing", events=["visit"], within_days=45,
                        min_events=2)  # fmt: skip
    assert evaluate_triggers([twice], _customers(), _events(), TODAY).firing.empty
    # any segment, any stage: every non-control customer with a recent visit
    anyone = TriggerRule(id="any", events=["visit"])
    got = set(evaluate_triggers([anyone], _customers(), _events(), TODAY).firing["customer_id"])
    assert got == {"a", "c", "d"}


def test_default_rules_and_offers_from_segment_stage() -> None:
    cells = pd.DataFrame(
        {
            "segment": [2, 2, 1],
            "stage": ["lapsing", "loyal", "lapsing"],
            "offer": ["winback", None, "winback"],
            "expected_value": [12.5, None, 3.0],
        }
    )
    rules = default_rules(cells, [2], TriggerSettings(default_events=["visit", "support"]))
    assert [r.id for r in rules] == ["s2_lapsing"]  # loyal has no offer; segment 1 not a priority
    res = evaluate_triggers(rules, _customers(), _events(), TODAY, segment_stage=cells)
    row = res.table.iloc[0]
    assert row["offer"] == "winback" and row["offer_expected_value"] == 12.5
    assert row["customers_firing"] == 2
    own = TriggerRule(id="s2_lapsing", segment=2, stage="lapsing", events=["purchase"],
                      offer="loyalty_discount")  # fmt: skip
    merged = merged_rules(rules, [own])
    assert merged == [own]
    with pytest.raises(ValueError, match="used twice"):
        merged_rules(rules, [own, own])


def test_trigger_table_is_injection_safe(tmp_path: Path) -> None:
    rule = TriggerRule(id="lapse2", segment=2, stage="lapsing", events=["visit", "support"],
                       offer="=cmd|' /C calc'!A0")  # fmt: skip
    res = evaluate_triggers([rule], _customers(), _events(), TODAY)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": []}))
    files = write_triggers(res, tmp_path)
    assert {f["path"] for f in files} == {"triggers.csv", "trigger_customers.csv"}
    with (tmp_path / "trigger_customers.csv").open(newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert '\'=HYPERLINK("http://x","y")' in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    with (tmp_path / "triggers.csv").open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert table[0]["offer"] == "'=cmd|' /C calc'!A0"
    assert table[0]["customers_firing"] == "2"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {f["kind"] for f in manifest["files"]} == {"triggers", "trigger_customers"}


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        TriggerRule(id="bad id with spaces", events=["visit"])
    with pytest.raises(ValueError):
        TriggerRule(id="x", events=[])
    with pytest.raises(ValueError, match="lacks column"):
        evaluate_triggers([TriggerRule(id="x", events=["visit"])],
                          _customers().drop(columns="stage"), _events(), TODAY)  # fmt: skip


def test_demo_triggers_fire_for_the_customers_they_should(app_demo: Path) -> None:
    run = next(p for p in (app_demo / "runs").iterdir() if p.is_dir())
    act = json.loads((run / "activation.json").read_text(encoding="utf-8"))
    today = pd.Timestamp(act["analysis_date"])
    rules = pd.read_csv(run / "audiences" / "triggers.csv")
    fired = pd.read_csv(run / "audiences" / "trigger_customers.csv", dtype={"customer_id": str})
    assert len(rules) and set(rules["segment"]) <= set(act["targets"])
    people = pd.read_parquet(run / "assignments.parquet").dropna(subset=["customer_id"])
    people = people.drop_duplicates("customer_id").set_index("customer_id")
    events = pd.read_parquet(app_demo / "data" / "events.parquet")
    recent = events[(events["timestamp"] <= today)
                    & (events["timestamp"] > today - pd.Timedelta(days=7))
                    & events["event_type"].isin(["visit", "quote", "support"])]  # fmt: skip
    for rule in rules.itertuples():
        mine = people[(people["segment"] == rule.segment) & (people["stage"] == rule.stage)
                      & ~people["control"].astype(bool)]  # fmt: skip
        expected = set(recent["customer_id"].astype(str)) & set(mine.index.astype(str))
        got = set(fired.loc[fired["rule_id"] == rule.rule_id, "customer_id"])
        assert got == expected, rule.rule_id
        assert rule.customers_firing == len(expected)
    manifest = json.loads((run / "audiences" / "manifest.json").read_text(encoding="utf-8"))
    assert {"triggers.csv", "trigger_customers.csv"} <= {f["path"] for f in manifest["files"]}
