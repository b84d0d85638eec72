"""The project file: sources, column roles and stage settings for a whole run.

A project is a TOML file. Every table is declared once with where it comes from (a CSV or
Parquet file, a DuckDB table, or one read-only SQL SELECT) and which role each column
plays. Stage settings (``[value]``, ``[segments]``, ``[profiles]``, ``[maps]``) are each
checked against their stage's settings model (:mod:`segmentum.registry`) when the project
loads; ``segmentum settings`` lists them.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmentum.data.errors import ProjectError

TABLES = (
    "survey",
    "customers",
    "transactions",
    "events",
    "competitor_ratings",
    "offers",
    "responses",
    "leads",
    "channels",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a table comes from: exactly one of ``path``, ``table`` or ``query``.

    ``path`` is a CSV or Parquet file (relative to the project file). ``table`` is
    ``"file.duckdb:table_name"``. ``query`` is one read-only ``SELECT`` DuckDB can run; paths
    inside it are relative to the project folder. Files must be inside the project folder
    (symbolic links resolved) unless ``allow_outside = true``; the run's report and
    manifest then name them.
    """

    path: str | None = None
    table: str | None = None
    query: str | None = None
    allow_outside: bool = False

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        given = [k for k in ("path", "table", "query") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of path = '…csv|parquet', table = 'file.duckdb:name' or "
                f"query = 'SELECT …' (found {given or 'none'})"
            )
        return self

    @property
    def location(self) -> str:
        return self.path or self.table or f"query: {self.query}"

    def role_columns(self) -> dict[str, str]:
        """Column name → role, for every column this source declares."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            if name in ("path", "table", "query", "allow_outside", "allow_returns", "date_format"):
                continue
            value = getattr(self, name)
            if isinstance(value, str):
                out.setdefault(value, name)
            elif isinstance(value, list):
                for col in value:
                    out.setdefault(col, name)
        return out


Scale = tuple[float, float]
# Survey fields that hold settings, not column names.
_SURVEY_SETTINGS = ("scale", "scales", "missing", "levels")


class SurveySource(Source):
    """Survey answers. Without ``id``, respondents are numbered by row (``respondent_id``).

    ``scale = [1, 7]`` is the rating scale of the numeric basis items; ``scales = { q9 = [0,
    10] }`` gives an item (basis or behaviour) its own scale. Answers outside their scale are
    bad rows. Without a declared scale, ingest infers one from the answers and says so in a
    note. ``missing = [99, "DK"]`` lists the codes that mean "no answer" in the basis and
    behaviour items; they are read as missing (and imputed by the segments stage).
    ``levels = { VisitFrequency = ["Never", "Once a year", …] }`` gives a categorical
    column's levels in their order (lowest first): profiles, personas and plots show them so,
    and a value the list misses is an error. Without it, the order is inferred where the
    labels tell it (numbers, ranges, frequency and agreement scales), with a note.
    """

    id: str | None = None
    customer_id: str | None = None
    weight: str | None = None
    basis: list[str] = Field(default_factory=list)
    behaviours: list[str] = Field(default_factory=list)
    descriptors: list[str] = Field(default_factory=list)
    text: str | None = None
    scale: Scale | None = None
    scales: dict[str, Scale] = Field(default_factory=dict)
    missing: list[float | str] = Field(default_factory=list)
    levels: dict[str, list[str | int | float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_scales(self) -> SurveySource:
        _check_survey_settings(self)
        _check_levels(self)
        return self

    @property
    def id_column(self) -> str:
        """The respondent id column, after ingest (``respondent_id`` when rows are numbered)."""
        return self.id or "respondent_id"

    @property
    def items(self) -> list[str]:
        """Basis and behaviour items, each once: the columns scales and missing codes cover."""
        return list(dict.fromkeys([*self.basis, *self.behaviours]))

    def scale_of(self, item: str) -> tuple[Scale, str] | None:
        """The declared scale of ``item`` and where it is declared, or None."""
        if item in self.scales:
            return self.scales[item], f"scales.{item}"
        if self.scale is not None and item in self.basis:
            return self.scale, "scale"
        return None

    def role_columns(self) -> dict[str, str]:
        roles = {self.id_column: "id", **super().role_columns()}
        return {col: role for col, role in roles.items() if role not in _SURVEY_SETTINGS}


def _check_levels(source: SurveySource) -> None:
    """``levels`` names declared survey columns, each with a list of distinct levels."""
    columns = list(dict.fromkeys([*source.items, *source.descriptors]))
    for column, levels in source.levels.items():
        if column not in columns:
            raise ValueError(
                f"levels names '{column}', which is not a basis item, behaviour or descriptor."
                + _suggest(column, columns)
            )
        if not levels:
            raise ValueError(f"levels.{column} is empty: list its levels, lowest first")
        texts = [str(v) for v in levels]
        twice = sorted({v for v in texts if texts.count(v) > 1})
        if twice:
            raise ValueError(
                f"levels.{column} lists {', '.join(repr(v) for v in twice)} more than once"
            )


def _check_survey_settings(source: SurveySource) -> None:
    """``scale``, ``scales`` and ``missing`` make sense together (else a ProjectError)."""
    import math

    declared = ([("scale", source.scale)] if source.scale is not None else []) + [
        (f"scales.{k}", v) for k, v in source.scales.items()
    ]
    for where, (low, high) in declared:
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ValueError(
                f"{where} = [{low:g}, {high:g}]: write the scale as [lowest, highest] answer, "
                "for example [1, 7]"
            )
    items = source.items
    for item in source.scales:
        if item not in items:
            raise ValueError(
                f"scales names '{item}', which is not a basis or behaviour item."
                + _suggest(item, items)
            )
    for code in source.missing:
        if isinstance(code, float) and not math.isfinite(code):
            raise ValueError(f"missing = [{code}]: a missing-value code must be a finite number")


class CustomersSource(Source):
    id: str = "customer_id"
    descriptors: list[str] = Field(default_factory=list)
    channel: str | None = None
    acquisition_cost: str | None = None


class TransactionsSource(Source):
    customer_id: str = "customer_id"
    timestamp: str = "date"
    amount: str = "amount"
    margin: str | None = None
    cost: str | None = None
    channel: str | None = None
    product: str | None = None
    allow_returns: bool = False
    date_format: str | None = None


class EventsSource(Source):
    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    event_type: str = "event_type"
    channel: str | None = None
    date_format: str | None = None


class CompetitorRatingsSource(Source):
    """How well each brand serves each need, per respondent (long format).

    ``scale = [1, 5]`` is the rating scale; ratings outside it are bad rows. Without it, the
    scale is inferred from the ratings, with a note.
    """

    respondent_id: str = "respondent_id"
    brand: str = "brand"
    need: str = "need"
    rating: str = "rating"
    scale: Scale | None = None

    @model_validator(mode="after")
    def _check_scale(self) -> CompetitorRatingsSource:
        if self.scale is not None and not self.scale[0] < self.scale[1]:
            raise ValueError(
                f"scale = [{self.scale[0]:g}, {self.scale[1]:g}]: write the scale as "
                "[lowest, highest] rating, for example [1, 5]"
            )
        return self


class OffersSource(Source):
    """Offers the activation stage may make: one row per offer (next best offer, issue 13).

    ``value`` is what an accepted offer is worth (margin or value), ``cost`` what making it
    costs (never negative; 0 when not declared). ``segments`` and ``stages`` name the
    columns listing the eligible segment numbers and lifecycle stages, separated by ``;``
    or ``,`` (an empty cell: all). ``limit`` is a column of the most customers an offer
    may go to in one run (empty: no limit).
    """

    id: str = "offer_id"
    value: str = "value"
    cost: str | None = None
    product: str | None = None
    segments: str | None = None
    stages: str | None = None
    limit: str | None = None


class ResponsesSource(Source):
    """The response history: one row per offer shown to a customer, accepted or not.

    ``accepted`` is 1/0, true/false or yes/no. ``stage`` is an optional column with the
    customer's lifecycle stage when the offer was shown (as the CRM logged it); without
    it, the stage at the analysis date is used.
    """

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    offer_id: str = "offer_id"
    accepted: str = "accepted"
    stage: str | None = None
    date_format: str | None = None


class LeadsSource(Source):
    """Sales leads to score and filter (the activation stage; ``segmentum score --leads``).

    ``descriptors`` are the fields leads share with the customers table (same column names);
    ``source`` is where the lead came from, matched to the customers' acquisition
    ``channel``; ``answers`` lists golden-question columns some leads answered (leads with
    every answer are typed by the typing tool); ``converted`` (0/1, empty when open) gives
    past leads' outcomes, for a conversion rate by source.
    """

    id: str = "lead_id"
    descriptors: list[str] = Field(default_factory=list)
    source: str | None = None
    answers: list[str] = Field(default_factory=list)
    converted: str | None = None


class ChannelsSource(Source):
    """Media, events or lists to buy (the activation stage's channel choice).

    One row per channel: ``channel``, ``cost``, ``audience`` (people reached); optional
    ``response_rate`` (0..1) and ``max_units`` (how many units may be bought, default 1). The
    audience's mix is given in further columns, by segment (``segment_<id>``) or by
    descriptor (``<descriptor>=<level>``, e.g. ``source=web``); each mix sums to 1 (±1 %).
    """

    channel: str = "channel"
    cost: str = "cost"
    audience: str = "audience"
    response_rate: str | None = None
    max_units: str | None = None


class Sources(_Strict):
    survey: SurveySource | None = None
    customers: CustomersSource | None = None
    transactions: TransactionsSource | None = None
    events: EventsSource | None = None
    competitor_ratings: CompetitorRatingsSource | None = None
    offers: OffersSource | None = None
    responses: ResponsesSource | None = None

    leads: LeadsSource | None = None
    channels: ChannelsSource | None = None

    def declared(self) -> dict[str, Source]:
        return {name: src for name in TABLES if (src := getattr(self, name)) is not None}


class Settings(_Strict):
    """``[project]``: run-wide settings.

    ``runs_dir`` must be inside the project folder unless ``allow_outside = true``.
    """

    name: str = Field("segmentum project", description="Project name, shown in the report.")
    seed: int = Field(0, description="Seed of every stage: same data + same seed, same segments.")
    analysis_date: str | None = Field(
        None, description="End of observation (YYYY-MM-DD); no date in the data may be later."
    )
    runs_dir: str = Field("runs", description="Folder of the run folders, beside the project file.")
    allow_outside: bool = Field(
        False, description="Let runs_dir be outside the project folder (named in the manifest)."
    )
    on_bad_rows: Literal["fail", "quarantine"] = Field(
        "fail", description="fail: stop on bad rows; quarantine: set them aside with reasons."
    )
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="Where ingest reads and checks customers, transactions and events: "
        "duckdb (embedded) or spark (the [spark] session; needs the spark extra).",
    )


class SparkSettings(_Strict):
    """``[spark]``: the Spark session of ``engine = "spark"``.

    Without ``master``, a local session of the ``spark`` extra (``local[2]``, its own Java
    runtime) is started; with it, a session on that master with the ``config`` keys.
    """

    master: str | None = Field(
        None, description="Spark master URL (local[4], spark://host:7077, yarn); none: local[2]."
    )
    config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description='Spark configuration keys, e.g. { "spark.executor.memory" = "8g" }.',
    )


class ProjectConfig(_Strict):
    """A whole project file, validated."""

    project: Settings = Field(default_factory=Settings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    sources: Sources
    value: dict[str, Any] = Field(default_factory=dict)
    segments: dict[str, Any] = Field(default_factory=dict)
    profiles: dict[str, Any] = Field(default_factory=dict)
    maps: dict[str, Any] = Field(default_factory=dict)
    valuation: dict[str, Any] = Field(default_factory=dict)
    activation: dict[str, Any] = Field(default_factory=dict)
    report: dict[str, Any] = Field(default_factory=dict)  # segmentum.report.format.ReportSettings

    @model_validator(mode="after")
    def _something_declared(self) -> ProjectConfig:
        if not self.sources.declared():
            raise ValueError(
                "[sources] declares no table: add at least one of "
                + ", ".join(f"[sources.{t}]" for t in TABLES)
            )
        return self


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a project file; raise :class:`ProjectError` naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise ProjectError(
            f"project file {path} not found. Create one with `segmentum init DATA…` "
            "or `segmentum demo`."
        )
    if path.is_dir():
        candidate = path / "segmentum.toml"
        if candidate.exists():
            path = candidate
        else:
            raise ProjectError(f"{path} is a folder with no segmentum.toml in it.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read: {exc.strerror or exc}.") from exc
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                parent = ProjectConfig
                try:
                    for part in err["loc"][:-1]:
                        parent = parent.model_fields[str(part)].annotation  # type: ignore[assignment]
                        parent = getattr(parent, "__args__", (parent,))[0]
                    fields = list(parent.model_fields)  # type: ignore[union-attr]
                except (KeyError, AttributeError):
                    fields = []
                msg = f"unknown key '{key}'.{_suggest(key, fields)}"
            lines.append(f"  [{loc}] {msg}")
        raise ProjectError(f"{path}: the project file is not valid:\n" + "\n".join(lines)) from exc


ENGINES = ("duckdb", "spark")


def with_engine(config: ProjectConfig, engine: str | None = None) -> ProjectConfig:
    """``config`` with ``[project] engine`` set to ``engine`` (when given), checked.

    Raises :class:`ProjectError` for an engine that is not one of :data:`ENGINES`, and for
    ``"spark"`` when PySpark is not installed (naming the ``spark`` extra).
    """
    if engine is not None:
        if engine not in ENGINES:
            raise ProjectError(
                f"--engine {engine!r} is not an engine: use one of {', '.join(ENGINES)}."
            )
        project = config.project.model_copy(update={"engine": engine})
        config = config.model_copy(update={"project": project})
    if config.project.engine == "spark":
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            raise ProjectError(
                'engine = "spark" needs PySpark, which is not installed: '
                "pip install 'segmentum[spark]' (PySpark and a Java runtime), or set "
                'engine = "duckdb" under [project].'
            )
    return config
