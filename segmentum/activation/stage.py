"""The ``activation`` stage in the flow (after valuation): acting on customers.

It reads the valuation stage's segment of every customer, the value stage's per-customer
table and fitted purchase model (when it ran), the events, the offers and the response
history, and hands on to the run: per-customer columns (``stage``, ``next_best_offer``,
``offer_expected_value``, ``control``), ``activation.json`` in the run folder, a headline
entry in ``segments.json`` and the report's "Acting on customers" section.

The stage is a composition of one function per half: the customer half
(:func:`~segmentum.activation.customers.customer_activation`) and, later, the go-to-market
half (channels, leads); ``activation.json`` is the dict the halves assemble.

With ``engine = "spark"`` the customer half runs in Spark
(:func:`~segmentum.activation.spark_customers.customer_activation_spark`): every customer's
stage, control flag and offer are computed once where the customers live, Spark writes the
assignments and ``audiences/``, and the summary, the report section, the kit and the
go-to-market half read aggregates brought to the driver (``CustomerActivation.counts``,
``segment_stage``, ``flow``), never a row per customer. The go-to-market half reads the
customers table where Spark holds it
(:class:`~segmentum.activation.spark_leads.SparkCustomerBase`): the lead model's rows (the
customers linked to the survey) are selected there, and a channel's mix by descriptor is
raked on the cells Spark counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from segmentum.activation.customers import (
    ASSIGNMENT_COLUMNS,
    CustomerActivation,
    customer_activation,
)
from segmentum.activation.gtm import (
    CustomerBase,
    LeadsInput,
    MarketActivation,
    market_activation,
    market_blocks,
)
from segmentum.activation.kit import SegmentKit, segment_kit
from segmentum.activation.report import customer_blocks
from segmentum.activation.scenarios import (
    ScenarioOutcome,
    run_scenarios,
    scenario_blocks,
    whatif_table,
)
from segmentum.activation.settings import ActivationConfig
from segmentum.activation.uplift import OfferUplift, offer_clv_uplift
from segmentum.flow import Stage, StageContext
from segmentum.report.section import Section
from segmentum.valuation.stage import ValuationStageResult
from segmentum.value.stage import VALUE, ValueResult, per_customer_columns
from segmentum.value.summary import summarize

__all__ = ["ACTIVATION", "ActivationResult"]


@dataclass(frozen=True)
class ActivationResult:
    """The stage's result: one attribute per half of the stage.

    Attributes
    ----------
    customers : CustomerActivation
        Lifecycle stage, next best offer and control group of every customer (on Spark the
        rows stay in Spark and only their aggregates are here).
    market : MarketActivation or None
        Targets, lead model and scored leads, channel choice, audience files' rows.
    scenarios : list of ScenarioOutcome
        The declared what-if scenarios (``[activation] scenarios``) and their tables.
    kit : SegmentKit or None
        Playbooks by priority segment x stage, trigger rules and the data-collection plan.
    spark, spark_people : pyspark.sql.DataFrame or None
        With ``engine = "spark"``: the assignments columns and the audience files' people
        computed by Spark
        (:func:`~segmentum.activation.spark_customers.customer_activation_spark`); Spark
        then writes ``assignments.parquet/`` and ``audiences/``. ``None`` otherwise.

    :meth:`stage_mix` and :meth:`top_offers` give each segment's customers by stage and the
    offer most of them get, from the aggregates (the same on both engines): what the
    report's answer reads.
    """

    customers: CustomerActivation
    market: MarketActivation | None = None
    scenarios: tuple[ScenarioOutcome, ...] = ()
    kit: SegmentKit | None = None
    spark: Any = field(default=None, compare=False, repr=False)
    spark_people: Any = field(default=None, compare=False, repr=False)

    def activation_json(self) -> dict[str, Any]:
        """``activation.json``: the halves' entries side by side."""
        market = self.market.summary() if self.market is not None else {}
        out = {**self.customers.summary(), **market}
        if self.scenarios:
            out["scenarios"] = [
                {"name": o.scenario.name, "file": o.path,
                 "total": o.table[o.table["segment"] == "total"].iloc[0].to_dict()}
                for o in self.scenarios
            ]  # fmt: skip
        if self.kit is not None:
            out.update(self.kit.summary())
        return out

    def headline(self) -> dict[str, Any]:
        """The stage's entry in ``segments.json``."""
        k = self.customers.counts
        return {"stages": dict(k.stages), "offers_made": k.offered, "control_group": k.control}

    def stage_mix(self) -> pd.DataFrame:
        """Each segment's customers by lifecycle stage, largest first: ``segment``,
        ``stage``, ``customers``, ``share`` (:meth:`CustomerActivation.stage_mix`; from the
        aggregates, the same on both engines)."""
        return self.customers.stage_mix()

    def top_offers(self) -> pd.Series:
        """The next best offer most of each segment's customers get, by segment
        (:meth:`CustomerActivation.top_offers`)."""
        return self.customers.top_offers()


def _skip(ctx: StageContext) -> str | None:
    if ctx.config.sources.customers is None:
        return "no customers table ([sources.customers]): nobody to act on"
    return None  # the valuation stage is in ``needs``


def _renamed(ctx: StageContext, table: str, roles: dict[str, str | None]) -> pd.DataFrame | None:
    """A clean table with its role columns under the names the library functions read."""
    frame = ctx.data.get(table)
    if frame is None:
        return None
    mapping = {col: role for role, col in roles.items() if col}
    return frame.rename(columns=mapping)[list(mapping.values())]


def _inputs(ctx: StageContext) -> dict[str, Any]:
    """The customer half's tables, from the clean tables and earlier stages."""
    val = ctx.result(ValuationStageResult).assignments
    customers = val.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    out: dict[str, Any] = {"customers": customers[["customer_id", "segment"]]}
    value = ctx.optional(ValueResult)
    if value is not None:
        out["per_customer"] = per_customer_columns(value)
    src = ctx.config.sources
    if src.events is not None:
        e = src.events
        out["events"] = _renamed(
            ctx, "events",
            {"customer_id": e.customer_id, "timestamp": e.timestamp, "event_type": e.event_type},
        )  # fmt: skip
    return {**out, **_driver_tables(ctx)}


def _driver_tables(ctx: StageContext) -> dict[str, Any]:
    """The offers and the response history (small tables, on the driver on both engines)."""
    src = ctx.config.sources
    out: dict[str, Any] = {}
    if src.offers is not None:
        o = src.offers
        out["offers"] = _renamed(
            ctx, "offers",
            {"offer_id": o.id, "value": o.value, "cost": o.cost, "product": o.product,
             "segments": o.segments, "stages": o.stages, "limit": o.limit},
        )  # fmt: skip
        out["offers_label"] = o.location
    if src.responses is not None:
        r = src.responses
        out["responses"] = _renamed(
            ctx, "responses",
            {"customer_id": r.customer_id, "timestamp": r.timestamp, "offer_id": r.offer_id,
             "accepted": r.accepted, "stage": r.stage},
        )  # fmt: skip
    return out


def _earlier(ctx: StageContext, date: pd.Timestamp) -> tuple[Any, pd.DataFrame | None] | None:
    """The value table at ``date`` with P(alive) from the fitted model, for the stage flow."""
    value = ctx.optional(ValueResult)
    tsrc = ctx.config.sources.transactions
    model = value.models.get("purchase") if value is not None else None
    if value is None or tsrc is None or model is None:
        return None
    tx = ctx.data.frame("transactions")
    tx = tx[pd.to_datetime(tx[tsrc.timestamp]) <= date]
    if tx.empty:
        return (date, None)
    summary = summarize(
        tx, tsrc.customer_id, tsrc.timestamp, tsrc.amount,
        calibration_end=date, time_unit=value.config.time_unit,
    )  # fmt: skip
    table = summary.reset_index() if tsrc.customer_id not in summary else summary.copy()
    table = table.rename(columns={tsrc.customer_id: "customer_id"})
    table["p_alive"] = model.probability_alive(summary).to_numpy()
    return (date, table)


def _run(ctx: StageContext) -> ActivationResult:
    cfg = ctx.settings(ActivationConfig, "activation")
    today = pd.Timestamp(ctx.data.analysis_date or pd.Timestamp.today().normalize())
    before = today - pd.Timedelta(days=cfg.flow_periods * cfg.contact.period_days)
    uplift, uplift_note = _uplift(ctx, cfg)
    on_spark = _on_spark(ctx)
    if on_spark:
        customers, events = _customers_spark(ctx, cfg, today, before, uplift)
    else:
        inputs = _inputs(ctx)
        events = inputs.get("events")
        customers = customer_activation(
            analysis_date=today, earlier=_earlier(ctx, before), config=cfg, seed=ctx.seed,
            uplift=uplift, **inputs,
        )  # fmt: skip
    scenarios, note = _scenarios(ctx, cfg)
    notes = [n for n in (uplift_note, note) if n]
    if notes:
        customers = replace(customers, warnings=[*customers.warnings, *notes])
    market = _market(ctx, cfg, customers)
    spark, people = None, None
    if on_spark:
        from segmentum.activation.spark import audience_people_spark

        spark = customers.spark.select("customer_id", *ASSIGNMENT_COLUMNS)
        src = ctx.config.sources.customers
        if src is not None and "customers" in ctx.data and customers.counts.customers:
            people = audience_people_spark(ctx, customers.spark, cfg)
    return ActivationResult(
        customers=customers, market=market, scenarios=scenarios,
        kit=segment_kit(ctx, cfg, customers, market, events),
        spark=spark, spark_people=people,
    )  # fmt: skip


def _on_spark(ctx: StageContext) -> bool:
    """Whether the customer half runs in Spark (``engine = "spark"`` with a session)."""
    if ctx.config.project.engine != "spark":
        return False
    from segmentum.valuation.spark import stage_session

    return stage_session(ctx) is not None


def _customers_spark(
    ctx: StageContext, cfg: ActivationConfig, today: pd.Timestamp, before: pd.Timestamp,
    uplift: OfferUplift | None,
) -> tuple[CustomerActivation, Any]:  # fmt: skip
    """The customer half in Spark (rows kept there, aggregates here) and the Spark events."""
    from segmentum.activation.spark import _renamed_spark
    from segmentum.activation.spark_customers import customer_activation_spark
    from segmentum.valuation.spark import stage_session

    tables = _driver_tables(ctx)
    ca = customer_activation_spark(
        ctx, today, config=cfg, offers=tables.get("offers"), responses=tables.get("responses"),
        flow_date=before, offers_label=tables.get("offers_label", "offers"), uplift=uplift,
    )  # fmt: skip
    e = ctx.config.sources.events
    events = None
    if e is not None:
        spark = stage_session(ctx)
        roles = {"customer_id": e.customer_id, "timestamp": e.timestamp,
                 "event_type": e.event_type}  # fmt: skip
        events = _renamed_spark(ctx, spark, "events", roles)  # type: ignore[arg-type]
    return ca, events


def _uplift(ctx: StageContext, cfg: ActivationConfig) -> tuple[OfferUplift | None, str | None]:
    """The CLV uplift of the offers declared in ``[activation.offer_covariates]``, or why not."""
    if not cfg.offer_covariates or ctx.config.sources.offers is None:
        return None, None
    value = ctx.optional(ValueResult)
    if value is None or "purchase" not in value.models:
        return None, (
            "[activation.offer_covariates] declares offers that change a covariate, but the "
            "value stage fitted no purchase model: their expected value leaves out the CLV "
            "uplift"
        )
    from segmentum.data.errors import ProjectError
    from segmentum.value.whatif import customer_table

    try:
        if _on_spark(ctx) and getattr(value, "spark", None) is not None:
            from segmentum.activation.spark_whatif import offer_clv_uplift_spark

            return offer_clv_uplift_spark(ctx, value, cfg.offer_covariates), None
        table = customer_table(ctx, {"value": value})
        return offer_clv_uplift(value, table, cfg.offer_covariates), None
    except ValueError as exc:
        raise ProjectError(str(exc)) from exc


def _scenarios(
    ctx: StageContext, cfg: ActivationConfig
) -> tuple[tuple[ScenarioOutcome, ...], str | None]:
    """The third part: the declared what-if scenarios on the valuation's segments, and why
    they were not computed when they were declared but could not be."""
    if not cfg.scenarios:
        return (), None
    value = ctx.optional(ValueResult)
    if value is None or "purchase" not in value.models:
        if value is None:
            why = VALUE.skip_reason(ctx)
            cause = f"the value stage did not run ({why})" if why else "the value stage did not run"
        else:
            why = dict(value.summary.get("skipped") or {}).get("p_alive")
            cause = "the value stage fitted no purchase model" + (f" ({why})" if why else "")
        names = ", ".join(cfg.scenarios)
        return (), (
            f"the what-if scenarios of [activation] scenarios ({names}) were not computed: "
            f"{cause}, and a scenario moves the fitted purchase model's CLV. No whatif.csv "
            "is written."
        )
    if ctx.folder is None:
        raise ValueError("[activation] scenarios need the project folder (run it as a Project)")
    vst = ctx.result(ValuationStageResult)
    if vst.spark is not None and getattr(value, "spark", None) is not None:
        # every customer stays in Spark: the scenarios are sums per segment computed there
        from segmentum.activation.spark_whatif import run_scenarios_spark

        return tuple(run_scenarios_spark(ctx, value, vst, cfg.scenarios, ctx.folder)), None
    segs = vst.assignments.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    note = None
    if vst.spark is not None:
        # the value stage did not run in Spark: the projected segments come over to the
        # driver's (pandas) what-if code
        from pyspark.sql import functions as F

        projected = vst.spark.where(F.col("segment_source") == "projected")
        rest = projected.select("customer_id", "segment").toPandas()
        segs = pd.concat([segs[["customer_id", "segment"]], rest], ignore_index=True)
        segs = segs.drop_duplicates("customer_id")
        note = (
            f"the what-if scenarios ran on the driver: their {len(segs):,} customers' segments "
            "and value columns were brought over from Spark (a scenario is computed per "
            "customer in pandas)"
        )
    return tuple(run_scenarios(ctx, value, segs, cfg.scenarios, ctx.folder)), note


def _market(ctx: StageContext, cfg: ActivationConfig, ca: CustomerActivation) -> MarketActivation:
    """The go-to-market half: one call with the tables and the valuation's results."""
    src = ctx.config.sources
    vst = ctx.result(ValuationStageResult)
    val = vst.result
    rows = vst.assignments
    linked = rows[(rows["segment_source"] == "survey") & rows["customer_id"].notna()]
    labels = pd.Series(linked["segment"].to_numpy(), index=linked["customer_id"].to_numpy())
    cust_src = src.customers
    table = _customer_base(ctx)
    leads = None
    if src.leads is not None:
        ls = src.leads
        leads = LeadsInput(ctx.data.frame("leads"), ls.id, list(ls.descriptors), ls.source,
                           ls.converted)  # fmt: skip
    sizes = ca.counts.by_segment.set_index("segment")["customers"]
    return market_activation(
        customers=ca.customers,
        segment_sizes=sizes if ca.customers is None else None,
        customer_table=table,
        customer_id=cust_src.id if cust_src is not None else "customer_id",
        descriptors=list(cust_src.descriptors) if cust_src is not None else [],
        channel=cust_src.channel if cust_src is not None else None,
        linked=labels,
        priorities=val.priorities.table if val.priorities is not None else None,
        valuation=val.valuation,
        segment_names=val.segment_names,
        typing_tool=val.typing.tool if val.typing is not None else None,
        leads=leads,
        channels=_channels(ctx),
        config=cfg,
        seed=ctx.seed,
    )


def _customer_base(ctx: StageContext) -> pd.DataFrame | CustomerBase | None:
    """The customers table for the go-to-market half: on Spark where Spark holds it (the
    lead model's rows are selected there, :mod:`~segmentum.activation.spark_leads`), else
    the clean frame with text ids."""
    cust_src = ctx.config.sources.customers
    if cust_src is None or "customers" not in ctx.data:
        return None
    held = ctx.data.spark("customers")
    if held is not None and _on_spark(ctx):
        from segmentum.activation.spark_leads import SparkCustomerBase

        return SparkCustomerBase(held, cust_src.id)
    table = ctx.data.get("customers")
    if table is None:
        return None
    return table.assign(**{cust_src.id: table[cust_src.id].astype(str)})


def _channels(ctx: StageContext) -> pd.DataFrame | None:
    """``[sources.channels]`` with its role columns under the names the library reads."""
    c = ctx.config.sources.channels
    if c is None:
        return None
    roles = {c.channel: "channel", c.cost: "cost", c.audience: "audience"}
    for role in ("response_rate", "max_units"):
        col = getattr(c, role)
        if col:
            roles[col] = role
    return ctx.data.frame("channels").rename(columns=roles)


def report_section(result: ActivationResult) -> Section:
    """The report's "Acting on customers" section: one block group per half."""
    k = result.customers.counts
    sec = Section(
        "activation",
        "Acting on customers",
        summary=f"{k.customers:,} customers by lifecycle stage; "
        f"{k.offered:,} get a next best offer and "
        f"{k.control:,} are held out as the control group.",
    )
    customer_blocks(sec, result.customers)
    if result.market is not None:
        market_blocks(sec, result.market)
    scenario_blocks(sec, list(result.scenarios))
    if result.kit is not None:
        result.kit.blocks(sec)
    return sec


def _files(result: ActivationResult, run_dir: Path) -> list[Path]:
    written = []
    data = result.activation_json()
    audiences = None
    if result.market is not None and result.spark_people is not None:
        from segmentum.activation.spark import write_audiences_spark

        cfg = result.market.config
        audiences = write_audiences_spark(
            run_dir / "audiences", result.spark_people, id_column="customer_id",
            columns=[c for c in cfg.audience_columns if c != "customer_id"],
            segment_names=result.market.segment_names, bom=cfg.audience_bom,
            xlsx=cfg.audience_xlsx, xlsx_max_rows=cfg.audience_xlsx_max_rows,
        )  # fmt: skip
    elif result.market is not None:
        audiences = result.market.write_audiences(run_dir)
    if audiences is not None:
        data["audiences"] = audiences.summary()
        written.append(audiences.folder / "manifest.json")
    if result.kit is not None:
        written += result.kit.write(run_dir, data)
    if result.scenarios:
        csv = run_dir / "whatif.csv"
        whatif_table(list(result.scenarios)).to_csv(csv, index=False)
        written.append(csv)
    path = run_dir / "activation.json"
    payload = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    path.write_text(payload + "\n", encoding="utf-8")
    return [path, *written]


def _save(result: ActivationResult, model_dir: Path) -> None:
    if result.market is not None:
        result.market.save_model(model_dir)


ACTIVATION = Stage(
    name="activation",
    title="Acting on customers",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    assignments=lambda r, ctx: r.customers.assignment_columns(),
    assignments_spark=lambda r, ctx: r.spark,
    summary=lambda r: r.headline(),
    write_files=_files,
    save_model=_save,
    settings=ActivationConfig,
    needs=("valuation",),
)
