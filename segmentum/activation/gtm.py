"""The go-to-market half of the activation stage: leads, channels and audience files.

:func:`market_activation` is the one call the stage makes: it picks the target segments
(the valuation's priorities, or ``[activation] target_segments``), fits the lead model on the
linked customers (:mod:`segmentum.activation.leads`), scores ``[sources.leads]``, chooses
channels from ``[sources.channels]`` (:mod:`segmentum.activation.channels`) and prepares the
audience files (:mod:`segmentum.activation.audiences`). Its :meth:`MarketActivation.summary`
is the ``channels``, ``leads`` and ``lead_model`` part of ``activation.json``;
:func:`market_blocks` adds the half to the report section.

The customers table is read through a :class:`CustomerBase`: a pandas table on the driver
(:class:`TableBase`: every customer's lead features, every customer scored for a channel's
mix by descriptor), or the table where an engine holds it
(:class:`~segmentum.activation.spark_leads.SparkCustomerBase`: the linked customers' rows
alone, and the customers scored and counted by cell of descriptor values there), with the
same results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from segmentum.activation.audiences import AudienceFiles, write_audiences
from segmentum.activation.channels import (
    ChannelPlan,
    mix_from_descriptors,
    plan_channels,
    read_mix,
)
from segmentum.activation.leads import (
    LEAD_MODEL_FILE,
    SOURCE,
    LeadFit,
    conversion_by_source,
    fit_lead_scorer,
    lead_features,
    lead_summary,
    target_segments,
)
from segmentum.activation.settings import ActivationConfig
from segmentum.report.section import Section
from segmentum.valuation.projection import ProjectionModel
from segmentum.valuation.typing_tool import TypingTool

__all__ = [
    "CustomerBase",
    "LeadsInput",
    "MarketActivation",
    "TableBase",
    "market_activation",
    "market_blocks",
]

_MIN_LINKED = 20


@dataclass(frozen=True)
class LeadsInput:
    """The leads table and its roles (``[sources.leads]``)."""

    frame: pd.DataFrame
    id: str
    descriptors: Sequence[str] = ()
    source: str | None = None
    converted: str | None = None


@runtime_checkable
class CustomerBase(Protocol):
    """The customers table where it lives, as the go-to-market half reads it: its columns,
    the lead features of the customers the lead model is fitted on, and every customer
    scored by the lead model, by cell of descriptor values (for a channel's mix by
    descriptor). :class:`TableBase` is a pandas table on the driver;
    :class:`~segmentum.activation.spark_leads.SparkCustomerBase` a table held in Spark.
    """

    @property
    def columns(self) -> list[str]:
        """The table's columns."""
        ...

    def features(
        self, descriptors: Sequence[str], source: str | None, ids: pd.Index | None
    ) -> pd.DataFrame:
        """:func:`~segmentum.activation.leads.lead_features` of the customers ``ids`` (text
        ids; at least those, indexed by id), or of every customer when ``ids`` is None."""
        ...

    def cells(
        self,
        descriptors: Sequence[str],
        source: str | None,
        model: ProjectionModel,
        columns: Sequence[str],
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The customers by cell of the lead features ``columns``: the cells' values, the
        customers in each and their mean segment probabilities under ``model``."""
        ...


class TableBase:
    """A customers table on the driver (pandas): every customer is a cell of one.

    Parameters
    ----------
    table : pandas.DataFrame
        The customers table (text ids in ``id_column``).
    id_column : str
    """

    def __init__(self, table: pd.DataFrame, id_column: str):
        self.table = table
        self.id_column = id_column
        self._features: dict[tuple[Any, ...], pd.DataFrame] = {}

    @property
    def columns(self) -> list[str]:
        """The table's columns."""
        return [str(c) for c in self.table.columns]

    def features(
        self, descriptors: Sequence[str], source: str | None, ids: pd.Index | None = None
    ) -> pd.DataFrame:
        """Every customer's lead features (``ids`` are not needed: the fit picks them)."""
        key = (tuple(descriptors), source)
        if key not in self._features:
            self._features[key] = lead_features(
                self.table, id_column=self.id_column, descriptors=descriptors, source=source
            )
        return self._features[key]

    def cells(
        self,
        descriptors: Sequence[str],
        source: str | None,
        model: ProjectionModel,
        columns: Sequence[str],
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Every customer as a cell of one: the features, ones and the probabilities."""
        feats = self.features(descriptors, source)
        return feats, np.ones(len(feats)), model.predict_proba(feats)


@dataclass(frozen=True)
class MarketActivation:
    """What the go-to-market half found.

    Attributes
    ----------
    targets : tuple of int
    segment_names : dict of int to str
    lead_fit : LeadFit or None
        The lead model and its out-of-fold checks (None without linked customers).
    leads : pandas.DataFrame or None
        The scored leads (:meth:`~segmentum.activation.leads.LeadScorer.score`).
    plan : ChannelPlan or None
    people : pandas.DataFrame or None
        One row per customer for the audience files.
    config : ActivationConfig
    warnings : list of str
    """

    targets: tuple[int, ...]
    segment_names: dict[int, str]
    lead_fit: LeadFit | None
    leads: pd.DataFrame | None
    plan: ChannelPlan | None
    people: pd.DataFrame | None
    config: ActivationConfig = field(default_factory=ActivationConfig)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """``activation.json``'s ``targets``, ``channels``, ``leads``, ``lead_model`` and
        ``channel_choice`` (plain JSON types)."""
        out: dict[str, Any] = {
            "targets": [int(s) for s in self.targets],
            "channels": self.plan.to_json() if self.plan is not None else [],
            "leads": lead_summary(self.leads) if self.leads is not None else None,
            "lead_model": self.lead_fit.summary() if self.lead_fit is not None else None,
            "market_warnings": list(self.warnings),
        }
        if self.plan is not None:
            out["channel_choice"] = {
                "sentence": self.plan.sentence,
                "budget": self.plan.budget,
                "break_even_cost": {k: _finite(v) for k, v in self.plan.break_even.items()},
                "frontier": None
                if self.plan.frontier is None
                else self.plan.frontier.to_dict(orient="records"),
            }
        return out

    def save_model(self, model_dir: Path) -> list[Path]:
        """``model/lead_projection.json`` (when the lead model was fitted)."""
        if self.lead_fit is None:
            return []
        return [self.lead_fit.scorer.save(Path(model_dir) / Path(LEAD_MODEL_FILE).name)]

    def write_audiences(self, run_dir: Path) -> AudienceFiles | None:
        """``audiences/`` in the run folder (None without customers)."""
        if self.people is None:
            return None
        cfg = self.config
        return write_audiences(
            Path(run_dir) / "audiences", self.people, id_column="customer_id",
            columns=[c for c in cfg.audience_columns if c != "customer_id"],
            segment_names=self.segment_names, bom=cfg.audience_bom, xlsx=cfg.audience_xlsx,
            xlsx_max_rows=cfg.audience_xlsx_max_rows,
        )  # fmt: skip


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _segment_numbers(valuation: pd.DataFrame | None, sizes: pd.Series) -> list[int]:
    if valuation is not None and len(valuation):
        return sorted(int(s) for s in valuation.index)
    return sorted(int(s) for s in sizes.index if pd.notna(s))


def _value_per_head(valuation: pd.DataFrame | None, segments: list[int]) -> dict[int, float]:
    for col in ("clv_per_head", "profit_clv_per_head", "revenue_per_head"):
        if valuation is not None and col in valuation:
            v = valuation[col]
            return {s: float(v.get(s, 0.0)) if pd.notna(v.get(s)) else 0.0 for s in segments}
    return dict.fromkeys(segments, 1.0)


def _market_shares(valuation: pd.DataFrame | None, sizes: pd.Series) -> dict[int, float]:
    if valuation is not None and "population_share" in valuation:
        return {int(s): float(v) for s, v in valuation["population_share"].items()}
    sizes = sizes[pd.notna(sizes.index)]
    total = float(sizes.sum())
    return {int(s): float(v) / total for s, v in sizes.items()} if total else {}


def _sizes(customers: pd.DataFrame | None, sizes: pd.Series | None) -> pd.Series:
    """Customers per segment: ``sizes`` when given (an engine counted them), else counted."""
    if sizes is not None:
        return sizes
    if customers is None:
        raise ValueError("market_activation: give the customers or their segment_sizes")
    return customers["segment"].value_counts()


def _lead_columns(
    columns: Sequence[str],
    descriptors: Sequence[str],
    channel: str | None,
    leads: LeadsInput | None,
    warnings: list[str],
) -> tuple[list[str], str | None]:
    """The lead model's customer columns: the leads' descriptors the customers also have
    (``columns``), and the acquisition channel as ``source`` when leads have a source."""
    if leads is not None:
        cols = [c for c in leads.descriptors if c in columns]
        gone = [c for c in leads.descriptors if c not in columns]
        if gone:
            warnings.append(
                f"lead model: lead descriptors {gone} are not customer columns; left out"
            )
        src = channel if (leads.source is not None and channel) else None
    else:
        cols, src = [c for c in descriptors if c in columns], channel
    return cols, src


def _score_leads(
    fit: LeadFit | None, leads: LeadsInput | None, warnings: list[str]
) -> pd.DataFrame | None:
    if leads is None:
        return None
    if fit is None:
        warnings.append("leads not scored: no lead model (too few linked customers)")
        return None
    return fit.scorer.score(leads.frame, id_column=leads.id, source_column=leads.source)


def _plan(
    channels: pd.DataFrame | None,
    fit: LeadFit | None,
    base: CustomerBase | None,
    lead_columns: tuple[list[str], str | None],
    *,
    segments: list[int],
    targets: tuple[int, ...],
    value: Mapping[int, float],
    shares: Mapping[int, float],
    budget: float | None,
) -> ChannelPlan | None:
    if channels is None:
        return None
    by_seg, desc = read_mix(channels, segments)
    if desc:
        need = by_seg.isna().all(axis=1).to_numpy()
        if need.any():
            if fit is None or base is None:
                raise ValueError(
                    "channels: a mix by descriptor needs the lead model (customers linked to "
                    "the survey); give those channels' mix by segment (segment_<id> columns)"
                )
            model = fit.scorer.model
            cells, counts, P = base.cells(*lead_columns, model, list(desc))
            cols = [int(s) for s in model.segments]
            for i in np.flatnonzero(need):
                marg = {
                    d: {c.split("=", 1)[1]: float(channels[c].iloc[i]) for c in cs
                        if pd.notna(channels[c].iloc[i])}
                    for d, cs in desc.items()
                }  # fmt: skip
                marg = {d: m for d, m in marg.items() if m}
                try:
                    mix = mix_from_descriptors(marg, cells, P, counts=counts)
                except ValueError as exc:
                    raise ValueError(f"channels: row {i + 1}: {exc}") from exc
                by_seg.iloc[i] = pd.Series(mix, index=cols).reindex(by_seg.columns).fillna(0.0)
    return plan_channels(
        channels, by_seg, targets=targets, value_per_head=value, market_shares=shares,
        budget=budget,
    )  # fmt: skip


def _audience_columns(
    table_columns: Sequence[str], customer_id: str, columns: list[str]
) -> list[str]:
    """The audience columns beside the id, checked against the customers table's columns."""
    cols = [c for c in columns if c != customer_id]
    missing = [c for c in cols if c not in table_columns]
    if missing:
        raise ValueError(
            f"[activation] audience_columns names {missing}, not columns of the customers "
            f"table ({', '.join(map(str, table_columns))})"
        )
    return cols


def _people(
    customers: pd.DataFrame, customer_table: pd.DataFrame, customer_id: str, columns: list[str]
) -> pd.DataFrame:
    people = customers.rename(
        columns={"next_best_offer": "offer", "offer_expected_value": "expected_value"}
    )
    keep = ["customer_id", "segment", *[c for c in ("stage", "offer", "expected_value",
                                                    "control") if c in people]]  # fmt: skip
    people = people[keep].copy()
    cols = _audience_columns(list(customer_table.columns), customer_id, columns)
    if cols:
        extra = customer_table[[customer_id, *cols]].copy()
        extra[customer_id] = extra[customer_id].astype(str)
        people["customer_id"] = people["customer_id"].astype(str)
        people = people.merge(
            extra.rename(columns={customer_id: "customer_id"}), on="customer_id", how="left"
        )
    return people


def market_activation(
    *,
    customers: pd.DataFrame | None,
    customer_table: pd.DataFrame | CustomerBase | None,
    customer_id: str,
    descriptors: Sequence[str] = (),
    channel: str | None = None,
    linked: pd.Series | None = None,
    priorities: pd.DataFrame | None = None,
    valuation: pd.DataFrame | None = None,
    segment_names: Mapping[int, str] | None = None,
    typing_tool: TypingTool | None = None,
    leads: LeadsInput | None = None,
    channels: pd.DataFrame | None = None,
    config: ActivationConfig | None = None,
    seed: int = 0,
    segment_sizes: pd.Series | None = None,
) -> MarketActivation:
    """Targets, lead model and scored leads, channel choice and the audience files' rows.

    Parameters
    ----------
    customers : pandas.DataFrame or None
        The customer half's table: ``customer_id``, ``segment`` and, where present,
        ``stage``, ``next_best_offer``, ``offer_expected_value``, ``control``. ``None`` when
        the rows stay in an engine (Spark): give ``segment_sizes``; no audience rows are
        made here (``people`` is ``None``; the engine writes ``audiences/``).
    customer_table : pandas.DataFrame, CustomerBase or None
        The clean customers table (descriptors, channel, audience columns): a pandas frame,
        or where it lives (:class:`CustomerBase`; on Spark
        :class:`~segmentum.activation.spark_leads.SparkCustomerBase`: the lead model's
        rows, the linked customers, are selected there and every customer is scored there
        for a channel's mix by descriptor).
    customer_id : str
        Its id column.
    descriptors, channel : the customers' descriptor columns and acquisition channel column
    linked : pandas.Series, optional
        Survey segment of the customers linked to respondents, indexed by customer id.
    priorities, valuation : pandas.DataFrame, optional
        The valuation stage's priority table and segment valuation (indexed by segment).
    segment_names : mapping, optional
    typing_tool : TypingTool, optional
        Scores leads that answered every golden question.
    leads : LeadsInput, optional
    channels : pandas.DataFrame, optional
        ``[sources.channels]`` (columns named as :func:`~segmentum.activation.channels.
        read_mix` reads them).
    config : ActivationConfig, optional
    seed : int, default=0
    segment_sizes : pandas.Series, optional
        Customers per segment, when ``customers`` is ``None``.

    Raises
    ------
    DataError
        A bad channels or leads table (named by table, row and column).
    ValueError
        A target segment or audience column the run does not have.
    """
    cfg = config or ActivationConfig()
    warnings: list[str] = []
    sizes = _sizes(customers, segment_sizes)
    segments = _segment_numbers(valuation, sizes)
    targets = target_segments(
        priorities, segments, named=cfg.target_segments or None, top_n=cfg.target_top_n
    )
    names = {s: str((segment_names or {}).get(s, f"Segment {s}")) for s in segments}
    value = _value_per_head(valuation, segments)
    base = (
        TableBase(customer_table, customer_id)
        if isinstance(customer_table, pd.DataFrame)
        else customer_table
    )
    fit = None
    lead_cols: tuple[list[str], str | None] = ([], None)
    if base is not None:
        lead_cols = _lead_columns(base.columns, descriptors, channel, leads, warnings)
        lab = linked if linked is not None else pd.Series(dtype=np.int64)
        features = base.features(*lead_cols, pd.Index([str(i) for i in lab.index]))
        fit = _fit(features, lab, leads, cfg, targets, names, value, typing_tool, seed, warnings)
    scored = _score_leads(fit, leads, warnings)
    plan = _plan(
        channels, fit, base, lead_cols, segments=segments, targets=targets, value=value,
        shares=_market_shares(valuation, sizes), budget=cfg.budget,
    )  # fmt: skip
    people = None
    if base is not None and customers is None:
        _audience_columns(base.columns, customer_id, list(cfg.audience_columns))
    elif base is not None and len(customers):  # type: ignore[arg-type]
        if not isinstance(base, TableBase):
            raise ValueError(
                "market_activation: the audience rows of the customers given need the "
                "customers table as a pandas frame (or give customers=None: the engine "
                "writes the audiences)"
            )
        people = _people(customers, base.table, customer_id, list(cfg.audience_columns))
    return MarketActivation(targets, names, fit, scored, plan, people, cfg, warnings)


def _fit(
    features: pd.DataFrame,
    lab: pd.Series,
    leads: LeadsInput | None,
    cfg: ActivationConfig,
    targets: tuple[int, ...],
    names: dict[int, str],
    value: dict[int, float],
    typing_tool: TypingTool | None,
    seed: int,
    warnings: list[str],
) -> LeadFit | None:
    """The lead model on the linked customers' features, or None (said in ``warnings``)."""
    conv = dict(cfg.conversion_rates)
    if leads is not None and leads.converted and leads.source and not conv:
        conv = conversion_by_source(leads.frame, source=leads.source, converted=leads.converted)
    if not (len(lab) >= _MIN_LINKED and lab.nunique() >= 2 and features.shape[1]):
        warnings.append(
            f"lead model skipped: {len(lab)} customers linked to the survey (need "
            f"{_MIN_LINKED}) or no descriptors"
        )
        return None
    try:
        return fit_lead_scorer(
            features, lab, targets=targets, segment_names=names, value_per_head=value,
            conversion=conv, threshold=cfg.lead_threshold,
            id_column=leads.id if leads is not None else None,
            source_column=(leads.source if leads is not None else None) or SOURCE,
            typing_tool=typing_tool, random_state=seed,
        )  # fmt: skip
    except ValueError as exc:
        warnings.append(f"lead model skipped: {exc}")
        return None


def _frontier_figure(frontier: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=frontier["budget"], y=frontier["expected_value"], mode="lines+markers",
            line_shape="hv", text=frontier["channels"],
            hovertemplate="budget %{x:,.0f}<br>value %{y:,.0f}<br>%{text}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(xaxis_title="budget", yaxis_title="expected value in target segments")
    return fig


def _calibration_figure(cal: pd.DataFrame, roc: pd.DataFrame) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Reliability by decile", "ROC"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line_dash="dot",
                             name="perfect", showlegend=False), 1, 1)  # fmt: skip
    fig.add_trace(go.Scatter(x=cal["mean_predicted"], y=cal["observed"], mode="lines+markers",
                             name="held out"), 1, 1)  # fmt: skip
    fig.add_trace(go.Scatter(x=roc["kept_other"], y=roc["kept_target"], mode="lines",
                             name="keep rule"), 1, 2)  # fmt: skip
    fig.update_xaxes(title_text="predicted P(target)", row=1, col=1)
    fig.update_yaxes(title_text="observed share in target", row=1, col=1)
    fig.update_xaxes(title_text="others kept", row=1, col=2)
    fig.update_yaxes(title_text="targets kept", row=1, col=2)
    return fig


def market_blocks(sec: Section, market: MarketActivation) -> Section:
    """Add the go-to-market half to the activation section: targets, leads, channels."""
    tnames = ", ".join(f"{s} ({market.segment_names.get(s, s)})" for s in market.targets)
    sec.text(f"Target segments for leads and channels: {tnames}.")
    fit = market.lead_fit
    if fit is not None:
        s = fit.summary()
        from segmentum.report.format import item_label

        sec.text(
            f"Lead model on {item_label(s['features'])} ({s['n_train']:,} linked customers): "
            f"held-out AUC {s['auc']:.2f} for being in a target segment; at the threshold "
            f"{s['threshold']:.0%} it keeps {s['kept_target']:.0%} of target-segment "
            f"respondents and {s['kept_other']:.0%} of the others; calibration within "
            f"{100 * s['max_calibration_gap']:.0f} points in every decile."
        )
        sec.figure(
            _calibration_figure(fit.calibration, fit.roc),
            "Lead model, out of fold on the linked respondents: reliability of P(target "
            "segment) by decile, and the ROC of the keep rule.",
        )
        sec.table(fit.calibration.round(3), "Calibration by decile (held out).")
    if market.leads is not None:
        ls = lead_summary(market.leads)
        share = ls["value_kept_share"]
        sec.text(
            f"The lead filter keeps {ls['kept']:,} of {ls['kept'] + ls['dropped']:,} leads, "
            f"holding {ls['value_kept']:,.0f} of expected value"
            + (f" ({share:.0%})." if share is not None else ".")
        )
    if market.plan is not None:
        p = market.plan
        cols = ["channel", "cost", "audience", "target_people", "expected_value",
                "cost_per_target", "index", "chosen"]  # fmt: skip
        sec.table(p.table[cols].round(2), "Channels: people in target segments, value "
                  "reached, cost per target person and affinity index (100 = the market).")  # fmt: skip
        if p.frontier is not None:
            sec.figure(_frontier_figure(p.frontier), "Best value reachable at each budget.")
        sec.text(p.sentence)
    for w in market.warnings:
        sec.warn(w)
    return sec
