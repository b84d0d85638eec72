"""Cost-to-serve and profit per customer, from cost columns or simple rules.

Seed 003 asks every segment to carry its cost-to-serve beside its revenue: two customers
with the same revenue can differ in profit when one orders often in small baskets through
an expensive channel and calls support every week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import ConfigDict

from segmentum.value.summary import _quote

__all__ = ["CostRules", "cost_to_serve"]


@dataclass(frozen=True)
class CostRules:
    """How to cost a customer; every rule defaults to zero.

    Parameters
    ----------
    cost_per_order : float, default=0.0
        Cost of handling one transaction line (picking, payment, shipping).
    cost_per_support_contact : float, default=0.0
        Cost of one event with ``event_type == "support"`` in the events table.
    channel_costs : dict of str to float, default={}
        Extra cost per transaction by the transaction's channel (e.g. ``{"store": 4.0}``).
    cost_columns : tuple of str, default=()
        Columns of the transactions table holding costs, summed per customer.
    acquisition_cost_column : str, optional
        Column of the customers table with each customer's acquisition cost.
    """

    cost_per_order: float = 0.0
    cost_per_support_contact: float = 0.0
    channel_costs: dict[str, float] = field(default_factory=dict)
    cost_columns: tuple[str, ...] = ()
    acquisition_cost_column: str | None = None

    # A project file's [value.cost] table is checked like every table: no unknown keys.
    __pydantic_config__ = ConfigDict(extra="forbid")

    @property
    def is_empty(self) -> bool:
        """True when no rule would give any cost."""
        return (
            not self.cost_per_order
            and not self.cost_per_support_contact
            and not self.channel_costs
            and not self.cost_columns
            and self.acquisition_cost_column is None
        )


def _first_present(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def cost_to_serve(
    transactions: pd.DataFrame,
    rules: CostRules,
    *,
    customer_id: str,
    timestamp: str,
    channel: str | None = None,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    end: dt.date | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Cost-to-serve per customer up to ``end`` (inclusive), computed in DuckDB.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Transaction lines.
    rules : CostRules
        What to count and at which unit cost.
    customer_id, timestamp : str
        Column names shared by the transactions, events and customers tables.
    channel : str, optional
        Channel column of the transactions (needed by ``channel_costs``).
    events : pandas.DataFrame, optional
        Events with ``event_type``; support contacts are ``event_type == "support"``.
    customers : pandas.DataFrame, optional
        Customers table holding ``rules.acquisition_cost_column``.

    Notes
    -----
    The events and customers tables are joined on ``customer_id`` (their id column may also
    be named ``"customer_id"``, their timestamp ``"timestamp"``); ids are matched as text.
    end : datetime.date, optional
        Last day counted (the analysis date).

    Returns
    -------
    (pandas.DataFrame, list of str)
        Per customer: ``orders``, ``cost_orders``, ``cost_channel``, ``cost_columns``,
        ``support_contacts``, ``cost_support``, ``acquisition_cost`` and ``cost_to_serve``
        (their sum, service costs plus acquisition); and warnings about rules that could not
        be applied.
    """
    warnings: list[str] = []
    cid, ts = _quote(customer_id), _quote(timestamp)
    where = f"WHERE CAST({ts} AS DATE) <= DATE '{end.isoformat()}'" if end else ""
    import duckdb  # lazy: importing segmentum.value stays light

    con = duckdb.connect()
    try:
        con.register("_tx", transactions)
        parts = ["COUNT(*) AS orders", f"COUNT(*) * {float(rules.cost_per_order)!r} AS cost_orders"]
        if rules.channel_costs and channel and channel in transactions:
            case = " ".join(
                f"WHEN {_quote(channel)} = '{str(k).replace(chr(39), chr(39) * 2)}' THEN {float(v)!r}"
                for k, v in rules.channel_costs.items()
            )
            parts.append(f"SUM(CASE {case} ELSE 0.0 END) AS cost_channel")
        else:
            if rules.channel_costs:
                warnings.append(
                    "channel costs were given but the transactions have no channel column; "
                    "they were not applied"
                )
            parts.append("0.0 AS cost_channel")
        present = [c for c in rules.cost_columns if c in transactions]
        for c in rules.cost_columns:
            if c not in transactions:
                warnings.append(f"cost column {c!r} is not in the transactions; it was ignored")
        cost_sum = " + ".join(f"COALESCE(SUM({_quote(c)}), 0.0)" for c in present) or "0.0"
        parts.append(f"{cost_sum} AS cost_columns")
        out = con.execute(
            f"SELECT {cid} AS cid, {', '.join(parts)} FROM _tx {where} GROUP BY 1"
        ).df()
        out["support_contacts"] = 0
        key = out["cid"].astype(str)
        if events is not None and rules.cost_per_support_contact:
            ev_id = _first_present(events, customer_id, "customer_id")
            ev_ts = _first_present(events, timestamp, "timestamp")
            if "event_type" not in events or ev_id is None:
                warnings.append(
                    f"events table lacks 'event_type' or {customer_id!r}; support costs skipped"
                )
            else:
                con.register("_ev", events)
                ev_where = ""
                if end is not None and ev_ts is not None:
                    ev_where = f"AND CAST({_quote(ev_ts)} AS DATE) <= DATE '{end.isoformat()}'"
                sup = con.execute(
                    f"SELECT CAST({_quote(ev_id)} AS VARCHAR) AS cid, COUNT(*) AS n FROM _ev "
                    f"WHERE event_type = 'support' {ev_where} GROUP BY 1"
                ).df()
                out["support_contacts"] = (
                    key.map(sup.set_index("cid")["n"]).fillna(0).astype("int64").to_numpy()
                )
        elif rules.cost_per_support_contact and events is None:
            warnings.append("a support-contact cost was given but no events table; skipped")
    finally:
        con.close()
    out["cost_support"] = out["support_contacts"] * float(rules.cost_per_support_contact)
    out["acquisition_cost"] = 0.0
    col = rules.acquisition_cost_column
    if col:
        cu_id = (
            _first_present(customers, customer_id, "customer_id") if customers is not None else None
        )
        if customers is None or col not in customers or cu_id is None:
            warnings.append(f"acquisition cost column {col!r} not found in the customers table")
        else:
            acq = customers.groupby(customers[cu_id].astype(str))[col].sum()
            out["acquisition_cost"] = key.map(acq).astype(float).fillna(0.0).to_numpy()
    out["cost_to_serve"] = out[
        ["cost_orders", "cost_channel", "cost_columns", "cost_support", "acquisition_cost"]
    ].sum(axis=1)
    out = out.rename(columns={"cid": customer_id})
    out["orders"] = out["orders"].astype("int64")
    out["cost_to_serve"] = out["cost_to_serve"].astype(float)
    assert np.all(np.isfinite(out["cost_to_serve"]))
    return out, warnings
