"""segmentum.value.whatif: CLV per segment before and after an offering change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.value import BetaGeoModel, ParetoNBDModel, whatif
from segmentum.value.models.simulate import (
    simulate_bgnbd_covariates,
    simulate_pareto_nbd_covariates,
)


def _customers(n: int, seed: int = 3, pareto: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = pd.DataFrame({"bundle": rng.integers(0, 2, n).astype(float)})
    if pareto:
        df = simulate_pareto_nbd_covariates(
            {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 8.0}, z, 52,
            purchase={"bundle": 0.3}, dropout={"bundle": -0.8}, seed=seed + 1,
        )  # fmt: skip
    else:
        df = simulate_bgnbd_covariates(
            {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}, z, 52,
            purchase={"bundle": 0.3}, dropout={"bundle": 0.8}, seed=seed + 1,
        )  # fmt: skip
    df["segment"] = rng.integers(1, 5, n)
    df["monetary_value"] = rng.gamma(4.0, 10.0, n)
    return df


@pytest.fixture(scope="module")
def fitted() -> tuple[BetaGeoModel, pd.DataFrame]:
    df = _customers(4000)
    return BetaGeoModel().fit(df, purchase_covariates=["bundle"], dropout_covariates=["bundle"]), df


def test_a_scenario_that_changes_nothing_gives_zero(fitted: tuple) -> None:
    model, df = fitted
    for change in (
        {"segment": 2, "retention": 0.0},
        {"segment": 2, "covariate": "bundle", "value": 1, "share": 0.0},
        {"spend": 0.0},
    ):
        out = whatif(model, df, {"change": [change]}, n_draws=20)
        assert list(out.columns) == [
            "segment", "customers", "clv_before", "clv_after", "difference", "low", "high",
        ]  # fmt: skip
        assert list(out["segment"]) == ["1", "2", "3", "4", "total"]
        np.testing.assert_allclose(out[["difference", "low", "high"]].to_numpy(), 0.0, atol=1e-9)
        assert (out["clv_before"] > 0).all()


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_retention_raises_clv_of_the_targeted_segment_only(cls: type) -> None:
    df = _customers(3000, pareto=cls is ParetoNBDModel)
    model = cls().fit(df)  # a plain fit: retention needs no covariate
    out = whatif(model, df, {"change": [{"segment": 4, "retention": 0.10}]}, n_draws=50)
    row = out.set_index("segment")
    assert row.loc["4", "difference"] > 0 and row.loc["4", "low"] > 0
    assert row.loc["4", "low"] <= row.loc["4", "difference"] <= row.loc["4", "high"]
    for other in ("1", "2", "3"):
        assert row.loc[other, "difference"] == 0 and row.loc[other, "high"] == 0
    assert row.loc["total", "difference"] == pytest.approx(row.loc["4", "difference"])
    total = row.loc["total"]
    assert total["clv_after"] - total["clv_before"] == pytest.approx(total["difference"])


def test_take_up_is_linear_in_the_share_and_spend_scales(fitted: tuple) -> None:
    model, df = fitted
    full = whatif(model, df, {"change": [{"segment": 2, "covariate": "bundle", "value": 1}]},
                  n_draws=0).set_index("segment")  # fmt: skip
    part = whatif(model, df, {"change": [{"segment": 2, "covariate": "bundle", "value": 1,
                                          "share": 0.3}]}, n_draws=0).set_index("segment")  # fmt: skip
    assert full.loc["2", "difference"] != 0
    assert part.loc["2", "difference"] == pytest.approx(0.3 * full.loc["2", "difference"])
    new = df["frequency"] == 0
    cut = whatif(model, df, {"change": [{"customers": "new", "spend": -0.05}]}, n_draws=0)
    before_new = whatif(model, df[new], {"change": [{"spend": 0.0}]}, n_draws=0)
    assert cut.iloc[-1]["difference"] == pytest.approx(-0.05 * before_new.iloc[-1]["clv_before"])


def test_intervals_shrink_as_the_data_grow() -> None:
    widths = []
    for n in (1000, 10_000):
        df = _customers(n, seed=7)
        m = BetaGeoModel().fit(df, purchase_covariates=["bundle"], dropout_covariates=["bundle"])
        out = whatif(m, df, {"change": [{"covariate": "bundle", "value": 1, "share": 0.5}]},
                     n_draws=100).iloc[-1]  # fmt: skip
        widths.append((out["high"] - out["low"]) / n)  # per customer
    assert widths[1] < 0.6 * widths[0]  # ~ 1/sqrt(10) = 0.32 expected


def test_bad_scenarios_name_the_file_key_and_choices(fitted: tuple, tmp_path: Path) -> None:
    model, df = fitted
    path = tmp_path / "s.toml"
    path.write_text('[[change]]\nsegment = 2\ncovariate = "loyalty_card"\nvalue = 1\n')
    with pytest.raises(ValueError, match=r"s\.toml, change\[0\]\.covariate: 'loyalty_card'.*"
                       r"valid covariates are \['bundle'\]"):  # fmt: skip
        whatif(model, df, path)
    path.write_text("[[change]]\nsegment = 9\nretention = 0.1\n")
    with pytest.raises(ValueError, match=r"change\[0\]\.segment: unknown segment.*\['1', '2'"):
        whatif(model, df, path)
    path.write_text("[[change]]\nsegmnet = 2\nretention = 0.1\n")
    with pytest.raises(ValueError, match=r"s\.toml: change\[0\]\.segmnet: Extra inputs"):
        whatif(model, df, path)
    with pytest.raises(ValueError, match="exactly one of covariate, retention"):
        whatif(model, df, {"change": [{"retention": 0.1, "spend": 0.1}]})
    with pytest.raises(ValueError, match=r"not a covariate of the fitted model.*none"):
        whatif(BetaGeoModel().fit(df), df, {"change": [{"covariate": "bundle", "value": 1}]})
