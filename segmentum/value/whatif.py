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
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmentum.value.clv import customer_lifetime_value, step_discount_rate

__all__ = [
    "Scenario",
    "ScenarioChange",
    "ScenarioModel",
    "check_declared",
    "customer_table",
    "load_scenario",
    "margin_rates",
    "scenario_whatif",
    "whatif",
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


def scenario_whatif(
    value: Any, table: pd.DataFrame, scenario: Scenario, *, seed: int
) -> pd.DataFrame:
    """What ``segmentum whatif`` computes: refit the value stage's purchase model with the
    scenario's covariates on ``table`` and run :func:`whatif` at the value stage's horizon,
    step and discount rate, on margin where the table has margins (:func:`margin_rates`,
    as the value stage's CLV).

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
    from segmentum.value.summary import TIME_UNITS

    cfg = value.config
    plain = value.models["purchase"]
    # fitted on the customers with purchases (a customer without any has no history to
    # fit), applied to everyone: those without purchases as just acquired (x = t_x = T = 0)
    buyers = table[table["purchased"]] if "purchased" in table.columns else table
    model = type(plain)(penalizer=plain.penalizer).fit(
        buyers,
        purchase_covariates=scenario.model.purchase_covariates,
        dropout_covariates=scenario.model.dropout_covariates,
    )
    unit = TIME_UNITS[cfg.time_unit]
    spend: str | None = None
    if "expected_spend" in table.columns:
        spend = "expected_spend"
        spend_model = value.models.get("spend")
        if spend_model is not None and table["expected_spend"].isna().any():
            # the spend model's population mean for customers without a spend history
            table = table.assign(
                expected_spend=table["expected_spend"].fillna(spend_model.mean_spend_)
            )
    return whatif(
        model,
        table,
        scenario,
        spend=spend,
        horizon=cfg.clv_horizon_days / unit,
        step=cfg.clv_step_days / unit,
        discount_rate=step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
        margin_rate=margin_rates(table),
        n_draws=scenario.model.draws,
        seed=seed,
    )


def margin_rates(table: pd.DataFrame) -> np.ndarray | float:
    """Each customer's margin over revenue, as the value stage prices CLV on margin.

    From the per-customer ``margin`` and ``revenue`` totals: the customer's own rate where
    they have revenue, the overall rate otherwise (customers without purchases), clipped to
    ±1; 1 (a revenue CLV) when the table has no margins.
    """
    if "margin" not in table.columns or "revenue" not in table.columns:
        return 1.0
    rev = pd.to_numeric(table["revenue"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    mar = pd.to_numeric(table["margin"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if not np.any(mar) or not rev.sum():
        return 1.0
    overall = float(mar.sum() / rev.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(rev > 0, mar / np.where(rev > 0, rev, 1.0), overall)
    return np.clip(own, -1.0, 1.0)


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


# long: the four scenario closures in its body share one scenario's rows (said below).
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

    Returns
    -------
    pandas.DataFrame
        One row per segment and a ``total`` row: ``segment``, ``customers``, ``clv_before``,
        ``clv_after``, ``difference``, ``low``, ``high`` (sums over the segment's customers).
    """
    sc, label = load_scenario(scenario)
    if segment not in rfm.columns:
        raise ValueError(f"whatif: the summary table has no segment column {segment!r}")
    model._check_fitted()
    n = len(rfm)
    seg = rfm[segment].astype(str).to_numpy()
    labels = sorted(set(seg), key=lambda v: (len(v), v))
    cov_cols = model.covariate_columns()
    known_cov = sorted(set(cov_cols["purchase"]) | set(cov_cols["dropout"]))
    if spend is None:
        spend = "monetary_value" if "monetary_value" in rfm.columns else 1.0
    if isinstance(spend, str):
        if spend not in rfm.columns:
            raise ValueError(f"whatif: spend column {spend!r} is not in the summary table")
        spend_v = pd.to_numeric(rfm[spend], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    else:
        spend_v = np.broadcast_to(np.asarray(spend, dtype=float), (n,)).copy()
    # CLV is discounted purchases x spend x margin rate: the margin rides on the spend
    spend_v = spend_v * np.broadcast_to(np.asarray(margin_rate, dtype=float), (n,))
    freq = rfm["frequency"].to_numpy(dtype=float)

    # masks and effects of each change, checked against the data
    purchase_mult, retention_mult, spend_mult, takeups = _change_effects(
        sc, label, model, seg, labels, freq, known_cov
    )
    affected = (purchase_mult != 1) | (retention_mult != 1) | (spend_mult != 1)
    for _, _, share in takeups:
        affected |= share > 0
    rows = np.flatnonzero(affected)
    sub = rfm.iloc[rows].reset_index(drop=True)
    # mixture components over who takes up what: (weight per row, table)
    components = _takeup_components(sub, rows, takeups)
    bg = tuple(model._param_names) == ("r", "alpha", "a", "b")

    # Long for a reason: these four closures share the affected rows, the multipliers and the
    # take-up components of this scenario; lifted out, each would take six or more arguments.
    def clv(params: tuple[Any, ...], df: pd.DataFrame, spend_rows: np.ndarray) -> np.ndarray:
        m = copy.copy(model)
        m._fixed_params = params
        return customer_lifetime_value(
            m,
            df,
            spend_rows,
            horizon=horizon,
            step=step,
            discount_rate=discount_rate,
        ).to_numpy()

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
        before = clv(rows_params(theta, sub), sub, spend_v[rows])
        after = np.zeros(rows.size)
        for w, df in components:
            after += w * clv(
                after_params(rows_params(theta, df)), df, spend_v[rows] * spend_mult[rows]
            )
        return before, after

    base_all = clv(rows_params(None, rfm), rfm, spend_v)
    _, after_rows = before_after(None)
    after_all = base_all.copy()
    after_all[rows] = after_rows
    seg_rows = seg[rows]
    groups = [*labels, "total"]
    draws = np.zeros((n_draws, len(groups)))
    if rows.size and n_draws > 0:
        theta, cov = model._theta_covariance(rfm)
        rng = np.random.default_rng(seed)
        for d, th in enumerate(_draw_thetas(theta, cov, n_draws, rng)):
            b, a = before_after(th)
            diff = a - b
            for j, g in enumerate(labels):
                draws[d, j] = diff[seg_rows == g].sum()
            draws[d, -1] = diff.sum()
    out = []
    for j, g in enumerate(groups):
        sel = np.ones(n, dtype=bool) if g == "total" else seg == g
        before, after = float(base_all[sel].sum()), float(after_all[sel].sum())
        lo, hi = (
            (float(np.quantile(draws[:, j], 0.025)), float(np.quantile(draws[:, j], 0.975)))
            if n_draws > 0 and rows.size
            else (after - before, after - before)
        )
        out.append([g, int(sel.sum()), before, after, after - before, lo, hi])
    return pd.DataFrame(out, columns=WHATIF_COLUMNS)


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
