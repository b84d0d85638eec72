"""Settings of the activation stage: the ``[activation]`` table of the project file.

``[activation.stages]`` holds the lifecycle rules (:class:`LifecycleRules`),
``[activation.contact]`` the contact policy (:class:`ContactPolicy`),
``[activation.offer_covariates]`` the covariate each offer changes (:class:`OfferCovariate`,
for its CLV uplift); ``control_share`` is
the universal control group's share of every segment. ``segmentum settings`` lists them all.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from segmentum.activation.lifecycle import LifecycleRules
from segmentum.activation.playbooks import PlaybookSettings
from segmentum.activation.triggers import TriggerSettings

__all__ = ["ActivationConfig", "ContactPolicy", "LifecycleRules", "OfferCovariate"]


class ContactPolicy(BaseModel):
    """How often a customer may be contacted (the ``[activation.contact]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_offers_per_period: int = Field(
        1,
        ge=0,
        description="Offers a customer may be shown per period; one shown that often in the "
        "last period_days gets no new offer (0: nobody is contacted).",
    )
    period_days: float = Field(
        30.0, gt=0, description="Length of a contact period, in days (also the stage flow's)."
    )
    suppress_after_refusals: int = Field(
        3,
        ge=1,
        description="An offer a customer has refused this many times (within "
        "refusal_window_days) is no longer made to them.",
    )
    refusal_window_days: float | None = Field(
        180.0,
        gt=0,
        description="Refusals older than this many days no longer count (empty: all history).",
    )


class OfferCovariate(BaseModel):
    """The covariate an offer changes (an ``[activation.offer_covariates]`` entry).

    Taking the offer sets the customer's ``covariate`` to ``value`` (taking the bundle sets
    ``home_bundle`` to true), so its expected value gains ``P(accept) x (CLV with − CLV
    without)`` from the value stage's purchase model refitted with that covariate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    covariate: str = Field(description="Column of the customers table the offer changes.")
    value: bool | int | float | str = Field(description="Its value once the offer is taken.")
    process: Literal["dropout", "purchase"] = Field(
        "dropout",
        description="Which process of the purchase model the covariate enters: dropout "
        "(retention) or purchase (buying rate).",
    )


class ActivationConfig(BaseModel):
    """Settings of the activation stage (all have defaults).

    Declared once: the project file, ``segmentum settings`` and
    :func:`~segmentum.activation.customers.customer_activation` read them from here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: LifecycleRules = Field(
        default_factory=LifecycleRules,
        description="Lifecycle rules ([activation.stages]: buying_events, visit_events, "
        "prospect_window_days, browsing_min_visits, new_max_days, loyal_min_purchases, "
        "lapsing_p_alive, lapsing_min_days, lost_p_alive, lost_min_days, names).",
    )
    contact: ContactPolicy = Field(
        default_factory=ContactPolicy,
        description="Contact policy ([activation.contact]: max_offers_per_period, period_days, "
        "suppress_after_refusals, refusal_window_days).",
    )
    control_share: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Share of each segment held out as the universal control group (no offer).",
    )
    prior_strength: float = Field(
        20.0,
        ge=0,
        description="Beta prior of P(accept): a segment x stage x offer cell is smoothed "
        "towards the offer's overall rate as if it had this many more responses.",
    )
    min_expected_value: float = Field(
        0.0, description="An offer is made only when its expected value is above this."
    )
    flow_periods: int = Field(
        3,
        ge=1,
        description="The stage flow compares the stage this many contact periods before the "
        "analysis date with the stage at it.",
    )
    offer_covariates: dict[str, OfferCovariate] = Field(
        default_factory=dict,
        description="Offers that change a covariate ([activation.offer_covariates], by offer "
        "id: covariate, value, process): their expected value adds P(accept) x the CLV uplift "
        "of taking it, from the purchase model refitted with the covariate. Off for offers "
        "not listed.",
    )
    scenarios: list[str] = Field(
        default_factory=list,
        description="What-if scenario files (TOML, as for segmentum whatif; paths relative "
        "to the project file, inside its folder): each runs in every run on the valuation's "
        "segments, into whatif.csv and the report.",
    )
    # -- go to market (issue 14): targets, leads, channels, audience files -------------------
    target_segments: list[int] = Field(
        default_factory=list,
        description="Segments to target (leads, channels); empty: the valuation's top "
        "target_top_n priorities.",
    )
    target_top_n: int = Field(
        2, ge=1, description="How many of the valuation's priorities are targets by default."
    )
    lead_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A lead is kept when its probability of being in a target segment is at "
        "least this.",
    )
    conversion_rates: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Conversion rate of leads by source (0..1); overrides the rates the "
        "leads' converted column gives. A source not listed: 1 (the value if won).",
    )
    budget: float | None = Field(
        None,
        ge=0,
        description="Money for channels: the set maximising expected value within it is "
        "chosen; none: the channel with the most value per unit of cost.",
    )
    audience_columns: list[str] = Field(
        default_factory=list,
        description="Customer columns passed through to the audience files (e.g. email).",
    )
    audience_bom: bool = Field(
        False, description="Start audience CSV files with a UTF-8 BOM (for spreadsheets)."
    )
    audience_xlsx: bool = Field(True, description="Write an XLSX twin of every audience file.")
    audience_xlsx_max_rows: int = Field(
        100_000, ge=1, description="Audience files with more rows are written as CSV only."
    )
    # -- segments brought to life (issue 18): playbooks, collection plan, triggers ----------
    playbooks: PlaybookSettings = Field(
        default_factory=PlaybookSettings,
        description="Playbooks by segment x stage ([activation.playbooks]: enabled, "
        "max_needs, max_avoid, stages, intents, templates, questions).",
    )
    triggers: TriggerSettings = Field(
        default_factory=TriggerSettings,
        description="Trigger rules ([activation.triggers]: default_rules, default_events, "
        "window_days, [[activation.triggers.rules]]).",
    )
    collection_plan: bool = Field(
        True,
        description="Rank the customer-database fields by the accuracy each adds to the "
        "projection (collection_plan.csv; refits the projection about 150 times).",
    )
