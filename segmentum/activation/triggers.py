"""Trigger rules: an event of a customer in a segment and stage that fires that cell's offer.

Seed 004 asks where needs "can be observed, collected, and acted on through trigger … marketing
offers". A rule here reads "a customer of segment 2 in stage *lapsing* who had a ``visit`` or
``support`` event in the last 7 days gets the ``winback`` offer". The rules are data: the
``[activation.triggers]`` table of the project file (:class:`TriggerSettings`), with one
default rule per priority segment × lifecycle stage that has a next best offer (the offer
the segment × stage gets most, its mean expected value beside it) firing on any of
``default_events`` within ``window_days``.

:func:`evaluate_triggers` runs the rules on the events table at the analysis date: a customer
fires a rule when they are in its segment (any segment when the rule names none) and stage,
are not in the universal control group, and had at least ``min_events`` events of the
rule's types in the ``within_days`` days up to the analysis date (events after it are
ignored). :func:`write_triggers` writes the rule table a CRM can load
(``audiences/triggers.csv``: rule id, segment, stage, event condition, offer, customers
firing) and the firing customers (``audiences/trigger_customers.csv``), with every text cell
neutralised against spreadsheet formula injection exactly as the audience files are
(:func:`~segmentum.activation.audiences.neutralise`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from segmentum.activation.audiences import neutralise
from segmentum.report.context import jsonable

__all__ = [
    "TriggerResult",
    "TriggerRule",
    "TriggerSettings",
    "default_rules",
    "evaluate_triggers",
    "merged_rules",
    "rule_rows",
    "trigger_blocks",
    "write_triggers",
]

#: columns of ``audiences/triggers.csv``, in order
TRIGGER_COLUMNS: tuple[str, ...] = (
    "rule_id", "segment", "segment_name", "stage", "event_condition", "offer",
    "offer_expected_value", "customers_firing", "description",
)  # fmt: skip


class TriggerRule(BaseModel):
    """One trigger rule (an entry of ``[[activation.triggers.rules]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
        description="Rule id (letters, digits, _ . -), unique; the CRM's key.",
    )
    segment: int | None = Field(None, description="Segment the rule is for (empty: any).")
    stage: str | None = Field(None, description="Lifecycle stage the rule is for (empty: any).")
    events: list[str] = Field(
        min_length=1, description="Event types that fire the rule (any of them)."
    )
    within_days: float = Field(
        7.0, gt=0, description="The events count in this many days up to the analysis date."
    )
    min_events: int = Field(1, ge=1, description="Events of those types needed to fire.")
    offer: str | None = Field(
        None, description="Offer to make (empty: the segment x stage's next best offer)."
    )
    description: str = Field("", max_length=500, description="What the rule is for, in words.")

    def condition(self) -> str:
        """The event condition in words (the ``event_condition`` column)."""
        what = " or ".join(self.events)
        times = f"at least {self.min_events} " if self.min_events > 1 else ""
        return f"{times}{what} event(s) in the last {self.within_days:g} days"


class TriggerSettings(BaseModel):
    """The ``[activation.triggers]`` table: default rules and the project's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_rules: bool = Field(
        True,
        description="Add one rule per priority segment x stage with a next best offer.",
    )
    default_events: list[str] = Field(
        default_factory=lambda: ["visit", "quote", "support"],
        min_length=1,
        description="Event types that fire the default rules.",
    )
    window_days: float = Field(7.0, gt=0, description="Look-back of the default rules, days.")
    rules: list[TriggerRule] = Field(
        default_factory=list,
        description="The project's rules ([[activation.triggers.rules]]: id, segment, stage, "
        "events, within_days, min_events, offer, description); a rule with a default "
        "rule's id replaces it.",
    )


def default_rules(
    segment_stage: pd.DataFrame, segments: Sequence[int], settings: TriggerSettings
) -> list[TriggerRule]:
    """One rule per priority segment × stage that has a next best offer.

    Parameters
    ----------
    segment_stage : pandas.DataFrame
        ``segment``, ``stage`` and ``offer`` (the activation's segment × stage table).
    segments : sequence of int
        The priority segments.
    settings : TriggerSettings
    """
    out = []
    cells = segment_stage[segment_stage["segment"].isin([int(s) for s in segments])]
    for r in cells.itertuples(index=False):
        if pd.isna(getattr(r, "offer", None)):
            continue
        rid = f"s{int(r.segment)}_{_slug(str(r.stage))}"
        out.append(
            TriggerRule(
                id=rid, segment=int(r.segment), stage=str(r.stage),
                events=list(settings.default_events), within_days=settings.window_days,
                description=f"default: segment {int(r.segment)}, {r.stage}, engaged recently",
            )
        )  # fmt: skip
    return out


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")
    return out[:40] or "stage"


def merged_rules(defaults: Sequence[TriggerRule], own: Sequence[TriggerRule]) -> list[TriggerRule]:
    """The defaults with the project's rules added (a same-id rule replaces the default).

    Raises
    ------
    ValueError
        Two of the project's rules share an id.
    """
    ids = [r.id for r in own]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(
            f"[activation.triggers] rules: id(s) {dup} used twice; give every rule its own id"
        )
    mine = {r.id for r in own}
    return [r for r in defaults if r.id not in mine] + list(own)


@dataclass(frozen=True)
class TriggerResult:
    """What :func:`evaluate_triggers` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per rule, columns :data:`TRIGGER_COLUMNS`.
    firing : pandas.DataFrame
        ``rule_id``, ``customer_id``, ``segment``, ``stage``, ``offer``, ``events``
        (count in the window), ``last_event``: one row per rule and customer firing it.
    analysis_date : pandas.Timestamp
    warnings : list of str
    """

    table: pd.DataFrame
    firing: pd.DataFrame
    analysis_date: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    customers_firing: int | None = None

    @property
    def n_firing(self) -> int:
        """Customers firing at least one rule (counted by the engine when ``firing`` holds
        a bounded part of the rows)."""
        if self.customers_firing is not None:
            return int(self.customers_firing)
        return int(self.firing["customer_id"].nunique())

    def summary(self) -> dict[str, Any]:
        """``activation.json``'s ``triggers`` entry."""
        rows = []
        for r in self.table.to_dict(orient="records"):
            rows.append({k: jsonable(v) for k, v in r.items()})
        return {
            "analysis_date": str(self.analysis_date.date()),
            "rules": rows,
            "customers_firing": self.n_firing,
            "warnings": list(self.warnings),
        }


def _cell_offers(segment_stage: pd.DataFrame | None) -> dict[tuple[int, str], tuple[Any, Any]]:
    if segment_stage is None or "offer" not in segment_stage:
        return {}
    ev = segment_stage.get("expected_value", np.nan)
    t = segment_stage.assign(cell_ev=ev)
    return {
        (int(r.segment), str(r.stage)): (r.offer, r.cell_ev)
        for r in t.itertuples(index=False)
        if pd.notna(r.offer)
    }


def evaluate_triggers(
    rules: Sequence[TriggerRule],
    customers: pd.DataFrame,
    events: pd.DataFrame | None,
    analysis_date: Any,
    *,
    segment_stage: pd.DataFrame | None = None,
    segment_names: Mapping[int, str] | None = None,
) -> TriggerResult:
    """Which customers fire each rule at the analysis date.

    Parameters
    ----------
    rules : sequence of TriggerRule
    customers : pandas.DataFrame
        ``customer_id``, ``segment``, ``stage`` and optionally ``control`` (bool; control
        customers never fire).
    events : pandas.DataFrame or None
        ``customer_id``, ``timestamp``, ``event_type``.
    analysis_date : date-like
        Events in ``(analysis_date - within_days, analysis_date]`` count.
    segment_stage : pandas.DataFrame, optional
        ``segment``, ``stage``, ``offer``, ``expected_value``: the offer of a rule without
        one and its expected value.
    segment_names : mapping of int to str, optional

    Returns
    -------
    TriggerResult

    Raises
    ------
    ValueError
        ``customers`` or ``events`` lack a column.
    """
    need = {"customers": (customers, ["customer_id", "segment", "stage"])}
    if events is not None:
        need["events"] = (events, ["customer_id", "timestamp", "event_type"])
    for name, (frame, cols) in need.items():
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"triggers: the {name} table lacks column(s) {missing}")
    today = pd.Timestamp(analysis_date)
    cust = customers.assign(customer_id=customers["customer_id"].astype(str))
    if "control" in cust:
        cust = cust[~cust["control"].fillna(False).astype(bool)]
    seg = pd.to_numeric(cust["segment"], errors="coerce")
    ev = _recent(events, today, max((r.within_days for r in rules), default=0.0))
    known = set(ev["event_type"].astype(str)) if len(ev) else set()
    fired = []
    for rule in rules:
        pick = np.ones(len(cust), dtype=bool)
        if rule.segment is not None:
            pick &= (seg == rule.segment).to_numpy()
        if rule.stage is not None:
            pick &= (cust["stage"].astype(str) == rule.stage).to_numpy()
        ids = cust.loc[pick, ["customer_id", "segment", "stage"]]
        hits = _hits(ev, rule, today, set(ids["customer_id"]))
        fired.append(ids.merge(hits, on="customer_id").assign(rule_id=rule.id))
    table, warnings, offers = rule_rows(
        rules, [len(f) for f in fired], known, bool(len(ev)),
        segment_stage=segment_stage, segment_names=segment_names,
    )  # fmt: skip
    fired = [f.assign(offer=o) for f, o in zip(fired, offers, strict=True)]
    cols = ["rule_id", "customer_id", "segment", "stage", "offer", "events", "last_event"]
    firing = pd.concat(fired, ignore_index=True)[cols] if fired else pd.DataFrame(columns=cols)
    return TriggerResult(table, firing, today, warnings)


def rule_rows(
    rules: Sequence[TriggerRule],
    firing: Sequence[int],
    known: set[str],
    has_events: bool,
    *,
    segment_stage: pd.DataFrame | None = None,
    segment_names: Mapping[int, str] | None = None,
) -> tuple[pd.DataFrame, list[str], list[Any]]:
    """The rule table (:data:`TRIGGER_COLUMNS`), its warnings and each rule's offer, from
    the customers firing each rule and the event types seen in the window (whichever
    engine counted them)."""
    offers = _cell_offers(segment_stage)
    names = {int(k): str(v) for k, v in (segment_names or {}).items()}
    warnings: list[str] = []
    rows, chosen = [], []
    for rule, n in zip(rules, firing, strict=True):
        offer, value = rule.offer, np.nan
        if rule.segment is not None and rule.stage is not None:
            cell = offers.get((rule.segment, rule.stage))
            if cell is not None:
                offer = offer or cell[0]
                value = cell[1] if cell[0] == offer else np.nan
        unseen = sorted(set(rule.events) - known)
        if has_events and unseen:
            warnings.append(f"rule {rule.id}: no {', '.join(unseen)} events in the window")
        chosen.append(offer)
        rows.append({
            "rule_id": rule.id, "segment": rule.segment,
            "segment_name": names.get(rule.segment, "") if rule.segment is not None else "any",
            "stage": rule.stage or "any", "event_condition": rule.condition(), "offer": offer,
            "offer_expected_value": value, "customers_firing": int(n),
            "description": rule.description,
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=list(TRIGGER_COLUMNS))
    table["segment"] = table["segment"].astype("Int64")
    return table, warnings, chosen


def _recent(events: pd.DataFrame | None, today: pd.Timestamp, days: float) -> pd.DataFrame:
    cols = ["customer_id", "timestamp", "event_type"]
    if events is None or not len(events) or days <= 0:
        return pd.DataFrame(columns=cols)
    ts = pd.to_datetime(events["timestamp"])
    keep = (ts <= today) & (ts > today - pd.Timedelta(days=days))
    out = events.loc[keep, cols].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["timestamp"] = ts[keep]
    return out


def _hits(ev: pd.DataFrame, rule: TriggerRule, today: pd.Timestamp, ids: set[str]) -> pd.DataFrame:
    """``customer_id``, ``events``, ``last_event`` of the customers with enough events."""
    e = ev[
        ev["event_type"].astype(str).isin(rule.events)
        & (ev["timestamp"] > today - pd.Timedelta(days=rule.within_days))
        & ev["customer_id"].isin(ids)
    ]
    g = e.groupby("customer_id")["timestamp"].agg(["size", "max"])
    g = g[g["size"] >= rule.min_events]
    return pd.DataFrame(
        {"customer_id": g.index.astype(str), "events": g["size"].to_numpy(dtype=np.int64),
         "last_event": g["max"].to_numpy()}
    )  # fmt: skip


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = neutralise(out[c])
    return out


def write_triggers(result: TriggerResult, folder: Path | str) -> list[dict[str, Any]]:
    """Write ``triggers.csv`` and ``trigger_customers.csv`` into ``folder`` (the run's
    ``audiences/``) and add them to its ``manifest.json`` when there is one.

    Returns
    -------
    list of dict
        ``path``, ``rows``, ``sha256``, ``kind`` (``triggers``/``trigger_customers``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    firing = result.firing.assign(
        customer_id=result.firing["customer_id"].astype(str),
        last_event=pd.to_datetime(result.firing["last_event"]).dt.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for name, frame in (("triggers", result.table), ("trigger_customers", firing)):
        path = folder / f"{name}.csv"
        _safe_frame(frame).to_csv(path, index=False, encoding="utf-8")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append({"path": path.name, "rows": len(frame), "sha256": digest, "kind": name})
    manifest = folder / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        kept = [f for f in data.get("files", []) if f.get("path") not in {f["path"] for f in files}]
        data["files"] = kept + files
        manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return files


def trigger_blocks(sec: Any, result: TriggerResult) -> Any:
    """The triggers part of the activation report section."""
    t = result.table
    sec.text(
        f"{len(t)} trigger rule(s) on the events up to {result.analysis_date.date()}: "
        f"{result.n_firing:,} customers fire at least one now "
        "(audiences/triggers.csv and trigger_customers.csv; rules are [activation.triggers], "
        "the control group never fires)."
    )
    cols = ["rule_id", "segment", "stage", "event_condition", "offer", "offer_expected_value",
            "customers_firing"]  # fmt: skip
    sec.table(t[cols].round(2), "Trigger rules and the customers firing each at the analysis date.")
    for w in result.warnings:
        sec.warn(w)
    return sec
