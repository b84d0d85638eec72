"""The customer half of the activation stage: lifecycle stage, next best offer, control group.

:func:`customer_activation` takes every customer's segment (the valuation stage's), the value
stage's per-customer table, the events, the offers and the response history, and returns a
:class:`CustomerActivation`: per customer ``stage``, ``next_best_offer``,
``offer_expected_value`` and ``control`` (the columns ``assignments.parquet`` gets), the
segment x stage table, the flow between stages over the last periods, the acceptance
estimates with the ``n`` they rest on, and what goes into ``activation.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.lifecycle import STAGE_NAMES, lifecycle_stage
from segmentum.activation.offers import (
    acceptance_estimates,
    control_group,
    hash_uniform,
    next_best_offer,
    positions,
    read_offers,
)
from segmentum.activation.settings import ActivationConfig
from segmentum.activation.uplift import OfferUplift

__all__ = ["ASSIGNMENT_COLUMNS", "CustomerActivation", "customer_activation"]

#: the per-customer columns of ``assignments.parquet`` (the issue's contract)
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "stage", "next_best_offer", "offer_expected_value", "control",
)  # fmt: skip
_LIFECYCLE_INPUT = ["customer_id", "n_transactions", "first_purchase", "last_purchase", "p_alive"]


@dataclass(frozen=True)
class CustomerActivation:
    """What the customer half of the activation stage found.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: ``customer_id``, ``segment``, ``stage``, ``next_best_offer``,
        ``offer_expected_value``, ``offer_p_accept``, ``control``, ``no_offer_reason``.
    segment_stage : pandas.DataFrame
        ``segment``, ``stage``, ``customers``, ``value`` (sum of CLV, else revenue, when the
        value stage ran), ``offer`` (the offer chosen most), ``offered`` and
        ``expected_value`` (mean expected value of that offer).
    flow : pandas.DataFrame or None
        ``from_stage``, ``to_stage``, ``customers``: stage at ``flow_date`` against now.
    acceptance : pandas.DataFrame or None
        From :func:`~segmentum.activation.offers.acceptance_estimates`.
    offers : pandas.DataFrame or None
        The checked offers table.
    analysis_date, flow_date : pandas.Timestamp or None
    value_column : str or None
        What ``segment_stage["value"]`` sums.
    config : ActivationConfig
    warnings : list of str
    uplift : OfferUplift or None
        The CLV uplift of the offers that change a covariate, when any are declared.
    """

    customers: pd.DataFrame
    segment_stage: pd.DataFrame
    flow: pd.DataFrame | None
    acceptance: pd.DataFrame | None
    offers: pd.DataFrame | None
    analysis_date: pd.Timestamp
    flow_date: pd.Timestamp | None
    value_column: str | None
    config: ActivationConfig = field(default_factory=ActivationConfig)
    warnings: list[str] = field(default_factory=list)
    uplift: OfferUplift | None = None

    def assignment_columns(self) -> pd.DataFrame:
        """``customer_id`` and the contract's columns, for ``assignments.parquet``."""
        out = self.customers[["customer_id", *ASSIGNMENT_COLUMNS]].copy()
        out["control"] = out["control"].astype("boolean")  # stays bool beside respondents
        return out

    def summary(self) -> dict[str, Any]:
        """The customer half of ``activation.json``: ``lifecycle``, ``offers``,
        ``control_group`` and ``acceptance`` (plain JSON types)."""
        c = self.customers
        seg = self.segment_stage
        control = c["control"].to_numpy(dtype=bool)
        by_seg = c.groupby("segment", dropna=False)["control"].agg(["size", "sum"])
        out: dict[str, Any] = {
            "analysis_date": self.analysis_date.date().isoformat(),
            "lifecycle": {
                "stages": {str(k): int(v) for k, v in c["stage"].value_counts().items()},
                "value_column": self.value_column,
                "segment_stage": _records(seg[["segment", "stage", "customers", "value"]]),
                "flow": None
                if self.flow is None
                else {
                    "from_date": self.flow_date.date().isoformat() if self.flow_date else None,
                    "to_date": self.analysis_date.date().isoformat(),
                    "moves": _records(self.flow),
                },
            },
            "control_group": {
                "share": self.config.control_share,
                "size": int(control.sum()),
                "customers": len(c),
                "by_segment": {
                    str(k): {"customers": int(r["size"]), "control": int(r["sum"])}
                    for k, r in by_seg.iterrows()
                },
                "method": "64-bit FNV-1a + SplitMix64 hash of '{seed}:{customer_id}'; the lowest share of "
                "each segment",
            },
            "warnings": list(self.warnings),
        }
        if self.offers is not None:
            chosen = c["next_best_offer"].value_counts()
            out["offers"] = {
                "chosen": {str(k): int(v) for k, v in chosen.items()},
                "no_offer": {
                    str(k): int(v) for k, v in c["no_offer_reason"].dropna().value_counts().items()
                },
                "expected_value_total": float(np.nansum(c["offer_expected_value"])),
                "by_segment_stage": _records(
                    seg[["segment", "stage", "offer", "offered", "expected_value"]]
                ),
                "contact": self.config.contact.model_dump(),
                "clv_uplift": [] if self.uplift is None else self.uplift.summary(),
            }
        if self.acceptance is not None:
            out["acceptance"] = {
                "prior_strength": self.config.prior_strength,
                "prior": "Beta(m p_offer, m (1 - p_offer)) per offer; p_accept is the "
                "posterior mean (accepted + m p_offer) / (n + m)",
                "cells": _records(self.acceptance.drop(columns="prior_strength")),
            }
        return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            if v is pd.NA:
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def _stages(
    customers: pd.DataFrame,
    per_customer: pd.DataFrame | None,
    events: pd.DataFrame | None,
    date: pd.Timestamp,
    config: ActivationConfig,
    warnings: list[str],
) -> pd.Series:
    """The stage of every customer at ``date`` (indexed by customer id)."""
    buyers = pd.DataFrame(columns=_LIFECYCLE_INPUT)
    if per_customer is not None and len(per_customer):
        missing = [c for c in _LIFECYCLE_INPUT if c not in per_customer]
        if "p_alive" in missing and len(missing) == 1:
            warnings.append(
                "no P(alive) from the value stage: lapsing and lost are not read (every buyer "
                "counts as alive)"
            )
            per_customer = per_customer.assign(p_alive=1.0)
            missing = []
        if missing:
            raise ValueError(f"customer_activation: the per-customer table lacks {missing}")
        buyers = per_customer[_LIFECYCLE_INPUT].copy()
        buyers["p_alive"] = buyers["p_alive"].fillna(1.0)
    ev = None
    if events is not None and len(events):
        ev = events[pd.to_datetime(events["timestamp"]) <= date]
    table = lifecycle_stage(
        buyers,
        date,
        events=ev,
        prospects=customers["customer_id"],
        rules=config.stages,
    )
    return table.set_index("customer_id")["stage"]


def _stage_labels(config: ActivationConfig) -> list[str]:
    return [config.stages.names.get(s, s) for s in STAGE_NAMES]


def _flow(before: pd.Series, after: pd.Series, labels: list[str]) -> pd.DataFrame:
    """Customers moving from each stage at the earlier date to each stage now."""
    joined = pd.DataFrame({"from_stage": before, "to_stage": after}).dropna(subset=["to_stage"])
    joined["from_stage"] = joined["from_stage"].fillna("not yet known")
    counts = joined.groupby(["from_stage", "to_stage"]).size().rename("customers").reset_index()
    order = {s: i for i, s in enumerate(["not yet known", *labels])}
    counts["_a"] = counts["from_stage"].map(order)
    counts["_b"] = counts["to_stage"].map(order)
    return counts.sort_values(["_a", "_b"]).drop(columns=["_a", "_b"]).reset_index(drop=True)


def _segment_stage(c: pd.DataFrame, value: pd.Series | None, labels: list[str]) -> pd.DataFrame:
    """Customers and value per segment x stage, with the offer chosen most in each cell."""
    frame = c.assign(_value=value.to_numpy() if value is not None else np.nan)
    g = frame.groupby(["segment", "stage"], dropna=False)
    table = g.agg(customers=("customer_id", "size"), value=("_value", "sum")).reset_index()
    if value is None:
        table["value"] = np.nan
    offered = frame.dropna(subset=["next_best_offer"])
    if len(offered):
        top = (
            offered.groupby(["segment", "stage", "next_best_offer"], dropna=False)
            .agg(offered=("customer_id", "size"), expected_value=("offer_expected_value", "mean"))
            .reset_index()
            .sort_values(["offered", "expected_value"], ascending=False, kind="stable")
            .drop_duplicates(["segment", "stage"])
            .rename(columns={"next_best_offer": "offer"})
        )
        table = table.merge(top, on=["segment", "stage"], how="left")
    else:
        table["offer"], table["offered"], table["expected_value"] = None, 0, np.nan
    table["offered"] = table["offered"].fillna(0).astype(np.int64)
    table["_o"] = table["stage"].map({s: i for i, s in enumerate(labels)})
    return table.sort_values(["segment", "_o"]).drop(columns="_o").reset_index(drop=True)


def _responses_with_cells(
    responses: pd.DataFrame, c: pd.DataFrame, labels: list[str], warnings: list[str]
) -> pd.DataFrame:
    """The responses with each customer's segment, and their logged stage (or today's)."""
    row = positions(responses["customer_id"], c["customer_id"])
    unknown = row < 0
    r = responses[~unknown].copy()
    row = row[~unknown]
    r["offer_id"] = r["offer_id"].astype(str)
    r["segment"] = c["segment"].to_numpy()[row]
    if "stage" not in r or r["stage"].isna().all():
        r["stage"] = c["stage"].to_numpy(dtype=object)[row]
        warnings.append(
            "the response history logs no stage: each response counts at the customer's "
            "stage on the analysis date"
        )
    else:
        odd = ~r["stage"].isin(labels)
        if odd.any():
            names = ", ".join(sorted(map(str, pd.unique(r.loc[odd, "stage"])))[:5])
            warnings.append(
                f"{int(odd.sum()):,} responses log a stage the lifecycle rules do not have "
                f"({names}); they count towards their offer's overall rate only (rename them "
                "under [activation.stages] names)"
            )
    if unknown.any():
        warnings.append(
            f"{int(unknown.sum()):,} responses are of customers without a segment; left out "
            "of the acceptance estimates"
        )
    return r


def _offers_step(
    c: pd.DataFrame,
    offers: pd.DataFrame,
    responses: pd.DataFrame | None,
    *,
    analysis_date: pd.Timestamp,
    config: ActivationConfig,
    seed: int,
    warnings: list[str],
    uplift: OfferUplift | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Acceptance estimates and the next best offer of every customer."""
    if responses is not None and len(responses):
        r = _responses_with_cells(responses, c, _stage_labels(config), warnings)
        acceptance = acceptance_estimates(
            r, offers, c[["segment", "stage"]], prior_strength=config.prior_strength
        )
    else:
        warnings.append(
            "no response history: P(accept) cannot be estimated, so no offer is chosen "
            "(declare [sources.responses])"
        )
        acceptance = acceptance_estimates(
            pd.DataFrame(columns=["segment", "stage", "offer_id", "accepted"]),
            offers,
            c[["segment", "stage"]],
            prior_strength=config.prior_strength,
        )
    nbo = next_best_offer(
        c[["customer_id", "segment", "stage"]],
        offers,
        acceptance,
        control=c["control"].to_numpy(),
        responses=responses,
        analysis_date=analysis_date,
        policy=config.contact,
        min_expected_value=config.min_expected_value,
        tie_break=hash_uniform(c["customer_id"], seed + 1),
        clv_uplift=None if uplift is None else _uplift_matrix(uplift, c, offers),
    )
    return nbo.drop(columns="customer_id"), acceptance


def _uplift_matrix(uplift: OfferUplift, c: pd.DataFrame, offers: pd.DataFrame) -> np.ndarray:
    """Customers x offers CLV uplift (0 for undeclared offers and unknown customers)."""
    ids = pd.Index(offers["offer_id"].astype(str))
    unknown = [o for o in uplift.uplift.columns if o not in ids]
    if unknown:
        raise ValueError(
            f"[activation.offer_covariates] names offer(s) {unknown} that the offers table does "
            f"not have; its offers are {list(ids)}"
        )
    out = np.zeros((len(c), len(ids)))
    rows = positions(c["customer_id"], uplift.uplift.index)
    hit = rows >= 0
    for offer in uplift.uplift.columns:
        out[hit, ids.get_loc(offer)] = uplift.uplift[offer].to_numpy(dtype=float)[rows[hit]]
    return out


def customer_activation(
    customers: pd.DataFrame,
    analysis_date: Any,
    *,
    per_customer: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    offers: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
    earlier: tuple[Any, pd.DataFrame | None] | None = None,
    config: ActivationConfig | None = None,
    seed: int = 0,
    offers_label: str = "offers",
    uplift: OfferUplift | None = None,
) -> CustomerActivation:
    """Lifecycle stage, next best offer and control group of every customer.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id`` and ``segment`` of every customer (the valuation stage gives each
        customer a segment).
    analysis_date : date-like
    per_customer : pandas.DataFrame, optional
        The value stage's table: ``customer_id``, ``n_transactions``, ``first_purchase``,
        ``last_purchase``, ``p_alive``; ``clv`` or ``revenue`` for the value per cell.
    events : pandas.DataFrame, optional
        ``customer_id``, ``timestamp``, ``event_type``.
    offers : pandas.DataFrame, optional
        ``offer_id``, ``value``; optional ``cost``, ``product``, ``segments``, ``stages``,
        ``limit`` (see :func:`~segmentum.activation.offers.read_offers`).
    responses : pandas.DataFrame, optional
        ``customer_id``, ``timestamp``, ``offer_id``, ``accepted``; optional ``stage``.
    earlier : (date, per-customer table), optional
        The value table summarised at an earlier date (P(alive) from the same model): the
        flow between stages from that date to now.
    config : ActivationConfig, optional
    seed : int
        The project seed (the control group's hash).
    offers_label : str
        How errors name the offers table (its file).
    uplift : OfferUplift, optional
        CLV uplift of the offers that change a covariate
        (:func:`~segmentum.activation.uplift.offer_clv_uplift`); their expected value adds
        ``P(accept) x uplift``.

    Returns
    -------
    CustomerActivation
    """
    cfg = config or ActivationConfig()
    today = pd.Timestamp(analysis_date)
    warnings: list[str] = []
    c = customers[["customer_id", "segment"]].copy()
    c["customer_id"] = c["customer_id"].astype(str)
    labels = _stage_labels(cfg)
    c["stage"] = c["customer_id"].map(_stages(c, per_customer, events, today, cfg, warnings))
    c["control"] = control_group(c["customer_id"], seed, cfg.control_share, strata=c["segment"])
    checked = None
    acceptance = None
    if offers is not None:
        segs = sorted(int(s) for s in pd.unique(c["segment"].dropna()))
        checked = read_offers(offers, known_segments=segs, known_stages=labels, label=offers_label)
        nbo, acceptance = _offers_step(
            c, checked, responses, analysis_date=today, config=cfg, seed=seed,
            warnings=warnings, uplift=uplift,
        )  # fmt: skip
        c = pd.concat([c, nbo.set_index(c.index)], axis=1)
    else:
        c["next_best_offer"] = None
        c["offer_expected_value"] = np.nan
        c["offer_p_accept"] = np.nan
        c["offer_clv_uplift"] = np.nan
        c["no_offer_reason"] = "no offers table"
    value_column, value = None, None
    if per_customer is not None:
        for col in ("clv", "revenue"):
            if col in per_customer:
                pc = per_customer.assign(customer_id=per_customer["customer_id"].astype(str))
                value = c["customer_id"].map(pc.set_index("customer_id")[col]).fillna(0.0)
                value_column = col
                break
    flow, flow_date = None, None
    if earlier is not None:
        flow_date = pd.Timestamp(earlier[0])
        ids = pd.Index(c["customer_id"])
        before = _stages(c, earlier[1], events, flow_date, cfg, []).reindex(ids)
        known = ids.map(_first_seen(per_customer, events)).to_numpy() <= flow_date
        flow = _flow(before.where(known), c.set_index("customer_id")["stage"], labels)
    return CustomerActivation(
        customers=c,
        segment_stage=_segment_stage(c, value, labels),
        flow=flow,
        acceptance=acceptance,
        offers=checked,
        analysis_date=today,
        flow_date=flow_date,
        value_column=value_column,
        config=cfg,
        warnings=warnings,
        uplift=uplift,
    )


def _first_seen(per_customer: pd.DataFrame | None, events: pd.DataFrame | None) -> pd.Series:
    """Each customer's first purchase or event: before it, the customer was not yet known."""
    parts = []
    if per_customer is not None and "first_purchase" in per_customer:
        parts.append(
            pd.Series(
                pd.to_datetime(per_customer["first_purchase"]).to_numpy(),
                index=per_customer["customer_id"].astype(str),
            )
        )
    if events is not None and len(events):
        parts.append(
            pd.to_datetime(events["timestamp"]).groupby(events["customer_id"].astype(str)).min()
        )
    if not parts:
        return pd.Series(dtype="datetime64[ns]")
    return pd.concat(parts).groupby(level=0).min()
