"""Shifted-beta-geometric (sBG) model of contractual retention.

Assumptions (Fader & Hardie 2007): at the end of each period an active customer cancels
with probability θ, constant over time for that customer; θ varies across customers as
Beta(α, β). Heterogeneity alone makes the aggregate retention rate rise over time.

References
----------
Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. *Journal of
Interactive Marketing*, 21(1), 76-90 (eqs. 3, 4, 6 and 8; Table 1 for the estimates).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma

from segmentum.value.models._base import BaseCLVModel, as_float, require_columns

__all__ = ["ShiftedBetaGeoModel", "sbg_log_likelihood", "simulate_sbg"]


def sbg_log_likelihood(
    params: np.ndarray, alive: np.ndarray, *, gradient: bool = False
) -> float | tuple[float, np.ndarray]:
    """sBG log-likelihood of a survival curve (Fader & Hardie 2007, eq. 8).

    ``LL = Σ_{t=1..k} (n_{t−1} − n_t) log P(T=t) + n_k log S(k)`` with
    ``P(T=t) = B(α+1, β+t−1)/B(α, β)`` and ``S(t) = B(α, β+t)/B(α, β)``.

    Parameters
    ----------
    params : array of shape (2,)
        ``(alpha, beta)``.
    alive : array of shape (k+1,)
        Customers active at the start of periods 0, 1, …, k (non-increasing).
    gradient : bool, default=False
        Also return ``dLL/d(alpha, beta)``.
    """
    a, b = (float(v) for v in params)
    n = np.asarray(alive, dtype=float)
    k = n.size - 1
    t = np.arange(1, k + 1, dtype=float)
    lost = n[:-1] - n[1:]
    ll = float(
        lost @ (betaln(a + 1, b + t - 1) - betaln(a, b)) + n[-1] * (betaln(a, b + k) - betaln(a, b))
    )
    if not gradient:
        return ll
    dab = digamma(a + b)
    # d betaln(x, y)/dx = ψ(x) − ψ(x+y)
    d0a, d0b = digamma(a) - dab, digamma(b) - dab
    dpa = digamma(a + 1) - digamma(a + b + t) - d0a
    dpb = digamma(b + t - 1) - digamma(a + b + t) - d0b
    dsa = digamma(a) - digamma(a + b + k) - d0a
    dsb = digamma(b + k) - digamma(a + b + k) - d0b
    g = np.array([lost @ dpa + n[-1] * dsa, lost @ dpb + n[-1] * dsb])
    return ll, g


class ShiftedBetaGeoModel(BaseCLVModel):
    """Shifted-beta-geometric retention model for contractual settings (Fader & Hardie 2007).

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` of the Beta distribution of the churn probability.
    log_likelihood_ : float
        Full log-likelihood of the cohort's survival curve.

    Examples
    --------
    >>> import pandas as pd
    >>> m = ShiftedBetaGeoModel().fit(pd.DataFrame({"alive": [1000, 631, 468, 382, 326]}))
    >>> round(float(m.survival(1)[0]), 2)
    0.63
    """

    _name: ClassVar[str] = "sBG"
    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    _remedy: ClassVar[str] = (
        "check that 'alive' counts customers still active at the start of each period and "
        "never increases; a cohort with no churn at all does not identify the model"
    )

    def _prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        require_columns(df, ["alive"], self._name)
        n = as_float(df, "alive", self._name)
        if n.size < 2:
            raise ValueError(f"{self._name}: 'alive' needs at least two periods (0 and 1)")
        if np.any(np.diff(n) > 0) or np.any(n < 0):
            raise ValueError(f"{self._name}: 'alive' must be non-negative and non-increasing")
        return {"n": n, "w": n[:1]}

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:
        return float(sbg_log_likelihood(params, data["n"]))  # type: ignore[arg-type]

    @classmethod
    def _loglik_grad(
        cls, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        return sbg_log_likelihood(params, data["n"], gradient=True)  # type: ignore[return-value]

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.array([1.0, 1.0]), np.array([0.5, 3.0])]

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        """S(t) = B(α, β+t)/B(α, β), share still active at the start of period t (eq. 4)."""
        self._check_fitted()
        a, b = self._params
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return np.exp(betaln(a, b + t) - betaln(a, b))

    def retention_rate(self, t: np.ndarray | float) -> np.ndarray:
        """r_t = (β + t − 1)/(α + β + t − 1), the retention rate of period t ≥ 1 (eq. 6)."""
        self._check_fitted()
        a, b = self._params
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return (b + t - 1) / (a + b + t - 1)

    def project(self, periods: int, cohort_size: float = 1.0) -> pd.DataFrame:
        """Projected survival, retention and active customers for periods 0…``periods``."""
        t = np.arange(periods + 1, dtype=float)
        surv = self.survival(t)
        ret = np.concatenate([[np.nan], self.retention_rate(t[1:])])
        return pd.DataFrame(
            {
                "period": t.astype(int),
                "survival": surv,
                "retention_rate": ret,
                "expected_alive": cohort_size * surv,
            }
        )

    def discounted_expected_lifetime(self, discount_rate: float, horizon: int = 1000) -> float:
        """Σ_{t≥0} S(t)/(1+d)^t: expected discounted periods of a new customer (DEL)."""
        t = np.arange(horizon + 1, dtype=float)
        return float(np.sum(self.survival(t) / (1 + discount_rate) ** t))


def simulate_sbg(
    params: dict[str, float], n: int, periods: int, seed: int | None = 0
) -> pd.DataFrame:
    """Active customers at the start of each period of a simulated cohort of ``n``."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(params["alpha"], params["beta"], n)
    churn = rng.geometric(theta)  # the period in which each customer cancels (1, 2, ...)
    t = np.arange(periods + 1)
    alive = (churn[None, :] > t[:, None]).sum(axis=1)
    return pd.DataFrame({"alive": alive})
