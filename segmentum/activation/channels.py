"""Channel choice: which media, events or lists put the offer in front of the target segments.

Seed 001's worked example: an infant car seat maker can afford one of two conferences at the
same cost, A with 10,000 participants of whom few are in the market, or B with a little over
1,000 of whom most are. B is the right buy because it reaches more people *in the target
segments* per unit of cost. This module computes, per channel (one row of the ``channels``
table):

* ``target_people`` = audience × Σ_{k ∈ targets} share_k (expected people in the target
  segments);
* ``expected_value`` = audience × response rate × Σ_{k ∈ targets} share_k · value_k (value
  reached in the target segments: segment CLV per head, times the channel's response rate
  where the table gives one);
* ``cost_per_target`` and ``cost_per_value``;
* ``index`` = 100 × (target share of the audience) / (target share of the market): the media
  planner's affinity index (100 = as concentrated as the market).

With a budget, :func:`choose_channels` solves the integer programme "maximise Σ units_c ·
expected_value_c subject to Σ units_c · cost_c ≤ budget, 0 ≤ units_c ≤ cap_c" with
:func:`scipy.optimize.milp`, and :func:`value_frontier` traces the best value for every
budget. Without one, the channel with the most value per unit of cost is chosen.

The audience's mix is given by segment (columns ``segment_<id>``) or by descriptors (columns
``<descriptor>=<level>``, e.g. ``source=web``): then the customer base is raked (iterative
proportional fitting) to the channel's descriptor shares and its segment probabilities
averaged with those weights (:func:`mix_from_descriptors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentum.data.errors import DataError, Problem
from segmentum.report.context import jsonable
from segmentum.report.format import id_label

__all__ = [
    "CHANNEL_FIELDS",
    "ChannelPlan",
    "channel_table",
    "choose_channels",
    "mix_from_descriptors",
    "plan_channels",
    "read_mix",
    "value_frontier",
]

#: the per-channel fields of ``activation.json``'s ``channels`` list
CHANNEL_FIELDS: tuple[str, ...] = (
    "channel",
    "cost",
    "audience",
    "target_people",
    "expected_value",
    "cost_per_target",
    "index",
    "chosen",
)
_RESERVED = ("channel", "cost", "audience", "response_rate", "max_units")
_TOL = 0.01
_LISTED = 5


def _error(table: str, problems: list[Problem], hint: str) -> DataError:
    listed = " ".join(p.describe() for p in problems[:_LISTED])
    more = f" (and {len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
    return DataError(f"{table}: {len(problems)} bad value(s). {listed}{more}", problems, hint)


def _numbers(
    frame: pd.DataFrame, col: str, table: str, *, low: float, what: str, problems: list[Problem]
) -> np.ndarray:
    vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(~(np.isfinite(vals) & (vals >= low))):
        raw = frame[col].iloc[int(i)]
        reason = "negative" if np.isfinite(vals[i]) else "not a number"
        problems.append(Problem(table, table, int(i) + 1, col, str(raw), what, reason))
    return vals


def _check_mixes(
    channels: pd.DataFrame, groups: list[tuple[str, list[str]]], table: str
) -> list[Problem]:
    """Each row's mix: shares ≥ 0 summing to 1 (±1 %) per group; at least one group given."""
    problems: list[Problem] = []
    for i in range(len(channels)):
        given = False
        for name, cols in groups:
            if not cols:
                continue
            v = pd.to_numeric(channels[cols].iloc[i], errors="coerce").to_numpy(dtype=float)
            if np.isnan(v).all():
                continue
            given = True
            bad_cells = [c for c, x in zip(cols, v, strict=True) if not (x >= 0)]
            total = float(np.nansum(v))
            if bad_cells:
                problems.append(
                    Problem(
                        table,
                        table,
                        i + 1,
                        bad_cells[0],
                        str(channels[bad_cells[0]].iloc[i]),
                        "a share 0..1",
                        "not a share",
                    )
                )
            elif abs(total - 1.0) > _TOL:
                problems.append(
                    Problem(
                        table,
                        table,
                        i + 1,
                        ", ".join(cols),
                        f"{total:.3f}",
                        "shares summing to 1 (±1 %)",
                        f"the {name} mix sums to {total:.3f}",
                    )
                )
        if not given:
            problems.append(
                Problem(
                    table,
                    table,
                    i + 1,
                    "segment_<id> or <descriptor>=<level>",
                    None,
                    "the audience's mix",
                    "no mix given",
                )
            )
    return problems


def read_mix(
    channels: pd.DataFrame, segments: Sequence[int], *, table: str = "channels"
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Check the channels table and split its mix columns.

    Parameters
    ----------
    channels : pandas.DataFrame
        ``channel``, ``cost``, ``audience``; optional ``response_rate`` (0..1) and
        ``max_units`` (how many units may be bought, default 1); mix columns ``segment_<id>``
        (shares by segment) and/or ``<descriptor>=<level>`` (shares by descriptor).
    segments : sequence of int
        The run's segments (a ``segment_<id>`` column of another id is an error).

    Returns
    -------
    by_segment : pandas.DataFrame
        Rows as ``channels``, one column per segment of the run (shares; NaN rows where the
        channel's mix is given by descriptors only).
    by_descriptor : dict of str to list of str
        Descriptor → its ``<descriptor>=<level>`` columns.

    Raises
    ------
    DataError
        A missing column, a negative or non-numeric cost or audience, a response rate off
        0..1, an unknown segment, a mix that does not sum to 1 (±1 %), or a row with no mix:
        each named by table, row and column.
    """
    problems: list[Problem] = []
    for col in ("channel", "cost", "audience"):
        if col not in channels.columns:
            problems.append(Problem(table, table, None, col, None, "a column", "missing"))
    if problems:
        raise _error(table, problems, "The channels table needs channel, cost and audience.")
    if channels["channel"].duplicated().any():
        i = int(np.flatnonzero(channels["channel"].duplicated().to_numpy())[0])
        raise _error(
            table,
            [
                Problem(
                    table,
                    table,
                    i + 1,
                    "channel",
                    str(channels["channel"].iloc[i]),
                    "one row per channel",
                    "duplicate channel",
                )
            ],
            "Give each channel once.",
        )
    for col, what in (("cost", "a cost ≥ 0"), ("audience", "an audience size ≥ 0")):
        _numbers(channels, col, table, low=0.0, what=what, problems=problems)
    if "response_rate" in channels.columns:
        rr = _numbers(
            channels, "response_rate", table, low=0.0, what="a rate 0..1", problems=problems
        )
        for i in np.flatnonzero(rr > 1):
            problems.append(
                Problem(
                    table, table, int(i) + 1, "response_rate", str(rr[i]), "a rate 0..1", "above 1"
                )
            )
    if "max_units" in channels.columns:
        _numbers(
            channels, "max_units", table, low=0.0, what="a whole number ≥ 0", problems=problems
        )
    known = {f"segment_{int(s)}": int(s) for s in segments}
    seg_cols = [c for c in channels.columns if str(c).startswith("segment_")]
    for c in seg_cols:
        if c not in known:
            problems.append(
                Problem(
                    table,
                    table,
                    None,
                    c,
                    None,
                    "segment_<id> for a segment of the run: " + ", ".join(known),
                    "unknown segment",
                )
            )
    desc: dict[str, list[str]] = {}
    for c in channels.columns:
        if "=" in str(c) and c not in _RESERVED:
            desc.setdefault(str(c).split("=", 1)[0], []).append(str(c))
    if problems:
        raise _error(table, problems, "Fix those cells; see README 'Channels'.")
    by_seg = pd.DataFrame(index=channels.index, columns=list(known.values()), dtype=float)
    for c in seg_cols:
        by_seg[known[c]] = pd.to_numeric(channels[c], errors="coerce").to_numpy(dtype=float)
    groups = [("segment", [c for c in seg_cols])] + [(d, cols) for d, cols in desc.items()]
    problems = _check_mixes(channels, groups, table)
    if problems:
        raise _error(table, problems, "Each channel's shares must sum to 1; see README.")
    given = by_seg.notna().any(axis=1).to_numpy()
    by_seg = by_seg.fillna(0.0)
    by_seg.loc[~given, :] = np.nan
    sums = by_seg.sum(axis=1).to_numpy()
    by_seg = by_seg.div(np.where(sums > 0, sums, 1.0), axis=0)
    return by_seg, desc


def mix_from_descriptors(
    marginals: Mapping[str, Mapping[str, float]],
    reference: pd.DataFrame,
    probabilities: np.ndarray,
    *,
    n_iter: int = 50,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """A channel's segment mix from its descriptor shares, through the lead model.

    The reference people (the customer base, rows of ``reference``) are raked (iterative
    proportional fitting, Deming & Stephan 1940) so that their weighted shares of each
    descriptor's levels match ``marginals``; the mix is their segment probabilities averaged
    with those weights.

    A row of ``reference`` may stand for a cell of people who share its descriptor values
    (``counts`` people, ``probabilities`` their mean): raking gives everyone in a cell the
    same factor, so the cells give the mix the people give (an engine counts the cells and
    only they reach the driver).

    Parameters
    ----------
    marginals : mapping
        Descriptor column → {level: share}.
    reference : pandas.DataFrame
        The reference people's descriptor columns (or the cells').
    probabilities : numpy.ndarray
        Their segment probabilities (rows × segments) from the lead model (a cell's: the
        mean of its people's).
    counts : numpy.ndarray, optional
        People in each row's cell (default: one person per row).

    Raises
    ------
    ValueError
        A descriptor the reference lacks, or a level with share > 0 nobody has.
    """
    w = np.ones(len(reference)) if counts is None else np.asarray(counts, dtype=float).copy()
    cols = {}
    for d, shares in marginals.items():
        if d not in reference.columns:
            raise ValueError(f"descriptor {d!r} is not a column of the customer base")
        vals = reference[d].astype(str).to_numpy()
        for level, share in shares.items():
            if share > 0 and not (vals == str(level)).any():
                raise ValueError(f"no customer has {d} = {level!r}")
        cols[d] = (vals, {str(k): float(v) for k, v in shares.items()})
    for _ in range(n_iter):
        for vals, shares in cols.values():
            total = w.sum()
            for level, share in shares.items():
                m = vals == level
                cur = w[m].sum()
                if cur > 0:
                    w[m] *= share * total / cur
            other = ~np.isin(vals, list(shares))
            w[other] = 0.0
    out = (w[:, None] * probabilities).sum(axis=0) / max(w.sum(), 1e-300)
    return np.asarray(out, dtype=float)


def channel_table(
    channels: pd.DataFrame,
    mix: pd.DataFrame,
    *,
    targets: Sequence[int],
    value_per_head: Mapping[int, float],
    market_shares: Mapping[int, float],
) -> pd.DataFrame:
    """Per channel: target people, value reached, cost per target and per value, index.

    Parameters
    ----------
    channels : pandas.DataFrame
        Checked by :func:`read_mix` (``channel``, ``cost``, ``audience``, optional
        ``response_rate``, ``max_units``).
    mix : pandas.DataFrame
        Share of each channel's audience in each segment (rows as ``channels``, columns
        segments).
    targets : sequence of int
        Target segments.
    value_per_head : mapping of int to float
        Segment value per person (CLV per head; 1 for every segment counts people).
    market_shares : mapping of int to float
        Each segment's share of the market (for the affinity index).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``cost``, ``audience``, ``response_rate``, ``max_units``,
        ``target_share``, ``target_people``, ``expected_value``, ``cost_per_target``,
        ``cost_per_value``, ``index``.
    """
    segs = [int(s) for s in mix.columns]
    tmask = np.array([s in set(int(t) for t in targets) for s in segs])
    v = np.array([float(value_per_head.get(s, 0.0)) for s in segs])
    m = mix.to_numpy(dtype=float)
    audience = pd.to_numeric(channels["audience"]).to_numpy(dtype=float)
    cost = pd.to_numeric(channels["cost"]).to_numpy(dtype=float)
    rr = (
        pd.to_numeric(channels["response_rate"]).fillna(1.0).to_numpy(dtype=float)
        if "response_rate" in channels
        else np.ones(len(channels))
    )
    caps = (
        pd.to_numeric(channels["max_units"]).fillna(1).to_numpy(dtype=float)
        if "max_units" in channels
        else np.ones(len(channels))
    )
    tshare = m[:, tmask].sum(axis=1)
    people = audience * tshare
    value = audience * rr * (m[:, tmask] * v[tmask]).sum(axis=1)
    market_t = sum(float(market_shares.get(s, 0.0)) for s in segs if s in set(targets))
    with np.errstate(divide="ignore", invalid="ignore"):
        cpt = np.where(people > 0, cost / people, np.inf)
        cpv = np.where(value > 0, cost / value, np.inf)
    return pd.DataFrame(
        {
            "channel": channels["channel"].astype(str).to_numpy(),
            "cost": cost,
            "audience": audience,
            "response_rate": rr,
            "max_units": np.floor(caps).astype(np.int64),
            "target_share": tshare,
            "target_people": people,
            "expected_value": value,
            "cost_per_target": cpt,
            "cost_per_value": cpv,
            "index": 100.0 * tshare / market_t if market_t > 0 else np.nan,
        }
    )


def choose_channels(table: pd.DataFrame, budget: float | None = None) -> np.ndarray:
    """Units to buy of each channel.

    With a budget: the integer programme max Σ u_c · value_c s.t. Σ u_c · cost_c ≤ budget,
    u_c ∈ {0, …, max_units_c} (:func:`scipy.optimize.milp`; ties broken towards the cheaper
    plan). Without one: one unit of the channel with the most value per unit of cost.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`channel_table`'s output.
    budget : float, optional

    Returns
    -------
    numpy.ndarray of int
        Units per channel (rows of ``table``).
    """
    n = len(table)
    value = table["expected_value"].to_numpy(dtype=float)
    cost = table["cost"].to_numpy(dtype=float)
    caps = table["max_units"].to_numpy(dtype=float)
    units = np.zeros(n, dtype=np.int64)
    if n == 0:
        return units
    if budget is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(cost > 0, value / cost, np.where(value > 0, np.inf, 0.0))
        best = int(np.argmax(per))
        if value[best] > 0 and caps[best] >= 1:
            units[best] = 1
        return units
    from scipy.optimize import Bounds, LinearConstraint, milp

    scale = max(float(value.max()), 1e-12)
    # maximise value; a tiny cost penalty prefers the cheaper of equal-value plans
    penalty = 1e-9 * cost / max(float(cost.max()), 1e-12)
    res = milp(
        c=-(value / scale) + penalty,
        constraints=[LinearConstraint(cost[None, :], -np.inf, float(budget))],
        integrality=np.ones(n),
        bounds=Bounds(np.zeros(n), caps),
    )
    if res.x is None:  # pragma: no cover - the zero plan is always feasible
        return units
    return np.rint(res.x).astype(np.int64)


def value_frontier(table: pd.DataFrame, budgets: Sequence[float] | None = None) -> pd.DataFrame:
    """The best value reachable at each budget (the value-vs-budget frontier).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`channel_table`'s output.
    budgets : sequence of float, optional
        Default: 0, every single channel's cost, and 24 even steps up to buying everything.

    Returns
    -------
    pandas.DataFrame
        ``budget``, ``expected_value``, ``spent``, ``channels`` (the chosen ones, joined by
        ", ").
    """
    cost = table["cost"].to_numpy(dtype=float)
    caps = table["max_units"].to_numpy(dtype=float)
    if budgets is None:
        top = float((cost * caps).sum())
        budgets = sorted({0.0, *cost.tolist(), *np.linspace(0, top, 25).tolist()})
    rows = []
    for b in budgets:
        u = choose_channels(table, float(b))
        rows.append(
            {
                "budget": float(b),
                "expected_value": float((u * table["expected_value"]).sum()),
                "spent": float((u * cost).sum()),
                "channels": ", ".join(table["channel"][u > 0]),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ChannelPlan:
    """What :func:`plan_channels` finds.

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`channel_table` plus ``units`` and ``chosen``.
    budget : float or None
    frontier : pandas.DataFrame or None
        :func:`value_frontier` (with a budget).
    break_even : dict of str to float
        For each chosen channel, the cost at which it would stop being a better buy per unit
        of cost than the best channel not chosen.
    """

    table: pd.DataFrame
    budget: float | None
    frontier: pd.DataFrame | None
    break_even: dict[str, float] = field(default_factory=dict)

    @property
    def sentence(self) -> str:
        """Which channel to buy and why, in one sentence, channels named by their labels
        (``conference_b`` → "Conference B", or the project's ``[report.labels]`` while its
        report is built: :func:`segmentum.report.format.use_labels`)."""
        return _sentence(self.table, self.budget)[0]

    def to_json(self) -> list[dict[str, Any]]:
        """``activation.json``'s ``channels`` list (the contract's fields, then the rest)."""
        out = []
        for _, r in self.table.iterrows():
            e: dict[str, Any] = {k: jsonable(r[k]) for k in CHANNEL_FIELDS}
            e["chosen"] = bool(r["chosen"])
            e["units"] = int(r["units"])
            e["cost_per_value"] = jsonable(r["cost_per_value"])
            e["target_share"] = jsonable(r["target_share"])
            if str(r["channel"]) in self.break_even:
                e["break_even_cost"] = jsonable(self.break_even[str(r["channel"])])
            out.append(e)
        return out


def _sentence(t: pd.DataFrame, budget: float | None) -> tuple[str, dict[str, float]]:
    chosen = t[t["chosen"]]
    rest = t[~t["chosen"]]
    if budget is not None and (rest["cost"] <= budget).any():
        rest = rest[rest["cost"] <= budget]  # compare with what the budget could have bought
    if chosen.empty:
        why = "no channel reaches anyone in the target segments"
        if budget is not None:
            why = f"no channel reaches target people within the budget of {budget:,.0f}"
        return f"Buy nothing: {why}.", {}
    best = chosen.sort_values("expected_value", ascending=False).iloc[0]
    names = " and ".join(id_label(c) for c in chosen["channel"])
    head = (
        f"Buy {names}: {best['audience']:,.0f} people of whom {best['target_share']:.0%} are "
        f"in target segments"
        if len(chosen) == 1
        else f"Buy {names} ({chosen['cost'].mul(chosen['units']).sum():,.0f} of the "
        f"{budget:,.0f} budget): {chosen['target_people'].mul(chosen['units']).sum():,.0f} "
        "people in target segments"
    )
    be: dict[str, float] = {}
    if rest.empty:
        return head + ".", be
    with np.errstate(divide="ignore", invalid="ignore"):
        per_rest = rest["expected_value"] / rest["cost"].where(rest["cost"] > 0)
    other = rest.loc[per_rest.fillna(0).idxmax()]
    o_per_cost = other["target_people"] / other["cost"] if other["cost"] > 0 else math.inf
    b_per_cost = best["target_people"] / best["cost"] if best["cost"] > 0 else math.inf
    for _, r in chosen.iterrows():
        o_val = other["expected_value"] / other["cost"] if other["cost"] > 0 else math.inf
        be[str(r["channel"])] = float(r["expected_value"] / o_val) if o_val > 0 else math.inf
    if o_per_cost > 0 and math.isfinite(b_per_cost):
        ratio = (
            f"{b_per_cost / o_per_cost:.1f}× {id_label(other['channel'])}'s target people per "
            "unit of cost"
        )
    else:
        ratio = f"{id_label(other['channel'])} reaches no target people"
    tail = ""
    if math.isfinite(be[str(best["channel"])]):
        tail = (
            f"; {id_label(best['channel'])} stays the better buy per unit of cost up to a cost of "
            f"{be[str(best['channel'])]:,.0f} (break-even)"
        )
    return f"{head} — {ratio}{tail}.", be


def plan_channels(
    channels: pd.DataFrame,
    mix: pd.DataFrame,
    *,
    targets: Sequence[int],
    value_per_head: Mapping[int, float],
    market_shares: Mapping[int, float],
    budget: float | None = None,
) -> ChannelPlan:
    """Score every channel, choose what to buy and say why.

    Parameters
    ----------
    channels, mix, targets, value_per_head, market_shares :
        As :func:`channel_table`.
    budget : float, optional
        Money to spend; without it the best channel per unit of cost is chosen.

    Returns
    -------
    ChannelPlan

    Examples
    --------
    >>> ch = pd.DataFrame({"channel": ["conference_a", "conference_b"],
    ...                    "cost": [20000, 20000], "audience": [10000, 1000]})
    >>> mix = pd.DataFrame({1: [0.05, 0.8], 2: [0.95, 0.2]})
    >>> plan = plan_channels(ch, mix, targets=[1], value_per_head={1: 1.0, 2: 1.0},
    ...                      market_shares={1: 0.1, 2: 0.9}, budget=20000)
    >>> plan.table["chosen"].tolist()
    [False, True]
    """
    t = channel_table(
        channels,
        mix,
        targets=targets,
        value_per_head=value_per_head,
        market_shares=market_shares,
    )
    units = choose_channels(t, budget)
    t["units"] = units
    t["chosen"] = units > 0
    frontier = value_frontier(t) if budget is not None else None
    return ChannelPlan(t, budget, frontier, _sentence(t, budget)[1])
