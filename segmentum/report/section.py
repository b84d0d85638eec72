"""A report section: what one stage hands to the report.

Every stage that ran contributes one :class:`Section`. A section is plain data (text,
tables, Plotly figures, warnings, raw HTML cards); the report renders it and never
recomputes anything.

:meth:`Section.to_context` gives the section as a plain, JSON-serialisable dict: the one
context the HTML templates render and the JSON twin (``report.json``, the web app) reuses.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import pandas as pd

if TYPE_CHECKING:
    from segmentum.report.format import ReportSettings

BlockKind = Literal["text", "table", "figure", "warning", "html"]
BLOCK_KINDS: tuple[str, ...] = get_args(BlockKind)


@dataclass
class Block:
    """One item of a section, rendered in order."""

    kind: BlockKind
    content: Any
    caption: str = ""
    appendix: bool = False  # technical evidence: shown in the report's appendix
    #: the key of a section that shows the same thing better: when the report has that
    #: section, this block is left out (the segments' heat map, when the profiles' is there)
    unless: str = ""

    def to_context(
        self, block_id: str = "", *, section: str = "", settings: ReportSettings | None = None
    ) -> dict[str, Any]:
        """The block as plain data, by kind.

        Every block has ``kind``, ``id``, ``caption`` and ``appendix``; then ``text`` (text,
        warning), ``columns``/``headers``/``rows``/``cells``/``parts``/``csv``/… (table, see
        :func:`segmentum.report.context.table_context`, labelled for ``section`` and
        ``settings``), ``figure`` (Plotly's JSON) or ``html`` (trusted markup made by
        segmentum).
        """
        from segmentum.report.context import figure_context, table_context
        from segmentum.report.packing import sample_clouds

        out: dict[str, Any] = {
            "kind": self.kind,
            "id": block_id,
            "caption": str(self.caption),
            "appendix": bool(self.appendix),
        }
        match self.kind:
            case "text" | "warning":
                out["text"] = str(self.content)
            case "table":
                frame, max_rows = self.content
                out |= table_context(frame, max_rows, section=section, settings=settings)
            case "figure":
                figure, shown, total = sample_clouds(figure_context(self.content))
                out["figure"] = figure
                if shown < total:
                    note = f"The scatter shows a random sample of {shown:,} of {total:,} points."
                    out["caption"] = f"{out['caption']} ({note})" if out["caption"] else note
            case "html":
                out["html"] = str(self.content)
            case _:
                raise ValueError(
                    f"unknown report block kind {self.kind!r}; the kinds are {', '.join(BLOCK_KINDS)}"
                )
        return out


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
    appendix : bool, default=False
        The whole section is technical evidence (inputs read, stages run): the report shows
        it in its appendix, after the story.

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
    appendix: bool = False

    def text(self, text: str, *, appendix: bool = False) -> Section:
        """Add a paragraph of plain text (escaped when rendered).

        ``appendix=True`` (here and for tables and figures): technical evidence, shown in
        the report's appendix under this section's title.
        """
        self.blocks.append(Block("text", text, appendix=appendix))
        return self

    def table(
        self, frame: pd.DataFrame, caption: str = "", max_rows: int = 60, *, appendix: bool = False
    ) -> Section:
        """Add a table; long tables are cut to ``max_rows`` with a note, wide ones show their
        first columns and the rest behind a toggle (:func:`~segmentum.report.context.table_context`)."""
        self.blocks.append(Block("table", (frame, max_rows), caption, appendix))
        return self

    def figure(
        self, fig: Any, caption: str = "", *, appendix: bool = False, unless: str = ""
    ) -> Section:
        """Add a Plotly figure (``plotly.graph_objects.Figure``).

        ``unless``: the key of another section that draws the same figure (its own version,
        with more in it); a report that has that section leaves this figure out, so the page
        draws it once. A section rendered alone keeps it.
        """
        self.blocks.append(Block("figure", fig, caption, appendix, unless))
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
        """The warnings of this section, in order."""
        return [b.content for b in self.blocks if b.kind == "warning"]

    def to_context(
        self, settings: ReportSettings | None = None, sections: Collection[str] = ()
    ) -> dict[str, Any]:
        """This section as plain data: what the templates render and the JSON twin holds.

        Parameters
        ----------
        settings : ReportSettings, optional
            The project's ``[report]`` table (labels, currency) its tables are written with.
        sections : collection of str, default=()
            The keys of the report's sections: a block whose ``unless`` names one of them is
            left out (that section shows the same thing).

        Returns
        -------
        dict
            ``key``, ``title``, ``summary``, ``appendix``, ``warnings`` (the warning texts,
            in order) and ``blocks``, each from :meth:`Block.to_context` with the id
            ``"{key}-{n}"`` (n from 1, also the HTML anchor of that block; a block left out
        keeps its number unused, so the others' anchors stay).

        Examples
        --------
        >>> ctx = Section("value", "Customer value").text("Deciles rank customers.").to_context()
        >>> ctx["blocks"]
        [{'kind': 'text', 'id': 'value-1', 'caption': '', 'appendix': False, 'text': 'Deciles rank customers.'}]
        """
        return {
            "key": str(self.key),
            "title": str(self.title),
            "summary": str(self.summary),
            "appendix": bool(self.appendix),
            "warnings": [str(w) for w in self.warnings],
            "blocks": [
                b.to_context(f"{self.key}-{n}", section=self.key, settings=settings)
                for n, b in enumerate(self.blocks, 1)
                if not (b.unless and b.unless in sections)
            ],
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_context` as a JSON string (strict JSON: no NaN)."""
        return json.dumps(self.to_context(), indent=indent, ensure_ascii=False, allow_nan=False)
