"""NeedsSegmenter: the sklearn contract, methods, choice of k, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import check_estimator

from segmentum.segments import NeedsSegmenter
from segmentum.segments.structure import recommendation_text


@pytest.fixture(scope="module")
def mcdonalds(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "msa" / "mcdonalds.csv")


def _blobs(n: int = 300, k: int = 4, seed: int = 0, std: float = 0.8):
    x, y = make_blobs(n_samples=n, centers=k, n_features=5, cluster_std=std, random_state=seed)
    return x, y


def test_check_estimator():
    check_estimator(
        NeedsSegmenter(k_range=(2, 3), n_boot=2, n_init=2, random_state=0, n_jobs=1),
        expected_failed_checks={
            "check_clustering": "segments are numbered 1..k by design (product rule), not 0..k-1",
            "check_sample_weight_equivalence_on_dense_data": "bootstrap resampling of a "
            "weighted row differs from resampling its copies, so the chosen k can differ",
        },
    )


def test_init_only_stores_and_clone():
    seg = NeedsSegmenter(4, k_range=[3, 5], method="gmm", n_boot=7)
    assert seg.k_range == [3, 5]
    assert clone(seg).get_params() == seg.get_params()


@pytest.mark.parametrize("seed", [0, 1])
def test_kmeans_inertia_never_above_sklearn(mcdonalds, seed):
    """Same n_init (10), same seed: our objective is ≤ scikit-learn's for k = 2..8.

    The segmenter fits the rows in a canonical order (sorted by value, so that row order
    does not matter); scikit-learn gets the rows in that order too, so both start from
    the same k-means++ draws."""
    x = (mcdonalds.iloc[:, :11].to_numpy() == "Yes").astype(float)
    canonical = x[np.lexsort(x.T[::-1])]
    for k in range(2, 9):
        ours = NeedsSegmenter(k, n_boot=0, n_init=10, random_state=seed).fit(x).inertia_
        theirs = KMeans(k, n_init=10, random_state=seed).fit(canonical).inertia_
        assert ours <= theirs + 1e-9 * theirs, (k, ours, theirs)


def test_selection_table_and_recommendation():
    x, y = _blobs()
    seg = NeedsSegmenter(k_range=(2, 6), n_boot=10, n_init=3, random_state=0, n_jobs=2).fit(x)
    sel = seg.selection_
    for col in [
        "k",
        "stability_median",
        "stability_q25",
        "stability_q75",
        "min_segment_share",
        "bic",
        "icl",
        "silhouette",
        "calinski_harabasz",
        "within_dispersion",
        "recommended",
    ]:
        assert col in sel.columns
    assert sel["k"].tolist() == [2, 3, 4, 5, 6]
    assert sel["recommended"].sum() == 1
    assert seg.n_segments_ == 4
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    assert seg.choice_.k_recommended == 4
    assert seg.structure_ in ("natural", "reproducible")  # four separated blobs
    text = recommendation_text(seg.choice_, seg.selection_, seg.min_segment_share)
    assert text.startswith("k = 4:")
    assert sel["bic"].isna().all()
    assert set(seg.stability_samples_) == {2, 3, 4, 5, 6}
    assert len(seg.stability_samples_[4]) == 10
    st = seg.segment_stability_
    assert st["segment"].tolist() == [1, 2, 3, 4]
    assert (st["jaccard_median"] > 0.9).all()
    assert not st["flagged"].any()


def test_labels_ordered_by_size_and_reproducible():
    x, _ = make_blobs(n_samples=[200, 50, 120], n_features=3, random_state=3, cluster_std=0.5)
    a = NeedsSegmenter(3, n_boot=0, random_state=7).fit(x)
    b = NeedsSegmenter(3, n_boot=0, random_state=7).fit(x)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert np.bincount(a.labels_)[1:].tolist() == [200, 120, 50]
    np.testing.assert_array_equal(a.predict(x), a.labels_)
    proba = a.predict_proba(x)
    np.testing.assert_array_equal(proba.argmax(axis=1) + 1, a.labels_)


def test_pinned_k_is_never_changed_but_evidence_computed():
    x, _ = _blobs()
    seg = NeedsSegmenter(6, k_range=(2, 5), n_boot=5, n_init=2, random_state=0).fit(x)
    assert seg.n_segments_ == 6
    assert seg.selection_["k"].tolist() == [2, 3, 4, 5, 6]
    assert bool(seg.selection_.set_index("k").loc[6, "chosen"])
    assert int(seg.selection_.loc[seg.selection_["recommended"], "k"].iloc[0]) == 4
    assert seg.choice_.reason == "pinned" and seg.choice_.k_recommended == 4
    text = recommendation_text(seg.choice_, seg.selection_, seg.min_segment_share)
    assert text.startswith("k = 6 as pinned by the user")


@pytest.mark.parametrize("method", ["kmeans", "gmm", "ensemble", "kprototypes", "lca"])
def test_every_method_fits_predicts(method):
    x, y = _blobs(n=240, k=3, std=0.6)
    if method == "lca":
        x = np.digitize(x, np.quantile(x, [0.33, 0.66], axis=0).mean(axis=1))
    seg = NeedsSegmenter(
        3, k_range=(2, 3), method=method, n_boot=2, n_init=3, random_state=0, n_jobs=1
    )
    seg.fit(x)
    assert seg.n_segments_ == 3
    assert adjusted_rand_score(y, seg.labels_) > 0.7
    proba = seg.predict_proba(x)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if method in ("gmm", "lca"):
        assert np.isfinite(seg.bic_) and np.isfinite(seg.log_likelihood_)
    else:
        assert np.isnan(seg.bic_)


def test_gmm_full_covariance_and_bic_choice():
    x, _y = _blobs(n=300, k=3, std=0.6)
    seg = NeedsSegmenter(
        method="gmm", covariance_type="full", k_range=(2, 5), n_boot=4, n_init=2, random_state=0
    ).fit(x)
    assert seg.n_segments_ == 3
    sel = seg.selection_.set_index("k")
    assert sel["bic"].idxmin() == 3


def test_kprototypes_on_mixed_data():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 80)
    num = rng.normal(size=(240, 2)) + np.array([[0, 0], [4, 0], [0, 4]])[truth]
    cat = np.where(rng.random(240) < 0.85, np.array(["a", "b", "c"])[truth], "a")
    df = pd.DataFrame({"x1": num[:, 0], "x2": num[:, 1], "brand": cat})
    seg = NeedsSegmenter(3, method="kprototypes", n_boot=0, n_init=5, random_state=0).fit(df)
    assert adjusted_rand_score(truth, seg.labels_) > 0.85
    np.testing.assert_array_equal(seg.predict(df), seg.labels_)


def test_ensemble_consensus_recovers_blobs():
    x, y = _blobs(n=400, k=4, std=1.0)
    seg = NeedsSegmenter(4, method="ensemble", n_boot=0, random_state=0).fit(x)
    assert adjusted_rand_score(y, seg.labels_) > 0.95


def test_lca_on_mcdonalds_yes_no(mcdonalds):
    x = mcdonalds.iloc[:, :11]
    seg = NeedsSegmenter(4, method="lca", n_boot=0, n_init=10, random_state=0).fit(x)
    assert seg.log_likelihood_ == pytest.approx(-7111.108, abs=0.01)


def test_weights_used_for_shares():
    x, y = make_blobs(n_samples=[100, 100], n_features=2, random_state=0, cluster_std=0.3)
    w = np.where(y == 0, 3.0, 1.0)
    seg = NeedsSegmenter(2, n_boot=0, random_state=0).fit(x, sample_weight=w)
    shares = seg.segment_stability_.set_index("segment")["share"]
    assert shares.max() == pytest.approx(0.75)


def test_small_segments_are_flagged():
    x, _ = make_blobs(n_samples=[300, 300, 6], n_features=2, random_state=1, cluster_std=0.4)
    seg = NeedsSegmenter(3, n_boot=0, random_state=0).fit(x)
    assert any("under the 5%" in m for m in seg.warnings_)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_segments": 10}, "n_samples = 8"),
        ({"k_range": (2, 9)}, "cannot be fitted"),
        ({"k_range": (5, 3)}, "2 <= low <= high"),
        ({"method": "dbscan"}, "method"),
    ],
)
def test_bad_input_gives_clear_errors(params, match):
    x = np.arange(16, dtype=float).reshape(8, 2)
    with pytest.raises(ValueError, match=match):
        NeedsSegmenter(n_boot=0, **params).fit(x)


def test_mixed_types_error_through_the_estimator():
    df = pd.DataFrame({"a": ["Yes", "No", 1, "No"] * 5, "b": list(range(20))})
    with pytest.raises(ValueError, match="'a'"):
        NeedsSegmenter(2, n_boot=0).fit(df)


def test_lca_refuses_continuous_items():
    df = pd.DataFrame({"a": np.linspace(0, 1, 30), "b": [1, 2, 3] * 10})
    with pytest.raises(ValueError, match="'a' is numeric"):
        NeedsSegmenter(2, method="lca", n_boot=0).fit(df)


def test_solution_for_a_k_does_not_depend_on_the_range():
    x, _ = _blobs(n=200, k=3, std=1.5)
    a = NeedsSegmenter(3, method="gmm", n_boot=0, n_init=2, random_state=4).fit(x)
    b = NeedsSegmenter(3, k_range=(2, 4), method="gmm", n_boot=2, n_init=2, random_state=4)
    np.testing.assert_array_equal(a.labels_, b.fit(x).labels_)


def test_ensemble_large_n_uses_membership_kmeans():
    """Above 3,000 rows the consensus is k-means on the membership matrix (no n × n)."""
    x, y = make_blobs(n_samples=3200, centers=3, n_features=3, random_state=2, cluster_std=1.0)
    seg = NeedsSegmenter(3, method="ensemble", n_boot=0, n_init=2, random_state=0).fit(x)
    assert adjusted_rand_score(y, seg.labels_) > 0.95
