"""Gamma-Gamma fitted on the likelihood's sums (in memory, and in Spark) gives the fit on
the rows; in Spark only O(distinct frequencies) rows reach the driver (#17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.value.models._base import numeric_hessian
from segmentum.value.models.gamma_gamma import (
    GammaGammaModel,
    gamma_gamma_log_likelihood,
    gamma_gamma_sums,
    gamma_gamma_sums_log_likelihood,
    simulate_gamma_gamma,
)

TRUTH = {"p": 6.0, "q": 4.0, "v": 15.0}


def _planted(n: int, seed: int) -> pd.DataFrame:
    x = 1 + np.random.default_rng(seed).poisson(2.0, n)
    return simulate_gamma_gamma(TRUTH, x, seed=seed + 1)


def _same_fit(a: GammaGammaModel, b: GammaGammaModel, rtol: float = 1e-6) -> None:
    for k in ("p", "q", "v"):
        assert b.params_[k] == pytest.approx(a.params_[k], rel=rtol), k
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=rtol)
    assert b.n_customers_ == a.n_customers_


def test_sums_likelihood_gradient_and_hessian_are_those_of_the_rows() -> None:
    df = _planted(3_000, 4)
    w = np.random.default_rng(5).integers(1, 4, len(df)).astype(float)
    x, m = df["frequency"].to_numpy(), df["monetary_value"].to_numpy()
    sums = gamma_gamma_sums(x, m, w)
    assert sums.frequency.size < 20 and sums.weights.sum() == w.sum()
    for params in (np.array([5.0, 3.5, 12.0]), np.array([0.7, 9.0, 80.0])):
        ll, g = gamma_gamma_log_likelihood(params, x, m, w, gradient=True)  # type: ignore[misc]
        ll_s, g_s, h_s = gamma_gamma_sums_log_likelihood(params, sums, order=2)
        assert ll_s == pytest.approx(ll, rel=1e-12)
        np.testing.assert_allclose(g_s, g, rtol=1e-8, atol=1e-8 * np.abs(g).max())

        def grad(t: np.ndarray) -> np.ndarray:
            return gamma_gamma_log_likelihood(t, x, m, w, gradient=True)[1]  # type: ignore[index,return-value]

        h = numeric_hessian(grad, params)
        np.testing.assert_allclose(h_s, h, rtol=1e-5, atol=1e-6 * np.abs(h).max())


@pytest.mark.parametrize("penalizer", [0.0, 0.001])
def test_fit_sums_gives_the_fit_on_the_rows(penalizer: float) -> None:
    df = _planted(20_000, 7)
    rows = GammaGammaModel(penalizer=penalizer).fit(df)
    sums = gamma_gamma_sums(df["frequency"].to_numpy(), df["monetary_value"].to_numpy())
    summed = GammaGammaModel(penalizer=penalizer).fit_sums(sums)
    _same_fit(rows, summed)
    for k, se in rows.standard_errors_.items():
        assert summed.standard_errors_[k] == pytest.approx(se, rel=1e-4)
    assert sums.evaluations <= 15  # Newton: about ten evaluations of the γ-sums
    assert type(summed) is GammaGammaModel
    np.testing.assert_allclose(summed.expected_spend(df), rows.expected_spend(df), rtol=1e-6)


def test_pairs_cap_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from segmentum.value.spark_spend import SPEND_PAIRS_CAP, spend_pairs_cap

    monkeypatch.delenv("SEGMENTUM_SPARK_SPEND_PAIRS_CAP", raising=False)
    assert spend_pairs_cap() == SPEND_PAIRS_CAP
    monkeypatch.setenv("SEGMENTUM_SPARK_SPEND_PAIRS_CAP", "12")
    assert spend_pairs_cap() == 12
    monkeypatch.setenv("SEGMENTUM_SPARK_SPEND_PAIRS_CAP", "many")
    with pytest.raises(ValueError, match="SEGMENTUM_SPARK_SPEND_PAIRS_CAP='many'"):
        spend_pairs_cap()


# --- on Spark --------------------------------------------------------------------------------


def _fit_on_spark(summary, local: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, cap: int | None):  # type: ignore[no-untyped-def]
    """``_fit_spend`` on a Spark summary, with the pairs cap (None: the default); returns
    the model, the log and what came to the driver."""
    from spark_collections import record_collections

    from segmentum.value.spark_scoring import _fit_spend
    from segmentum.value.steps import ValueConfig, _Log

    n_customers, n_repeat = len(local), int((local["frequency"] > 0).sum())

    if cap is None:
        monkeypatch.delenv("SEGMENTUM_SPARK_SPEND_PAIRS_CAP", raising=False)
    else:
        monkeypatch.setenv("SEGMENTUM_SPARK_SPEND_PAIRS_CAP", str(cap))
    log = _Log()
    with record_collections() as calls:
        model = _fit_spend(summary, n_customers, n_repeat, ValueConfig(), log)
    return model, log, calls


@pytest.mark.spark
def test_spark_summed_fit_equals_collected_pairs_and_brings_one_row_per_frequency(
    spark, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    buyers = _planted(20_000, 11)
    zero = pd.DataFrame({"frequency": rng.integers(1, 4, 40).astype(float), "monetary_value": 0.0})
    once = pd.DataFrame({"frequency": 0.0, "monetary_value": np.zeros(500)})
    local = pd.concat([buyers, zero, once], ignore_index=True)
    local.sample(frac=1.0, random_state=1).to_parquet(tmp_path / "summary.parquet")
    # persisted, as run_value_spark's summary is (the sums then read it, not a copy)
    summary = spark.read.parquet(str(tmp_path / "summary.parquet")).persist()

    collected, log_c, calls_c = _fit_on_spark(summary, local, monkeypatch, cap=None)
    summed, log_s, calls_s = _fit_on_spark(summary, local, monkeypatch, cap=100)
    assert collected is not None and summed is not None
    _same_fit(collected, summed)
    assert log_s.warnings == log_c.warnings and log_s.spend_excluded == log_c.spend_excluded == 40
    assert any("40 of 20,040 repeat buyers have a mean" in w for w in log_s.warnings)
    # the planted parameters, within sampling error (3 standard errors)
    for k, truth in TRUTH.items():
        assert abs(summed.params_[k] - truth) < 3 * summed.standard_errors_[k], k
    # the recorder sees the collected pairs (one per buyer) and, above the cap, at most one
    # row per distinct frequency
    assert max(c.rows for c in calls_c) >= 20_000
    n_freq = local.loc[local["frequency"] > 0, "frequency"].nunique()
    assert max(c.rows for c in calls_s) <= n_freq
    assert sum(c.rows for c in calls_s) < 100
    summary.unpersist()


@pytest.mark.spark
def test_spark_summed_fit_refuses_a_missing_spend_as_the_pairs_fit_does(
    spark, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    df = _planted(60, 3)
    df.loc[[4, 9], "monetary_value"] = np.nan
    summary = spark.createDataFrame(df)
    outs = [_fit_on_spark(summary, df, monkeypatch, cap) for cap in (None, 0)]
    (m_c, log_c, _), (m_s, log_s, _) = outs
    assert m_c is None and m_s is None
    assert log_s.warnings == log_c.warnings
    assert log_s.skipped == log_c.skipped
    assert "missing or non-numeric" in log_s.skipped["expected_spend"]
