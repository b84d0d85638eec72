"""The customer half of the report's "Acting on customers" section, and its Plotly figures.

Plotly is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.customers import CustomerActivation
from segmentum.activation.lifecycle import STAGE_NAMES
from segmentum.report.section import Section

__all__ = ["customer_blocks", "flow_heatmap", "offer_heatmap", "stage_heatmap"]


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


def offer_heatmap(table: pd.DataFrame, order: list[str]) -> Any:
    """The offer chosen most per segment x stage (text) and its mean expected value (colour)."""
    import plotly.graph_objects as go

    ev = _grid(table, "segment", "stage", "expected_value", order)
    offer = table.pivot_table(
        index="segment", columns="stage", values="offer", aggfunc="first"
    ).reindex_like(ev)
    text = np.where(offer.isna().to_numpy(), "", offer.astype(object).to_numpy())
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
    c = ca.customers
    counts = c["stage"].value_counts()
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
    if ca.flow is not None and ca.flow_date is not None:
        sec.figure(
            flow_heatmap(ca.flow, order),
            f"Flow between stages: stage on {ca.flow_date.date()} (rows) against stage on "
            f"{ca.analysis_date.date()} (columns).",
        )
    if ca.offers is not None:
        offered = c["next_best_offer"].notna()
        sec.text(
            f"Next best offer for {int(offered.sum()):,} of {len(c):,} customers, expected value "
            f"{float(np.nansum(c['offer_expected_value'])):,.0f} in all (P(accept) x value - "
            "cost; eligibility, then the highest expected value, then the contact policy)."
        )
        sec.figure(
            offer_heatmap(ca.segment_stage, order),
            "The offer chosen most per segment x stage; colour: its mean expected value.",
        )
        reasons = c["no_offer_reason"].value_counts()
        if len(reasons):
            sec.table(
                reasons.rename_axis("no offer because").rename("customers").reset_index(),
                "Customers without an offer, by reason.",
            )
    ctrl = c["control"].to_numpy(dtype=bool)
    sec.text(
        f"Universal control group: {int(ctrl.sum()):,} customers ({ctrl.mean():.1%}; target "
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
