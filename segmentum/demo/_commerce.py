"""Customers, transactions and lifecycle events of the demo market (vectorised draws).

Each customer holds recurring lines (one auto policy per vehicle, optionally a roadside
subscription and a home policy in a bundle) billed monthly or annually on the signup day
of month, and buys one-off add-ons as a Poisson process. Each customer lapses after an
exponential lifetime whose hazard is Gamma-distributed within the segment (Pareto/NBD
style dropout) and halved for holders of the home bundle (the planted covariate effect,
``spec.BUNDLE_HAZARD_FACTOR``; the customers table's ``home_bundle`` says who holds it);
after the lapse nothing more is billed or bought, and a cancellation event is logged. Support contacts, visits and quotes follow segment-specific rates and channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentum.demo import _spec as spec
from segmentum.demo._frames import str_column
from segmentum.demo._survey import draw_categorical

DAYS_PER_YEAR = 365.25
PRODUCTS: tuple[str, ...] = ("auto_policy", "roadside", "home_bundle", *spec.ADDON_PRODUCTS)
EVENT_TYPES: tuple[str, ...] = ("visit", "quote", "purchase", "support", "cancellation")
_AUTO, _ROADSIDE, _HOME = 0, 1, 2
_ACQ_TO_CHANNEL = np.array(
    [spec.CHANNELS.index(c) for c in ("agent", "web", "app", "web", "phone")]
)


@dataclass(frozen=True)
class Book:
    """Per-customer latent state shared by the transaction and event generators.

    Attributes
    ----------
    segment : numpy.ndarray
        Planted segment code.
    start : numpy.ndarray
        First active day inside the window (0 = window start).
    end : numpy.ndarray
        Last active day inside the window (lapse day or the window's last day).
    lapsed : numpy.ndarray
        Whether the customer lapsed inside the window.
    new : numpy.ndarray
        Whether the customer signed up inside the window.
    signup : numpy.ndarray
        Signup day relative to the window start (negative for tenured customers).
    monthly : numpy.ndarray
        Whether premiums are paid monthly (else annually).
    n_vehicles : numpy.ndarray
        Number of insured vehicles.
    acquisition : numpy.ndarray
        Acquisition channel code.
    pay_channel : numpy.ndarray
        Preferred channel for payments and purchases (code into ``spec.CHANNELS``).
    home : numpy.ndarray
        Whether the customer's plan includes the home policy (the bundle); drawn before the
        lifetime, whose hazard it scales (``spec.bundle_hazard_scale``).
    age, gender, region : numpy.ndarray
        Demographics (codes into ``spec.GENDERS`` and ``spec.REGIONS``).
    """

    segment: np.ndarray
    start: np.ndarray
    end: np.ndarray
    lapsed: np.ndarray
    new: np.ndarray
    signup: np.ndarray
    monthly: np.ndarray
    n_vehicles: np.ndarray
    acquisition: np.ndarray
    pay_channel: np.ndarray
    home: np.ndarray
    age: np.ndarray
    gender: np.ndarray
    region: np.ndarray


def covariate_truth() -> dict[str, Any]:
    """``truth.json``'s ``covariate_effect``: the planted effect of the home bundle on lapsing.

    A holder's hazard is ``BUNDLE_HAZARD_FACTOR`` times a non-holder's of the same segment,
    so in the Pareto/NBD with dropout covariates (the segment and ``home_bundle``;
    ``β_i = β₀·exp(−γᵀz_i)``, mean dropout rate ``s/β_i``) the coefficient of
    ``home_bundle`` is ``log(BUNDLE_HAZARD_FACTOR)``, and the Gamma shape ``s`` is
    ``LAPSE_SHAPE``.
    """
    return {
        "covariate_effect": {
            "table": "customers",
            "covariate": "home_bundle",
            "process": "dropout",
            "hazard_factor": spec.BUNDLE_HAZARD_FACTOR,
            "coef": float(np.log(spec.BUNDLE_HAZARD_FACTOR)),
            "model": "pareto_nbd",
            "with_covariates": ["segment", "home_bundle"],
            "dropout_shape": spec.LAPSE_SHAPE,
        }
    }


def _by_segment(rng: np.random.Generator, segment: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Draw one category per row from its segment's distribution (loop over segments)."""
    out = np.empty(segment.size, dtype=np.int64)
    for s in range(prob.shape[0]):
        rows = np.flatnonzero(segment == s)
        out[rows] = rng.choice(prob.shape[1], size=rows.size, p=prob[s])
    return out


def tilted_days(u: np.ndarray, trend: np.ndarray, n_days: int) -> np.ndarray:
    """Arrival day in ``[0, n_days)`` with density proportional to ``exp(trend * years)``.

    Parameters
    ----------
    u : numpy.ndarray
        Uniform draws on ``[0, 1)`` (inverted through the density's distribution function).
    trend : numpy.ndarray
        Yearly log-growth of the arrival rate per row (0 = uniform arrivals).
    n_days : int
        Length of the window in days.

    Returns
    -------
    numpy.ndarray of int64
        The day (floor of the continuous arrival time).
    """
    rate = np.asarray(trend, dtype=float) / DAYS_PER_YEAR
    flat = np.abs(rate) < 1e-12
    safe = np.where(flat, 1e-9, rate)
    t = np.where(flat, u * n_days, np.log1p(u * np.expm1(safe * n_days)) / safe)
    return np.clip(np.floor(t), 0, n_days - 1).astype(np.int64)


def make_book(
    rng: np.random.Generator,
    segment: np.ndarray,
    n_days: int,
    linked_descriptors: dict[str, np.ndarray],
) -> Book:
    """Draw each customer's demographics, tenure, lifetime, plan, vehicles and channels.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    segment : numpy.ndarray of shape (n,)
        Planted segment code of each customer.
    n_days : int
        Length of the observation window in days.
    linked_descriptors : dict of str to numpy.ndarray
        ``age``, ``gender``, ``region`` codes of linked respondents (aligned with customers;
        ``-1`` where not linked), copied so that linked rows agree with the survey.

    Returns
    -------
    Book
        The latent per-customer state.
    """
    n = segment.size
    age = np.clip(np.rint(rng.normal(spec.AGE_MEAN[segment], spec.AGE_SD)), 18, 90)
    gender = draw_categorical(rng, spec.GENDER_PROB[segment])
    region = draw_categorical(rng, spec.REGION_PROB[segment])
    linked = linked_descriptors["age"] >= 0
    age = np.where(linked, linked_descriptors["age"], age).astype(np.int64)
    gender = np.where(linked, linked_descriptors["gender"], gender)
    region = np.where(linked, linked_descriptors["region"], region)

    # Nobody signs up before turning 18 (age is as of the analysis date; the birthday falls
    # on any day of the year).
    birthday = rng.integers(0, 365, n)
    earliest = np.clip(n_days - (age - 18) * 365 - birthday, 0, n_days - 1)
    new = (rng.random(n) >= spec.P_TENURED[segment]) | (earliest > 0)
    arrival = tilted_days(rng.random(n), spec.NEW_CUSTOMER_TREND[segment], n_days)
    start = np.where(new, np.maximum(arrival, earliest), 0)
    # Tenure before the window: up to 15 years, and never before the customer turned 18.
    max_tenure = np.maximum((age - 18) * 365 - n_days, 0)
    tenure_days = np.minimum(rng.exponential(4.0 * DAYS_PER_YEAR, n), 15 * DAYS_PER_YEAR)
    tenure_days = np.minimum(tenure_days, max_tenure)
    signup = np.where(new, start, -1 - tenure_days.astype(np.int64))
    # the bundle first: holding it lowers the lapse hazard (the planted covariate effect);
    # drawn from a child stream so that every other draw of the customer stream stays put
    home_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    home = home_rng.random(n) < spec.P_HOME[segment]
    hazard = rng.gamma(spec.LAPSE_SHAPE, spec.LAPSE_HAZARD[segment] / spec.LAPSE_SHAPE)
    hazard = hazard * spec.bundle_hazard_scale(segment, home)
    lifetime = rng.exponential(1.0, n) / np.maximum(hazard, 1e-6) * DAYS_PER_YEAR
    lapse_day = start + np.minimum(lifetime, 10 * n_days).astype(np.int64)
    lapsed = lapse_day < n_days
    end = np.minimum(lapse_day, n_days - 1)
    monthly = rng.random(n) < spec.P_MONTHLY[segment]
    n_vehicles = 1 + np.minimum(rng.poisson(spec.EXTRA_VEHICLES[segment]), 3)
    acquisition = _by_segment(rng, segment, spec.ACQUISITION_PROB)
    pay_channel = _by_segment(rng, segment, spec.PURCHASE_CHANNEL_PROB)
    return Book(
        segment=segment,
        start=start,
        end=end,
        lapsed=lapsed,
        new=new,
        signup=signup,
        monthly=monthly,
        n_vehicles=n_vehicles,
        acquisition=acquisition,
        pay_channel=pay_channel,
        home=home,
        age=age,
        gender=gender,
        region=region,
    )


def make_customers(
    rng: np.random.Generator,
    book: Book,
    window_start: pd.Timestamp,
    customer_ids: np.ndarray,
    respondent_link: np.ndarray,
) -> pd.DataFrame:
    """Customers frame: ids, signup, demographics, acquisition and cost drivers.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    book : Book
        Latent per-customer state.
    window_start : pandas.Timestamp
        First day of the observation window.
    customer_ids : numpy.ndarray of object
        Customer id strings.
    respondent_link : numpy.ndarray of object
        Linked respondent id per customer, or None.

    Returns
    -------
    pandas.DataFrame
        One row per customer.
    """
    seg = book.segment
    n = seg.size
    age, gender, region = book.age, book.gender, book.region
    acq_cost_base = np.array([spec.ACQUISITION_COST[c] for c in spec.ACQUISITION_CHANNELS])
    acq_cost = np.round(
        acq_cost_base[book.acquisition] * np.exp(rng.normal(0.0, spec.ACQUISITION_COST_SD, n)), 2
    )
    years = (book.end - book.start + 1) / DAYS_PER_YEAR
    claims = rng.poisson(spec.CLAIM_RATE[seg] * book.n_vehicles * years)
    signup_date = window_start + pd.to_timedelta(book.signup, unit="D")
    return pd.DataFrame(
        {
            "customer_id": str_column(customer_ids),
            "respondent_id": str_column(respondent_link),
            "signup_date": signup_date.astype("datetime64[ns]"),
            "age": age,
            "gender": str_column(np.array(spec.GENDERS, dtype=object), gender),
            "region": str_column(np.array(spec.REGIONS, dtype=object), region),
            "acquisition_channel": str_column(
                np.array(spec.ACQUISITION_CHANNELS, dtype=object), book.acquisition
            ),
            "acquisition_cost": acq_cost,
            "payment_plan": str_column(
                np.array(["annual", "monthly"], dtype=object), book.monthly.astype(np.int64)
            ),
            "n_vehicles": book.n_vehicles.astype(np.int64),
            "home_bundle": book.home.astype(bool),
            "claims_3y": claims.astype(np.int64),
        }
    )


def _recurring(
    rng: np.random.Generator, book: Book, window_start: pd.Timestamp
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Premium payments of every recurring line inside the window.

    Returns
    -------
    rows : dict of str to numpy.ndarray
        Payment rows: ``customer``, ``day``, ``amount``, ``margin``, ``product`` (codes).
    added_owner, added_day : numpy.ndarray
        Customer and day of each subscription line added after the customer's start inside
        the window (logged as purchase events).
    """
    seg = book.segment
    n = seg.size
    # Lines: vehicles, roadside subscription, home policy.
    roadside = rng.random(n) < spec.P_ROADSIDE[seg]
    home = book.home
    rng.random(n)  # where the bundle used to be drawn: the draws after it stay aligned
    owner = np.concatenate(
        [np.repeat(np.arange(n), book.n_vehicles), np.flatnonzero(roadside), np.flatnonzero(home)]
    )
    product = np.concatenate(
        [
            np.full(book.n_vehicles.sum(), _AUTO),
            np.full(roadside.sum(), _ROADSIDE),
            np.full(home.sum(), _HOME),
        ]
    )
    n_lines = owner.size
    # Some subscriptions are added later (an add-on purchase inside the window, after an
    # exponential delay; a line due after the customer's lapse is never added).
    later = (product != _AUTO) & (rng.random(n_lines) < spec.LATER_LINE_SHARE)
    delay = np.where(later, rng.exponential(spec.LATER_LINE_DELAY_DAYS, n_lines), 0)
    line_start = book.start[owner] + delay.astype(np.int64)

    risk = np.exp(rng.normal(0.0, spec.RISK_SD, n))
    annual = np.where(
        product == _AUTO,
        spec.PREMIUM[seg[owner]] * risk[owner],
        np.where(product == _HOME, spec.HOME_PREMIUM, spec.ROADSIDE_PREMIUM)
        * np.exp(rng.normal(0.0, spec.LINE_PRICE_SD, n_lines)),
    )
    margin_rate = np.select(
        [product == _AUTO, product == _HOME],
        [spec.PREMIUM_MARGIN[seg[owner]], np.full(n_lines, spec.HOME_MARGIN)],
        spec.ROADSIDE_MARGIN,
    ) + rng.normal(0.0, 0.03, n_lines)

    # Billing calendar: on the signup day of month (capped at 28), every 1 or 12 months.
    w0 = np.datetime64(window_start.date(), "D")
    anchor = w0 + book.signup[owner]
    m0 = anchor.astype("datetime64[M]").astype(np.int64)
    dom = np.minimum((anchor - anchor.astype("datetime64[M]")).astype(np.int64) + 1, 28)
    # Roadside is a monthly subscription whatever the premium plan.
    line_monthly = book.monthly[owner] | (product == _ROADSIDE)
    period = np.where(line_monthly, 1, 12)

    def month_day(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        date = w0 + day
        month = date.astype("datetime64[M]")
        return month.astype(np.int64), (date - month).astype(np.int64) + 1

    lo_m, lo_d = month_day(np.maximum(line_start, 0))
    hi_m, hi_d = month_day(book.end[owner])
    first_m = np.where(dom >= lo_d, lo_m, lo_m + 1)
    last_m = np.where(dom <= hi_d, hi_m, hi_m - 1)
    k1 = -((m0 - first_m) // period)  # ceil((first_m - m0) / period)
    k2 = (last_m - m0) // period
    count = np.maximum(k2 - k1 + 1, 0)

    row_line = np.repeat(np.arange(n_lines), count)
    offsets = np.repeat(np.cumsum(count) - count, count)
    k = k1[row_line] + np.arange(row_line.size) - offsets
    month = m0[row_line] + k * period[row_line]
    date = month.astype("datetime64[M]").astype("datetime64[D]") + (dom[row_line] - 1)
    day = (date - w0).astype(np.int64)
    # Premiums rise about 5 % at each renewal seen inside the window.
    renewals = (month - m0[row_line]) // 12 - (first_m[row_line] - m0[row_line]) // 12
    monthly = line_monthly[row_line]
    lift = spec.RENEWAL_INCREASE ** np.maximum(renewals, 0)
    amount = annual[row_line] * np.where(monthly, 1 / 12, spec.ANNUAL_PAYMENT_FACTOR) * lift
    margin = amount * (margin_rate[row_line] + rng.normal(0.0, 0.02, row_line.size))
    rows = {
        "customer": owner[row_line],
        "day": day,
        "amount": amount,
        "margin": margin,
        "product": product[row_line],
    }
    added_owner = owner[later & (line_start <= book.end[owner])]
    added_day = line_start[later & (line_start <= book.end[owner])]
    return rows, added_owner, added_day


def _addons(rng: np.random.Generator, book: Book) -> dict[str, np.ndarray]:
    """One-off add-on purchases: a Poisson process per customer while active."""
    seg = book.segment
    rate = rng.gamma(spec.ADDON_SHAPE, spec.ADDON_RATE[seg] / spec.ADDON_SHAPE)
    span = book.end - book.start + 1
    count = rng.poisson(rate * span / DAYS_PER_YEAR)
    customer = np.repeat(np.arange(seg.size), count)
    day = book.start[customer] + (rng.random(customer.size) * span[customer]).astype(np.int64)
    addon = _by_segment(rng, seg[customer], spec.ADDON_PROB)
    amount = spec.ADDON_PRICE[addon] * np.exp(rng.normal(0.0, spec.ADDON_PRICE_SD, customer.size))
    margin = amount * (spec.ADDON_MARGIN + rng.normal(0.0, 0.08, customer.size))
    return {
        "customer": customer,
        "day": day,
        "amount": amount,
        "margin": margin,
        "product": addon + 3,
    }


def _row_channels(rng: np.random.Generator, book: Book, customer: np.ndarray) -> np.ndarray:
    """Payment/purchase channel per row: mostly the customer's preferred one."""
    other = _by_segment(rng, book.segment[customer], spec.PURCHASE_CHANNEL_PROB)
    keep = rng.random(customer.size) < 0.85
    return np.where(keep, book.pay_channel[customer], other)


_Events = list[tuple[np.ndarray, np.ndarray, int, np.ndarray]]
"""Event parts: (customer codes, days, event type code, channel codes)."""


def _transactions_frame(
    tx: dict[str, np.ndarray], customer_ids: np.ndarray, w0: np.datetime64
) -> pd.DataFrame:
    """The transactions table from the (sorted) payment and add-on rows."""
    return pd.DataFrame(
        {
            "customer_id": str_column(customer_ids, tx["customer"]),
            "date": (w0 + tx["day"]).astype("datetime64[ns]"),
            "amount": np.round(tx["amount"], 2),
            "margin": np.round(tx["margin"], 2),
            "channel": str_column(np.array(spec.CHANNELS, dtype=object), tx["channel"]),
            "product": str_column(np.array(PRODUCTS, dtype=object), tx["product"]),
        }
    )


def _purchase_events(
    rng: np.random.Generator,
    book: Book,
    tx: dict[str, np.ndarray],
    added_owner: np.ndarray,
    added_day: np.ndarray,
) -> _Events:
    """Purchases (new policies, add-ons, later-added lines) and the quotes before them."""
    seg = book.segment
    new_c = np.flatnonzero(book.new)
    is_addon = tx["product"] >= 3
    p_cust = np.concatenate([new_c, tx["customer"][is_addon], added_owner])
    p_day = np.concatenate([book.start[new_c], tx["day"][is_addon], added_day])
    p_chan = np.concatenate(
        [
            _ACQ_TO_CHANNEL[book.acquisition[new_c]],
            tx["channel"][is_addon],
            _row_channels(rng, book, added_owner),
        ]
    )
    # quotes before each purchase (comparison shoppers quote more)
    first_policy = np.arange(p_cust.size) < new_c.size
    n_quotes = rng.poisson(spec.QUOTES_PER_PURCHASE[seg[p_cust]]) + first_policy
    q_cust = np.repeat(p_cust, n_quotes)
    q_day = np.repeat(p_day, n_quotes) - rng.integers(1, 15, q_cust.size)
    q_cust, q_day = q_cust[q_day >= 0], q_day[q_day >= 0]
    return [
        (p_cust, p_day, EVENT_TYPES.index("purchase"), p_chan),
        (q_cust, q_day, EVENT_TYPES.index("quote"), _row_channels(rng, book, q_cust)),
    ]


def _activity_events(rng: np.random.Generator, book: Book) -> _Events:
    """Visits to web or app, support contacts (cost to serve) and cancellations at lapse."""
    seg = book.segment
    n = seg.size
    span = book.end - book.start + 1
    years = span / DAYS_PER_YEAR

    def spread(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cust = np.repeat(np.arange(n), count)
        return cust, book.start[cust] + (rng.random(cust.size) * span[cust]).astype(np.int64)

    v_cust, v_day = spread(rng.poisson(spec.VISIT_RATE[seg] * years))
    web_app = (
        spec.PURCHASE_CHANNEL_PROB[:, 1:3] / spec.PURCHASE_CHANNEL_PROB[:, 1:3].sum(axis=1)[:, None]
    )
    v_chan = 1 + _by_segment(rng, seg[v_cust], web_app)
    s_rate = rng.gamma(spec.SUPPORT_SHAPE, spec.SUPPORT_RATE[seg] / spec.SUPPORT_SHAPE)
    s_cust, s_day = spread(rng.poisson(s_rate * years))
    s_chan = _by_segment(rng, seg[s_cust], spec.SUPPORT_CHANNEL_PROB)
    c_cust = np.flatnonzero(book.lapsed)
    c_chan = _by_segment(rng, seg[c_cust], spec.SUPPORT_CHANNEL_PROB)
    return [
        (v_cust, v_day, EVENT_TYPES.index("visit"), v_chan),
        (s_cust, s_day, EVENT_TYPES.index("support"), s_chan),
        (c_cust, book.end[c_cust], EVENT_TYPES.index("cancellation"), c_chan),
    ]


def _events_frame(
    rng: np.random.Generator, parts: _Events, customer_ids: np.ndarray, w0: np.datetime64
) -> pd.DataFrame:
    """The events table: a time of day per event (cancellations end the day), sorted."""
    e_cust = np.concatenate([p[0] for p in parts])
    e_day = np.concatenate([p[1] for p in parts])
    e_type = np.concatenate([np.full(p[0].size, p[2]) for p in parts])
    e_chan = np.concatenate([p[3] for p in parts])
    seconds = rng.integers(7 * 3600, 22 * 3600, e_cust.size)
    seconds = np.where(e_type == EVENT_TYPES.index("cancellation"), 23 * 3600, seconds)
    stamp = e_day * 86_400 + seconds
    order = np.argsort(e_cust * (10**9) + stamp, kind="stable")
    return pd.DataFrame(
        {
            "customer_id": str_column(customer_ids, e_cust[order]),
            "timestamp": (w0.astype("datetime64[s]") + stamp[order]).astype("datetime64[ns]"),
            "event_type": str_column(np.array(EVENT_TYPES, dtype=object), e_type[order]),
            "channel": str_column(np.array(spec.CHANNELS, dtype=object), e_chan[order]),
        }
    )


def make_transactions_and_events(
    rng: np.random.Generator,
    book: Book,
    window_start: pd.Timestamp,
    customer_ids: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transactions (premiums and add-ons) and lifecycle events.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    book : Book
        Latent per-customer state.
    window_start : pandas.Timestamp
        First day of the observation window.
    customer_ids : numpy.ndarray of object
        Customer id strings (position = customer code).

    Returns
    -------
    transactions : pandas.DataFrame
        ``customer_id``, ``date``, ``amount``, ``margin``, ``channel``, ``product``; sorted by
        customer and date.
    events : pandas.DataFrame
        ``customer_id``, ``timestamp``, ``event_type``, ``channel``; sorted by customer and
        time.
    """
    rec, added_owner, added_day = _recurring(rng, book, window_start)
    add = _addons(rng, book)
    tx = {key: np.concatenate([rec[key], add[key]]) for key in rec}
    tx["channel"] = _row_channels(rng, book, tx["customer"])
    order = np.argsort(tx["customer"] * 100_000 + tx["day"], kind="stable")
    tx = {key: value[order] for key, value in tx.items()}
    w0 = np.datetime64(window_start.date(), "D")
    parts = _purchase_events(rng, book, tx, added_owner, added_day) + _activity_events(rng, book)
    return _transactions_frame(tx, customer_ids, w0), _events_frame(rng, parts, customer_ids, w0)
