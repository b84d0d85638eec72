"""The self-contained HTML report and its JSON twin, built from stage results only.

Each stage hands a :class:`Section`; :func:`render_report` renders the sections through the
Jinja2 templates in ``templates/`` into one offline HTML page, and :func:`render_json` writes
the same context as JSON (the run's ``report.json``, reused by the web app).

The page opens with the answer (:func:`answer_for`: to whom, what, how, how sure), and every
table is labelled and formatted in one place (:mod:`segmentum.report.format`, settings
``[report]`` as :class:`ReportSettings`).
"""

from segmentum.report.answer import Answer, answer_for
from segmentum.report.format import ReportSettings
from segmentum.report.html import (
    render_html,
    render_json,
    render_report,
    render_section,
    report_context,
)
from segmentum.report.section import Block, Section

__all__ = [
    "Answer",
    "Block",
    "ReportSettings",
    "Section",
    "answer_for",
    "render_html",
    "render_json",
    "render_report",
    "render_section",
    "report_context",
]
