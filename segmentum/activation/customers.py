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

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "ActivationCounts",
    "CustomerActivation",
    "cell_table",
    "customer_activation",
    "flow_order",
    "segment_stage_table",
    "tally",
]

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
    customers : pandas.DataFrame or None
        One row per customer: ``customer_id``, ``segment``, ``stage``, ``next_best_offer``,
        ``offer_expected_value``, ``offer_p_accept``, ``control``, ``no_offer_reason``.
        ``None`` on Spark (``engine = "spark"``): the rows stay in Spark (``spark``) and
        only :attr:`counts` reach the driver; :meth:`sample` brings a bounded sample.
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
    counts : ActivationCounts
        Stage counts, control group and offers by segment, reasons for no offer (from the
        per-customer rows when not given).
    spark : pyspark.sql.DataFrame or None
        On Spark: the per-customer rows (the columns of ``customers``), persisted.
    """

    customers: pd.DataFrame | None
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
    counts: ActivationCounts = field(default=None, repr=False)  # type: ignore[assignment]
    spark: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.counts is None:
            if self.customers is None:
                raise ValueError("CustomerActivation: give the customers or their counts")
            cells = cell_table(self.customers, None)
            object.__setattr__(self, "counts", tally(cells, _stage_labels(self.config)))

    def assignment_columns(self) -> pd.DataFrame:
        """``customer_id`` and the contract's columns, for ``assignments.parquet``."""
        if self.customers is None:
            raise ValueError(
                "the per-customer rows stayed in Spark: read the assignments from the run's "
                "assignments.parquet/ (or CustomerActivation.spark)"
            )
        out = self.customers[["customer_id", *ASSIGNMENT_COLUMNS]].copy()
        out["control"] = out["control"].astype("boolean")  # stays bool beside respondents
        return out

    def sample(self, n: int = 1_000) -> pd.DataFrame:
        """At most ``n`` customers' rows (the first ``n`` by customer id), on either engine:
        a bounded sample for a look, never the whole base."""
        if self.customers is not None:
            return self.customers.sort_values("customer_id").head(n).reset_index(drop=True)
        return self.spark.orderBy("customer_id").limit(int(n)).toPandas()

    def stage_mix(self) -> pd.DataFrame:
        """``segment``, ``stage``, ``customers``, ``share`` (of the segment's customers):
        each segment's customers by lifecycle stage, largest first (ties in stage order).
        Read from :attr:`segment_stage`, so it is the same on both engines."""
        t = self.segment_stage[["segment", "stage", "customers"]]
        t = t[t["customers"] > 0].copy()
        t["share"] = t["customers"] / t.groupby("segment", dropna=False)["customers"].transform(
            "sum"
        )
        t["_o"] = t["stage"].map({s: i for i, s in enumerate(_stage_labels(self.config))})
        t = t.sort_values(["segment", "customers", "_o"], ascending=[True, False, True])
        return t.drop(columns="_o").reset_index(drop=True)

    def top_offers(self) -> pd.Series:
        """The next best offer most of each segment's customers get (ties: the offer's
        name), indexed by segment; segments without offers are left out."""
        o = self.counts.offers.sort_values(
            ["segment", "customers", "offer"], ascending=[True, False, True]
        )
        return o.drop_duplicates("segment").set_index("segment")["offer"]

    def summary(self) -> dict[str, Any]:
        """The customer half of ``activation.json``: ``lifecycle``, ``offers``,
        ``control_group`` and ``acceptance`` (plain JSON types)."""
        k = self.counts
        seg = self.segment_stage
        out: dict[str, Any] = {
            "analysis_date": self.analysis_date.date().isoformat(),
            "lifecycle": {
                "stages": dict(k.stages),
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
                "size": k.control,
                "customers": k.customers,
                "by_segment": {
                    str(r.segment): {"customers": int(r.customers), "control": int(r.control)}
                    for r in k.by_segment.itertuples(index=False)
                },
                "method": "64-bit FNV-1a + SplitMix64 hash of '{seed}:{customer_id}'; the lowest share of "
                "each segment",
            },
            "warnings": list(self.warnings),
        }
        if self.offers is not None:
            out["offers"] = {
                "chosen": k.chosen(),
                "no_offer": dict(k.no_offer),
                "expected_value_total": k.expected_value_total,
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
    return flow_order(counts, labels)


def flow_order(counts: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The flow's ``from_stage``, ``to_stage``, ``customers`` in stage order ("not yet
    known" first), whichever engine counted them."""
    counts = counts.assign(customers=counts["customers"].astype(np.int64))
    order = {s: i for i, s in enumerate(["not yet known", *labels])}
    counts["_a"] = counts["from_stage"].map(order)
    counts["_b"] = counts["to_stage"].map(order)
    counts = counts.sort_values(["_a", "_b", "from_stage", "to_stage"])
    return counts.drop(columns=["_a", "_b"]).reset_index(drop=True)


#: the keys of the activation's cell table: every per-customer figure is a sum over them
CELL_KEYS: tuple[str, ...] = ("segment", "stage", "control", "next_best_offer", "no_offer_reason")


def cell_table(c: pd.DataFrame, value: pd.Series | None) -> pd.DataFrame:
    """The customers counted by :data:`CELL_KEYS`: ``customers``, ``value`` (sum of the
    value column, NaN without one) and ``expected_value`` (sum of ``offer_expected_value``).

    The pandas twin of :func:`~segmentum.activation.spark.cell_table_spark`; every count in
    :class:`CustomerActivation` is read from this small table on both engines.
    """
    frame = c[list(CELL_KEYS)].assign(
        control=c["control"].fillna(False).astype(bool),
        _value=value.to_numpy(dtype=float) if value is not None else np.nan,
        _ev=c["offer_expected_value"].to_numpy(dtype=float),
    )
    g = frame.groupby(list(CELL_KEYS), dropna=False, sort=False)
    out = g.agg(
        customers=("_value", "size"),
        value=("_value", lambda v: v.sum(min_count=1)),
        expected_value=("_ev", lambda v: v.sum(min_count=1)),
    ).reset_index()
    out["customers"] = out["customers"].astype(np.int64)
    return out


def _ranked(counts: pd.Series, order: list[str] | None = None) -> dict[str, int]:
    """Counts as a dict, largest first (ties in ``order``, else by name)."""
    pos = {s: i for i, s in enumerate(order or [])}
    items = [(str(k), int(v)) for k, v in counts.items() if int(v) > 0]
    items.sort(key=lambda kv: (-kv[1], pos.get(kv[0], len(pos)), kv[0]))
    return dict(items)


@dataclass(frozen=True)
class ActivationCounts:
    """The per-customer results counted (from :func:`cell_table`): what ``activation.json``,
    the report section, the kit and the report's answer read, on both engines.

    Attributes
    ----------
    customers : int
    stages : dict of str to int
        Customers per lifecycle stage, largest first.
    by_segment : pandas.DataFrame
        ``segment``, ``customers``, ``control``.
    offers : pandas.DataFrame
        ``segment``, ``offer``, ``customers``, ``expected_value`` (their sum): the next best
        offers made, per segment.
    no_offer : dict of str to int
        Customers without an offer, by reason, largest first.
    expected_value_total : float
    """

    customers: int
    stages: dict[str, int]
    by_segment: pd.DataFrame
    offers: pd.DataFrame
    no_offer: dict[str, int]
    expected_value_total: float

    @property
    def control(self) -> int:
        """The control group's size."""
        return int(self.by_segment["control"].sum())

    @property
    def offered(self) -> int:
        """Customers with a next best offer."""
        return int(self.offers["customers"].sum())

    def chosen(self) -> dict[str, int]:
        """Customers per offer chosen, largest first."""
        return _ranked(self.offers.groupby("offer")["customers"].sum())


def tally(cells: pd.DataFrame, labels: list[str]) -> ActivationCounts:
    """:class:`ActivationCounts` of a :func:`cell_table`."""
    stages = cells.groupby("stage", dropna=True)["customers"].sum()
    by_seg = cells.groupby("segment", dropna=False).apply(
        lambda g: pd.Series(
            {"customers": int(g["customers"].sum()),
             "control": int(g.loc[g["control"].astype(bool), "customers"].sum())}
        ),
        include_groups=False,
    ).reset_index()  # fmt: skip
    offered = cells.dropna(subset=["next_best_offer"])
    offers = (
        offered.groupby(["segment", "next_best_offer"], dropna=False)
        .agg(customers=("customers", "sum"), expected_value=("expected_value", "sum"))
        .reset_index()
        .rename(columns={"next_best_offer": "offer"})
    )
    offers["customers"] = offers["customers"].astype(np.int64)
    reasons = cells.dropna(subset=["no_offer_reason"]).groupby("no_offer_reason")["customers"]
    return ActivationCounts(
        customers=int(cells["customers"].sum()),
        stages=_ranked(stages, labels),
        by_segment=by_seg.astype({"customers": np.int64, "control": np.int64}),
        offers=offers,
        no_offer=_ranked(reasons.sum()),
        expected_value_total=float(np.nansum(cells["expected_value"].to_numpy(dtype=float))),
    )


def segment_stage_table(cells: pd.DataFrame, labels: list[str], has_value: bool) -> pd.DataFrame:
    """Customers and value per segment x stage, with the offer chosen most in each cell
    (ties: the higher mean expected value, then the offer's name), from a :func:`cell_table`."""
    g = cells.groupby(["segment", "stage"], dropna=False)
    table = g.agg(customers=("customers", "sum"), value=("value", "sum")).reset_index()
    table["customers"] = table["customers"].astype(np.int64)
    if not has_value:
        table["value"] = np.nan
    offered = cells.dropna(subset=["next_best_offer"])
    if len(offered):
        top = (
            offered.groupby(["segment", "stage", "next_best_offer"], dropna=False)
            .agg(offered=("customers", "sum"), _ev=("expected_value", "sum"))
            .reset_index()
        )
        top["expected_value"] = top.pop("_ev") / top["offered"]
        top = (
            top.sort_values(["offered", "expected_value"], ascending=False, kind="stable")
            .drop_duplicates(["segment", "stage"])
            .rename(columns={"next_best_offer": "offer"})
        )
        table = table.merge(top, on=["segment", "stage"], how="left")
    else:
        table["offer"], table["offered"], table["expected_value"] = None, 0, np.nan
    table["offered"] = table["offered"].fillna(0).astype(np.int64)
    table["_o"] = table["stage"].map({s: i for i, s in enumerate(labels)})
    return table.sort_values(["segment", "_o"]).drop(columns="_o").reset_index(drop=True)


def ordered_cells(c: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The distinct ``segment``, ``stage`` pairs of ``c`` by segment, then stage order (the
    acceptance table's rows, the same order on both engines)."""
    cells = c[["segment", "stage"]].drop_duplicates()
    order = cells["stage"].map({s: i for i, s in enumerate(labels)})
    cells = cells.assign(_o=order).sort_values(["segment", "_o", "stage"], na_position="last")
    return cells.drop(columns="_o").reset_index(drop=True)


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
            r, offers, ordered_cells(c, _stage_labels(config)),
            prior_strength=config.prior_strength,
        )  # fmt: skip
    else:
        warnings.append(
            "no response history: P(accept) cannot be estimated, so no offer is chosen "
            "(declare [sources.responses])"
        )
        acceptance = acceptance_estimates(
            pd.DataFrame(columns=["segment", "stage", "offer_id", "accepted"]),
            offers,
            ordered_cells(c, _stage_labels(config)),
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
    cells = cell_table(c, value)
    return CustomerActivation(
        customers=c,
        segment_stage=segment_stage_table(cells, labels, value is not None),
        flow=flow,
        acceptance=acceptance,
        offers=checked,
        analysis_date=today,
        flow_date=flow_date,
        value_column=value_column,
        config=cfg,
        warnings=warnings,
        uplift=uplift,
        counts=tally(cells, labels),
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
