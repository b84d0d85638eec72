"""Playbooks by segment x stage: every statement cites its number, wording follows the data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from segmentum.activation.playbooks import PlaybookSettings, build_playbooks
from segmentum.profiles.profile import profile
from segmentum.valuation.typing_tool import TypingTool

NEEDS = ["need_speed", "need_price", "need_service"]
NUMBER = re.compile(r"\d")


def _survey(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Segment 1 high on need_speed, 2 high on need_price, 3 average on everything (no defining
    need: it is only *lower* than the rest)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([1, 2, 3], 120)
    means = {1: [6.0, 3.0, 4.0], 2: [3.0, 6.0, 4.0], 3: [4.5, 4.5, 4.0]}
    rows = np.vstack([rng.normal(means[s], 0.8) for s in labels]).clip(1, 7).round()
    return pd.DataFrame(rows, columns=NEEDS), labels


def _tool() -> TypingTool:
    coef = np.array([[2.0, -1.0, 0.0], [-1.0, 2.0, 0.0], [-0.5, -0.5, 0.0]])
    return TypingTool(
        items=("need_speed", "need_price"),
        answer_scale={
            n: {"min": 1.0, "max": 7.0, "levels": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}
            for n in ("need_speed", "need_price")
        },
        segments=(1, 2, 3),
        segment_names={},
        method="logit",
        mean=np.array([4.5, 4.5]),
        scale=np.array([1.5, 1.5]),
        coefficients=coef[:, :2],
        intercepts=np.zeros(3),
    )


def _inputs() -> dict:
    survey, labels = _survey()
    prof = profile(survey, labels, basis=NEEDS)
    scores = pd.DataFrame(
        {"need_speed": [4.5, 3.0], "need_price": [2.5, 4.2], "need_service": [3.0, 3.0]},
        index=pd.Index(["Us", "Rival"], name="brand"),
    )
    ws = SimpleNamespace(
        competitor_scores=scores,
        table=pd.DataFrame(
            {
                "need": ["need_speed"],
                "segments": [(1,)],
                "importance": [6.0],
                "best_competitor": ["Rival"],
                "best_competitor_score": [3.0],
                "gap": [0.5],
            }
        ),
    )
    cells = pd.DataFrame(
        {
            "segment": [1, 1, 2, 3, 3],
            "stage": ["browsing", "lapsing", "loyal", "loyal", "lost"],
            "customers": [40, 12, 30, 25, 0],
            "offer": ["first_policy", "winback", None, "loyalty_discount", None],
            "expected_value": [7.25, 3.5, np.nan, 1.75, np.nan],
        }
    )
    mix = pd.DataFrame({"segment": [1, 2, 2, 3], "stage": ["lapsing", "loyal", "loyal", "loyal"],
                        "channel": ["app", "agent", "web", "phone"],
                        "share": [1.0, 0.6, 0.4, 1.0]})  # fmt: skip
    return dict(segment_stage=cells, profile=prof, segment_names={1: "A-lovers", 3: "Average"},
                stage_order=["browsing", "loyal", "lapsing", "lost"], white_space=ws,
                our_brand="Us", typing_tool=_tool(), channel_mix=mix,
                prospect_channel=("conference_b", 180.0), shares={1: 0.3, 2: 0.3, 3: 0.4})  # fmt: skip


def test_every_statement_cites_a_number_and_follows_the_data() -> None:
    kw = _inputs()
    books = build_playbooks([1, 2, 3], **kw)
    md = books.to_markdown()
    statements = [ln for ln in md.splitlines() if ln.lstrip().startswith("- ")]
    statements = [ln for ln in statements if not ln.rstrip().endswith(":**:")]
    assert statements
    for line in statements:
        if line.rstrip().endswith("**:"):  # a heading of a list of statements
            continue
        assert NUMBER.search(line), f"statement without a number: {line}"
    assert [h for h in md.splitlines() if h.startswith("## ")] == [
        "## Segment 1: A-lovers", "## Segment 2: Segment 2", "## Segment 3: Average"
    ]  # fmt: skip
    one = [p for p in books.playbooks if p.segment == 1]
    assert [p.stage for p in one] == ["browsing", "lapsing"]  # lifecycle order, no empty stage
    idx = kw["profile"].rows(1, "basis").set_index("variable")["index"]
    assert f"speed (index {idx['need_speed']:.0f})" in one[0].message[0]
    assert any("white space" in m and "3.0" in m for m in one[0].message)
    assert one[0].proof_points == ("speed: Us is rated best, 4.50 against 3.00 for Rival.",)
    assert "7.25" in one[0].offer and "40 customer(s)" in one[0].offer
    # channels by their labels (issue 15): conference_b -> "Conference B", app -> "App"
    assert "Conference B" in one[0].channel and "180" in one[0].channel  # prospects
    assert "App (100%" in one[1].channel  # customers: their acquisition channel
    assert any("Answers 5-7 point to the segment" in q for q in one[0].questions if "speed" in q)
    two = next(p for p in books.playbooks if p.segment == 2)
    assert two.proof_points[0].startswith("no proof point on price: Rival is rated 4.20")
    assert "no next best offer is made" in two.offer and "Agent (60%" in two.channel
    low = kw["profile"].rows(2, "basis")
    a_index = float(low.set_index("variable").loc["need_speed", "index"])
    assert any(f"speed (index {a_index:.0f}" in t for t in two.avoid)


def test_a_segment_without_a_distinctive_need_says_so() -> None:
    kw = _inputs()
    assert kw["profile"].defining_needs.get(3, ()) == ()  # the built case
    books = build_playbooks([3], **kw)
    (p,) = books.playbooks
    assert "no need sets segment 3 apart" in p.message[0]
    assert re.search(r"\(\d+ of 3 needs differ significantly", p.message[0])
    assert not any("rated best" in t for t in p.proof_points)
    assert not any("white space" in m for m in p.message)


def test_templates_are_data_and_checked() -> None:
    kw = _inputs()
    s = PlaybookSettings(templates={"offer": "Offer {offer} (EV {expected_value:.1f})."},
                         intents={"browsing": "Convert"})  # fmt: skip
    p = build_playbooks([1], settings=s, **kw).playbooks[0]
    assert p.offer == "Offer First policy (EV 7.2)."  # the offer by its label (issue 15)
    assert p.message[0].startswith("Convert: lead with")
    with pytest.raises(ValidationError, match="unknown placeholder"):
        PlaybookSettings(templates={"offer": "{offer} for {price}"})
    with pytest.raises(ValidationError, match="unknown template"):
        PlaybookSettings(templates={"slogan": "buy now"})


def _run(app_demo: Path) -> Path:
    return next(p for p in (app_demo / "runs").iterdir() if p.is_dir())


def test_demo_run_writes_playbooks(app_demo: Path) -> None:
    run = _run(app_demo)
    md = (run / "playbooks.md").read_text(encoding="utf-8")
    act = json.loads((run / "activation.json").read_text(encoding="utf-8"))
    segs = [int(s) for s in act["targets"]]
    heads = [int(m) for m in re.findall(r"^## Segment (\d+): \S", md, flags=re.M)]
    assert heads == segs and [e["segment"] for e in act["playbooks"]["segments"]] == segs
    assert re.search(r"^### \w+", md, flags=re.M)
    for line in md.splitlines():
        if line.lstrip().startswith("- ") and not line.rstrip().endswith("**:"):
            assert NUMBER.search(line), line
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert "Playbook, segment" in json.dumps(report)


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        ("[activation.playbooks.templates]\noffer = '{offer} at {price}'\n", "price"),
        ("[activation.playbooks.templates]\nslogan = 'buy'\n", "slogan"),
        ("[[activation.triggers.rules]]\nid = 'bad id'\nevents = ['visit']\n", "id"),
    ],
)
def test_bad_playbook_and_trigger_settings_stop_at_load(
    tmp_path: Path, tables: str, named: str
) -> None:
    from typer.testing import CliRunner

    from segmentum.cli.main import app

    path = tmp_path / "segmentum.toml"
    path.write_text(
        '[project]\nname = "p"\n\n[sources.survey]\npath = "no_such_survey.csv"\n'
        'basis = ["q1", "q2"]\n\n' + tables,
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "activation" in output and named in output, output
    assert "no_such_survey" not in output
