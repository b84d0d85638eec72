"""Survey weights in fitting: every method weighs rows, checked against repeated rows (an
integer weight must act like that many copies) and against zero-weight rows (they must not
move the segments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from segmentum.segments import NeedsSegmenter
from segmentum.segments._methods import BasisData, fit_ensemble, fit_gmm, fit_kprototypes


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 2.0], [0.0, 6.0, -2.0]])
    scales = np.array([1.0, 0.6, 1.4])
    return centres[truth] + rng.normal(size=(n, 3)) * scales[truth, None], truth


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_weighted_gmm_equals_the_fit_on_repeated_rows(covariance_type: str) -> None:
    x, _ = _blobs(300, seed=1)
    w = np.random.default_rng(2).integers(1, 4, len(x)).astype(float)
    ours = fit_gmm(
        x, 3, n_init=3, rng=np.random.default_rng(0), covariance_type=covariance_type,
        sample_weight=w,
    )  # fmt: skip
    rep = np.repeat(x, w.astype(int), axis=0)
    ref = GaussianMixture(3, covariance_type=covariance_type, n_init=3, random_state=0).fit(rep)
    # equal to EM's tolerance (scikit-learn stops at a mean gain of 1e-3)
    assert ours.log_likelihood == pytest.approx(ref.score(rep) * len(rep), rel=1e-6)
    np.testing.assert_allclose(_sorted_rows(ours.centers), _sorted_rows(ref.means_), atol=0.01)
    # and weights matter: the unweighted fit is another one
    plain = fit_gmm(
        x, 3, n_init=3, rng=np.random.default_rng(0), covariance_type=covariance_type
    )  # fmt: skip
    assert not np.allclose(_sorted_rows(plain.centers), _sorted_rows(ours.centers), atol=1e-3)


def test_weighted_kprototypes_equals_the_fit_on_repeated_rows() -> None:
    x, truth = _blobs(240, seed=3)
    rng = np.random.default_rng(4)
    codes = np.column_stack([truth, (truth + (rng.random(len(x)) < 0.1)) % 3])
    w = rng.integers(1, 4, len(x))
    data = BasisData(x, codes, [3, 3])
    ours = fit_kprototypes(data, 3, n_init=5, rng=np.random.default_rng(0), sample_weight=w)
    rep = np.repeat(np.arange(len(x)), w)
    ref = fit_kprototypes(data.take(rep), 3, n_init=5, rng=np.random.default_rng(0))
    # random starts differ (weighted draws), so the same optimum up to borderline rows
    assert ours.inertia == pytest.approx(ref.inertia, rel=1e-3)
    assert adjusted_rand_score(ours.labels[rep], ref.labels) > 0.97
    plain = fit_kprototypes(data, 3, n_init=5, rng=np.random.default_rng(0))
    assert float(plain._cost(data)[np.arange(len(x)), plain.labels] @ w) >= ours.inertia


def _with_far_clump(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, _ = _blobs(450, seed=seed)
    clump = np.random.default_rng(seed + 1).normal(size=(150, 3)) * 0.5 + [30.0, 30.0, 30.0]
    w = np.r_[np.ones(len(x)), np.zeros(len(clump))]
    return np.vstack([x, clump]), w


def test_zero_weight_rows_do_not_move_the_segments() -> None:
    x, w = _with_far_clump(seed=5)
    inside = w > 0
    # a 150-row clump far away would take a segment of its own if it counted
    ens = fit_ensemble(x, 3, n_init=3, rng=np.random.default_rng(0), sample_weight=w)
    assert len(ens.centers) == 3 and np.abs(ens.centers).max() < 8
    ref = fit_ensemble(x[inside], 3, n_init=3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(_sorted_rows(ens.centers), _sorted_rows(ref.centers), atol=0.2)
    gmm = fit_gmm(
        x, 3, n_init=2, rng=np.random.default_rng(0), covariance_type="diag", sample_weight=w
    )  # fmt: skip
    assert np.abs(gmm.centers).max() < 8
    kp = fit_kprototypes(BasisData(x, None, []), 3, n_init=5, rng=np.random.default_rng(0),
                         sample_weight=w)  # fmt: skip
    assert np.abs(kp.centers).max() < 8


@pytest.mark.parametrize("method", ["kmeans", "gmm", "kprototypes", "ensemble"])
def test_segmenter_fits_with_weights_in_every_method(method: str) -> None:
    x, w = _with_far_clump(seed=7)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    seg = NeedsSegmenter(
        method=method, n_segments=3, n_boot=4, n_init=3, standardize=False, random_state=0
    ).fit(frame, sample_weight=w)
    assert not any("weight" in m for m in seg.warnings_)
    # the zero-weight clump holds no share and no segment of its own
    inside = w > 0
    assert len(np.unique(seg.labels_[inside])) == 3


def test_segmenter_standardises_with_the_weights() -> None:
    # zero-weight rows far away must not change the scale of the basis either
    x, w = _with_far_clump(seed=9)
    inside = w > 0
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    params = dict(n_segments=3, n_boot=0, n_init=5, standardize=True, random_state=0)
    weighted = NeedsSegmenter(**params).fit(frame, sample_weight=w)  # type: ignore[arg-type]
    alone = NeedsSegmenter(**params).fit(frame[inside])  # type: ignore[arg-type]
    np.testing.assert_allclose(
        _sorted_rows(weighted.cluster_centers_), _sorted_rows(alone.cluster_centers_), atol=1e-6
    )
    assert adjusted_rand_score(weighted.labels_[inside], alone.labels_) == 1.0
