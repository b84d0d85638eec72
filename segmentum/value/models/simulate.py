"""Simulators with planted covariate effects, for checking the covariate fits.

The covariates act as in :mod:`segmentum.value.models._covariates` (CLVTools'
parameterisation): ``α_i = α₀·exp(−γ_pᵀ z_i)``; for the BG/NBD ``a_i = a₀·exp(γ_dᵀ z_i)``
and ``b_i = b₀·exp(γ_dᵀ z_i)``; for the Pareto/NBD ``β_i = β₀·exp(−γ_dᵀ z_i)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd_covariates", "simulate_pareto_nbd_covariates"]


def _scale(z: pd.DataFrame, coefs: Mapping[str, float]) -> np.ndarray:
    """``exp(Σ_j γ_j z_ij)`` over the named numeric columns of ``z``."""
    out = np.zeros(len(z))
    for name, g in coefs.items():
        if name not in z.columns:
            raise ValueError(f"planted coefficient {name!r} is not a column of the covariates")
        out += float(g) * z[name].to_numpy(dtype=float)
    return np.exp(out)


def simulate_bgnbd_covariates(
    params: Mapping[str, float],
    covariates: pd.DataFrame,
    T: np.ndarray | float,
    *,
    purchase: Mapping[str, float] | None = None,
    dropout: Mapping[str, float] | None = None,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Summary rows drawn from the BG/NBD with covariates, one per row of ``covariates``.

    Parameters
    ----------
    params : dict
        Baseline ``r, alpha, a, b`` (at covariates zero).
    covariates : pandas.DataFrame
        Numeric covariate columns; they are copied into the result.
    T : float or array
        Age of each customer.
    purchase, dropout : dict, optional
        Planted coefficients by column name.
    seed : int, optional
        Random seed.
    """
    rng = np.random.default_rng(seed)
    n = len(covariates)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    alpha = params["alpha"] / _scale(covariates, purchase or {})
    sd = _scale(covariates, dropout or {})
    lam = rng.gamma(params["r"], 1.0 / alpha, n)
    p = rng.beta(params["a"] * sd, params["b"] * sd, n)
    k = rng.poisson(lam * T)
    x = np.minimum(k, rng.geometric(p))
    rec = np.zeros(n)
    pos = x > 0
    rec[pos] = T[pos] * rng.beta(x[pos], k[pos] - x[pos] + 1)
    out = pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})
    for c in covariates.columns:
        out[c] = covariates[c].to_numpy()
    return out


def simulate_pareto_nbd_covariates(
    params: Mapping[str, float],
    covariates: pd.DataFrame,
    T: np.ndarray | float,
    *,
    purchase: Mapping[str, float] | None = None,
    dropout: Mapping[str, float] | None = None,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Summary rows drawn from the Pareto/NBD with covariates (see
    :func:`simulate_bgnbd_covariates`; baseline ``r, alpha, s, beta``)."""
    rng = np.random.default_rng(seed)
    n = len(covariates)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    alpha = params["alpha"] / _scale(covariates, purchase or {})
    beta = params["beta"] / _scale(covariates, dropout or {})
    lam = rng.gamma(params["r"], 1.0 / alpha, n)
    mu = rng.gamma(params["s"], 1.0 / beta, n)
    win = np.minimum(rng.exponential(1.0 / mu), T)
    k = rng.poisson(lam * win)
    rec = np.zeros(n)
    pos = k > 0
    rec[pos] = win[pos] * rng.uniform(size=int(pos.sum())) ** (1.0 / k[pos])
    out = pd.DataFrame({"frequency": k.astype(float), "recency": rec, "T": T})
    for c in covariates.columns:
        out[c] = covariates[c].to_numpy()
    return out
