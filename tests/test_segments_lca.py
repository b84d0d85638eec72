"""Latent class analysis: log-likelihoods equal StepMix's (and poLCA's published values)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segmentum.segments import NeedsSegmenter
from segmentum.segments.lca import fit_lca, lca_log_likelihood, one_hot

stepmix = pytest.importorskip("stepmix")


def _codes(df: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    out, n_cats = [], []
    for c in df.columns:
        cat = pd.Categorical(df[c])
        out.append(cat.codes.astype(np.int64))
        n_cats.append(len(cat.categories))
    return np.column_stack(out), n_cats


def _load(shared_data, name: str) -> pd.DataFrame:
    if name == "mcdonalds":
        return pd.read_csv(shared_data / "msa" / "mcdonalds.csv").iloc[:, :11]
    df = pd.read_csv(shared_data / "polca" / f"{name}.csv")
    if name == "cheating":
        df = df.drop(columns="GPA")
    if name == "election_codes":
        df = df.iloc[:, :12]
    return df


def _stepmix_fit(codes: np.ndarray, k: int, n_init: int, seed: int = 0):
    x = codes.astype(float)
    x[x < 0] = np.nan
    meas = "categorical_nan" if np.isnan(x).any() else "categorical"
    model = stepmix.StepMix(
        n_components=k,
        measurement=meas,
        n_init=n_init,
        random_state=seed,
        verbose=0,
        progress_bar=0,
        max_iter=5000,
        abs_tol=1e-10,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
    return model, x


def _stepmix_ll_at(model, x: np.ndarray, res, n_cats: list[int]) -> float:
    """StepMix's log-likelihood evaluated at our parameters (same likelihood definition)."""
    params = model.get_parameters()
    m = params["measurement"]["max_n_outcomes"]
    theta = np.exp(res.log_theta)
    k = theta.shape[0]
    pis = np.zeros((k, len(n_cats) * m))
    off = np.concatenate([[0], np.cumsum(n_cats)])
    for j, c in enumerate(n_cats):
        pis[:, j * m : j * m + c] = theta[:, off[j] : off[j + 1]]
    params["weights"] = np.exp(res.log_pi)
    params["measurement"]["pis"] = pis
    model.set_parameters(params)
    return float(model.score(x) * len(x))


def _compare(shared_data, name: str, k: int, stepmix_init: int) -> tuple[float, float, float]:
    codes, n_cats = _codes(_load(shared_data, name))
    ours = fit_lca(codes, n_cats, k, n_init=30, random_state=0)
    model, x = _stepmix_fit(codes, k, stepmix_init)
    theirs = float(model.score(x) * len(x))
    at_ours = _stepmix_ll_at(model, x, ours, n_cats)
    return ours.log_likelihood, theirs, at_ours


@pytest.mark.parametrize(
    ("name", "k"),
    [("carcinoma", 2), ("carcinoma", 3), ("values", 2), ("mcdonalds", 2), ("mcdonalds", 3)],
)
def test_lca_log_likelihood_equals_stepmix_quick(shared_data, name, k):
    ours, theirs, at_ours = _compare(shared_data, name, k, stepmix_init=3)
    assert abs(at_ours - ours) < 1e-6  # the same likelihood
    assert abs(ours - theirs) < 0.01  # the same maximum


DATASETS = ["carcinoma", "values", "cheating", "gss82", "election_codes", "mcdonalds"]


@pytest.mark.slow
@pytest.mark.parametrize("name", DATASETS)
def test_lca_log_likelihood_equals_stepmix_all(shared_data, name):
    """2–5 classes on every poLCA set and the 11 McDonald's perceptions.

    StepMix (3 random starts) sometimes stops at a local maximum that our 30 starts
    beat (cheating, 3 classes: −438.21 against −436.24); then StepMix is refitted with
    more starts, and in every case its likelihood at our parameters equals ours.
    """
    for k in range(2, 6):
        ours, theirs, at_ours = _compare(shared_data, name, k, stepmix_init=3)
        assert abs(at_ours - ours) < 1e-6
        if abs(ours - theirs) >= 0.01:
            assert ours > theirs  # we found a higher maximum; give StepMix more starts
            codes, _n_cats = _codes(_load(shared_data, name))
            model, x = _stepmix_fit(codes, k, n_init=20, seed=1)
            theirs = float(model.score(x) * len(x))
        assert abs(ours - theirs) < 0.01, (name, k, ours, theirs)


@pytest.mark.parametrize(("k", "published"), [(2, -317.2568), (3, -293.705)])
def test_lca_carcinoma_matches_polca_published(shared_data, k, published):
    """poLCA's help page (carcinoma): log-likelihood −317.2568 (2 classes), −293.705 (3)."""
    codes, n_cats = _codes(_load(shared_data, "carcinoma"))
    res = fit_lca(codes, n_cats, k, n_init=20, random_state=1)
    assert res.log_likelihood == pytest.approx(published, abs=0.01)


def test_lca_missing_values_fiml_matches_stepmix(shared_data):
    """election (rows with missing ratings): missing items drop out of the likelihood."""
    codes, _n_cats = _codes(_load(shared_data, "election_codes"))
    assert (codes < 0).any()
    ours, theirs, at_ours = _compare(shared_data, "election_codes", 2, stepmix_init=2)
    assert abs(at_ours - ours) < 1e-6
    assert abs(ours - theirs) < 0.01


def test_lca_weights_equal_replicated_rows(shared_data):
    codes, n_cats = _codes(_load(shared_data, "carcinoma"))
    rng = np.random.default_rng(0)
    w = rng.integers(1, 4, size=len(codes)).astype(float)
    rep = np.repeat(codes, w.astype(int), axis=0)
    a = fit_lca(codes, n_cats, 2, weights=w, n_init=20, random_state=0)
    b = fit_lca(rep, n_cats, 2, n_init=20, random_state=0)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, abs=1e-4)
    y, _ = one_hot(codes, n_cats)
    assert lca_log_likelihood(a.log_pi, a.log_theta, y, w) == pytest.approx(a.log_likelihood)


def test_lca_through_the_segmenter_on_labels(shared_data):
    """gss82 as text labels: the estimator codes them and reports LL, BIC and ICL."""
    df = pd.read_csv(shared_data / "polca" / "gss82.csv")
    seg = NeedsSegmenter(3, method="lca", n_boot=0, n_init=20, random_state=0).fit(df)
    assert seg.log_likelihood_ == pytest.approx(-2754.545, abs=0.01)
    n_par = 2 + 3 * (2 + 1 + 1 + 2)  # (K - 1) + K * sum(C_j - 1)
    assert seg.bic_ == pytest.approx(-2 * seg.log_likelihood_ + n_par * np.log(len(df)))
    assert seg.icl_ >= seg.bic_
    proba = seg.predict_proba(df)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert sorted(np.unique(seg.labels_)) == [1, 2, 3]
