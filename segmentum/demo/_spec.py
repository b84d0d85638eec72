"""The planted design of the demo auto-insurance market.

Everything the generator plants lives here as plain data: the segments and their shares,
the need items and how strongly each segment cares about them, the behaviours, the
descriptors, the competitor brands' positionings, the 'I wish' templates and the buying
parameters. The generator in :mod:`segmentum.demo.market` only turns this design into
random draws, so the truth that tests check against is readable in one place.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

import numpy as np

# ---------------------------------------------------------------------------------------------
# segments
# ---------------------------------------------------------------------------------------------
SEGMENT_NAMES: Final[tuple[str, ...]] = (
    "online_self_service",
    "price_driven",
    "agent_loyal",
    "coverage_maximiser",
    "bundler",
    "worried_high_risk",
)
"""Planted segments, largest first (the first four come from seed 000's example)."""

SEGMENT_SHARES: Final[np.ndarray] = np.array([0.28, 0.22, 0.18, 0.14, 0.10, 0.08])
"""Planted population share of each segment, in the order of :data:`SEGMENT_NAMES`."""

SEGMENT_DESCRIPTIONS: Final = MappingProxyType(
    {
        "online_self_service": "Handle everything online or in the app, no human contact.",
        "price_driven": "All about price: the absolute lowest premium, shop around every year.",
        "agent_loyal": "Value a personal, community relationship with a local agent.",
        "coverage_maximiser": "Want the fullest protection and low deductibles; pay for peace of mind.",
        "bundler": "Put home, car and family on one provider, one bill, one discount.",
        "worried_high_risk": "Poor driving records, worried they might not qualify for cover.",
    }
)

# ---------------------------------------------------------------------------------------------
# need items (7-point Likert: 1 = not at all important ... 7 = extremely important)
# ---------------------------------------------------------------------------------------------
NEED_COLUMNS: Final[tuple[str, ...]] = (
    # relationship with an agent
    "need_personal_agent",
    "need_face_to_face_advice",
    "need_agent_knows_me",
    "need_local_office",
    # digital self-service
    "need_manage_online",
    "need_mobile_app",
    "need_instant_online_quote",
    "need_no_phone_calls",
    "need_fast_claims_payout",
    # price
    "need_lowest_premium",
    "need_compare_prices",
    "need_discounts",
    "need_minimum_cover_ok",
    # worried about qualifying
    "need_accept_poor_record",
    "need_no_judgement",
    "need_second_chance",
    "need_flexible_payments",
    # coverage
    "need_full_coverage",
    "need_low_deductible",
    "need_new_car_replacement",
    "need_rental_car",
    # bundling
    "need_bundle_home_auto",
    "need_multi_policy_discount",
    "need_one_bill",
    # common to all (important to everyone, separate nobody)
    "need_reliable_claims",
    "need_clear_terms",
    "need_financial_strength",
    # noise (nobody is defined by them)
    "need_eco_friendly",
    "need_brand_reputation",
)

WHITE_SPACE_NEED: Final[str] = "need_fast_claims_payout"
"""The planted white space: important to a large segment, served well by no competitor."""

COMMON_NEEDS: Final[tuple[str, ...]] = (
    "need_reliable_claims",
    "need_clear_terms",
    "need_financial_strength",
)
NOISE_NEEDS: Final[tuple[str, ...]] = ("need_eco_friendly", "need_brand_reputation")

# Population level of each item on the latent scale (0 = scale midpoint 4).
NEED_BASE: Final = MappingProxyType(
    {
        **{need: 0.0 for need in NEED_COLUMNS},
        **{need: 1.7 for need in COMMON_NEEDS},
        "need_fast_claims_payout": 0.6,
        "need_eco_friendly": -0.3,
        "need_brand_reputation": 0.3,
    }
)

# How much each segment departs from the population on each item (latent scale points).
# The positive entries, strongest first, are the segment's defining needs.
NEED_BOOSTS: Final = MappingProxyType(
    {
        "online_self_service": {
            "need_manage_online": 2.6,
            "need_mobile_app": 2.4,
            "need_fast_claims_payout": 2.2,
            "need_instant_online_quote": 2.0,
            "need_no_phone_calls": 1.9,
            "need_personal_agent": -1.5,
            "need_face_to_face_advice": -1.4,
            "need_local_office": -1.2,
            "need_agent_knows_me": -1.0,
        },
        "price_driven": {
            "need_lowest_premium": 2.7,
            "need_compare_prices": 2.4,
            "need_minimum_cover_ok": 2.1,
            "need_discounts": 1.9,
            "need_instant_online_quote": 0.9,
            "need_full_coverage": -1.4,
            "need_low_deductible": -1.1,
            "need_new_car_replacement": -1.2,
            "need_brand_reputation": -0.5,
        },
        "agent_loyal": {
            "need_personal_agent": 2.7,
            "need_face_to_face_advice": 2.4,
            "need_agent_knows_me": 2.3,
            "need_local_office": 2.1,
            "need_financial_strength": 0.9,
            "need_manage_online": -1.3,
            "need_mobile_app": -1.4,
            "need_no_phone_calls": -1.5,
            "need_instant_online_quote": -0.9,
        },
        "coverage_maximiser": {
            "need_full_coverage": 2.6,
            "need_low_deductible": 2.3,
            "need_new_car_replacement": 2.2,
            "need_rental_car": 2.0,
            "need_fast_claims_payout": 1.6,
            "need_minimum_cover_ok": -1.8,
            "need_lowest_premium": -1.0,
        },
        "bundler": {
            "need_bundle_home_auto": 2.8,
            "need_multi_policy_discount": 2.5,
            "need_one_bill": 2.3,
            "need_discounts": 1.2,
            "need_rental_car": 0.9,
            "need_minimum_cover_ok": -0.6,
        },
        "worried_high_risk": {
            "need_accept_poor_record": 2.9,
            "need_no_judgement": 2.6,
            "need_second_chance": 2.4,
            "need_flexible_payments": 2.2,
            "need_clear_terms": 0.8,
            "need_eco_friendly": -0.4,
        },
    }
)


def planted_means() -> np.ndarray:
    """Latent mean of every need item in every segment.

    Returns
    -------
    numpy.ndarray of shape (n_segments, n_needs)
        Base level plus segment boost, on the latent scale centred at the Likert midpoint.
    """
    base = np.array([NEED_BASE[need] for need in NEED_COLUMNS])
    means = np.tile(base, (len(SEGMENT_NAMES), 1))
    for s, name in enumerate(SEGMENT_NAMES):
        for need, boost in NEED_BOOSTS[name].items():
            means[s, NEED_COLUMNS.index(need)] += boost
    return means


def defining_needs(top: int = 5) -> dict[str, list[str]]:
    """Each segment's planted defining needs, strongest first.

    A need's strength for a segment is its planted latent mean in the segment minus the
    share-weighted mean of the other segments, so a need every segment cares about defines
    nobody.

    Parameters
    ----------
    top : int, default=5
        How many needs to return per segment.

    Returns
    -------
    dict of str to list of str
        Segment name to need column names.
    """
    means = planted_means()
    out: dict[str, list[str]] = {}
    for s, name in enumerate(SEGMENT_NAMES):
        others = np.delete(np.arange(len(SEGMENT_NAMES)), s)
        w = SEGMENT_SHARES[others] / SEGMENT_SHARES[others].sum()
        lift = means[s] - w @ means[others]
        order = np.argsort(-lift, kind="stable")[:top]
        out[name] = [NEED_COLUMNS[j] for j in order]
    return out


# ---------------------------------------------------------------------------------------------
# behaviours (binary) and descriptors
# ---------------------------------------------------------------------------------------------
BEHAVIOUR_COLUMNS: Final[tuple[str, ...]] = (
    "beh_bought_online",
    "beh_has_agent",
    "beh_compared_quotes",
    "beh_filed_claim_3y",
    "beh_multi_policy",
    "beh_switched_last_year",
)
# P(behaviour = 1 | segment); rows follow SEGMENT_NAMES, columns BEHAVIOUR_COLUMNS.
BEHAVIOUR_PROB: Final[np.ndarray] = np.array(
    [
        [0.85, 0.08, 0.55, 0.18, 0.25, 0.20],
        [0.60, 0.15, 0.90, 0.17, 0.15, 0.45],
        [0.10, 0.85, 0.25, 0.20, 0.45, 0.05],
        [0.35, 0.55, 0.30, 0.30, 0.40, 0.08],
        [0.40, 0.50, 0.35, 0.20, 0.90, 0.06],
        [0.35, 0.40, 0.60, 0.45, 0.10, 0.30],
    ]
)

DESCRIPTOR_COLUMNS: Final[tuple[str, ...]] = ("age", "gender", "region", "income_band", "household")
AGE_MEAN: Final[np.ndarray] = np.array([35.0, 40.0, 56.0, 48.0, 45.0, 31.0])
AGE_SD: Final[float] = 12.0

GENDERS: Final[tuple[str, ...]] = ("female", "male", "other")
GENDER_PROB: Final[np.ndarray] = np.array(
    [
        [0.47, 0.51, 0.02],
        [0.50, 0.49, 0.01],
        [0.55, 0.44, 0.01],
        [0.53, 0.46, 0.01],
        [0.51, 0.48, 0.01],
        [0.37, 0.62, 0.01],
    ]
)
REGIONS: Final[tuple[str, ...]] = ("Northeast", "Midwest", "South", "West")
REGION_PROB: Final[np.ndarray] = np.array(
    [
        [0.20, 0.18, 0.30, 0.32],
        [0.16, 0.22, 0.42, 0.20],
        [0.15, 0.33, 0.38, 0.14],
        [0.24, 0.22, 0.32, 0.22],
        [0.20, 0.26, 0.34, 0.20],
        [0.16, 0.20, 0.44, 0.20],
    ]
)
INCOME_BANDS: Final[tuple[str, ...]] = (
    "under_35k",
    "35k_60k",
    "60k_100k",
    "100k_150k",
    "150k_plus",
)
INCOME_PROB: Final[np.ndarray] = np.array(
    [
        [0.12, 0.22, 0.33, 0.22, 0.11],
        [0.30, 0.32, 0.24, 0.10, 0.04],
        [0.13, 0.24, 0.32, 0.20, 0.11],
        [0.06, 0.16, 0.30, 0.28, 0.20],
        [0.07, 0.18, 0.34, 0.26, 0.15],
        [0.32, 0.32, 0.23, 0.09, 0.04],
    ]
)
HOUSEHOLDS: Final[tuple[str, ...]] = ("single", "couple", "family", "retired")
HOUSEHOLD_PROB: Final[np.ndarray] = np.array(
    [
        [0.38, 0.30, 0.27, 0.05],
        [0.36, 0.26, 0.30, 0.08],
        [0.14, 0.28, 0.28, 0.30],
        [0.15, 0.30, 0.38, 0.17],
        [0.08, 0.28, 0.54, 0.10],
        [0.46, 0.24, 0.25, 0.05],
    ]
)

# ---------------------------------------------------------------------------------------------
# competitors: mean rating (1..5) of how well each brand serves each need
# ---------------------------------------------------------------------------------------------
BRANDS: Final[tuple[str, ...]] = ("Acme Mutual", "QuickQuote", "Shield Direct")
"""Agent-led incumbent, online insurer, discounter (which also takes high-risk drivers)."""

_BRAND_DEFAULT: Final[float] = 2.8
BRAND_STRENGTHS: Final = MappingProxyType(
    {
        "Acme Mutual": {
            "need_personal_agent": 4.4,
            "need_face_to_face_advice": 4.3,
            "need_agent_knows_me": 4.2,
            "need_local_office": 4.4,
            "need_full_coverage": 4.1,
            "need_low_deductible": 3.8,
            "need_new_car_replacement": 3.9,
            "need_rental_car": 3.8,
            "need_bundle_home_auto": 4.2,
            "need_multi_policy_discount": 3.9,
            "need_one_bill": 3.8,
            "need_reliable_claims": 3.9,
            "need_financial_strength": 4.3,
            "need_brand_reputation": 4.1,
            "need_manage_online": 2.3,
            "need_mobile_app": 2.1,
            "need_no_phone_calls": 1.9,
            "need_lowest_premium": 2.0,
            "need_accept_poor_record": 2.1,
        },
        "QuickQuote": {
            "need_manage_online": 4.4,
            "need_mobile_app": 4.5,
            "need_instant_online_quote": 4.4,
            "need_no_phone_calls": 4.2,
            "need_clear_terms": 3.9,
            "need_eco_friendly": 3.7,
            "need_compare_prices": 3.6,
            "need_reliable_claims": 3.4,
            "need_personal_agent": 1.6,
            "need_face_to_face_advice": 1.5,
            "need_local_office": 1.4,
            "need_agent_knows_me": 1.8,
        },
        "Shield Direct": {
            "need_lowest_premium": 4.4,
            "need_compare_prices": 4.0,
            "need_discounts": 4.1,
            "need_minimum_cover_ok": 4.3,
            "need_accept_poor_record": 4.0,
            "need_no_judgement": 3.7,
            "need_second_chance": 3.8,
            "need_flexible_payments": 4.1,
            "need_instant_online_quote": 3.6,
            "need_full_coverage": 2.0,
            "need_low_deductible": 2.1,
            "need_financial_strength": 2.4,
            "need_brand_reputation": 2.2,
        },
    }
)
# Nobody serves the white space well.
_WHITE_SPACE_RATING: Final = MappingProxyType(
    {"Acme Mutual": 2.1, "QuickQuote": 2.3, "Shield Direct": 1.7}
)

# Segment-specific halo: how much a segment's members like each brand overall.
BRAND_HALO: Final[np.ndarray] = np.array(
    [
        [-0.3, 0.5, 0.0],
        [-0.3, 0.1, 0.4],
        [0.5, -0.4, -0.2],
        [0.3, 0.0, -0.4],
        [0.3, 0.0, -0.1],
        [-0.3, -0.1, 0.3],
    ]
)


def brand_means() -> np.ndarray:
    """Planted mean rating of every brand on every need.

    Returns
    -------
    numpy.ndarray of shape (n_brands, n_needs)
        Ratings on the 1..5 scale before respondent noise.
    """
    out = np.full((len(BRANDS), len(NEED_COLUMNS)), _BRAND_DEFAULT)
    for b, brand in enumerate(BRANDS):
        for need, value in BRAND_STRENGTHS[brand].items():
            out[b, NEED_COLUMNS.index(need)] = value
        out[b, NEED_COLUMNS.index(WHITE_SPACE_NEED)] = _WHITE_SPACE_RATING[brand]
    return out


# ---------------------------------------------------------------------------------------------
# 'I wish ...' open text
# ---------------------------------------------------------------------------------------------
WISH_TEMPLATES: Final = MappingProxyType(
    {
        "online_self_service": (
            "I could do everything in the app without ever calling anyone",
            "claims were paid out within a day, straight from my phone",
            "I could get an online quote in two minutes flat",
            "changing my policy online took effect instantly",
            "nobody phoned me to upsell extras",
            "all my documents were online in one place",
            "the app let me file a claim with a few photos",
        ),
        "price_driven": (
            "my premium was the cheapest I could find anywhere",
            "there were bigger discounts for safe drivers",
            "comparing prices between insurers was easier",
            "the renewal price didn't creep up every single year",
            "I could drop the extras I never use and pay less",
            "they would just match the lowest quote I found",
            "cheap cover didn't mean paying admin fees",
        ),
        "agent_loyal": (
            "my agent knew me and my family by name",
            "I could sit down with someone local and talk through my cover",
            "there was a real person in town to call when something goes wrong",
            "my agent checked in with me every year",
            "the local office in my town stayed open",
            "I could get advice face to face instead of from a website",
            "the same agent looked after us for years",
        ),
        "coverage_maximiser": (
            "my policy covered absolutely everything",
            "the deductible was a lot lower",
            "I would get a brand-new car if mine was written off",
            "a rental car came automatically with every claim",
            "claims were paid quickly and in full",
            "I never had to worry about being underinsured",
            "the top tier of cover included roadside and glass",
        ),
        "bundler": (
            "I could put my home and car on one policy",
            "I got a bigger discount for bundling home and auto",
            "everything came on one bill",
            "one company handled all of our family's insurance",
            "adding home cover was as easy as adding a second car",
            "all my policies renewed on the same date",
            "the multi-policy discount was actually worth it",
        ),
        "worried_high_risk": (
            "insurers wouldn't turn me down because of one bad year",
            "my driving record didn't follow me forever",
            "someone told me up front whether I even qualify",
            "I wasn't judged for a couple of old tickets",
            "I could spread the payments when money is tight",
            "there was a second chance for drivers like me",
            "an accident years ago didn't double my price",
        ),
    }
)
GENERIC_WISHES: Final[tuple[str, ...]] = (
    "the paperwork was simpler",
    "insurance was less confusing",
    "customer service answered faster",
    "the terms were written in plain English",
    "I understood what I am actually paying for",
    "they rewarded loyalty for once",
    "claims didn't take months to settle",
    "there were no hidden fees",
)
WISH_OPENERS: Final[tuple[str, ...]] = (
    "I wish",
    "I wish",
    "I really wish",
    "Honestly, I wish",
    "I just wish",
    "I wish that",
    "Mostly I wish",
)
WISH_SUFFIXES: Final[tuple[str, ...]] = (
    "",
    "",
    "",
    ", especially at renewal time",
    " without all the usual hassle",
    ", to be honest",
    " - that would make a big difference",
    ", like other companies promise",
    " for a change",
)

# ---------------------------------------------------------------------------------------------
# customers, transactions and events (rows follow SEGMENT_NAMES)
# ---------------------------------------------------------------------------------------------
ACQUISITION_CHANNELS: Final[tuple[str, ...]] = ("agent", "web", "app", "comparison_site", "phone")
ACQUISITION_PROB: Final[np.ndarray] = np.array(
    [
        [0.03, 0.45, 0.35, 0.15, 0.02],
        [0.05, 0.20, 0.08, 0.62, 0.05],
        [0.78, 0.05, 0.01, 0.04, 0.12],
        [0.45, 0.25, 0.05, 0.10, 0.15],
        [0.45, 0.25, 0.08, 0.10, 0.12],
        [0.30, 0.15, 0.05, 0.25, 0.25],
    ]
)
ACQUISITION_COST: Final = MappingProxyType(
    {"agent": 320.0, "web": 110.0, "app": 80.0, "comparison_site": 190.0, "phone": 150.0}
)

CHANNELS: Final[tuple[str, ...]] = ("agent", "web", "app", "phone")
# Channel of payments and purchases, P(channel | segment).
PURCHASE_CHANNEL_PROB: Final[np.ndarray] = np.array(
    [
        [0.01, 0.39, 0.58, 0.02],
        [0.04, 0.70, 0.20, 0.06],
        [0.80, 0.06, 0.02, 0.12],
        [0.45, 0.30, 0.10, 0.15],
        [0.45, 0.30, 0.12, 0.13],
        [0.25, 0.25, 0.10, 0.40],
    ]
)
# Channel of support contacts and cancellations.
SUPPORT_CHANNEL_PROB: Final[np.ndarray] = np.array(
    [
        [0.01, 0.44, 0.50, 0.05],
        [0.03, 0.50, 0.17, 0.30],
        [0.75, 0.03, 0.01, 0.21],
        [0.40, 0.20, 0.10, 0.30],
        [0.40, 0.25, 0.10, 0.25],
        [0.25, 0.10, 0.05, 0.60],
    ]
)
# P(customer signed up before the three-year window)
P_TENURED: Final[np.ndarray] = np.array([0.50, 0.60, 0.88, 0.75, 0.85, 0.55])
# P(pays premiums monthly; else annually)
P_MONTHLY: Final[np.ndarray] = np.array([0.82, 0.85, 0.48, 0.58, 0.64, 0.92])
# Extra vehicles beyond the first: Poisson mean
EXTRA_VEHICLES: Final[np.ndarray] = np.array([0.65, 0.50, 0.80, 0.95, 1.25, 0.45])
# Median annual premium per vehicle
PREMIUM: Final[np.ndarray] = np.array([1150.0, 820.0, 1400.0, 1900.0, 1300.0, 2300.0])
# Margin as a share of premium (after claims and commission)
PREMIUM_MARGIN: Final[np.ndarray] = np.array([0.13, 0.05, 0.10, 0.15, 0.14, 0.06])
# P(holds a monthly roadside subscription) and P(holds a home policy in a bundle)
P_ROADSIDE: Final[np.ndarray] = np.array([0.50, 0.20, 0.60, 0.88, 0.70, 0.35])
P_HOME: Final[np.ndarray] = np.array([0.10, 0.05, 0.30, 0.30, 0.92, 0.05])
# One-off add-on purchases per active year (Gamma-distributed individual rate, this mean)
ADDON_RATE: Final[np.ndarray] = np.array([2.4, 0.6, 1.4, 4.0, 2.8, 1.0])
ADDON_SHAPE: Final[float] = 1.5
ADDON_PRODUCTS: Final[tuple[str, ...]] = (
    "glass_cover",
    "rental_cover",
    "travel_cover",
    "gap_cover",
    "accident_forgiveness",
)
ADDON_PROB: Final[np.ndarray] = np.array(
    [
        [0.35, 0.20, 0.30, 0.10, 0.05],
        [0.50, 0.10, 0.20, 0.05, 0.15],
        [0.35, 0.30, 0.20, 0.10, 0.05],
        [0.20, 0.30, 0.15, 0.30, 0.05],
        [0.30, 0.30, 0.25, 0.10, 0.05],
        [0.20, 0.10, 0.05, 0.05, 0.60],
    ]
)
ADDON_PRICE: Final[np.ndarray] = np.array([60.0, 45.0, 35.0, 120.0, 90.0])
ADDON_MARGIN: Final[float] = 0.35
HOME_PREMIUM: Final[float] = 1100.0
HOME_MARGIN: Final[float] = 0.16
ROADSIDE_PREMIUM: Final[float] = 96.0
ROADSIDE_MARGIN: Final[float] = 0.40
# Yearly lapse hazard (mean of a Gamma-distributed individual hazard)
LAPSE_HAZARD: Final[np.ndarray] = np.array([0.16, 0.32, 0.05, 0.07, 0.04, 0.24])
LAPSE_SHAPE: Final[float] = 2.0
BUNDLE_HAZARD_FACTOR: Final[float] = 0.5
"""Planted covariate effect: a customer holding the home bundle lapses at this multiple of
the hazard of a customer of the same segment without it. Each segment's hazards are scaled
so that its mean stays ``LAPSE_HAZARD``; the ratio is the Pareto/NBD dropout coefficient
``log(BUNDLE_HAZARD_FACTOR)`` (``truth.json``'s ``covariate_effect``)."""


def bundle_hazard_scale(segment: np.ndarray | int, home: np.ndarray | bool) -> np.ndarray:
    """Multiplier of a customer's lapse hazard: ``BUNDLE_HAZARD_FACTOR`` for home-bundle
    holders, 1 otherwise, over the segment's mean of it (so the mean hazard stays put)."""
    mean = 1.0 - P_HOME[segment] + P_HOME[segment] * BUNDLE_HAZARD_FACTOR
    return np.where(home, BUNDLE_HAZARD_FACTOR, 1.0) / mean


# Events per active year
VISIT_RATE: Final[np.ndarray] = np.array([14.0, 9.0, 1.5, 4.0, 4.0, 5.0])
SUPPORT_RATE: Final[np.ndarray] = np.array([0.6, 1.0, 2.2, 1.8, 1.4, 5.5])
QUOTES_PER_PURCHASE: Final[np.ndarray] = np.array([0.8, 3.0, 0.3, 1.0, 0.7, 2.0])
CLAIM_RATE: Final[np.ndarray] = np.array([0.07, 0.06, 0.07, 0.10, 0.07, 0.18])

# ---------------------------------------------------------------------------------------------
# planted economics: growth, renewals, the insurer's cost rules and its own brand
# ---------------------------------------------------------------------------------------------
NEW_CUSTOMER_TREND: Final[np.ndarray] = np.array([0.9, 0.0, -1.2, 0.5, 0.3, -0.4])
"""Yearly log-growth of each segment's inflow of new customers: new customers' start days are
drawn from a density proportional to ``exp(trend * years since the window start)``, so the
digital self-servers arrive ever faster and new agent-loyal customers dry up. Together with
the lapse hazards this is each segment's planted revenue growth (see
:func:`segmentum.demo._economics.planted_economics`)."""
RENEWAL_INCREASE: Final[float] = 1.05
"""Premiums rise by this factor at each renewal seen inside the window."""
ANNUAL_PAYMENT_FACTOR: Final[float] = 0.95
"""An annual payment is this share of twelve monthly ones (pay-in-full discount)."""
LATER_LINE_SHARE: Final[float] = 0.3
"""Share of roadside and home lines added after the customer's start (add-on purchases)."""
LATER_LINE_DELAY_DAYS: Final[float] = 365.0
"""Mean delay (exponential) from a customer's start to a later-added line."""
RISK_SD: Final[float] = 0.25
"""Log-sd of a customer's individual risk loading on the auto premium."""
LINE_PRICE_SD: Final[float] = 0.15
"""Log-sd of home and roadside prices between customers."""
ADDON_PRICE_SD: Final[float] = 0.3
"""Log-sd of add-on prices."""
ACQUISITION_COST_SD: Final[float] = 0.3
"""Log-sd of a customer's acquisition cost around the channel's cost."""
SUPPORT_SHAPE: Final[float] = 2.0
"""Gamma shape of the individual support-contact rate (mean ``SUPPORT_RATE``)."""

# The demo insurer's cost-to-serve rules (its [value.cost] table): handling per payment, per
# support contact, and per transaction by channel (agents cost most, the app least).
COST_PER_PAYMENT: Final[float] = 1.0
COST_PER_SUPPORT_CONTACT: Final[float] = 12.0
CHANNEL_COSTS: Final = MappingProxyType({"agent": 6.0, "phone": 3.0, "web": 0.5, "app": 0.3})

OUR_BRAND: Final[str] = "Acme Mutual"
"""The demo insurer's own brand among the rated ones (the project's ``[valuation] our_brand``):
an agent-led incumbent, strong on agents, coverage and bundles, weak online."""

SURVEY_SCALE: Final[tuple[int, int]] = (1, 7)
"""Answer scale of the need items (7-point Likert)."""
RATING_SCALE: Final[tuple[int, int]] = (1, 5)
"""Scale of the competitor ratings."""
