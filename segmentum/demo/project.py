"""Write the demo market as a ready-to-run project: data, project file and planted truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segmentum.data.init import render_project
from segmentum.data.project import Sources
from segmentum.demo import _spec as spec
from segmentum.demo._gtm import GTM_ROLES, GTM_SETTINGS

#: Stage settings of the demo project (the same defaults a user gets, stated openly).
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "value": {
        "time_unit": "W",
        # Cost-to-serve rules of the demo insurer: handling per payment, per support contact,
        # and per transaction by channel (agents cost most, the app least).
        "cost": {
            "cost_per_order": spec.COST_PER_PAYMENT,
            "cost_per_support_contact": spec.COST_PER_SUPPORT_CONTACT,
            "channel_costs": dict(spec.CHANNEL_COSTS),
        },
    },
    "segments": {
        "method": "kmeans",
        "k_range": [2, 8],
        "scale_correction": "center",
        "n_boot": 50,
        "min_segment_share": 0.05,
    },
    # The demo insurer's own brand among the rated ones: competitiveness is ours against the
    # best competitor on each segment's defining needs.
    "valuation": {"our_brand": spec.OUR_BRAND},
}

#: Answer scales of the demo's rated items, declared so that ingest checks them (and need
#: not infer them): the need items and the competitor ratings.
DEMO_SCALES: dict[str, list[int]] = {
    "survey": list(spec.SURVEY_SCALE),
    "competitor_ratings": list(spec.RATING_SCALE),
}


#: The demo's declared what-if scenario (``[activation] scenarios``): the report's
#: "What-if scenarios" part computes it in every run, as ``segmentum whatif`` would.
DEMO_SCENARIO = """\
name = "monthly plan push"
description = "30 % of segment 2 move to the monthly plan; retention of segment 1 +10 %."

[model]
dropout_covariates = ["payment_plan"]
draws = 50

[[change]]
segment = 2
covariate = "payment_plan"
value = "monthly"
share = 0.3

[[change]]
segment = 1
retention = 0.10
"""
DEMO_SCENARIO_PATH = "scenarios/monthly_plan.toml"


def _roles_for(table: str, roles: dict[str, Any]) -> dict[str, Any]:
    """Keep the roles the project file knows for this table."""
    model = Sources.model_fields[table].annotation
    model = next(a for a in getattr(model, "__args__", (model,)) if a is not type(None))
    known = set(model.model_fields) - {"path", "table", "query"}
    return {k: v for k, v in roles.items() if k in known and v not in (None, [], "")}


def write_demo_project(
    folder: Path, *, seed: int = 0, n_customers: int = 100_000, n_respondents: int = 3_000
) -> Path:
    """Generate the demo market into ``folder`` and write ``folder/segmentum.toml``.

    The planted truth (``truth.parquet``, ``truth.json``) is written beside the data for
    tests and curious users; the project file never points at it.
    """
    from segmentum.demo import ROLES, make_market, write_market

    market = make_market(seed=seed, n_customers=n_customers, n_respondents=n_respondents)
    paths = write_market(market, folder)
    sources: dict[str, dict[str, Any]] = {}
    roles = {**ROLES, **GTM_ROLES}
    for table in (*ROLES, *GTM_ROLES):
        if table not in paths:
            continue
        rel = Path(paths[table]).resolve().relative_to(folder.resolve()).as_posix()
        sources[table] = {"path": rel, **_roles_for(table, roles[table])}
        if table in DEMO_SCALES:
            sources[table]["scale"] = DEMO_SCALES[table]
    scenario = folder / DEMO_SCENARIO_PATH
    scenario.parent.mkdir(parents=True, exist_ok=True)
    scenario.write_text(DEMO_SCENARIO, encoding="utf-8")
    activation = {**GTM_SETTINGS, "scenarios": [DEMO_SCENARIO_PATH]}
    text = render_project(
        sources,
        name="Demo: auto insurance market",
        seed=seed,
        analysis_date=str(market.analysis_date.date()),
        stage_settings={**DEMO_SETTINGS, "activation": activation},
    )
    project_file = folder / "segmentum.toml"
    project_file.write_text(text, encoding="utf-8")
    return project_file
