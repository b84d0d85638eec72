"""The planted economics of the demo market, in expectation, and the value ranking they imply.

:func:`planted_economics` turns the buying parameters of :mod:`segmentum.demo._spec` into
each segment's expected revenue, margin, cost-to-serve, profit and CLV per customer over the
three-year window, its revenue growth (the last year against the year before, as the
valuation stage measures it) and our brand's competitiveness on its defining needs. Nothing
here draws random numbers or reads generated data: every figure is an expectation over the
planted distributions, computed on a daily grid.

The model behind it is the generator's. A customer starts on day 0 (signed up before the
window) or on a later day (new customers arrive with density proportional to
``exp(NEW_CUSTOMER_TREND * years)``, and nobody before turning 18); lifetime is exponential
with a Gamma-distributed hazard, so a customer is still active ``d`` days after the start
with probability ``(1 + mean_hazard * d / (365.25 * shape)) ** -shape``, where holders of
the home bundle have the lower mean hazard (``spec.bundle_hazard_scale``): every figure is
the mix of the holders' and the others' expectations. While active, a
customer pays premiums on ``1 + min(Poisson, 3)`` vehicles, perhaps a roadside subscription
and a home policy (some added after an exponential delay), all rising at each renewal, and
buys add-ons as a Poisson process; costs follow the insurer's rules (per payment, per support
contact, per transaction by channel, plus the acquisition cost). :func:`value_ranking` pushes
these numbers through :func:`segmentum.valuation.priority.prioritise` with the default
:class:`~segmentum.valuation.priority.ValuationConfig` weights, the function the valuation
stage ranks fitted segments with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from segmentum.demo import _spec as spec
from segmentum.demo._survey import RATING_HALO_SD, RATING_NOISE_SD

__all__ = ["N_DAYS", "planted_competitiveness", "planted_economics", "value_ranking"]

DAYS_PER_YEAR = 365.25
N_DAYS = 1096
"""Days in the demo's three-year window (2022-07-01 to 2025-06-30 and the analysis date)."""
CLV_HORIZON_DAYS = 365
"""The value stage's default CLV horizon."""
CLV_DISCOUNT_RATE = 0.10
"""The value stage's default yearly discount rate."""

_AGES = np.arange(18, 91)


def _age_pmf(segment: int) -> np.ndarray:
    """P(age) over 18..90: the rounded normal, clipped at both ends like the generator."""
    edges = np.concatenate([[-np.inf], _AGES[:-1] + 0.5, [np.inf]])
    cdf = ndtr((edges - spec.AGE_MEAN[segment]) / spec.AGE_SD)
    return np.diff(cdf)


def _arrival_pmf(trend: float, n_days: int) -> np.ndarray:
    """P(a new customer's drawn arrival falls on day u), density ∝ exp(trend * years)."""
    rate = trend / DAYS_PER_YEAR
    t = np.arange(n_days + 1, dtype=float)
    cdf = t / n_days if abs(rate) < 1e-12 else np.expm1(rate * t) / np.expm1(rate * n_days)
    return np.diff(cdf)


def _start_pmf(segment: int, n_days: int) -> tuple[float, np.ndarray]:
    """Tenured share (active from day 0, renewals counted from the window start) and P(new
    customer starts on day u), averaged over the age distribution."""
    p_ten = float(spec.P_TENURED[segment])
    arrival = _arrival_pmf(float(spec.NEW_CUSTOMER_TREND[segment]), n_days)
    cum = np.cumsum(arrival)
    tenured = 0.0
    new = np.zeros(n_days)
    days = np.arange(n_days)
    for age, p in zip(_AGES, _age_pmf(segment), strict=True):
        # the 18th birthday falls on a uniformly drawn day of the year
        earliest = np.clip(n_days - (age - 18) * 365 - np.arange(365), 0, n_days - 1)
        forced = earliest > 0
        tenured += p * p_ten * (1 - forced.mean())
        new += p * (1 - p_ten) * (1 - forced.mean()) * arrival
        for e in earliest[forced]:  # too young before: starts at max(arrival, earliest)
            shifted = np.where(days > e, arrival, 0.0)
            shifted[e] = cum[e]
            new += p / 365 * shifted
    return tenured, new


def _survival(segment: int, days: np.ndarray, home: bool | None = None) -> np.ndarray:
    """P(still active ``days`` after the start): exponential lifetime, Gamma hazard (of a
    holder of the home bundle or not; ``None``: the segment's mix of both)."""
    if home is None:
        p = float(spec.P_HOME[segment])
        return p * _survival(segment, days, True) + (1 - p) * _survival(segment, days, False)
    k = spec.LAPSE_SHAPE
    hazard = spec.LAPSE_HAZARD[segment] * float(spec.bundle_hazard_scale(segment, home))
    return (1.0 + hazard * days / (DAYS_PER_YEAR * k)) ** -k


def _yearly_amounts(segment: int, home_share: float | None = None) -> dict[str, float]:
    """Per active customer-year: premiums by line kind (``auto``; ``lines`` = roadside and
    home, some added later) and plan (``monthly``: 12 payments; ``annual``: one payment at
    the pay-in-full discount), their margins, add-on spend and margin, add-on purchases.
    ``home_share`` is the share holding the home bundle (default the segment's)."""
    s = segment
    p_home = float(spec.P_HOME[s]) if home_share is None else home_share
    veh = 1.0 + sum(min(j, 3) * _poisson(spec.EXTRA_VEHICLES[s], j) for j in range(60))
    m = float(spec.P_MONTHLY[s])
    line_lift = np.exp(spec.LINE_PRICE_SD**2 / 2)
    auto = veh * spec.PREMIUM[s] * np.exp(spec.RISK_SD**2 / 2)
    home = p_home * spec.HOME_PREMIUM * line_lift
    road = spec.P_ROADSIDE[s] * spec.ROADSIDE_PREMIUM * line_lift  # always monthly
    annual = (1 - m) * spec.ANNUAL_PAYMENT_FACTOR
    addon = spec.ADDON_RATE[s] * (spec.ADDON_PROB[s] @ spec.ADDON_PRICE)
    addon *= np.exp(spec.ADDON_PRICE_SD**2 / 2)
    return {
        "auto_monthly": m * auto,
        "auto_annual": annual * auto,
        "lines_monthly": m * home + road,
        "lines_annual": annual * home,
        "auto_monthly_margin": m * auto * spec.PREMIUM_MARGIN[s],
        "auto_annual_margin": annual * auto * spec.PREMIUM_MARGIN[s],
        "lines_monthly_margin": m * home * spec.HOME_MARGIN + road * spec.ROADSIDE_MARGIN,
        "lines_annual_margin": annual * home * spec.HOME_MARGIN,
        "auto_monthly_payments": m * veh * 12,
        "auto_annual_payments": (1 - m) * veh,
        "lines_monthly_payments": (m * p_home + spec.P_ROADSIDE[s]) * 12,
        "lines_annual_payments": (1 - m) * p_home,
        "addon": float(addon),
        "addon_margin": float(addon * spec.ADDON_MARGIN),
        "addon_payments": float(spec.ADDON_RATE[s]),
    }


def _poisson(mean: float, j: int) -> float:
    return float(np.exp(-mean + j * np.log(mean) - np.sum(np.log(np.arange(1, j + 1)))))


def _comb(total: int, every: float) -> np.ndarray:
    """1 on the days of a billing calendar (day 0, then every ``every`` days), else 0."""
    out = np.zeros(total)
    out[np.rint(np.arange(0, total, every)).astype(np.int64).clip(0, total - 1)] = 1.0
    return out


def _segment_curves(segment: int, n_days: int) -> dict[str, np.ndarray]:
    """Expected amount, margin, payments, support contacts and P(active) per customer on
    every day of the window and of the CLV horizon after it (days ``n_days ..``): the mix
    of the home-bundle holders' curves (who lapse less, ``spec.BUNDLE_HAZARD_FACTOR``) and
    the others'."""
    start = _start_pmf(segment, n_days)
    p = float(spec.P_HOME[segment])
    held = _holder_curves(segment, n_days, start, True)
    rest = _holder_curves(segment, n_days, start, False)
    return {k: p * held[k] + (1 - p) * rest[k] for k in held}


def _holder_curves(
    segment: int, n_days: int, start: tuple[float, np.ndarray], home: bool
) -> dict[str, np.ndarray]:
    """:func:`_segment_curves` for the holders of the home bundle (``home``) or the others.

    New customers pay in advance on their own billing calendar from their start (monthly or
    yearly), so their payments are a comb in the days since the start; tenured customers'
    anniversaries are spread evenly, so theirs are a flat rate."""
    total = n_days + CLV_HORIZON_DAYS
    d = np.arange(total, dtype=float)
    surv = _survival(segment, d, home)
    y = _yearly_amounts(segment, 1.0 if home else 0.0)
    # lines added later join after an exponential delay
    held = {
        "auto": np.ones(total),
        "lines": (1 - spec.LATER_LINE_SHARE)
        + spec.LATER_LINE_SHARE * (1 - np.exp(-d / spec.LATER_LINE_DELAY_DAYS)),
    }
    # renewals: new customers at each anniversary of their start; tenured ones renew on a
    # uniformly spread anniversary, so on average t / 365 renewals by day t
    lift_new = spec.RENEWAL_INCREASE ** np.floor(d / 365.0)
    lift_ten = spec.RENEWAL_INCREASE ** (d / 365.0)
    comb = {"monthly": _comb(total, DAYS_PER_YEAR / 12) / 12, "annual": _comb(total, 365.25)}
    tenured, new = start
    new = np.concatenate([new, np.zeros(CLV_HORIZON_DAYS)])
    out: dict[str, np.ndarray] = {}
    for suffix, name in (("", "amount"), ("_margin", "margin"), ("_payments", "payments")):
        lift = (lift_new, lift_ten) if name != "payments" else (1.0, 1.0)
        k_new = np.full(total, y["addon" + suffix] / DAYS_PER_YEAR)
        k_ten = k_new.copy()
        for kind in ("auto", "lines"):
            for plan in ("monthly", "annual"):
                a = y[f"{kind}_{plan}{suffix}"]
                k_new = k_new + a * held[kind] * lift[0] * comb[plan]
                k_ten = k_ten + a * held[kind] * lift[1] / DAYS_PER_YEAR
        out[name] = tenured * surv * k_ten + np.convolve(new, surv * k_new)[:total]
    support = spec.SUPPORT_RATE[segment] / DAYS_PER_YEAR
    out["support"] = support * (tenured * surv + np.convolve(new, surv)[:total])
    out["active"] = tenured * surv + np.convolve(new, surv)[:total]
    return out


def _expected_rating(mean: np.ndarray) -> np.ndarray:
    """E[rating] of a latent mean: normal noise (halo and item), rounded, clipped to 1..5."""
    sd = float(np.hypot(RATING_HALO_SD, RATING_NOISE_SD))
    lo, hi = spec.RATING_SCALE
    levels = np.arange(lo, hi + 1, dtype=float)
    upper = np.append(levels[:-1] + 0.5, np.inf)
    lower = np.insert(levels[1:] - 0.5, 0, -np.inf)
    m = np.asarray(mean, dtype=float)[..., None]
    p = ndtr((upper - m) / sd) - ndtr((lower - m) / sd)
    return (p * levels).sum(axis=-1)


def planted_competitiveness(our_brand: str = spec.OUR_BRAND, n_needs: int = 5) -> pd.Series:
    """Our brand's expected rating minus the best competitor's, on each segment's defining
    needs, as rated by the segment's members (rating points; positive means we lead).

    Parameters
    ----------
    our_brand : str, default=:data:`~segmentum.demo._spec.OUR_BRAND`
    n_needs : int, default=5
        Defining needs per segment (the valuation stage's default).

    Returns
    -------
    pandas.Series
        Indexed by segment name.
    """
    ours = spec.BRANDS.index(our_brand)
    means = spec.brand_means()
    top = spec.defining_needs(n_needs)
    out = {}
    for s, name in enumerate(spec.SEGMENT_NAMES):
        cols = [spec.NEED_COLUMNS.index(n) for n in top[name]]
        rating = _expected_rating(means[:, cols] + spec.BRAND_HALO[s][:, None]).mean(axis=1)
        out[name] = float(rating[ours] - np.delete(rating, ours).max())
    return pd.Series(out, name="competitiveness")


def planted_economics(n_days: int = N_DAYS) -> pd.DataFrame:
    """Each planted segment's expected economics per customer over the window.

    Parameters
    ----------
    n_days : int, default=:data:`N_DAYS`
        Length of the window in days.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment name (order of :data:`~segmentum.demo._spec.SEGMENT_NAMES`):
        ``population_share``; the planted drivers ``lapse_hazard`` (mean yearly),
        ``new_customer_trend``, ``addon_rate`` (one-off purchases per active year),
        ``support_rate`` (contacts per active year); and the expectations per customer
        ``active_at_end``, ``payments_per_head``, ``revenue_per_head``, ``margin_per_head``,
        ``cost_to_serve_per_head``, ``profit_per_head``, ``clv_per_head`` (discounted margin
        over the next year, the value stage's default horizon and rate), ``growth`` (revenue
        of the window's last 365 days over the 365 before, minus 1) and
        ``competitiveness`` (:func:`planted_competitiveness`).
    """
    channel_cost = np.array([spec.CHANNEL_COSTS[c] for c in spec.CHANNELS])
    acq = np.array([spec.ACQUISITION_COST[c] for c in spec.ACQUISITION_CHANNELS])
    acq_lift = np.exp(spec.ACQUISITION_COST_SD**2 / 2)
    disc = (1 + CLV_DISCOUNT_RATE) ** -(np.arange(1, CLV_HORIZON_DAYS + 1) / DAYS_PER_YEAR)
    last, before = slice(n_days - 365, n_days), slice(n_days - 730, n_days - 365)
    comp = planted_competitiveness()
    rows = []
    for s, name in enumerate(spec.SEGMENT_NAMES):
        c = _segment_curves(s, n_days)
        window = slice(0, n_days)
        payments = c["payments"][window].sum()
        cost = (
            payments * (spec.COST_PER_PAYMENT + spec.PURCHASE_CHANNEL_PROB[s] @ channel_cost)
            + c["support"][window].sum() * spec.COST_PER_SUPPORT_CONTACT
            + spec.ACQUISITION_PROB[s] @ acq * acq_lift
        )
        margin = c["margin"][window].sum()
        rows.append(
            {
                "segment": name,
                "population_share": float(spec.SEGMENT_SHARES[s]),
                "lapse_hazard": float(spec.LAPSE_HAZARD[s]),
                "new_customer_trend": float(spec.NEW_CUSTOMER_TREND[s]),
                "addon_rate": float(spec.ADDON_RATE[s]),
                "support_rate": float(spec.SUPPORT_RATE[s]),
                "active_at_end": float(c["active"][n_days - 1]),
                "payments_per_head": float(payments),
                "revenue_per_head": float(c["amount"][window].sum()),
                "margin_per_head": float(margin),
                "cost_to_serve_per_head": float(cost),
                "profit_per_head": float(margin - cost),
                "clv_per_head": float(c["margin"][n_days:] @ disc),
                "growth": float(c["amount"][last].sum() / c["amount"][before].sum() - 1),
                "competitiveness": comp[name],
            }
        )
    return pd.DataFrame(rows).set_index("segment")


def value_ranking(economics: pd.DataFrame | None = None) -> list[str]:
    """Planted segment names, most attractive first, under the default valuation weights.

    The planted economics go through the valuation stage's own ranking
    (:func:`~segmentum.valuation.priority.prioritise` with the default
    :class:`~segmentum.valuation.priority.ValuationConfig` and ``our_brand`` = the demo
    insurer's brand): knock-outs, criteria rescaled to 0..1 across segments, weighted sum.

    Parameters
    ----------
    economics : pandas.DataFrame, optional
        :func:`planted_economics`'s table (computed when not given).

    Returns
    -------
    list of str
    """
    return list(priority_table(economics).index)


def priority_table(economics: pd.DataFrame | None = None) -> pd.DataFrame:
    """The valuation stage's priority table for the planted economics, by segment name,
    first-ranked first (``rank``, ``score``, ``attractiveness``, ``competitiveness``, …)."""
    from segmentum.valuation.priority import ValuationConfig, prioritise

    econ = planted_economics() if economics is None else economics
    frame = econ.reset_index(drop=True)
    frame.index.name = "segment"
    cfg = ValuationConfig(our_brand=spec.OUR_BRAND, n_draws=0)
    table = prioritise(frame, cfg, frame[["competitiveness"]]).table
    table.index = pd.Index([econ.index[int(i)] for i in table.index], name="segment")
    return table


def truth_economics() -> dict[str, Any]:
    """``truth.json``'s ``value_ranking`` and ``economics`` (plain numbers)."""
    econ = planted_economics()
    table = priority_table(econ)
    per = {
        name: {
            **{k: round(float(v), 4) for k, v in econ.loc[name].items()},
            "rank": int(table.loc[name, "rank"]),
            "score": round(float(table.loc[name, "score"]), 4),
        }
        for name in econ.index
    }
    return {"value_ranking": list(table.index), "economics": per, "our_brand": spec.OUR_BRAND}
