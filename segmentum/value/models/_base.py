"""Shared machinery of the CLV models: maximum likelihood on log-parameters.

Each model module defines its log-likelihood as a module-level pure function of
``(params, data)``; the base class here only optimises it, computes the Hessian and the
standard errors, and guards post-fit methods. This mirrors the ``BaseFitter`` of the
``lifetimes`` package (Davidson-Pilon) without its public ``data`` attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

__all__ = ["BaseCLVModel", "ConvergenceError", "NotFittedError"]

#: rows of the random subsample used to warm-start fits on large tables
_WARM_ROWS = 20_000

#: bounds of the log-parameters: every parameter lies in [1e-6, 1e6].
LOG_BOUND = float(np.log(1e6))

# signature of a model's objective: (log_params, data, penalizer) -> (neg mean LL, gradient)
Objective = Callable[[np.ndarray, dict[str, np.ndarray], float], tuple[float, np.ndarray]]


class ConvergenceError(RuntimeError):
    """A maximum-likelihood fit did not converge; the message says why and what to try."""


class NotFittedError(ValueError, AttributeError):
    """A prediction was asked of a model that was not fitted."""


def require_columns(df: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Raise a ``ValueError`` naming the columns a model needs and the frame lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{model}.fit expects a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{model} needs column(s) {missing} in the summary table; it has {list(df.columns)}. "
            "Build it with segmentum.value.summarize(transactions, ...)."
        )


def as_float(df: pd.DataFrame, column: str, model: str) -> np.ndarray:
    """Column as a float array, refusing missing or infinite values."""
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"{model}: column {column!r} has {bad} missing or non-numeric value(s)")
    return values


def weights_of(df: pd.DataFrame, model: str) -> np.ndarray:
    """The ``weights`` column (customers per aggregated row), or ones."""
    if "weights" not in df.columns:
        return np.ones(len(df))
    w = as_float(df, "weights", model)
    if np.any(w < 0):
        raise ValueError(f"{model}: column 'weights' has negative values")
    return w


def numeric_hessian(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of a function given its analytic or numeric gradient."""
    k = x.size
    h = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * max(abs(x[i]), 1e-3)
        e = np.zeros(k)
        e[i] = step
        h[:, i] = (grad(x + e) - grad(x - e)) / (2 * step)
    return (h + h.T) / 2


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Central-difference gradient (used by models without an analytic one)."""
    g = np.empty_like(x)
    for i in range(x.size):
        step = 1e-6 * max(abs(x[i]), 1.0)
        e = np.zeros_like(x)
        e[i] = step
        g[i] = (f(x + e) - f(x - e)) / (2 * step)
    return g


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread (threadpoolctl, which scikit-learn brings).

    The likelihoods' BLAS calls are dot products over customers: memory-bound, so a second
    thread gains little on an idle machine, while on a busy one OpenBLAS's threads wait on
    each other — measured on 1,000,000 customers on two shared cores, a plain BG/NBD fit took
    1.7-2.7 s with OpenBLAS's two threads and 0.37-0.68 s with one.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: message of :func:`_newton` when it finished with an unevaluated last Newton step
FINISHED = "finished by a last Newton step"


_EPS = float(np.finfo(float).eps)


def _decreased(f: float, g: np.ndarray, fn: float, gn: np.ndarray, slope: float) -> bool:
    """Armijo's sufficient decrease, or, where ``f`` moved only by rounding, a smaller
    gradient: at the optimum ``f`` changes in its last bits only, and a step to a gradient
    of 1e-16 rejected for an ``f`` one ulp higher would cost every halving's evaluation."""
    if fn <= f + 1e-4 * slope:
        return True
    rounding = fn - f <= 8 * _EPS * max(1.0, abs(f))
    return bool(rounding and np.max(np.abs(gn)) < np.max(np.abs(g)))


def _newton(
    fgh: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    u0: np.ndarray,
    tol: float = 1e-9,
    max_iter: int = 200,
    finish_step: float | None = None,
) -> tuple[np.ndarray, float, bool, str] | None:
    """Damped Newton minimisation with backtracking, within the log-parameter bounds.

    The Hessian is shifted to be positive definite when it is not (Levenberg-Marquardt), and
    steps are capped at 3 in log-space, so the method is safe far from the optimum.

    With ``finish_step``, a positive definite Newton step whose largest component is below
    it is taken without evaluating ``fgh`` there: in the quadratic regime the point it
    reaches is off the optimum by O(step²) (about 1e-10 for a step of 1e-5), so the last
    evaluation would only confirm it. The returned ``f`` is then the quadratic model's,
    ``f + ½·gᵀstep`` (off by O(step³)), and the message is :data:`FINISHED`.
    """
    u = np.clip(u0, -LOG_BOUND, LOG_BOUND)
    f, g, h = fgh(u)
    if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
        return None
    k = u.size
    for _ in range(max_iter):
        if np.max(np.abs(g)) < tol:
            return u, f, True, ""
        try:
            lo = float(np.linalg.eigvalsh(h)[0])
        except np.linalg.LinAlgError:
            return u, f, False, "Hessian not finite"
        shift = 0.0 if lo > 1e-12 else -lo + 1e-6 * (1.0 + float(np.max(np.abs(h))))
        step = -np.linalg.solve(h + shift * np.eye(k), g)
        big = float(np.max(np.abs(step)))
        if finish_step is not None and shift == 0.0 and big < finish_step:
            un = np.clip(u + step, -LOG_BOUND, LOG_BOUND)
            return un, f + 0.5 * float(g @ step), True, FINISHED
        if big > 3.0:
            step *= 3.0 / big
        slope = float(g @ step)
        t = 1.0
        while True:
            un = np.clip(u + t * step, -LOG_BOUND, LOG_BOUND)
            fn, gn, hn = fgh(un)
            if np.isfinite(fn) and np.all(np.isfinite(gn)) and _decreased(f, g, fn, gn, t * slope):
                break
            t *= 0.5
            # a step of 3e-6 in log-space that does not lower f: rounding, or a ridge along
            # which more halving only costs evaluations
            if t < 1e-6:
                # no decrease possible: converged to rounding, or stuck
                ok = bool(np.max(np.abs(g)) < 1e-6)
                return u, f, ok, "" if ok else "line search failed"
        done = abs(f - fn) <= 1e-15 * max(1.0, abs(f)) and float(np.max(np.abs(un - u))) < 1e-10
        u, f, g, h = un, fn, gn, hn
        if done:
            return u, f, bool(np.max(np.abs(g)) < 1e-6), ""
    return u, f, bool(np.max(np.abs(g)) < 1e-7), "Newton iterations exhausted"


class BaseCLVModel:
    """Maximum-likelihood fitting shared by the CLV models.

    Subclasses set ``_name``, ``_param_names``, ``_remedy`` and implement
    ``_prepare(df) -> dict`` (validated arrays), ``_loglik(params, data) -> float`` (the full
    log-likelihood) and optionally ``_loglik_grad(params, data) -> (LL, dLL/dparams)``;
    ``_starts(data)`` gives starting points.
    """

    _name: ClassVar[str] = "model"
    _param_names: ClassVar[tuple[str, ...]] = ()
    _remedy: ClassVar[str] = "try penalizer=0.001 or check the summary table for outliers"

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- to implement --------------------------------------------------------------
    def _prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _loglik(params: np.ndarray, data: dict[str, np.ndarray]) -> float:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def _loglik_grad(
        cls, params: np.ndarray, data: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray]:
        ll = cls._loglik(params, data)
        return ll, numeric_gradient(lambda p: cls._loglik(p, data), params)

    def _starts(self, data: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.ones(len(self._param_names))]

    # -- fitting -------------------------------------------------------------------
    def _check_params(self) -> None:
        p = self.penalizer
        if not isinstance(p, int | float) or isinstance(p, bool) or not np.isfinite(p) or p < 0:
            raise ValueError(f"{self._name}: penalizer must be a finite number >= 0, got {p!r}")

    #: models with an analytic Hessian set this and implement ``_loglik_grad_hess``
    _has_hessian: ClassVar[bool] = False
    #: with the Hessian: the Newton fit's last step is taken unevaluated once a step in
    #: log-parameters is below this (see :func:`_newton`); for models whose evaluation is
    #: costly (a Spark job), ``None`` evaluates every step
    _finish_step: ClassVar[float | None] = None

    @classmethod
    def _loglik_grad_hess(
        cls, params: np.ndarray, data: dict[str, Any]
    ) -> tuple[float, np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _subsample(self, data: dict[str, Any], take: np.ndarray) -> dict[str, Any]:
        """Rows ``take`` of the prepared data (row-aligned arrays are those as long as ``w``)."""
        n = data["w"].size
        return {
            k: v[take] for k, v in data.items() if isinstance(v, np.ndarray) and v.shape[:1] == (n,)
        }

    def _derive(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add parameter-free precomputations to prepared (or subsampled) data."""
        return data

    def fit(self, df: pd.DataFrame) -> BaseCLVModel:
        """Fit the model by maximum likelihood.

        Models with an analytic Hessian (BG/NBD) use a damped Newton method in the
        log-parameters; the others use L-BFGS-B with analytic or numeric gradients, finished
        by one Newton step where the gradient is analytic (see :meth:`_polished`). On large
        tables the optimum of a random subsample of ``_WARM_ROWS`` rows is the first start.
        A table of distinct rows with a ``weights`` column (``segmentum.value.patterns``)
        gives the fit of the rows it stands for.

        Parameters
        ----------
        df : pandas.DataFrame
            The summary table (see the class docstring for the columns it needs).

        Returns
        -------
        self
        """
        self._check_params()
        with one_blas_thread():
            return self._fit(df)

    def _fit(self, df: pd.DataFrame) -> BaseCLVModel:
        """:meth:`fit` without the BLAS thread limit."""
        data = self._derive(self._prepare(df))
        n_total = float(data["w"].sum())
        if n_total <= 0:
            raise ValueError(f"{self._name}: no customers to fit")
        starts = list(self._starts(data))
        n_rows = data["w"].size
        if n_rows > 4 * _WARM_ROWS:
            # warm start: the optimum on a random subsample is close to the full-data one
            take = np.random.default_rng(0).choice(n_rows, _WARM_ROWS, replace=False)
            sub = self._derive(self._subsample(data, take))
            if float(sub["w"].sum()) > 0:
                for start in starts:
                    res = self._optimise(sub, start, quick=True)
                    if res is not None:
                        starts = [np.exp(res[0]), *starts]
                        break
        best: tuple[np.ndarray, float, str] | None = None
        messages: list[str] = []
        for start in starts:
            res = self._optimise(data, start)
            if res is None:
                messages.append("non-finite log-likelihood")
                continue
            x, fun, ok, msg = res[0], res[1], res[2], res[3]
            messages.append(msg)
            if best is None or fun < best[1]:
                best = (x, fun, msg if not ok else "")
            if ok:
                break
        if best is None:
            raise ConvergenceError(
                f"{self._name} fit failed: the log-likelihood was not finite at any starting "
                f"point ({'; '.join(messages)}). Remedy: {self._remedy}."
            )
        logp, _, failure = best
        at_bound = np.abs(logp) >= LOG_BOUND - 1e-3
        if at_bound.any():
            names = [n for n, b in zip(self._param_names, at_bound, strict=True) if b]
            raise ConvergenceError(
                f"{self._name} fit did not converge: parameter(s) {names} ran to the bound "
                f"[1e-6, 1e6], so the data do not identify them. Remedy: {self._remedy}."
            )
        if failure:
            raise ConvergenceError(
                f"{self._name} fit did not converge ({failure}). Remedy: {self._remedy}."
            )
        params = np.exp(logp)
        cls = type(self)
        self._params = params
        self.params_ = dict(zip(self._param_names, map(float, params), strict=True))
        if self._has_hessian:
            last = data.get("_last")
            if last is not None and np.array_equal(last[0], params):
                ll, _, hess = last[1:]
            else:
                ll, _, hess = cls._loglik_grad_hess(params, data)
            hess_neg = -hess + 2 * float(self.penalizer) * n_total * np.eye(params.size)
            self.log_likelihood_ = float(ll)
            self.standard_errors_ = self._se_from(hess_neg)
        else:
            params, ll, hess_neg = self._polished(params, data)
            self._params = params
            self.params_ = dict(zip(self._param_names, map(float, params), strict=True))
            self.log_likelihood_ = ll
            self.standard_errors_ = self._se_from(hess_neg)
        self.n_customers_ = n_total
        return self

    def _polished(
        self, params: np.ndarray, data: dict[str, Any]
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """L-BFGS-B's optimum after one Newton step: ``(params, LL, Hessian of −LL)``.

        L-BFGS-B stops on a relative change of the objective, which leaves the parameters
        off the optimum by up to ~1e-6 relative on 100,000 customers: two fits of the same
        likelihood (on the customers and on their patterns, or from two starts) then differ
        by that much. The Hessian the standard errors need is at hand, so one Newton step with
        it (and the analytic gradient) lands within rounding of the optimum. The step is taken
        only when it is small (below 1e-3 of each parameter), the Hessian positive definite,
        the penalised log-likelihood no worse (within rounding) and the gradient (in log-
        parameters) smaller after it; the standard errors then come from the Hessian
        at the new point (four more gradient pairs). Models without an analytic gradient are
        left as they are: a difference gradient is too noisy for a step that small.
        """
        cls = type(self)
        n_total = float(data["w"].sum())
        pen = float(self.penalizer)
        grad = self._penalised_gradient(data)
        with np.errstate(invalid="ignore"):
            hess = numeric_hessian(grad, params)
        ll = float(cls._loglik(params, data))
        analytic = getattr(cls._loglik_grad, "__func__", None) is not getattr(
            BaseCLVModel._loglik_grad, "__func__", None
        )
        if not analytic:
            return params, ll, hess
        g = grad(params)
        try:
            lowest = float(np.linalg.eigvalsh(hess)[0])
            step = -np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            return params, ll, hess
        if not (np.isfinite(lowest) and lowest > 0 and np.all(np.abs(step) < 1e-3 * params)):
            return params, ll, hess
        new = params + step
        with np.errstate(all="ignore"):
            ll_new = float(cls._loglik(new, data))

        def objective(p: np.ndarray, loglik: float) -> float:
            return -loglik + pen * n_total * float(p @ p)

        # near the optimum the gain, ½·gᵀ·step, is below the sum's rounding: judge the step
        # by the gradient it leaves, within a rounding tolerance on the log-likelihood
        f_old = objective(params, ll)
        if not (np.isfinite(ll_new) and objective(new, ll_new) <= f_old + 1e-12 * abs(f_old)):
            return params, ll, hess
        g_new = grad(new)
        if not np.max(np.abs(g_new * new)) <= np.max(np.abs(g * params)):
            return params, ll, hess
        with np.errstate(invalid="ignore"):
            hess_new = numeric_hessian(grad, new)
        return new, ll_new, hess_new if np.all(np.isfinite(hess_new)) else hess

    def _optimise(
        self, data: dict[str, Any], start: np.ndarray, quick: bool = False
    ) -> tuple[np.ndarray, float, bool, str] | None:
        """Minimise the mean negative log-likelihood from ``start`` (natural parameters).

        Returns ``(log_params, value, converged, message)`` or ``None`` when the start is not
        a finite point.
        """
        n_total = float(data["w"].sum())
        pen = float(self.penalizer)
        cls = type(self)
        x0 = np.log(np.clip(np.asarray(start, dtype=float), 1e-5, 1e5))
        if self._has_hessian:

            def fgh(u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
                th = np.exp(u)
                with np.errstate(all="ignore"):
                    ll, g, h = cls._loglik_grad_hess(th, data)
                data["_last"] = (th, ll, g, h)  # reused for the standard errors
                f = -ll / n_total + pen * float(th @ th)
                gu = (-g / n_total + 2 * pen * th) * th
                hu = -(np.outer(th, th) * h) / n_total + np.diag(
                    -g * th / n_total + 4 * pen * th**2
                )
                return f, gu, hu

            res = _newton(fgh, x0, tol=1e-7 if quick else 1e-9, finish_step=self._finish_step)
            if res is not None and res[2]:
                return res[:4]
            # fall back to L-BFGS-B from the same start

        def objective(logp: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(logp)
            with np.errstate(all="ignore"):
                ll, g = cls._loglik_grad(params, data)
            if not np.isfinite(ll) or not np.all(np.isfinite(g)):
                return 1e20, np.zeros_like(logp)
            f = -ll / n_total + pen * float(np.sum(params**2))
            return f, (-g / n_total + 2 * pen * params) * params

        r = optimize.minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * x0.size,
            options={"maxiter": 2000, "ftol": 1e-12 if quick else 1e-13, "gtol": 1e-8},
        )
        if not (np.isfinite(r.fun) and r.fun < 1e19):
            return None
        ok = bool(r.success)
        if not ok:
            # L-BFGS-B may stop on precision loss at an optimum; accept a small gradient
            gnorm = float(np.max(np.abs(r.jac))) if r.jac is not None else np.inf
            ok = gnorm < 1e-4
        msg = "" if ok else f"{r.message}; largest gradient {float(np.max(np.abs(r.jac))):.2g}"
        return r.x, float(r.fun), ok, msg

    def _se_from(self, hess_neg: np.ndarray) -> dict[str, float]:
        try:
            with np.errstate(invalid="ignore"):  # a negative variance: singular, so NaN
                se = np.sqrt(np.diag(np.linalg.inv(hess_neg)))
        except np.linalg.LinAlgError:
            se = np.full(hess_neg.shape[0], np.nan)
        return dict(zip(self._param_names, map(float, se), strict=True))

    def _penalised_gradient(
        self, data: dict[str, np.ndarray]
    ) -> Callable[[np.ndarray], np.ndarray]:
        """The gradient of the penalised negative log-likelihood (for Hessians and steps)."""
        cls = type(self)
        n_total = float(data["w"].sum())
        pen = float(self.penalizer)

        def grad(p: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                _, g = cls._loglik_grad(p, data)
            return -g + 2 * pen * n_total * p

        return grad

    def _standard_errors(self, params: np.ndarray, data: dict[str, np.ndarray]) -> dict[str, float]:
        grad = self._penalised_gradient(data)
        with np.errstate(invalid="ignore"):
            return self._se_from(numeric_hessian(grad, params))

    # -- results -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(summary) first."
            )

    @property
    def confidence_intervals_(self) -> pd.DataFrame:
        """95 % Wald intervals of the parameters."""
        self._check_fitted()
        s = self.summary
        return s[["lower 95%", "upper 95%"]]

    @property
    def summary(self) -> pd.DataFrame:
        """Parameter table: estimate, standard error and 95 % Wald interval."""
        self._check_fitted()
        coef = pd.Series(self.params_, name="coef")
        se = pd.Series(self.standard_errors_, name="se(coef)")
        out = pd.concat([coef, se], axis=1)
        out["lower 95%"] = out["coef"] - 1.96 * out["se(coef)"]
        out["upper 95%"] = out["coef"] + 1.96 * out["se(coef)"]
        out.index.name = "parameter"
        return out

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            p = ", ".join(f"{k}={v:.3g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({p}, log_likelihood={self.log_likelihood_:.1f})"
        return f"{type(self).__name__}(penalizer={self.penalizer!r})"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters, scikit-learn style."""
        return {"penalizer": self.penalizer}


def index_of(df: pd.DataFrame) -> pd.Index:
    """Customer labels for predictions: the ``customer_id`` column when present, else the index."""
    if "customer_id" in df.columns:
        return pd.Index(df["customer_id"].to_numpy(), name="customer_id")
    return df.index
