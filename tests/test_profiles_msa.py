"""Profiles, exclusivity, personas and maps on real surveys (Dolnicar, Grün & Leisch 2018)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MCD_BASIS, McDonalds

from segmentum.maps import segment_map
from segmentum.profiles import ProfilesResult, exclusivity, personas, profile, run_profiles

MCD_DESCRIPTORS = ["Like", "Age", "VisitFrequency", "Gender"]


@pytest.fixture(scope="module")
def mcd(mcdonalds: McDonalds) -> tuple[pd.DataFrame, np.ndarray]:
    km_labels = mcdonalds.labels - 1
    # canonical labels: largest segment first
    order = np.argsort(-np.bincount(km_labels))
    relabel = np.empty(4, dtype=int)
    relabel[order] = np.arange(1, 5)
    return mcdonalds.data, relabel[km_labels]


@pytest.fixture(scope="module")
def mcd_result(mcd: tuple[pd.DataFrame, np.ndarray]) -> ProfilesResult:
    d, lab = mcd
    return run_profiles(d, lab, basis=MCD_BASIS, descriptors=MCD_DESCRIPTORS)


def test_mcdonalds_profiles_read_sensibly(
    mcd: tuple[pd.DataFrame, np.ndarray], mcd_result: ProfilesResult
) -> None:
    d, lab = mcd
    p = mcd_result.profile
    assert p.basis == tuple(MCD_BASIS) and p.descriptors == tuple(MCD_DESCRIPTORS)
    assert (
        p.kinds["yummy"] == "binary"
        and p.kinds["Age"] == "numeric"
        and p.kinds["Like"] == "categorical"
    )
    t = p.table
    yummy = t[(t["variable"] == "yummy")].set_index("segment")["value"]
    lovers, haters = int(yummy.idxmax()), int(yummy.idxmin())
    # the segment that finds McDonald's yummy is defined by it and loves McDonald's
    assert "yummy" in p.defining_needs[lovers] or "tasty" in p.defining_needs[lovers]
    like = t[(t["variable"] == "Like") & t["significant"] & (t["index"] > 100)]
    assert ((like["segment"] == lovers) & like["level"].str.contains(r"\+[345]")).any()
    assert ((like["segment"] == haters) & like["level"].str.contains("-")).any()
    # ... and the yes-share index agrees with the raw data
    share = (d.loc[lab == lovers, "yummy"] == "Yes").mean() / (d["yummy"] == "Yes").mean()
    assert t[(t["variable"] == "yummy") & (t["segment"] == lovers)]["index"].iloc[
        0
    ] == pytest.approx(100 * share)
    assert p.sizes["n"].sum() == len(d)


def test_mcdonalds_exclusivity_personas_map(mcd_result: ProfilesResult) -> None:
    ex = mcd_result.exclusivity
    assert 0.0 <= ex.score <= 1.0
    assert ex.quantifiable
    assert ex.verdict().startswith("Exclusivity score")
    names = [c.name for c in mcd_result.personas]
    assert len(set(names)) == 4
    assert all(c.defines for c in mcd_result.personas)
    assert any("no text column" in w for w in mcd_result.warnings)
    m = mcd_result.map
    assert m is not None and m.method == "ca" and len(m.arrows) == len(MCD_BASIS)
    np.testing.assert_allclose(m.segments["area"], mcd_result.profile.sizes["share"])
    js = mcd_result.segments_json()
    assert js["exclusivity"]["score"] == pytest.approx(ex.score)


@pytest.fixture(scope="module")
def vacmot(shared_data: Path) -> tuple[pd.DataFrame, list[str], list[str], pd.Series]:
    v = pd.read_csv(shared_data / "msa" / "vacmot.csv")
    desc = pd.read_csv(shared_data / "msa" / "vacmotdesc.csv")
    lab = pd.read_csv(shared_data / "msa" / "vacmot6.csv")["vacmot6"]
    return pd.concat([v, desc], axis=1), list(v.columns), list(desc.columns), lab


def test_vacmot_profiles_exclusivity_personas_map(
    vacmot: tuple[pd.DataFrame, list[str], list[str], pd.Series],
) -> None:
    df, basis, descriptors, lab = vacmot
    p = profile(df, lab, basis=basis, descriptors=descriptors)
    assert len(p.segments) == 6 and p.sizes["n"].sum() == 1000
    assert set(p.descriptors) == set(descriptors)  # missing values are handled per variable
    t = p.table
    nep = t[t["variable"] == "NEP"]
    assert nep["n"].sum() < 1000 or df["NEP"].notna().all()
    # the segment that cares most about unspoilt surroundings is the environmentally concerned one
    green = int(
        t[t["variable"] == "maintain unspoilt surroundings"].set_index("segment")["value"].idxmax()
    )
    assert "maintain unspoilt surroundings" in p.defining_needs[green]
    g = nep[nep["segment"] == green].iloc[0]
    assert g["significant"] and g["value"] > g["total"]
    ex = exclusivity(p)
    assert 0.0 <= ex.score <= 1.0 and len(ex.table) == 6
    cards = personas(p)
    assert len({c.name for c in cards}) == 6
    green_card = cards[green - 1]
    assert "unspoilt" in green_card.name.lower() or "nature" in green_card.name.lower()
    assert any("NEP" in w or "nep" in w for w in green_card.who)
    m = segment_map(df, lab, basis=basis, method="pca")
    assert m.method == "pca"
    np.testing.assert_allclose(m.segments["area"], p.sizes["share"])
    lda = segment_map(df, lab, basis=basis)
    assert lda.method == "lda"
    assert lda.explained[0] >= lda.explained[1] > 0
