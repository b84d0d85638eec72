"""The valuation stage as one call on the demo market: contract names and model files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import segmentum
from segmentum.demo import NEED_COLUMNS, make_market
from segmentum.valuation import ValuationConfig, load_typing_tool
from segmentum.valuation.projection import ProjectionModel
from segmentum.valuation.run import report_section, run_valuation
from segmentum.value import run_value


@pytest.fixture(scope="module")
def demo_run():
    m = make_market(seed=0, n_customers=3000, n_respondents=900)
    value = run_value(
        m.transactions, customer_id="customer_id", timestamp="date", amount="amount",
        margin="margin", channel="channel", events=m.events, customers=m.customers,
        analysis_date=m.analysis_date,
    )  # fmt: skip
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    names = sorted(truth.unique())
    code = {n: i + 1 for i, n in enumerate(names)}
    segs = truth.map(code).astype(int)
    brands = sorted(m.competitor_ratings["brand"].unique())
    cfg = ValuationConfig(typing_method="lda", our_brand=brands[0], n_draws=500)
    res = run_valuation(
        m.survey, segs, respondent_id="respondent_id", basis=list(NEED_COLUMNS),
        survey_customer_id="customer_id", weights="weight",
        segment_names={v: k for k, v in code.items()},
        customers=m.customers, customer_id="customer_id", per_customer=value.per_customer,
        transactions=m.transactions, timestamp="date", amount="amount",
        mix_columns=["product", "channel"], events=m.events, event_type="event_type",
        ratings=m.competitor_ratings,
        defining_needs={code[k]: v for k, v in m.defining_needs.items()}, config=cfg,
    )  # fmt: skip
    return m, res, code


def test_every_customer_has_a_segment(demo_run) -> None:
    m, res, code = demo_run
    cs = res.customer_segments
    assert len(cs) == len(m.customers) and cs["segment"].notna().all()
    assert set(cs["segment_source"]) == {"survey", "projected"}
    linked = m.survey["customer_id"].dropna()
    assert (cs.loc[linked, "segment_source"] == "survey").all()
    assert pd.api.types.is_integer_dtype(cs["segment"])
    # projected customers mostly land in their planted segment
    planted = m.truth.dropna(subset=["customer_id"]).set_index("customer_id")["segment"].map(code)
    proj = cs[cs["segment_source"] == "projected"]
    assert (proj["segment"] == planted.loc[proj.index]).mean() > 0.6


def test_segments_json_contract(demo_run) -> None:
    _, res, code = demo_run
    js = json.loads(json.dumps(res.segments_json()))  # plain JSON
    assert {"accuracy", "chance", "n_train"} <= set(js["projection"])
    assert js["projection"]["accuracy"] > js["projection"]["chance"]
    assert set(js["segments"]) == {str(v) for v in code.values()}
    ranks = []
    for entry in js["segments"].values():
        pr = entry["priority"]
        assert {"rank", "attractiveness", "competitiveness", "knocked_out", "p_first",
                "p_top2"} <= set(pr)  # fmt: skip
        assert pr["competitiveness"] is not None
        ranks.append(pr["rank"])
        assert {"population_share", "customers", "clv_per_head", "growth"} <= set(
            entry["valuation"]
        )
    assert sorted(ranks) == list(range(1, len(code) + 1))
    assert sum(e["priority"]["p_first"] for e in js["segments"].values()) == pytest.approx(1.0)
    assert res.sentence.startswith("Target ")


def test_model_files_and_report(demo_run, tmp_path: Path) -> None:
    m, res, _ = demo_run
    written = {p.name for p in res.save(tmp_path / "model")}
    assert {
        "typing_tool.json",
        "typing_tool.xlsx",
        "questionnaire.md",
        "projection.json",
    } <= written
    tool = json.loads((tmp_path / "model" / "typing_tool.json").read_text())
    assert tool["items"] == list(res.typing.tool.items)
    assert tool["accuracy"] == pytest.approx(res.typing.accuracy) and tool["target"] == 0.85
    # score the survey back from the run folder: at least the reported accuracy
    scored = segmentum.score(tmp_path, m.survey)
    truth = res.typing.tool.predict(m.survey[tool["items"]].to_numpy())
    assert (scored["segment"].to_numpy() == truth).all()
    assert load_typing_tool(tmp_path).items == res.typing.tool.items
    back = ProjectionModel.from_dict(
        json.loads((tmp_path / "model" / "projection.json").read_text())
    )
    feats_cols = list(back.numeric) + list(back.categorical)
    assert feats_cols  # the projection's columns are recorded
    sec = report_section(res)
    ctx = sec.to_context()
    assert ctx["summary"] == res.sentence
    kinds = [b["kind"] for b in ctx["blocks"]]
    assert kinds.count("figure") == 2 and "html" in kinds
    assert np.isfinite(res.projection.accuracy)


def test_assignment_rows_contract(demo_run) -> None:
    m, res, code = demo_run
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    resp = pd.DataFrame(
        {
            "respondent_id": m.survey["respondent_id"],
            "segment": m.survey["respondent_id"].map(truth.map(code)).to_numpy(),
            "segment_probability": 1.0,
            "customer_id": m.survey["customer_id"],
        }
    )
    rows = res.assignment_rows(
        resp, respondent_id="respondent_id", customer_id="customer_id",
        survey_customer_id="customer_id",
    )  # fmt: skip
    assert pd.api.types.is_integer_dtype(rows["segment"])
    assert rows["segment_probability"].notna().all()
    assert set(rows["segment_source"]) == {"survey", "projected"}
    assert set(m.customers["customer_id"]) <= set(rows["customer_id"].dropna())
    assert set(m.survey["respondent_id"]) <= set(rows["respondent_id"].dropna())
    assert rows["customer_id"].dropna().is_unique
    assert len(rows) == len(m.survey) + len(m.customers) - m.survey["customer_id"].notna().sum()


# issue 12: the valuation ranks the planted segments as their planted economics do
def test_ranking_agrees_with_the_planted_value_ranking(demo_run) -> None:
    from scipy.stats import spearmanr

    from segmentum.demo._economics import value_ranking
    from segmentum.demo._spec import OUR_BRAND

    m, res, code = demo_run
    assert res.priorities is not None
    assert sorted(m.competitor_ratings["brand"].unique())[0] == OUR_BRAND  # the fixture's brand
    planted = m.truth_summary()["value_ranking"]
    assert planted == value_ranking()
    rank = res.priorities.table["rank"]
    names = {v: k for k, v in code.items()}
    fitted = {names[int(s)]: int(r) for s, r in rank.items()}
    rho = spearmanr([planted.index(n) + 1 for n in planted], [fitted[n] for n in planted])
    assert rho.statistic >= 0.8, fitted
    assert fitted[planted[0]] == 1, fitted
