"""Segments brought to life (issue 18): playbooks, trigger rules and the data-collection plan
of a project run, assembled from the earlier stages for the activation stage.

:func:`segment_kit` gathers what each part needs from the run (profiles, white space and
brand ratings, typing tool, valuation, offers by segment × stage, channel choice, events) and
calls the library functions: :func:`~segmentum.activation.playbooks.build_playbooks`,
:func:`~segmentum.activation.triggers.evaluate_triggers` and
:func:`~segmentum.valuation.collection.plan_for_run`. :class:`SegmentKit` adds their entries
to ``activation.json``, their parts to the report section and writes ``playbooks.md``,
``collection_plan.csv`` and ``audiences/triggers.csv`` / ``trigger_customers.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segmentum.activation.customers import CustomerActivation
from segmentum.activation.gtm import MarketActivation
from segmentum.activation.lifecycle import STAGE_NAMES
from segmentum.activation.playbooks import Playbooks, build_playbooks, playbook_blocks
from segmentum.activation.settings import ActivationConfig
from segmentum.activation.triggers import (
    TriggerResult,
    default_rules,
    evaluate_triggers,
    merged_rules,
    trigger_blocks,
    write_triggers,
)
from segmentum.flow import StageContext
from segmentum.valuation.collection import CollectionPlan, collection_blocks, plan_for_run
from segmentum.valuation.priority import ValuationConfig
from segmentum.valuation.stage import ValuationStageResult

__all__ = ["SegmentKit", "segment_kit"]


@dataclass(frozen=True)
class SegmentKit:
    """Playbooks, triggers and the data-collection plan of a run (each None when skipped)."""

    playbooks: Playbooks | None = None
    triggers: TriggerResult | None = None
    collection: CollectionPlan | None = None
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """``activation.json``'s ``playbooks``, ``triggers`` and ``collection_plan``."""
        parts = (("playbooks", self.playbooks), ("triggers", self.triggers),
                 ("collection_plan", self.collection))  # fmt: skip
        return {key: part.summary() for key, part in parts if part is not None}

    def blocks(self, sec: Any) -> Any:
        """Add the three parts to the activation report section."""
        if self.playbooks is not None:
            playbook_blocks(sec, self.playbooks)
        if self.triggers is not None:
            trigger_blocks(sec, self.triggers)
        if self.collection is not None:
            collection_blocks(sec, self.collection)
        for w in self.warnings:
            sec.warn(w)
        return sec

    def write(self, run_dir: Path, data: dict[str, Any]) -> list[Path]:
        """Write the parts' files into the run folder; ``data`` is ``activation.json``'s dict
        (the trigger files are added to its ``triggers`` entry)."""
        written: list[Path] = []
        if self.triggers is not None:
            files = write_triggers(self.triggers, run_dir / "audiences")
            data.setdefault("triggers", {})["files"] = [f["path"] for f in files]
            written += [run_dir / "audiences" / f["path"] for f in files]
        if self.playbooks is not None:
            md = run_dir / "playbooks.md"
            md.write_text(self.playbooks.to_markdown(), encoding="utf-8")
            written.append(md)
        if self.collection is not None:
            csv = run_dir / "collection_plan.csv"
            self.collection.table.to_csv(csv, index=False)
            written.append(csv)
        return written


def segment_kit(
    ctx: StageContext,
    cfg: ActivationConfig,
    ca: CustomerActivation,
    market: MarketActivation | None,
    events: Any,
) -> SegmentKit:
    """The three parts for the priority segments (the market half's targets, else the
    valuation's top two).

    ``events`` is the pandas events table, or on Spark (``ca.customers`` is ``None``) the
    Spark one: the channel mix and the triggers are then counted in Spark.
    """
    targets = _priority_segments(ctx, market)
    warnings = []
    collection = None
    if cfg.collection_plan:
        try:
            collection = plan_for_run(ctx)
        except ValueError as exc:  # too few linked respondents, one segment, ...
            warnings.append(f"data-collection plan skipped: {exc}")
    return SegmentKit(
        playbooks=_playbooks(ctx, cfg, ca, market, targets) if cfg.playbooks.enabled else None,
        triggers=_triggers(ctx, cfg, ca, targets, events),
        collection=collection,
        warnings=tuple(warnings),
    )


def _priority_segments(ctx: StageContext, market: MarketActivation | None) -> list[int]:
    """The target segments (the market half's, else the valuation's top priorities)."""
    if market is not None and market.targets:
        return [int(t) for t in market.targets]
    pri = ctx.result(ValuationStageResult).result.priorities
    if pri is None:
        return []
    return [int(s) for s in pri.table.sort_values("rank").index[:2]]


def _playbooks(
    ctx: StageContext, cfg: ActivationConfig, ca: CustomerActivation,
    market: MarketActivation | None, targets: list[int],
) -> Playbooks:  # fmt: skip
    """Playbooks from the profiles, the map's ratings, the typing tool and the offers."""
    from segmentum.maps.stage import MapsResult
    from segmentum.profiles.stage import ProfilesResult

    val = ctx.result(ValuationStageResult).result
    prof, maps = ctx.optional(ProfilesResult), ctx.optional(MapsResult)
    names = cfg.stages.names
    mix = None
    cs = ctx.config.sources.customers
    # the driver's customers table only off Spark (asking for it would collect it)
    on_spark = ca.customers is None
    table = ctx.data.get("customers") if cs is not None and not on_spark else None
    if cs is not None and cs.channel and on_spark and "customers" in ctx.data:
        from segmentum.activation.spark_customers import channel_mix_spark
        from segmentum.valuation.spark import stage_table

        frame = stage_table(ctx, "customers", ca.spark.sparkSession)
        mix = channel_mix_spark(ca.spark, frame, cs.id, cs.channel)
    elif cs is not None and cs.channel and table is not None and ca.customers is not None:
        ch = table[[cs.id, cs.channel]].rename(
            columns={cs.id: "customer_id", cs.channel: "channel"}
        )
        c = ca.customers[["customer_id", "segment", "stage"]].merge(
            ch.assign(customer_id=ch["customer_id"].astype(str)), on="customer_id"
        )
        mix = c.groupby(["segment", "stage"])["channel"].value_counts(normalize=True)
        mix = mix.rename("share").reset_index()  # fmt: skip
    prospect = None
    if market is not None and market.plan is not None:
        chosen = market.plan.table[market.plan.table["chosen"]]
        if len(chosen):
            prospect = (str(chosen.iloc[0]["channel"]), float(chosen.iloc[0]["index"]))
    shares = None if val.valuation is None or "population_share" not in val.valuation else {
        int(k): float(v) for k, v in val.valuation["population_share"].items()}  # fmt: skip
    return build_playbooks(
        targets, ca.segment_stage, profile=prof.profile if prof is not None else None,
        segment_names=val.segment_names, stage_order=[names.get(s, s) for s in STAGE_NAMES],
        white_space=maps.white_space if maps is not None else None,
        our_brand=ctx.settings(ValuationConfig, "valuation", random_state=ctx.seed).our_brand,
        typing_tool=val.typing.tool if val.typing is not None else None,
        channel_mix=mix, prospect_channel=prospect, shares=shares,
        prospect_stages=[names.get(s, s) for s in STAGE_NAMES[:3]], settings=cfg.playbooks,
    )  # fmt: skip


def _triggers(
    ctx: StageContext, cfg: ActivationConfig, ca: CustomerActivation, targets: list[int],
    events: Any,
) -> TriggerResult | None:  # fmt: skip
    """The trigger rules evaluated on the events at the analysis date."""
    t = cfg.triggers
    rules = merged_rules(default_rules(ca.segment_stage, targets, t) if t.default_rules else [],
                         t.rules)  # fmt: skip
    if not rules:
        return None
    val = ctx.result(ValuationStageResult).result
    if ca.customers is None:  # the rows stayed in Spark, and so do the events
        from segmentum.activation.spark_customers import evaluate_triggers_spark

        return evaluate_triggers_spark(
            rules, ca.spark, events, ca.analysis_date, segment_stage=ca.segment_stage,
            segment_names=val.segment_names,
        )  # fmt: skip
    return evaluate_triggers(
        rules, ca.customers, events, ca.analysis_date, segment_stage=ca.segment_stage,
        segment_names=val.segment_names,
    )  # fmt: skip
