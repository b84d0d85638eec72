"""Persona cards follow the data: each need in at most one list, extreme indices define them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import McDonalds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.profiles import Persona, Profile, personas, phrase, profile

NONE_PHRASE = "no need sets them apart"
LISTS = ("defines", "needs", "less_important")


def _mentions(lines: tuple[str, ...], label: str) -> bool:
    """Whether a card line names the need ``label`` (as ``label: ...`` or ``label (index``)."""
    pat = re.compile(r"(?:^|: |; )" + re.escape(label) + r"(?:: | \(index)")
    return any(pat.search(line) for line in lines)


def _placement(card: Persona, labels: list[str]) -> dict[str, list[str]]:
    return {lab: [f for f in LISTS if _mentions(getattr(card, f), lab)] for lab in labels}


def _check_cards(p: Profile, cards: list[Persona], band: tuple[float, float] = (60, 140)) -> None:
    labels = {v: phrase(v) for v in p.basis}
    assert len(set(labels.values())) == len(labels)
    for card in cards:
        placed = _placement(card, list(labels.values()))
        twice = {lab: where for lab, where in placed.items() if len(where) > 1}
        assert not twice, f"segment {card.segment}: needs in two lists {twice}"
        rows = p.rows(card.segment, "basis")
        sig = rows[rows["significant"]]
        extreme = sig[(sig["index"] <= band[0]) | (sig["index"] >= band[1])]
        for v in extreme["variable"].unique():
            assert placed[labels[v]] == ["defines"], (card.segment, v, placed[labels[v]])
        md = card.to_markdown()
        assert (NONE_PHRASE in md) == sig.empty, (card.segment, md)
        assert "**What defines them**" in md and md.startswith(f"### Segment {card.segment}: ")


@pytest.fixture(scope="module")
def mcd(mcdonalds: McDonalds) -> tuple[Profile, list[Persona]]:
    x = mcdonalds.answers
    p = profile(x, pd.Series(mcdonalds.labels, index=x.index), basis=mcdonalds.basis)
    return p, personas(p)


@pytest.fixture(scope="module")
def vacmot(shared_data: Path) -> tuple[Profile, list[Persona]]:
    v = pd.read_csv(shared_data / "msa" / "vacmot.csv")
    lab = pd.read_csv(shared_data / "msa" / "vacmot6.csv")["vacmot6"]
    p = profile(v, lab, basis=list(v.columns))
    return p, personas(p)


@pytest.mark.parametrize("data", ["mcd", "vacmot"])
def test_persona_lists_are_disjoint_and_extremes_define(
    data: str, request: pytest.FixtureRequest
) -> None:
    p, cards = request.getfixturevalue(data)
    _check_cards(p, cards)
    for card in cards:
        # absolute levels: needs are held by most of the segment, less important by few
        rows = p.rows(card.segment, "basis").set_index("variable")
        for field, high in (("needs", True), ("less_important", False)):
            for v in p.basis:
                if _mentions(getattr(card, field), phrase(v)):
                    assert (rows.loc[v, "value"] >= 0.5) == high, (card.segment, field, v)


def test_mcdonalds_fattening_is_not_both_a_need_and_less_important(
    mcd: tuple[Profile, list[Persona]],
) -> None:
    p, cards = mcd
    t = p.rows(role="basis")
    fat = t[t["variable"] == "fattening"].set_index("segment")
    for card in cards:
        where = _placement(card, ["fattening"])["fattening"]
        assert len(where) <= 1
        if fat.loc[card.segment, "value"] >= 0.5:  # most of them find it fattening
            assert "less_important" not in where


def test_vacmot_segment_far_below_others_is_described_by_it(
    vacmot: tuple[Profile, list[Persona]],
) -> None:
    p, cards = vacmot
    low_segments = 0
    for card in cards:
        rows = p.rows(card.segment, "basis")
        low = rows[rows["significant"] & (rows["index"] <= 60)]
        if low.empty:
            continue
        low_segments += 1
        assert any("far less than others" in line for line in card.defines), card.defines
        if not p.defining_needs[card.segment]:  # only lower than the rest: named by that
            assert card.name.startswith("Low on ")
            assert NONE_PHRASE not in card.to_markdown()
    assert low_segments >= 3


def test_nothing_significant_says_so() -> None:
    rng = np.random.default_rng(0)
    half = pd.DataFrame(
        {"need_price": rng.integers(0, 2, 30), "need_speed": rng.normal(3, 1, 30)}
    ).astype(float)
    df = pd.concat([half, half], ignore_index=True)  # both segments answer identically
    lab = pd.Series(np.repeat([1, 2], 30))
    p = profile(df, lab, basis=list(df.columns))
    assert not p.table["significant"].any()
    cards = personas(p)
    for card in cards:
        assert card.defines == () and NONE_PHRASE in card.to_markdown()
    _check_cards(p, cards)


WORDS = ["price", "speed", "taste", "comfort", "service", "design"]


@st.composite
def surveys(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(30, 120))
    k = draw(st.integers(2, 4))
    kinds = draw(st.lists(st.sampled_from(["binary", "numeric"]), min_size=2, max_size=6))
    shift = draw(st.floats(0.0, 3.0))
    rng = np.random.default_rng(seed)
    lab = np.concatenate([np.arange(1, k + 1), rng.integers(1, k + 1, n - k)])
    cols = {}
    for word, kind in zip(WORDS, kinds, strict=False):
        centre = rng.normal(0, shift, k + 1)[lab]
        if kind == "binary":
            cols[f"need_{word}"] = (rng.random(n) < 1 / (1 + np.exp(-centre))).astype(float)
        else:
            cols[f"need_{word}"] = np.clip(np.round(3 + centre + rng.normal(0, 1, n)), 1, 5)
    return pd.DataFrame(cols), pd.Series(lab)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(surveys(), st.integers(1, 5))
def test_random_profiles_keep_lists_disjoint(
    survey: tuple[pd.DataFrame, pd.Series], max_items: int
) -> None:
    df, lab = survey
    p = profile(df, lab, basis=list(df.columns))
    cards = personas(p, max_items=max_items)
    assert [c.segment for c in cards] == list(p.segments)
    _check_cards(p, cards)


def test_planted_shared_need_is_a_need_not_a_definer() -> None:
    """Ground truth: everyone rates reliable claims ~6/7; each segment has its own need."""
    rng = np.random.default_rng(3)
    own = ["need_online_self_service", "need_lowest_price", "need_personal_agent"]
    lab = np.repeat([1, 2, 3], 80)
    cols = {"need_reliable_claims": rng.normal(6.0, 0.7, lab.size)}
    for s, c in enumerate(own, start=1):
        cols[c] = np.where(lab == s, 6.0, 3.0) + rng.normal(0, 0.7, lab.size)
    df = pd.DataFrame(cols).clip(1, 7)
    p = profile(df, lab, basis=list(df.columns))
    cards = personas(p)
    _check_cards(p, cards)
    for card, mine in zip(cards, own, strict=True):
        assert _mentions(card.needs, "reliable claims")
        assert not _mentions(card.defines, "reliable claims")
        assert _mentions(card.defines[:1], phrase(mine))
        for other in set(own) - {mine}:
            line = next(x for x in card.defines if _mentions((x,), phrase(other)))
            assert line.startswith("far less than others: ")


def test_demo_personas_follow_the_planted_segments() -> None:
    demo = pytest.importorskip("segmentum.demo")
    m = demo.make_market(seed=0, n_customers=500, n_respondents=600)
    s = m.survey
    codes = {n: i + 1 for i, n in enumerate(demo.SEGMENT_NAMES)}
    truth = m.truth.dropna(subset=["respondent_id"]).drop_duplicates("respondent_id")
    lab = s["respondent_id"].map(truth.set_index("respondent_id")["segment"].map(codes))
    basis = [c for c in s.columns if c.startswith("need_")]
    p = profile(s, lab.to_numpy(), basis=basis, weights="weight")
    cards = personas(p)
    _check_cards(p, cards)
    online = cards[demo.SEGMENT_NAMES.index("online_self_service")]
    assert "online self-service" in online.name.lower()
