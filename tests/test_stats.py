"""The neutral statistics module: weighted tests reduce to the textbook ones, BH as published."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from segmentum.stats import (
    align_labels,
    align_weights,
    bh_adjust,
    classify,
    effective_n,
    proportion_test,
    weighted_var,
    welch_test,
)

# Benjamini & Hochberg (1995), section 4.3: 15 p-values of a clinical trial; at q = 0.05 the
# step-up procedure rejects the four smallest (p <= 0.0095), Bonferroni only three.
BH_1995 = np.array(
    [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
     0.5719, 0.6528, 0.7590, 1.0000]
)  # fmt: skip


def _bh_by_hand(p: np.ndarray) -> np.ndarray:
    """The step-up adjustment written out (what segmentum used before scipy's)."""
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def test_bh_rejects_what_the_paper_rejects() -> None:
    adjusted = bh_adjust(BH_1995)
    assert int((adjusted <= 0.05).sum()) == 4
    assert adjusted[3] <= 0.05 < adjusted[4]


def test_bh_equals_the_hand_written_step_up_and_keeps_nan_out() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(size=200) ** 3
    p[rng.choice(200, 25, replace=False)] = np.nan
    got = bh_adjust(p)
    np.testing.assert_allclose(got, _bh_by_hand(p), rtol=0, atol=1e-15)
    assert np.isnan(got[np.isnan(p)]).all()
    # the NaN entries do not count as tests: adjusting only the finite ones gives the same
    np.testing.assert_allclose(got[np.isfinite(p)], bh_adjust(p[np.isfinite(p)]), atol=1e-15)
    assert np.isnan(bh_adjust(np.array([np.nan, np.nan]))).all()


def test_unit_weights_give_the_textbook_tests() -> None:
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(1.0, 2.0, 40), rng.normal(0.0, 1.0, 70)]
    group = np.r_[np.ones(40, bool), np.zeros(70, bool)]
    w = np.ones(x.size)
    assert effective_n(w) == pytest.approx(x.size)
    assert weighted_var(x, w) == pytest.approx(np.var(x, ddof=1))
    res = welch_test(x, w, group)
    ref = sps.ttest_ind(x[group], x[~group], equal_var=False)
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(
        ref.pvalue
    )
    y = (rng.uniform(size=x.size) < np.where(group, 0.6, 0.35)).astype(float)
    table = np.array(
        [[y[group].sum(), (1 - y[group]).sum()], [y[~group].sum(), (1 - y[~group]).sum()]]
    )
    chi2 = sps.chi2_contingency(table, correction=False)
    assert proportion_test(y, w, group).p_value == pytest.approx(chi2.pvalue)


def test_weights_count_through_the_effective_sample_size() -> None:
    w = np.r_[np.full(10, 3.0), np.full(30, 1.0)]
    assert effective_n(w) == pytest.approx(60.0**2 / (90 + 30))


def test_labels_and_weights_align_on_the_survey_index() -> None:
    frame = pd.DataFrame({"q": [1, 2, 3], "w": [1.0, None, 2.0]}, index=[10, 11, 12])
    assert align_labels(frame, pd.Series([2, 3, 1], index=[12, 11, 10])).tolist() == [1, 3, 2]
    assert align_labels(frame, [5, 6, 7]).index.tolist() == [10, 11, 12]
    with pytest.raises(ValueError, match="one segment label per survey row"):
        align_labels(frame, [1, 2])
    assert align_weights(frame, "w").tolist() == [1.0, 0.0, 2.0]
    assert align_weights(frame, None).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(KeyError, match="weights column 'nope'"):
        align_weights(frame, "nope")
    with pytest.raises(ValueError, match="non-negative"):
        align_weights(frame, np.array([1.0, -1.0, 1.0]))


def test_classify_reads_yes_no_as_binary() -> None:
    kind, coded, levels = classify(pd.Series(["Yes", "No", "Yes", None]))  # type: ignore[misc]
    assert kind == "binary" and levels == ["Yes"] and coded.tolist()[:3] == [1.0, 0.0, 1.0]
    assert classify(pd.Series([1.5, 2.0]))[0] == "numeric"  # type: ignore[index]
    assert classify(pd.Series([f"l{i}" for i in range(30)]), max_levels=20) is None


@pytest.mark.parametrize("module", ["segmentum.stats.align", "segmentum.stats.weighted"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
