"""Customer lifetime value from a fitted purchase model and a spend model.

CLV is the discounted sum, over a horizon cut into steps, of the expected purchases in each
step times the expected margin per purchase:
``CLV_i = Σ_k [E_i(t_k) − E_i(t_{k−1})] · spend_i · margin_rate_i / (1 + d)^k``
(Fader, Hardie & Lee 2005b, section "CLV"; the stepwise discounting of ``lifetimes``'
``customer_lifetime_value``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

__all__ = ["customer_lifetime_value", "discounted_expected_purchases", "step_discount_rate"]


class PurchaseModel(Protocol):
    def expected_purchases(self, t: float, df: pd.DataFrame) -> pd.Series: ...


def step_discount_rate(annual_rate: float, step_days: float) -> float:
    """Discount rate of one step of ``step_days`` days from an annual rate."""
    if annual_rate <= -1:
        raise ValueError(f"discount rate must be > -1, got {annual_rate}")
    return float((1 + annual_rate) ** (step_days / 365.25) - 1)


def discounted_expected_purchases(
    model: PurchaseModel,
    summary: pd.DataFrame,
    *,
    horizon: float,
    step: float,
    discount_rate: float,
) -> pd.Series:
    """Σ_k [E(t_k) − E(t_{k−1})] / (1+d)^k per customer.

    Parameters
    ----------
    model : fitted BetaGeoModel or ParetoNBDModel
        Anything with ``expected_purchases(t, summary)``.
    summary : pandas.DataFrame
        The summary table (``frequency``, ``recency``, ``T``) in the model's time unit.
    horizon : float
        Horizon in the model's time unit.
    step : float
        Length of one discounting step in the model's time unit (e.g. a month in weeks).
    discount_rate : float
        Discount rate per step.
    """
    if horizon <= 0 or step <= 0:
        raise ValueError("horizon and step must be > 0")
    n_steps = max(1, round(horizon / step))
    prev = np.zeros(len(summary))
    total = np.zeros(len(summary))
    index = None
    for k in range(1, n_steps + 1):
        e = model.expected_purchases(min(k * step, horizon), summary)
        index = e.index
        cur = e.to_numpy()
        total += (cur - prev) / (1 + discount_rate) ** k
        prev = cur
    return pd.Series(total, index=index, name="discounted_purchases")


def customer_lifetime_value(
    model: PurchaseModel,
    summary: pd.DataFrame,
    spend: pd.Series | np.ndarray,
    *,
    horizon: float,
    step: float,
    discount_rate: float,
    margin_rate: pd.Series | np.ndarray | float = 1.0,
) -> pd.Series:
    """Discounted CLV per customer over ``horizon`` (model time units).

    Parameters
    ----------
    model : fitted purchase model
        ``BetaGeoModel`` or ``ParetoNBDModel``.
    summary : pandas.DataFrame
        Summary table in the model's time unit.
    spend : Series or array
        Expected spend per transaction (``GammaGammaModel.expected_spend``).
    horizon, step : float
        Horizon and discounting step in the model's time unit.
    discount_rate : float
        Discount rate per step (see :func:`step_discount_rate`).
    margin_rate : float or array, default=1.0
        Margin as a share of spend; 1 gives a revenue-based CLV.

    Returns
    -------
    pandas.Series
        ``clv`` indexed like the model's predictions (by customer id).
    """
    disc = discounted_expected_purchases(
        model, summary, horizon=horizon, step=step, discount_rate=discount_rate
    )
    value = disc.to_numpy() * np.asarray(spend, dtype=float) * np.asarray(margin_rate, dtype=float)
    return pd.Series(value, index=disc.index, name="clv")
