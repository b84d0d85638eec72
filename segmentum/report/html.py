"""Render report sections into one self-contained HTML file.

Everything the page needs (styles, Plotly's JavaScript, the figures' data) is inlined, so the
file opens offline, by e-mail or from a shared drive, with no server.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from segmentum.report.section import Block, Section

_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#e3e6ec; --accent:#2f5bea; --warn:#a15c00;
        --warnbg:#fff6e5; --bg:#fafbfc; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.55 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#14213d; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:0; color:#c9d2e3; }
nav { position:sticky; top:0; background:#fff; border-bottom:1px solid var(--line);
      padding:8px 40px; z-index:5; font-size:14px; }
nav a { color:var(--accent); margin-right:18px; text-decoration:none; }
main { max-width:1180px; margin:0 auto; padding:10px 40px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 24px;
          margin:22px 0; }
section h2 { margin:0 0 6px; font-size:21px; }
.summary { font-size:16px; color:var(--ink); margin:4px 0 14px; }
.text { color:var(--ink); }
.caption { color:var(--muted); font-size:13px; margin:6px 0 2px; }
.warning { background:var(--warnbg); border-left:4px solid var(--warn); color:#5a3400;
           padding:8px 12px; margin:10px 0; border-radius:4px; }
table.data { border-collapse:collapse; font-size:13px; margin:8px 0 4px; width:auto; }
table.data th, table.data td { border-bottom:1px solid var(--line); padding:4px 10px;
           text-align:right; white-space:nowrap; }
table.data th { background:#f3f5f8; text-align:center; }
table.data td:first-child, table.data th:first-child { text-align:left; }
.tablewrap { overflow-x:auto; }
.figure { margin:10px 0; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(320px, 1fr)); gap:14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 16px; background:#fcfdff; }
.card h3 { margin:0 0 6px; font-size:17px; }
.muted { color:var(--muted); }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:2px 16px; font-size:13px; }
dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; font-family:ui-monospace, monospace; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""


def _format_table(frame: pd.DataFrame, max_rows: int) -> tuple[str, str]:
    note = ""
    if len(frame) > max_rows:
        note = f"Showing the first {max_rows:,} of {len(frame):,} rows."
        frame = frame.head(max_rows)
    formatters: dict[str, Any] = {}
    for col in frame.columns:
        if pd.api.types.is_integer_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            formatters[col] = lambda v: "" if pd.isna(v) else f"{v:,}"
        elif pd.api.types.is_float_dtype(frame[col]):
            values = frame[col].abs().dropna()
            big = bool(len(values)) and values.median() >= 100
            formatters[col] = lambda v, big=big: (
                "" if pd.isna(v) else (f"{v:,.0f}" if big else f"{v:,.3g}")
            )
    show_index = not isinstance(frame.index, pd.RangeIndex)
    markup = frame.to_html(
        classes="data", border=0, index=show_index, escape=True, formatters=formatters, na_rep=""
    )
    return f'<div class="tablewrap">{markup}</div>', note


def _render_block(block: Block, n: int) -> str:
    caption = f'<p class="caption">{html.escape(block.caption)}</p>' if block.caption else ""
    match block.kind:
        case "text":
            paragraphs = [p for p in str(block.content).split("\n\n") if p.strip()]
            return "".join(f'<p class="text">{html.escape(p)}</p>' for p in paragraphs)
        case "warning":
            return f'<div class="warning">⚠ {html.escape(str(block.content))}</div>'
        case "table":
            frame, max_rows = block.content
            markup, note = _format_table(frame, max_rows)
            note_html = f'<p class="caption">{html.escape(note)}</p>' if note else ""
            return caption + markup + note_html
        case "figure":
            fig = block.content
            div = fig.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"figure-{n}",
                config={"displaylogo": False, "responsive": True},
            )
            return f'<div class="figure">{div}</div>{caption}'
        case "html":
            return str(block.content) + caption
    raise ValueError(f"unknown block kind {block.kind!r}")


def render_report(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    manifest: dict[str, Any] | None = None,
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
    """
    import plotly.offline

    counter = 0
    body = []
    nav = []
    for section in sections:
        blocks = []
        for block in section.blocks:
            counter += 1
            blocks.append(_render_block(block, counter))
        summary = (
            f'<p class="summary">{html.escape(section.summary)}</p>' if section.summary else ""
        )
        key = html.escape(section.key)
        body.append(
            f'<section id="{key}"><h2>{html.escape(section.title)}</h2>'
            f"{summary}{''.join(blocks)}</section>"
        )
        nav.append(f'<a href="#{key}">{html.escape(section.title)}</a>')
    if manifest is not None:
        dump = html.escape(json.dumps(manifest, indent=2, default=str))
        body.append(
            '<section id="manifest"><h2>Method and manifest</h2>'
            '<p class="text">Everything needed to rerun this exactly: input '
            "fingerprints, parameters, seed, package versions and timings.</p>"
            f"<details><summary>manifest.json</summary><pre>{dump}</pre></details>"
            "</section>"
        )
        nav.append('<a href="#manifest">Manifest</a>')
    plotly_js = plotly.offline.get_plotlyjs()
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{plotly_js}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{''.join(nav)}</nav><main>{''.join(body)}</main>"
        "<footer>Made by segmentum. This file is self-contained: it opens offline.</footer>"
        "</body></html>"
    )
