"""Ordered levels (issue 15, item 3): declared or inferred, kept in order everywhere.

Found on the book's surveys (Dolnicar, Grün & Leisch 2018): McDonald's ``Like`` sorted as
``+1, +2, …, -1, …, 0, I hate it!-5, I love it!+5``, ``VisitFrequency`` alphabetically and
vacmot's income bands ``$120,001…`` before ``$30,001…``. The orders expected here are the
ones the data's codebooks give (``shared/data/README.md``: Like −5 … +5, VisitFrequency
Never … More than once a week).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MCD_BASIS, McDonalds
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from segmentum.data import DataError, ProjectError, ingest, load_config
from segmentum.profiles import personas, profile, profile_segments
from segmentum.profiles.plots import index_heatmap
from segmentum.stats.levels import infer_order, order_levels

LIKE = ("I hate it!-5", "-4", "-3", "-2", "-1", "0", "+1", "+2", "+3", "+4", "I love it!+5")
VISITS = (
    "Never",
    "Once a year",
    "Every three months",
    "Once a month",
    "Once a week",
    "More than once a week",
)
INCOME = (
    "Less than $30,000",
    "$30,001 to $60,000",
    "$60,001 to $90,000",
    "$90,001 to $120,000",
    "$120,001 to $150,000",
    "$150,001 to $180,000",
    "$180,001 to $210,000",
    "$210,001 to $240,000",
    "more than $240,001",
)


@pytest.fixture(scope="module")
def mcd(mcdonalds: McDonalds) -> tuple[pd.DataFrame, np.ndarray]:
    return mcdonalds.data, mcdonalds.labels


def test_mcdonalds_and_vacmot_levels_are_inferred_in_their_order(shared_data: Path) -> None:
    d = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    assert infer_order(d["Like"].unique()) == (LIKE, "numbers")
    assert infer_order(d["VisitFrequency"].unique()) == (VISITS, "frequency scale")
    v = pd.read_csv(shared_data / "msa" / "vacmotdesc.csv")
    assert infer_order(v["Income"].dropna().unique()) == (INCOME, "number ranges")
    assert infer_order(v["Income2"].dropna().unique()) == (
        ("<30k", "30-60k", "60-90k", "90-120k", ">120k"),
        "number ranges",
    )
    # nominal columns keep the data's order, and nothing is said about them
    for col in ("State", "Occupation", "Gender", "Relationship.Status"):
        assert infer_order(v[col].dropna().unique()) is None, col


@pytest.mark.parametrize(
    ("levels", "how"),
    [
        (("Under 18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"), "number ranges"),
        (("(0,25]", "(25,35]", "(35,45]", "(65,99]"), "number ranges"),  # volunteers' AGEG
        (("< 130", "130-150", "150-180", "> 180"), "number ranges"),  # auto's tempo
        (("under_35k", "35k_60k", "60k_100k", "100k_150k", "150k_plus"), "number ranges"),
        (("None", "1-2", "3-5", "6 or more"), "number ranges"),
        (("6 months", "1 year", "2 years"), "numbers"),
        (("1 Extremely well", "2 Quite well", "3 Not too well", "4 Not well at all"), "numbers"),
        (
            (
                "Strongly disagree",
                "Disagree",
                "Neither agree nor disagree",
                "Agree",
                "Strongly agree",
            ),
            "agreement scale",
        ),
        (("Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied"), "satisfaction scale"),
        (("bad", "neutral", "good"), "quality scale"),  # auto's good1 … good7
        # non-answers are no point on the scale: they go last
        (("18-34", "35-64", "65+", "Don't know", "Prefer not to say"), "number ranges"),
        (("Never", "Rarely", "Sometimes", "Often", "Always"), "frequency scale"),
        (
            ("Never", "Less than once a month", "Monthly", "Every two weeks", "2-3 times a week"),
            "frequency scale",
        ),
    ],
)
def test_known_scales_and_number_bands_are_ordered(levels: tuple[str, ...], how: str) -> None:
    shuffled = list(reversed(levels))
    assert infer_order(shuffled) == (levels, how)


@pytest.mark.parametrize(
    "levels",
    [
        ["5 econo", "4 gears", "automatic", "5 sport"],  # a level without a number, a tie
        ["5 econo", "5 sport", "4 gears"],  # two levels on one number: no order between them
        ["NSW", "VIC", "QLD"],
        ["Agree", "Disagree", "Blue"],  # one level off the scale
        ["Once a month", "Sometimes"],  # two scales: neither places both
        ["only"],
        ["Agree", "Don't know"],  # one level on the scale is no order
    ],
)
def test_no_order_is_claimed_when_a_level_cannot_be_placed(levels: list[str]) -> None:
    assert infer_order(levels) is None


POOL = [*LIKE, *VISITS, *INCOME, "Rarely", "Always", "NSW", "18-24", "65+", "Agree", "2 Quite"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([LIKE, VISITS, INCOME]) | st.lists(st.sampled_from(POOL), min_size=1),
    st.randoms(use_true_random=False),
)
def test_the_inferred_order_never_depends_on_the_order_levels_come_in(
    levels: tuple[str, ...] | list[str], rnd: object
) -> None:
    shuffled = list(levels) * 2  # repeated as rows repeat them
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    got = infer_order(shuffled)
    assert got == infer_order(sorted(set(levels)))
    if got is not None:
        assert sorted(got[0]) == sorted(set(levels))


def test_mcdonalds_profile_and_personas_keep_visit_frequency_in_order(
    mcd: tuple[pd.DataFrame, np.ndarray],
) -> None:
    d, lab = mcd
    rows = d.sample(frac=1.0, random_state=7)  # row order is not what orders the levels
    p = profile(
        rows, pd.Series(lab, index=d.index), basis=MCD_BASIS, descriptors=["Like", "VisitFrequency"]
    )
    assert p.levels == {"Like": LIKE, "VisitFrequency": VISITS}
    assert p.notes == (
        "Like: ordered from its numbers (I hate it!-5 … I love it!+5)",
        "VisitFrequency: ordered as a frequency scale (Never … More than once a week)",
    )
    t = p.table
    for seg in p.segments:
        visits = t[(t["variable"] == "VisitFrequency") & (t["segment"] == seg)]
        assert tuple(visits["level"]) == VISITS
        assert list(visits["level_order"]) == list(range(1, len(VISITS) + 1))
    assert t.loc[t["variable"] == "Like", "level"].drop_duplicates().tolist() == list(LIKE)
    assert t.loc[t["kind"] == "binary", "level_order"].isna().all()
    # the heat map draws the levels top to bottom in that order
    fig = index_heatmap(p, role="descriptor")
    shown = [y.split(": ", 1)[1] for y in fig.layout.yaxis.categoryarray if y.startswith("Visit")]
    assert tuple(shown) == VISITS
    # persona lines list adjacent levels in order, and their shares add up
    for card in personas(p):
        for line in card.who:
            if line.startswith("visit frequency: ") and ", " in line:
                named = line.split(": ", 1)[1].split(" (")[0].split(", ")
                positions = [VISITS.index(n) for n in named]
                assert positions == list(range(positions[0], positions[0] + len(named)))
                seg = t[(t["segment"] == card.segment) & t["level"].isin(named)]
                assert f"{seg['value'].sum():.0%} vs {seg['total'].sum():.0%}" in line


def test_vacmot_income_bands_come_in_order_in_its_profile(shared_data: Path) -> None:
    answers = pd.read_csv(shared_data / "msa" / "vacmot.csv")
    desc = pd.read_csv(shared_data / "msa" / "vacmotdesc.csv")
    lab = pd.read_csv(shared_data / "msa" / "vacmot6.csv")["vacmot6"]
    frame = pd.concat([answers, desc], axis=1)
    p = profile(frame, lab, basis=list(answers.columns), descriptors=["Income", "State"])
    income = p.rows(1, "descriptor")
    assert tuple(income.loc[income["variable"] == "Income", "level"]) == INCOME
    assert "State" not in p.levels  # nominal: the data's order, no note
    assert p.notes == (
        "Income: ordered from its number ranges (Less than $30,000 … more than $240,001)",
    )


def test_ordered_levels_get_a_rank_test_as_well(mcd: tuple[pd.DataFrame, np.ndarray]) -> None:
    d, lab = mcd
    p = profile(d, lab, basis=MCD_BASIS, descriptors=["VisitFrequency", "Gender"])
    a = p.associations.set_index(["variable", "test"])
    kw = a.loc[("VisitFrequency", "kruskal-wallis (ordered)")]
    codes = d["VisitFrequency"].map({v: i for i, v in enumerate(VISITS)}).to_numpy()
    h, pval = sps.kruskal(*[codes[lab == s] for s in np.unique(lab)])
    assert kw["statistic"] == pytest.approx(h) and kw["p_value"] == pytest.approx(pval)
    assert ("Gender", "kruskal-wallis (ordered)") not in a.index
    # weighted rows: no rank test is claimed (the chi-square stands)
    w = np.where(np.arange(len(d)) % 2, 1.0, 2.0)
    pw = profile(d, lab, basis=MCD_BASIS, descriptors=["VisitFrequency"], weights=w)
    assert set(pw.associations["test"]) == {"chi2"}


def test_declared_levels_override_inference_and_must_cover_the_data(
    mcd: tuple[pd.DataFrame, np.ndarray],
) -> None:
    d, lab = mcd
    declared = {"VisitFrequency": [*reversed(VISITS), "Daily"]}  # Daily: not in data
    p = profile(d, lab, basis=MCD_BASIS, descriptors=["VisitFrequency"], levels=declared)
    assert p.levels["VisitFrequency"] == tuple(reversed(VISITS))
    assert p.level_orders["VisitFrequency"].source == "declared" and p.notes == ()
    first = p.table[p.table["variable"] == "VisitFrequency"]["level"].iloc[0]
    assert first == "More than once a week"
    with pytest.raises(ValueError, match=r"'VisitFrequency'.*'Every three months', 'Never'"):
        profile(
            d,
            lab,
            basis=MCD_BASIS,
            descriptors=["VisitFrequency"],
            levels={
                "VisitFrequency": [
                    "Once a year",
                    "Once a month",
                    "Once a week",
                    "More than once a week",
                ]
            },
        )
    # without inference, the data's (alphabetical) order and no note
    off = profile(d, lab, basis=MCD_BASIS, descriptors=["VisitFrequency"], infer_levels=False)
    assert off.levels == {} and off.notes == ()
    assert order_levels("x", ["3", "1"], [1, 2, 3.0]).levels == ("1", "3")  # numbers as spelled


def _project(folder: Path, shared_data: Path, extra: str = "") -> Path:
    shutil.copy(shared_data / "msa" / "mcdonalds.csv", folder / "mcd.csv")
    path = folder / "segmentum.toml"
    path.write_text(
        "[sources.survey]\n"
        'path = "mcd.csv"\n'
        f"basis = {json.dumps(MCD_BASIS)}\n"
        'descriptors = ["Like", "Age", "VisitFrequency", "Gender"]\n' + extra,
        encoding="utf-8",
    )
    return path


def test_ingest_notes_inferred_orders_and_rejects_a_declared_list_that_misses_values(
    tmp_path: Path, shared_data: Path
) -> None:
    config = load_config(_project(tmp_path, shared_data))
    notes = ingest(config, tmp_path).tables["survey"].notes
    assert "Like: ordered from its numbers (I hate it!-5 … I love it!+5)." in notes
    assert not any(n.startswith(("Age:", "Gender:")) for n in notes)
    short = 'levels = { VisitFrequency = ["Never", "Once a year", "Once a month"] }\n'
    config = load_config(_project(tmp_path, shared_data, short))
    with pytest.raises(DataError) as err:
        ingest(config, tmp_path)
    message = str(err.value)
    assert "mcd.csv" in message and "'VisitFrequency'" in message
    assert "'Every three months', 'More than once a week', 'Once a week'" in message
    full = f"levels = {{ VisitFrequency = {json.dumps(list(VISITS))}, Age = [1, 2] }}\n"
    notes = (
        ingest(load_config(_project(tmp_path, shared_data, full)), tmp_path).tables["survey"].notes
    )
    assert not any(n.startswith("VisitFrequency") for n in notes)  # declared: nothing inferred
    assert "levels.Age is not used: its answers are numbers, profiled by their mean." in notes


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('levels = { Visits = ["a", "b"] }\n', "'Visits', which is not a basis item"),
        ("levels = { VisitFrequency = [] }\n", "levels.VisitFrequency is empty"),
        ('levels = { Like = ["0", "+1", "0"] }\n', "lists '0' more than once"),
    ],
)
def test_the_project_file_checks_its_levels(
    tmp_path: Path, shared_data: Path, extra: str, words: str
) -> None:
    with pytest.raises(ProjectError, match=words):
        load_config(_project(tmp_path, shared_data, extra))


def test_segments_json_and_profiles_csv_carry_the_order(
    tmp_path: Path, mcd: tuple[pd.DataFrame, np.ndarray]
) -> None:
    from segmentum.profiles.stage import PROFILES

    d, lab = mcd
    res = profile_segments(d, lab, basis=MCD_BASIS, descriptors=["Like", "VisitFrequency"])
    levels = res.segments_json()["levels"]
    assert levels["VisitFrequency"]["levels"] == list(VISITS)
    assert levels["Like"]["order"] == "numbers" and levels["Like"]["note"].startswith("Like: ")
    assert res.notes == res.profile.notes and len(res.notes) == 2
    files = PROFILES.write_files(res, tmp_path)
    table = pd.read_csv(tmp_path / "profiles.csv", dtype={"level": str})
    assert tmp_path / "profiles.csv" in files
    like = table[(table["variable"] == "Like") & (table["segment"] == 1)]
    assert like["level"].tolist() == list(LIKE)  # rows in order, and level_order says so
    assert like.sort_values("level_order")["level"].tolist() == list(LIKE)


def test_a_project_run_keeps_declared_and_inferred_orders(
    tmp_path: Path, shared_data: Path
) -> None:
    from segmentum.project import Project

    d = pd.read_csv(shared_data / "msa" / "mcdonalds.csv").sample(300, random_state=0)
    backwards = list(reversed(VISITS))  # declared: most often first, against the inference
    path = _project(
        tmp_path,
        shared_data,
        f"levels = {{ VisitFrequency = {json.dumps(backwards)} }}\n"
        "[segments]\nk_range = [2, 3]\nn_boot = 4\nn_init = 2\nn_jobs = 1\n",
    )
    d.to_csv(tmp_path / "mcd.csv", index=False)
    run = Project.load(path).run().run_dir
    levels = json.loads((run / "segments.json").read_text())["levels"]
    assert levels["VisitFrequency"] == {"levels": backwards, "order": "declared", "note": None}
    assert levels["Like"]["levels"] == list(LIKE) and levels["Like"]["order"] == "numbers"
    report = json.loads((run / "report.json").read_text())
    profiles = next(s for s in report["sections"] if s["key"] == "profiles")
    texts = [b.get("text", "") for b in profiles["blocks"]]
    assert any("Like: ordered from its numbers (I hate it!-5 … I love it!+5)" in t for t in texts)
    assert not any("VisitFrequency: ordered" in t for t in texts)
    table = pd.read_csv(run / "profiles.csv", dtype={"level": str})
    visits = table[(table["variable"] == "VisitFrequency") & (table["segment"] == 1)]
    assert visits["level"].tolist() == backwards


def test_docstring_examples_of_the_levels_module() -> None:
    import doctest

    import segmentum.stats.levels as module

    result = doctest.testmod(module)
    assert result.attempted >= 5 and result.failed == 0
