"""Time-invariant covariates for the BG/NBD and Pareto/NBD models.

Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and
BG/NBD models" (http://brucehardie.com/notes/019/), in the parameterisation of CLVTools
(Bachmann, Meierer & Näf):

* purchase process (both models): ``α_i = α₀·exp(−γ_pᵀ z_i)``, so a positive coefficient
  means a higher purchase rate (the mean rate is ``r/α_i``);
* dropout, Pareto/NBD: ``β_i = β₀·exp(−γ_dᵀ z_i)``, so a positive coefficient means a higher
  dropout rate (the mean rate is ``s/β_i``);
* dropout, BG/NBD: ``a_i = a₀·exp(γ_dᵀ z_i)`` and ``b_i = b₀·exp(γ_dᵀ z_i)``, one coefficient
  scaling both shapes of the beta as CLVTools does it (the mean dropout probability
  ``a/(a+b)`` stays put; a positive coefficient concentrates the beta around it).

The likelihood of customer ``i`` is the plain model's at ``(r, α_i, a_i, b_i)`` or
``(r, α_i, s, β_i)``; the fit maximises it over ``θ = (log r, log α₀, log a₀|s, log b₀|β₀,
γ_p, γ_d)`` with the analytic gradient and takes standard errors from the inverse Hessian
in ``θ`` (the baseline parameters' by the delta method, ``se(e^u) = e^u·se(u)``).

Coding of covariates: numeric and boolean columns enter as they are (booleans as 0/1);
text or categorical columns become one dummy per level but the reference level — the first
in category order, or in sorted order for text — named ``column[level]``. A column with a
missing value, a constant column or a column of another type (dates) is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

__all__ = ["CovariateDesign", "fit_covariate_model"]

#: log-parameters stay in [log 1e-6, log 1e6], as in the plain fits
_LOG_BOUND = float(np.log(1e6))
#: covariate coefficients stay within ±30 (exp(30) ≈ 1e13: a scale that no data identify)
_COEF_BOUND = 30.0


@dataclass
class CovariateDesign:
    """How covariate columns become a numeric design matrix (fixed at fit time).

    Attributes
    ----------
    columns : list of str
        The ``rfm`` columns named by the user.
    levels : dict
        For categorical columns, their levels (the first is the reference, left out).
    names : list of str
        Names of the design columns: the column itself, or ``column[level]`` for a dummy.
    """

    columns: list[str]
    levels: dict[str, list[Any]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, columns: Sequence[str], model: str) -> CovariateDesign:
        """Check the columns and fix their coding; errors name the column and the fix."""
        if isinstance(columns, str):
            columns = [columns]
        cols = list(columns)
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            raise ValueError(f"{model}: covariate(s) {dupes} named twice")
        design = cls(columns=cols)
        for c in cols:
            if c not in df.columns:
                raise ValueError(
                    f"{model}: covariate {c!r} is not a column of the summary table; its "
                    f"columns are {list(df.columns)}. Merge the customer attributes into it "
                    "first (one row per customer)."
                )
            s = df[c]
            if s.isna().any():
                rows = [int(i) for i in np.flatnonzero(s.isna().to_numpy())[:5]]
                raise ValueError(
                    f"{model}: covariate {c!r} has {int(s.isna().sum())} missing value(s) "
                    f"(first at row(s) {rows}); fill them or drop those customers"
                )
            if _is_categorical(s):
                if isinstance(s.dtype, pd.CategoricalDtype):
                    levels = [v for v in s.cat.categories if (s == v).any()]
                else:
                    levels = sorted(s.unique().tolist(), key=str)
                if len(levels) < 2:
                    raise ValueError(
                        f"{model}: covariate {c!r} takes one value only ({levels[0]!r}); "
                        "a constant cannot be told apart from the baseline — drop it"
                    )
                design.levels[c] = levels
                design.names += [f"{c}[{v}]" for v in levels[1:]]
            elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                v = s.to_numpy(dtype=float)
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{model}: covariate {c!r} has infinite values")
                if np.ptp(v) == 0:
                    raise ValueError(
                        f"{model}: covariate {c!r} is constant ({v[0]:g}); a constant cannot "
                        "be told apart from the baseline — drop it"
                    )
                design.names.append(c)
            else:
                raise ValueError(
                    f"{model}: covariate {c!r} has dtype {s.dtype}, which is neither numeric, "
                    "boolean nor categorical; convert it (e.g. a date to days since)"
                )
        return design

    def matrix(self, df: pd.DataFrame, model: str) -> np.ndarray:
        """The design matrix of ``df`` (n × len(names)), coded as at fit time."""
        out = np.empty((len(df), len(self.names)))
        j = 0
        for c in self.columns:
            if c not in df.columns:
                raise ValueError(
                    f"{model} was fitted with covariate {c!r}; the table to predict for lacks it"
                )
            s = df[c]
            if s.isna().any():
                raise ValueError(f"{model}: covariate {c!r} has missing values")
            if c in self.levels:
                levels = self.levels[c]
                # factorise (a fast hash, on Arrow strings too), then place the few
                # distinct values among the levels; -1: unseen
                value_codes, uniques = pd.factorize(s)
                codes = pd.Index(levels).get_indexer(uniques)[value_codes]
                if (codes < 0).any():
                    unknown = sorted(set(s[codes < 0].unique().tolist()), key=str)
                    raise ValueError(
                        f"{model}: covariate {c!r} has level(s) {unknown[:5]} unseen at fit "
                        f"time; known levels are {levels}"
                    )
                for i in range(1, len(levels)):
                    out[:, j] = codes == i
                    j += 1
            else:
                try:
                    out[:, j] = s.to_numpy(dtype=float)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"{model}: covariate {c!r} must be numeric as at fit time"
                    ) from exc
                j += 1
        return out


def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or (pd.api.types.is_string_dtype(s) and not pd.api.types.is_numeric_dtype(s))
    )


# per-customer log-likelihood and its partials in the 4 natural parameters, at per-customer
# (p0, p1_i, p2_i, p3_i): (ll (n,), grad (4, n))
IndLoglik = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass
class CovariateFit:
    """Result of :func:`fit_covariate_model`."""

    theta: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    converged: bool
    message: str


def expand(
    theta: np.ndarray, zp: np.ndarray, zd: np.ndarray, dropout_scales: tuple[int, ...]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Per-customer natural parameters from ``θ``.

    ``dropout_scales`` lists which of the parameters 2 and 3 the dropout covariates scale and
    with which sign: ``(+1, +1)`` for the BG/NBD's ``a`` and ``b``, ``(0, −1)`` for the
    Pareto/NBD's ``β`` (``s`` stays common).
    """
    kp = zp.shape[1]
    base = np.exp(theta[:4])
    gp = theta[4 : 4 + kp]
    gd = theta[4 + kp :]
    ep = np.exp(-(zp @ gp)) if kp else np.ones(zp.shape[0])
    ed = np.exp(zd @ gd) if gd.size else np.ones(zd.shape[0])
    p1 = base[1] * ep
    p2 = base[2] * (ed if dropout_scales[0] > 0 else 1.0 / ed if dropout_scales[0] < 0 else 1.0)
    p3 = base[3] * (ed if dropout_scales[1] > 0 else 1.0 / ed if dropout_scales[1] < 0 else 1.0)
    p2 = np.broadcast_to(p2, ep.shape)
    p3 = np.broadcast_to(p3, ep.shape)
    return float(base[0]), p1, p2, p3


def _objective(
    theta: np.ndarray,
    ind: IndLoglik,
    data: dict[str, np.ndarray],
    zp: np.ndarray,
    zd: np.ndarray,
    scales: tuple[int, ...],
) -> tuple[float, np.ndarray]:
    """Total log-likelihood and its gradient in ``θ``."""
    r, p1, p2, p3 = expand(theta, zp, zd, scales)
    with np.errstate(all="ignore"):
        ll, g = ind(r, p1, p2, p3, data["x"], data["tx"], data["T"])
    w = data["w"]
    total = float(w @ ll)
    wg = g * w  # (4, n)
    d1 = wg[1] * p1
    d2 = wg[2] * p2
    d3 = wg[3] * p3
    dd = scales[0] * d2 + scales[1] * d3
    grad = np.concatenate(
        [
            [float(wg[0].sum()) * r, d1.sum(), d2.sum(), d3.sum()],
            -(zp.T @ d1),
            zd.T @ dd,
        ]
    )
    return total, grad


def fit_covariate_model(
    ind: IndLoglik,
    data: dict[str, np.ndarray],
    zp: np.ndarray,
    zd: np.ndarray,
    scales: tuple[int, ...],
    start: np.ndarray,
    penalizer: float = 0.0,
) -> CovariateFit:
    """Maximise the covariate log-likelihood from the plain fit's optimum ``start``.

    L-BFGS-B in ``θ`` (bounded log-parameters, coefficients within ±30); on more than 80,000
    rows a random 20,000-row subsample is fitted first and warm-starts the full fit. The
    covariance is the inverse of the central-difference Hessian of the analytic gradient.
    """
    n_total = float(data["w"].sum())
    k = 4 + zp.shape[1] + zd.shape[1]
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * 4 + [(-_COEF_BOUND, _COEF_BOUND)] * (k - 4)
    pen = float(penalizer)

    def minimise(
        d: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, x0: np.ndarray, ftol: float
    ) -> Any:
        n = float(d["w"].sum())

        def f(th: np.ndarray) -> tuple[float, np.ndarray]:
            ll, g = _objective(th, ind, d, a, b, scales)
            if not np.isfinite(ll) or not np.all(np.isfinite(g)):
                return 1e20, np.zeros_like(th)
            e = np.exp(th[:4])
            val = -ll / n + pen * float(e @ e)
            grad = -g / n
            grad[:4] += 2 * pen * e * e
            return val, grad

        return optimize.minimize(
            f,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": ftol, "gtol": 1e-9},
        )

    x0 = np.concatenate([np.log(np.clip(start, 1e-5, 1e5)), np.zeros(k - 4)])
    n_rows = data["w"].size
    if n_rows > 80_000:
        take = np.random.default_rng(0).choice(n_rows, 20_000, replace=False)
        sub = {key: v[take] for key, v in data.items()}
        r0 = minimise(sub, zp[take], zd[take], x0, 1e-11)
        if np.isfinite(r0.fun) and r0.fun < 1e19:
            x0 = r0.x
    res = minimise(data, zp, zd, x0, 1e-14)
    theta = res.x
    ll, g = _objective(theta, ind, data, zp, zd, scales)
    gmax = float(np.max(np.abs(g))) / n_total
    ok = bool(res.success) or gmax < 1e-5
    # Hessian of the penalised negative log-likelihood by differences of the gradient
    h = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(abs(theta[i]), 1.0)
        e = np.zeros(k)
        e[i] = step
        gp_ = _objective(theta + e, ind, data, zp, zd, scales)[1]
        gm_ = _objective(theta - e, ind, data, zp, zd, scales)[1]
        h[:, i] = -(gp_ - gm_) / (2 * step)
    h = (h + h.T) / 2
    if pen:
        ex = np.exp(theta[:4])
        h[:4, :4] += np.diag(4 * pen * n_total * ex * ex)
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    msg = "" if ok else f"{res.message}; largest gradient {gmax:.2g}"
    return CovariateFit(theta, cov, ll, ok, msg)


def bgnbd_ind(
    r: float,
    alpha: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD log-likelihood per customer (FHL 2005, eq. 6) at per-customer ``α, a, b``.

    Returns ``(ll, grad)`` with ``grad`` of shape (4, n): partials in ``r, α_i, a_i, b_i``.
    """
    from scipy.special import digamma, gammaln

    pos = x > 0
    k = r + x
    lT = np.log(alpha + T)
    ltx = np.log(alpha + tx)
    bx1 = np.where(pos, b + x - 1, 1.0)
    a3 = -k * lT
    a4 = np.where(pos, np.log(a) - np.log(bx1) - k * ltx, -np.inf)
    m = np.logaddexp(a3, a4)
    ll = (
        gammaln(k)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x)
        - gammaln(b)
        - gammaln(a + b + x)
        + m
    )
    w4 = np.exp(a4 - m)
    w3 = 1.0 - w4
    dab = digamma(a + b) - digamma(a + b + x)
    g = np.stack(
        [
            digamma(k) - digamma(r) + np.log(alpha) - w3 * lT - w4 * ltx,
            r / alpha - k * (w3 / (alpha + T) + w4 / (alpha + tx)),
            dab + w4 / a,
            dab + digamma(b + x) - digamma(b) - np.where(pos, w4 / bx1, 0.0),
        ]
    )
    return ll, g


class CovariateModelMixin:
    """``fit(rfm, purchase_covariates=..., dropout_covariates=...)`` for BG/NBD and Pareto/NBD.

    Without covariates ``fit`` is the plain model's fit, unchanged. With them the plain fit
    is the start of the covariate fit (every coefficient at zero), whose optimum replaces it:
    ``params_`` are then the baseline parameters (all covariates at zero, categorical ones
    at their reference level), ``covariate_effects_`` holds the coefficients and predictions
    use each customer's own covariates, read from the table passed to them.
    """

    #: how the dropout coefficients scale parameters 2 and 3 (see :func:`expand`)
    _cov_scales: tuple[int, int] = (1, 1)
    _name: str
    _param_names: tuple[str, ...]
    _remedy: str
    _params: np.ndarray
    penalizer: float

    @staticmethod
    def _cov_ind(*args: Any) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def fit(
        self,
        df: pd.DataFrame,
        purchase_covariates: Sequence[str] | None = None,
        dropout_covariates: Sequence[str] | None = None,
    ) -> Any:
        """Fit by maximum likelihood, optionally with time-invariant covariates.

        Parameters
        ----------
        df : pandas.DataFrame
            The summary table (``frequency``, ``recency``, ``T``, optional ``weights``) and
            the covariate columns, one row per customer.
        purchase_covariates : list of str, optional
            Columns that scale the purchase rate: ``α_i = α₀·exp(−γ_pᵀ z_i)``.
        dropout_covariates : list of str, optional
            Columns that act on the dropout process (see the module docstring).

        Returns
        -------
        self
        """
        from segmentum.value.models._base import one_blas_thread

        with one_blas_thread():
            return self._fit_covariates(df, purchase_covariates, dropout_covariates)

    def _fit_covariates(
        self,
        df: pd.DataFrame,
        purchase_covariates: Sequence[str] | None,
        dropout_covariates: Sequence[str] | None,
    ) -> Any:
        """:meth:`fit` without the BLAS thread limit."""
        from segmentum.value.models._base import BaseCLVModel, ConvergenceError

        pc = [purchase_covariates] if isinstance(purchase_covariates, str) else purchase_covariates
        dc = [dropout_covariates] if isinstance(dropout_covariates, str) else dropout_covariates
        pc, dc = list(pc or []), list(dc or [])
        empty = pd.DataFrame(
            {
                "process": pd.Series(dtype=str),
                "covariate": pd.Series(dtype=str),
                "coef": pd.Series(dtype=float),
                "se": pd.Series(dtype=float),
            }
        )
        if not pc and not dc:
            BaseCLVModel.fit(self, df)  # type: ignore[arg-type]
            self._design_p: CovariateDesign | None = None
            self._design_d: CovariateDesign | None = None
            self._theta_cov: np.ndarray | None = None
            self.covariate_effects_ = empty
            return self
        # the covariates are checked before anything is fitted
        design_p, design_d, zp, zd = self._covariate_designs(df, pc, dc)
        grouped = (
            covariate_groups(zp, zd)
            if getattr(self, "_cov_grouped", False) and not self.penalizer
            else None
        )
        if grouped is not None and len(df) > 80_000:
            # the start only: a plain fit on a subsample (the pooled Newton fit warm-starts
            # on a subsample too, then polishes on all rows)
            take = np.sort(np.random.default_rng(1).choice(len(df), 20_000, replace=False))
            BaseCLVModel.fit(self, df.iloc[take])  # type: ignore[arg-type]
        else:
            BaseCLVModel.fit(self, df)  # type: ignore[arg-type]
        self._design_p = self._design_d = None
        self._theta_cov = None
        self.covariate_effects_ = empty
        data = self._prepare(df)  # type: ignore[attr-defined]
        self.n_customers_ = float(data["w"].sum())
        res: CovariateFit | None = None
        if grouped is not None:
            res = type(self)._cov_fit_grouped(data, zp, zd, grouped[0], grouped[1], self._params)
            if not res.converged:
                res = None  # the general fit below may still get there
        if res is None:
            res = fit_covariate_model(
                type(self)._cov_ind,
                {k: data[k] for k in ("x", "tx", "T", "w")},
                zp,
                zd,
                self._cov_scales,
                self._params,
                self.penalizer,
            )
        if not res.converged:
            raise ConvergenceError(
                f"{self._name} covariate fit did not converge ({res.message}). Remedy: "
                f"standardise numeric covariates, or {self._remedy}."
            )
        self._check_bounds(res, design_p.names + design_d.names, grouped is not None)
        self._store_fit(res, design_p, design_d)
        return self

    def _covariate_designs(
        self, df: pd.DataFrame, pc: list[str], dc: list[str]
    ) -> tuple[CovariateDesign, CovariateDesign, np.ndarray, np.ndarray]:
        """The purchase and dropout designs and matrices; refuses collinear covariates."""
        design_p = CovariateDesign.from_frame(df, pc, self._name)
        design_d = CovariateDesign.from_frame(df, dc, self._name)
        zp = design_p.matrix(df, self._name)
        zd = design_d.matrix(df, self._name)
        for z, names in ((zp, design_p.names), (zd, design_d.names)):
            zc = z - z.mean(axis=0)
            if z.shape[1] and np.linalg.matrix_rank(zc.T @ zc, hermitian=True) < z.shape[1]:
                raise ValueError(
                    f"{self._name}: the covariates {names} are collinear (one is a combination "
                    "of the others); drop one"
                )
        return design_p, design_d, zp, zd

    def _check_bounds(self, res: CovariateFit, cov_names: list[str], grouped: bool) -> None:
        """ConvergenceError naming the parameters whose optimum ran to a bound."""
        from segmentum.value.models._base import ConvergenceError

        base_at_bound = np.abs(res.theta[:4]) >= _LOG_BOUND - 1e-3
        coef_at_bound = np.abs(res.theta[4:]) >= (_LOG_BOUND if grouped else _COEF_BOUND) - 1e-3
        if base_at_bound.any() or coef_at_bound.any():
            names = [n for n, b in zip(self._param_names, base_at_bound, strict=True) if b]
            names += [n for n, b in zip(cov_names, coef_at_bound, strict=True) if b]
            raise ConvergenceError(
                f"{self._name} covariate fit ran to a bound for {names}: the data do not "
                "identify them (a level with no or only inactive customers?). Drop or merge "
                "those covariates."
            )

    def _store_fit(
        self, res: CovariateFit, design_p: CovariateDesign, design_d: CovariateDesign
    ) -> None:
        """``params_``, standard errors, log-likelihood and ``covariate_effects_``."""
        self._design_p, self._design_d = design_p, design_d
        self._theta_cov = res.covariance
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.diag(res.covariance))
        base = np.exp(res.theta[:4])
        self._params = base
        self.params_ = dict(zip(self._param_names, map(float, base), strict=True))
        self.standard_errors_ = dict(zip(self._param_names, map(float, base * se[:4]), strict=True))
        self.log_likelihood_ = float(res.log_likelihood)
        kp = len(design_p.names)
        self.covariate_effects_ = pd.DataFrame(
            {
                "process": ["purchase"] * kp + ["dropout"] * len(design_d.names),
                "covariate": design_p.names + design_d.names,
                "coef": res.theta[4:],
                "se": se[4:],
            }
        )

    # -- per-customer parameters -------------------------------------------------
    @property
    def has_covariates(self) -> bool:
        """Whether the fit used covariates."""
        return getattr(self, "_design_p", None) is not None

    def covariate_columns(self) -> dict[str, list[str]]:
        """The ``rfm`` columns of each process (empty lists for a plain fit)."""
        if not self.has_covariates:
            return {"purchase": [], "dropout": []}
        assert self._design_p is not None and self._design_d is not None
        return {"purchase": self._design_p.columns, "dropout": self._design_d.columns}

    def _theta(self) -> np.ndarray:
        coefs = self.covariate_effects_["coef"].to_numpy(dtype=float)
        return np.concatenate([np.log(self._params), coefs])

    def _designs(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        assert self._design_p is not None and self._design_d is not None
        return self._design_p.matrix(df, self._name), self._design_d.matrix(df, self._name)

    def _customer_params(
        self, df: pd.DataFrame, theta: np.ndarray | None = None
    ) -> tuple[Any, Any, Any, Any]:
        """``(p0, p1, p2, p3)``: scalars for a plain fit, per-customer arrays with covariates.

        A copy of the model whose ``_fixed_params`` is set (by :func:`segmentum.value.whatif`)
        returns those instead.
        """
        fixed = self.__dict__.get("_fixed_params")
        if fixed is not None:
            return fixed  # type: ignore[no-any-return]
        if not self.has_covariates:
            p = self._params if theta is None else np.exp(theta[:4])
            return tuple(float(v) for v in p)  # type: ignore[return-value]
        zp, zd = self._designs(df)
        th = self._theta() if theta is None else theta
        r, p1, p2, p3 = expand(th, zp, zd, self._cov_scales)
        out: list[Any] = [r, p1, p2, p3]
        for i, sc in ((2, self._cov_scales[0]), (3, self._cov_scales[1])):
            if sc == 0:
                out[i] = float(np.exp(th[i]))
        return tuple(out)  # type: ignore[return-value]

    def _theta_covariance(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``θ`` and its covariance (the inverse Hessian of −LL in ``θ``).

        For a plain fit the Hessian is computed here, on the table ``df`` it was fitted on.
        """
        theta = self._theta()
        if self._theta_cov is not None:
            return theta, self._theta_cov
        data = self._prepare(df)  # type: ignore[attr-defined]
        data = {k: data[k] for k in ("x", "tx", "T", "w")}
        empty = np.zeros((data["w"].size, 0))
        h = np.empty((4, 4))
        for i in range(4):
            e = np.zeros(4)
            e[i] = 1e-5 * max(abs(theta[i]), 1.0)
            gp_ = _objective(theta + e, type(self)._cov_ind, data, empty, empty, self._cov_scales)
            gm_ = _objective(theta - e, type(self)._cov_ind, data, empty, empty, self._cov_scales)
            h[:, i] = -(gp_[1] - gm_[1]) / (2 * e[i])
        h = (h + h.T) / 2
        return theta, np.linalg.inv(h)


#: at most this many distinct covariate patterns for the pooled BG/NBD Newton fit
MAX_GROUPS = 256


def _small_whole_codes(cols: list[np.ndarray]) -> np.ndarray | None:
    """``Σ_j (z_j − min_j)·stride_j`` with strides the running product of the columns'
    spans, when every column holds whole numbers (below 2**52) and the spans multiply to at
    most 1e6; else None. Column by column, without stacking the columns into one matrix."""
    lo = np.array([c.min() for c in cols])
    hi = np.array([c.max() for c in cols])
    span = hi - lo + 1
    if not np.prod(span.astype(float)) <= 1e6:
        return None
    raw = np.zeros(cols[0].size, dtype=np.int64)
    stride = 1
    for c, low, width in zip(cols, lo, span, strict=True):
        if max(abs(low), abs(low + width)) >= 2.0**52:  # beyond exact whole floats
            return None
        ci = c.astype(np.int64)
        if not np.array_equal(ci, c):
            return None
        raw += (ci - int(low)) * stride
        stride *= int(width)
    return raw


def covariate_groups(zp: np.ndarray, zd: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct rows of ``[zp | zd]`` and each customer's pattern, or ``None`` if too many.

    Each column is factorised (a hash, no sort) and the codes combined, so 1,000,000 rows
    take milliseconds.
    """
    cols = [zp[:, j] for j in range(zp.shape[1])] + [zd[:, j] for j in range(zd.shape[1])]
    n = zp.shape[0]
    if n == 0 or not cols:
        return None
    small = _small_whole_codes(cols)
    if small is not None:
        # small whole numbers (dummies, counts): the pattern code by arithmetic, no hash
        present = np.bincount(small) > 0
        if int(present.sum()) > MAX_GROUPS:
            return None
        lookup = np.cumsum(present) - 1
        code = lookup[small]
        first = np.full(int(present.sum()), -1, dtype=np.int64)
        first[code[::-1]] = np.arange(code.size - 1, -1, -1)  # first row of each pattern
        return np.hstack([zp[first], zd[first]]), code
    z = np.hstack([zp, zd])
    code = np.zeros(z.shape[0], dtype=np.int64)
    for j in range(z.shape[1]):
        col_codes, uniques = pd.factorize(z[:, j])
        if uniques.size > MAX_GROUPS:
            return None
        code = code * uniques.size + col_codes
        code, _ = pd.factorize(code)  # keep the combined code small
        if code.max() >= MAX_GROUPS:
            return None
    # codes are 0..G-1 in order of first appearance: the first row of each is its pattern
    first = pd.Series(code).drop_duplicates().index.to_numpy()
    return z[first], code
