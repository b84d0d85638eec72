"""Survey weights in the structure checks: a boosted quota is judged on the population.

Planted data: a population of two groups, a broad one and a tight one. Its unboosted sample
is the reference; the boosted sample holds the second group four times over its population
share, with weights 1/4. The weighted evidence (Hopkins statistic, hidden-group dip and
share, ridgeline between two segments) must match the population sample's within noise,
where the unweighted evidence on the same boosted rows does not. Equal weights must give
the unweighted numbers, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from segmentum.segments import NeedsSegmenter
from segmentum.segments.structure import (
    hidden_dip,
    hopkins,
    pair_ridge,
    permute_columns,
    population_weights,
    shape_evidence,
    weighted_quantile,
)

D = 5
SEEDS = range(20)


def _groups(rng: np.random.Generator, n_a: int, n_b: int, gap: float, sd_b: float):  # type: ignore[no-untyped-def]
    """A broad group N(0, I) and a tight one N(gap·e1, sd_b²·I) in five dimensions."""
    a = rng.normal(size=(n_a, D))
    b = rng.normal(size=(n_b, D)) * sd_b
    b[:, 0] += gap
    return a, b


def _boost_weights(n_a: int, n_b: int) -> np.ndarray:
    """Weight 1 for the first group, 1/4 for the boosted one, scaled to mean 1."""
    w = np.r_[np.ones(n_a), np.full(n_b, 0.25)]
    return w / w.mean()


def test_hopkins_of_a_boosted_sample_is_the_populations_when_weighted() -> None:
    # population 80 / 20; the boosted sample 50 / 50 (the small group 4x its share)
    pop, unw, wtd, pop_null, unw_null, wtd_null = ([] for _ in range(6))
    for s in SEEDS:
        rng = np.random.default_rng(s)
        x = np.vstack(_groups(rng, 800, 200, 3.0, 0.3))
        pop.append(hopkins(x, rng))
        pop_null.append(hopkins(x, rng, reference=permute_columns(x, rng)))
        xb = np.vstack(_groups(rng, 500, 500, 3.0, 0.3))
        w = _boost_weights(500, 500)
        unw.append(hopkins(xb, rng))
        unw_null.append(hopkins(xb, rng, reference=permute_columns(xb, rng)))
        wtd.append(hopkins(xb, rng, sample_weight=w))
        ref = permute_columns(xb, rng, sample_weight=w)  # the population's items, unlinked
        wtd_null.append(hopkins(xb, rng, reference=ref, sample_weight=w))
    # per draw the statistic's sd is ~0.015; means of 20 draws: se ~0.004
    assert abs(np.mean(wtd) - np.mean(pop)) < 0.02
    assert np.mean(unw) - np.mean(pop) > 0.025  # the boosted tight group reads as clustering
    assert abs(np.mean(wtd_null) - np.mean(pop_null)) < 0.015
    assert np.mean(unw_null) - np.mean(pop_null) > 0.02


def test_hidden_group_dip_and_share_are_the_populations_when_weighted() -> None:
    # one segment holding a dominant group and a separate small one: 10 % of the
    # population, 31 % of the boosted sample
    pop, unw, wtd = [], [], []
    for s in SEEDS:
        rng = np.random.default_rng(s)
        pop.append(hidden_dip(np.vstack(_groups(rng, 900, 100, 4.0, 0.5)), 20))
        xb = np.vstack(_groups(rng, 900, 400, 4.0, 0.5))
        unw.append(hidden_dip(xb, 20))
        wtd.append(hidden_dip(xb, 20, w=_boost_weights(900, 400)))
    (pop_dip, pop_share), (unw_dip, unw_share), (w_dip, w_share) = (
        np.mean(r, axis=0) for r in (pop, unw, wtd)
    )
    assert pop_share == pytest.approx(0.10, abs=0.01)
    assert w_share == pytest.approx(pop_share, abs=0.005)
    assert unw_share > 0.25
    assert pop_dip < 0.5 and w_dip < 0.5  # the group is found, weighted or not
    assert abs(w_dip - pop_dip) < abs(unw_dip - pop_dip)


def test_ridge_between_two_segments_is_the_populations_when_weighted() -> None:
    # two touching groups: no dip between them in the population (one group cut in two);
    # boosting the tight one makes a dip appear in the sample
    pop, unw, wtd = [], [], []
    for s in SEEDS:
        rng = np.random.default_rng(s)
        pop.append(pair_ridge(*_groups(rng, 800, 200, 2.5, 0.6)))
        a, b = _groups(rng, 500, 500, 2.5, 0.6)
        unw.append(pair_ridge(a, b))
        wtd.append(pair_ridge(a, b, np.ones(500), np.full(500, 0.25)))
    assert np.mean(pop) >= 0.9 and np.mean(wtd) >= 0.9
    assert abs(np.mean(wtd) - np.mean(pop)) < 0.03
    assert np.mean(pop) - np.mean(unw) > 0.1


def test_shape_evidence_counts_a_hidden_group_by_weight() -> None:
    rng = np.random.default_rng(5)
    a, b = _groups(rng, 900, 400, 4.0, 0.5)
    far = rng.normal(size=(700, D)) + np.r_[0.0, 12.0, np.zeros(D - 2)]
    x = np.vstack([a, b, far])
    labels = np.r_[np.zeros(1300, dtype=int), np.ones(700, dtype=int)]
    w = np.r_[np.ones(900), np.full(400, 0.25), np.ones(700)]
    plain = shape_evidence(x, labels)
    weighted = shape_evidence(x, labels, sample_weight=w)
    assert [c for c, _ in plain["hidden"]] == [c for c, _ in weighted["hidden"]] == [0]
    # the hidden group: 400 of 2,000 rows, but 100 of the population's 1,700
    assert plain["hidden"][0][1] == pytest.approx(400 / 2000, abs=0.01)
    assert weighted["hidden"][0][1] == pytest.approx(100 / 1700, abs=0.01)


def test_equal_weights_give_the_unweighted_numbers_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    a, b = _groups(rng, 900, 400, 4.0, 0.5)
    x = np.vstack([a, b, rng.normal(size=(700, D)) + 6.0])
    labels = np.r_[np.zeros(1300, dtype=int), np.ones(700, dtype=int)]
    same = np.full(len(x), 2.5)
    assert population_weights(same, len(x)) is None
    assert shape_evidence(x, labels, sample_weight=same) == shape_evidence(x, labels)
    for reference in (None, permute_columns(x, np.random.default_rng(1))):
        h = hopkins(x, np.random.default_rng(2), reference=reference)
        assert hopkins(x, np.random.default_rng(2), reference, sample_weight=same) == h
    np.testing.assert_array_equal(
        permute_columns(x, np.random.default_rng(3), sample_weight=same),
        permute_columns(x, np.random.default_rng(3)),
    )


def test_segmenter_reads_the_weights_in_its_tendency_and_shape() -> None:
    rng = np.random.default_rng(1)
    a, b = _groups(rng, 200, 200, 4.0, 0.5)
    x = np.vstack([a, b]).round(1)  # interval-scaled: every item has many levels
    kw = dict(k_range=(2, 2), n_boot=2, n_null=1, n_init=1, random_state=0)
    plain = NeedsSegmenter(**kw).fit(x)  # type: ignore[arg-type]
    equal = NeedsSegmenter(**kw).fit(x, sample_weight=np.full(len(x), 3.0))  # type: ignore[arg-type]
    assert equal.tendency_ == plain.tendency_  # bit for bit
    boosted = NeedsSegmenter(**kw).fit(x, sample_weight=_boost_weights(200, 200))  # type: ignore[arg-type]
    assert boosted.tendency_["hopkins"] != plain.tendency_["hopkins"]
    assert boosted.tendency_["hopkins_vs_null"] != plain.tendency_["hopkins_vs_null"]
    assert np.isfinite(boosted.tendency_["hopkins_vs_null"])
    assert boosted.shape_ is not None


def test_weighted_quantile_is_numpys_for_equal_weights() -> None:
    v = np.random.default_rng(4).normal(size=101)
    q = [0.005, 0.25, 0.5, 0.75, 0.995]
    np.testing.assert_allclose(weighted_quantile(v, np.ones(101), q), np.quantile(v, q))
    # a weight of 3 acts as three copies
    w = np.r_[np.full(50, 3.0), np.ones(51)]
    rep = np.repeat(v, w.astype(int))
    np.testing.assert_allclose(weighted_quantile(v, w, 0.5), np.quantile(rep, 0.5), atol=0.05)


def test_bad_weights_are_named() -> None:
    with pytest.raises(ValueError, match=r"one finite non-negative value per row \(3 rows\)"):
        population_weights([1.0, -1.0, 2.0], 3)
    with pytest.raises(ValueError, match="every weight is zero"):
        population_weights([0.0, 0.0], 2)


def test_a_segment_of_weight_zero_is_not_judged() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(200, 4)), rng.normal(size=(100, 4)) + 0.5])
    labels = np.r_[np.zeros(200, dtype=int), np.ones(100, dtype=int)]
    w = np.r_[np.ones(200), np.zeros(100)]  # the second segment is not in the population
    ev = shape_evidence(x, labels, sample_weight=w)
    assert ev["cut_pairs"] == [] and ev["hidden"] == [] and np.isnan(ev["max_pair_ridge"])
    assert shape_evidence(x, labels)["cut_pairs"] == [(0, 1)]  # unweighted: one group cut
