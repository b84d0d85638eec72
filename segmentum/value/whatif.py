"""What-if: how an offering change moves customer lifetime value, segment by segment.

A scenario is data: a list of changes, each aimed at a segment (or all) and optionally at
new (no repeat purchase yet) or repeat customers, each one of

* ``covariate`` / ``value`` / ``share``: a share of the targeted customers takes up a
  covariate value (``share = 0.3`` of segment 2 take the bundle). CLV after is the expected
  value over who takes it up: ``(1 − share)·CLV(as is) + share·CLV(with the value)``, each
  from the fitted covariate model at the customer's own history;
* ``retention``: the dropout rate falls by this share (Pareto/NBD: ``μ·(1 − retention)``;
  BG/NBD: the mean dropout probability ``a/(a+b)`` times ``1 − retention`` at fixed ``a+b``);
* ``purchase_rate``: the purchase rate rises by this share (``α_i / (1 + purchase_rate)``);
* ``spend``: the mean spend per purchase changes by this share (``−0.05`` = −5 %).

The interval of the difference comes from a parametric bootstrap over the purchase model's
parameters, ``θ ~ N(θ̂, Σ̂)`` with ``Σ̂`` the inverse Hessian of the fit (spend is held at
its estimate): ``low``/``high`` are the 2.5 % and 97.5 % points of the simulated differences.
No customer is drawn at random: a ``share`` is a mixture weight on every targeted customer.

:func:`whatif` is three steps that a Spark run splits between the driver and the executors:
:func:`whatif_plan` (check the scenario, draw the parameters; once), :func:`whatif_sums` (CLV
before and after and the differences per draw, summed per segment of a batch of customers;
any split of the customers gives the same sums) and :func:`whatif_table` (the table from the
segments' sums). Models are refitted on the buyers' patterns (:func:`fit_table`) on both
engines.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmentum.value.clv import customer_lifetime_value, step_discount_rate

__all__ = [
    "SUM_COLUMNS",
    "Scenario",
    "ScenarioChange",
    "ScenarioModel",
    "WhatifPlan",
    "check_declared",
    "clv_settings",
    "customer_table",
    "fit_table",
    "load_scenario",
    "margin_overall",
    "margin_rates",
    "margin_rates_at",
    "refit_purchase",
    "scenario_spend",
    "scenario_whatif",
    "spend_values",
    "whatif",
    "whatif_plan",
    "whatif_sums",
    "whatif_table",
]

WHATIF_COLUMNS = ["segment", "customers", "clv_before", "clv_after", "difference", "low", "high"]


class ScenarioChange(BaseModel):
    """One change of a scenario (a ``[[change]]`` table of the TOML file)."""

    model_config = ConfigDict(extra="forbid")

    segment: int | str | list[int | str] | None = Field(
        default=None, description="segment label(s) the change targets; all when left out"
    )
    customers: Literal["all", "new", "repeat"] = "all"
    covariate: str | None = None
    value: float | int | str | bool | None = None
    share: float = Field(default=1.0, ge=0.0, le=1.0)
    retention: float | None = Field(default=None, gt=-1.0, lt=1.0)
    purchase_rate: float | None = Field(default=None, gt=-1.0)
    spend: float | None = Field(default=None, gt=-1.0)

    @model_validator(mode="after")
    def _one_effect(self) -> ScenarioChange:
        kinds = [
            k
            for k in ("covariate", "retention", "purchase_rate", "spend")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "each change needs exactly one of covariate, retention, purchase_rate, spend; "
                f"got {kinds or 'none'}"
            )
        if self.covariate is not None and self.value is None:
            raise ValueError(f"a change of covariate {self.covariate!r} needs its new 'value'")
        if self.covariate is None and (self.value is not None or self.share != 1.0):
            raise ValueError("'value' and 'share' go with 'covariate' only")
        return self

    def segments(self) -> list[str] | None:
        if self.segment is None:
            return None
        seg = self.segment if isinstance(self.segment, list) else [self.segment]
        return [str(s) for s in seg]


class ScenarioModel(BaseModel):
    """The ``[model]`` table: what ``segmentum whatif`` fits (the library call takes a model)."""

    model_config = ConfigDict(extra="forbid")

    purchase_covariates: list[str] = Field(default_factory=list)
    dropout_covariates: list[str] = Field(default_factory=list)
    draws: int = Field(default=200, ge=0, le=10_000)


class Scenario(BaseModel):
    """A what-if scenario: a name, the model to fit (CLI) and its changes (``[[change]]``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "scenario"
    description: str = ""
    model: ScenarioModel = Field(default_factory=ScenarioModel)
    change: list[ScenarioChange] = Field(min_length=1)


def load_scenario(source: Scenario | Mapping[str, Any] | str | Path) -> tuple[Scenario, str]:
    """A scenario from a model, a dict or a TOML file, and a label for error messages."""
    if isinstance(source, Scenario):
        return source, f"scenario {source.name!r}"
    if isinstance(source, str | Path):
        path = Path(source)
        label = f"scenario file {path}"
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ValueError(f"{label} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{label} is not valid TOML: {exc}") from exc
    else:
        raw, label = dict(source), "scenario"
    try:
        return Scenario.model_validate(raw), label
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(
                ".[", "["
            )
            lines.append(f"{key or '(top level)'}: {err['msg']}")
        raise ValueError(
            f"{label}: "
            + "; ".join(lines)
            + ". Valid keys of a [[change]]: "
            + ", ".join(ScenarioChange.model_fields)
        ) from exc


def check_declared(sc: Scenario, label: str) -> None:
    """Refuse a covariate change on a covariate the scenario's ``[model]`` does not fit.

    Checked before any data are read (``segmentum whatif``, ``segmentum validate``): the
    model can only move what it fits. Raises ``ValueError`` naming ``label``, the key and
    the valid covariates.
    """
    declared = sorted({*sc.model.purchase_covariates, *sc.model.dropout_covariates})
    for i, change in enumerate(sc.change):
        if change.covariate is not None and change.covariate not in declared:
            raise ValueError(
                f"{label}, change[{i}].covariate: {change.covariate!r} is not a covariate of "
                f"[model]; valid covariates are {declared or 'none'} (add it to "
                "purchase_covariates or dropout_covariates)"
            )


def fit_table(buyers: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """What a scenario's (or an offer's) purchase model is refitted on: the buyers' distinct
    ``(frequency, recency, T, covariates)`` with their counts (``weights``).

    The BTYD likelihood sees a customer only through these columns, so the fit equals the
    fit on the rows (:mod:`segmentum.value.patterns`); both engines fit this same table,
    sorted by the key, so a Spark run and a DuckDB run refit the same model. ``buyers`` may
    already be aggregated (a ``weights`` column: Spark's counts). A table whose key columns
    are missing or hold missing values is returned as it is: the model's fit then names the
    column.
    """
    from segmentum.value.patterns import PATTERN_COLUMNS, pattern_counts

    covs = list(dict.fromkeys(covariates))
    cols = [*PATTERN_COLUMNS, *covs]
    if any(c not in buyers.columns for c in cols) or buyers[cols].isna().to_numpy().any():
        return buyers
    keep = [*cols, *(["weights"] if "weights" in buyers.columns else [])]
    return pattern_counts(buyers[keep], covs)


def refit_purchase(
    value: Any,
    fitted_on: pd.DataFrame,
    purchase_covariates: Sequence[str],
    dropout_covariates: Sequence[str],
) -> Any:
    """The value stage's purchase model (its class and penalizer) refitted on ``fitted_on``
    (:func:`fit_table`) with the given covariates."""
    plain = value.models["purchase"]
    return type(plain)(penalizer=plain.penalizer).fit(
        fitted_on,
        purchase_covariates=list(purchase_covariates),
        dropout_covariates=list(dropout_covariates),
    )


def clv_settings(cfg: Any) -> dict[str, float]:
    """Horizon, step and step discount rate of the value stage's CLV (``ValueConfig``), in
    the model's time unit: the keyword arguments of :func:`whatif` and of
    :func:`~segmentum.value.clv.customer_lifetime_value`."""
    from segmentum.value.summary import TIME_UNITS

    unit = TIME_UNITS[cfg.time_unit]
    return {
        "horizon": cfg.clv_horizon_days / unit,
        "step": cfg.clv_step_days / unit,
        "discount_rate": step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
    }


def scenario_spend(value: Any, columns: Sequence[str]) -> tuple[str | None, float | None]:
    """The spend column of a scenario and the value filling its gaps: ``expected_spend``
    with the spend model's population mean (customers without a spend history) when the
    table has it, else ``None`` (:func:`whatif`'s default, ``monetary_value``)."""
    if "expected_spend" not in columns:
        return None, None
    spend_model = value.models.get("spend")
    return "expected_spend", None if spend_model is None else float(spend_model.mean_spend_)


def scenario_whatif(
    value: Any, table: pd.DataFrame, scenario: Scenario, *, seed: int
) -> pd.DataFrame:
    """What ``segmentum whatif`` computes: refit the value stage's purchase model with the
    scenario's covariates on ``table`` and run :func:`whatif` at the value stage's horizon,
    step and discount rate, on margin where the table has margins (:func:`margin_rates`,
    as the value stage's CLV).

    The model is refitted on the buyers' patterns (:func:`fit_table`), as a Spark run does
    (:func:`segmentum.activation.spark_whatif.scenario_whatif_spark`).

    Parameters
    ----------
    value : ValueResult
        The value stage's result (its ``"purchase"`` model and its settings).
    table : pandas.DataFrame
        One row per customer (:func:`customer_table`) with a ``segment`` column.
    scenario : Scenario
    seed : int
        Seed of the interval's draws.

    Returns
    -------
    pandas.DataFrame
        :func:`whatif`'s table. A ``ValueError`` names what is wrong (unknown covariate
        column, segment or level).
    """
    # fitted on the customers with purchases (a customer without any has no history to
    # fit), applied to everyone: those without purchases as just acquired (x = t_x = T = 0)
    buyers = table[table["purchased"]] if "purchased" in table.columns else table
    sm = scenario.model
    fitted_on = fit_table(buyers, [*sm.purchase_covariates, *sm.dropout_covariates])
    model = refit_purchase(value, fitted_on, sm.purchase_covariates, sm.dropout_covariates)
    spend, fill = scenario_spend(value, list(table.columns))
    if fill is not None:
        table = table.assign(expected_spend=table["expected_spend"].fillna(fill))
    return whatif(
        model,
        table,
        scenario,
        spend=spend,
        **clv_settings(value.config),
        margin_rate=margin_rates(table),
        n_draws=sm.draws,
        seed=seed,
        fitted_on=fitted_on,
    )


def margin_overall(table: pd.DataFrame) -> float | None:
    """The overall margin over revenue of ``table`` (``margin`` and ``revenue`` totals), or
    ``None`` when it has no margins (no such columns, all margins 0 or no revenue)."""
    if "margin" not in table.columns or "revenue" not in table.columns:
        return None
    rev = pd.to_numeric(table["revenue"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    mar = pd.to_numeric(table["margin"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if not np.any(mar) or not rev.sum():
        return None
    return float(mar.sum() / rev.sum())


def margin_rates_at(table: pd.DataFrame, overall: float | None) -> np.ndarray | float:
    """Each row's margin over revenue, ``overall`` where a row has no revenue, clipped to
    ±1; 1 (a revenue CLV) when ``overall`` is ``None``. ``overall`` is that of the whole
    customer base (:func:`margin_overall`), so a batch of rows gets the rates the whole
    table would."""
    if overall is None or "margin" not in table.columns or "revenue" not in table.columns:
        return 1.0
    rev = pd.to_numeric(table["revenue"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    mar = pd.to_numeric(table["margin"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(rev > 0, mar / np.where(rev > 0, rev, 1.0), overall)
    return np.clip(own, -1.0, 1.0)


def margin_rates(table: pd.DataFrame) -> np.ndarray | float:
    """Each customer's margin over revenue, as the value stage prices CLV on margin.

    From the per-customer ``margin`` and ``revenue`` totals: the customer's own rate where
    they have revenue, the overall rate otherwise (customers without purchases), clipped to
    ±1; 1 (a revenue CLV) when the table has no margins.
    """
    return margin_rates_at(table, margin_overall(table))


def spend_values(
    rfm: pd.DataFrame, spend: str | pd.Series | np.ndarray | float | None
) -> np.ndarray:
    """Expected spend per purchase of every row of ``rfm`` (:func:`whatif`'s ``spend``):
    a column (missing values 0), an array, a number, or by default ``monetary_value`` when
    present, else 1."""
    n = len(rfm)
    if spend is None:
        spend = "monetary_value" if "monetary_value" in rfm.columns else 1.0
    if isinstance(spend, str):
        if spend not in rfm.columns:
            raise ValueError(f"whatif: spend column {spend!r} is not in the summary table")
        return pd.to_numeric(rfm[spend], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return np.broadcast_to(np.asarray(spend, dtype=float), (n,)).copy()


def _draw_thetas(
    theta: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return theta + rng.standard_normal((n, theta.size)) @ root.T


def _change_effects(
    sc: Scenario,
    label: str,
    model: Any,
    seg: np.ndarray,
    labels: list[str],
    freq: np.ndarray,
    known_cov: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, Any, np.ndarray]]]:
    """Each change's mask and effect, checked against the data.

    Returns the per-row purchase, retention and spend multipliers and the covariate take-ups
    (column, value, share per row).
    """
    n = len(seg)
    purchase_mult = np.ones(n)
    retention_mult = np.ones(n)
    spend_mult = np.ones(n)
    takeups: list[tuple[str, Any, np.ndarray]] = []  # (column, value, share per row)
    for i, ch in enumerate(sc.change):
        where = f"{label}, change[{i}]"
        mask = np.ones(n, dtype=bool)
        segs = ch.segments()
        if segs is not None:
            unknown = [s for s in segs if s not in labels]
            if unknown:
                raise ValueError(
                    f"{where}.segment: unknown segment(s) {unknown}; valid segments are {labels}"
                )
            mask &= np.isin(seg, segs)
        if ch.customers == "new":
            mask &= freq == 0
        elif ch.customers == "repeat":
            mask &= freq > 0
        if ch.covariate is not None:
            if ch.covariate not in known_cov:
                raise ValueError(
                    f"{where}.covariate: {ch.covariate!r} is not a covariate of the fitted "
                    f"model; valid covariates are {known_cov or 'none (fit with covariates)'}"
                )
            design = next(
                d for d in (model._design_p, model._design_d) if ch.covariate in d.columns
            )
            levels = design.levels.get(ch.covariate)
            value: Any = ch.value
            if levels is not None:
                match = [v for v in levels if str(v) == str(value)]
                if not match:
                    raise ValueError(
                        f"{where}.value: {value!r} is not a level of {ch.covariate!r}; valid "
                        f"levels are {levels}"
                    )
                value = match[0]
            elif isinstance(value, str):
                raise ValueError(f"{where}.value: covariate {ch.covariate!r} is numeric")
            takeups.append((ch.covariate, value, np.where(mask, ch.share, 0.0)))
        elif ch.retention is not None:
            retention_mult[mask] *= 1.0 - ch.retention
        elif ch.purchase_rate is not None:
            purchase_mult[mask] *= 1.0 + ch.purchase_rate
        elif ch.spend is not None:
            spend_mult[mask] *= 1.0 + ch.spend
    return purchase_mult, retention_mult, spend_mult, takeups


def _takeup_components(
    sub: pd.DataFrame, rows: np.ndarray, takeups: list[tuple[str, Any, np.ndarray]]
) -> list[tuple[np.ndarray, pd.DataFrame]]:
    """Mixture components over who takes up what: (weight per row, table)."""
    components: list[tuple[np.ndarray, pd.DataFrame]] = [(np.ones(rows.size), sub)]
    for col, value, share in takeups:
        s = share[rows]
        nxt = []
        for w, df in components:
            nxt.append((w * (1 - s), df))
            nxt.append(
                (w * s, df.assign(**{col: pd.Series([value] * len(df)).astype(df[col].dtype)}))
            )
        components = [(w, df) for w, df in nxt if np.any(w > 0)]
    return components


#: columns of :func:`whatif_sums`: per segment of a batch of customers
SUM_COLUMNS = ["segment", "customers", "affected", "before", "after", "draws"]


@dataclass(frozen=True)
class WhatifPlan:
    """What every batch of customers of one scenario needs, the same for each batch: the
    fitted model, the scenario (checked), every segment label of the customer base, the
    CLV settings and the parameter draws of the interval (:func:`whatif_plan`)."""

    model: Any
    scenario: Scenario
    label: str
    labels: list[str]
    segment: str = "segment"
    horizon: float = 52.0
    step: float = 52.0 / 12
    discount_rate: float = 0.01
    thetas: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def whatif_plan(
    model: Any,
    scenario: Scenario | Mapping[str, Any] | str | Path,
    labels: Sequence[str],
    *,
    fitted_on: pd.DataFrame,
    n_draws: int,
    seed: int,
    segment: str = "segment",
    horizon: float = 52.0,
    step: float = 52.0 / 12,
    discount_rate: float = 0.01,
) -> WhatifPlan:
    """Check a scenario against the model and the segment labels and draw the parameters.

    The changes are checked here, once, before any customer is scored (an unknown segment,
    covariate or level raises ``ValueError`` naming the change and the valid choices). The
    ``n_draws`` parameter vectors ``θ ~ N(θ̂, Σ̂)`` come from ``numpy``'s generator seeded
    with ``seed`` (``Σ̂``: the fit's inverse Hessian, on ``fitted_on`` for a plain fit).
    """
    sc, label = load_scenario(scenario)
    model._check_fitted()
    cov_cols = model.covariate_columns()
    known_cov = sorted(set(cov_cols["purchase"]) | set(cov_cols["dropout"]))
    labels = list(labels)
    _change_effects(sc, label, model, np.array([], dtype=object), labels, np.zeros(0), known_cov)
    thetas = np.zeros((0, 0))
    if n_draws > 0:
        theta, cov = model._theta_covariance(fitted_on)
        thetas = _draw_thetas(theta, cov, n_draws, np.random.default_rng(seed))
    return WhatifPlan(
        model, sc, label, labels, segment, float(horizon), float(step), float(discount_rate),
        thetas,
    )  # fmt: skip


# long: the four closures share one batch's affected rows, multipliers and take-up components;
# lifted out, each would take six or more arguments.
def whatif_sums(batch: pd.DataFrame, plan: WhatifPlan, spend: np.ndarray) -> pd.DataFrame:
    """CLV before and after the scenario, summed per segment of some customers.

    Each customer's CLV depends only on their own row and ``plan``, so any split of the
    customers into batches gives the same sums (a Spark run computes them batch by batch in
    ``mapInPandas``, :mod:`segmentum.activation.spark_whatif`).

    Parameters
    ----------
    batch : pandas.DataFrame
        Customers' rows: the model's columns, the covariates and ``plan.segment``.
    plan : WhatifPlan
    spend : numpy.ndarray
        Expected spend per purchase times the margin rate, one per row of ``batch``.

    Returns
    -------
    pandas.DataFrame
        :data:`SUM_COLUMNS`, one row per segment present in ``batch``: ``customers``,
        ``affected`` (customers a change touches), the sums of CLV ``before`` and ``after``
        and ``draws``, the summed difference at each parameter draw (a list).
    """
    model, n_draws = plan.model, plan.thetas.shape[0]
    n = len(batch)
    if n == 0:
        return pd.DataFrame({c: [] for c in SUM_COLUMNS})
    seg = batch[plan.segment].astype(str).to_numpy()
    cov_cols = model.covariate_columns()
    known_cov = sorted(set(cov_cols["purchase"]) | set(cov_cols["dropout"]))
    freq = batch["frequency"].to_numpy(dtype=float)
    purchase_mult, retention_mult, spend_mult, takeups = _change_effects(
        plan.scenario, plan.label, model, seg, plan.labels, freq, known_cov
    )
    affected = (purchase_mult != 1) | (retention_mult != 1) | (spend_mult != 1)
    for _, _, share in takeups:
        affected |= share > 0
    rows = np.flatnonzero(affected)
    sub = batch.iloc[rows].reset_index(drop=True)
    # mixture components over who takes up what: (weight per row, table)
    components = _takeup_components(sub, rows, takeups)
    bg = tuple(model._param_names) == ("r", "alpha", "a", "b")
    clv_kw = {"horizon": plan.horizon, "step": plan.step, "discount_rate": plan.discount_rate}

    def clv(params: tuple[Any, ...], df: pd.DataFrame, spend_rows: np.ndarray) -> np.ndarray:
        m = copy.copy(model)
        m._fixed_params = params
        return customer_lifetime_value(m, df, spend_rows, **clv_kw).to_numpy()

    def after_params(params: tuple[Any, ...]) -> tuple[Any, ...]:
        r, p1, p2, p3 = (np.broadcast_to(np.asarray(p, dtype=float), (rows.size,)) for p in params)
        p1 = p1 / purchase_mult[rows]
        keep = retention_mult[rows]
        if bg:
            tot = p2 + p3
            mean = p2 / tot * keep
            p2, p3 = mean * tot, (1 - mean) * tot
            return float(r[0]), p1, p2, p3
        # Pareto/NBD: s stays common, only β_i moves
        return float(r[0]), p1, params[2], p3 / keep

    def rows_params(theta: np.ndarray | None, df: pd.DataFrame) -> tuple[Any, ...]:
        p = model._customer_params(df, theta)
        return tuple(float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float) for v in p)

    def before_after(theta: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if rows.size == 0:
            return np.zeros(0), np.zeros(0)
        before = clv(rows_params(theta, sub), sub, spend[rows])
        after = np.zeros(rows.size)
        for w, df in components:
            after += w * clv(
                after_params(rows_params(theta, df)), df, spend[rows] * spend_mult[rows]
            )
        return before, after

    base_all = clv(rows_params(None, batch), batch, spend)
    _, after_rows = before_after(None)
    after_all = base_all.copy()
    after_all[rows] = after_rows
    present = sorted(set(seg), key=lambda v: (len(v), v))
    draws = np.zeros((len(present), n_draws))
    seg_rows = seg[rows]
    if rows.size:
        for d, th in enumerate(plan.thetas):
            b, a = before_after(th)
            diff = a - b
            for j, g in enumerate(present):
                draws[j, d] = diff[seg_rows == g].sum()
    sel = [seg == g for g in present]
    return pd.DataFrame(
        {
            "segment": present,
            "customers": [int(s.sum()) for s in sel],
            "affected": [int((s & affected).sum()) for s in sel],
            "before": [float(base_all[s].sum()) for s in sel],
            "after": [float(after_all[s].sum()) for s in sel],
            "draws": [draws[j].tolist() for j in range(len(present))],
        }
    )


def whatif_table(sums: pd.DataFrame, plan: WhatifPlan) -> pd.DataFrame:
    """:func:`whatif`'s table from the per-segment sums of all customers (one row per
    segment of ``plan.labels``, the batches' rows of a segment already added up): the
    ``total`` row adds the segments, ``low``/``high`` are the 2.5 % and 97.5 % points of
    the summed differences over the draws (the difference itself without draws or without
    any customer a change touches)."""
    n_draws = plan.thetas.shape[0]
    by = {str(r.segment): r for r in sums.itertuples(index=False)}
    spread = n_draws > 0 and int(sums["affected"].sum()) > 0
    rows, total = [], [0, 0.0, 0.0, np.zeros(n_draws)]
    for g in plan.labels:
        r = by.get(g)
        n, before, after = (
            (int(r.customers), float(r.before), float(r.after)) if r is not None else (0, 0.0, 0.0)
        )
        d = np.asarray(r.draws, dtype=float) if r is not None and n_draws else np.zeros(n_draws)
        rows.append((g, n, before, after, d))
        total = [total[0] + n, total[1] + before, total[2] + after, total[3] + d]
    rows.append(("total", *total))
    out = []
    for g, n, before, after, d in rows:
        lo, hi = (
            (float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975)))
            if spread
            else (after - before, after - before)
        )
        out.append([g, int(n), before, after, after - before, lo, hi])
    return pd.DataFrame(out, columns=WHATIF_COLUMNS)


def whatif(
    model: Any,
    rfm: pd.DataFrame,
    scenario: Scenario | Mapping[str, Any] | str | Path,
    *,
    segment: str = "segment",
    spend: str | pd.Series | np.ndarray | float | None = None,
    horizon: float = 52.0,
    step: float = 52.0 / 12,
    discount_rate: float = 0.01,
    margin_rate: float | np.ndarray = 1.0,
    n_draws: int = 200,
    seed: int = 0,
    fitted_on: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """CLV per segment before and after a scenario, with the difference and its interval.

    Parameters
    ----------
    model : BetaGeoModel or ParetoNBDModel
        Fitted on ``rfm`` (with or without covariates; a covariate change needs them).
    rfm : pandas.DataFrame
        The summary table the model was fitted on, with the covariate columns and the
        ``segment`` column, one row per customer.
    scenario : Scenario, dict or path to a TOML file
        The changes (see the module docstring).
    segment : str, default="segment"
        Column of ``rfm`` with each customer's segment.
    spend : column name, Series, array or float, optional
        Expected spend per purchase; defaults to ``rfm["monetary_value"]`` when present,
        else 1 (CLV then counts discounted purchases).
    horizon, step : float
        Horizon and discounting step in the model's time unit (default a year in weeks,
        monthly steps).
    discount_rate : float, default=0.01
        Discount rate per step.
    margin_rate : float or array, default=1.0
        Margin as a share of spend (one per row of ``rfm``, or one for all).
    n_draws : int, default=200
        Parametric-bootstrap draws for the interval.
    seed : int, default=0
        Seed of the draws.
    fitted_on : pandas.DataFrame, optional
        The table the model was fitted on when it is not ``rfm`` (its patterns,
        :func:`fit_table`): a plain fit's Hessian for the interval is computed on it.

    Returns
    -------
    pandas.DataFrame
        One row per segment and a ``total`` row: ``segment``, ``customers``, ``clv_before``,
        ``clv_after``, ``difference``, ``low``, ``high`` (sums over the segment's customers).
    """
    if segment not in rfm.columns:
        raise ValueError(f"whatif: the summary table has no segment column {segment!r}")
    labels = sorted(set(rfm[segment].astype(str)), key=lambda v: (len(v), v))
    plan = whatif_plan(
        model, scenario, labels, fitted_on=rfm if fitted_on is None else fitted_on,
        n_draws=n_draws, seed=seed, segment=segment, horizon=horizon, step=step,
        discount_rate=discount_rate,
    )  # fmt: skip
    # CLV is discounted purchases x spend x margin rate: the margin rides on the spend
    spend_v = spend_values(rfm, spend)
    spend_v = spend_v * np.broadcast_to(np.asarray(margin_rate, dtype=float), (len(rfm),))
    return whatif_table(whatif_sums(rfm, plan, spend_v), plan)


def customer_table(ctx: Any, results: Mapping[str, Any]) -> pd.DataFrame:
    """One row per customer for :func:`whatif`, from the stages run in ``ctx``.

    ``results`` holds the stages' results by name (``"value"``, optionally ``"segments"``).
    The table has the value stage's per-customer columns (``frequency``, ``recency``, ``T``,
    ``monetary_value``, ``expected_spend``, …), the customers table's columns (covariates
    such as the acquisition channel) and the ``segment`` of the linked survey respondent when
    the segments stage ran (``"unassigned"`` for customers outside the survey).

    Every customer of the customers table is in it: those without any purchase as just
    acquired (``frequency``, ``recency`` and ``T`` 0, so the model gives them a new
    customer's expected purchases) and ``purchased`` False, so the what-if totals cover the
    whole customer base; :func:`scenario_whatif` fits on the customers with purchases.
    """
    # the two stages' own adapters (not the registry: the value package stays below the run)
    from segmentum.segments.stage import SEGMENTS
    from segmentum.value.stage import VALUE

    stages = {"value": VALUE, "segments": SEGMENTS}
    table = stages["value"].assignments(results["value"], ctx)
    assert table is not None
    customers = ctx.config.sources.customers
    frame = ctx.data.get("customers")
    if customers is not None and frame is not None:
        extra = frame.rename(columns={customers.id: "customer_id"})
        extra["customer_id"] = extra["customer_id"].astype(str)
        keep = ["customer_id", *[c for c in extra.columns if c not in table.columns]]
        table = table.merge(extra[keep], on="customer_id", how="left")
        table = _with_non_buyers(table, extra)
    if "purchased" not in table.columns:
        table["purchased"] = True
    table["segment"] = "unassigned"
    if "segments" in results:
        seg = stages["segments"].assignments(results["segments"], ctx)
        if seg is not None and "customer_id" in seg.columns:
            link = seg.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
            mapping = dict(zip(link["customer_id"], link["segment"].astype(str), strict=True))
            table["segment"] = table["customer_id"].map(mapping).fillna("unassigned")
    return table


def _with_non_buyers(table: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """``table`` (customers with purchases) and, below it, the customers without any:
    ``frequency``, ``recency``, ``T`` 0 and ``purchased`` False, their own columns from the
    customers table (the value stage's columns missing)."""
    table = table.assign(purchased=True)
    rest = customers.drop_duplicates("customer_id")
    rest = rest[~rest["customer_id"].isin(table["customer_id"])]
    if rest.empty:
        return table
    shared = [c for c in rest.columns if c in table.columns]
    add = rest[shared].assign(frequency=0.0, recency=0.0, T=0.0, purchased=False)
    if "n_transactions" in table.columns:
        add["n_transactions"] = 0
    return pd.concat([table, add], ignore_index=True)
