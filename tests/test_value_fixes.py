"""Value fixes of issue 15: non-positive repeat spend, the full RFM score range, the header date."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segmentum.flow import StageOutcome
from segmentum.project import _subtitle
from segmentum.value import plots
from segmentum.value.models import GammaGammaModel
from segmentum.value.report import report_section
from segmentum.value.rfm import rfm_grid, rfm_scores
from segmentum.value.stage import ValueConfig, ValueResult, run_value
from segmentum.value.summary import summarize

_COLS = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollar_value"}
_FAST = ValueConfig(holdout_periods=0)


@pytest.fixture(scope="module")
def master(shared_data: Path) -> ValueResult:
    """The full CDNOW cohort (23,570 customers; one repeat buyer's repeat spend is $0)."""
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_master_transactions.csv")
    return run_value(tx, **_COLS, config=_FAST)


def test_cdnow_zero_repeat_spend_keeps_clv_for_everyone(master: ValueResult) -> None:
    pc = master.per_customer
    bad = (pc["frequency"] > 0) & (pc["monetary_value"] <= 0)
    n_bad = int(bad.sum())
    assert n_bad >= 1  # the data as shipped: this is the customer that switched CLV off
    assert len(pc) == 23_570 and pc["clv"].notna().all() and np.isfinite(pc["clv"]).all()
    assert "clv" not in master.summary["skipped"]
    spend = master.models["spend"]
    assert master.summary["spend_model"]["excluded_customers"] == n_bad
    # the excluded get the population (prior) mean spend, everyone else the model's estimate
    assert pc.loc[bad, "expected_spend"].to_numpy() == pytest.approx(spend.mean_spend_)
    note = [w for w in master.warnings if "zero or less" in w]
    assert len(note) == 1 and f"{n_bad:,} of " in note[0] and "left out" in note[0]
    blocks = report_section(master).to_context()["blocks"]
    texts = [b["text"] for b in blocks if b["kind"] == "text"]  # beside the CLV figures
    assert any("zero or less" in t and "population mean spend" in t for t in texts)


def test_excluded_customers_do_not_enter_the_spend_fit(shared_data: Path) -> None:
    """Plant refunds on 5 repeat buyers of the CDNOW sample: the fit equals one without them."""
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    full = summarize(tx, "customer_id", "date", "dollar_value", time_unit="W")
    planted = full.loc[full["frequency"] > 0, "customer_id"].iloc[:5].tolist()
    first_day = tx.groupby("customer_id")["date"].transform("min")
    repeat_line = tx["customer_id"].isin(planted) & (tx["date"] > first_day)
    tx.loc[repeat_line, "dollar_value"] = 0.0
    tx.loc[repeat_line & (tx["customer_id"] == planted[0]), "dollar_value"] = -5.0  # a refund
    result = run_value(tx, **_COLS, config=_FAST)
    pc = result.per_customer.set_index("customer_id")
    assert result.summary["spend_model"]["excluded_customers"] == 5
    assert pc["clv"].notna().all()
    clean = full[~full["customer_id"].isin(planted)]
    reference = GammaGammaModel().fit(clean)
    for name, value in reference.params_.items():
        assert result.models["spend"].params_[name] == pytest.approx(value, rel=1e-4)
    others = pc.drop(index=planted)
    expected = reference.expected_spend(clean.set_index("customer_id").loc[others.index])
    assert others["expected_spend"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-4)
    assert pc.loc[planted, "expected_spend"].to_numpy() == pytest.approx(reference.mean_spend_)


def test_clv_off_only_when_too_few_positive_repeat_buyers() -> None:
    rows = []
    for c in range(40):  # 12 repeat buyers, 5 of them with $0 repeat spend: 7 positive < 10
        rows.append((c, "2024-01-01", 10.0 + c))
        if c < 12:
            rows.append((c, "2024-03-01", 0.0 if c < 5 else 20.0 + c))
            rows.append((c, "2024-05-01", 0.0 if c < 5 else 15.0))
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "dollar_value"])
    result = run_value(tx, **_COLS, config=_FAST)
    assert "clv" not in result.per_customer
    reason = result.summary["skipped"]["expected_spend"]
    assert "positive spend" in reason and "7 of 40" in reason
    assert "positive spend" in result.summary["skipped"]["clv"]


def test_rfm_heavy_ties_use_every_score() -> None:
    # 70 % never bought again: by average rank they all sat in score 2 and no one scored 1
    s = pd.DataFrame(
        {
            "T": [20.0] * 20,
            "recency": [0.0] * 14 + [2, 5, 8, 11, 15, 19],
            "frequency": [0] * 14 + [1, 1, 2, 3, 5, 8],
            "revenue": [10.0] * 10 + [20.0] * 6 + [30, 40, 50, 60],
        }
    )
    sc = rfm_scores(s, bins=5)
    for col, src in (
        ("recency_score", -(s["T"] - s["recency"])),
        ("frequency_score", s["frequency"]),
        ("monetary_score", s["revenue"]),
    ):
        assert sorted(sc[col].unique()) == [1, 2, 3, 4, 5], col
        # equal values share a score and a higher value never scores lower
        assert (sc.groupby(src)[col].nunique() == 1).all(), col
        order = np.argsort(src.to_numpy(), kind="stable")
        assert (np.diff(sc[col].to_numpy()[order]) >= 0).all(), col
    assert (sc["frequency_score"][s["frequency"] == 0] == 1).all()
    assert (sc["frequency_score"][s["frequency"] == 8] == 5).all()


def test_rfm_fewer_distinct_values_than_scores_spread_over_the_range() -> None:
    s = pd.DataFrame({"T": [5.0] * 6, "recency": [0.0] * 6, "frequency": [0, 0, 0, 0, 1, 1]})
    s["revenue"] = [1.0, 1, 2, 2, 3, 3]
    sc = rfm_scores(s, bins=5)
    assert sc["frequency_score"].tolist() == [1, 1, 1, 1, 5, 5]
    assert sc["monetary_score"].tolist() == [1, 1, 3, 3, 5, 5]
    assert set(sc["recency_score"]) == {1}  # one value: one score
    grid = rfm_grid(pd.concat([s, sc], axis=1), bins=5)
    assert len(grid) == 25 and grid["customers"].sum() == 6


def test_cdnow_rfm_grid_shows_every_cell(master: ValueResult) -> None:
    pc = master.per_customer
    for col in ("recency_score", "frequency_score", "monetary_score"):
        assert sorted(pc[col].unique()) == [1, 2, 3, 4, 5], col
    grid = rfm_grid(pc, bins=5)
    assert len(grid) == 25 and grid["customers"].sum() == len(pc)
    cells = list(zip(grid["recency_score"], grid["frequency_score"], strict=True))
    assert cells == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    fig = plots.rfm_heatmap(grid)
    trace = fig.data[0]
    assert list(trace["x"]) == ["1", "2", "3", "4", "5"]
    assert np.isfinite(np.asarray(trace["z"], dtype=float)).all()  # no blank cell
    assert all(t != "" for row in trace["text"] for t in row)
    assert fig.layout.xaxis.type == "category"  # one equal column per score


def test_header_prints_an_analysis_date_only_when_there_is_one() -> None:
    manifest = {"run_id": "r1", "seed": 7}
    survey_only = SimpleNamespace(analysis_date=None)
    assert _subtitle(manifest, survey_only, {}) == "Run r1 · seed 7"  # type: ignore[arg-type]
    value = StageOutcome(
        "value", status="ran", result=SimpleNamespace(summary={"analysis_date": "1998-06-30"})
    )
    line = _subtitle(manifest, survey_only, {"value": value})  # type: ignore[arg-type]
    assert line.endswith("analysis date 1998-06-30 (last transaction)")
    declared = SimpleNamespace(analysis_date=pd.Timestamp("2024-06-30"))
    line = _subtitle(manifest, declared, {"value": value})  # type: ignore[arg-type]
    assert line == "Run r1 · seed 7 · analysis date 2024-06-30"
    assert "None" not in _subtitle(
        manifest, survey_only, {"value": StageOutcome("value", "skipped")}
    )  # type: ignore[arg-type]


def test_run_without_transactions_has_no_analysis_date_in_its_header(tmp_path: Path) -> None:
    import json

    from segmentum.project import Project

    (tmp_path / "customers.csv").write_text("customer_id,age\nC1,34\nC2,51\nC3,29\n")
    (tmp_path / "segmentum.toml").write_text(
        '[project]\nname = "tiny"\nseed = 7\n\n[sources.customers]\npath = "customers.csv"\n'
        'descriptors = ["age"]\n'
    )
    result = Project.load(tmp_path / "segmentum.toml").run()
    twin = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))
    assert twin["subtitle"] == f"Run {result.run_id} · seed 7"
    assert "analysis date" not in (result.run_dir / "report.html").read_text(encoding="utf-8")
