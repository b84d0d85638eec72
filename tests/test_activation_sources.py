"""The offers and responses sources (issue 13): read and checked at ingest like every table,
bad rows named by file, row and column; and the demo's planted offers and responses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.data import DataError, ingest, load_config

CUSTOMERS = "customer_id,age\nC1,34\nC2,51\nC3,29\n"
OFFERS = (
    "offer_id,product,value,cost,segments,stages\nA,roadside,90,3,,new;loyal\nB,home,260,12,1;2,\n"
)
RESPONSES = (
    "customer_id,timestamp,offer_id,accepted,stage\n"
    "C1,2024-05-01,A,yes,loyal\nC2,2024-05-02,B,0,new\nC3,2024-05-03,A,True,loyal\n"
)
PROJECT = """
[project]
analysis_date = "2024-06-30"

[sources.customers]
path = "customers.csv"

[sources.offers]
path = "offers.csv"
id = "offer_id"
value = "value"
cost = "cost"
product = "product"
segments = "segments"
stages = "stages"

[sources.responses]
path = "responses.csv"
stage = "stage"
"""


def _ingest(tmp_path: Path, offers: str = OFFERS, responses: str = RESPONSES) -> object:
    for name, text in (
        ("customers.csv", CUSTOMERS),
        ("offers.csv", offers),
        ("responses.csv", responses),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "segmentum.toml").write_text(PROJECT, encoding="utf-8")
    return ingest(load_config(tmp_path / "segmentum.toml"), tmp_path)


def test_offers_and_responses_are_read_with_their_types(tmp_path: Path) -> None:
    data = _ingest(tmp_path)
    offers = data.frame("offers")  # type: ignore[attr-defined]
    assert offers["value"].dtype == float and offers["cost"].tolist() == [3.0, 12.0]
    responses = data.frame("responses")  # type: ignore[attr-defined]
    assert responses["accepted"].tolist() == [True, False, True]
    assert pd.api.types.is_datetime64_any_dtype(responses["timestamp"])


@pytest.mark.parametrize(
    ("offers", "responses", "message"),
    [
        (OFFERS.replace("90,3", "90,-3"), RESPONSES, r"offers.csv, row 1 \(line 2\), column 'cost'"),
        (OFFERS.replace("B,home", "A,home"), RESPONSES, r"row 2 \(line 3\), column 'offer_id': duplicate id"),
        (OFFERS, RESPONSES.replace(",B,0,", ",Z,0,"), r"row 2 \(line 3\), column 'offer_id': unknown id \(not in offers\)"),
        (OFFERS, RESPONSES.replace(",yes,", ",maybe,"), r"row 1 \(line 2\), column 'accepted': not yes/no"),
        (OFFERS, RESPONSES.replace("C3,", "C9,"), r"row 3 \(line 4\), column 'customer_id': unknown id"),
    ],
)  # fmt: skip
def test_bad_offers_and_responses_name_file_row_and_column(
    tmp_path: Path, offers: str, responses: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        _ingest(tmp_path, offers, responses)


def test_the_demo_plants_acceptance_by_segment_stage_and_offer() -> None:
    from segmentum.demo import make_market

    m = make_market(seed=0, n_customers=4_000, n_respondents=300)
    assert set(m.offers["offer_id"]) == {o["offer"] for o in m.offer_truth["acceptance"]}
    seg = m.truth.dropna(subset=["customer_id"]).set_index("customer_id")["segment"]
    r = m.responses.assign(segment=m.responses["customer_id"].map(seg))
    observed = r.groupby(["segment", "stage", "offer_id"])["accepted"].agg(["size", "mean"])
    planted = pd.DataFrame(m.offer_truth["acceptance"]).set_index(["segment", "stage", "offer"])
    thick = observed[observed["size"] >= 300]
    assert len(thick) >= 10
    rate = planted.loc[thick.index, "rate"].to_numpy()
    se = np.sqrt(rate * (1 - rate) / thick["size"].to_numpy())
    assert (np.abs(thick["mean"].to_numpy() - rate) < 4 * se).all()
    # the best offer of each cell is the planted rate x value - cost at its highest
    best = pd.DataFrame(m.offer_truth["best_offer"]).set_index(["segment", "stage"])["offer"]
    value = m.offers.set_index("offer_id")
    ev = planted["rate"] * value.loc[planted.index.get_level_values("offer"), "value"].to_numpy()
    ev -= value.loc[planted.index.get_level_values("offer"), "cost"].to_numpy()
    top = ev.groupby(level=["segment", "stage"]).idxmax().map(lambda k: k[2])
    assert (top.loc[best.index] == best).all()
    # every response logs a stage whose offers it may be shown
    stages = m.offers.set_index("offer_id")["stages"].str.split(";")
    ok = [s in stages[o] for s, o in zip(r["stage"], r["offer_id"], strict=True)]
    assert all(ok)
