"""Pydantic models of the scoring API's requests and answers (they make its OpenAPI schema).

A row is a flat JSON object of scalars: the columns a ``segmentum score`` input file has
(``--answers``: the golden questions; ``--leads``: the lead id, the lead model's fields, the
source, optionally the golden questions). Numbers must be finite doubles (an integer
beyond ±2**53 is taken as the nearest double), so nothing the scorers receive can
overflow; nested objects and lists are refused with 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StrictBool

__all__ = [
    "MAX_ROWS",
    "SCALAR_ERROR",
    "LeadScore",
    "LeadScores",
    "RespondentScore",
    "RespondentScores",
    "ScoreRequest",
]

#: most rows one scoring call takes (more: 422; a body over the server's limit: 413)
MAX_ROWS = 10_000
_EXACT = 2**53  # integers beyond this are not exact as doubles


#: one field of a row (a cell of the input file): a string, a finite number, a boolean or
#: null; checked in pydantic-core (a Python validator per
#: cell, or a union with a custom error, costs 2-5x more on 10,000 rows)
Scalar = StrictBool | Annotated[int, Field(ge=-_EXACT, le=_EXACT)] | FiniteFloat | str | None
#: what the API says of a cell that is none of these (instead of one error per member)
SCALAR_ERROR = "a value must be a string, a finite number, true, false or null"


class ScoreRequest(BaseModel):
    """Rows to score: ``{"rows": [{column: value, ...}, ...]}``, 1 to 10,000 of them."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Scalar]] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description="One object per person or lead, a field per column (as the columns "
        "of the file `segmentum score` reads). A missing field and an empty value (null "
        'or "") are the same.',
        examples=[[{"respondent_id": "r1", "need_lowest_premium": 5}]],
    )


class RespondentScore(BaseModel):
    """One scored person, the fields ``segmentum score --answers`` writes: the id column
    (the tool's id column, else the first field that is not a question, else ``row``,
    the 1-based row number) and these."""

    model_config = ConfigDict(extra="allow")

    segment: int
    segment_name: str
    segment_probability: float = Field(description="The top membership probability.")
    unclassifiable: bool = Field(description="Top probability under the tool's threshold.")


class RespondentScores(BaseModel):
    """Scored people, in the order sent."""

    rows: list[RespondentScore]


class LeadScore(BaseModel):
    """One scored lead, the fields ``segmentum score --leads`` writes: the lead id column
    (the lead model's id column, else the first field), these, and ``p_<segment>`` (the
    probability of each segment)."""

    model_config = ConfigDict(extra="allow")

    segment: int
    target_probability: float = Field(description="Probability of a target segment.")
    expected_value: float = Field(
        description="Segment value per head expected × the source's conversion rate."
    )
    score: int = Field(ge=0, le=100, description="target_probability in points.")
    keep: bool = Field(description="target_probability ≥ the project's threshold.")
    reason: str
    segment_name: str
    segment_probability: float
    method: Literal["lead_model", "typing_tool"]


class LeadScores(BaseModel):
    """Scored leads, in the order sent."""

    rows: list[LeadScore]
