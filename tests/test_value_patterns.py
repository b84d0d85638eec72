"""Pattern compression: BTYD fits on distinct (frequency, recency, T) rows with their counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentum.value import BetaGeoModel, CostRules, ParetoNBDModel, stage, summarize
from segmentum.value.models.bgnbd import simulate_bgnbd
from segmentum.value.models.simulate import simulate_bgnbd_covariates
from segmentum.value.patterns import (
    COMPRESS_RATIO,
    PATTERN_COLUMNS,
    compresses,
    pattern_counts,
    pattern_index,
    pattern_sql,
    patterns_duckdb,
)
from segmentum.value.stage import ValueConfig, run_value

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _day_grid(n: int, seed: int, weeks: bool = True) -> pd.DataFrame:
    """A BG/NBD summary on a day grid (whole days; in weeks, days / 7) as summarize makes it."""
    rng = np.random.default_rng(seed)
    t_days = rng.integers(60, 365, n).astype(float)
    daily = {**TRUTH, "alpha": TRUTH["alpha"] * 7}
    s = simulate_bgnbd(daily, t_days, n, seed=seed)
    rec = np.where(s["frequency"] > 0, np.clip(np.ceil(s["recency"]), 1, t_days), 0.0)
    unit = 7.0 if weeks else 1.0
    return pd.DataFrame(
        {"frequency": np.minimum(s["frequency"], t_days), "recency": rec / unit, "T": t_days / unit}
    )


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return _day_grid(20_000, seed=3)


def _rel(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] / b[k] - 1) for k in a)


def test_patterns_count_the_customers_of_each_distinct_row(grid: pd.DataFrame) -> None:
    patterns, inverse = pattern_index(grid)
    key = list(PATTERN_COLUMNS)
    # every customer is in exactly one pattern, and its pattern has its values
    np.testing.assert_array_equal(patterns[key].to_numpy()[inverse], grid[key].to_numpy())
    assert not patterns.duplicated(key).any()
    # the weights are the counts a plain group-by gives
    counts = grid.groupby(key).size().rename("n").reset_index()
    merged = patterns.merge(counts, on=key, validate="one_to_one")
    np.testing.assert_array_equal(merged["weights"].to_numpy(), merged["n"].to_numpy())
    assert patterns["weights"].sum() == len(grid)
    # sorted by the key, so it does not depend on the order of the rows
    assert patterns[key].equals(patterns.sort_values(key, ignore_index=True)[key])
    assert compresses(len(patterns), len(grid))  # 20,000 customers on a day grid compress


def test_pattern_fit_equals_the_customer_fit_and_needs_the_weights(grid: pd.DataFrame) -> None:
    patterns = pattern_counts(grid)
    per_customer = BetaGeoModel().fit(grid)
    on_patterns = BetaGeoModel().fit(patterns)
    assert _rel(on_patterns.params_, per_customer.params_) < 1e-6
    assert _rel(on_patterns.standard_errors_, per_customer.standard_errors_) < 1e-5
    assert on_patterns.log_likelihood_ == pytest.approx(per_customer.log_likelihood_, rel=1e-9)
    # the same table without its weights (every pattern one customer) is another fit
    unweighted = BetaGeoModel().fit(patterns.drop(columns="weights"))
    assert _rel(unweighted.params_, per_customer.params_) > 1e-2
    # and a count off by one customer moves the log-likelihood
    off = patterns.copy()
    off.loc[off["frequency"].idxmax(), "weights"] += 1
    assert BetaGeoModel().fit(off).log_likelihood_ < per_customer.log_likelihood_ - 1.0


def test_pareto_nbd_pattern_fit_equals_the_customer_fit() -> None:
    s = _day_grid(4_000, seed=5)
    patterns = pattern_counts(s)
    assert len(patterns) < len(s) / 2
    per_customer = ParetoNBDModel().fit(s)
    on_patterns = ParetoNBDModel().fit(patterns)
    assert _rel(on_patterns.params_, per_customer.params_) < 1e-6
    assert on_patterns.log_likelihood_ == pytest.approx(per_customer.log_likelihood_, rel=1e-9)
    assert _rel(on_patterns.standard_errors_, per_customer.standard_errors_) < 1e-4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    copies=st.lists(st.integers(0, 3), min_size=300, max_size=300),
)
def test_patterns_do_not_depend_on_row_order_and_duplicates_add_up(
    seed: int, copies: list[int]
) -> None:
    base = _day_grid(300, seed=seed % 7)
    rows = np.repeat(np.arange(300), copies)
    if rows.size == 0:
        return
    rows = np.random.default_rng(seed).permutation(rows)
    shuffled = base.iloc[rows].reset_index(drop=True)
    # the pattern table of the shuffled, duplicated rows is that of the weighted rows
    weighted = base.assign(weights=np.asarray(copies, dtype=float))
    weighted = weighted[weighted["weights"] > 0]
    expected = pattern_counts(weighted)
    got = pattern_counts(shuffled)
    pd.testing.assert_frame_equal(got, expected)
    patterns, inverse = pattern_index(shuffled)
    np.testing.assert_array_equal(
        patterns[list(PATTERN_COLUMNS)].to_numpy()[inverse], shuffled.to_numpy()
    )


def test_duplicating_every_customer_doubles_the_weights_not_the_fit(grid: pd.DataFrame) -> None:
    once = pattern_counts(grid)
    twice = pattern_counts(pd.concat([grid, grid.iloc[::-1]], ignore_index=True))
    np.testing.assert_array_equal(twice["weights"].to_numpy(), 2 * once["weights"].to_numpy())
    a, b = BetaGeoModel().fit(once), BetaGeoModel().fit(twice)
    assert _rel(a.params_, b.params_) < 1e-6
    assert b.log_likelihood_ == pytest.approx(2 * a.log_likelihood_, rel=1e-9)


def test_sql_patterns_are_the_pandas_patterns(grid: pd.DataFrame) -> None:
    frame = grid.assign(channel=np.where(np.arange(len(grid)) % 3 == 0, "web", "shop"))
    for cov in ((), ("channel",)):
        ours = pattern_counts(frame, covariates=cov)
        sql = patterns_duckdb(frame, covariates=cov)
        pd.testing.assert_frame_equal(sql, ours, check_dtype=False)
    # the two dialects differ only in quoting
    spark = pattern_sql("summary", "spark", covariates=["channel"])
    duck = pattern_sql("summary", "duckdb", covariates=["channel"])
    assert spark.replace("`", '"') == duck
    assert "GROUP BY `frequency`, `recency`, `T`, `channel`" in spark
    assert "SUM(`w`)" in pattern_sql("s", "spark", weights="w")
    with pytest.raises(ValueError, match="dialect"):
        pattern_sql("s", "postgres")  # type: ignore[arg-type]


def test_continuous_summaries_do_not_compress() -> None:
    s = simulate_bgnbd(TRUTH, np.random.default_rng(0).uniform(20, 52, 5000), 5000, seed=1)
    patterns = pattern_counts(s)
    assert not compresses(len(patterns), len(s))
    assert patterns["weights"].sum() == len(s)


def test_categorical_covariate_fit_on_patterns_equals_the_customer_fit() -> None:
    n = 20_000
    rng = np.random.default_rng(2)
    z = pd.DataFrame({"bundle": rng.integers(0, 2, n).astype(float)})
    t_days = rng.integers(30, 120, n).astype(float)
    daily = {**TRUTH, "alpha": TRUTH["alpha"] * 7}
    s = simulate_bgnbd_covariates(daily, z, t_days, purchase={"bundle": 0.4}, seed=4)
    s["recency"] = np.where(s["frequency"] > 0, np.clip(np.ceil(s["recency"]), 1, t_days), 0.0)
    s["frequency"] = np.minimum(s["frequency"], t_days)
    s["channel"] = np.where(rng.random(n) < 0.4, "web", "shop")
    cov = ["bundle", "channel"]
    patterns = pattern_counts(s, covariates=cov)
    assert compresses(len(patterns), n)
    a = BetaGeoModel().fit(s, purchase_covariates=cov)
    b = BetaGeoModel().fit(patterns, purchase_covariates=cov)
    assert _rel(b.params_, a.params_) < 1e-6
    np.testing.assert_allclose(
        b.covariate_effects_["coef"], a.covariate_effects_["coef"], rtol=1e-6, atol=1e-9
    )
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-9)
    # a continuous covariate makes nearly every customer its own pattern
    s["spend_index"] = rng.normal(size=n)
    assert not compresses(len(pattern_counts(s, covariates=["spend_index"])), n)


def test_errors_name_the_column_and_the_fix(grid: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['T'\].*summarize"):
        pattern_counts(grid.drop(columns="T"))
    bad = grid.copy()
    bad.loc[[4, 9], "recency"] = np.nan
    with pytest.raises(
        ValueError, match=r"'recency' has 2 missing value\(s\) \(first at row\(s\) \[4, 9\]\)"
    ):
        pattern_counts(bad)
    with pytest.raises(ValueError, match="named twice"):
        pattern_counts(grid, covariates=["T"])
    with pytest.raises(ValueError, match="'weights' must hold finite numbers >= 0"):
        pattern_counts(grid.assign(weights=-1.0))


@pytest.fixture(scope="module")
def cdnow_tx(shared_data: Path) -> pd.DataFrame:
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    tx["margin"] = tx["dollar_value"] * 0.3
    return tx


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_value_stage_fits_and_scores_on_patterns_with_unchanged_outputs(
    cdnow_tx: pd.DataFrame, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ValueConfig(holdout_periods=39, model=model, cost=CostRules(cost_per_order=1.0))
    kw = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollar_value"}
    runs = {}
    for ratio in (0.0, 1.0):  # never compress; compress whenever there are fewer patterns
        monkeypatch.setattr(stage, "PATTERN_RATIO", ratio)
        runs[ratio] = run_value(cdnow_tx, margin="margin", config=cfg, **kw)
    plain, packed = runs[0.0], runs[1.0]
    n = len(plain.per_customer)
    assert plain.summary["fit_rows"] == {"purchase_calibration": n, "purchase": n}
    rows = packed.summary["fit_rows"]
    assert rows["purchase"] < n and rows["purchase_calibration"] < n / 2
    note = packed.summary["purchase_model"]["fit_note"]
    assert (
        note == f"fitted on {rows['purchase']:,} distinct (x, t_x, T) patterns of {n:,} customers"
    )
    # the run's value outputs are the per-customer fit's within 1e-6
    cols = ["p_alive", "expected_purchases", "clv", "profit_clv", "expected_spend"]
    a, b = plain.per_customer, packed.per_customer
    pd.testing.assert_frame_equal(a.drop(columns=cols), b.drop(columns=cols))
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), rtol=1e-6, atol=1e-12)
    pm_a, pm_b = plain.summary["purchase_model"], packed.summary["purchase_model"]
    assert _rel(pm_b["params"], pm_a["params"]) < 1e-6
    assert _rel(pm_b["standard_errors"], pm_a["standard_errors"]) < 1e-5
    assert pm_b["log_likelihood"] == pytest.approx(pm_a["log_likelihood"], rel=1e-9)
    pd.testing.assert_frame_equal(packed.validation, plain.validation, rtol=1e-6)
    for k, v in plain.summary["holdout"].items():
        assert packed.summary["holdout"][k] == (
            pytest.approx(v, rel=1e-6) if isinstance(v, float) else v
        )
    # the default rule: CDNOW's calibration period compresses (its full period does not)
    monkeypatch.setattr(stage, "PATTERN_RATIO", COMPRESS_RATIO)
    default = run_value(cdnow_tx, margin="margin", config=cfg, **kw).summary["fit_rows"]
    assert default["purchase_calibration"] == rows["purchase_calibration"]
    assert default["purchase"] == (rows["purchase"] if rows["purchase"] < n / 2 else n)


def test_cdnow_calibration_patterns_give_the_published_fit(shared_data: Path) -> None:
    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    rfm = summarize(
        tx,
        customer_id="customer_id",
        timestamp="date",
        amount="dollar_value",
        calibration_end="1997-09-30",
        time_unit="W",
    )
    patterns = pattern_counts(rfm)
    assert (len(patterns), int(patterns["weights"].sum())) == (1016, 2357)  # as the README says
    a, b = BetaGeoModel().fit(rfm), BetaGeoModel().fit(patterns)
    assert _rel(b.params_, a.params_) < 1e-12
    assert round(b.log_likelihood_, 1) == -9582.4  # Fader, Hardie & Lee (2005)
    assert round(b.params_["r"], 3) == 0.243 and round(b.params_["alpha"], 3) == 4.414
    # the penalty is on the mean log-likelihood, whose denominator is the weights' sum
    pa, pb = BetaGeoModel(penalizer=0.01).fit(rfm), BetaGeoModel(penalizer=0.01).fit(patterns)
    assert _rel(pb.params_, pa.params_) < 1e-12 and _rel(pb.params_, a.params_) > 1e-3
    assert _rel(pb.standard_errors_, pa.standard_errors_) < 1e-9


def test_sparse_large_and_off_grid_values_are_grouped_exactly() -> None:
    df = pd.DataFrame(
        {
            "frequency": [0, 1, 1, 2, 1, 1],
            "recency": [0.0, 1e9, 1e9, 3.0, 0.1 + 0.2, 0.3],  # 0.1 + 0.2 != 0.3
            "T": [5.0, 1e12, 1e12, 7.0, 9.0, 9.0],
            "tier": [10**15, 1, 1, 3, 2, 2],
        }
    )
    patterns, inverse = pattern_index(df, covariates=["tier"])
    assert patterns["weights"].tolist() == [1.0, 1.0, 1.0, 2.0, 1.0]
    assert patterns["recency"].tolist() == [0.0, 0.3, 0.1 + 0.2, 1e9, 3.0]
    np.testing.assert_array_equal(patterns.drop(columns="weights").to_numpy()[inverse], df)


def test_lbfgs_fits_end_on_the_optimum_so_two_fits_of_one_likelihood_agree(
    shared_data: Path,
) -> None:
    """Pareto/NBD and Gamma-Gamma fits end with a Newton step: their gradient is rounding.

    L-BFGS-B alone stopped ~1e-9 short on CDNOW (1.3e-6 apart in the parameters of the fit on
    100,000 customers and on their patterns); the polished fits agree to 1e-12.
    """
    from segmentum.value import GammaGammaModel
    from segmentum.value.models.gamma_gamma import gamma_gamma_log_likelihood
    from segmentum.value.models.pareto_nbd import pareto_nbd_log_likelihood

    tx = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")
    kw = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollar_value"}
    rfm = summarize(tx, calibration_end="1997-09-30", time_unit="W", **kw)
    cols = [rfm[c].to_numpy(dtype=float) for c in PATTERN_COLUMNS]
    m = ParetoNBDModel().fit(rfm)
    _, g = pareto_nbd_log_likelihood(m._params, *cols, gradient=True)
    assert np.max(np.abs(g * m._params)) / len(rfm) < 1e-12  # was 9.8e-10 before the step
    rep = rfm[rfm["frequency"] > 0]
    gg = GammaGammaModel().fit(rep)
    x, mv = rep["frequency"].to_numpy(dtype=float), rep["monetary_value"].to_numpy(dtype=float)
    _, g = gamma_gamma_log_likelihood(gg._params, x, mv, gradient=True)
    assert np.max(np.abs(g * gg._params)) / len(rep) < 1e-12
    assert _rel(ParetoNBDModel().fit(pattern_counts(rfm)).params_, m.params_) < 1e-12
