"""BG/NBD and Pareto/NBD with time-invariant covariates (Fader & Hardie 2007; CLVTools)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentum.value import summarize
from segmentum.value.models import BetaGeoModel, ParetoNBDModel
from segmentum.value.models._covariates import _objective
from segmentum.value.models.bgnbd import simulate_bgnbd
from segmentum.value.models.simulate import (
    simulate_bgnbd_covariates,
    simulate_pareto_nbd_covariates,
)

BG_TRUTH = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}
PNBD_TRUTH = {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 8.0}
PLANT_P = {"bundle": 0.5, "age": -0.3}


def _covariates(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"bundle": rng.integers(0, 2, n).astype(float), "age": rng.normal(size=n)})


@pytest.fixture(scope="module")
def plain_rfm() -> pd.DataFrame:
    df = simulate_bgnbd({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 38, 2000, seed=1)
    rng = np.random.default_rng(0)
    df["g"] = rng.integers(0, 2, len(df))
    df["channel"] = rng.choice(["web", "shop", "phone"], len(df))
    return df


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_no_covariates_is_the_plain_fit(cls: type, plain_rfm: pd.DataFrame) -> None:
    plain = cls().fit(plain_rfm[["frequency", "recency", "T"]])
    again = cls().fit(plain_rfm, purchase_covariates=[], dropout_covariates=None)
    assert again.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    assert again.params_ == plain.params_
    assert again.covariate_effects_.empty
    assert list(again.covariate_effects_.columns) == ["process", "covariate", "coef", "se"]


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_zero_effects_reduce_to_the_plain_model(cls: type, plain_rfm: pd.DataFrame) -> None:
    plain = cls().fit(plain_rfm)
    m = cls().fit(plain_rfm, purchase_covariates=["g"], dropout_covariates=["channel"])
    # set every coefficient to zero and the baseline to the plain optimum
    m._params = plain._params.copy()
    m.covariate_effects_["coef"] = 0.0
    for pred in ("probability_alive",):
        np.testing.assert_allclose(
            getattr(m, pred)(plain_rfm), getattr(plain, pred)(plain_rfm), rtol=1e-10
        )
    np.testing.assert_allclose(
        m.expected_purchases(10, plain_rfm), plain.expected_purchases(10, plain_rfm), rtol=1e-9
    )
    data = {
        "x": plain_rfm["frequency"].to_numpy(float),
        "tx": plain_rfm["recency"].to_numpy(float),
        "T": plain_rfm["T"].to_numpy(float),
        "w": np.ones(len(plain_rfm)),
    }
    zp, zd = m._designs(plain_rfm)
    ll, _ = _objective(m._theta(), type(m)._cov_ind, data, zp, zd, m._cov_scales)
    assert ll == pytest.approx(plain.log_likelihood_, abs=1e-6)
    # with free coefficients the likelihood can only rise
    fitted = cls().fit(plain_rfm, purchase_covariates=["g"], dropout_covariates=["channel"])
    assert fitted.log_likelihood_ >= plain.log_likelihood_ - 1e-6


def _within(model: object, truth: dict[str, float], effects: dict[tuple[str, str], float]) -> None:
    for name, value in truth.items():
        est, se = model.params_[name], model.standard_errors_[name]  # type: ignore[attr-defined]
        assert abs(est - value) < 3 * se, (name, est, value, se)
    ce = model.covariate_effects_.set_index(["process", "covariate"])  # type: ignore[attr-defined]
    for key, value in effects.items():
        est, se = ce.loc[key, "coef"], ce.loc[key, "se"]
        assert abs(est - value) < 3 * se, (key, est, value, se)
        assert se < 0.5 * abs(value)  # the planted effect is identified, not just unrefuted


def test_bgnbd_recovers_planted_effects() -> None:
    df = simulate_bgnbd_covariates(
        BG_TRUTH, _covariates(20_000), 52, purchase=PLANT_P, dropout={"bundle": 0.8}, seed=4
    )
    m = BetaGeoModel().fit(df, purchase_covariates=["bundle", "age"], dropout_covariates=["bundle"])
    effects = {("purchase", k): v for k, v in PLANT_P.items()} | {("dropout", "bundle"): 0.8}
    _within(m, BG_TRUTH, effects)
    # a planted null is not found
    null = BetaGeoModel().fit(df, purchase_covariates=["bundle"], dropout_covariates=["age"])
    row = null.covariate_effects_.query("process == 'dropout'").iloc[0]
    assert abs(row["coef"]) < 3 * row["se"]


def test_pareto_nbd_recovers_planted_effects() -> None:
    df = simulate_pareto_nbd_covariates(
        PNBD_TRUTH, _covariates(4000), 52, purchase=PLANT_P, dropout={"bundle": -0.8}, seed=4
    )
    m = ParetoNBDModel().fit(
        df, purchase_covariates=["bundle", "age"], dropout_covariates=["bundle"]
    )
    effects = {("purchase", k): v for k, v in PLANT_P.items()} | {("dropout", "bundle"): -0.8}
    _within(m, PNBD_TRUTH, effects)
    # customers with the bundle churn less: on average a higher P(alive) at the same history
    same = df.head(500).copy()
    p1 = m.probability_alive(same.assign(bundle=1.0)).to_numpy()
    p0 = m.probability_alive(same.assign(bundle=0.0)).to_numpy()
    assert np.mean(p1 - p0) > 0.01


def test_categorical_coding_and_bad_input(plain_rfm: pd.DataFrame) -> None:
    m = BetaGeoModel().fit(plain_rfm, purchase_covariates=["channel"])
    # dummies for every level but the first in sorted order ("phone" is the reference)
    assert list(m.covariate_effects_["covariate"]) == ["channel[shop]", "channel[web]"]
    with pytest.raises(ValueError, match="'nope' is not a column"):
        BetaGeoModel().fit(plain_rfm, purchase_covariates=["nope"])
    bad = plain_rfm.assign(g=plain_rfm["g"].astype(float))
    bad.loc[5, "g"] = np.nan
    with pytest.raises(ValueError, match=r"covariate 'g' has 1 missing value.*row\(s\) \[5\]"):
        BetaGeoModel().fit(bad, dropout_covariates=["g"])
    with pytest.raises(ValueError, match="covariate 'k' is constant"):
        BetaGeoModel().fit(plain_rfm.assign(k=1.0), purchase_covariates=["k"])
    with pytest.raises(ValueError, match="covariate 'c' takes one value only"):
        BetaGeoModel().fit(plain_rfm.assign(c="a"), purchase_covariates=["c"])
    with pytest.raises(ValueError, match="covariate 'd' has dtype datetime64"):
        BetaGeoModel().fit(
            plain_rfm.assign(d=pd.Timestamp("2024-01-01")), purchase_covariates=["d"]
        )
    with pytest.raises(ValueError, match="collinear"):
        BetaGeoModel().fit(plain_rfm.assign(g2=2 * plain_rfm["g"]), purchase_covariates=["g", "g2"])
    with pytest.raises(ValueError, match=r"level\(s\) \['fax'\] unseen at fit time"):
        m.probability_alive(plain_rfm.assign(channel="fax"))


def apparel_rfm(shared_data: object) -> pd.DataFrame:
    from pathlib import Path

    folder = Path(str(shared_data)) / "clv-other"
    tx = pd.read_csv(folder / "clvtools_apparelTrans_SIMULATED.csv", parse_dates=["Date"])
    cov = pd.read_csv(folder / "clvtools_apparelStaticCov_SIMULATED.csv")
    rfm = summarize(tx, customer_id="Id", timestamp="Date", amount="Price", time_unit="W")
    return rfm.merge(cov, on="Id", how="left")


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_clvtools_apparel_static_covariates(cls: type, shared_data: object) -> None:
    rfm = apparel_rfm(shared_data)
    assert len(rfm) == 600 and not rfm[["Gender", "Channel"]].isna().any().any()
    plain = cls().fit(rfm)
    m = cls().fit(
        rfm, purchase_covariates=["Gender", "Channel"], dropout_covariates=["Gender", "Channel"]
    )
    assert m.log_likelihood_ >= plain.log_likelihood_ - 1e-6
    assert np.all(np.isfinite(m.covariate_effects_[["coef", "se"]].to_numpy()))
    assert len(m.covariate_effects_) == 4
    # at zero effects the covariate likelihood is the plain one
    data = {
        "x": rfm["frequency"].to_numpy(float),
        "tx": rfm["recency"].to_numpy(float),
        "T": rfm["T"].to_numpy(float),
        "w": np.ones(len(rfm)),
    }
    zp, zd = m._designs(rfm)
    theta = np.concatenate([np.log(plain._params), np.zeros(4)])
    ll, _ = _objective(theta, cls._cov_ind, data, zp, zd, cls._cov_scales)
    assert ll == pytest.approx(plain.log_likelihood_, abs=1e-6)


def test_pooled_newton_fit_equals_the_general_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    z = pd.DataFrame(
        {"bundle": rng.integers(0, 2, 90_000).astype(float), "channel": rng.integers(0, 3, 90_000)}
    )
    df = simulate_bgnbd_covariates(
        BG_TRUTH, z, 52, purchase={"bundle": 0.3, "channel": -0.2}, dropout={"bundle": 0.5}
    )
    df["channel"] = df["channel"].map({0: "web", 1: "agent", 2: "phone"})
    kw = {"purchase_covariates": ["bundle", "channel"], "dropout_covariates": ["bundle"]}
    pooled = BetaGeoModel().fit(df, **kw)  # discrete covariates, > 80,000 rows: warm-started
    monkeypatch.setattr(BetaGeoModel, "_cov_grouped", False)
    general = BetaGeoModel().fit(df, **kw)
    assert pooled.log_likelihood_ == pytest.approx(general.log_likelihood_, abs=1e-4)
    a, b = pooled.covariate_effects_, general.covariate_effects_
    np.testing.assert_allclose(a["coef"], b["coef"], atol=1e-5)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-3)
    for k in BG_TRUTH:
        assert pooled.params_[k] == pytest.approx(general.params_[k], rel=1e-5)
        assert pooled.standard_errors_[k] == pytest.approx(general.standard_errors_[k], rel=1e-3)
