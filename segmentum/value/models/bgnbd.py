"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Assumptions (Fader, Hardie & Lee 2005, section 3): while active, a customer buys as a
Poisson process with rate λ; λ varies across customers as Gamma(r, α); after any
transaction the customer becomes inactive with probability p; p varies as Beta(a, b);
λ and p are independent.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
An alternative to the Pareto/NBD model. *Marketing Science*, 24(2), 275-284.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1

from segmentum.value.models._base import (
    BaseCLVModel,
    as_float,
    index_of,
    require_columns,
    weights_of,
)

__all__ = ["BetaGeoModel", "bgnbd_log_likelihood", "simulate_bgnbd"]


def _check_summary(x: np.ndarray, tx: np.ndarray, T: np.ndarray, model: str) -> None:
    if np.any(x < 0) or np.any(np.abs(x - np.round(x)) > 1e-9):
        raise ValueError(f"{model}: 'frequency' must be whole numbers >= 0")
    if np.any(tx < 0) or np.any(tx > T + 1e-9):
        raise ValueError(f"{model}: 'recency' must lie in [0, T]")
    if np.any((x > 0) & (tx <= 0)):
        raise ValueError(f"{model}: customers with frequency > 0 need recency > 0")


def bgnbd_log_likelihood(
    params: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    gradient: bool = False,
) -> float | tuple[float, np.ndarray]:
    """Full BG/NBD log-likelihood (FHL 2005, eq. 6), optionally with its gradient.

    Parameters
    ----------
    params : array of shape (4,)
        ``(r, alpha, a, b)``.
    frequency, recency, T : arrays
        Repeat transactions ``x``, time of the last one ``t_x`` and age ``T``.
    weights : array, optional
        Customers per row (aggregated data).
    gradient : bool, default=False
        Also return ``dLL/d(r, alpha, a, b)``.

    Notes
    -----
    ``L = A1·A2·(A3 + δ(x>0)·A4)`` is evaluated in log-space: the sum of the two terms uses
    ``logaddexp`` so that neither underflows for heavy buyers. The ``Γ`` terms depend on ``x``
    only and are computed once per distinct frequency.
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    ux, inv = np.unique(x, return_inverse=True)
    # terms depending on x only
    a1 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)
    pos_u = ux > 0
    log_a_b = np.where(pos_u, np.log(a) - np.log(np.where(pos_u, b + ux - 1, 1.0)), -np.inf)
    rx = r + x
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + recency)
    a3 = -rx * log_aT
    a4 = log_a_b[inv] - rx * log_atx
    m = np.logaddexp(a3, a4)
    ll = float(np.dot(w, (a1 + a2)[inv] + m))
    if not gradient:
        return ll
    w4 = np.exp(a4 - m)  # weight of the "dropped out after t_x" term
    w3 = 1.0 - w4
    # per-distinct-x derivatives
    d1_r = digamma(r + ux) - digamma(r) + np.log(alpha)
    d2_a = digamma(a + b) - digamma(a + b + ux)
    d2_b = digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux)
    inv_bx1 = np.where(pos_u, 1.0 / np.where(pos_u, b + ux - 1, 1.0), 0.0)
    sw_by_x = np.bincount(inv, weights=w, minlength=ux.size)
    sw4_by_x = np.bincount(inv, weights=w * w4, minlength=ux.size)
    g_r = float(d1_r @ sw_by_x) + float(np.dot(w, -w3 * log_aT - w4 * log_atx))
    g_alpha = (
        float(sw_by_x.sum()) * r / alpha
        - float(np.dot(w, rx * (w3 / (alpha + T) + w4 / (alpha + recency))))
    )
    g_a = float(d2_a @ sw_by_x) + float(sw4_by_x @ np.where(pos_u, 1.0 / a, 0.0))
    g_b = float(d2_b @ sw_by_x) - float(sw4_by_x @ inv_bx1)
    return ll, np.array([g_r, g_alpha, g_a, g_b])


class BetaGeoModel(BaseCLVModel):
    """BG/NBD model of non-contractual repeat buying (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Full log-likelihood at the optimum (a sum over customers).
    standard_errors_ : dict
        From the inverse Hessian of the negative log-likelihood.

    See Also
    --------
    ParetoNBDModel : the original model this one approximates.
    segmentum.value.summarize : builds the summary table ``fit`` expects.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"frequency": [0, 1, 3, 0, 2, 5], "recency": [0, 5, 20, 0, 9, 30],
    ...                    "T": [30, 32, 35, 31, 33, 36]})
    >>> m = BetaGeoModel(penalizer=0.01).fit(df)
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    """

    _name: ClassVar[str] = "BG/NBD"
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _remedy: ClassVar[str] = (
        "add penalizer=0.001, check that T and recency share one time unit, or drop extreme "
        "frequencies (wholesalers, test accounts)"
    )

    def _prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        require_columns(df, ["frequency", "recency", "T"], self._name)
        x = as_float(df, "frequency", self._name)
        tx = as_float(df, "recency", self._name)
        T = as_float(df, "T", self._name)
        _check_summary(x, tx, T, self._name)
        return {"x": x, "tx": tx, "T": T, "w": weights_of(df, self._name)}

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:
        return float(
            bgnbd_log_likelihood(params, data["x"], data["tx"], data["T"], data["w"])  # type: ignore[arg-type]
        )

    @classmethod
    def _loglik_grad(
        cls, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        return bgnbd_log_likelihood(  # type: ignore[return-value]
            params, data["x"], data["tx"], data["T"], data["w"], gradient=True
        )

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        rate = max(np.average(data["x"] / np.maximum(data["T"], 1e-9), weights=data["w"]), 1e-6)
        return [np.array([1.0, 1.0 / rate, 1.0, 1.0]), np.array([0.5, 0.5 / rate, 0.5, 2.0])]

    # -- predictions ---------------------------------------------------------------
    def _arrays(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        require_columns(df, ["frequency", "recency", "T"], self._name)
        return (
            as_float(df, "frequency", self._name),
            as_float(df, "recency", self._name),
            as_float(df, "T", self._name),
        )

    def probability_alive(self, df: pd.DataFrame) -> pd.Series:
        """P(alive | x, t_x, T), Fader, Hardie & Lee (2008) note "Computing P(alive)", eq. 2."""
        x, tx, T = self._arrays(df)
        r, alpha, a, b = self._params
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        p = np.where(x > 0, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
        return pd.Series(p, index=index_of(df), name="p_alive")

    def expected_purchases(self, t: float, df: pd.DataFrame) -> pd.Series:
        """Expected purchases in the next ``t`` time units given the history (FHL 2005, eq. 10)."""
        x, tx, T = self._arrays(df)
        r, alpha, a, b = self._params
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        num = first * second
        p_alive = self.probability_alive(df).to_numpy()
        out = num * p_alive
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                "BG/NBD expected purchases overflowed for some customers (very large frequency)"
            )
        return pd.Series(out, index=index_of(df), name="expected_purchases")

    def expected_purchases_up_to(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)] for a new customer (FHL 2005, eq. 9)."""
        self._check_fitted()
        r, alpha, a, b = self._params
        t = np.asarray(t, dtype=float)
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def simulate_bgnbd(
    params: dict[str, float], T: np.ndarray | float, n: int, seed: int | None = 0
) -> pd.DataFrame:
    """Draw summary rows ``(frequency, recency, T)`` from the BG/NBD model.

    The count of repeat purchases is ``min(K, N)`` with ``K ~ Poisson(λT)`` the purchases a
    never-dying customer would make and ``N ~ Geometric(p)`` the purchase after which the
    customer drops out; the time of the ``x``-th of ``K`` uniform event times is
    ``T·Beta(x, K − x + 1)``.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    k = rng.poisson(lam * T)
    n_drop = rng.geometric(p)
    x = np.minimum(k, n_drop)
    rec = np.zeros(n)
    pos = x > 0
    rec[pos] = T[pos] * rng.beta(x[pos], k[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype(float), "recency": rec, "T": T})

