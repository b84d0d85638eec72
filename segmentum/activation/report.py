"""The customer half of the report's "Acting on customers" section, and its Plotly figures.

Plotly is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.customers import CustomerActivation
from segmentum.activation.lifecycle import STAGE_NAMES
from segmentum.report.format import id_label, item_label, level_label
from segmentum.report.section import Section

__all__ = [
    "customer_blocks",
    "flow_heatmap",
    "flow_moves",
    "flow_sankey",
    "offer_heatmap",
    "stage_heatmap",
]

#: the default stages by kind, for the flow's colours and its sentence
_PROSPECT = ("discovering", "browsing", "buying")
_ACTIVE = ("new", "repeat", "loyal")
_LAPSED = ("lapsing", "lost")
_NOT_KNOWN = "not yet known"


def _grid(frame: pd.DataFrame, rows: str, cols: str, value: str, order: list[str]) -> pd.DataFrame:
    grid = frame.pivot_table(index=rows, columns=cols, values=value, aggfunc="first")
    present = [s for s in order if s in grid.columns] + [s for s in grid.columns if s not in order]
    return grid[present]


def stage_heatmap(table: pd.DataFrame, order: list[str]) -> Any:
    """Customers per segment x stage (colour), with the value they hold in the hover."""
    import plotly.graph_objects as go

    counts = _grid(table, "segment", "stage", "customers", order)
    value = _grid(table, "segment", "stage", "value", order).reindex_like(counts)
    fig = go.Figure(
        go.Heatmap(
            z=counts.to_numpy(dtype=float),
            x=list(counts.columns),
            y=[f"segment {s}" for s in counts.index],
            customdata=value.to_numpy(dtype=float),
            colorscale="Blues",
            colorbar={"title": "customers"},
            text=counts.fillna(0).astype(int).astype(str).to_numpy(),
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x}: %{z:,} customers, value %{customdata:,.0f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="stage", yaxis_title="", height=380)
    return fig


def flow_heatmap(flow: pd.DataFrame, order: list[str]) -> Any:
    """Customers by stage at the earlier date (rows) and now (columns)."""
    import plotly.graph_objects as go

    grid = flow.pivot_table(
        index="from_stage", columns="to_stage", values="customers", aggfunc="sum", fill_value=0
    )
    rows = [s for s in ["not yet known", *order] if s in grid.index]
    cols = [s for s in order if s in grid.columns]
    grid = grid.loc[rows, cols]
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=cols,
            y=rows,
            colorscale="Purples",
            colorbar={"title": "customers"},
            text=grid.astype(int).astype(str).to_numpy(),
            texttemplate="%{text}",
            hovertemplate="from %{y} to %{x}: %{z:,} customers<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="stage now", yaxis_title="stage before", height=400)
    fig.update_yaxes(autorange="reversed")
    return fig


def _kinds(names: dict[str, str]) -> dict[str, str]:
    """Each stage label (renamed or not) by kind: prospect, active or lapsed."""
    out = {}
    for kind, stages in (("prospect", _PROSPECT), ("active", _ACTIVE), ("lapsed", _LAPSED)):
        for s in stages:
            out[names.get(s, s)] = kind
    return out


def flow_moves(flow: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The flow between stages as a table: each move with its kind and its share.

    Parameters
    ----------
    flow : pandas.DataFrame
        ``from_stage``, ``to_stage``, ``customers`` (``CustomerActivation.flow``).
    names : dict, optional
        The renamed stages (``[activation.stages] names``).

    Returns
    -------
    pandas.DataFrame
        ``from_stage``, ``to_stage``, ``customers``, ``share_of_from`` (of the customers in
        ``from_stage`` at the earlier date) and ``move``: ``stayed``, ``converted`` (prospect
        to customer), ``advanced`` (a later step: browsing to buying, new to repeat, …),
        ``lapsed`` (an active customer to lapsing or lost), ``came back`` (lapsing or lost to
        active), ``arrived`` (not yet known before) or ``other``; largest first.
    """
    kinds = _kinds(names or {})
    order = {label: i for i, label in enumerate(kinds)}
    f = flow[["from_stage", "to_stage", "customers"]].copy()
    total = f.groupby("from_stage")["customers"].transform("sum")
    f["share_of_from"] = f["customers"] / total
    a = f["from_stage"].map(kinds).fillna("")
    b = f["to_stage"].map(kinds).fillna("")
    later = f["to_stage"].map(order).fillna(-1) > f["from_stage"].map(order).fillna(-1)
    f["move"] = np.select(
        [
            f["from_stage"] == f["to_stage"],
            f["from_stage"] == _NOT_KNOWN,
            (a == "prospect") & (b == "active"),
            (a == "active") & (b == "lapsed"),
            (a == "lapsed") & (b == "active"),
            later & (a == b) & (a != "lapsed"),
        ],
        ["stayed", "arrived", "converted", "lapsed", "came back", "advanced"],
        "other",
    )
    return f.sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)


_MOVE_COLOURS = {
    "stayed": "rgba(160,160,160,0.35)",
    "arrived": "rgba(120,150,200,0.45)",
    "converted": "rgba(42,157,143,0.6)",
    "advanced": "rgba(42,157,143,0.4)",
    "lapsed": "rgba(231,111,81,0.6)",
    "came back": "rgba(233,196,106,0.7)",
    "other": "rgba(130,130,180,0.4)",
}


def flow_sankey(flow: pd.DataFrame, order: list[str], names: dict[str, str] | None = None) -> Any:
    """The flow between stages as a Sankey diagram: stage before (left) to stage now (right).

    Links are coloured by the kind of move (:func:`flow_moves`): green where prospects
    became customers or customers moved on, red where active customers lapsed, amber where
    lapsed ones came back, grey where nothing changed.
    """
    import plotly.graph_objects as go

    moves = flow_moves(flow, names)

    def present(stages: list[str], column: str) -> list[str]:
        seen = list(pd.unique(moves[column]))
        return [s for s in stages if s in seen] + [s for s in seen if s not in stages]

    left = present([_NOT_KNOWN, *order], "from_stage")
    right = present(order, "to_stage")
    index_left = {s: i for i, s in enumerate(left)}
    index_right = {s: len(left) + i for i, s in enumerate(right)}

    def ys(stages: list[str], column: str) -> list[float]:
        size = moves.groupby(column)["customers"].sum().reindex(stages).to_numpy(dtype=float)
        centre = (np.cumsum(size) - size / 2) / size.sum()
        return list(0.02 + 0.96 * centre)

    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [f"{s} (before)" for s in left] + [f"{s} (now)" for s in right],
                "x": [0.01] * len(left) + [0.99] * len(right),
                "y": ys(left, "from_stage") + ys(right, "to_stage"),
                "pad": 12,
                "thickness": 16,
                "hovertemplate": "%{label}: %{value:,} customers<extra></extra>",
            },
            link={
                "source": [index_left[s] for s in moves["from_stage"]],
                "target": [index_right[s] for s in moves["to_stage"]],
                "value": moves["customers"].astype(int).tolist(),
                "color": [_MOVE_COLOURS[m] for m in moves["move"]],
                "customdata": moves["move"].tolist(),
                "hovertemplate": "%{source.label} to %{target.label}: %{value:,} customers "
                "(%{customdata})<extra></extra>",
            },
        )
    )
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def _flow_sentence(moves: pd.DataFrame, names: dict[str, str]) -> str:
    """Who moved where, in words: the conversions, the lapses and the returns."""
    by = moves.groupby("move")["customers"].sum()
    browse, buy = names.get("browsing", "browsing"), names.get("buying", "buying")
    b2b = moves[(moves["from_stage"] == browse) & (moves["to_stage"] == buy)]["customers"].sum()
    known = int(moves.loc[moves["from_stage"] != _NOT_KNOWN, "customers"].sum())
    parts = [
        f"{int(by.get('converted', 0)):,} prospects became customers",
        f"{int(b2b):,} moved from {browse} to {buy}",
        f"{int(by.get('lapsed', 0)):,} active customers lapsed (to "
        f"{names.get('lapsing', 'lapsing')} or {names.get('lost', 'lost')})",
        f"{int(by.get('came back', 0)):,} lapsing or lost customers came back",
        f"{int(by.get('stayed', 0)):,} of the {known:,} known before stayed where they were",
        f"{int(by.get('arrived', 0)):,} were not yet known",
    ]
    return "; ".join(parts) + "."


def _uplift_sentence(ca: CustomerActivation) -> str:
    """How the offers that change a covariate priced in the CLV uplift, in words."""
    assert ca.uplift is not None
    parts = []
    for u in ca.uplift.summary():
        eff = "; ".join(
            f"{item_label(e['covariate'])} {e['coef']:+.2f} ± {e['se']:.2f}" for e in u["effects"]
        )
        parts.append(
            f"{id_label(u['offer_id'])} sets {item_label(u['covariate']).lower()} to "
            f"{level_label(u['value'])} ({u['process']} coefficient "
            f"{eff or 'n/a'}): CLV uplift {u['mean_clv_uplift']:+,.0f} on average for the "
            f"{u['customers_moved']:,} customers it moves"
        )
    return (
        "Offers that change a covariate ([activation.offer_covariates]) add P(accept) x the "
        f"CLV uplift of taking them, from the {ca.uplift.model} model refitted with it: "
        + "; ".join(parts)
        + "."
    )


def offer_heatmap(table: pd.DataFrame, order: list[str]) -> Any:
    """The offer chosen most per segment x stage (text) and its mean expected value (colour)."""
    import plotly.graph_objects as go

    ev = _grid(table, "segment", "stage", "expected_value", order)
    offer = table.pivot_table(
        index="segment", columns="stage", values="offer", aggfunc="first"
    ).reindex_like(ev)
    text = np.where(
        offer.isna().to_numpy(), "", [[id_label(o) for o in row] for row in offer.to_numpy()]
    )
    fig = go.Figure(
        go.Heatmap(
            z=ev.to_numpy(dtype=float),
            x=list(ev.columns),
            y=[f"segment {s}" for s in ev.index],
            colorscale="Greens",
            colorbar={"title": "expected value"},
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x}: %{text}, expected value %{z:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="stage", yaxis_title="", height=380)
    return fig


def customer_blocks(sec: Section, ca: CustomerActivation) -> Section:
    """Add the customer half to the activation section: stages, flow, offers, control group."""
    order = [ca.config.stages.names.get(s, s) for s in STAGE_NAMES]
    k = ca.counts
    counts = k.stages
    sec.text(
        "Lifecycle stage of every customer at the analysis date: "
        + ", ".join(f"{s} {int(counts[s]):,}" for s in order if s in counts)
        + ". Lapsing and lost read the value model's P(alive) against recency, not a day "
        "count alone; the rules are [activation.stages]."
    )
    sec.figure(
        stage_heatmap(ca.segment_stage, order),
        "Customers per segment x stage"
        + (f"; the hover shows their {ca.value_column}." if ca.value_column else "."),
    )
    cols = ["segment", "stage", "customers", "value"]
    sec.table(
        ca.segment_stage[cols].round(2),
        f"Segment x stage: customers and {ca.value_column or 'value'}.",
    )
    if ca.flow is not None and ca.flow_date is not None and len(ca.flow):
        names = dict(ca.config.stages.names)
        moves = flow_moves(ca.flow, names)
        sec.text(
            f"Between {ca.flow_date.date()} and {ca.analysis_date.date()}: "
            + _flow_sentence(moves, names)
        )
        sec.figure(
            flow_sankey(ca.flow, order, names),
            f"Flow between stages: stage on {ca.flow_date.date()} (left) to stage on "
            f"{ca.analysis_date.date()} (right); green: converted or moved on, red: lapsed, "
            "amber: came back, grey: stayed.",
        )
        sec.table(
            moves.round(4),
            f"Moves between stages, {ca.flow_date.date()} to {ca.analysis_date.date()}, "
            "largest first (share: of the customers in the stage before).",
        )
    if ca.offers is not None:
        sec.text(
            f"Next best offer for {k.offered:,} of {k.customers:,} customers, expected value "
            f"{k.expected_value_total:,.0f} in all (P(accept) x value - "
            "cost; eligibility, then the highest expected value, then the contact policy)."
        )
        if ca.uplift is not None:
            sec.text(_uplift_sentence(ca))
        sec.figure(
            offer_heatmap(ca.segment_stage, order),
            "The offer chosen most per segment x stage; colour: its mean expected value.",
        )
        if k.no_offer:
            reasons = pd.DataFrame(
                {"no offer because": list(k.no_offer), "customers": list(k.no_offer.values())}
            )
            sec.table(reasons, "Customers without an offer, by reason.")
    share = k.control / k.customers if k.customers else float("nan")
    sec.text(
        f"Universal control group: {k.control:,} customers ({share:.1%}; target "
        f"{ca.config.control_share:.0%} of each segment) get no offer, so the lift can be read "
        "later. A stable hash of the project seed and customer id picks them: the same people "
        "in every run."
    )
    if ca.acceptance is not None:
        a = ca.acceptance
        shown = a[a["n"] > 0] if (a["n"] > 0).any() else a
        sec.table(
            shown.drop(columns="prior_strength").round(4),
            f"P(accept) per segment x stage x offer, Beta-smoothed towards the offer's overall "
            f"rate with prior strength {ca.config.prior_strength:g} (n = responses of the cell).",
            appendix=True,
        )
    for w in ca.warnings:
        sec.warn(w)
    return sec
