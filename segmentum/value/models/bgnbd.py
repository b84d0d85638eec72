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

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1, polygamma

from segmentum.value.models._base import (
    FINISHED,
    BaseCLVModel,
    _newton,
    as_float,
    index_of,
    require_columns,
    weights_of,
)
from segmentum.value.models._covariates import CovariateFit, CovariateModelMixin, bgnbd_ind

__all__ = ["BetaGeoModel", "bgnbd_log_likelihood", "simulate_bgnbd"]

#: the pooled Newton fit takes its last step unevaluated once a step is this small in θ
#: (its error is then about step², ~1e-10; parameters agree with a fit that evaluates it)
_FINISH_STEP = 1e-5


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
    g_alpha = float(sw_by_x.sum()) * r / alpha - float(
        np.dot(w, rx * (w3 / (alpha + T) + w4 / (alpha + recency)))
    )
    g_a = float(d2_a @ sw_by_x) + float(sw4_by_x @ np.where(pos_u, 1.0 / a, 0.0))
    g_b = float(d2_b @ sw_by_x) - float(sw4_by_x @ inv_bx1)
    return ll, np.array([g_r, g_alpha, g_a, g_b])


def _unique_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)`` for whole-number counts, in O(n) without a sort."""
    if x.size and float(x.max()) < 1e6:
        xi = x.astype(np.int64)
        present = np.bincount(xi) > 0
        ux = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        return ux.astype(float), lookup[xi]
    return np.unique(x, return_inverse=True)


def _log_hyp2f1_series(
    a1: np.ndarray, b1: np.ndarray, c1: np.ndarray, z: np.ndarray, max_terms: int = 100_000
) -> np.ndarray:
    """``log 2F1(a1, b1; c1; z)`` by its power series, term by term in log space.

    For positive parameters and ``0 <= z < 1``, where every term is positive. A row stops
    once its terms shrink (ratio below 1) and the last added less than e^-40 of the sum.
    """
    log_z = np.log(np.maximum(z, 1e-300))
    log_term = np.zeros_like(z)
    log_sum = np.zeros_like(z)
    active = z > 0
    for k in range(max_terms):
        if not active.any():
            break
        step = np.log(a1 + k) + np.log(b1 + k) - np.log(c1 + k) - np.log(k + 1.0) + log_z
        log_term = np.where(active, log_term + step, log_term)
        log_sum = np.where(active, np.logaddexp(log_sum, log_term), log_sum)
        active &= ~((step < 0) & (log_term - log_sum < -40))
    return log_sum


def bgnbd_precompute(
    frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, weights: np.ndarray
) -> dict[str, Any]:
    """Parameter-free pieces of the BG/NBD likelihood, computed once per fit.

    Customers with ``x = 0`` contribute ``−r·log(α+T)`` only, so they are pooled by ``T``;
    the ``Γ`` terms depend on ``x`` only and are pooled by distinct frequency.
    """
    x = np.asarray(frequency, dtype=float)
    w = np.asarray(weights, dtype=float)
    ux, inv = _unique_counts(x)
    zero = x == 0
    Tz = np.asarray(T, dtype=float)[zero]
    if Tz.size > 2000 and np.unique(Tz[:1000]).size > 500:
        # continuous ages (simulated data): pooling by T would cost a sort and save nothing
        zT, zinv = Tz, np.arange(Tz.size)
    else:
        zT, zinv = np.unique(Tz, return_inverse=True)
    pos = ~zero
    return {
        "ux": ux,
        "sw_x": np.bincount(inv, weights=w, minlength=ux.size),
        "zT": zT,
        "zw": np.bincount(zinv, weights=w[zero], minlength=zT.size),
        "px": x[pos],
        "ptx": np.asarray(recency, dtype=float)[pos],
        "pT": np.asarray(T, dtype=float)[pos],
        "pw": w[pos],
        "pinv": inv[pos],
    }


def _bgnbd_core(
    params: np.ndarray, pre: dict[str, Any], order: int
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """BG/NBD log-likelihood (FHL 2005, eq. 6) with its gradient (order ≥ 1) and Hessian (2).

    For a repeat buyer ``LL_i = A1 + A2 + a3 + softplus(a4 − a3)`` with
    ``a3 = −(r+x)·log(α+T)`` and ``a4 = log a − log(b+x−1) − (r+x)·log(α+t_x)``; the share of
    the "dropped out after t_x" term is ``w4 = sigmoid(a4 − a3)``, and
    ``∇²softplus = (1 − w4)∇²a3 + w4∇²a4 + w4(1 − w4)·D·Dᵀ`` with ``D = ∇a4 − ∇a3``.
    """
    r, alpha, a, b = (float(v) for v in params)
    ux, sw = pre["ux"], pre["sw_x"]
    # terms in x only
    llx = (
        gammaln(r + ux)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + ux)
        - gammaln(b)
        - gammaln(a + b + ux)
    )
    ll = float(llx @ sw)
    # customers without repeat purchases
    zT, zw = pre["zT"], pre["zw"]
    lzT = np.log(alpha + zT)
    ll -= r * float(lzT @ zw)
    # repeat buyers
    x, tx, T, w = pre["px"], pre["ptx"], pre["pT"], pre["pw"]
    k = r + x
    lT = np.log(alpha + T)
    ltx = np.log(alpha + tx)
    ib_u = 1.0 / np.where(ux > 0, b + ux - 1, 1.0)
    d = (np.log(a) + np.log(ib_u))[pre["pinv"]] + k * (lT - ltx)
    e = np.exp(-np.abs(d))
    ll += float(w @ (-k * lT + np.maximum(d, 0.0) + np.log1p(e)))
    if order == 0:
        return ll, None, None
    w4 = np.where(d >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    iT = 1.0 / (alpha + T)
    itx = 1.0 / (alpha + tx)
    ww4 = w * w4
    sw4_x = np.bincount(pre["pinv"], weights=ww4, minlength=ux.size)
    izT = 1.0 / (alpha + zT)
    g = np.array(
        [
            float((digamma(r + ux) - digamma(r) + np.log(alpha)) @ sw)
            - float(lzT @ zw)
            - float(w @ lT)
            + float(ww4 @ (lT - ltx)),
            float(sw.sum()) * r / alpha
            - r * float(izT @ zw)
            - float(w @ (k * iT))
            + float(ww4 @ (k * (iT - itx))),
            float((digamma(a + b) - digamma(a + b + ux)) @ sw) + float(sw4_x.sum()) / a,
            float((digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux)) @ sw)
            - float(sw4_x @ ib_u),
        ]
    )
    if order == 1:
        return ll, g, None
    h = np.zeros((4, 4))
    t1 = polygamma(1, a + b) - polygamma(1, a + b + ux)
    h[0, 0] = float((polygamma(1, r + ux) - polygamma(1, r)) @ sw)
    h[0, 1] = float(sw.sum()) / alpha - float(izT @ zw) - float(w @ iT) + float(ww4 @ (iT - itx))
    h[1, 1] = (
        -float(sw.sum()) * r / alpha**2
        + r * float((izT**2) @ zw)
        + float(w @ (k * iT**2))
        + float(ww4 @ (k * (itx**2 - iT**2)))
    )
    h[2, 2] = float(t1 @ sw) - float(sw4_x.sum()) / a**2
    h[2, 3] = float(t1 @ sw)
    h[3, 3] = float(
        (polygamma(1, a + b) + polygamma(1, b + ux) - polygamma(1, b) - polygamma(1, a + b + ux))
        @ sw
    ) + float(sw4_x @ ib_u**2)
    q = ww4 * (1.0 - w4)
    D = np.stack([lT - ltx, k * (iT - itx), np.full_like(x, 1.0 / a), -ib_u[pre["pinv"]]])
    h += (D * q) @ D.T
    h = np.triu(h) + np.triu(h, 1).T
    return ll, g, h


def fit_bgnbd_grouped(
    data: dict[str, np.ndarray],
    zp: np.ndarray,
    zd: np.ndarray,
    patterns: np.ndarray,
    inv: np.ndarray,
    start: np.ndarray,
) -> CovariateFit:
    """BG/NBD covariate fit by Newton's method on customers pooled by covariate pattern.

    Within a pattern every customer shares ``(α_g, a_g, b_g)``, so the plain model's pooled
    likelihood with its analytic gradient and Hessian (``_bgnbd_core``) applies per pattern;
    the chain rule to ``θ`` uses ``p = c·exp(vᵀθ)``: ``∂p/∂θ = p·v`` and
    ``∂²p/∂θ∂θᵀ = p·v·vᵀ``. The covariance is the inverse of the exact Hessian.
    """
    kp, kd = zp.shape[1], zd.shape[1]
    k = 4 + kp + kd
    x0 = np.concatenate([np.log(np.clip(start, 1e-5, 1e5)), np.zeros(k - 4)])
    n_rows = data["w"].size
    if n_rows > 80_000:
        # warm start: the optimum of a random subsample is close to the full-data one
        take = np.random.default_rng(0).choice(n_rows, 20_000, replace=False)
        sub = {key: v[take] for key, v in data.items()}
        warm = _grouped_newton(sub, patterns, inv[take], kp, x0, 1e-7)
        if warm is not None and warm[2]:
            x0 = warm[0]
    res = _grouped_newton(data, patterns, inv, kp, x0, 1e-9)
    if res is None:
        return CovariateFit(x0, np.full((k, k), np.nan), -np.inf, False, "non-finite start")
    theta, ll, ok, msg, h = res
    try:
        cov = np.linalg.inv(-h)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    return CovariateFit(theta, cov, float(ll), bool(ok), msg)


def _grouped_newton(
    data: dict[str, np.ndarray],
    patterns: np.ndarray,
    inv: np.ndarray,
    kp: int,
    x0: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, float, bool, str, np.ndarray] | None:
    """Newton's method for :func:`fit_bgnbd_grouped`: ``(θ, LL, converged, message, ∇²LL)``."""

    k = x0.size
    n_total = float(data["w"].sum())
    groups = []
    for g in range(patterns.shape[0]):
        rows = np.flatnonzero(inv == g)  # a few passes beat a sort of 1e6 rows
        if rows.size == 0:
            continue
        pre = bgnbd_precompute(data["x"][rows], data["tx"][rows], data["T"][rows], data["w"][rows])
        zg = patterns[g]
        vs = np.zeros((4, k))
        vs[0, 0] = 1.0
        vs[1, 1] = 1.0
        vs[1, 4 : 4 + kp] = -zg[:kp]
        vs[2, 2] = 1.0
        vs[2, 4 + kp :] = zg[kp:]
        vs[3, 3] = 1.0
        vs[3, 4 + kp :] = zg[kp:]
        groups.append((pre, vs))

    def full(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ll = 0.0
        grad = np.zeros(k)
        hess = np.zeros((k, k))
        for pre, vs in groups:
            p = np.exp(vs @ theta)
            llg, gg, hg = _bgnbd_core(p, pre, 2)
            assert gg is not None and hg is not None
            jac = p[:, None] * vs  # (4, k)
            ll += llg
            grad += jac.T @ gg
            hess += jac.T @ hg @ jac + (vs.T * (gg * p)) @ vs
        return ll, grad, hess

    last: list[Any] = [None, 0.0, None]

    def fgh(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            ll, g, h = full(theta)
        last[:] = [theta.copy(), ll, h]  # the optimum's Hessian is the last one evaluated
        return -ll / n_total, -g / n_total, -h / n_total

    res = _newton(fgh, x0, tol=tol, finish_step=_FINISH_STEP)
    if res is None:
        return None
    theta, f, ok, msg = res
    if msg == FINISHED:
        # one Newton step past the last evaluation (error O(step²)): the quadratic model's
        # log-likelihood and the last Hessian, which moves by O(step) — no evaluation
        return theta, -f * n_total, ok, "", last[2]
    if last[0] is not None and np.array_equal(last[0], theta):
        ll, h = last[1], last[2]
    else:
        ll, _, h = full(theta)
    return theta, ll, ok, msg, h


class BetaGeoModel(CovariateModelMixin, BaseCLVModel):
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

    _cov_scales = (1, 1)
    _cov_ind = staticmethod(bgnbd_ind)
    _cov_grouped = True  # discrete covariates: pooled Newton fit
    _cov_fit_grouped = staticmethod(fit_bgnbd_grouped)

    _has_hessian: ClassVar[bool] = True

    def _prepare(self, df: pd.DataFrame) -> dict[str, Any]:
        require_columns(df, ["frequency", "recency", "T"], self._name)
        x = as_float(df, "frequency", self._name)
        tx = as_float(df, "recency", self._name)
        T = as_float(df, "T", self._name)
        _check_summary(x, tx, T, self._name)
        return {"x": x, "tx": tx, "T": T, "w": weights_of(df, self._name)}

    def _derive(self, data: dict[str, Any]) -> dict[str, Any]:
        data["pre"] = bgnbd_precompute(data["x"], data["tx"], data["T"], data["w"])
        return data

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, Any]) -> float:
        return _bgnbd_core(params, data["pre"], 0)[0]

    @classmethod
    def _loglik_grad(cls, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        ll, g, _ = _bgnbd_core(params, data["pre"], 1)
        return ll, g  # type: ignore[return-value]

    @classmethod
    def _loglik_grad_hess(
        cls, params: np.ndarray, data: dict[str, Any]
    ) -> tuple[float, np.ndarray, np.ndarray]:
        return _bgnbd_core(params, data["pre"], 2)  # type: ignore[return-value]

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
        r, alpha, a, b = self._customer_params(df)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
            )
        p = np.where(x > 0, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
        return pd.Series(p, index=index_of(df), name="p_alive")

    def expected_purchases(self, t: float, df: pd.DataFrame) -> pd.Series:
        """Expected purchases in the next ``t`` time units given the history (FHL 2005, eq. 10)."""
        x, _tx, T = self._arrays(df)
        r, alpha, a, b = self._customer_params(df)
        z = t / (alpha + T + t)
        log_pref = (r + x) * (np.log(alpha + T) - np.log(alpha + T + t))
        with np.errstate(all="ignore"):
            hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
            scaled = np.exp(log_pref) * hyp
        bad = ~np.isfinite(scaled)
        if bad.any():
            # scipy's hyp2f1 gives up for large r + x (near-Poisson buyers: r and alpha in
            # the thousands); its series summed in log space does not
            c1 = (a + b + x - 1) * np.ones_like(z)
            ok = bad & (c1 > 0) & (z < 1)
            scaled[ok] = np.exp(
                log_pref[ok]
                + _log_hyp2f1_series(
                    (r + x * np.ones_like(z))[ok], (b + x * np.ones_like(z))[ok], c1[ok], z[ok]
                )
            )
        first = (a + b + x - 1) / (a - 1)
        second = 1 - scaled
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
