"""Offers and a response history of the demo insurer, with planted acceptance rates.

Six offers, each eligible in some lifecycle stages. Every customer was shown some of the
offers eligible in their stage over the two years before the last contact period
(``EXPOSURES_PER_CUSTOMER`` on average; a few customers also in the last period, so the
contact policy has someone to hold back) and accepted each with the planted rate of their
segment x stage x offer: ``BASE_RATE[segment, offer] x STAGE_FACTOR[stage][offer]``.

The stage logged with each response is the customer's stage at the analysis date as the
lifecycle rules read the generator's own book (P(alive) 0.95 while the policy runs, 0.05
after it lapsed), so the logged stages are close to, but not, what the pipeline finds (a
simplification: a CRM logs the stage on the day it showed the offer).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from segmentum.activation.lifecycle import lifecycle_stage
from segmentum.demo import _spec as spec
from segmentum.demo._frames import str_column

OFFERS: Final[tuple[tuple[str, str, float, float, str], ...]] = (
    # offer id, product, value of an acceptance, cost of making it, eligible stages
    ("roadside_addon", "roadside", 90.0, 3.0, "new;repeat;loyal"),
    ("home_bundle", "home_bundle", 260.0, 12.0, "repeat;loyal"),
    ("multi_vehicle", "auto_policy", 150.0, 6.0, "new;repeat;loyal"),
    ("loyalty_discount", "auto_policy", 120.0, 8.0, "loyal;lapsing"),
    ("winback", "auto_policy", 200.0, 20.0, "lapsing;lost"),
    ("first_policy", "auto_policy", 300.0, 25.0, "discovering;browsing;buying"),
)
"""The demo's offers table."""

# Rows follow spec.SEGMENT_NAMES, columns OFFERS. Each segment has a clear best offer in the
# loyal stage: self-service and worried drivers roadside, price-driven the loyalty discount,
# agent-loyal the second vehicle, coverage maximisers and bundlers the home bundle.
BASE_RATE: Final[np.ndarray] = np.array(
    [
        [0.12, 0.03, 0.04, 0.05, 0.12, 0.08],
        [0.06, 0.02, 0.05, 0.16, 0.18, 0.06],
        [0.05, 0.04, 0.11, 0.06, 0.10, 0.10],
        [0.06, 0.12, 0.05, 0.05, 0.11, 0.07],
        [0.05, 0.14, 0.06, 0.06, 0.13, 0.09],
        [0.13, 0.04, 0.04, 0.08, 0.14, 0.12],
    ]
)
STAGE_FACTOR: Final[dict[str, tuple[float, ...]]] = {
    "discovering": (0, 0, 0, 0, 0, 0.3),
    "browsing": (0, 0, 0, 0, 0, 0.6),
    "buying": (0, 0, 0, 0, 0, 1.0),
    "new": (1.2, 0, 1.3, 0, 0, 0),
    "repeat": (1.0, 0.8, 1.0, 0, 0, 0),
    "loyal": (1.0, 1.0, 1.0, 1.0, 0, 0),
    "lapsing": (0, 0, 0, 1.0, 1.0, 0),
    "lost": (0, 0, 0, 0, 0.7, 0),
}
EXPOSURES_PER_CUSTOMER: Final[float] = 8.0
RECENT_SHARE: Final[float] = 0.03
"""Share of customers also shown an offer in the last 30 days (held back by the policy)."""


def offers_table() -> pd.DataFrame:
    """The demo's offers: ``offer_id``, ``product``, ``value``, ``cost``, ``segments`` (empty:
    all), ``stages``."""
    ids, products, values, costs, stages = zip(*OFFERS, strict=True)
    return pd.DataFrame(
        {
            "offer_id": str_column(np.array(ids, dtype=object)),
            "product": str_column(np.array(products, dtype=object)),
            "value": np.array(values),
            "cost": np.array(costs),
            "segments": str_column(np.full(len(ids), "", dtype=object)),
            "stages": str_column(np.array(stages, dtype=object)),
        }
    )


def planted_rates() -> pd.DataFrame:
    """The planted acceptance rate of every segment x stage x eligible offer, and the
    expected value ``rate x value - cost``."""
    rows = []
    for s, seg in enumerate(spec.SEGMENT_NAMES):
        for stage, factors in STAGE_FACTOR.items():
            for o, (offer, _, value, cost, _) in enumerate(OFFERS):
                if factors[o] > 0:
                    rate = float(BASE_RATE[s, o] * factors[o])
                    rows.append((seg, stage, offer, rate, rate * value - cost))
    return pd.DataFrame(rows, columns=["segment", "stage", "offer", "rate", "expected_value"])


def _book_stages(
    customer_ids: np.ndarray,
    lapsed: np.ndarray,
    transactions: pd.DataFrame,
    events: pd.DataFrame,
    analysis_date: pd.Timestamp,
) -> np.ndarray:
    """Each customer's stage at the analysis date, by the default rules on the book."""
    tx = transactions.groupby("customer_id", observed=True)["date"].agg(["size", "min", "max"])
    alive = pd.Series(np.where(lapsed, 0.05, 0.95), index=customer_ids.astype(str))
    buyers = pd.DataFrame(
        {
            "customer_id": tx.index.astype(str),
            "n_transactions": tx["size"].to_numpy(),
            "first_purchase": tx["min"].to_numpy(),
            "last_purchase": tx["max"].to_numpy(),
        }
    )
    buyers["p_alive"] = buyers["customer_id"].map(alive).to_numpy()
    ev = events[["customer_id", "timestamp", "event_type"]].assign(
        customer_id=events["customer_id"].astype(str)
    )
    table = lifecycle_stage(
        buyers, analysis_date, events=ev, prospects=customer_ids.astype(str)
    ).set_index("customer_id")["stage"]
    return table.reindex(customer_ids.astype(str)).to_numpy(dtype=object)


def make_offers(
    rng: np.random.Generator,
    segment: np.ndarray,
    customer_ids: np.ndarray,
    lapsed: np.ndarray,
    transactions: pd.DataFrame,
    events: pd.DataFrame,
    analysis_date: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The offers table, the response history and the planted truth about them.

    Returns
    -------
    offers : pandas.DataFrame
        From :func:`offers_table`.
    responses : pandas.DataFrame
        ``customer_id``, ``timestamp``, ``offer_id``, ``accepted`` (bool), ``stage`` (logged).
    truth : dict
        ``acceptance`` (segment, stage, offer, rate) and ``best_offer`` (segment, stage,
        offer, expected_value), for ``truth.json``.
    """
    stage = _book_stages(customer_ids, lapsed, transactions, events, analysis_date)
    stage_names = list(STAGE_FACTOR)
    stage_code = pd.Index(stage_names).get_indexer(stage)
    factors = np.array([STAGE_FACTOR[s] for s in stage_names])  # stage x offer
    n = segment.size
    k = rng.poisson(EXPOSURES_PER_CUSTOMER, n)
    cust = np.repeat(np.arange(n), k)
    days_ago = rng.integers(31, 731, cust.size)
    recent = np.flatnonzero(rng.random(n) < RECENT_SHARE)
    cust = np.concatenate([cust, recent])
    days_ago = np.concatenate([days_ago, rng.integers(1, 30, recent.size)])
    # each exposure: one of the offers eligible in the customer's stage, uniformly
    eligible = factors[stage_code[cust]] > 0
    pick = np.argmax(eligible * rng.random(eligible.shape), axis=1)
    rate = BASE_RATE[segment[cust], pick] * factors[stage_code[cust], pick]
    accepted = rng.random(cust.size) < rate
    seconds = rng.integers(8 * 3600, 20 * 3600, cust.size)
    ts = analysis_date - pd.to_timedelta(days_ago, unit="D") + pd.to_timedelta(seconds, unit="s")
    offer_ids = np.array([o[0] for o in OFFERS], dtype=object)
    order = np.lexsort((ts.to_numpy(), cust))
    responses = pd.DataFrame(
        {
            "customer_id": str_column(customer_ids, cust[order]),
            "timestamp": ts.to_numpy()[order],
            "offer_id": str_column(offer_ids, pick[order]),
            "accepted": accepted[order],
            "stage": str_column(np.array(stage_names, dtype=object), stage_code[cust[order]]),
        }
    )
    rates = planted_rates()
    best = rates.sort_values("expected_value", ascending=False, kind="stable").drop_duplicates(
        ["segment", "stage"]
    )
    truth = {
        "acceptance": rates[["segment", "stage", "offer", "rate"]].to_dict("records"),
        "best_offer": best[best["expected_value"] > 0][
            ["segment", "stage", "offer", "expected_value"]
        ].to_dict("records"),
        "logged_stage": "the stage at the analysis date by the default rules on the book",
    }
    return offers_table(), responses, truth
