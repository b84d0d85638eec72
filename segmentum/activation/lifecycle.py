"""Lifecycle stage of every customer and known prospect at the analysis date.

The rules are data (``[activation.stages]`` in the project file, read into
:class:`LifecycleRules`) with defaults a marketer can read; the function here is pure and the
activation stage calls it with the value stage's per-customer table:

* no purchase yet — ``buying`` if the prospect reached a buying step (``buying_events``:
  quote, cart, checkout) in the last ``prospect_window_days``; ``browsing`` with at least
  ``browsing_min_visits`` visits in that window; ``discovering`` otherwise (first visits);
* customers — ``lost`` when the fitted model's P(alive) is below ``lost_p_alive`` and the
  last purchase is at least ``lost_min_days`` old; ``lapsing`` when P(alive) is below
  ``lapsing_p_alive`` and the last purchase at least ``lapsing_min_days`` old (P(alive)
  reads recency against the customer's own rhythm, so a fixed day count alone never
  decides); otherwise ``new`` (one purchase, the first within ``new_max_days``), ``loyal``
  (at least ``loyal_min_purchases`` purchases) or ``repeat``.

The stage names may be renamed (``names``); the defaults are the contract's
``discovering, browsing, buying, new, repeat, loyal, lapsing, lost``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["STAGE_NAMES", "LifecycleRules", "lifecycle_stage"]

STAGE_NAMES: tuple[str, ...] = (
    "discovering", "browsing", "buying", "new", "repeat", "loyal", "lapsing", "lost",
)  # fmt: skip


class LifecycleRules(BaseModel):
    """Thresholds of the lifecycle stages (the ``[activation.stages]`` table)."""

    model_config = ConfigDict(extra="forbid")

    buying_events: list[str] = Field(
        default_factory=lambda: ["quote", "cart", "checkout"],
        description="event types that mean a prospect is buying",
    )
    visit_events: list[str] = Field(
        default_factory=lambda: ["visit"], description="event types that count as visits"
    )
    prospect_window_days: float = Field(default=90.0, gt=0, description="look-back of events")
    browsing_min_visits: int = Field(default=2, ge=1, description="visits that make browsing")
    new_max_days: float = Field(default=90.0, gt=0, description="a first purchase this recent")
    loyal_min_purchases: int = Field(default=4, ge=2, description="purchases that make loyal")
    lapsing_p_alive: float = Field(default=0.5, gt=0, lt=1, description="P(alive) below: lapsing")
    lapsing_min_days: float = Field(default=30.0, ge=0, description="and no purchase for this")
    lost_p_alive: float = Field(default=0.1, gt=0, lt=1, description="P(alive) below: lost")
    lost_min_days: float = Field(default=180.0, ge=0, description="and no purchase for this")
    names: dict[str, str] = Field(default_factory=dict, description="renamed stages")

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if self.lost_p_alive >= self.lapsing_p_alive:
            raise ValueError(
                f"lost_p_alive ({self.lost_p_alive}) must be below lapsing_p_alive "
                f"({self.lapsing_p_alive})"
            )
        if self.lost_min_days < self.lapsing_min_days:
            raise ValueError(
                f"lost_min_days ({self.lost_min_days}) must be at least lapsing_min_days "
                f"({self.lapsing_min_days})"
            )
        unknown = sorted(set(self.names) - set(STAGE_NAMES))
        if unknown:
            raise ValueError(f"names: unknown stage(s) {unknown}; the stages are {STAGE_NAMES}")
        labels = [self.names.get(s, s) for s in STAGE_NAMES]
        if len(set(labels)) != len(labels):
            raise ValueError(f"names: two stages would share a name ({labels})")
        return self


def _need(df: pd.DataFrame, columns: list[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"lifecycle_stage: the {table} table lacks column(s) {missing}")


def lifecycle_stage(
    customers: pd.DataFrame,
    analysis_date: Any,
    *,
    events: pd.DataFrame | None = None,
    prospects: pd.Series | list[Any] | None = None,
    rules: LifecycleRules | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The lifecycle stage of each customer and prospect.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with a purchase: ``customer_id``, ``n_transactions``,
        ``first_purchase``, ``last_purchase`` (dates) and ``p_alive`` (the value stage's
        per-customer table has them all).
    analysis_date : date-like
        The date the stages are read at.
    events : pandas.DataFrame, optional
        ``customer_id``, ``timestamp``, ``event_type``: visits and buying steps of prospects.
    prospects : sequence of ids, optional
        Known prospects without events (e.g. leads); they are ``discovering``.
    rules : LifecycleRules or dict, optional
        The thresholds; the defaults when left out.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``stage``, one row per customer and prospect.
    """
    r = rules if isinstance(rules, LifecycleRules) else LifecycleRules.model_validate(rules or {})
    _need(
        customers,
        ["customer_id", "n_transactions", "first_purchase", "last_purchase", "p_alive"],
        "customers",
    )
    today = pd.Timestamp(analysis_date)
    n = customers["n_transactions"].to_numpy(dtype=float)
    first = (today - pd.to_datetime(customers["first_purchase"])).dt.days.to_numpy(dtype=float)
    last = (today - pd.to_datetime(customers["last_purchase"])).dt.days.to_numpy(dtype=float)
    p = customers["p_alive"].to_numpy(dtype=float)
    if np.isnan(p).any():
        raise ValueError("lifecycle_stage: the customers table has missing p_alive values")
    stage = np.where(n >= r.loyal_min_purchases, "loyal", "repeat").astype(object)
    stage[(n <= 1) & (first <= r.new_max_days)] = "new"
    stage[(p < r.lapsing_p_alive) & (last >= r.lapsing_min_days)] = "lapsing"
    stage[(p < r.lost_p_alive) & (last >= r.lost_min_days)] = "lost"
    out = [pd.DataFrame({"customer_id": customers["customer_id"].astype(str), "stage": stage})]
    buyers = set(out[0]["customer_id"])
    if events is not None and len(events):
        _need(events, ["customer_id", "timestamp", "event_type"], "events")
        ev = events.assign(customer_id=events["customer_id"].astype(str))
        ev = ev[~ev["customer_id"].isin(buyers)]
        ids = pd.Index(pd.unique(ev["customer_id"]))
        ts = pd.to_datetime(ev["timestamp"])
        recent = ev[(ts <= today) & (ts > today - pd.Timedelta(days=r.prospect_window_days))]
        buying = (
            recent["event_type"].isin(r.buying_events).groupby(recent["customer_id"]).any()
        ).reindex(ids, fill_value=False)
        visits = (
            recent["event_type"].isin(r.visit_events).groupby(recent["customer_id"]).sum()
        ).reindex(ids, fill_value=0)
        pstage = np.where(
            buying.to_numpy(dtype=bool),
            "buying",
            np.where(visits.to_numpy() >= r.browsing_min_visits, "browsing", "discovering"),
        )
        out.append(pd.DataFrame({"customer_id": ids.astype(str), "stage": pstage}))
        buyers |= set(ids)
    if prospects is not None:
        rest = [
            str(x)
            for x in pd.unique(pd.Series(list(prospects)).astype(str))
            if str(x) not in buyers
        ]
        out.append(pd.DataFrame({"customer_id": rest, "stage": "discovering"}))
    table = pd.concat(out, ignore_index=True)
    table["stage"] = table["stage"].map(lambda s: r.names.get(s, s))
    return table
