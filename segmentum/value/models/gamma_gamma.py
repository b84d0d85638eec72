"""Gamma-Gamma model of the value of a customer's transactions.

Assumptions (Fader, Hardie & Lee 2005b; Fader & Hardie 2013 note): a customer's transaction
values ``z_i`` are Gamma(p, ν) around her mean ``p/ν``; ``ν`` varies across customers as
Gamma(q, γ); spend is independent of the purchase process. Fitted on repeat buyers only,
using the mean ``m_x`` of the ``x`` repeat transactions.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using iso-value curves for
customer base analysis. *Journal of Marketing Research*, 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://brucehardie.com/notes/025/ (eq. 1 and 5).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from segmentum.value.models._base import (
    BaseCLVModel,
    as_float,
    index_of,
    require_columns,
    weights_of,
)

__all__ = ["GammaGammaModel", "gamma_gamma_log_likelihood", "simulate_gamma_gamma"]


def gamma_gamma_log_likelihood(
    params: np.ndarray,
    frequency: np.ndarray,
    monetary_value: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    gradient: bool = False,
) -> float | tuple[float, np.ndarray]:
    """Log-likelihood of the mean spend ``m_x`` of ``x`` transactions (note 025, eq. 5).

    ``log f(m_x | p, q, γ, x) = log Γ(px+q) − log Γ(px) − log Γ(q) + q log γ
    + (px − 1) log m_x + px log x − (px+q) log(γ + m_x x)``.

    Parameters
    ----------
    params : array of shape (3,)
        ``(p, q, v)`` with ``v`` the paper's γ.
    frequency, monetary_value : arrays
        Repeat transactions (> 0) and their mean value (> 0).
    weights : array, optional
        Customers per row.
    gradient : bool, default=False
        Also return ``dLL/d(p, q, v)``.
    """
    p, q, v = (float(t) for t in params)
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    px = p * x
    lm = np.log(m)
    lx = np.log(x)
    lvm = np.log(v + m * x)
    ll_i = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * lm
        + px * lx
        - (px + q) * lvm
    )
    ll = float(np.dot(w, ll_i))
    if not gradient:
        return ll
    dpq = digamma(px + q)
    g = np.array(
        [
            np.dot(w, x * (dpq - digamma(px) + lm + lx - lvm)),
            np.dot(w, dpq - digamma(q) + np.log(v) - lvm),
            np.dot(w, q / v - (px + q) / (v + m * x)),
        ]
    )
    return ll, g


class GammaGammaModel(BaseCLVModel):
    """Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b).

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v`` (the paper's γ).
    log_likelihood_ : float
        Full log-likelihood over the repeat buyers used.
    n_customers_ : float
        Repeat buyers used in the fit (customers with ``frequency == 0`` are ignored).

    Notes
    -----
    The model assumes spend is independent of frequency; check
    ``summary[["frequency", "monetary_value"]].corr()`` is near zero before relying on it.

    Examples
    --------
    >>> import numpy as np
    >>> df = simulate_gamma_gamma({"p": 6.0, "q": 4.0, "v": 15.0}, np.full(2000, 3), seed=1)
    >>> m = GammaGammaModel().fit(df)
    >>> sorted(m.params_)
    ['p', 'q', 'v']
    """

    _name: ClassVar[str] = "Gamma-Gamma"
    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    _remedy: ClassVar[str] = (
        "add penalizer=0.001, or remove non-positive and extreme monetary values (refunds, "
        "bulk orders)"
    )

    def _prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        require_columns(df, ["frequency", "monetary_value"], self._name)
        x = as_float(df, "frequency", self._name)
        m = as_float(df, "monetary_value", self._name)
        w = weights_of(df, self._name)
        keep = x > 0
        if np.any(m[keep] <= 0):
            raise ValueError(
                f"{self._name}: monetary_value must be > 0 for repeat buyers; "
                f"{int((m[keep] <= 0).sum())} are not (refunds? drop them first)"
            )
        if keep.sum() < 3:
            raise ValueError(
                f"{self._name} needs repeat purchases: {int(keep.sum())} of {len(x):,} customers "
                "bought twice"
            )
        return {"x": x[keep], "m": m[keep], "w": w[keep]}

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:
        return float(gamma_gamma_log_likelihood(params, data["x"], data["m"], data["w"]))  # type: ignore[arg-type]

    @classmethod
    def _loglik_grad(
        cls, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        return gamma_gamma_log_likelihood(  # type: ignore[return-value]
            params, data["x"], data["m"], data["w"], gradient=True
        )

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        mbar = float(np.average(data["m"], weights=data["w"]))
        return [np.array([1.0, 2.0, mbar]), np.array([5.0, 4.0, mbar]), np.ones(3)]

    def expected_spend(self, df: pd.DataFrame) -> pd.Series:
        """E[M | p, q, γ, m_x, x], the conditional mean spend (FHL 2005b, eq. 5).

        A weighted average of the population mean ``pγ/(q−1)`` and the customer's own
        ``m_x``; customers with no repeat purchase get the population mean.
        """
        self._check_fitted()
        require_columns(df, ["frequency", "monetary_value"], self._name)
        x = as_float(df, "frequency", self._name)
        m = as_float(df, "monetary_value", self._name)
        p, q, v = self._params
        if q <= 1:
            raise ValueError(
                f"{self._name}: q = {q:.3g} <= 1, so the population mean spend is infinite"
            )
        out = (v + m * x) * p / (p * x + q - 1)
        return pd.Series(out, index=index_of(df), name="expected_spend")

    @property
    def mean_spend_(self) -> float:
        """Population mean spend per transaction, ``pγ/(q − 1)``."""
        self._check_fitted()
        p, q, v = self._params
        return float(p * v / (q - 1)) if q > 1 else float("inf")


def simulate_gamma_gamma(
    params: dict[str, float], frequency: np.ndarray, seed: int | None = 0
) -> pd.DataFrame:
    """Draw the mean spend of each customer's ``frequency`` transactions.

    ``ν ~ Gamma(q, rate γ)`` and the mean of ``x`` Gamma(p, ν) values is Gamma(px, rate νx).
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(params["q"], 1.0 / params["v"], x.size)
    m = rng.gamma(params["p"] * x, 1.0 / (nu * x))
    return pd.DataFrame({"frequency": x, "monetary_value": m})
