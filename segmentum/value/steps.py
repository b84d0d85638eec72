"""The value stage's settings, result and shared steps: what :func:`segmentum.value.run_value`
(DuckDB) and :func:`segmentum.value.spark_scoring.run_value_spark` (Spark) both use.

:class:`ValueConfig` (the ``[value]`` table), :class:`ValueResult`, the holdout validation,
the cost rules and the headline figures; :mod:`segmentum.value.stage` re-exports the public
names.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from segmentum.value.aggregates import ValueAggregates, value_aggregates
from segmentum.value.cost import CostRules
from segmentum.value.models import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ParetoNBDModel,
)
from segmentum.value.patterns import COMPRESS_RATIO, PATTERN_COLUMNS, compresses, pattern_index
from segmentum.value.summary import TIME_UNITS, summarize
from segmentum.value.validation import holdout_metrics, holdout_validation, tracking_data

__all__ = ["PATTERN_RATIO", "PER_CUSTOMER_COLUMNS", "OnDemand", "ValueConfig", "ValueResult"]


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


class OnDemand:
    """A per-customer table that is fetched only when read: ``ValueResult(per_customer=
    OnDemand(load))`` calls ``load()`` on the first read of ``result.per_customer`` and keeps
    what it returned. A Spark run gives its table this way, so that the customers reach the
    driver only if a later step asks for them.
    """

    def __init__(self, load: Callable[[], pd.DataFrame]) -> None:
        self.load = load


class _PerCustomer:
    """The ``per_customer`` field of :class:`ValueResult`: a pandas DataFrame, or an
    :class:`OnDemand` resolved (once) on the first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, obj: Any, objtype: type | None = None) -> pd.DataFrame:
        if obj is None:  # the dataclass asks for a default: there is none
            raise AttributeError(self._slot)
        value = obj.__dict__[self._slot]
        if isinstance(value, OnDemand):
            value = value.load()
            obj.__dict__[self._slot] = value
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: pd.DataFrame | OnDemand) -> None:
        obj.__dict__[self._slot] = value

    def fetched(self, obj: Any) -> bool:
        """Whether ``obj``'s table is on the driver (given as a frame, or already fetched)."""
        return not isinstance(obj.__dict__[self._slot], OnDemand)


@dataclass(frozen=True, repr=False)
class ValueResult:
    """What the value stage hands on (to the run folder, the report and later stages).

    Attributes
    ----------
    per_customer : pandas.DataFrame
        One row per customer: ``customer_id`` (named as in the input) and the columns of
        :data:`PER_CUSTOMER_COLUMNS` that could be computed. ``frequency``, ``recency`` and
        ``T`` are in ``config.time_unit``; ``expected_purchases`` and ``clv`` cover the next
        ``config.clv_horizon_days``; ``value_decile`` 1 is the top tenth. With
        ``engine = "spark"`` it is fetched from :attr:`spark` on the first read (it may be
        given as an :class:`OnDemand`); the stage and its report never read it there.
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
    spark : pyspark.sql.DataFrame or None
        With ``engine = "spark"``: ``per_customer`` as a Spark DataFrame keyed by a text
        ``customer_id`` (what the run writes to ``assignments.parquet/``); else ``None``.
    aggregates : ValueAggregates or None
        The per-customer table's totals, per-decile means, RFM grid and CLV histogram (what
        the report draws); ``None`` when built by hand (see :meth:`value_aggregates`).
    """

    per_customer: pd.DataFrame = _PerCustomer()  # type: ignore[assignment]
    deciles: pd.DataFrame
    models: dict[str, Any]
    validation: pd.DataFrame
    warnings: list[str]
    summary: dict[str, Any]
    tracking: pd.DataFrame | None = None
    config: ValueConfig = field(default_factory=ValueConfig)
    customer_id: str = "customer_id"
    spark: Any = field(default=None, compare=False, repr=False)
    aggregates: ValueAggregates | None = field(default=None, compare=False, repr=False)

    def value_aggregates(self) -> ValueAggregates:
        """:attr:`aggregates`, or those of :attr:`per_customer` when the result has none."""
        if self.aggregates is not None:
            return self.aggregates
        return value_aggregates(self.per_customer, rfm_bins=self.config.rfm_bins)

    @property
    def per_customer_fetched(self) -> bool:
        """Whether :attr:`per_customer` is on the driver (always on DuckDB; on Spark only
        once something read it)."""
        return type(self).__dict__["per_customer"].fetched(self)  # type: ignore[no-any-return]

    def __repr__(self) -> str:  # never fetches the per-customer table
        s = self.summary
        return (
            f"ValueResult(customers={s.get('customers')}, model={s.get('model')!r}, "
            f"spark={self.spark is not None}, per_customer_fetched={self.per_customer_fetched})"
        )


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


def _holdout_period(
    first_day: dt.date, end: dt.date, cfg: ValueConfig, n_repeat: int, log: _Log
) -> tuple[int, dt.date] | None:
    """The holdout length (in ``cfg.time_unit``) and the calibration end, or ``None`` with
    the reason recorded when validation is skipped; the same on both engines."""
    unit_days = TIME_UNITS[cfg.time_unit]
    unit_name = {"D": "days", "W": "weeks"}[cfg.time_unit]
    span = (end - first_day).days / unit_days
    hold = cfg.holdout_periods
    if hold is None:
        hold = int(min(span / 3, 365 / unit_days))
    if hold <= 0:
        log.skipped["validation"] = (
            "holdout_periods is 0" if cfg.holdout_periods == 0 else "the data span is too short"
        )
        return None
    if n_repeat == 0:
        log.skipped["validation"] = "no repeat buyers"
        return None
    cal_end = end - dt.timedelta(days=round(hold * unit_days))
    if (cal_end - first_day).days / unit_days < 2 * hold / 3 or cal_end <= first_day:
        log.skip(
            f"holdout validation skipped: {hold} {unit_name} of holdout leave too short a "
            f"calibration period (data span {span:.0f} {unit_name})"
        )
        return None
    return hold, cal_end


def _fit_calibration(rows: _Rows, n_rep_cal: int, cfg: ValueConfig, log: _Log) -> Any:
    """The purchase model fitted on the calibration period's rows (or patterns); raises
    :class:`ConvergenceError` when nobody bought twice there."""
    model_cls, model_name = _MODELS[cfg.model]
    if n_rep_cal == 0:
        raise ConvergenceError(
            f"{model_name} needs repeat purchases: 0 of {_fmt_int(rows.customers)} "
            "customers bought twice in the calibration period"
        )
    m_cal = model_cls(penalizer=cfg.penalizer).fit(rows.table)
    log.models["purchase_calibration"] = m_cal
    log.fit_rows["purchase_calibration"] = rows
    return m_cal


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
    first_day = pd.to_datetime(full["first_purchase"]).min().date()
    period = _holdout_period(first_day, end, cfg, n_repeat, log)
    if period is None:
        return validation, tracking, metrics
    hold, cal_end = period
    cal = summarize(
        transactions, customer_id, timestamp, amount,
        calibration_end=cal_end, holdout_end=end, time_unit=cfg.time_unit,
    )  # fmt: skip
    try:
        rows = _Rows.of(cal)
        m_cal = _fit_calibration(rows, int((cal["frequency"] > 0).sum()), cfg, log)
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


def _headline_summary(
    agg: ValueAggregates,
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
    """The headline figures of ``summary`` (not yet made JSON-safe), from the aggregates of
    the per-customer table (:func:`segmentum.value.aggregates.value_aggregates` or, on
    Spark, :func:`segmentum.value.spark_scoring.aggregates_spark`)."""
    top = deciles.iloc[0] if len(deciles) else None
    totals, pc = agg.totals, agg.columns
    summary: dict[str, Any] = {
        "customers": int(totals["customers"]),
        "repeat_buyers": int(totals["repeat_buyers"]),
        "transactions": int(totals["transactions"]),
        "revenue": float(totals["revenue"]),
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
        summary["margin"] = float(totals["margin"])
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
        summary["clv_total"] = float(totals["clv_total"])
        summary["clv_mean"] = float(totals["clv_mean"])
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
        summary["profit_total"] = float(totals["profit_total"])
        summary["unprofitable_customers"] = int(totals["unprofitable_customers"])
    if metrics:
        summary["holdout"] = metrics
    return summary
