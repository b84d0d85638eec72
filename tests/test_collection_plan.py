"""Data-collection plan: planted-informative fields rank first; the golden questions' gain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.demo import _spec as spec
from segmentum.valuation.collection import collection_plan, field_groups


def _planted(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    seg = rng.integers(1, 4, n)
    ids = [f"c{i}" for i in range(n)]
    strong = np.where(rng.random(n) < 0.8, seg, rng.integers(1, 4, n))  # 80 % its segment
    feats = pd.DataFrame(
        {
            "channel": pd.Categorical([f"ch{v}" for v in strong]),
            "weak": seg * 0.5 + rng.normal(0, 1, n),
            "noise": rng.normal(0, 1, n),
            "noise_cat": pd.Categorical(rng.choice(["x", "y"], n)),
            "mix_product=a": rng.random(n),
            "mix_product=b": rng.random(n),
        },
        index=pd.Index(ids, name="customer_id"),
    )
    golden = pd.DataFrame({"q1": seg + rng.normal(0, 0.3, n)}, index=feats.index)
    return feats, pd.Series(seg, index=feats.index), golden


def test_planted_fields_rank_first_and_noise_adds_nothing() -> None:
    feats, labels, golden = _planted()
    assert field_groups(feats)["mix_product"] == ["mix_product=a", "mix_product=b"]
    plan = collection_plan(feats, labels, golden=golden, max_fields=4)
    t = plan.table.set_index("field")
    assert t.loc["channel", "greedy_rank"] == 1
    assert t.loc["channel", "accuracy_alone"] > t.loc["weak", "accuracy_alone"]
    for noise in ("noise", "noise_cat", "mix_product"):
        assert t.loc["weak", "accuracy_alone"] > t.loc[noise, "accuracy_alone"]
        # refitting without a noise field loses nothing: its interval holds 0
        assert t.loc[noise, "gain_low"] <= 0 <= t.loc[noise, "gain_high"] + 1e-12
    lo, _hi = t.loc["channel", ["gain_low", "gain_high"]]
    assert lo > 0, "dropping the planted channel must cost accuracy"
    ranked = plan.table.dropna(subset=["greedy_rank"])
    assert ranked["cumulative_accuracy"].is_monotonic_increasing
    assert "Collect these" in plan.sentence and f"{ranked['cumulative_accuracy'].iloc[-1]:.0%}" in (
        plan.sentence
    )
    # a near-perfect golden question: alone it types almost everyone, and adds to the fields
    g = plan.golden
    assert g["accuracy_alone"] > 0.9 and g["gain_low"] > 0
    assert set(plan.by_segment["segment"]) == {1, 2, 3}


def test_refuses_unknown_labels() -> None:
    feats, labels, _ = _planted(60)
    with pytest.raises(ValueError, match="not in the features"):
        collection_plan(feats, pd.concat([labels, pd.Series([1], index=["zz"])]))


def _mutual_information(prob: np.ndarray) -> float:
    """Planted I(field; segment) in nats from P(level | segment) (rows: segments)."""
    w = spec.SEGMENT_SHARES
    m = w @ prob
    return float(np.sum(w[:, None] * prob * np.log(prob / m)))


def test_demo_plan_ranks_planted_informative_fields_first(app_demo: Path) -> None:
    from scipy.stats import norm

    grid = np.linspace(-20, 110, 3000)
    age = np.array([norm.pdf(grid, m, spec.AGE_SD) for m in spec.AGE_MEAN])
    mi = {
        "acquisition_channel": _mutual_information(spec.ACQUISITION_PROB),
        "age": _mutual_information(age / age.sum(axis=1, keepdims=True)),
        "payment_plan": _mutual_information(np.c_[spec.P_MONTHLY, 1 - spec.P_MONTHLY]),
        "gender": _mutual_information(spec.GENDER_PROB),
        "region": _mutual_information(spec.REGION_PROB),
    }
    informative = [f for f, v in mi.items() if v >= 0.05]
    uninformative = [f for f, v in mi.items() if v <= 0.025]
    assert set(informative) == {"acquisition_channel", "age", "payment_plan"}
    assert set(uninformative) == {"gender", "region"}
    run = next(p for p in (app_demo / "runs").iterdir() if p.is_dir())
    t = pd.read_csv(run / "collection_plan.csv").set_index("field")
    for good in informative:
        for bad in uninformative:
            assert t.loc[good, "accuracy_alone"] > t.loc[bad, "accuracy_alone"], (good, bad)
    assert t["greedy_rank"].min() == 1 and t["greedy_rank"].idxmin() == "acquisition_channel"
    # the golden questions asked on a web form: alone, the typing tool's accuracy within
    # the interval of the refit
    seg = json.loads((run / "segments.json").read_text(encoding="utf-8"))
    plan = json.loads((run / "activation.json").read_text(encoding="utf-8"))["collection_plan"]
    g = plan["golden"]
    tool = json.loads((run / "model" / "typing_tool.json").read_text(encoding="utf-8"))
    assert g["items"] == list(tool["items"])
    assert g["low"] <= seg["typing_tool"]["accuracy"] <= g["high"]
    assert g["gain_low"] > 0
    assert t.loc["golden questions (web form)", "cumulative_accuracy"] > plan["accuracy_all"]
