"""What a stage of the flow is, and what it may read: :class:`Stage`, :class:`StageContext`.

Each stage package declares its own :class:`Stage` in its ``stage.py`` (``VALUE`` in
:mod:`segmentum.value.stage`, ``SEGMENTS``, ``PROFILES``, ``MAPS``); the run keeps only the
list in flow order (:mod:`segmentum.registry`). Stages talk through typed result objects:
a stage reads an earlier one's result by its type, ``ctx.result(SegmentsResult)``, never by
a string key. Settings are one pydantic model per stage, validated when the project loads.

This module is light (no DuckDB, no ingest): stage packages import it.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame

    from segmentum.data.ingest import Ingested
    from segmentum.data.project import ProjectConfig
    from segmentum.report.section import Section

R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class Results:
    """The results of the stages that ran so far, looked up by type.

    ``add(name, result, *extra)`` records a stage's result (and any further typed objects it
    hands on to later stages); ``results[SegmentsResult]`` returns the one of that type.
    """

    def __init__(self) -> None:
        self._by_stage: dict[str, list[object]] = {}

    def add(self, stage: str, result: object, *extra: object) -> None:
        self._by_stage[stage] = [result, *extra]

    def get(self, kind: type[R]) -> R | None:
        """The result of type ``kind``, or ``None`` when no stage produced one."""
        for objects in self._by_stage.values():
            for obj in objects:
                if isinstance(obj, kind):
                    return obj
        return None

    def __getitem__(self, kind: type[R]) -> R:
        found = self.get(kind)
        if found is None:
            ran = ", ".join(self._by_stage) or "none"
            raise LookupError(f"no {kind.__name__} among the results (stages run: {ran})")
        return found

    def __contains__(self, kind: type) -> bool:
        return self.get(kind) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_stage)


@dataclass
class StageContext:
    """What a stage may read: the project, the clean tables and earlier stages' results."""

    config: ProjectConfig
    data: Ingested
    seed: int
    previous_run: Path | None = None
    results: Results = field(default_factory=Results)
    tick: Callable[[str], None] = lambda message: None
    folder: Path | None = None  # the project folder (files the settings name are relative to)

    def result(self, kind: type[R]) -> R:
        """An earlier stage's result by type (``LookupError`` when none ran)."""
        return self.results[kind]

    def optional(self, kind: type[R]) -> R | None:
        """An earlier stage's result by type, or ``None`` when that stage did not run."""
        return self.results.get(kind)

    def settings(self, model: type[M], table: str, **defaults: Any) -> M:
        """The stage's settings table of the project file, validated by ``model``.

        ``defaults`` fill keys the table leaves out (the project seed, say).
        """
        raw = dict(getattr(self.config, table, None) or {})
        for key, value in defaults.items():
            raw.setdefault(key, value)
        return stage_settings(model, raw, table)


@dataclass
class StageOutcome:
    """What happened to one stage in one run."""

    name: str
    status: str  # "ran" or "skipped"
    reason: str = ""
    seconds: float = 0.0
    result: Any = None


def _no_frame(result: Any, ctx: StageContext) -> pd.DataFrame | None:
    return None


def _no_summary(result: Any) -> dict[str, Any]:
    return {}


def _nothing_more(result: Any) -> tuple[object, ...]:
    return ()


@dataclass(frozen=True)
class Stage:
    """A stage of the flow, declared by its package in ``stage.py``.

    Parameters
    ----------
    name : str
        Also the project file's settings table (``[segments]``) and the stage's key in the
        manifest and in ``RunResult``.
    title : str
        For people (progress, report).
    skip_reason : callable(ctx) -> str or None
        Why the data do not allow the stage; ``None`` when they do.
    run : callable(ctx) -> result
        Runs the stage; reads earlier results with ``ctx.result(Type)``.
    section : callable(result) -> Section or None
        The stage's part of the report (``None``: it adds none).
    assignments : callable(result, ctx) -> DataFrame or None
        Per-respondent or per-customer columns, keyed by ``respondent_id``/``customer_id``.
    assignments_spark : callable(result, ctx) -> Spark DataFrame or None, optional
        The same columns as ``assignments`` as a Spark DataFrame keyed by ``customer_id``
        (a string), for a run with ``engine = "spark"``: the run joins these in Spark and
        Spark writes ``assignments.parquet/``. A stage without one has its ``assignments``
        frame turned into a Spark DataFrame (``spark.createDataFrame``).
    summary : callable(result) -> dict
        Headline figures for ``segments.json``.
    save_model : callable(result, model_dir), optional
        Writes what scoring new rows needs under ``model/``.
    write_files : callable(result, run_dir) -> list of Path, optional
        Other files of the run folder (``map.svg``, ``personas.md``).
    settings : pydantic model class, optional
        The settings of table ``[name]``; checked when the project loads.
    needs : tuple of str
        Stages that must have run first (skipped with a reason otherwise).
    summary_key : str or None
        Where ``summary`` goes in ``segments.json``: under this key (default: ``name``), or
        merged at the top level when ``summary_at_top`` is true.
    summary_at_top : bool
    provides : callable(result) -> tuple
        Further typed objects handed on to later stages beside the result itself (a stage
        may define the input it needs, and the stage before it provides it).
    """

    name: str
    title: str
    skip_reason: Callable[[StageContext], str | None]
    run: Callable[[StageContext], Any]
    section: Callable[[Any], Section | None]
    assignments: Callable[[Any, StageContext], pd.DataFrame | None] = _no_frame
    assignments_spark: Callable[[Any, StageContext], SparkFrame | None] | None = None
    summary: Callable[[Any], dict[str, Any]] = _no_summary
    save_model: Callable[[Any, Path], None] | None = None
    write_files: Callable[[Any, Path], list[Path]] | None = None
    settings: type[BaseModel] | None = None
    needs: tuple[str, ...] = ()
    summary_key: str | None = None
    summary_at_top: bool = False
    provides: Callable[[Any], tuple[object, ...]] = _nothing_more


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def stage_settings(model: type[M], settings: dict[str, Any], table: str) -> M:
    """Build a stage's settings from its project-file table, or say what is wrong.

    Unknown keys raise :class:`ProjectError` naming the key, a "did you mean" and the valid
    keys; wrong values name the key and what it accepts. Called when a project loads, before
    any data is read.
    """
    # Imported here: segmentum.data loads the ingest (DuckDB), which stage packages must not.
    from segmentum.data.errors import ProjectError

    known = list(model.model_fields)
    moved: dict[str, str] = getattr(model, "moved_keys", {})
    for key in settings:
        if key in moved and key not in known:
            raise ProjectError(f"[{table}] key '{key}' has moved: set it as {moved[key]}.")
        if key not in known:
            raise ProjectError(
                f"[{table}] unknown key '{key}'.{_suggest(key, known)} "
                f"Valid keys: {', '.join(known)}."
            )
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            msg = str(e["msg"]).removeprefix("Value error, ")
            if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
                key = str(e["loc"][-1])
                nested = _known_keys(model, [str(p) for p in e["loc"][:-1]])
                msg = (
                    f"unknown key '{key}'.{_suggest(key, nested)} Valid keys: {', '.join(nested)}."
                )
            lines.append(f"  [{table}.{loc}] {msg}" if loc else f"  [{table}] {msg}")
        raise ProjectError(f"[{table}] settings are not valid:\n" + "\n".join(lines)) from None


def _known_keys(model: type, path: list[str]) -> list[str]:
    """The keys a nested table of ``model`` accepts (``["cost"]`` → the cost rules' keys;
    ``["offer_covariates", "home_bundle"]`` → an offer covariate's keys: a table keyed by
    the user's own names, such as a ``dict[str, Model]``, passes the name by)."""
    import dataclasses

    kind: Any = model
    for part in path:
        kind = _entry_type(kind)
        fields = getattr(kind, "model_fields", None)
        if fields is not None and part in fields:
            kind = fields[part].annotation
        elif dataclasses.is_dataclass(kind):
            kind = {f.name: f.type for f in dataclasses.fields(kind)}.get(part)
        elif typing.get_origin(kind) in (dict, list, Mapping, Sequence):
            kind = typing.get_args(kind)[-1]  # a dict's values, a list's items
        else:
            return []
    kind = _entry_type(kind)
    if hasattr(kind, "model_fields"):
        return list(kind.model_fields)
    if dataclasses.is_dataclass(kind):
        return [f.name for f in dataclasses.fields(kind)]
    return []


def _entry_type(kind: Any) -> Any:
    """``X`` for an optional ``X | None``; anything else as it is."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def settings_rows(model: type[BaseModel], table: str) -> list[dict[str, Any]]:
    """One row per setting of ``model``: table, key, type, bounds, default and help.

    Generated from the model itself, so ``segmentum settings`` (and the coming web app) can
    never disagree with what the project file accepts.
    """
    rows = []
    for key, info in model.model_fields.items():
        default = _plain(info.get_default(call_default_factory=True))
        annotation = info.annotation
        rows.append(
            {
                "table": table,
                "key": key,
                "type": _type_name(annotation),
                "default": default,
                "help": info.description or "",
                "bounds": ", ".join(_bound(m) for m in info.metadata),
            }
        )
    return rows


def _plain(value: Any) -> Any:
    """A default as plain JSON types (tuples as lists, models and dataclasses as dicts)."""
    import dataclasses

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _bound(meta: Any) -> str:
    for name, sign in _BOUNDS.items():
        if hasattr(meta, name):
            return f"{sign} {getattr(meta, name)}"
    return str(meta)


def _type_name(annotation: Any) -> str:
    """A type as a reader of the project file sees it: ``'D' | 'W'``, ``int | None``."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))
