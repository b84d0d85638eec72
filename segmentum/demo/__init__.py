"""The bundled demo: a synthetic auto-insurance market with planted needs segments.

``make_market(seed=0)`` returns survey, customers, transactions, events and competitor
ratings, plus the planted truth (segment of every respondent and customer, the white-space
need) that tests check the pipeline against. ``write_market`` writes it as Parquet with the
truth beside the data, and ``ROLES`` declares every table's column roles.
"""

from __future__ import annotations

from segmentum.demo._spec import (
    BEHAVIOUR_COLUMNS,
    BRANDS,
    NEED_COLUMNS,
    SEGMENT_NAMES,
    WHITE_SPACE_NEED,
    defining_needs,
)
from segmentum.demo.market import ANALYSIS_DATE, ROLES, Market, make_market, write_market

__all__ = [
    "ANALYSIS_DATE",
    "BEHAVIOUR_COLUMNS",
    "BRANDS",
    "NEED_COLUMNS",
    "ROLES",
    "SEGMENT_NAMES",
    "WHITE_SPACE_NEED",
    "Market",
    "defining_needs",
    "make_market",
    "write_market",
]
