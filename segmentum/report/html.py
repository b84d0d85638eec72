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
    env.globals["plotly_config"] = PLOTLY_CONFIG
    return env


def report_context(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole report as plain data: what the page template renders and ``report.json`` holds.

    Parameters
    ----------
    sections : sequence of Section
        In the order they appear.
    title, subtitle : str
        Shown in the page header.
    manifest : dict, optional
        The run's manifest, shown in full at the end (method and reproducibility).

    Returns
    -------
    dict
        ``format`` (:data:`REPORT_FORMAT`), ``version`` (segmentum's), ``title``,
        ``subtitle``, ``sections`` (each :meth:`Section.to_context`) and ``manifest``
        (``None`` when not given).
    """
    from segmentum import __version__

    keys = [s.key for s in sections]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(
            f"report section keys must be unique (they are the page's anchors); "
            f"{', '.join(map(repr, repeated))} appear more than once"
        )
    return {
        "format": REPORT_FORMAT,
        "version": __version__,
        "title": str(title),
        "subtitle": str(subtitle),
        "sections": [s.to_context() for s in sections],
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


def render_html(context: dict[str, Any]) -> str:
    """Render a :func:`report_context` as the self-contained page (Plotly's library inlined).

    The library is inlined once, packed (:func:`segmentum.report.packing.packed_plotlyjs`);
    the page unpacks it in the browser, then draws the figures.
    """
    from markupsafe import Markup

    from segmentum.report.packing import packed_plotlyjs

    packed, length = packed_plotlyjs()
    sections, templates = _shared_templates(context["sections"])
    page = environment().get_template("page.html")
    return page.render(
        **{**context, "sections": sections},
        plotly_templates=templates,
        plotly_packed=Markup(packed),
        plotly_packed_length=length,
    )


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
) -> str:
    """The report's JSON twin: :func:`report_context` as strict JSON (no NaN), UTF-8 text.

    ``sections`` may also be a context already built by :func:`report_context`.
    """
    context = (
        sections
        if isinstance(sections, dict)
        else report_context(sections, title=title, subtitle=subtitle, manifest=manifest)
    )
    return json.dumps(context, indent=indent, ensure_ascii=False, allow_nan=False)


def render_report(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
    json_path: str | Path | None = None,
) -> str:
    """Return the whole report as one HTML string.

    Parameters
    ----------
    sections : sequence of Section
        In the order they appear.
    title, subtitle : str
        Shown in the page header.
    manifest : dict, optional
        The run's manifest, shown in full at the end (method and reproducibility).
    json_path : path, optional
        Also write the report's JSON twin (the same context, see :func:`render_json`) there.

    Examples
    --------
    >>> page = render_report([Section("value", "Customer value").warn("No <costs> given.")],
    ...                      title="Demo")
    >>> "No &lt;costs&gt; given." in page and "Plotly" in page
    True
    """
    context = report_context(sections, title=title, subtitle=subtitle, manifest=manifest)
    if json_path is not None:
        Path(json_path).write_text(render_json(context), encoding="utf-8")
    return render_html(context)
