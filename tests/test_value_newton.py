"""The model fits' Newton method: its unevaluated last step, and the BLAS thread limit."""

from __future__ import annotations

import numpy as np
import pytest

from segmentum.value.models._base import FINISHED, _newton, one_blas_thread


def _problem() -> tuple[list[int], object]:
    """A smooth convex function of 5 log-parameters (optimum at log c) counting its calls."""
    c = np.array([0.5, 2.0, 3.0, 0.2, 1.5])
    calls = [0]

    def fgh(u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        calls[0] += 1
        e = np.exp(u)
        f = float(np.sum(e - c * u) + 0.1 * np.sum(u) ** 2)
        g = e - c + 0.2 * np.sum(u)
        h = np.diag(e) + 0.2
        return f, g, h

    return calls, fgh


def test_the_last_newton_step_is_taken_without_evaluating_it() -> None:
    calls, fgh = _problem()
    plain = _newton(fgh, np.zeros(5), tol=1e-12)  # type: ignore[arg-type]
    n_plain = calls[0]
    calls[0] = 0
    fast = _newton(fgh, np.zeros(5), tol=1e-12, finish_step=1e-5)  # type: ignore[arg-type]
    assert plain is not None and fast is not None
    assert fast[3] == FINISHED and fast[2]
    assert calls[0] == n_plain - 1  # one evaluation fewer
    np.testing.assert_allclose(fast[0], plain[0], atol=1e-10)
    assert fast[1] == pytest.approx(plain[1], abs=1e-12)  # the quadratic model's f


def test_fits_run_with_one_blas_thread() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with one_blas_thread():
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
