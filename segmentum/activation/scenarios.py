"""The project's declared what-if scenarios (``[activation] scenarios``), run in every run.

Each scenario file is read and checked when the project loads (:func:`load_scenarios`: the
path stays inside the project folder, the keys are known, every covariate a change moves
is one its ``[model]`` fits), then computed by the activation stage with the code
``segmentum whatif`` runs (:func:`~segmentum.value.whatif.scenario_whatif`), on every
customer with the segment the valuation stage gave them. The run folder gets
``whatif.csv`` and the report a "What-if scenarios" part of the activation section.

With ``engine = "spark"`` the customers stay in Spark and the same per-customer code runs
there in batches (:func:`segmentum.activation.spark_whatif.run_scenarios_spark`); only sums
per segment come to the driver, and the tables are these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.report.section import Section
from segmentum.value.whatif import Scenario, check_declared, load_scenario, scenario_whatif

__all__ = [
    "ScenarioOutcome",
    "load_scenarios",
    "run_scenarios",
    "scenario_blocks",
    "scenario_chart",
    "scenario_sentence",
    "whatif_table",
]


@dataclass(frozen=True)
class ScenarioOutcome:
    """One declared scenario: where it came from, what it says and its what-if table."""

    path: str  # as the project file gives it
    scenario: Scenario
    table: pd.DataFrame  # segmentum whatif's columns: segment, customers, clv_before, ...


def load_scenarios(paths: list[str], folder: Path) -> list[tuple[str, Scenario]]:
    """Read and check the declared scenario files (at load time, before any data).

    Raises :class:`~segmentum.data.errors.ProjectError` naming the file and the key: a path
    outside the project folder, a missing file, bad TOML, an unknown key or a covariate the
    scenario's ``[model]`` does not fit.
    """
    # imported here: segmentum.data loads the ingest (DuckDB), which stage packages must not
    from segmentum.data.errors import ProjectError
    from segmentum.data.locate import resolve_inside

    out = []
    for i, text in enumerate(paths):
        path = resolve_inside(
            text, folder, key=f"scenarios[{i}]", section="activation", allow_outside=False
        )
        try:
            sc, label = load_scenario(path)
            check_declared(sc, f"{label} ([activation] scenarios[{i}])")
        except ValueError as exc:
            raise ProjectError(str(exc)) from exc
        out.append((text, sc))
    return out


def run_scenarios(
    ctx: Any, value: Any, segments: pd.DataFrame, paths: list[str], folder: Path
) -> list[ScenarioOutcome]:
    """Compute every declared scenario as ``segmentum whatif`` does.

    Parameters
    ----------
    ctx : StageContext
        The run's context (the customers table and the value stage's per-customer columns).
    value : ValueResult
        The value stage's result.
    segments : pandas.DataFrame
        ``customer_id`` and ``segment`` of every customer (the valuation stage's).
    paths : list of str
        The project file's ``[activation] scenarios``.
    folder : Path
        The project folder.
    """
    from segmentum.data.errors import ProjectError
    from segmentum.value.whatif import customer_table

    table = customer_table(ctx, {"value": value})
    mapping = dict(
        zip(segments["customer_id"].astype(str), segments["segment"].astype(str), strict=True)
    )
    table["segment"] = table["customer_id"].astype(str).map(mapping).fillna("unassigned")
    out = []
    for text, sc in load_scenarios(paths, folder):
        try:
            result = scenario_whatif(value, table, sc, seed=ctx.seed)
        except ValueError as exc:
            raise ProjectError(f"scenario file {text} ([activation] scenarios): {exc}") from exc
        out.append(ScenarioOutcome(text, sc, result))
    return out


def whatif_table(outcomes: list[ScenarioOutcome]) -> pd.DataFrame:
    """``whatif.csv``: every scenario's rows, a ``scenario`` column in front."""
    frames = [o.table.assign(scenario=o.scenario.name) for o in outcomes]
    table = pd.concat(frames, ignore_index=True)
    return table[["scenario", *[c for c in table.columns if c != "scenario"]]]


def _money(v: float) -> str:
    sign = "+" if v > 0 else "−" if v < 0 else "±"
    a = abs(v)
    if a >= 1e6:
        return f"{sign}{a / 1e6:,.1f} M"
    if a >= 1e4:
        return f"{sign}{a / 1e3:,.0f} k"
    return f"{sign}{a:,.0f}"


def _change_words(sc: Scenario) -> str:
    parts = []
    for ch in sc.change:
        segs = ch.segments()
        who = "all customers" if segs is None else "segment " + ", ".join(segs)
        if ch.customers != "all":
            who = f"{ch.customers} customers of {who}"
        if ch.covariate is not None:
            from segmentum.report.format import item_label, level_label

            what = f"{item_label(ch.covariate).lower()} {level_label(ch.value)}"
            parts.append(f"{ch.share:.0%} of {who} take {what}")
        elif ch.retention is not None:
            parts.append(f"retention of {who} {ch.retention:+.0%}")
        elif ch.purchase_rate is not None:
            parts.append(f"purchase rate of {who} {ch.purchase_rate:+.0%}")
        elif ch.spend is not None:
            parts.append(f"mean spend of {who} {ch.spend:+.0%}")
    return "; ".join(parts)


def scenario_sentence(outcome: ScenarioOutcome) -> str:
    """What a manager reads: the change, CLV per head where it moved, the total."""
    t = outcome.table
    body = t[t["segment"] != "total"]
    total = t[t["segment"] == "total"].iloc[0]
    moved = body[body["difference"].abs() > 1e-9 * max(1.0, float(body["clv_before"].abs().max()))]
    heads = []
    for row in moved.itertuples(index=False):
        n = max(int(row.customers), 1)
        heads.append(
            f"{_money(row.difference / n)} CLV per head in segment {row.segment} "
            f"({_money(row.low / n)} to {_money(row.high / n)})"
        )
    effect = ", ".join(heads) if heads else "no change in CLV in any segment"
    return (
        f"{outcome.scenario.name} ({_change_words(outcome.scenario)}): {effect}; "
        f"{_money(float(total['difference']))} in total ({_money(float(total['low']))} to "
        f"{_money(float(total['high']))})."
    )


def scenario_chart(outcome: ScenarioOutcome) -> Any:
    """Difference in CLV per segment (bars) with its 95 % interval (error bars)."""
    import plotly.graph_objects as go

    t = outcome.table[outcome.table["segment"] != "total"]
    diff = t["difference"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=[f"segment {s}" for s in t["segment"]],
            y=diff,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": np.maximum(t["high"].to_numpy(dtype=float) - diff, 0.0),
                "arrayminus": np.maximum(diff - t["low"].to_numpy(dtype=float), 0.0),
            },
            marker_color=np.where(diff >= 0, "#2a9d8f", "#e76f51").tolist(),
            hovertemplate="%{x}: %{y:,.0f}<extra></extra>",
        )
    )
    fig.update_layout(yaxis_title="difference in CLV (sum over the segment)", height=360)
    return fig


def scenario_blocks(sec: Section, outcomes: list[ScenarioOutcome]) -> Section:
    """Add the declared scenarios to the activation section: a sentence, a chart, a table."""
    if not outcomes:
        return sec
    sec.text(
        "What-if scenarios declared in [activation] scenarios, computed as `segmentum whatif` "
        "does: CLV per segment before and after, the difference with its 95 % interval from "
        "the purchase model's parameter uncertainty (whatif.csv in the run folder)."
    )
    for o in outcomes:
        sec.text(scenario_sentence(o))
        sec.figure(
            scenario_chart(o), f"{o.scenario.name}: difference in CLV per segment, 95 % interval."
        )
        sec.table(
            o.table.round(2), f"{o.scenario.name} ({o.path}): CLV per segment before and after."
        )
    return sec
