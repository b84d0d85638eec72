"""The installed version of segmentum (one place, imported by the run, the CLI and the report)."""

__version__ = "0.1.0"
