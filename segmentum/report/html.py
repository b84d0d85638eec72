"""Render report sections into one self-contained HTML file, and into its JSON twin.

Both come from one context (:func:`report_context`): plain, JSON-serialisable data built from
each section's :meth:`~segmentum.report.section.Section.to_context`. The HTML is that context
rendered by the Jinja2 templates in ``segmentum/report/templates/`` (autoescape on: every
string from the data is escaped); the JSON twin (:func:`render_json`, the run's
``report.json``) is the same context as JSON, for the web app and for scripts.

Everything the page needs (styles, Plotly's JavaScript once, the figures' data) is inlined,
so the file opens offline, by e-mail or from a shared drive, with no server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentum.report.context import jsonable
from segmentum.report.section import Section

if TYPE_CHECKING:
    import jinja2

    from segmentum.report.answer import Answer
    from segmentum.report.format import ReportSettings

#: Names the JSON twin's layout; bump when a key changes meaning.
REPORT_FORMAT = "segmentum.report/1"
#: Plotly's options for every figure in the page.
#: ``typesetMath`` off: a ``$`` in a label (prices, "$30,001-$60,000") is text, never LaTeX.
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True, "typesetMath": False}


def _plotly_json(value: Any) -> Any:
    """Plotly data as JSON that is safe inside ``<script>`` (``<``, ``>``, ``/`` escaped)."""
    from markupsafe import Markup
    from plotly.io.json import to_json_plotly

    return Markup(to_json_plotly(value))


def _plotly_size(figure: dict[str, Any]) -> dict[str, str]:
    """The figure's box as CSS, as Plotly's own ``to_html`` sizes it."""
    layout = figure.get("layout", {})
    template = layout.get("template", {}).get("layout", {})
    size = {}
    for key in ("height", "width"):
        value = layout.get(key, template.get(key, "100%"))
        size[key] = f"{value}px" if isinstance(value, int | float) else str(value)
    return size


def _uri_text(text: str) -> str:
    """Text percent-encoded for a ``data:`` link (a table's CSV): letters, digits and the
    CSV's punctuation stay as they are, so the link is little longer than the text."""
    from urllib.parse import quote

    return quote(text, safe=",.-_:;()[]/+ ").replace(" ", "%20")


def _tojson_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment the report renders with (templates shipped in the package).

    Autoescape is on for every template; ``StrictUndefined`` makes a missing context key an
    error instead of an empty string. The web app can load the same templates from here
    (``environment().get_template("section.html")``) to render one section as a page.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segmentum.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["plotly_json"] = _plotly_json
    env.filters["plotly_size"] = _plotly_size
    env.filters["tojson_pretty"] = _tojson_pretty
    env.filters["uri_text"] = _uri_text
    env.globals["plotly_config"] = PLOTLY_CONFIG
    return env


def report_context(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
    answer: Answer | None = None,
    settings: ReportSettings | None = None,
) -> dict[str, Any]:
    """The whole report as plain data: what the page template renders and ``report.json`` holds.

    Parameters
    ----------
    sections : sequence of Section
        In the order they appear; blocks marked ``appendix`` (and sections marked so) are
        shown in the appendix at the end of the page. A block whose ``unless`` names another
        section of the report is left out (that section draws the same figure).
    title, subtitle : str
        Shown in the page header.
    manifest : dict, optional
        The run's manifest, shown in full at the end (method and reproducibility).
    answer : Answer, optional
        The answer screen (:func:`segmentum.report.answer.answer_for`), shown first.
    settings : ReportSettings, optional
        The project's ``[report]`` table: column labels, currency, columns per table.

    Returns
    -------
    dict
        ``format`` (:data:`REPORT_FORMAT`), ``version`` (segmentum's), ``title``,
        ``subtitle``, ``answer`` (:meth:`Answer.to_context`, ``None`` when not given),
        ``sections`` (each :meth:`Section.to_context`) and ``manifest`` (``None`` when not
        given).
    """
    from segmentum import __version__
    from segmentum.report.format import report_labels, use_labels

    keys = [s.key for s in sections]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(
            f"report section keys must be unique (they are the page's anchors); "
            f"{', '.join(map(repr, repeated))} appear more than once"
        )
    # the settings' labels over those in use: the tables' cells and the answer read them
    with use_labels({**report_labels(), **(settings.labels if settings else {})}):
        return {
            "format": REPORT_FORMAT,
            "version": __version__,
            "title": str(title),
            "subtitle": str(subtitle),
            "answer": None if answer is None else answer.to_context(),
            "sections": [s.to_context(settings, keys) for s in sections],
            "manifest": None if manifest is None else jsonable(manifest),
        }


def _shared_templates(
    sections: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Sections whose figures name their layout template by number, and the templates, once.

    Most figures share ``plotly_white`` (7 kB of JSON each); the page writes each distinct
    template once and every figure takes it back before it is drawn. ``sections`` is left as
    it is (the JSON twin keeps each figure whole).
    """
    templates: list[Any] = []
    seen: dict[str, int] = {}
    out = []
    for section in sections:
        blocks = []
        for block in section["blocks"]:
            layout = block.get("figure", {}).get("layout", {}) if block["kind"] == "figure" else {}
            if "template" in layout:
                key = json.dumps(layout["template"], sort_keys=True, default=str)
                ref = seen.setdefault(key, len(templates))
                if ref == len(templates):
                    templates.append(layout["template"])
                rest = {k: v for k, v in layout.items() if k != "template"}
                block = {**block, "figure": {**block["figure"], "layout": rest}, "template": ref}
            blocks.append(block)
        out.append({**section, "blocks": blocks})
    return out, templates


def split_appendix(
    sections: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The story and the appendix: each section without its ``appendix`` blocks, and for each
    section with any its evidence under the key ``"{key}-evidence"`` (a section marked
    ``appendix`` moves there whole, under its own key).

    Examples
    --------
    >>> ctx = Section("segments", "Segments").text("Six.").text("ARI", appendix=True).to_context()
    >>> main, extra = split_appendix([ctx])
    >>> [b["id"] for b in main[0]["blocks"]], extra[0]["key"], [b["id"] for b in extra[0]["blocks"]]
    (['segments-1'], 'segments-evidence', ['segments-2'])
    """
    main, appendix = [], []
    for section in sections:
        whole = bool(section.get("appendix"))
        story = [b for b in section["blocks"] if not whole and not b.get("appendix")]
        evidence = [b for b in section["blocks"] if whole or b.get("appendix")]
        if not whole:
            main.append({**section, "blocks": story})
        if evidence:
            title = section["title"] if whole else f"{section['title']}: evidence"
            summary = section["summary"] if whole else ""
            key = section["key"] if whole else f"{section['key']}-evidence"
            appendix.append({**section, "key": key, "title": title, "summary": summary})
            appendix[-1]["blocks"] = evidence
    return main, appendix


def render_html(context: dict[str, Any]) -> str:
    """Render a :func:`report_context` as the self-contained page (Plotly's library inlined).

    The library is inlined once, packed (:func:`segmentum.report.packing.packed_plotlyjs`);
    the page unpacks it in the browser, then draws the figures.
    """
    from markupsafe import Markup

    from segmentum.report.packing import packed_plotlyjs

    packed, length = packed_plotlyjs()
    sections, templates = _shared_templates(context["sections"])
    sections, figures = _packed_figures(sections)
    main, appendix = split_appendix(sections)
    page = environment().get_template("page.html")
    return page.render(
        **{**context, "sections": main},
        appendix=appendix,
        plotly_templates=templates,
        plotly_packed=Markup(packed),
        plotly_packed_length=length,
        figures_packed=Markup(figures[0]),
        figures_packed_length=figures[1],
    )


def _packed_figures(
    sections: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], tuple[str, int]]:
    """Every figure's data, layout and frames in one gzip-packed JSON object (by block id),
    and the sections with their figure blocks marked ``packed``.

    Figure JSON is mostly numbers and repeated keys: gzip takes the demo report's 230 kB of
    it to about 50 kB, and the page has to wait for Plotly's library to unpack anyway.
    """
    import gzip

    from plotly.io.json import to_json_plotly

    from segmentum.report.packing import encode

    figures: dict[str, Any] = {}
    out = []
    for section in sections:
        blocks = []
        for block in section["blocks"]:
            if block["kind"] == "figure":
                figures[block["id"]] = block["figure"]
                block = {**block, "packed": True}
            blocks.append(block)
        out.append({**section, "blocks": blocks})
    raw = gzip.compress(to_json_plotly(figures).encode("utf-8"), 9, mtime=0)
    return out, (encode(raw), len(raw))


def render_section(section: Section | dict[str, Any]) -> str:
    """One section as an HTML fragment (its ``<section>`` element), from the same template.

    For pages that show one section at a time (the web app); the page around it must load
    Plotly's library itself (the report inlines it once in its head).
    """
    context = section.to_context() if isinstance(section, Section) else section
    return environment().get_template("section.html").render(section=context)


def render_json(
    sections: Sequence[Section] | dict[str, Any],
    *,
    title: str = "",
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
    indent: int | None = None,
    answer: Answer | None = None,
    settings: ReportSettings | None = None,
) -> str:
    """The report's JSON twin: :func:`report_context` as strict JSON (no NaN), UTF-8 text.

    ``sections`` may also be a context already built by :func:`report_context`.
    """
    context = (
        sections
        if isinstance(sections, dict)
        else report_context(
            sections,
            title=title,
            subtitle=subtitle,
            manifest=manifest,
            answer=answer,
            settings=settings,
        )
    )
    return json.dumps(context, indent=indent, ensure_ascii=False, allow_nan=False)


def render_report(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
    json_path: str | Path | None = None,
    answer: Answer | None = None,
    settings: ReportSettings | None = None,
) -> str:
    """Return the whole report as one HTML string.

    Parameters
    ----------
    sections : sequence of Section
        In the order they appear (technical evidence moves to the appendix).
    title, subtitle : str
        Shown in the page header.
    manifest : dict, optional
        The run's manifest, shown in full at the end (method and reproducibility).
    answer : Answer, optional
        The answer screen, shown first (:func:`segmentum.report.answer.answer_for`).
    settings : ReportSettings, optional
        ``[report]`` of the project: labels, currency, columns per table.
    json_path : path, optional
        Also write the report's JSON twin (the same context, see :func:`render_json`) there.

    Examples
    --------
    >>> page = render_report([Section("value", "Customer value").warn("No <costs> given.")],
    ...                      title="Demo")
    >>> "No &lt;costs&gt; given." in page and "Plotly" in page
    True
    """
    context = report_context(
        sections,
        title=title,
        subtitle=subtitle,
        manifest=manifest,
        answer=answer,
        settings=settings,
    )
    if json_path is not None:
        Path(json_path).write_text(render_json(context), encoding="utf-8")
    return render_html(context)
