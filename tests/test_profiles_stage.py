"""Stage entry point, segments.json entries and the report section; the demo market's truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segmentum.profiles import ProfilesResult, report_section, run_profiles
from segmentum.report.section import Section

NEEDS = ["need_online_self_service", "need_mobile_app", "need_lowest_price", "need_personal_agent"]


def _survey(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    lab = np.repeat([1, 2, 3], [120, 90, 60])
    means = np.array([[6.2, 6.0, 3.0, 2.5], [3.0, 3.2, 6.3, 3.0], [2.8, 2.9, 3.1, 6.2]])
    x = np.clip(np.round(means[lab - 1] + rng.normal(0, 0.9, (lab.size, 4))), 1, 7)
    df = pd.DataFrame(x, columns=NEEDS)
    df.insert(0, "respondent_id", [f"R{i:04d}" for i in range(lab.size)])
    df["customer_id"] = [f"C{i:04d}" if i % 3 else None for i in range(lab.size)]
    df["weight"] = rng.uniform(0.5, 1.5, lab.size)
    df["gender"] = rng.choice(["F", "M"], lab.size)
    df["age"] = rng.normal(np.array([30, 45, 60])[lab - 1], 6)
    df["postcode"] = [f"P{i}" for i in range(lab.size)]
    df["beh_bought_online"] = (rng.random(lab.size) < np.array([0.9, 0.5, 0.1])[lab - 1]).astype(
        int
    )
    texts = {
        1: "I wish I could manage my policy online in the app",
        2: "I wish the price was lower every year",
        3: "I wish my local agent knew me",
    }
    df["i_wish"] = [texts[s] for s in lab]
    return df, lab


def _ratings(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for rid in df["respondent_id"].iloc[:60]:
        for brand, lv in (
            ("Alpha", {"need_personal_agent": 5, "need_lowest_price": 4}),
            ("Beta", {"need_lowest_price": 5}),
        ):
            for need in NEEDS:
                rows.append(
                    {"respondent_id": rid, "brand": brand, "need": need, "rating": lv.get(need, 2)}
                )
    return pd.DataFrame(rows)


def test_run_profiles_everything(tmp_path: object) -> None:
    df, lab = _survey()
    value = pd.DataFrame(
        {
            "customer_id": df["customer_id"].dropna(),
            "clv": np.linspace(10, 100, df["customer_id"].notna().sum()),
        }
    )
    # labels keyed by respondent id, in a different order
    labels = pd.Series(lab, index=df["respondent_id"]).sample(frac=1.0, random_state=1)
    res = run_profiles(
        df,
        labels,
        id_column="respondent_id",
        basis=NEEDS,
        descriptors=["gender", "age", "postcode"],
        behaviours=["beh_bought_online"],
        weights="weight",
        text="i_wish",
        competitor_ratings=_ratings(df),
        value=value,
        names={3: "Agent lovers"},
    )
    assert isinstance(res, ProfilesResult)
    assert any("postcode" in w for w in res.warnings)
    assert res.personas[2].name == "Agent lovers"
    assert "online self-service" in res.personas[0].name.lower()
    assert res.themes is not None and res.map is not None and res.map_figure is not None
    assert res.white_space.table.iloc[0]["need"] == "need_online_self_service"
    out = res.segments_json()
    text = json.dumps(out)  # plain JSON types only
    assert "NaN" not in text
    seg = out["segments"]
    assert [s["segment"] for s in seg] == [1, 2, 3]
    assert seg[0]["defining_needs"][0] in ("need_online_self_service", "need_mobile_app")
    assert seg[0]["size"] == 120
    assert sum(s["share"] for s in seg) == pytest.approx(1.0)
    assert seg[0]["value"]["clv_share"] > 0
    assert out["white_space"][0]["need"] == "need_online_self_service"
    assert set(out["white_space"][0]) >= {"need", "segments", "importance", "best_competitor_score"}
    assert out["exclusivity"]["passed"] is True
    assert 0 <= out["exclusivity"]["score"] <= 1
    sec = report_section(res)
    assert isinstance(sec, Section) and sec.key == "profiles"
    kinds = [b.kind for b in sec.blocks]
    assert "html" in kinds and kinds.count("figure") >= 4
    html_block = next(b for b in sec.blocks if b.kind == "html")
    assert html_block.content.count('class="persona-card"') == 3


def test_run_profiles_skips_what_it_cannot_do() -> None:
    df, lab = _survey()
    res = run_profiles(
        df,
        lab,
        id_column="respondent_id",
        basis=NEEDS,
        descriptors=["gender"],
        weights=None,
        text=None,
        competitor_ratings=None,
    )
    assert any("no text column" in w for w in res.warnings)
    assert any("no competitor ratings" in w for w in res.warnings)
    assert res.themes is None and res.white_space.table.empty
    assert res.segments_json()["white_space"] == []
    res2 = run_profiles(df, lab, id_column="respondent_id", basis=NEEDS, text="no_such_column")
    assert any("no_such_column" in w for w in res2.warnings)
    sec = report_section(res)
    assert any("no competitor ratings" in w for w in sec.warnings)


def test_failing_exclusivity_is_a_report_warning() -> None:
    rng = np.random.default_rng(3)
    lab = np.repeat([1, 2, 3], 80)
    df = pd.DataFrame(
        {
            "need_a": rng.normal(np.array([6.0, 6.0, 2.0])[lab - 1], 1),
            "need_b": rng.normal(4, 1, lab.size),
        }
    )
    res = run_profiles(df, lab, basis=["need_a", "need_b"])
    assert not res.exclusivity.passed
    sec = report_section(res)
    assert any("not mutually exclusive" in w for w in sec.warnings)
    assert res.segments_json()["exclusivity"]["offenders"]["shared_needs"] == {"need_a": [1, 2]}


# ---------------------------------------------------------------------------------------------
# the demo market: planted truth is recovered
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> tuple[object, ProfilesResult]:
    demo_mod = pytest.importorskip("segmentum.demo")
    m = demo_mod.make_market(seed=0, n_customers=2000, n_respondents=1500)
    s = m.survey
    codes = {n: i + 1 for i, n in enumerate(demo_mod.SEGMENT_NAMES)}
    truth = m.truth.dropna(subset=["respondent_id"]).drop_duplicates("respondent_id")
    labels = truth.set_index("respondent_id")["segment"].map(codes)
    res = run_profiles(
        s,
        labels,
        id_column="respondent_id",
        basis=[c for c in s.columns if c.startswith("need_")],
        descriptors=["age", "gender", "region", "income_band", "household"],
        behaviours=[c for c in s.columns if c.startswith("beh_")],
        weights="weight",
        text="i_wish",
        competitor_ratings=m.competitor_ratings,
    )
    return m, res


def test_demo_defining_needs_found(demo: tuple[object, ProfilesResult]) -> None:
    import segmentum.demo as d

    m, res = demo
    planted = m.defining_needs  # type: ignore[attr-defined]
    for i, name in enumerate(d.SEGMENT_NAMES):
        found = res.profile.defining_needs[i + 1][:5]
        assert len(set(planted[name][:5]) & set(found)) >= 3, (name, found)


def test_demo_white_space_and_online_persona(demo: tuple[object, ProfilesResult]) -> None:
    import segmentum.demo as d

    m, res = demo
    assert res.white_space.table.iloc[0]["need"] == m.white_space_need  # type: ignore[attr-defined]
    assert res.segments_json()["white_space"][0]["need"] == m.white_space_need  # type: ignore[attr-defined]
    online = res.personas[d.SEGMENT_NAMES.index("online_self_service")]
    assert "online" in online.name.lower() and "self-service" in online.name.lower()
    assert online.quotes
    assert res.exclusivity.passed
    comp = res.map.competitors  # type: ignore[union-attr]
    assert len(comp) == len(d.BRANDS)
