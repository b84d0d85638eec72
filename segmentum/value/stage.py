"""The value stage entry point: one call from transactions to a :class:`ValueResult`.

``run_value`` summarises the transactions in DuckDB, scores RFM, fits the purchase model
(BG/NBD or Pareto/NBD) and the Gamma-Gamma spend model, validates on a holdout, computes
CLV, cost-to-serve and profit, and ranks customers into value deciles. Every piece that
cannot be computed is left out and the reason is recorded in ``warnings`` (and in
``summary["skipped"]``): the stage never crashes on thin data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from segmentum.flow import Stage, StageContext
from segmentum.value.aggregates import value_aggregates
from segmentum.value.clv import discounted_expected_purchases, step_discount_rate
from segmentum.value.cost import CostRules, cost_to_serve
from segmentum.value.models import (
    ConvergenceError,
    GammaGammaModel,
)
from segmentum.value.report import report_section
from segmentum.value.rfm import assign_deciles, decile_table, rfm_scores
from segmentum.value.steps import (
    _MODELS,
    PER_CUSTOMER_COLUMNS,
    ValueConfig,
    ValueResult,
    _cost_rules,
    _fmt_int,
    _headline_summary,
    _holdout_validation,
    _jsonable,
    _Log,
    _Rows,
    _weakly_identified,
)
from segmentum.value.summary import TIME_UNITS, summarize

__all__ = [
    "PER_CUSTOMER_COLUMNS",
    "VALUE",
    "ValueConfig",
    "ValueResult",
    "per_customer_columns",
    "run_value",
]


def _fit_purchase_model(
    full: pd.DataFrame, pc: pd.DataFrame, cfg: ValueConfig, n_repeat: int, log: _Log
) -> Any:
    """Fit the purchase model on the full period; add ``p_alive`` and expected purchases.

    Fitted and scored on the distinct ``(x, t_x, T)`` patterns when they are fewer than
    :data:`PATTERN_RATIO` of the customers (see :class:`_Rows`).
    """
    model_cls, model_name = _MODELS[cfg.model]
    if n_repeat == 0:
        msg = (
            f"{model_name} needs repeat purchases: 0 of {_fmt_int(len(full))} customers bought "
            "twice; p_alive, expected purchases and CLV were not computed"
        )
        log.warnings.append(msg)
        for c in ("p_alive", "expected_purchases", "clv", "profit_clv"):
            log.skipped[c] = msg
        return None
    try:
        rows = _Rows.of(full)
        purchase = model_cls(penalizer=cfg.penalizer).fit(rows.table)
        log.models["purchase"] = purchase
        log.fit_rows["purchase"] = rows
        weak = _weakly_identified(purchase)
        if weak:
            log.warnings.append(
                f"{model_name}: the data barely identify {', '.join(weak)} (their standard "
                "errors cannot be computed; the information matrix is singular). Purchase "
                "rates may hardly vary between customers, or there may be no sign of "
                "customers dropping out; treat p_alive and CLV with care, or set "
                "penalizer = 0.001 under [value]"
            )
        horizon = cfg.clv_horizon_days / TIME_UNITS[cfg.time_unit]
        pc["p_alive"] = rows.spread(purchase.probability_alive(rows.table))
        pc["expected_purchases"] = rows.spread(purchase.expected_purchases(horizon, rows.table))
    except (ConvergenceError, FloatingPointError, ValueError) as exc:
        msg = f"{model_name} fit failed, CLV not computed: {exc}"
        log.warnings.append(msg)
        for c in ("p_alive", "expected_purchases", "clv", "profit_clv"):
            log.skipped[c] = msg
        return None
    return purchase


def _spend_fit_frame(full: pd.DataFrame, log: _Log) -> tuple[pd.DataFrame, np.ndarray]:
    """The repeat buyers Gamma-Gamma can be fitted on, and a mask of those left out.

    Gamma-Gamma models each customer's mean repeat spend as a Gamma variable, so it needs
    ``monetary_value > 0`` (Fader, Hardie & Lee 2005b). A repeat buyer whose repeat purchases
    sum to zero or less (refunds, free items) is outside the model's support: such customers
    are left out of the fit, with a note naming how many and why, instead of stopping the
    spend model (and CLV) for everyone.
    """
    repeat = (full["frequency"] > 0).to_numpy()
    excluded = repeat & (full["monetary_value"] <= 0).to_numpy()
    n_out = int(excluded.sum())
    log.spend_excluded = n_out
    if n_out:
        log.warnings.append(
            f"Gamma-Gamma: {n_out:,} of {int(repeat.sum()):,} repeat buyers "
            f"{'has' if n_out == 1 else 'have'} a mean repeat spend of zero or less (refunds or free items) and were left out of the spend "
            "model, which needs positive spend (Fader, Hardie & Lee 2005); their expected "
            "spend is the population mean spend, so they keep a CLV"
        )
    return full[~excluded], excluded


def _fit_spend_model(
    full: pd.DataFrame, pc: pd.DataFrame, cfg: ValueConfig, n_repeat: int, log: _Log
) -> GammaGammaModel | None:
    """Fit Gamma-Gamma (needs 10 repeat buyers with positive spend); add ``expected_spend``.

    Repeat buyers with a mean repeat spend of zero or less are left out of the fit (see
    :func:`_spend_fit_frame`) and get the population mean spend ``pγ/(q−1)`` as their
    expected spend. That is the model's own answer for a customer whose spend it has not
    observed (it is what a customer with no repeat purchase gets): a non-positive mean is
    no observation of spend under the model, so it cannot shrink their estimate, and
    leaving their CLV empty would drop them from the CLV totals and deciles. The warning
    names how many customers this concerns. Only when fewer than 10 repeat buyers with
    positive spend remain is the spend model (and so CLV) skipped, with the reason.
    """
    fit_frame, excluded = _spend_fit_frame(full, log)
    n_pos = n_repeat - int(excluded.sum())
    if n_pos < 10:
        msg = (
            f"Gamma-Gamma needs repeat purchases with positive spend: {n_pos} of "
            f"{_fmt_int(len(full))} customers bought twice and spent more than zero on their "
            "repeat purchases (at least 10 needed)"
        )
        log.warnings.append(msg)
        log.skipped["expected_spend"] = msg
        return None
    try:
        spend_model = GammaGammaModel(penalizer=cfg.penalizer).fit(fit_frame)
        log.models["spend"] = spend_model
        spend = spend_model.expected_spend(full).to_numpy()
        pc["expected_spend"] = np.where(excluded, spend_model.mean_spend_, spend)
        rep = fit_frame[fit_frame["frequency"] > 0]
        if len(rep) > 2:
            corr = float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1])
            if abs(corr) > 0.3:
                log.warnings.append(
                    f"Gamma-Gamma assumes spend is independent of frequency, but their "
                    f"correlation among repeat buyers is {corr:.2f}; expected spend may be biased"
                )
        weak = _weakly_identified(spend_model)
        if weak:
            log.warnings.append(
                f"Gamma-Gamma: the data barely identify {', '.join(weak)} (their standard "
                "errors cannot be computed); treat expected spend with care"
            )
    except (ConvergenceError, ValueError) as exc:
        msg = f"Gamma-Gamma spend model skipped: {exc}"
        log.warnings.append(msg)
        log.skipped["expected_spend"] = msg
        return None
    return spend_model


def _margin_rate(full: pd.DataFrame, margin: str | None) -> np.ndarray | float:
    """Each customer's margin over revenue (the overall rate for no revenue), clipped to ±1."""
    if not margin:
        return 1.0
    total_rev = float(full["revenue"].sum())
    overall = float(full["margin"].sum()) / total_rev if total_rev else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(full["revenue"] > 0, full["margin"] / full["revenue"], overall)
    return np.clip(own, -1.0, 1.0)


def _cost_and_profit(
    transactions: pd.DataFrame,
    full: pd.DataFrame,
    pc: pd.DataFrame,
    rules: CostRules,
    disc: np.ndarray | None,
    *,
    customer_id: str,
    timestamp: str,
    margin: str | None,
    channel: str | None,
    events: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    end: dt.date,
    log: _Log,
) -> None:
    """Add ``cost_to_serve``, ``profit`` and ``profit_clv`` (future service cost) to ``pc``."""
    if rules.is_empty:
        msg = "no cost-to-serve rules or cost columns given: cost to serve and profit not computed"
        log.warnings.append(msg)
        for c in ("cost_to_serve", "profit", "profit_clv"):
            log.skipped.setdefault(c, msg)
        return
    costs, cost_warn = cost_to_serve(
        transactions, rules, customer_id=customer_id, timestamp=timestamp,
        channel=channel, events=events, customers=customers, end=end,
    )  # fmt: skip
    log.warnings.extend(cost_warn)
    cmap = costs.set_index(customer_id)
    ids = pc[customer_id]
    pc["cost_to_serve"] = ids.map(cmap["cost_to_serve"]).fillna(0.0).to_numpy()
    base = pc["margin"] if margin else pc["revenue"]
    pc["profit"] = base.to_numpy() - pc["cost_to_serve"].to_numpy()
    if not margin:
        log.warnings.append("no margin column: profit is revenue minus cost-to-serve")
    if "clv" in pc:
        # future service cost: historic service cost per order × discounted future orders
        service = (cmap["cost_to_serve"] - cmap["acquisition_cost"]) / cmap["orders"].where(
            cmap["orders"] > 0
        )
        orders_per_day = (full["n_transactions"] / (full["frequency"] + 1)).to_numpy()
        unit_cost = ids.map(service).fillna(0.0).to_numpy() * orders_per_day
        pc["profit_clv"] = pc["clv"].to_numpy() - disc * unit_cost  # type: ignore[operator]


# long: the value stage's steps in flow order, each already one helper call.
def run_value(
    transactions: pd.DataFrame,
    *,
    customer_id: str,
    timestamp: str,
    amount: str,
    margin: str | None = None,
    channel: str | None = None,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    analysis_date: object = None,
    config: ValueConfig | None = None,
    cost: str | None = None,
) -> ValueResult:
    """Run the value stage on a transactions table.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Validated transaction lines (ingest has already rejected unknown ids, bad dates and
        amounts).
    customer_id, timestamp, amount : str
        Column names.
    margin : str, optional
        Margin column: CLV and profit are then margin-based.
    channel : str, optional
        Channel column (for per-channel cost rules).
    events : pandas.DataFrame, optional
        Events table (support contacts).
    customers : pandas.DataFrame, optional
        Customers table (acquisition cost).
    analysis_date : date-like, optional
        End of observation; defaults to the last transaction day.
    config : ValueConfig, optional
        Settings; defaults to ``ValueConfig()``.
    cost : str, optional
        Per-line cost column of the transactions (added to ``config.cost.cost_columns``). A
        customers column named ``acquisition_cost`` is used when no acquisition column is set.

    Returns
    -------
    ValueResult
    """
    cfg = config or ValueConfig()
    log = _Log()
    unit_days = TIME_UNITS[cfg.time_unit]
    if len(transactions) == 0:
        raise ValueError("value stage: the transactions table is empty")

    if analysis_date is None:
        end = pd.to_datetime(transactions[timestamp]).max().date()
    else:
        end = pd.Timestamp(analysis_date).date()  # type: ignore[arg-type]
    full = summarize(
        transactions, customer_id, timestamp, amount,
        calibration_end=end, time_unit=cfg.time_unit, margin=margin,
    )  # fmt: skip
    n_repeat = int((full["frequency"] > 0).sum())
    validation, tracking, metrics = _holdout_validation(
        transactions, full, customer_id=customer_id, timestamp=timestamp, amount=amount,
        end=end, cfg=cfg, n_repeat=n_repeat, log=log,
    )  # fmt: skip

    pc = full.copy()
    purchase = _fit_purchase_model(full, pc, cfg, n_repeat, log)
    spend_model = _fit_spend_model(full, pc, cfg, n_repeat, log)
    skipped = log.skipped
    if spend_model is None and purchase is not None:
        skipped["clv"] = skipped.get("clv", "no spend model: " + skipped.get("expected_spend", ""))
        skipped["profit_clv"] = skipped["clv"]
    disc = None
    if purchase is not None and spend_model is not None:
        rows = log.fit_rows["purchase"]
        disc = rows.spread(discounted_expected_purchases(
            purchase, rows.table,
            horizon=cfg.clv_horizon_days / unit_days,
            step=cfg.clv_step_days / unit_days,
            discount_rate=step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
        ))  # fmt: skip
        pc["clv"] = disc * pc["expected_spend"].to_numpy() * _margin_rate(full, margin)
        if not margin:
            log.warnings.append(
                "no margin column: CLV is revenue-based (discounted expected spend)"
            )

    scores = rfm_scores(full, bins=cfg.rfm_bins)
    for c in scores:
        pc[c] = scores[c].to_numpy()

    rules = _cost_rules(cfg, cost, customers)
    _cost_and_profit(
        transactions, full, pc, rules, disc, customer_id=customer_id, timestamp=timestamp,
        margin=margin, channel=channel, events=events, customers=customers, end=end, log=log,
    )  # fmt: skip

    by = cfg.decile_by if cfg.decile_by in pc else "revenue"
    if by != cfg.decile_by:
        log.warnings.append(f"value deciles ranked by revenue: {cfg.decile_by} is not available")
    pc["value_decile"] = assign_deciles(pc[by]).to_numpy()
    deciles = decile_table(pc)

    cols = [customer_id] + [c for c in PER_CUSTOMER_COLUMNS if c in pc]
    per_customer = pc[cols].reset_index(drop=True)
    for c in PER_CUSTOMER_COLUMNS:
        if c not in per_customer and c not in skipped:
            skipped[c] = "input not given" if c == "margin" else "not computed"
    if "margin" in skipped:
        skipped["margin"] = "no margin column given"

    aggregates = value_aggregates(per_customer, rfm_bins=cfg.rfm_bins)
    summary = _headline_summary(
        aggregates, deciles, cfg=cfg, end=end, by=by, margin=margin, purchase=purchase,
        spend_model=spend_model, rules=rules, channel=channel, events=events,
        metrics=metrics, skipped=skipped, excluded_spend=log.spend_excluded,
        fit_rows=log.fit_rows,
    )  # fmt: skip
    return ValueResult(
        per_customer=per_customer,
        deciles=deciles,
        models=log.models,
        validation=validation,
        warnings=log.warnings,
        summary=_jsonable(summary),
        tracking=tracking,
        config=cfg,
        customer_id=customer_id,
        aggregates=aggregates,
    )


# --- the stage in the flow: what it needs from a project, what it hands on ------------------


def _skip(ctx: StageContext) -> str | None:
    if "transactions" not in ctx.data:
        return "no transactions table is declared ([sources.transactions])"
    return None


def _run(ctx: StageContext) -> ValueResult:
    src = ctx.config.sources.transactions
    assert src is not None
    events = ctx.config.sources.events
    customers = ctx.config.sources.customers
    if ctx.data.spark("transactions") is not None:
        # before the driver frames below: asking for them would collect the tables
        from segmentum.value.spark_scoring import run_on_spark

        return run_on_spark(ctx, ctx.settings(ValueConfig, "value"))
    events_frame = ctx.data.get("events")
    if events_frame is not None and events is not None:
        events_frame = events_frame.rename(
            columns={
                events.customer_id: "customer_id",
                events.timestamp: "timestamp",
                events.event_type: "event_type",
            }
        )
    customers_frame = ctx.data.get("customers")
    if customers_frame is not None and customers is not None:
        renames = {customers.id: "customer_id"}
        if customers.acquisition_cost:
            renames[customers.acquisition_cost] = "acquisition_cost"
        customers_frame = customers_frame.rename(columns=renames)
    return run_value(
        ctx.data.frame("transactions"),
        customer_id=src.customer_id,
        timestamp=src.timestamp,
        amount=src.amount,
        margin=src.margin,
        channel=src.channel,
        events=events_frame,
        customers=customers_frame,
        analysis_date=ctx.data.analysis_date,
        config=ctx.settings(ValueConfig, "value"),
        cost=src.cost,
    )


def per_customer_columns(result: ValueResult) -> pd.DataFrame:
    """``result.per_customer`` keyed by a string ``customer_id`` (the run's join key)."""
    frame = result.per_customer.copy()
    if result.customer_id != "customer_id" and result.customer_id in frame:
        frame = frame.rename(columns={result.customer_id: "customer_id"})
    if "customer_id" not in frame.columns:
        frame = frame.reset_index()
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


def _assignments(result: ValueResult, ctx: StageContext) -> pd.DataFrame:
    return per_customer_columns(result)


def _assignments_spark(result: ValueResult, ctx: StageContext) -> Any:
    """The per-customer table as a Spark DataFrame (engine = "spark"); ``None`` otherwise."""
    return result.spark


VALUE = Stage(
    name="value",
    title="Customer value",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    assignments=_assignments,
    assignments_spark=_assignments_spark,
    summary=lambda r: dict(r.summary),
    settings=ValueConfig,
)
