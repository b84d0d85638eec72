"""The demo auto-insurance market: generator, writer and column roles.

The market follows seed 000's example: an auto-insurance category where needs segments
(a local agent relationship, online self-service, lowest price, worried high-risk drivers,
coverage maximisers and bundlers) are planted in survey answers and drive how customers buy,
pay, call and lapse. The planted truth (segment per respondent and customer, the white-space
need) is returned beside the data so that tests can check the pipeline against it; the
pipeline itself never reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from segmentum.demo import _spec as spec
from segmentum.demo._commerce import (
    covariate_truth,
    make_book,
    make_customers,
    make_transactions_and_events,
)
from segmentum.demo._economics import truth_economics
from segmentum.demo._frames import str_column
from segmentum.demo._gtm import write_gtm
from segmentum.demo._offers import make_offers
from segmentum.demo._survey import make_competitor_ratings, make_survey

ANALYSIS_DATE: Final[pd.Timestamp] = pd.Timestamp("2025-07-01")
"""The 'as of' date: the data cover the three years before it."""

LINK_SHARE: Final[float] = 0.6
"""Share of respondents who are also customers (linked by ``customer_id``)."""

DATA_TABLES: Final[tuple[str, ...]] = (
    "survey",
    "customers",
    "transactions",
    "events",
    "competitor_ratings",
    "offers",
    "responses",
)

ROLES: Final = MappingProxyType(
    {
        "survey": {
            "id": "respondent_id",
            "customer_id": "customer_id",
            "weight": "weight",
            "basis": list(spec.NEED_COLUMNS),
            "behaviours": list(spec.BEHAVIOUR_COLUMNS),
            "descriptors": list(spec.DESCRIPTOR_COLUMNS),
            "text": "i_wish",
        },
        "customers": {
            "id": "customer_id",
            "respondent_id": "respondent_id",
            "signup_date": "signup_date",
            "channel": "acquisition_channel",
            "acquisition_cost": "acquisition_cost",
            "descriptors": ["age", "gender", "region", "payment_plan", "n_vehicles"],
            "cost_drivers": ["acquisition_cost", "claims_3y"],
        },
        "transactions": {
            "customer_id": "customer_id",
            "timestamp": "date",
            "amount": "amount",
            "margin": "margin",
            "channel": "channel",
            "product": "product",
        },
        "events": {
            "customer_id": "customer_id",
            "timestamp": "timestamp",
            "event_type": "event_type",
            "channel": "channel",
        },
        "competitor_ratings": {
            "respondent_id": "respondent_id",
            "brand": "brand",
            "need": "need",
            "rating": "rating",
        },
        "offers": {
            "id": "offer_id",
            "product": "product",
            "value": "value",
            "cost": "cost",
            "segments": "segments",
            "stages": "stages",
        },
        "responses": {
            "customer_id": "customer_id",
            "timestamp": "timestamp",
            "offer_id": "offer_id",
            "accepted": "accepted",
            "stage": "stage",
        },
    }
)
"""Column roles of every demo table, for the project file (read-only mapping)."""


@dataclass(frozen=True)
class Market:
    """A generated demo market: five data tables plus the planted truth.

    Attributes
    ----------
    survey : pandas.DataFrame
        One row per respondent: ids, weight, ``need_*`` items (1..7), ``beh_*`` (0/1),
        descriptors and the open ``i_wish`` sentence.
    customers : pandas.DataFrame
        One row per customer: ids, signup date, demographics, acquisition channel and cost
        drivers.
    transactions : pandas.DataFrame
        Premium payments and add-on purchases over the three years before
        ``analysis_date``.
    events : pandas.DataFrame
        Lifecycle events: visits, quotes, purchases, support contacts, cancellations.
    competitor_ratings : pandas.DataFrame
        Long table: each respondent's 1..5 rating of how well each brand serves each need.
    truth : pandas.DataFrame
        Planted segment of every respondent and every customer (``respondent_id``,
        ``customer_id``, ``segment``). Never an input to the pipeline.
    white_space_need : str
        Column name of the planted white-space need.
    analysis_date : pandas.Timestamp
        The 'as of' date; every date in the tables is before or on it.
    seed : int
        Seed the market was generated from.
    offers : pandas.DataFrame
        The insurer's offers (value, cost, eligible stages).
    responses : pandas.DataFrame
        Offers shown to customers and whether they accepted, with the logged stage.
    offer_truth : dict
        Planted acceptance rates and best offers by segment x stage (``truth.json``).
    """

    survey: pd.DataFrame = field(repr=False)
    customers: pd.DataFrame = field(repr=False)
    transactions: pd.DataFrame = field(repr=False)
    events: pd.DataFrame = field(repr=False)
    competitor_ratings: pd.DataFrame = field(repr=False)
    truth: pd.DataFrame = field(repr=False)
    white_space_need: str
    analysis_date: pd.Timestamp
    seed: int
    offers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    responses: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    offer_truth: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def segment_shares(self) -> dict[str, float]:
        """Planted population share of each segment, largest first."""
        return {
            name: float(share)
            for name, share in zip(spec.SEGMENT_NAMES, spec.SEGMENT_SHARES, strict=True)
        }

    @property
    def defining_needs(self) -> dict[str, list[str]]:
        """Each segment's planted top-5 need columns, strongest first."""
        return spec.defining_needs(5)

    def truth_summary(self) -> dict[str, Any]:
        """The planted truth as written to ``truth.json``.

        Returns
        -------
        dict
            ``seed``, ``white_space_need``, ``segments`` (planted shares),
            ``defining_needs``, ``analysis_date`` (ISO date), ``value_ranking`` (planted
            segment names, most attractive first, under the default valuation weights),
            ``our_brand`` and ``economics`` (each segment's planted drivers and expected
            economics per customer, with its planted ``rank`` and ``score``; see
            :func:`segmentum.demo._economics.planted_economics`) and, for the offers,
            ``acceptance`` (planted rate per segment x stage x offer) and ``best_offer``,
            and ``covariate_effect`` (holders of the home bundle lapse at half the hazard;
            :func:`segmentum.demo._commerce.covariate_truth`).
        """
        return {
            "seed": self.seed,
            "white_space_need": self.white_space_need,
            "segments": self.segment_shares,
            "defining_needs": self.defining_needs,
            "analysis_date": self.analysis_date.strftime("%Y-%m-%d"),
            **truth_economics(),
            **covariate_truth(),
            **self.offer_truth,
        }


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _link(
    rng: np.random.Generator, r_seg: np.ndarray, c_seg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair about ``LINK_SHARE`` of respondents with distinct customers of their segment.

    Returns
    -------
    resp_to_cust : numpy.ndarray
        Customer code per respondent, ``-1`` where not linked.
    cust_to_resp : numpy.ndarray
        Respondent code per customer, ``-1`` where not linked.
    """
    wants = rng.random(r_seg.size) < LINK_SHARE
    resp_to_cust = np.full(r_seg.size, -1, dtype=np.int64)
    cust_to_resp = np.full(c_seg.size, -1, dtype=np.int64)
    for s in range(len(spec.SEGMENT_NAMES)):
        resp = np.flatnonzero(wants & (r_seg == s))
        pool = np.flatnonzero(c_seg == s)
        m = min(resp.size, pool.size)
        chosen = rng.choice(pool, size=m, replace=False)
        resp_to_cust[resp[:m]] = chosen
        cust_to_resp[chosen] = resp[:m]
    return resp_to_cust, cust_to_resp


def make_market(seed: int = 0, n_customers: int = 100_000, n_respondents: int = 3_000) -> Market:
    """Generate the demo auto-insurance market with planted needs segments.

    Parameters
    ----------
    seed : int, default=0
        Seed of the random streams (``numpy.random.SeedSequence(seed)`` spawns one for the
        survey, one for linking and one for customers); the same seed gives identical frames,
        and the survey does not depend on ``n_customers``.
    n_customers : int, default=100_000
        Number of customers (about 50 transactions each over three years).
    n_respondents : int, default=3_000
        Number of survey respondents (about 60 % of them are customers).

    Returns
    -------
    Market
        The tables, the planted truth and the white-space need.

    Raises
    ------
    ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> m = make_market(seed=1, n_customers=200, n_respondents=100)
    >>> m.survey.shape[0], m.customers.shape[0], m.white_space_need
    (100, 200, 'need_fast_claims_payout')
    """
    n_customers = _check_size("n_customers", n_customers)
    n_respondents = _check_size("n_respondents", n_respondents)
    # Independent streams: the survey (and its ratings) do not depend on n_customers.
    survey_rng, link_rng, customer_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)
    )
    window_start = ANALYSIS_DATE - pd.DateOffset(years=3)
    n_days = int((ANALYSIS_DATE - window_start).days)
    names = np.array(spec.SEGMENT_NAMES, dtype=object)

    r_seg = survey_rng.choice(len(spec.SEGMENT_NAMES), size=n_respondents, p=spec.SEGMENT_SHARES)
    c_seg = customer_rng.choice(len(spec.SEGMENT_NAMES), size=n_customers, p=spec.SEGMENT_SHARES)
    resp_to_cust, cust_to_resp = _link(link_rng, r_seg, c_seg)
    customer_ids = np.array([f"C{i:07d}" for i in range(1, n_customers + 1)], dtype=object)
    respondent_ids = np.array([f"R{i:06d}" for i in range(1, n_respondents + 1)], dtype=object)
    resp_customer = np.where(resp_to_cust >= 0, customer_ids[np.maximum(resp_to_cust, 0)], None)
    cust_respondent = np.where(cust_to_resp >= 0, respondent_ids[np.maximum(cust_to_resp, 0)], None)

    survey = make_survey(survey_rng, r_seg, resp_customer)
    ratings = make_competitor_ratings(survey_rng, r_seg, survey["respondent_id"])

    linked = cust_to_resp >= 0
    src = np.maximum(cust_to_resp, 0)
    linked_descriptors = {
        "age": np.where(linked, survey["age"].to_numpy()[src], -1),
        "gender": np.where(
            linked, pd.Categorical(survey["gender"], categories=spec.GENDERS).codes[src], -1
        ),
        "region": np.where(
            linked, pd.Categorical(survey["region"], categories=spec.REGIONS).codes[src], -1
        ),
    }
    book = make_book(customer_rng, c_seg, n_days, linked_descriptors)
    customers = make_customers(customer_rng, book, window_start, customer_ids, cust_respondent)
    transactions, events = make_transactions_and_events(
        customer_rng, book, window_start, customer_ids
    )

    offers_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(13,)))
    offers, responses, offer_truth = make_offers(
        offers_rng, c_seg, customer_ids, book.lapsed, transactions, events, ANALYSIS_DATE
    )
    unsurveyed = np.flatnonzero(~linked)
    truth = pd.DataFrame(
        {
            "respondent_id": str_column(
                np.concatenate([respondent_ids, np.full(unsurveyed.size, None, dtype=object)])
            ),
            "customer_id": str_column(np.concatenate([resp_customer, customer_ids[unsurveyed]])),
            "segment": str_column(names, np.concatenate([r_seg, c_seg[unsurveyed]])),
        }
    )
    return Market(
        survey=survey,
        customers=customers,
        transactions=transactions,
        events=events,
        competitor_ratings=ratings,
        truth=truth,
        white_space_need=spec.WHITE_SPACE_NEED,
        analysis_date=ANALYSIS_DATE,
        seed=int(seed),
        offers=offers,
        responses=responses,
        offer_truth=offer_truth,
    )


def write_market(market: Market, folder: Path) -> dict[str, Path]:
    """Write a market's tables as Parquet and its planted truth beside them.

    Layout: ``folder/data/<table>.parquet`` for the five data tables, and
    ``folder/truth.parquet`` plus ``folder/truth.json`` (seed, white-space need, planted
    segment shares, defining needs, analysis date, planted economics and value ranking)
    beside the data.

    Parameters
    ----------
    market : Market
        The market to write.
    folder : pathlib.Path
        Target folder (created if missing; existing files of the same names are replaced).

    Returns
    -------
    dict of str to pathlib.Path
        Path of every written file, keyed by table name (``truth`` and ``truth_json`` for the
        truth files).
    """
    folder = Path(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in DATA_TABLES:
        path = data / f"{name}.parquet"
        getattr(market, name).to_parquet(path, index=False)
        paths[name] = path
    paths["truth"] = folder / "truth.parquet"
    market.truth.to_parquet(paths["truth"], index=False)
    paths["truth_json"] = folder / "truth.json"
    paths["truth_json"].write_text(
        json.dumps(market.truth_summary(), indent=2) + "\n", encoding="utf-8"
    )
    paths.update(write_gtm(market, folder))  # leads and channels (issue 14)
    return paths
