"""The stage registry: every stage of the flow, in flow order.

Each stage package declares its own :class:`~segmentum.flow.Stage` in its ``stage.py``
(what it needs, how it runs, its report section, its per-id columns, what it saves, its
settings model). Adding a stage is a new package with a ``stage.py`` and one line here.
"""

from __future__ import annotations

from segmentum.activation.stage import ACTIVATION
from segmentum.data.project import ProjectConfig
from segmentum.flow import Stage, stage_settings
from segmentum.maps.stage import MAPS
from segmentum.profiles.stage import PROFILES
from segmentum.report.format import ReportSettings
from segmentum.segments.stage import SEGMENTS
from segmentum.valuation.stage import VALUATION
from segmentum.value.stage import VALUE

STAGES: tuple[Stage, ...] = (
    VALUE,
    SEGMENTS,
    PROFILES,
    MAPS,
    VALUATION,
    ACTIVATION,
)


def check_settings(config: ProjectConfig, stages: tuple[Stage, ...] = STAGES) -> None:
    """Validate every stage's settings table and ``[report]`` (called when a project loads,
    before any data).

    Raises :class:`~segmentum.data.errors.ProjectError` naming the table, the key, a "did
    you mean" and the valid keys.
    """
    for stage in stages:
        if stage.settings is None:
            continue
        stage_settings(stage.settings, dict(getattr(config, stage.name, None) or {}), stage.name)
    report_settings(config)


def report_settings(config: ProjectConfig) -> ReportSettings:
    """``[report]`` of the project file, validated (labels, currency, columns per table)."""
    return stage_settings(ReportSettings, dict(config.report or {}), "report")


__all__ = ["STAGES", "check_settings", "report_settings"]
