"""Profiles stage: who each segment is, what defines it, and whether segments are distinct.

Public API: :func:`profile` (tidy profile tables), :func:`exclusivity` (the
mutually-exclusive and quantifiable check), :func:`personas` (persona cards from data),
:func:`persona_svg` and :func:`persona_poster` (each card's picture and printable poster),
:func:`profile_segments` (the stage entry point), :func:`run_profiles` (the profiles and
then the map and white space in one call), :class:`ProfilesConfig` (its settings) and
:func:`report_section` (the report's part).
"""

from __future__ import annotations

from segmentum.profiles.exclusivity import ExclusivityReport, exclusivity
from segmentum.profiles.persona_art import (
    persona_from_json,
    persona_poster,
    persona_svg,
    read_stage_mix,
    stage_mix,
    write_persona_files,
)
from segmentum.profiles.personas import CardFact, Persona, personas, phrase
from segmentum.profiles.profile import Profile, profile
from segmentum.profiles.report import report_section
from segmentum.profiles.stage import (
    ProfilesConfig,
    ProfilesResult,
    profile_segments,
    run_profiles,
)

__all__ = [
    "CardFact",
    "ExclusivityReport",
    "Persona",
    "Profile",
    "ProfilesConfig",
    "ProfilesResult",
    "exclusivity",
    "persona_from_json",
    "persona_poster",
    "persona_svg",
    "personas",
    "phrase",
    "profile",
    "profile_segments",
    "read_stage_mix",
    "report_section",
    "run_profiles",
    "stage_mix",
    "write_persona_files",
]
