"""Pareto/NBD: the original model of "counting your customers".

Assumptions (Schmittlein, Morrison & Colombo 1987): while alive, a customer buys as a
Poisson process with rate λ ~ Gamma(r, α); the unobserved lifetime is exponential with
rate μ ~ Gamma(s, β); λ and μ are independent.

References
----------
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: Who are
they and what will they do next? *Management Science*, 33(1), 1-24.
Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and related
expressions. http://brucehardie.com/notes/009/ (eqs. 18-22 used here).
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way.
*Marketing Science*, 24(2), 275-284 (CDNOW estimates, Table 2).
"""

from __future__ import annotations

from typing import Any, ClassVar

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
from segmentum.value.models._covariates import CovariateModelMixin
from segmentum.value.models.bgnbd import _check_summary

__all__ = ["ParetoNBDModel", "pareto_nbd_log_likelihood", "simulate_pareto_nbd"]


_MAX_TERMS = 20000


def _hyp2f1_1bcz(
    b: np.ndarray, c: np.ndarray, z: np.ndarray, derivatives: bool = False
) -> tuple[np.ndarray, ...]:
    """``2F1(1, b; c; z)`` for ``0 <= z < 1``, ``c > b > 0``, by its series of positive terms.

    With ``derivatives`` also returns ``∂/∂b``, ``∂/∂c`` and ``∂/∂z`` from the term-wise
    derivatives of ``t_j = z^j Π_{i<j} (b+i)/(c+i)``. Elements whose series has not reached
    relative precision 1e-15 after ``_MAX_TERMS`` terms (``z`` within ~1e-3 of 1) get NaN,
    which the optimiser treats as an infeasible point.
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    term = np.ones_like(z)
    total = np.ones_like(z)
    if derivatives:
        sb = np.zeros_like(z)  # Σ_{i<j} 1/(b+i)
        sc = np.zeros_like(z)
        hb = np.zeros_like(z)
        hc = np.zeros_like(z)
        hz = np.zeros_like(z)
    j = 0
    converged = False
    while j < _MAX_TERMS:
        ratio = (b + j) / (c + j)
        if derivatives:
            hz += (j + 1) * term * ratio
            sb += 1.0 / (b + j)
            sc += 1.0 / (c + j)
        term = term * ratio * z
        total += term
        if derivatives:
            hb += term * sb
            hc -= term * sc
        j += 1
        if j % 8 == 0 and not np.any(term > 1e-16 * total):
            converged = True
            break
    if not converged:
        bad = term > 1e-16 * total
        total = np.where(bad, np.nan, total)
    if derivatives:
        return total, hb, hc, hz
    return (total,)


def _log_f(
    r: float,
    alpha: float | np.ndarray,
    s: float,
    beta: float | np.ndarray,
    x: np.ndarray,
    t: np.ndarray,
    derivatives: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """log of ``2F1(r+s+x, ·; r+s+x+1; z(t)) / (max(α,β) + t)^(r+s+x)`` and its gradient.

    The Fader-Hardie note (eq. 19) switches on ``α ≥ β`` so that ``0 ≤ z < 1``. Euler's
    transformation ``2F1(a,b;c;z) = (1−z)^(c−a−b) 2F1(c−a, c−b; c; z)`` turns both branches
    into ``2F1(1, ·; r+s+x+1; z)``, a series of positive terms that neither overflows nor
    cancels, and the prefactor simplifies to

    * ``α ≥ β``: ``−s·log(β+t) − (r+x)·log(α+t) + log 2F1(1, r+x; c; (α−β)/(α+t))``
    * ``α < β``: ``(1−r−x)·log(α+t) − (1+s)·log(β+t) + log 2F1(1, s+1; c; (β−α)/(β+t))``

    Returns the log and, with ``derivatives``, an array of shape (4, n) of its partials in
    ``(r, alpha, s, beta)``.
    """
    if np.ndim(alpha) or np.ndim(beta):
        # per-customer α_i, β_i (covariate models): each branch on its own rows
        alpha, beta, x, t = np.broadcast_arrays(
            *(np.asarray(v, dtype=float) for v in (alpha, beta, x, t))
        )
        val = np.empty(alpha.shape)
        grad = np.empty((4, *alpha.shape)) if derivatives else None
        upper = alpha >= beta
        for sel in (upper, ~upper):
            if sel.any():
                v, gr = _log_f_branch(
                    r, alpha[sel], s, beta[sel], x[sel], t[sel], derivatives, sel is upper
                )
                val[sel] = v
                if grad is not None and gr is not None:
                    grad[:, sel] = gr
        return val, grad
    return _log_f_branch(r, alpha, s, beta, x, t, derivatives, alpha >= beta)


def _log_f_branch(
    r: float,
    alpha: Any,
    s: float,
    beta: Any,
    x: np.ndarray,
    t: np.ndarray,
    derivatives: bool,
    upper: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One branch of :func:`_log_f`: ``upper`` is ``α ≥ β``."""
    c = r + s + x + 1
    la = np.log(alpha + t)
    lb = np.log(beta + t)
    if upper:
        z = (alpha - beta) / (alpha + t)
        out = _hyp2f1_1bcz(r + x, c, z, derivatives)
        logh = np.log(out[0])
        val = -s * lb - (r + x) * la + logh
        if not derivatives:
            return val, None
        h, hb, hc, hz = out
        gz = hz / h
        grad = np.stack(
            [
                -la + (hb + hc) / h,
                -(r + x) / (alpha + t) + gz * (beta + t) / (alpha + t) ** 2,
                -lb + hc / h,
                -s / (beta + t) - gz / (alpha + t),
            ]
        )
    else:
        z = (beta - alpha) / (beta + t)
        out = _hyp2f1_1bcz(s + 1, c, z, derivatives)
        logh = np.log(out[0])
        val = (1 - r - x) * la - (1 + s) * lb + logh
        if not derivatives:
            return val, None
        h, hb, hc, hz = out
        gz = hz / h
        grad = np.stack(
            [
                -la + hc / h,
                (1 - r - x) / (alpha + t) - gz / (beta + t),
                -lb + (hb + hc) / h,
                -(1 + s) / (beta + t) + gz * (alpha + t) / (beta + t) ** 2,
            ]
        )
    return val, grad


def _log_a0(
    r: float,
    alpha: float | np.ndarray,
    s: float,
    beta: float | np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    derivatives: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """log A0 = log[f(t_x) − f(T)] computed as ``l1 + log(1 − exp(l2 − l1))`` (+ gradient)."""
    l1, g1 = _log_f(r, alpha, s, beta, x, tx, derivatives)
    l2, g2 = _log_f(r, alpha, s, beta, x, T, derivatives)
    d = np.minimum(l2 - l1, -1e-300)
    val = l1 + np.log(-np.expm1(d))
    if not derivatives:
        return val, None
    q = np.exp(d)
    with np.errstate(all="ignore"):
        grad = np.where(q < 1 - 1e-12, (g1 - q * g2) / (1 - q), 0.0)  # type: ignore[operator]
    return val, grad


def pareto_nbd_ind(
    r: float,
    alpha: np.ndarray,
    s: np.ndarray,
    beta: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pareto/NBD log-likelihood per customer (Fader & Hardie 2005 note, eq. 18-19).

    At per-customer ``α_i, β_i`` (``s`` common); ``grad`` (4, n) in ``r, α_i, s, β_i``.
    """
    s0 = float(np.asarray(s).flat[0])
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s0 * np.log(beta)
    laT = np.log(alpha + T)
    lbT = np.log(beta + T)
    term1 = -(r + x) * laT - s0 * lbT
    la0, ga0 = _log_a0(r, alpha, s0, beta, x, tx, T, True)
    assert ga0 is not None
    inv_rsx = 1.0 / (r + s0 + x)
    term2 = np.log(s0) - np.log(r + s0 + x) + la0
    m = np.logaddexp(term1, term2)
    w2 = np.exp(term2 - m)
    w1 = 1.0 - w2
    g = np.stack(
        [
            digamma(r + x) - digamma(r) + np.log(alpha) - w1 * laT + w2 * (-inv_rsx + ga0[0]),
            r / alpha - w1 * (r + x) / (alpha + T) + w2 * ga0[1],
            np.log(beta) - w1 * lbT + w2 * (1.0 / s0 - inv_rsx + ga0[2]),
            s0 / beta - w1 * s0 / (beta + T) + w2 * ga0[3],
        ]
    )
    return head + m, g


EFFECT_COLUMNS = ["process", "covariate", "coef", "se"]


def pareto_nbd_log_likelihood(
    params: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    gradient: bool = False,
) -> float | tuple[float, np.ndarray]:
    """Full Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eq. 18-19) and its gradient.

    Parameters
    ----------
    params : array of shape (4,)
        ``(r, alpha, s, beta)``.
    frequency, recency, T : arrays
        Repeat transactions, time of the last repeat transaction, age.
    weights : array, optional
        Customers per row.
    gradient : bool, default=False
        Also return ``dLL/d(r, alpha, s, beta)``.

    Notes
    -----
    ``L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^−(r+x) (β+T)^−s + s/(r+s+x) · A0 ]`` with the two
    terms added by ``logaddexp``; ``A0`` comes from :func:`_log_a0`.
    """
    r, alpha, s, beta = (float(v) for v in params)
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    ux, inv = np.unique(x, return_inverse=True)
    head = (gammaln(r + ux) - gammaln(r))[inv] + r * np.log(alpha) + s * np.log(beta)
    laT = np.log(alpha + T)
    lbT = np.log(beta + T)
    term1 = -(r + x) * laT - s * lbT
    la0, ga0 = _log_a0(r, alpha, s, beta, x, tx, T, gradient)
    term2 = np.log(s) - np.log(r + s + x) + la0
    m = np.logaddexp(term1, term2)
    ll = float(np.dot(w, head + m))
    if not gradient:
        return ll
    assert ga0 is not None
    w2 = np.exp(term2 - m)
    w1 = 1.0 - w2
    inv_rsx = 1.0 / (r + s + x)
    dhead_r = (digamma(r + ux) - digamma(r))[inv] + np.log(alpha)
    g = np.array(
        [
            np.dot(w, dhead_r + w1 * -laT + w2 * (-inv_rsx + ga0[0])),
            np.dot(w, r / alpha + w1 * -(r + x) / (alpha + T) + w2 * ga0[1]),
            np.dot(w, np.log(beta) + w1 * -lbT + w2 * (1.0 / s - inv_rsx + ga0[2])),
            np.dot(w, s / beta + w1 * -s / (beta + T) + w2 * ga0[3]),
        ]
    )
    return ll, g


class ParetoNBDModel(CovariateModelMixin, BaseCLVModel):
    """Pareto/NBD model of non-contractual repeat buying (Schmittlein et al. 1987).

    Parameters
    ----------
    penalizer : float, default=0.0
        L2 penalty on the parameters, added to the mean negative log-likelihood.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta``.
    log_likelihood_ : float
        Full log-likelihood at the optimum.
    standard_errors_ : dict
        From the numerical Hessian.

    See Also
    --------
    BetaGeoModel : the faster approximation (FHL 2005).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"frequency": [0, 1, 3, 0, 2, 5], "recency": [0, 5, 20, 0, 9, 30],
    ...                    "T": [30, 32, 35, 31, 33, 36]})
    >>> m = ParetoNBDModel(penalizer=0.01).fit(df)
    >>> sorted(m.params_)
    ['alpha', 'beta', 'r', 's']
    """

    _name: ClassVar[str] = "Pareto/NBD"
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _remedy: ClassVar[str] = (
        "add penalizer=0.001, use the BG/NBD model instead, or check that T and recency share "
        "one time unit"
    )

    _cov_scales = (0, -1)
    _cov_ind = staticmethod(pareto_nbd_ind)

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
            pareto_nbd_log_likelihood(params, data["x"], data["tx"], data["T"], data["w"])  # type: ignore[arg-type]
        )

    @classmethod
    def _loglik_grad(
        cls, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        return pareto_nbd_log_likelihood(  # type: ignore[return-value]
            params, data["x"], data["tx"], data["T"], data["w"], gradient=True
        )

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        rate = max(np.average(data["x"] / np.maximum(data["T"], 1e-9), weights=data["w"]), 1e-6)
        tbar = float(np.average(data["T"], weights=data["w"]))
        return [
            np.array([0.5, 0.5 / rate, 0.5, tbar]),
            np.array([1.0, 1.0 / rate, 1.0, 1.0]),
        ]

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
        """P(alive | x, t_x, T), Fader & Hardie (2005) note, eq. 19 over eq. 18."""
        x, tx, T = self._arrays(df)
        r, alpha, s, beta = self._customer_params(df)
        log_ratio = (
            np.log(s)
            - np.log(r + s + x)
            + _log_a0(r, alpha, s, beta, x, tx, T)[0]
            + (r + x) * np.log(alpha + T)
            + s * np.log(beta + T)
        )
        p = np.exp(-np.logaddexp(0.0, log_ratio))
        return pd.Series(p, index=index_of(df), name="p_alive")

    def expected_purchases(self, t: float, df: pd.DataFrame) -> pd.Series:
        """Expected purchases in the next ``t`` units given the history (note, eq. 22)."""
        x, _tx, T = self._arrays(df)
        r, alpha, s, beta = self._customer_params(df)
        if abs(s - 1) < 1e-8:
            growth = np.log((beta + T + t) / (beta + T)) * (beta + T)
        else:
            growth = (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
        out = (r + x) / (alpha + T) * growth * self.probability_alive(df).to_numpy()
        return pd.Series(out, index=index_of(df), name="expected_purchases")

    def expected_purchases_up_to(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)] for a new customer (Schmittlein et al. 1987; note eq. 17)."""
        self._check_fitted()
        r, alpha, s, beta = self._params
        t = np.asarray(t, dtype=float)
        if abs(s - 1) < 1e-8:
            return r * beta / alpha * np.log((beta + t) / beta)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


def simulate_pareto_nbd(
    params: dict[str, float], T: np.ndarray | float, n: int, seed: int | None = 0
) -> pd.DataFrame:
    """Draw summary rows from the Pareto/NBD model.

    With lifetime ``τ ~ Exp(μ)`` and window ``w = min(τ, T)``, the count is
    ``K ~ Poisson(λw)`` and the last of ``K`` uniform times in ``[0, w]`` is ``w·U^(1/K)``.
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
    tau = rng.exponential(1.0 / mu)
    win = np.minimum(tau, T)
    k = rng.poisson(lam * win)
    rec = np.zeros(n)
    pos = k > 0
    rec[pos] = win[pos] * rng.uniform(size=int(pos.sum())) ** (1.0 / k[pos])
    return pd.DataFrame({"frequency": k.astype(float), "recency": rec, "T": T})
