"""The value stage's report section, built from a :class:`ValueResult` only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from segmentum.report.section import Section
from segmentum.value import plots

if TYPE_CHECKING:
    from segmentum.value.aggregates import ValueAggregates
    from segmentum.value.stage import ValueResult

__all__ = ["report_section"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _describe_decile(result: ValueResult, agg: ValueAggregates, decile: int) -> str:
    prof = agg.decile_profile
    d = prof.loc[prof["decile"] == decile].iloc[0]
    row = result.deciles.loc[result.deciles["decile"] == decile].iloc[0]
    name = "top" if decile == 1 else "bottom"
    parts = [
        f"The {name} decile ({int(d['customers']):,} customers) brings "
        f"{_pct(row['revenue_share'])} of revenue",
    ]
    if "clv_share" in row and pd.notna(row["clv_share"]):
        parts.append(f"and {_pct(row['clv_share'])} of expected CLV")
    desc = " ".join(parts)
    extra = (
        f"; its customers bought on {d['frequency_mean'] + 1:.1f} days on average, "
        f"spent {_money(d['revenue_mean'])} on average"
    )
    if "expected_purchases_mean" in d:
        extra += (
            f", and are expected to buy {d['expected_purchases_mean']:.2f} times each over the "
            "CLV horizon"
        )
    if "unprofitable" in d:
        extra += f"; {int(d['unprofitable']):,} of them are unprofitable after cost-to-serve"
    return desc + extra + "."


def _model_evidence(sec: Section, result: ValueResult) -> None:
    """The purchase model's parameters and its holdout check, in the appendix."""
    s = result.summary
    pm = s.get("purchase_model")
    if pm:
        params = (
            pd.DataFrame({"estimate": pm["params"], "standard error": pm["standard_errors"]})
            .rename_axis("parameter")
            .reset_index()
        )
        sec.table(
            params,
            caption=f"{pm['name']} parameters (log-likelihood {pm['log_likelihood']:,.1f}"
            + (f"; {pm['fit_note']})" if "patterns" in pm.get("fit_note", "") else ")"),
            appendix=True,
        )
    if len(result.validation):
        h = s.get("holdout", {})
        if h:
            sec.text(
                f"Holdout check: the model fitted up to {h['calibration_end']} predicts "
                f"{h['predicted_total']:,.0f} repeat purchases in the next "
                f"{h['holdout_periods']:.0f} periods against {h['actual_total']:,.0f} actual "
                f"({h['total_error_pct']:+.1f} %); per-customer correlation {h['correlation']:.2f}.",
                appendix=True,
            )
        sec.table(
            result.validation,
            caption="Holdout: predicted vs actual by calibration frequency",
            appendix=True,
        )
        sec.figure(
            plots.conditional_expectations(result.validation),
            caption="Conditional expectations",
            appendix=True,
        )


def report_section(result: ValueResult) -> Section:
    """Decile table and Pareto chart, RFM grid, CLV distribution, model fit and validation.

    Parameters
    ----------
    result : ValueResult
        Output of :func:`segmentum.value.run_value`.

    Returns
    -------
    segmentum.report.section.Section
        Key ``"value"``.
    """
    s = result.summary
    dec = result.deciles
    top_share = s.get("top_decile_revenue_share")
    headline = f"{s['customers']:,} customers, {s['repeat_buyers']:,} of them repeat buyers."
    if top_share is not None:
        headline = f"The top 10 % of customers bring {_pct(top_share)} of revenue; " + headline
    sec = Section("value", "Customer value", summary=headline)
    for w in result.warnings:
        sec.warn(w)

    # deciles and the Pareto curve
    sec.text(
        f"Customers are ranked by {s['decile_by']} into ten equal groups (1 = top). "
        "The table totals each group and its cumulative share: the Pareto curve."
    )
    sec.table(dec, caption="Value deciles")
    sec.figure(plots.decile_chart(dec, "revenue"), caption="Revenue by value decile")
    # the per-customer table's aggregates (on Spark computed there: no customer is fetched)
    agg = result.value_aggregates()
    pc = agg.columns
    if len(dec):
        sec.text(_describe_decile(result, agg, int(dec["decile"].min())))
        sec.text(_describe_decile(result, agg, int(dec["decile"].max())))

    # RFM
    if agg.rfm_grid is not None:
        sec.figure(plots.rfm_heatmap(agg.rfm_grid), caption="RFM grid")

    # CLV
    if "clv" in pc:
        sec.text(
            f"CLV is the {s.get('clv_basis', 'revenue')}-based value of the next "
            f"{s.get('clv_horizon_days', 365):.0f} days, discounted at "
            f"{100 * s.get('discount_rate', 0):.0f} % a year: total {_money(s['clv_total'])}, "
            f"mean {s['clv_mean']:,.2f} per customer."
        )
        n_out = (s.get("spend_model") or {}).get("excluded_customers") or 0
        if n_out:
            sec.text(
                f"{n_out:,} repeat {'buyer' if n_out == 1 else 'buyers'} with a mean repeat spend "
                f"of zero or less (refunds or free items) {'was' if n_out == 1 else 'were'} left "
                "out of the spend model, which needs positive spend; their CLV uses the "
                "population mean spend per purchase."
            )
        if agg.clv_histogram is not None:
            sec.figure(plots.histogram_chart(agg.clv_histogram, "clv"), caption="CLV distribution")

    if "profit" in pc and s.get("cost_components"):
        sec.text(
            f"Cost-to-serve counts {', '.join(s['cost_components'])}; profit is "
            f"{'margin' if 'margin' in pc else 'revenue'} minus cost-to-serve: total "
            f"{_money(s['profit_total'])}, with {s['unprofitable_customers']:,} customers below zero."
        )

    _model_evidence(sec, result)
    if result.tracking is not None:
        sec.figure(plots.tracking_plot(result.tracking), caption="Tracking plot", appendix=True)
    return sec
