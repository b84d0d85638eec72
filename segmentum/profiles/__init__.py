"""Profiles stage: who each segment is, what defines it, and whether segments are distinct."""

from segmentum.profiles.exclusivity import ExclusivityReport, exclusivity
from segmentum.profiles.personas import Persona, personas, phrase
from segmentum.profiles.profile import Profile, profile

__all__ = ["ExclusivityReport", "Persona", "Profile", "exclusivity", "personas", "phrase", "profile"]
