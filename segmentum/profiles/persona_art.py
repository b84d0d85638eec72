"""Persona pictures drawn from the data: one SVG per persona card, and a printable poster.

A picture answers the card's questions with marks, never with stock images: *who they are*
(the over-indexing descriptors as labelled badges with their share and index), *what
defines them* (the defining needs as bars around index 100), *how they buy* (the surveyed
behaviours, and the lifecycle-stage mix of the segment's customers when the run has one).
Glyphs are simple geometric shapes drawn here (no icon set, no download), chosen from the
variable's name (a house for household, a pin for region...).

Every mark carries ``data-source`` and ``data-value`` (on itself, or on the group it draws
for): the number it encodes and where it is. A plain path names a number of the segment's
entry in ``segments.json``: ``card_facts.3.index`` is the index of its 4th ``card_facts``
entry (:attr:`Persona.facts`), ``share`` its population share;
``assignments.parquet:stage=loyal`` is the share of the segment's customers in that stage
(``data-count`` their number). Layout marks (frame, headings, the index-100 ticks) carry
``data-role="layout"`` and encode nothing. All text is escaped. Values are drawn to four
significant digits; the pictures are small (about 7 KB each) since the report holds them all.

>>> from segmentum.profiles.personas import Persona
>>> card = Persona(1, "Savers", "Savers", 120, 0.3, (), (), (), (), (), (), ())
>>> svg = persona_svg(card)
>>> svg.startswith("<svg") and 'data-source="share"' in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from segmentum.profiles.personas import CardFact, Persona, level_words

__all__ = [
    "persona_from_json",
    "persona_poster",
    "persona_svg",
    "read_stage_mix",
    "stage_mix",
    "write_persona_files",
]

WIDTH = 720
_COL_W = 224
_COLS = (16, 248, 480)
_TOP = 104
#: segment colours: the map's palette (Plotly's default qualitative colours)
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: the lifecycle stages in the activation stage's order (renamed ones follow by size)
STAGE_ORDER = ("discovering", "browsing", "buying", "new", "repeat", "loyal", "lapsing", "lost")
_STAGE_COLOURS = (
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#a1d99b",
    "#41ab5d",
    "#006d2c",
    "#fdae6b",
    "#e6550d",
)
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
N_FIGURES = 20  # the population strip: each figure is 5 % of the population


def _e(text: object) -> str:
    """Escaped for XML text and attribute values (quotes too)."""
    return escape(str(text), quote=True)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _src(source: str, value: float, **extra: object) -> str:
    attrs = f'data-source="{_e(source)}" data-value="{_num(value)}"'
    return attrs + "".join(f' data-{k}="{_e(v)}"' for k, v in extra.items())


def _c(x: float) -> str:
    """A coordinate, short: ``16``, ``17.5``."""
    return f"{x:.1f}".removesuffix(".0")


def _text(x: float, y: float, text: str, cls: str = "pt") -> str:
    return f'<text x="{_c(x)}" y="{_c(y)}" class="{cls}">{_e(text)}</text>'


#: text and fill classes, scoped to the picture (several pictures share one page)
_CSS = (
    ".persona-art text{fill:#222}.persona-art path{fill-rule:evenodd}"
    ".persona-art .pt{font-size:12px}.persona-art .pn{font-size:10.5px;fill:#555}"
    ".persona-art .ph{font-size:13px;font-weight:700;fill:#333}"
    ".persona-art .pm{font-size:11px;fill:#777;font-style:italic}"
    ".persona-art .pc{fill:currentColor}.persona-art .pg{fill:#999}.persona-art .pl{fill:#bbb}"
)


# --- glyphs: geometric shapes chosen from the variable's words -------------------------------

_GLYPH_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hourglass", ("age", "birth", "generation", "year", "years", "tenure")),
    ("house", ("household", "family", "children", "kids", "marital", "home", "married")),
    ("pin", ("region", "state", "country", "city", "area", "zip", "postcode", "urban", "rural")),
    ("coin", ("income", "salary", "wealth", "price", "premium", "cost", "discount", "discounts",
              "revenue", "margin", "profit", "clv", "spend", "cheap", "expensive", "value")),
    ("book", ("education", "degree", "school", "study", "clear", "terms")),
    ("case", ("job", "occupation", "employment", "work", "industry", "company", "sector")),
    ("screen", ("online", "web", "app", "digital", "mobile", "internet", "quote", "bought")),
    ("bubble", ("agent", "advisor", "adviser", "phone", "calls", "office", "face", "advice")),
    ("shield", ("claim", "claims", "cover", "coverage", "deductible", "policy", "reliable",
                "strength", "protection")),
    ("wheel", ("car", "vehicle", "vehicles", "rental", "drive")),
)  # fmt: skip

#: 20 × 20 path data of each glyph, top-left at (0, 0); even-odd fill cuts the holes
_GLYPHS: dict[str, str] = {
    "hourglass": "M3,1h14l-7,9l7,9h-14l7,-9z",
    "house": "M10,1l9,8h-3v10h-12v-10h-3z",
    "pin": "M10,19l-6,-9a7,7 0 1 1 12,0zM12.5,7a2.5,2.5 0 1 0 -5,0a2.5,2.5 0 1 0 5,0z",
    "coin": "M19,10a9,9 0 1 0 -18,0a9,9 0 1 0 18,0zM14,10a4,4 0 1 0 -8,0a4,4 0 1 0 8,0z",
    "book": "M1,3h8l1,2l1,-2h8v15h-8l-1,1l-1,-1h-8z",
    "case": "M1,6h18v12h-18zM6,2h8v4h-2v-2h-4v2h-2z",
    "screen": "M1,2h18v12h-18zM7,15h6v3h-6z",
    "bubble": "M2,2h16v11h-9l-5,5v-5h-2z",
    "shield": "M10,1l8,3v6c0,5 -4,8 -8,9c-4,-1 -8,-4 -8,-9v-6z",
    "wheel": "M18,10a8,8 0 1 0 -16,0a8,8 0 1 0 16,0zM15,10a5,5 0 1 0 -10,0a5,5 0 1 0 10,0z"
    "M12.5,10a2.5,2.5 0 1 0 -5,0a2.5,2.5 0 1 0 5,0z",
    "tag": "M1,4h12l6,6l-6,6h-12z",
}


def glyph_kind(label: str) -> str:
    """The glyph for a variable's phrase: the first word list it shares a word with.

    >>> glyph_kind("household"), glyph_kind("manage online"), glyph_kind("yummy")
    ('house', 'screen', 'tag')
    """
    words = set(label.lower().replace("-", " ").replace("_", " ").split())
    for kind, keys in _GLYPH_WORDS:
        if words & set(keys):
            return kind
    return "tag"


def _glyph(label: str, cls: str) -> str:
    attr = f' class="{cls}"' if cls != "pc" else ""  # the picture's colour is the default
    return f'<path d="{_GLYPHS[glyph_kind(label)]}"{attr}/>'


def _people(n: int, x: float, y: float, colour: str) -> str:
    """``n`` figures 12 × 20 side by side from (x, y), 15 px apart: dashed strokes, a round
    head (round caps) over a body (square dashes), so the strip is a few bytes."""
    if n <= 0:
        return ""
    span = 15 * (n - 1)
    return (
        f'<path d="M{_c(x + 6)},{_c(y + 4)}h{span}" stroke="{colour}" stroke-width="7.2" '
        'stroke-linecap="round" stroke-dasharray="0 15"/>'
        f'<path d="M{_c(x + 1.5)},{_c(y + 14.5)}h{span + 9}" stroke="{colour}" '
        'stroke-width="11" stroke-dasharray="9 6"/>'
    )


# --- the parts of the picture ----------------------------------------------------------------


def _header(card: Persona) -> str:
    filled = round(card.share * N_FIGURES)
    people = _people(filled, 16, 62, "currentColor")
    people += _people(N_FIGURES - filled, 16 + 15 * filled, 62, "#d9d9d9")
    title = _short(f"Segment {card.segment}: {card.name}", 64)
    return (
        f"<g {_src('segment', card.segment)}>"
        f'<rect width="{WIDTH}" height="6"/>'
        f'<text x="16" y="32" font-size="18" font-weight="700">{_e(title)}</text></g>'
        f"<g {_src('size', card.n)}>"
        + _text(16, 52, f"{card.n:,} respondents · {card.share:.0%} of the population")
        + "</g>"
        + f'<g class="population" {_src("share", card.share, figures=filled)}>'
        + people
        + _text(
            22 + 15 * N_FIGURES, 77, f"each figure = {100 // N_FIGURES} % of the population", "pn"
        )
        + "</g>"
    )


def _heading(x: float, y: float, title: str) -> str:
    return (
        f'<g data-role="layout"><path d="M{x},{y + 6}h{_COL_W}" stroke="#ddd"/>'
        + _text(x, y, title, "ph")
        + "</g>"
    )


def _fact_source(card: Persona, fact: CardFact, key: str) -> str:
    return f"card_facts.{card.facts.index(fact)}.{key}"


def _bar(
    x: float, y: float, w: float, h: float, cls: str, source: str | None, value: float = 0.0
) -> str:
    """A bar; ``source=None`` when it draws its group's number (it inherits the group's)."""
    attrs = (f' class="{cls}"' if cls != "pc" else "") + (
        f" {_src(source, value)}" if source is not None else ""
    )
    return f'<rect x="{_c(x)}" y="{_c(y)}" width="{_c(max(1.0, w))}" height="{h}"{attrs}/>'


def _share_badge(card: Persona, fact: CardFact, x: float, y: float) -> str:
    """A descriptor or behaviour: glyph, label, numbers, and the segment's bar above the
    overall one (shares; numeric variables scaled to the larger of the two)."""
    label = fact.label if fact.level is None else f"{fact.label}: {level_words(fact.level)}"
    share = fact.kind != "numeric"
    if share:
        numbers = f"{fact.value:.0%} vs {fact.total:.0%} overall"
        scale = 1.0
    else:
        numbers = f"{fact.value:.1f} vs {fact.total:.1f} on average"
        scale = max(abs(fact.value), abs(fact.total)) or 1.0
    # the index where the card prints it: shares, and numeric needs (not "higher than average")
    show_index = fact.index is not None and (share or fact.section not in ("who", "how_they_buy"))
    if show_index and fact.index is not None:
        numbers += f" · index {fact.index:.0f}"
        own = _src(_fact_source(card, fact, "index"), fact.index)
        value_source: str | None = _fact_source(card, fact, "value")
    else:
        own = _src(_fact_source(card, fact, "value"), fact.value)
        value_source = None  # the group's own number
    bar = _COL_W - 34
    return (
        f'<g {own} '
        f'transform="translate({_c(x)},{_c(y)})">'
        + _glyph(fact.label, "pc")
        + _text(28, 10, _short(label, 32))
        + _text(28, 24, numbers, "pn")
        + _bar(28, 29, bar * min(1.0, abs(fact.value) / scale), 5, "pc", value_source,
               fact.value)
        + _bar(28, 36, bar * min(1.0, abs(fact.total) / scale), 3, "pl",
               _fact_source(card, fact, "total"), fact.total)
        + "</g>"
    )  # fmt: skip


def _index_bar(card: Persona, fact: CardFact, x: float, y: float) -> str:
    """A defining need: glyph, label and a bar from index 100 (log scale, ±1 doubling =
    ±80 px, capped), right for above the rest, left for below."""
    idx = fact.index if fact.index is not None else 100.0  # callers pass facts with an index
    mid = 124.0
    length = max(-1.2, min(1.2, math.log2(max(idx, 1e-9) / 100))) * 80.0
    cls = "pc" if idx >= 100 else "pg"
    src = _fact_source(card, fact, "index")
    tone = f" ({fact.tone})" if fact.tone else ""
    return (
        f'<g class="need" {_src(src, idx)} '
        f'transform="translate({_c(x)},{_c(y)})">'
        + _glyph(fact.label, cls)
        + _text(28, 10, _short(fact.label, 30))
        + _text(28, 24, f"index {idx:.0f}{tone}", "pn")
        + _bar(mid if idx >= 100 else mid + length, 28, abs(length), 6, cls, None)
        + f'<path data-role="layout" d="M{_c(mid)},26v10" stroke="#333"/>'  # index 100
        + "</g>"
    )


def _note(x: float, y: float, text: str) -> str:
    return f'<g data-role="layout">{_text(x, y, text, "pm")}</g>'


def _stage_bar(segment: int, stages: Mapping[str, int], x: float, y: float) -> tuple[str, float]:
    """The segment's customers by lifecycle stage: one stacked bar and a legend."""
    total = sum(int(v) for v in stages.values())
    if total <= 0:
        return "", 0.0
    out = [_text(0, 10, f"Customers by stage ({total:,})")]
    pos = 0.0
    legend: list[str] = []
    largest = sorted(stages, key=lambda k: (-int(stages[k]), k))[:4]  # in the legend
    for i, name in enumerate(_stage_order(stages)):
        n = int(stages[name])
        if n <= 0:
            continue
        share = n / total
        w = (_COL_W - 4) * share
        src = _src(f"assignments.parquet:stage={name}", share, count=n)
        fill = _stage_colour(name, i)
        out.append(
            f'<rect class="stage" x="{_c(pos)}" y="16" width="{w:.2f}" height="12" '
            f'fill="{fill}" {src}/>'
        )
        pos += w
        if name in largest:
            row, col = divmod(len(legend), 2)
            lx, ly = col * 112, 44 + row * 15
            legend.append(
                f'<g {src}><rect x="{lx}" y="{ly - 8}" width="8" height="8" fill="{fill}"/>'
                + _text(lx + 11, ly, f"{_short(name, 11)} {share:.0%}", "pn")
                + "</g>"
            )
    rows = (len(legend) + 1) // 2
    group = (
        f'<g class="stages" data-segment="{segment}" transform="translate({_c(x)},{_c(y)})">'
        + "".join(out + legend)
        + "</g>"
    )
    return group, 44.0 + 15 * rows


def _stage_order(stages: Mapping[str, int]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in stages]
    rest = sorted((s for s in stages if s not in STAGE_ORDER), key=lambda s: (-stages[s], s))
    return known + rest


def _stage_colour(name: str, i: int) -> str:
    if name in STAGE_ORDER:
        return _STAGE_COLOURS[STAGE_ORDER.index(name)]
    return PALETTE[i % len(PALETTE)]


def _column(
    card: Persona, facts: Sequence[CardFact], x: float, draw: str, empty: str
) -> tuple[list[str], float]:
    parts: list[str] = []
    y = _TOP + 22
    for f in facts:
        parts.append((_index_bar if draw == "index" else _share_badge)(card, f, x, y))
        y += 46
    if not facts:
        parts.append(_note(x, y + 8, empty))
        y += 20
    return parts, y


def _defining(card: Persona, max_items: int) -> list[CardFact]:
    """The needs drawn: the card's first ones above the rest and, when any, up to two below
    (its strongest), one per card line, in card order."""
    first = {f.line: f for f in reversed(card.facts_in("defines")) if f.index is not None}
    facts = sorted(first.values(), key=lambda f: f.line)
    up = [f for f in facts if f.index is not None and f.index >= 100]
    down = [f for f in facts if f.index is not None and f.index < 100]
    n_down = min(len(down), 2, max_items // 2) if up else min(len(down), max_items)
    chosen = up[: max_items - n_down] + down[:n_down]
    return sorted(chosen, key=lambda f: f.line)


def persona_svg(
    card: Persona,
    *,
    stages: Mapping[str, int] | None = None,
    max_items: int = 3,
) -> str:
    """The persona card's picture as a standalone SVG (UTF-8 text, no external reference).

    Parameters
    ----------
    card : Persona
        A card from :func:`segmentum.profiles.personas` (its :attr:`Persona.facts` are drawn).
    stages : mapping of str to int, optional
        Customers of this segment by lifecycle stage (:func:`stage_mix`); the "how they
        buy" column shows their mix. Left out when ``None`` or empty.
    max_items : int, default=3
        Most badges or bars per column (the card's first ones; "how they buy" keeps one
        behaviour beside the stage mix).

    Returns
    -------
    str
        ``<svg ...>``: 720 px wide, height as the content needs. Every mark has
        ``data-source``/``data-value`` (see the module docstring); text is escaped.
    """
    colour = PALETTE[(card.segment - 1) % len(PALETTE)] if card.segment >= 1 else PALETTE[0]
    how = card.facts_in("how_they_buy")[: 1 if stages else max_items]
    body: list[str] = []
    heights = []
    for x, title, facts, draw, empty in (
        (_COLS[0], "Who they are", card.facts_in("who")[:max_items], "share",
         "no descriptor over-indexes"),
        (_COLS[1], "What defines them", _defining(card, max_items), "index",
         "no need sets them apart"),
        (_COLS[2], "How they buy", how, "share", "no behaviour stands out"),
    ):  # fmt: skip
        body.append(_heading(x, _TOP, title))
        parts, y = _column(card, facts, x, draw, empty)
        if title == "How they buy" and stages:
            bar, h = _stage_bar(card.segment, stages, x, y)
            parts.append(bar)
            y += h
        body += parts
        heights.append(y)
    height = int(max(heights) + 26)
    files = "segments.json" + (" and assignments.parquet" if stages else "")
    foot = _note(16, height - 10, f"Every mark is a number of this segment in {files}.")
    title = f"Segment {card.segment}: {card.name}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="persona-art" '
        f'data-segment="{card.segment}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'font-family="{_e(_FONT)}" fill="currentColor" color="{colour}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style>"
        f'<rect data-role="layout" x="0.5" y="0.5" width="{WIDTH - 1}" height="{height - 1}" '
        'rx="10" fill="#fff" stroke="#ddd"/>' + _header(card) + "".join(body) + foot + "</svg>"
    )


def persona_from_json(entry: Mapping[str, Any]) -> Persona:
    """A card rebuilt from its ``segments.json`` entry (``segment``, ``name``, ``size``,
    ``share``, ``card_facts``): enough for :func:`persona_svg` to draw it again.

    The web app draws the picture itself from these numbers rather than showing the run
    folder's SVG file, which is untrusted input; only numbers and escaped text reach the page.

    Raises
    ------
    ValueError
        When the entry does not have that shape.
    """

    def number(x: Any) -> float:
        if x is None:
            return float("nan")
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise ValueError(f"not a number: {x!r}")
        return float(x)

    try:
        facts = tuple(
            CardFact(
                section=str(f["section"]),
                line=int(f["line"]),
                variable=str(f["variable"]),
                label=str(f["label"]),
                level=None if f.get("level") is None else str(f["level"]),
                kind=str(f["kind"]),
                value=number(f.get("value")),
                total=number(f.get("total")),
                index=None if f.get("index") is None else number(f["index"]),
                tone=str(f.get("tone") or ""),
            )
            for f in entry.get("card_facts") or []
        )
        name = str(entry.get("name") or "")
        share = number(entry.get("share"))
        return Persona(
            segment=int(entry["segment"]),
            name=name,
            suggested_name=name,
            n=int(entry.get("size") or 0),
            share=share if math.isfinite(share) else 0.0,
            who=(), defines=(), needs=(), less_important=(), how_they_buy=(), worth=(),
            quotes=(),
            facts=facts,
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a segments.json segment entry ({exc})") from exc


def stage_mix(assignments: pd.DataFrame) -> dict[int, dict[str, int]]:
    """Customers by segment and lifecycle stage, from ``assignments.parquet``.

    Parameters
    ----------
    assignments : pandas.DataFrame
        With ``segment`` and ``stage`` (the activation stage's column); rows without either
        are left out.

    Returns
    -------
    dict
        ``{segment: {stage: customers}}``; empty when the table has no ``stage`` column.
    """
    if not {"segment", "stage"} <= set(assignments.columns):
        return {}
    t = assignments[["segment", "stage"]].dropna()
    counts = t.groupby(["segment", "stage"], sort=True).size()
    out: dict[int, dict[str, int]] = {}
    for (seg, stage), n in counts.items():
        out.setdefault(int(seg), {})[str(stage)] = int(n)
    return out


def read_stage_mix(path: Path) -> dict[int, dict[str, int]]:
    """:func:`stage_mix` of an ``assignments.parquet`` file (or the folder of part files a
    Spark run writes); empty when it or its ``segment``/``stage`` columns are missing (a run
    without the activation stage)."""
    import pyarrow.parquet as pq

    if path.is_dir():
        parts = sorted(path.glob("part-*.parquet"))
        if not parts:
            return {}
        names = set(pq.read_schema(parts[0]).names)
    elif path.is_file():
        names = set(pq.read_schema(path).names)
    else:
        return {}
    if not {"segment", "stage"} <= names:
        return {}
    return stage_mix(pd.read_parquet(path, columns=["segment", "stage"]))


_POSTER_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#222;
margin:24px auto;max-width:760px;line-height:1.35}
.persona-art{width:100%;height:auto}
.persona-card h3{display:none}.persona-card{columns:2;column-gap:28px;font-size:0.9em}
.persona-card h4{margin:8px 0 2px;break-after:avoid}.persona-card ul{margin:0;padding-left:18px}
.persona-card blockquote{margin:4px 0;padding-left:8px;border-left:3px solid #ccc;color:#444}
.persona-size{color:#666;margin:0}.stage-mix{font-size:0.9em;color:#333}
h1{font-size:1.5em;margin:0 0 8px}footer{margin-top:12px;font-size:0.8em;color:#777}
@page{size:A4 portrait;margin:12mm}
@media print{body{margin:0;max-width:none;font-size:9pt}h1{font-size:14pt}
.persona-card{font-size:7.5pt;line-height:1.25}.persona-card li{margin:0}
svg,li,blockquote{break-inside:avoid}}
"""


def persona_poster(
    card: Persona, *, stages: Mapping[str, int] | None = None, project: str = ""
) -> str:
    """A printable one-page poster: the picture and the card's text, as one HTML page.

    Self-contained (no script, no external file) and escaped throughout.

    Parameters
    ----------
    card : Persona
    stages : mapping of str to int, optional
        As in :func:`persona_svg`; listed under the picture too.
    project : str, default=""
        Shown in the page title and footer.
    """
    title = f"Segment {card.segment}: {card.name}"
    mix = ""
    if stages and (total := sum(stages.values())) > 0:
        items = ", ".join(
            f"{_e(s)} {stages[s] / total:.0%}" for s in _stage_order(stages) if stages[s] > 0
        )
        mix = f'<p class="stage-mix"><b>Customers by lifecycle stage</b> ({total:,}): {items}</p>'
    head = f"{_e(project)}: " if project else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{head}{_e(title)}</title><style>{_POSTER_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        + persona_svg(card, stages=stages)
        + mix
        + card.to_html()
        + f"<footer>{head}persona poster made by segmentum from the run's data "
        "(segments.json, assignments.parquet).</footer></body></html>\n"
    )  # fmt: skip


def write_persona_files(
    cards: Sequence[Persona],
    folder: Path,
    *,
    stages: Mapping[int, Mapping[str, int]] | None = None,
    project: str = "",
) -> list[Path]:
    """``segment_N.svg`` and ``segment_N.html`` (the poster) for every card in ``folder``.

    Returns
    -------
    list of Path
        The files written, SVG then poster for each segment in card order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for card in cards:
        mix = (stages or {}).get(card.segment)
        svg = folder / f"segment_{card.segment}.svg"
        svg.write_text(persona_svg(card, stages=mix) + "\n", encoding="utf-8")
        poster = folder / f"segment_{card.segment}.html"
        poster.write_text(persona_poster(card, stages=mix, project=project), encoding="utf-8")
        out += [svg, poster]
    return out
