"""Profiles stage: who each segment is, what defines it, and whether segments are distinct.

Public API: :func:`profile` (tidy profile tables), :func:`exclusivity` (the
mutually-exclusive and quantifiable check), :func:`personas` (persona cards from data),
:func:`run_profiles` (the stage entry point, also running the map and white space) and
:func:`report_section` (the report's part).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segmentum.profiles.exclusivity import ExclusivityReport, exclusivity
from segmentum.profiles.personas import Persona, personas, phrase
from segmentum.profiles.profile import Profile, profile

if TYPE_CHECKING:
    from segmentum.profiles.report import report_section
    from segmentum.profiles.stage import ProfilesResult, run_profiles

__all__ = [
    "ExclusivityReport",
    "Persona",
    "Profile",
    "ProfilesResult",
    "exclusivity",
    "personas",
    "phrase",
    "profile",
    "report_section",
    "run_profiles",
]


def __getattr__(name: str) -> Any:
    # The stage imports segmentum.maps, which imports this package: load it lazily.
    if name in ("ProfilesResult", "run_profiles"):
        from segmentum.profiles import stage

        return getattr(stage, name)
    if name == "report_section":
        from segmentum.profiles.report import report_section

        return report_section
    raise AttributeError(f"module 'segmentum.profiles' has no attribute {name!r}")
