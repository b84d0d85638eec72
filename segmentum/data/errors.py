"""Errors a user can act on: each names the file, row, column and what was expected."""

from __future__ import annotations

from dataclasses import dataclass


class SegmentumError(Exception):
    """Base of the errors segmentum raises for a user to fix.

    ``exit_code`` is what the CLI exits with, so scripts can tell the kinds apart.
    """

    exit_code = 1


class ProjectError(SegmentumError):
    """The project file is missing, unreadable or inconsistent (CLI exit code 2)."""

    exit_code = 2


class StageError(SegmentumError):
    """The data passed their checks but a stage cannot work with them (CLI exit code 4):
    too few respondents for the k asked, a constant basis item, a k range that cannot be
    fitted. The message names the stage, the column or setting, and what to change."""

    exit_code = 4


@dataclass(frozen=True)
class Problem:
    """One bad value (or bad row) in one source table.

    ``row`` is 1-based over data rows (the header is not a row); for CSV files the line in
    the file is ``row + 1``.
    """

    table: str
    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    reason: str

    def describe(self, csv: bool = False) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.row + 1})" if csv else ""))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + f": {self.reason}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        return f"{text}. Expected {self.expected}."


class DataError(SegmentumError):
    """A source table breaks its contract (CLI exit code 3).

    Carries the problems found (the first few are in the message) and how to fix them.
    """

    exit_code = 3

    def __init__(self, message: str, problems: list[Problem] | None = None, hint: str = ""):
        self.problems = problems or []
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n{self.hint}" if self.hint else text
