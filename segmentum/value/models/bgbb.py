"""BG/BB: the beta-geometric / beta-Bernoulli model of discrete-time repeat buying.

Assumptions (Fader, Hardie & Shang 2010): at each of ``n`` discrete transaction
opportunities an active customer buys with probability ``p`` ~ Beta(α, β); at the start of
each opportunity she becomes inactive with probability ``θ`` ~ Beta(γ, δ).

References
----------
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time
noncontractual setting. *Marketing Science*, 29(6), 1086-1108 (eqs. 5, 11, 13; Table 2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln
from scipy.special import logsumexp as _lse

from segmentum.value.models._base import (
    BaseCLVModel,
    as_float,
    index_of,
    require_columns,
    weights_of,
)

__all__ = ["BetaGeoBetaBinomModel", "bgbb_log_likelihood", "simulate_bgbb"]


def _log_lik_i(params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per-row log L (FHS 2010, eq. 5), the sum evaluated as a masked log-sum-exp."""
    a, b, g, d = (float(v) for v in params)
    lb_ab = betaln(a, b)
    lb_gd = betaln(g, d)
    alive = betaln(a + x, b + n - x) - lb_ab + betaln(g, d + n) - lb_gd
    m = int(np.max(n - tx)) if n.size else 0
    if m <= 0:
        return alive
    i = np.arange(m, dtype=float)[None, :]
    terms = (
        betaln(a + x[:, None], b + tx[:, None] - x[:, None] + i)
        - lb_ab
        + betaln(g + 1, d + tx[:, None] + i)
        - lb_gd
    )
    terms = np.where(i <= (n - tx - 1)[:, None], terms, -np.inf)
    return _lse(np.column_stack([alive, terms]), axis=1)


def bgbb_log_likelihood(
    params: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    n_periods: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """Full BG/BB log-likelihood (FHS 2010, eq. 5).

    ``L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
    + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ)``.

    Parameters
    ----------
    params : array of shape (4,)
        ``(alpha, beta, gamma, delta)``.
    frequency, recency, n_periods : arrays
        Transactions ``x``, opportunity of the last one ``t_x`` and opportunities ``n``.
    weights : array, optional
        Customers per row (the usual aggregated (x, t_x, n) table).
    """
    x = np.asarray(frequency, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return float(
        np.dot(w, _log_lik_i(params, x, np.asarray(recency, float), np.asarray(n_periods, float)))
    )


class BetaGeoBetaBinomModel(BaseCLVModel):
    """BG/BB model for discrete transaction opportunities (Fader, Hardie & Shang 2010).

    ``fit(df)`` reads ``frequency``, ``recency`` and ``T`` (the number of opportunities ``n``;
    a column named ``periods`` is accepted instead), plus optional ``weights`` when each row
    stands for several customers.

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (purchase probability), ``gamma``, ``delta`` (dropout probability).
    log_likelihood_ : float
        Full weighted log-likelihood.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"frequency": [0, 1, 2, 3], "recency": [0, 1, 4, 6], "T": [6] * 4,
    ...                    "weights": [50, 20, 15, 15]})
    >>> sorted(BetaGeoBetaBinomModel(penalizer=0.01).fit(df).params_)
    ['alpha', 'beta', 'delta', 'gamma']
    """

    _name: ClassVar[str] = "BG/BB"
    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _remedy: ClassVar[str] = (
        "add penalizer=0.001, or check that frequency <= recency <= T are counts of opportunities"
    )

    def _arrays(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_col = "T" if "T" in df.columns or "periods" not in df.columns else "periods"
        require_columns(df, ["frequency", "recency", n_col], self._name)
        x = as_float(df, "frequency", self._name)
        tx = as_float(df, "recency", self._name)
        n = as_float(df, n_col, self._name)
        for name, v in (("frequency", x), ("recency", tx), (n_col, n)):
            if np.any(v < 0) or np.any(v != np.round(v)):
                raise ValueError(f"{self._name}: {name!r} must be whole numbers >= 0")
        if np.any(x > tx) or np.any(tx > n) or np.any((x > 0) & (tx == 0)):
            raise ValueError(f"{self._name}: need frequency <= recency <= {n_col}")
        return x, tx, n

    def _prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        x, tx, n = self._arrays(df)
        w = weights_of(df, self._name)
        # customers with the same (x, t_x, n) share one likelihood term: aggregate them
        keys = np.column_stack([x, tx, n])
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        wsum = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
        return {"x": uniq[:, 0], "tx": uniq[:, 1], "n": uniq[:, 2], "w": wsum}

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:
        return bgbb_log_likelihood(params, data["x"], data["tx"], data["n"], data["w"])

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.5, 0.5, 0.5, 2.0])]

    def probability_alive(self, df: pd.DataFrame, future: int = 0) -> pd.Series:
        """P(alive at opportunity n+1+future | x, t_x, n) (FHS 2010, eq. 11)."""
        self._check_fitted()
        x, tx, n = self._arrays(df)
        a, b, g, d = self._params
        log_num = (
            betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + 1 + future) - betaln(g, d)
        )
        p = np.exp(log_num - _log_lik_i(self._params, x, tx, n))
        return pd.Series(p, index=index_of(df), name="p_alive")

    def expected_purchases(self, t: int, df: pd.DataFrame) -> pd.Series:
        """Expected purchases in the next ``t`` opportunities given the history (eq. 13)."""
        self._check_fitted()
        x, tx, n = self._arrays(df)
        a, b, g, d = self._params
        log_l = _log_lik_i(self._params, x, tx, n)
        if g == 1:
            raise ValueError("BG/BB expected purchases need gamma != 1")
        log_pre = (
            betaln(a + x + 1, b + n - x) - betaln(a, b) - log_l + gammaln(g + d) - gammaln(1 + d)
        )
        # δ/(γ−1)·[…] is positive for either sign of γ − 1; keep the product in linear space
        bracket = np.exp(gammaln(1 + d + n) - gammaln(g + d + n)) - np.exp(
            gammaln(1 + d + n + t) - gammaln(g + d + n + t)
        )
        out = np.exp(log_pre) * d / (g - 1) * bracket
        return pd.Series(out, index=index_of(df), name="expected_purchases")

    def expected_purchases_up_to(self, n: np.ndarray | float) -> np.ndarray:
        """E[X(n)] for a new customer over ``n`` opportunities (FHS 2010, eq. 7)."""
        self._check_fitted()
        a, b, g, d = self._params
        n = np.asarray(n, dtype=float)
        return (
            a
            / (a + b)
            * d
            / (g - 1)
            * (
                1
                - np.exp(gammaln(g + d) - gammaln(1 + d) + gammaln(1 + d + n) - gammaln(g + d + n))
            )
        )


def simulate_bgbb(
    params: dict[str, float], n: int, n_periods: int, seed: int | None = 0
) -> pd.DataFrame:
    """Draw ``(frequency, recency, T)`` for ``n`` customers over ``n_periods`` opportunities."""
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], n)
    theta = rng.beta(params["gamma"], params["delta"], n)
    death = rng.geometric(theta)  # opportunity at whose start the customer drops out
    opp = np.arange(1, n_periods + 1)
    alive = opp[None, :] < death[:, None]
    buys = alive & (rng.uniform(size=(n, n_periods)) < p[:, None])
    x = buys.sum(axis=1)
    last = np.where(buys, opp[None, :], 0).max(axis=1)
    return pd.DataFrame(
        {"frequency": x.astype(float), "recency": last.astype(float), "T": float(n_periods)}
    )
