"""The self-contained HTML report, built from stage results and the run folder only."""

from segmentum.report.section import Section

__all__ = ["Section"]
