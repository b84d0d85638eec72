"""A report section: what one stage hands to the report.

Every stage that ran contributes one :class:`Section`. A section is plain data (text,
tables, Plotly figures, warnings, raw HTML cards); the report renders it and never
recomputes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

BlockKind = Literal["text", "table", "figure", "warning", "html"]


@dataclass
class Block:
    """One item of a section, rendered in order."""

    kind: BlockKind
    content: Any
    caption: str = ""


@dataclass
class Section:
    """One stage's part of the report.

    Parameters
    ----------
    key : str
        Short identifier used as the HTML anchor (``"value"``, ``"segments"``).
    title : str
        Heading shown in the report.
    summary : str, default=""
        One or two sentences shown first: the finding, in words.

    Examples
    --------
    >>> s = Section("value", "Customer value", summary="The top decile holds 41 % of revenue.")
    >>> _ = s.text("Deciles rank customers by revenue.")
    >>> _ = s.warn("Pareto/NBD needs repeat purchases: 0 of 1,203 customers bought twice.")
    >>> [b.kind for b in s.blocks]
    ['text', 'warning']
    """

    key: str
    title: str
    summary: str = ""
    blocks: list[Block] = field(default_factory=list)

    def text(self, text: str) -> Section:
        """Add a paragraph of plain text (escaped when rendered)."""
        self.blocks.append(Block("text", text))
        return self

    def table(self, frame: pd.DataFrame, caption: str = "", max_rows: int = 60) -> Section:
        """Add a table; long tables are cut to ``max_rows`` with a note."""
        self.blocks.append(Block("table", (frame, max_rows), caption))
        return self

    def figure(self, fig: Any, caption: str = "") -> Section:
        """Add a Plotly figure (``plotly.graph_objects.Figure``)."""
        self.blocks.append(Block("figure", fig, caption))
        return self

    def warn(self, message: str) -> Section:
        """Add a warning the reader must see (a failed check, a skipped step)."""
        self.blocks.append(Block("warning", message))
        return self

    def html(self, markup: str, caption: str = "") -> Section:
        """Add trusted HTML made by segmentum itself (persona cards)."""
        self.blocks.append(Block("html", markup, caption))
        return self

    @property
    def warnings(self) -> list[str]:
        return [b.content for b in self.blocks if b.kind == "warning"]
