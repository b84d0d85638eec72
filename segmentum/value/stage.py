"""The value stage entry point: one call from transactions to a :class:`ValueResult`.

``run_value`` summarises the transactions in DuckDB, scores RFM, fits the purchase model
(BG/NBD or Pareto/NBD) and the Gamma-Gamma spend model, validates on a holdout, computes
CLV, cost-to-serve and profit, and ranks customers into value deciles. Every piece that
cannot be computed is left out and the reason is recorded in ``warnings`` (and in
``summary["skipped"]``): the stage never crashes on thin data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from segmentum.flow import Stage, StageContext
from segmentum.value.clv import discounted_expected_purchases, step_discount_rate
from segmentum.value.cost import CostRules, cost_to_serve
from segmentum.value.models import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ParetoNBDModel,
)
from segmentum.value.patterns import COMPRESS_RATIO, PATTERN_COLUMNS, compresses, pattern_index
from segmentum.value.report import report_section
from segmentum.value.rfm import assign_deciles, decile_table, rfm_scores
from segmentum.value.summary import TIME_UNITS, summarize
from segmentum.value.validation import holdout_metrics, holdout_validation, tracking_data

__all__ = [
    "PER_CUSTOMER_COLUMNS",
    "VALUE",
    "ValueConfig",
    "ValueResult",
    "per_customer_columns",
    "run_value",
]

#: columns of ``ValueResult.per_customer``, in order (those that cannot be computed are absent)
PER_CUSTOMER_COLUMNS: tuple[str, ...] = (
    "n_transactions", "first_purchase", "last_purchase", "revenue", "margin",
    "frequency", "recency", "T", "monetary_value",
    "recency_score", "frequency_score", "monetary_score", "rfm_score", "value_decile",
    "p_alive", "expected_purchases", "expected_spend", "clv",
    "cost_to_serve", "profit", "profit_clv",
)  # fmt: skip

_MODELS = {"bgnbd": (BetaGeoModel, "BG/NBD"), "pareto_nbd": (ParetoNBDModel, "Pareto/NBD")}

#: the purchase model is fitted and scored on the distinct (x, t_x, T) patterns when there
#: are fewer than this share of the customers (:func:`segmentum.value.patterns.compresses`)
PATTERN_RATIO = COMPRESS_RATIO


class ValueConfig(BaseModel):
    """Settings of the value stage, the ``[value]`` table of the project file (all have defaults).

    Declared once: the project file, ``segmentum settings`` and :func:`run_value` read them
    from here. Bounds and closed choices are checked when the object is built (a
    ``pydantic.ValidationError``, a ``ValueError``), so a project file is checked at load.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_unit: Literal["D", "W"] = Field(
        "W", description="Time unit of the BTYD summary and the models: D (days) or W (weeks)."
    )
    holdout_periods: int | None = Field(
        None,
        ge=0,
        description="Holdout length in time_unit; empty picks a third of the observed span "
        "(at most 52 weeks), 0 skips validation.",
    )
    clv_horizon_days: float = Field(365.0, gt=0, description="CLV horizon, in days.")
    clv_step_days: float = Field(30.4375, gt=0, description="Discounting step (a month), in days.")
    discount_rate: float = Field(0.10, gt=-1, lt=10, description="Annual discount rate.")
    rfm_bins: int = Field(5, ge=2, le=9, description="Quantile classes per RFM dimension.")
    model: Literal["bgnbd", "pareto_nbd"] = Field("bgnbd", description="Purchase model.")
    penalizer: float = Field(0.0, ge=0, description="L2 penalty of the model fits.")
    decile_by: Literal["revenue", "margin", "clv", "profit", "profit_clv"] = Field(
        "revenue",
        description="What ranks customers into value deciles (revenue when unavailable).",
    )
    cost: CostRules = Field(
        default_factory=CostRules,
        description="Cost-to-serve rules ([value.cost]: cost_per_order, "
        "cost_per_support_contact, channel_costs, cost_columns, acquisition_cost_column).",
    )


@dataclass(frozen=True)
class ValueResult:
    """What the value stage hands on (to the run folder, the report and later stages).

    Attributes
    ----------
    per_customer : pandas.DataFrame
        One row per customer: ``customer_id`` (named as in the input) and the columns of
        :data:`PER_CUSTOMER_COLUMNS` that could be computed. ``frequency``, ``recency`` and
        ``T`` are in ``config.time_unit``; ``expected_purchases`` and ``clv`` cover the next
        ``config.clv_horizon_days``; ``value_decile`` 1 is the top tenth.
    deciles : pandas.DataFrame
        The decile table (customers, revenue, margin, CLV, profit; shares and cumulative
        shares).
    models : dict
        Fitted models by role: ``"purchase"`` (final fit), ``"purchase_calibration"`` (fit used
        for validation), ``"spend"``.
    validation : pandas.DataFrame
        Holdout predicted vs actual by calibration frequency (empty when skipped).
    warnings : list of str
        What was skipped or looks doubtful, in words for the report.
    summary : dict
        JSON-serialisable headline figures.
    tracking : pandas.DataFrame or None
        Cumulative repeat transactions, actual vs expected, per period.
    config : ValueConfig
        The settings used.
    """

    per_customer: pd.DataFrame
    deciles: pd.DataFrame
    models: dict[str, Any]
    validation: pd.DataFrame
    warnings: list[str]
    summary: dict[str, Any]
    tracking: pd.DataFrame | None = None
    config: ValueConfig = field(default_factory=ValueConfig)
    customer_id: str = "customer_id"


def _fmt_int(n: float) -> str:
    return f"{int(n):,}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp | dt.date):
        return v.isoformat()
    return v


def _weakly_identified(model: Any) -> list[str]:
    """Parameters whose standard error is not a finite number (singular information)."""
    se = getattr(model, "standard_errors_", {}) or {}
    return [name for name, v in se.items() if not np.isfinite(v)]


@dataclass(frozen=True)
class _Rows:
    """The rows the purchase model is fitted and scored on: the customers, or their patterns.

    BG/NBD and Pareto/NBD see a customer only through ``(frequency, recency, T)``: fitted on
    the distinct patterns weighted by their counts they give the per-customer parameters,
    standard errors and log-likelihood, and their predictions are functions of the pattern,
    computed once per pattern and gathered back to the customers (:meth:`spread`).
    """

    table: pd.DataFrame
    inverse: np.ndarray | None
    customers: int

    @classmethod
    def of(cls, summary: pd.DataFrame) -> _Rows:
        """Patterns when :data:`PATTERN_RATIO` says they pay, else the customers' rows."""
        key = summary[list(PATTERN_COLUMNS)]
        try:
            patterns, inverse = pattern_index(key)
        except ValueError:  # missing values: the model's own check names them
            return cls(key, None, len(key))
        if compresses(len(patterns), len(key), PATTERN_RATIO):
            return cls(patterns, inverse, len(key))
        return cls(key, None, len(key))

    def spread(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Per-row values of :attr:`table` as one value per customer, in summary order."""
        v = np.asarray(values)
        return v if self.inverse is None else v[self.inverse]

    @property
    def note(self) -> str:
        """What the fit ran on, in words."""
        if self.inverse is None:
            return f"fitted on the {_fmt_int(self.customers)} customers' own rows"
        return (
            f"fitted on {_fmt_int(len(self.table))} distinct (x, t_x, T) patterns of "
            f"{_fmt_int(self.customers)} customers"
        )


@dataclass
class _Log:
    """What the steps of :func:`run_value` record as they go: warnings, skips, fitted models."""

    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    spend_excluded: int = 0
    fit_rows: dict[str, _Rows] = field(default_factory=dict)

    def skip(self, msg: str) -> None:
        """Record ``msg`` as a warning and as the reason validation was skipped."""
        self.warnings.append(msg)
        self.skipped["validation"] = msg


def _holdout_validation(
    transactions: pd.DataFrame,
    full: pd.DataFrame,
    *,
    customer_id: str,
    timestamp: str,
    amount: str,
    end: dt.date,
    cfg: ValueConfig,
    n_repeat: int,
    log: _Log,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, float]]:
    """Fit the purchase model on a calibration period and compare with the holdout."""
    validation = pd.DataFrame()
    tracking = None
    metrics: dict[str, float] = {}
    unit_days = TIME_UNITS[cfg.time_unit]
    unit_name = {"D": "days", "W": "weeks"}[cfg.time_unit]
    model_cls, model_name = _MODELS[cfg.model]
    first_day = pd.to_datetime(full["first_purchase"]).min().date()
    span = (end - first_day).days / unit_days
    hold = cfg.holdout_periods
    if hold is None:
        hold = int(min(span / 3, 365 / unit_days))
    if hold <= 0:
        log.skipped["validation"] = (
            "holdout_periods is 0" if cfg.holdout_periods == 0 else "the data span is too short"
        )
        return validation, tracking, metrics
    if n_repeat == 0:
        log.skipped["validation"] = "no repeat buyers"
        return validation, tracking, metrics
    cal_end = end - dt.timedelta(days=round(hold * unit_days))
    if (cal_end - first_day).days / unit_days < 2 * hold / 3 or cal_end <= first_day:
        log.skip(
            f"holdout validation skipped: {hold} {unit_name} of holdout leave too short a "
            f"calibration period (data span {span:.0f} {unit_name})"
        )
        return validation, tracking, metrics
    cal = summarize(
        transactions, customer_id, timestamp, amount,
        calibration_end=cal_end, holdout_end=end, time_unit=cfg.time_unit,
    )  # fmt: skip
    n_rep_cal = int((cal["frequency"] > 0).sum())
    try:
        if n_rep_cal == 0:
            raise ConvergenceError(
                f"{model_name} needs repeat purchases: 0 of {_fmt_int(len(cal))} "
                "customers bought twice in the calibration period"
            )
        rows = _Rows.of(cal)
        m_cal = model_cls(penalizer=cfg.penalizer).fit(rows.table)
        log.models["purchase_calibration"] = m_cal
        log.fit_rows["purchase_calibration"] = rows
        # the holdout length is one number, so predictions are a function of the pattern
        duration = float(cal["duration_holdout"].iloc[0])
        pred = rows.spread(m_cal.expected_purchases(duration, rows.table))
        validation = holdout_validation(m_cal, cal, predicted=pred)
        metrics = holdout_metrics(m_cal, cal, predicted=pred)
        metrics["calibration_end"] = cal_end.isoformat()  # type: ignore[assignment]
        metrics["holdout_periods"] = float(hold)
        tracking = tracking_data(
            transactions, m_cal, customer_id=customer_id, timestamp=timestamp,
            calibration_end=cal_end, end=end, time_unit=cfg.time_unit,
        )  # fmt: skip
    except (ConvergenceError, ValueError, FloatingPointError) as exc:
        log.skip(f"holdout validation skipped: {exc}")
    return validation, tracking, metrics


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


def _cost_rules(cfg: ValueConfig, cost: str | None, customers: pd.DataFrame | None) -> CostRules:
    """The configured cost rules plus the ``cost`` column and a customers' acquisition cost."""
    rules = cfg.cost
    if cost and cost not in rules.cost_columns:
        rules = replace(rules, cost_columns=(*rules.cost_columns, cost))
    if (
        rules.acquisition_cost_column is None
        and customers is not None
        and "acquisition_cost" in customers.columns
    ):
        rules = replace(rules, acquisition_cost_column="acquisition_cost")
    return rules


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
        msg = "no cost-to-serve rules or cost columns given: cost_to_serve and profit not computed"
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


def _headline_summary(
    full: pd.DataFrame,
    pc: pd.DataFrame,
    deciles: pd.DataFrame,
    *,
    cfg: ValueConfig,
    end: dt.date,
    by: str,
    margin: str | None,
    purchase: Any,
    spend_model: GammaGammaModel | None,
    rules: CostRules,
    channel: str | None,
    events: pd.DataFrame | None,
    metrics: dict[str, float],
    skipped: dict[str, str],
    excluded_spend: int = 0,
    fit_rows: dict[str, _Rows] | None = None,
) -> dict[str, Any]:
    """The headline figures of ``summary`` (not yet made JSON-safe)."""
    top = deciles.iloc[0] if len(deciles) else None
    summary: dict[str, Any] = {
        "customers": len(full),
        "repeat_buyers": int((full["frequency"] > 0).sum()),
        "transactions": int(full["n_transactions"].sum()),
        "revenue": float(full["revenue"].sum()),
        "analysis_date": end.isoformat(),
        "time_unit": cfg.time_unit,
        "decile_by": by,
        "top_decile_revenue_share": float(top["revenue_share"]) if top is not None else None,
        "model": cfg.model if purchase is not None else None,
        "expected_purchases_horizon_days": cfg.clv_horizon_days if purchase is not None else None,
        "clv_basis": ("margin" if margin else "revenue") if "clv" in pc else None,
        "skipped": skipped,
    }
    if margin:
        summary["margin"] = float(full["margin"].sum())
    if purchase is not None:
        summary["purchase_model"] = {
            "name": _MODELS[cfg.model][1],
            "params": purchase.params_,
            "standard_errors": purchase.standard_errors_,
            "log_likelihood": purchase.log_likelihood_,
        }
        if fit_rows and "purchase" in fit_rows:
            summary["purchase_model"]["fit_note"] = fit_rows["purchase"].note
    if fit_rows:
        summary["fit_rows"] = {role: len(rows.table) for role, rows in fit_rows.items()}
    if spend_model is not None:
        summary["spend_model"] = {
            "params": spend_model.params_,
            "mean_spend": spend_model.mean_spend_,
            "excluded_customers": excluded_spend,
        }
    if "clv" in pc:
        summary["clv_total"] = float(pc["clv"].sum())
        summary["clv_mean"] = float(pc["clv"].mean())
        summary["clv_horizon_days"] = cfg.clv_horizon_days
        summary["discount_rate"] = cfg.discount_rate
    if "profit" in pc:
        applied = [
            name
            for name, on in (
                ("cost per order", rules.cost_per_order),
                ("cost per support contact", rules.cost_per_support_contact and events is not None),
                ("channel costs", rules.channel_costs and channel),
                ("cost columns " + ", ".join(rules.cost_columns), rules.cost_columns),
                ("acquisition cost", rules.acquisition_cost_column),
            )
            if on
        ]
        summary["cost_components"] = applied
        summary["profit_total"] = float(pc["profit"].sum())
        summary["unprofitable_customers"] = int((pc["profit"] < 0).sum())
    if metrics:
        summary["holdout"] = metrics
    return summary


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

    summary = _headline_summary(
        full, pc, deciles, cfg=cfg, end=end, by=by, margin=margin, purchase=purchase,
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


VALUE = Stage(
    name="value",
    title="Customer value",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    assignments=_assignments,
    summary=lambda r: dict(r.summary),
    settings=ValueConfig,
)
