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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, polygamma

from segmentum.value.models._base import (
    BaseCLVModel,
    as_float,
    index_of,
    require_columns,
    weights_of,
)

__all__ = [
    "GammaGammaModel",
    "GammaGammaSums",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_sums",
    "gamma_gamma_sums_log_likelihood",
    "simulate_gamma_gamma",
]


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


#: the γ-dependent sums a :class:`GammaGammaSums` evaluates, in this order
V_SUM_NAMES = ("A", "B", "C", "D", "E", "F")


@dataclass
class GammaGammaSums:
    """The repeat buyers' spends as the Gamma-Gamma likelihood sees them, without the rows.

    Summed over customers with weights ``w``, the log-likelihood of note 025's eq. 5 is

    ``Σ_x W_x [log Γ(px+q) − log Γ(px) + px log x] − W log Γ(q) + W q log γ
    + p Σ w x log m − Σ w log m − p A(γ) − q B(γ)``

    with ``W_x`` the customers with ``x`` repeat purchases, ``W = Σ W_x``,
    ``A(γ) = Σ w x log(γ + m x)`` and ``B(γ) = Σ w log(γ + m x)``: the data enter through
    the counts by frequency (a few hundred rows), three scalars and the six sums of
    :attr:`v_sums` at each γ (``A``, ``B``, their γ-derivatives ``C = Σ w x/(γ+mx)`` and
    ``D = Σ w/(γ+mx)``, and ``E = Σ w x/(γ+mx)²``, ``F = Σ w/(γ+mx)²`` for the Hessian).
    Where the rows live elsewhere (a Spark table) ``v_sums`` is one aggregate over them, so
    a fit (:meth:`GammaGammaModel.fit_sums`) brings only these numbers to the driver and
    gives the fit on the rows, to rounding.

    Attributes
    ----------
    frequency : array
        The distinct repeat-purchase counts ``x`` (> 0).
    weights : array
        ``W_x``, the customers at each of them.
    sum_log_m, sum_x_log_m, sum_m : float
        ``Σ w log m``, ``Σ w x log m`` and ``Σ w m`` over the customers.
    v_sums : callable
        ``γ ↦ array([A, B, C, D, E, F])``.
    evaluations : int
        Calls of ``v_sums`` so far (each distinct γ once; repeated ones are cached).
    """

    frequency: np.ndarray
    weights: np.ndarray
    sum_log_m: float
    sum_x_log_m: float
    sum_m: float
    v_sums: Callable[[float], np.ndarray]
    evaluations: int = 0
    _cache: dict[float, np.ndarray] = field(default_factory=dict, repr=False)

    def at(self, v: float) -> np.ndarray:
        """``[A, B, C, D, E, F]`` at ``γ = v`` (cached by value)."""
        v = float(v)
        if v not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[v] = np.asarray(self.v_sums(v), dtype=float)
            self.evaluations += 1
        return self._cache[v]


def gamma_gamma_sums(
    frequency: np.ndarray, monetary_value: np.ndarray, weights: np.ndarray | None = None
) -> GammaGammaSums:
    """:class:`GammaGammaSums` of rows held in memory (repeat buyers, ``x > 0``, ``m > 0``);
    the in-memory counterpart of the Spark one (:mod:`segmentum.value.spark_spend`)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    xs, inverse = np.unique(x, return_inverse=True)

    def v_sums(v: float) -> np.ndarray:
        d = v + m * x
        terms = (x * np.log(d), np.log(d), x / d, 1 / d, x / d**2, 1 / d**2)
        return np.array([w @ t for t in terms])

    lm = np.log(m)
    return GammaGammaSums(
        frequency=xs,
        weights=np.bincount(inverse, weights=w, minlength=xs.size),
        sum_log_m=float(w @ lm),
        sum_x_log_m=float(w @ (x * lm)),
        sum_m=float(w @ m),
        v_sums=v_sums,
    )


def gamma_gamma_sums_log_likelihood(
    params: np.ndarray, sums: GammaGammaSums, order: int = 0
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """The summed log-likelihood of :func:`gamma_gamma_log_likelihood` from ``sums``.

    Returns ``(LL, gradient, Hessian)`` in ``(p, q, v)``, the derivatives ``None`` below
    ``order`` 1 and 2. One evaluation of ``sums.v_sums`` (at ``v``) serves all three.
    """
    p, q, v = (float(t) for t in params)
    x, wx = sums.frequency, sums.weights
    n = float(wx.sum())
    a, b, c, d, e, f = sums.at(v)
    px = p * x
    lx = np.log(x)
    ll = (
        float(wx @ (gammaln(px + q) - gammaln(px) + px * lx))
        - n * float(gammaln(q))
        + n * q * np.log(v)
        + p * sums.sum_x_log_m
        - sums.sum_log_m
        - p * a
        - q * b
    )
    if order < 1:
        return ll, None, None
    dpq = digamma(px + q)
    g = np.array(
        [
            float(wx @ (x * (dpq - digamma(px) + lx))) + sums.sum_x_log_m - a,
            float(wx @ dpq) - n * float(digamma(q)) + n * np.log(v) - b,
            n * q / v - p * c - q * d,
        ]
    )
    if order < 2:
        return ll, g, None
    t_pq, t_p = polygamma(1, px + q), polygamma(1, px)
    h_pq = float(wx @ (x * t_pq))
    h_qv = n / v - d
    h = np.array(
        [
            [float(wx @ (x**2 * (t_pq - t_p))), h_pq, -c],
            [h_pq, float(wx @ t_pq) - n * float(polygamma(1, q)), h_qv],
            [-c, h_qv, -n * q / v**2 + p * e + q * f],
        ]
    )
    return ll, g, h


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

    def fit_sums(self, sums: GammaGammaSums) -> GammaGammaModel:
        """Fit on :class:`GammaGammaSums` instead of the rows: the same penalised maximum
        likelihood, by the damped Newton method with the analytic Hessian (each step one
        evaluation of ``sums.v_sums``; about ten for a well-identified fit), and the
        standard errors from that Hessian. Gives :meth:`fit`'s parameters and
        log-likelihood on the rows the sums stand for, to the optimiser's tolerance.

        Returns
        -------
        self
        """
        fitted = _SumsFit(penalizer=self.penalizer).fit(sums)  # type: ignore[arg-type]
        for name in ("_params", "params_", "log_likelihood_", "standard_errors_"):
            setattr(self, name, getattr(fitted, name))
        self.n_customers_ = fitted.n_customers_
        return self

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


class _SumsFit(GammaGammaModel):
    """The optimisation of :meth:`GammaGammaModel.fit_sums`: the base class's machinery on
    the likelihood of :class:`GammaGammaSums` (its rows are the distinct frequencies)."""

    _has_hessian: ClassVar[bool] = True
    # each evaluation is a Spark job: near the optimum the objective's rounding (~1e-15)
    # exceeds a step's gain, so the last (small) step is taken unevaluated; its error is
    # then about step², ~1e-10
    _finish_step: ClassVar[float | None] = 1e-5

    def _prepare(self, df: Any) -> dict[str, Any]:
        sums: GammaGammaSums = df
        if sums.frequency.size == 0 or float(sums.weights.sum()) <= 0:
            raise ValueError(f"{self._name} needs repeat purchases: no repeat buyers to fit")
        return {"x": sums.frequency, "w": sums.weights, "sums": sums}

    def _subsample(self, data: dict[str, Any], take: np.ndarray) -> dict[str, Any]:
        return data  # no warm start: the rows are the distinct frequencies

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, Any]) -> float:
        return gamma_gamma_sums_log_likelihood(params, data["sums"])[0]

    @classmethod
    def _loglik_grad(cls, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        ll, g, _ = gamma_gamma_sums_log_likelihood(params, data["sums"], order=1)
        return ll, g  # type: ignore[return-value]

    @classmethod
    def _loglik_grad_hess(
        cls, params: np.ndarray, data: dict[str, Any]
    ) -> tuple[float, np.ndarray, np.ndarray]:
        return gamma_gamma_sums_log_likelihood(params, data["sums"], order=2)  # type: ignore[return-value]

    def _starts(self, data: dict[str, Any]) -> list[np.ndarray]:
        sums: GammaGammaSums = data["sums"]
        mbar = sums.sum_m / float(sums.weights.sum())  # the starts of GammaGammaModel
        return [np.array([1.0, 2.0, mbar]), np.array([5.0, 4.0, mbar]), np.ones(3)]


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
