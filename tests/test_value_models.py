"""CLV models reproduce the published estimates and recover simulated parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.value import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    NotFittedError,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from segmentum.value.models._base import numeric_gradient
from segmentum.value.models.bgbb import simulate_bgbb
from segmentum.value.models.bgnbd import bgnbd_log_likelihood, simulate_bgnbd
from segmentum.value.models.gamma_gamma import gamma_gamma_log_likelihood, simulate_gamma_gamma
from segmentum.value.models.pareto_nbd import pareto_nbd_log_likelihood, simulate_pareto_nbd
from segmentum.value.models.sbg import simulate_sbg


@pytest.fixture(scope="module")
def cdnow(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "cdnow" / "cdnow_sample_summary_with_monetary.csv")


def _close(params: dict[str, float], published: dict[str, float], rel: float = 2e-3) -> None:
    for k, v in published.items():
        assert params[k] == pytest.approx(v, rel=rel, abs=6e-4), k


# -- published estimates ------------------------------------------------------------
def test_bgnbd_cdnow(cdnow: pd.DataFrame) -> None:
    m = BetaGeoModel().fit(cdnow)
    _close(m.params_, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert m.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    # standard errors as reported by lifetimes for the same data
    assert m.standard_errors_["r"] == pytest.approx(0.0126, rel=0.05)
    assert m.standard_errors_["alpha"] == pytest.approx(0.378, rel=0.05)
    assert list(m.summary.columns) == ["coef", "se(coef)", "lower 95%", "upper 95%"]


def test_pareto_nbd_cdnow(cdnow: pd.DataFrame) -> None:
    m = ParetoNBDModel().fit(cdnow)
    _close(m.params_, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, rel=3e-3)
    assert m.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert all(np.isfinite(v) and v > 0 for v in m.standard_errors_.values())


def test_gamma_gamma_cdnow(cdnow: pd.DataFrame) -> None:
    m = GammaGammaModel().fit(cdnow)
    assert m.n_customers_ == 946
    _close(m.params_, {"p": 6.25, "q": 3.74, "v": 15.44}, rel=3e-3)
    spend = m.expected_spend(cdnow)
    assert spend.index.name == "customer_id"
    # shrinkage: between the population mean and the customer's own mean
    own = cdnow["monetary_value"].to_numpy()
    lo, hi = np.minimum(own, m.mean_spend_), np.maximum(own, m.mean_spend_)
    rep = cdnow["frequency"].to_numpy() > 0
    assert np.all(
        (spend.to_numpy()[rep] >= lo[rep] - 1e-9) & (spend.to_numpy()[rep] <= hi[rep] + 1e-9)
    )


@pytest.mark.parametrize(
    ("column", "alpha", "beta"), [("regular_alive", 0.704, 1.182), ("highend_alive", 0.668, 3.806)]
)
def test_sbg_fader_hardie_2007(shared_data: Path, column: str, alpha: float, beta: float) -> None:
    raw = pd.read_csv(shared_data / "clv-other" / "sbg_fader_hardie_2007_survival.csv")
    m = ShiftedBetaGeoModel().fit(raw.rename(columns={column: "alive"}))
    _close(m.params_, {"alpha": alpha, "beta": beta})
    proj = m.project(12, cohort_size=1000)
    assert proj["survival"].iloc[0] == 1
    assert proj["retention_rate"].iloc[1:].is_monotonic_increasing
    np.testing.assert_allclose(proj["expected_alive"].iloc[:8], raw[column], rtol=0.05)


def test_bgbb_donations(shared_data: Path) -> None:
    df = pd.read_csv(shared_data / "clv-other" / "donations_bgbb_aggregated.csv")
    m = BetaGeoBetaBinomModel().fit(df)  # the file names the opportunities 'periods'
    _close(m.params_, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
    assert m.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    p = m.probability_alive(df)
    assert ((p > 0) & (p <= 1)).all()
    e = m.expected_purchases(5, df)
    assert (e > 0).all() and e.is_monotonic_increasing is not None
    # heavier, more recent donors are expected to give more
    assert e.iloc[-1] > e.iloc[0]


# -- likelihood functions ------------------------------------------------------------
def test_analytic_gradients_match_numeric(cdnow: pd.DataFrame) -> None:
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for p in (np.array([0.3, 4.0, 0.8, 2.0]), np.array([1.5, 20.0, 2.0, 0.7])):
        _, g = bgnbd_log_likelihood(p, x, tx, T, gradient=True)
        np.testing.assert_allclose(
            g,
            numeric_gradient(lambda q: bgnbd_log_likelihood(q, x, tx, T), p),
            rtol=1e-5,
            atol=1e-4,
        )
    for p in (np.array([0.5, 10.0, 0.6, 12.0]), np.array([0.5, 14.0, 0.6, 3.0])):  # both branches
        _, g = pareto_nbd_log_likelihood(p, x, tx, T, gradient=True)
        np.testing.assert_allclose(
            g,
            numeric_gradient(lambda q: pareto_nbd_log_likelihood(q, x, tx, T), p),
            rtol=1e-5,
            atol=1e-4,
        )
    rep = x > 0
    m = cdnow["monetary_value"].to_numpy(float)[rep]
    p3 = np.array([6.0, 3.5, 15.0])
    _, g = gamma_gamma_log_likelihood(p3, x[rep], m, gradient=True)
    np.testing.assert_allclose(
        g,
        numeric_gradient(lambda q: gamma_gamma_log_likelihood(q, x[rep], m), p3),
        rtol=1e-5,
        atol=1e-4,
    )


def test_likelihoods_stay_finite_for_heavy_buyers() -> None:
    x = np.array([0.0, 1.0, 300.0, 5000.0])
    tx = np.array([0.0, 1.0, 50.0, 51.9])
    T = np.array([52.0, 52.0, 52.0, 52.0])
    for p in (np.array([0.2, 5.0, 0.8, 2.0]), np.array([50.0, 0.01, 0.01, 300.0])):
        assert np.isfinite(bgnbd_log_likelihood(p, x, tx, T))
    for p in (np.array([0.5, 10.0, 0.6, 12.0]), np.array([3.0, 1.0, 0.1, 80.0])):
        assert np.isfinite(pareto_nbd_log_likelihood(p, x, tx, T))


# -- predictions ------------------------------------------------------------------------
def test_bgnbd_predictions_track_holdout(shared_data: Path, cdnow: pd.DataFrame) -> None:
    from segmentum.value import summarize

    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    s = summarize(
        tx,
        amount="dollar_value",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
        time_unit="W",
    )
    for model in (BetaGeoModel(), ParetoNBDModel()):
        model.fit(s)
        pred = model.expected_purchases(39, s)
        assert pred.index.equals(pd.Index(s["customer_id"], name="customer_id"))
        # actual 1,882 repeat purchases; both models under-forecast this cohort's holdout a
        # little (lifetimes' BetaGeoFitter gives the same 1,653.4 for BG/NBD)
        assert pred.sum() == pytest.approx(s["frequency_holdout"].sum(), rel=0.15)
        p = model.probability_alive(s)
        assert ((p >= 0) & (p <= 1)).all()


@pytest.mark.parametrize(
    ("model", "simulate"), [(BetaGeoModel, simulate_bgnbd), (ParetoNBDModel, simulate_pareto_nbd)]
)
def test_unconditional_expectation_matches_simulation(model: type, simulate: object) -> None:
    params = (
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        if model is BetaGeoModel
        else {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    )
    m = model()
    m.params_ = params
    m._params = np.array(list(params.values()))
    sim = simulate(params, 52.0, 200_000, seed=3)  # type: ignore[operator]
    assert sim["frequency"].mean() == pytest.approx(
        float(m.expected_purchases_up_to(52.0)), rel=0.03
    )


# -- parameter recovery (1e5 customers, within a few standard errors) ----------------------
def _recovered(m: object, truth: dict[str, float], z: float = 4.0) -> None:
    for k, v in truth.items():
        est, se = m.params_[k], m.standard_errors_[k]  # type: ignore[attr-defined]
        assert np.isfinite(se) and se > 0
        assert abs(est - v) < z * se, (k, est, v, se)


def test_recover_bgnbd() -> None:
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    T = np.random.default_rng(1).uniform(20, 52, 100_000)
    _recovered(BetaGeoModel().fit(simulate_bgnbd(truth, T, 100_000, seed=11)), truth)


@pytest.mark.slow
def test_recover_pareto_nbd() -> None:
    truth = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    _recovered(ParetoNBDModel().fit(simulate_pareto_nbd(truth, 39.0, 100_000, seed=12)), truth)


def test_recover_gamma_gamma() -> None:
    truth = {"p": 6.25, "q": 3.74, "v": 15.44}
    x = 1 + np.random.default_rng(2).poisson(2.0, 100_000)
    _recovered(GammaGammaModel().fit(simulate_gamma_gamma(truth, x, seed=13)), truth)


def test_recover_sbg() -> None:
    truth = {"alpha": 0.704, "beta": 1.182}
    _recovered(ShiftedBetaGeoModel().fit(simulate_sbg(truth, 100_000, 7, seed=14)), truth)


def test_recover_bgbb() -> None:
    truth = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    _recovered(BetaGeoBetaBinomModel().fit(simulate_bgbb(truth, 100_000, 6, seed=15)), truth)


# -- contract and failures -------------------------------------------------------------------
def test_init_only_stores_and_guards() -> None:
    m = BetaGeoModel(penalizer=-1)
    assert m.penalizer == -1
    with pytest.raises(ValueError, match="penalizer"):
        m.fit(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))
    with pytest.raises(NotFittedError, match="fit"):
        BetaGeoModel().probability_alive(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))
    with pytest.raises(ValueError, match="recency"):
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1, 0]}))
    with pytest.raises(ValueError, match=r"recency.*\[0, T\]"):
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1], "recency": [5.0], "T": [2.0]}))


def test_no_repeat_buyers_raises_convergence_error() -> None:
    df = pd.DataFrame({"frequency": [0.0] * 50, "recency": [0.0] * 50, "T": np.linspace(5, 40, 50)})
    for model in (BetaGeoModel(), ParetoNBDModel()):
        with pytest.raises(ConvergenceError, match="Remedy"):
            model.fit(df)
    with pytest.raises(ValueError, match="needs repeat purchases: 0 of 50"):
        GammaGammaModel().fit(df.assign(monetary_value=0.0))


def test_penalizer_shrinks() -> None:
    df = simulate_bgnbd({"r": 0.5, "alpha": 5, "a": 0.8, "b": 2.5}, 30.0, 300, seed=5)
    plain = BetaGeoModel().fit(df)
    pen = BetaGeoModel(penalizer=0.1).fit(df)
    assert sum(v**2 for v in pen.params_.values()) < sum(v**2 for v in plain.params_.values())
    assert pen.log_likelihood_ <= plain.log_likelihood_ + 1e-6


def test_clv_discounting(cdnow: pd.DataFrame) -> None:
    from segmentum.value import customer_lifetime_value

    bg = BetaGeoModel().fit(cdnow)
    spend = GammaGammaModel().fit(cdnow).expected_spend(cdnow)
    undiscounted = customer_lifetime_value(bg, cdnow, spend, horizon=52, step=4, discount_rate=0.0)
    direct = bg.expected_purchases(52, cdnow) * spend
    np.testing.assert_allclose(undiscounted, direct, rtol=1e-10)
    discounted = customer_lifetime_value(
        bg, cdnow, spend, horizon=52, step=4, discount_rate=0.01, margin_rate=0.3
    )
    assert (discounted < 0.3 * undiscounted + 1e-12).all() and (discounted > 0).all()


def test_bgnbd_series_for_hyp2f1_equals_scipy_where_scipy_works() -> None:
    from scipy.special import hyp2f1

    from segmentum.value.models.bgnbd import _log_hyp2f1_series

    rng = np.random.default_rng(0)
    a1, b1 = rng.uniform(0.5, 30, 300), rng.uniform(0.5, 30, 300)
    c1, z = rng.uniform(0.5, 40, 300), rng.uniform(0, 0.6, 300)
    np.testing.assert_allclose(
        _log_hyp2f1_series(a1, b1, c1, z), np.log(hyp2f1(a1, b1, c1, z)), atol=1e-11
    )


def test_bgnbd_expected_purchases_for_near_poisson_buyers() -> None:
    # a fit on 2 M customers with no churn gave r = 15,823 and alpha = 701,018, where scipy's
    # hyp2f1 returns NaN; with a ~ 0 nobody drops out and purchases are Poisson with rate
    # (r + x) / (alpha + T), so expected purchases are t times that, times p_alive
    from segmentum.value import BetaGeoModel

    m = BetaGeoModel()
    m._params = np.array([15823.2, 701017.9, 1.0071e-05, 201.457])
    m.params_ = dict(zip(["r", "alpha", "a", "b"], m._params, strict=True))
    df = pd.DataFrame(
        {"frequency": [24.0, 0.0, 40.0], "recency": [1000.0, 0.0, 1090.0], "T": [1050.0, 900, 1094]}
    )
    got = m.expected_purchases(365, df).to_numpy()
    limit = 365 * (15823.2 + df["frequency"]) / (701017.9 + df["T"]) * m.probability_alive(df)
    np.testing.assert_allclose(got, limit.to_numpy(), rtol=1e-5)
