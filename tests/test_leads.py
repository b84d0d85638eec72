"""Lead scoring and filtering (issue 14) on planted segments: calibration on held-out leads,
the keep rule, the typing tool path, the JSON file, bad lead files and `score --leads`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segmentum.activation.leads import (
    LEAD_COLUMNS,
    LEAD_MODEL_FILE,
    LeadScorer,
    conversion_by_source,
    fit_lead_scorer,
    lead_features,
    lead_summary,
    load_lead_scorer,
    target_segments,
)
from segmentum.cli.main import app
from segmentum.data.errors import DataError
from segmentum.valuation.typing_tool import TypingTool

SHARES = np.array([0.3, 0.45, 0.25])
AGE_MEAN = np.array([30.0, 50.0, 42.0])
SOURCE_P = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6], [0.3, 0.5, 0.2]])
REGION_P = np.array([[0.5, 0.5], [0.3, 0.7], [0.7, 0.3]])
TARGETS = (1, 3)


def people(n: int, seed: int, prefix: str = "C") -> tuple[pd.DataFrame, np.ndarray]:
    """Descriptors drawn independently given a planted segment (1..3)."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(3, size=n, p=SHARES)
    u = rng.random(n)
    src = (u[:, None] > np.cumsum(SOURCE_P[seg], axis=1)).sum(axis=1)
    reg = (rng.random(n) > REGION_P[seg, 0]).astype(int)
    frame = pd.DataFrame(
        {
            "id": [f"{prefix}{i:06d}" for i in range(n)],
            "age": np.rint(rng.normal(AGE_MEAN[seg], 8.0)),
            "region": np.array(["north", "south"])[reg],
            "channel": np.array(["web", "agent", "event"])[src],
        }
    )
    return frame, seg + 1


@pytest.fixture(scope="module")
def fitted():  # type: ignore[no-untyped-def]
    cust, seg = people(3_000, seed=1)
    feats = lead_features(cust, id_column="id", descriptors=["age", "region"], source="channel")
    labels = pd.Series(seg, index=cust["id"].to_numpy())
    return fit_lead_scorer(
        feats, labels, targets=TARGETS, segment_names={1: "Young", 2: "Older", 3: "Mid"},
        value_per_head={1: 100.0, 2: 40.0, 3: 300.0}, threshold=0.5, id_column="lead_id",
        source_column="source",
    )  # fmt: skip


@pytest.fixture(scope="module")
def leads() -> tuple[pd.DataFrame, np.ndarray]:
    frame, seg = people(40_000, seed=2, prefix="L")
    return frame.rename(columns={"id": "lead_id", "channel": "source"}), seg


def test_probabilities_are_calibrated_on_held_out_leads(fitted, leads) -> None:  # type: ignore[no-untyped-def]
    frame, seg = leads
    scored = fitted.scorer.score(frame)
    hit = np.isin(seg, TARGETS)
    p = scored["target_probability"].to_numpy()
    order = np.argsort(p)
    for b in np.array_split(order, 10):
        assert abs(p[b].mean() - hit[b].mean()) <= 0.05
    # the out-of-fold check on the training respondents says the same, within its noise
    gaps = (fitted.calibration["mean_predicted"] - fitted.calibration["observed"]).abs()
    assert len(fitted.calibration) == 10 and gaps.max() <= 0.1
    # the keep rule's rates on the held-out respondents match those on new leads
    keep = scored["keep"].to_numpy()
    assert fitted.kept_target == pytest.approx(keep[hit].mean(), abs=0.05)
    assert fitted.kept_other == pytest.approx(keep[~hit].mean(), abs=0.05)
    assert 0.75 < fitted.auc <= 1.0


def test_scored_columns_reason_and_value(fitted, leads) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    scored = fitted.scorer.score(frame.head(500))
    assert list(scored.columns[: 1 + len(LEAD_COLUMNS)]) == ["lead_id", *LEAD_COLUMNS]
    P = scored[["p_1", "p_2", "p_3"]].to_numpy()
    assert P.sum(axis=1) == pytest.approx(np.ones(500))
    assert scored["target_probability"].to_numpy() == pytest.approx(P[:, [0, 2]].sum(axis=1))
    assert scored["expected_value"].to_numpy() == pytest.approx(P @ [100.0, 40.0, 300.0])
    assert (scored["keep"] == (scored["target_probability"] >= 0.5)).all()
    assert (scored["score"] == np.rint(100 * scored["target_probability"])).all()
    r = scored.iloc[0]
    pct = round(100 * r["segment_probability"])
    target = "target" if r["segment"] in TARGETS else "not a target"
    assert r["reason"].startswith(f"likely segment {r['segment']} '{r['segment_name']}', {pct} %;")
    assert f"; {target}" in r["reason"]
    assert r["reason"].endswith("keep" if r["keep"] else "drop")
    s = lead_summary(scored)
    assert s["kept"] + s["dropped"] == 500
    assert s["value_kept"] == pytest.approx(scored.loc[scored["keep"], "expected_value"].sum())


def test_conversion_by_source_scales_expected_value(fitted, leads) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    hist = pd.DataFrame({"source": ["web"] * 100 + ["agent"] * 100,
                         "won": [1] * 30 + [0] * 70 + [1] * 5 + [0] * 95})  # fmt: skip
    rates = conversion_by_source(hist, source="source", converted="won", prior_strength=0.0)
    assert rates == pytest.approx({"web": 0.30, "agent": 0.05})
    shrunk = conversion_by_source(hist, source="source", converted="won")
    assert 0.05 < shrunk["agent"] < shrunk["web"] < 0.30
    sc = LeadScorer(**{**fitted.scorer.__dict__, "conversion": rates, "default_conversion": 0.1})
    a = fitted.scorer.score(frame.head(300))
    b = sc.score(frame.head(300))
    factor = frame.head(300)["source"].map({"web": 0.3, "agent": 0.05}).fillna(0.1).to_numpy()
    assert b["expected_value"].to_numpy() == pytest.approx(a["expected_value"] * factor)


def test_json_round_trip_scores_the_same(fitted, leads, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    path = fitted.scorer.save(tmp_path / "lead_projection.json")
    data = json.loads(path.read_text())
    assert data["format"] == "segmentum.projection" and data["lead_scoring"]["targets"] == [1, 3]
    back = load_lead_scorer(path)
    pd.testing.assert_frame_equal(back.score(frame.head(200)), fitted.scorer.score(frame.head(200)))
    data["lead_scoring"]["targets"] = [7]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="not segments of the model"):
        load_lead_scorer(path)


def tool() -> TypingTool:
    """One golden question q1 (1..7): low answers → segment 1, high → segment 3."""
    return TypingTool(
        items=("q1",), answer_scale={"q1": {"min": 1.0, "max": 7.0, "levels": None}},
        segments=(1, 2, 3), segment_names={1: "Young", 2: "Older", 3: "Mid"}, method="logit",
        mean=np.array([4.0]), scale=np.array([1.0]), coefficients=np.array([[-3.0], [0.0], [3.0]]),
        intercepts=np.zeros(3),
    )  # fmt: skip


def test_leads_with_answers_are_typed_by_the_golden_questions(fitted, leads) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    sc = LeadScorer(**{**fitted.scorer.__dict__, "typing_tool": tool()})
    few = frame.head(3).assign(q1=[7, None, 1])
    out = sc.score(few)
    assert out["method"].tolist() == ["typing_tool", "lead_model", "typing_tool"]
    assert out["segment"].iloc[0] == 3 and out["segment"].iloc[2] == 1
    assert out["reason"].iloc[0].startswith("golden questions: likely segment 3 'Mid'")
    plain = fitted.scorer.score(few)
    assert out["target_probability"].iloc[1] == pytest.approx(plain["target_probability"].iloc[1])
    with pytest.raises(DataError) as err:
        sc.score(frame.head(3).assign(q1=[7, 9, 1]), table="leads.csv")
    p = err.value.problems[0]
    assert (p.table, p.row, p.column) == ("leads.csv", 2, "q1")


def test_lead_file_missing_a_field_the_model_needs(fitted, leads) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    with pytest.raises(DataError) as err:
        fitted.scorer.score(frame.drop(columns=["region"]).head(5), table="leads.csv")
    assert "leads.csv: missing column(s) ['region']" in str(err.value)
    assert (err.value.problems[0].table, err.value.problems[0].column) == ("leads.csv", "region")
    with pytest.raises(DataError) as err:
        fitted.scorer.score(frame.drop(columns=["source"]).head(5))
    assert err.value.problems[0].column == "source"
    bad = frame.head(5).assign(age=["31", "x", "40", "", None])
    with pytest.raises(DataError) as err:
        fitted.scorer.score(bad)
    p = err.value.problems
    assert [(q.row, q.column, q.value) for q in p] == [(2, "age", "x")]
    with pytest.raises(DataError, match="no leads"):
        fitted.scorer.score(frame.head(0))


def test_target_segments_from_priorities_or_named() -> None:
    pri = pd.DataFrame({"rank": [3, 1, 2, 4], "knocked_out": [False, True, False, False]},
                       index=[1, 2, 3, 4])  # fmt: skip
    assert target_segments(pri, [1, 2, 3, 4]) == (3, 1)
    assert target_segments(pri, [1, 2, 3, 4], top_n=1) == (3,)
    assert target_segments(pri, [1, 2, 3, 4], named=[4]) == (4,)
    with pytest.raises(ValueError, match=r"names \[9\]"):
        target_segments(pri, [1, 2, 3, 4], named=[9])


def test_cli_score_leads_writes_the_contract_columns(fitted, leads, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frame, _ = leads
    run = tmp_path / "run"
    fitted.scorer.save(run / LEAD_MODEL_FILE)
    src = tmp_path / "leads.csv"
    frame.head(50).to_csv(src, index=False)
    out = tmp_path / "scored.csv"
    res = CliRunner().invoke(app, ["score", str(run), "--leads", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    need = ["lead_id", "segment", "target_probability", "expected_value", "score", "keep", "reason"]
    assert list(got.columns[:7]) == need and len(got) == 50
    assert f"keep {int(got['keep'].sum())}" in res.output
    frame.head(5).drop(columns=["age"]).to_csv(src, index=False)
    res = CliRunner().invoke(
        app, ["score", str(run), "--leads", str(src), "--out", str(out), "--force"]
    )
    assert res.exit_code == 3 and "missing column(s) ['age']" in res.output
    res = CliRunner().invoke(app, ["score", str(run), "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "exactly one of --answers" in res.output


def test_raking_on_cells_gives_the_per_customer_mix(fitted) -> None:  # type: ignore[no-untyped-def]
    """A channel's mix by descriptor raked on cells of people sharing their descriptor
    values (count and mean probabilities, what Spark brings to the driver) is the mix raked
    on every person: raking gives everyone in a cell the same factor."""
    from segmentum.activation.channels import mix_from_descriptors
    from segmentum.activation.gtm import TableBase

    cust, _ = people(2_000, seed=11)
    base = TableBase(cust, "id")
    model = fitted.scorer.model
    feats, ones, P = base.cells(["age", "region"], "channel", model, ["source", "region"])
    assert len(feats) == 2_000 and (ones == 1).all()
    keys = [feats["source"].astype(str), feats["region"].astype(str)]
    probs = pd.DataFrame(P, index=feats.index)
    grouped = probs.groupby(keys, observed=True)
    mean, counts = grouped.mean(), grouped.size()
    cells = mean.index.to_frame(index=False)
    assert len(cells) == 6  # 3 sources x 2 regions
    marginals = {"source": {"web": 0.6, "agent": 0.4}, "region": {"north": 0.3, "south": 0.7}}
    want = mix_from_descriptors(marginals, feats, P)
    got = mix_from_descriptors(marginals, cells, mean.to_numpy(), counts=counts.to_numpy())
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the unweighted cells (one person each) would not give it
    flat = mix_from_descriptors(marginals, cells, mean.to_numpy())
    assert np.abs(flat - want).max() > 1e-3
