"""Words and numbers for people: one place where every report table gets its labels and formats.

Every table the report shows goes through :func:`segmentum.report.context.table_context`,
which asks this module two things per column:

- its **label**: ``[report.labels]`` of the project file first, then the stage's label table
  (:data:`segmentum.report.labels.STAGE_LABELS`), then the common one, and only then the name
  itself made readable (``customers_cum_share`` → "Customers (cumulative share)");
- its **kind** and so its format: shares as percentages (``0.296`` → "30 %"), money with
  thousands separators and the project's currency symbol when it declares one, p-values as
  "< 0.001", counts with thousands separators, other numbers to three significant digits
  (never in ``e-`` notation).

:class:`ReportSettings` is the project file's ``[report]`` table, validated like every
stage's settings (``segmentum settings`` lists it).

**One mapping for every word.** A project's ``[report.labels]`` is the one mapping from the
data's names (columns, needs, offers, channels, levels) to the words a reader sees. While a
project runs (:func:`use_labels`), :func:`human_label`, :func:`item_label`,
:func:`item_labels`, :func:`id_label` and :func:`level_label` read it
(:func:`report_labels`), so the tables, the figures' axes, ticks and legends the stages draw,
and their sentences (personas, playbooks, the channel choice, the answer) all say the same
words, with no copy of the labels per stage. The precedence, for every name: the project
file's ``[report.labels]``; then the data's own words (a survey column that is already a
question or a description, "luxury / be spoilt", is kept as it is); then the built-in
tables (:mod:`segmentum.report.labels`); then the name made readable
(``need_fast_claims_payout`` → "Fast claims payout").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ID_COLUMNS",
    "LEVEL_COLUMNS",
    "ColumnKind",
    "ReportSettings",
    "cell_words",
    "column_formatter",
    "column_kind",
    "format_money",
    "format_number",
    "format_percent",
    "format_pvalue",
    "human_label",
    "id_label",
    "item_label",
    "item_labels",
    "level_label",
    "report_labels",
    "use_labels",
]

ColumnKind = Literal["text", "count", "number", "share", "percent", "money", "pvalue", "date"]


class ReportSettings(BaseModel):
    """``[report]``: how the report writes words and numbers.

    Examples
    --------
    >>> s = ReportSettings(currency="$", labels={"clv": "Lifetime value"})
    >>> s.labels["clv"], s.max_columns
    ('Lifetime value', 8)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: dict[str, str] = Field(
        default_factory=dict,
        description='Column name -> label in the report\'s tables ([report.labels] clv = "CLV").',
    )
    currency: str | None = Field(
        None,
        max_length=5,
        description="Currency symbol of money columns ('$', '€', 'CHF'); none when not given.",
    )
    max_columns: int = Field(
        8, ge=3, le=20, description="Columns a table shows; the rest behind a 'details' toggle."
    )


# --- numbers -------------------------------------------------------------------------------


def _plain_digits(x: float, significant: int = 3) -> str:
    """``x`` to ``significant`` digits with thousands separators and never an exponent."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    magnitude = math.floor(math.log10(abs(x)))
    decimals = min(max(significant - 1 - magnitude, 0), 8)
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_number(x: float) -> str:
    """A number as people read it: thousands separators, three significant digits.

    Examples
    --------
    >>> format_number(1234567.8), format_number(0.12345), format_number(0.0000123), format_number(12)
    ('1,234,568', '0.123', '0.0000123', '12')
    """
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return _plain_digits(float(x))


def format_percent(share: float) -> str:
    """A share (0..1) as a percentage: "30 %", "5.4 %", "0.35 %".

    Examples
    --------
    >>> format_percent(0.296), format_percent(0.054), format_percent(0.0035), format_percent(0.0998)
    ('30 %', '5.4 %', '0.35 %', '10 %')
    """
    pct = 100 * float(share)
    if pct == 0 or abs(round(pct, 1)) >= 10:
        return f"{pct:,.0f} %"
    if abs(pct) >= 1:
        return f"{pct:.1f} %"
    return f"{_plain_digits(pct, 2)} %"


def format_money(x: float, currency: str | None = None) -> str:
    """An amount with thousands separators; cents only below 100; the currency when given.

    A one-character symbol goes before the number ("$1,235", "-€12.50"), a code after it
    ("1,235 CHF").

    Examples
    --------
    >>> format_money(1234.56), format_money(1234.56, "$"), format_money(-12.5, "€")
    ('1,235', '$1,235', '-€12.50')
    >>> format_money(98000, "CHF")
    '98,000 CHF'
    """
    x = float(x)
    number = f"{abs(x):,.0f}" if abs(x) >= 100 or x == round(x) else f"{abs(x):,.2f}"
    sign = "-" if x < 0 and number.strip("0.,") else ""
    if not currency:
        return sign + number
    if len(currency) == 1:
        return f"{sign}{currency}{number}"
    return f"{sign}{number} {currency}"


def format_pvalue(p: float) -> str:
    """A p-value: "< 0.001" below a thousandth, else three decimals.

    Examples
    --------
    >>> format_pvalue(1.39e-264), format_pvalue(0.0421), format_pvalue(0.5)
    ('< 0.001', '0.042', '0.500')
    """
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


# --- which kind a column is -----------------------------------------------------------------

_PVALUE_NAMES = {"p", "p_value", "pvalue", "p_adjusted", "p_adj", "p_raw", "q_value", "p_bh"}
_MONEY = {"revenue", "clv", "profit", "margin", "spend", "cost", "monetary", "price", "amount"}
_MONEY |= {"value", "budget", "premium", "income"}
_NOT_MONEY = {"decile", "score", "index", "rank", "share", "pct", "n", "count", "p", "log"}
_SHARE = {"share", "rate", "probability", "prob", "accuracy", "recall", "precision", "alive"}


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[_\s]+", name.lower()) if t]


def column_kind(name: Any, column: pd.Series, kinds: Mapping[str, str] | None = None) -> str:
    """The kind of a table column, from its name and values (``kinds`` overrides by name).

    Examples
    --------
    >>> column_kind("revenue_cum_share", pd.Series([0.3, 1.0]))
    'share'
    >>> column_kind("clv_per_head", pd.Series([812.5])), column_kind("p_adjusted", pd.Series([0.01]))
    ('money', 'pvalue')
    >>> column_kind("value", pd.Series([0.4]), {"value": "number"})
    'number'
    """
    key = name if isinstance(name, str) else str(name)
    if kinds and key in kinds:
        return kinds[key]
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if not pd.api.types.is_numeric_dtype(dtype):
        return "text"
    tokens = _tokens(key)
    values = column.dropna()
    if key.lower() in _PVALUE_NAMES or key.lower().endswith(("_p_value", "_pvalue")):
        return "pvalue"
    if tokens and tokens[-1] in ("pct", "percent"):
        return "percent"
    # a cumulative share may end a rounding error above 1
    in_unit = bool(len(values)) and bool(((values >= 0) & (values <= 1 + 1e-9)).all())
    is_share = bool(set(tokens) & _SHARE) or (len(tokens) > 1 and tokens[0] == "p")
    if is_share and in_unit and not set(tokens) & {"cost", "index"}:
        return "share"
    if set(tokens) & _MONEY and not set(tokens) & (_NOT_MONEY | _SHARE):
        return "money"
    if pd.api.types.is_integer_dtype(dtype):
        return "count"
    return "number"


def column_formatter(
    kind: str, column: pd.Series, currency: str | None = None
) -> Callable[[Any], str]:
    """How one column's (non-missing) values are written, by kind."""
    if kind == "share":
        return format_percent
    if kind == "percent":
        return lambda v: f"{float(v):,.1f} %"
    if kind == "pvalue":
        return format_pvalue
    if kind == "money":
        return lambda v: format_money(v, currency)
    if kind == "count":
        return lambda v: f"{int(v):,}" if float(v) == int(v) else format_number(v)
    if kind == "number":
        values = column.abs().dropna()
        big = bool(len(values)) and values.median() >= 100
        return (lambda v: f"{v:,.0f}") if big else format_number
    if kind == "date":
        present = column.dropna()
        dates_only = bool(len(present)) and bool((present == present.dt.normalize()).all())
        return (lambda v: v.strftime("%Y-%m-%d")) if dates_only else str
    return str


# --- labels ---------------------------------------------------------------------------------

_NO_LABELS: Mapping[str, str] = MappingProxyType({})
_LABELS: ContextVar[Mapping[str, str]] = ContextVar("segmentum_report_labels", default=_NO_LABELS)


def report_labels() -> Mapping[str, str]:
    """The labels in use: a project's ``[report.labels]`` while its report is built
    (:func:`use_labels`), else none (read-only).

    Examples
    --------
    >>> with use_labels({"conference_b": "Trade fair"}):
    ...     dict(report_labels()), id_label("conference_b")
    ({'conference_b': 'Trade fair'}, 'Trade fair')
    >>> dict(report_labels()), id_label("conference_b")
    ({}, 'Conference B')
    """
    return _LABELS.get()


@contextmanager
def use_labels(labels: Mapping[str, str] | None) -> Iterator[Mapping[str, str]]:
    """Within the block, every label this module writes reads ``labels`` first.

    A project run (:meth:`segmentum.project.Project.run`) runs its stages and writes its
    report inside it with the project file's ``[report.labels]``: the stages' figures and
    sentences pick the labels up through :func:`human_label`, :func:`item_label`,
    :func:`id_label` and :func:`level_label`, as the tables do. Nested blocks replace the
    outer labels; leaving the block restores them. The labels live in a context variable,
    so threads started inside the block do not see them (the stages word their sentences
    on the run's own thread).
    """
    token = _LABELS.set(MappingProxyType(dict(labels or {})))
    try:
        yield _LABELS.get()
    finally:
        _LABELS.reset(token)


def _in_use(overrides: Mapping[str, str] | None) -> Mapping[str, str]:
    """``overrides`` over the labels in use (the project's while its report is built)."""
    current = _LABELS.get()
    if not overrides:
        return current
    return {**current, **overrides} if current else overrides


#: Words written in capitals, or spelled out, when a column name is made readable.
_WORDS = {
    "clv": "CLV",
    "rfm": "RFM",
    "id": "ID",
    "ari": "ARI",
    "bic": "BIC",
    "aic": "AIC",
    "icl": "ICL",
    "nbd": "NBD",
    "ev": "expected value",
    "cum": "cumulative",
    "n": "n",
    "k": "k",
    "pct": "%",
    "ci": "CI",
    "q95": "95th percentile",
    "avg": "average",
    "std": "standard deviation",
    "se": "standard error",
    # channels and marketing terms a project names in lower case (``tv`` → "TV")
    **{a: a.upper() for a in ("tv", "sms", "seo", "sem", "ppc", "crm", "b2b", "b2c", "ooh")},
    **{a: a.upper() for a in ("nps", "roi", "kpi", "url", "api", "faq", "vip")},
}
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")
_WORDS_ONLY = re.compile(r"^[a-z][a-z0-9]*( [a-z0-9()]+)+$")


def _readable(name: str) -> str:
    """``customers_cum_share`` → "Customers (cumulative share)", "rows read" → "Rows read";
    other names (a survey's question, anything with markup) unchanged."""
    if _WORDS_ONLY.match(name):
        return name[:1].upper() + name[1:]
    if not _IDENTIFIER.match(name) or ("_" not in name and not name.islower()):
        return name
    tokens = name.split("_")
    tail = ""
    if len(tokens) > 1 and tokens[-1] == "share":
        tokens, tail = tokens[:-1], "share"
        if len(tokens) > 1 and tokens[-1] == "cum":
            tokens, tail = tokens[:-1], "cumulative share"
    if len(tokens) > 1 and tokens[0].lower() == "n":  # a count: ``n_vehicles``
        tokens = ["number", "of", *tokens[1:]]
    words = " ".join(_WORDS.get(t.lower(), t) for t in tokens)
    words = words[:1].upper() + words[1:]
    return f"{words} ({tail})" if tail else words


def human_label(
    name: Any,
    stage_labels: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """A column's label: ``overrides`` and the labels in use (``[report.labels]``,
    :func:`report_labels`), the stage's table, the common table, or the name made readable.

    Examples
    --------
    >>> human_label("customers_cum_share")
    'Customers (cumulative share)'
    >>> human_label("clv_per_head"), human_label("rows read")
    ('CLV per head', 'Rows read')
    >>> human_label("clv", overrides={"clv": "Lifetime value"})
    'Lifetime value'
    >>> human_label("tv"), human_label("sms_reminder")
    ('TV', 'SMS reminder')
    """
    from segmentum.report.labels import COMMON_LABELS

    key = name if isinstance(name, str) else str(name)
    for table in (_in_use(overrides), stage_labels, COMMON_LABELS):
        if table and key in table:
            return str(table[key])
    return _readable(key)


#: Table columns whose values name the data's own columns (needs, descriptors, fields): their
#: cells are labelled like headers (``need_fast_claims_payout`` → "Fast claims payout").
ITEM_COLUMNS = frozenset(
    {"need", "needs", "defining_needs", "exclusive_needs", "shared_needs", "item", "variable"}
    | {"field", "descriptor"}
)
_NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?$")
_ITEM_PREFIX = re.compile(r"^(needs?|beh|att|desc)_(?=[A-Za-z0-9])", re.I)


def item_label(value: Any, overrides: Mapping[str, str] | None = None) -> str:
    """A cell that names items (one, or a comma-separated list): each made readable.

    ``overrides`` and the labels in use (``[report.labels]``) win; a prefix that only says
    what kind of column it is (``need_``, ``beh_``, ``att_``, ``desc_``) is dropped; text that
    is not an identifier (a survey's question, "luxury / be spoilt") is left as it is.

    Examples
    --------
    >>> item_label("need_fast_claims_payout"), item_label("beh_bought_online, profit_clv")
    ('Fast claims payout', 'Bought online, Profit CLV')
    >>> item_label("need_x", {"need_x": "Price"}), item_label("luxury / be spoilt")
    ('Price', 'luxury / be spoilt')
    """

    labels = _in_use(overrides)

    def one(name: str) -> str:
        if name in labels:
            return str(labels[name])
        if not _IDENTIFIER.match(name):
            return name
        return _readable(_ITEM_PREFIX.sub("", name))

    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    return ", ".join(one(str(part).strip()) for part in parts)


def item_labels(names: Any, overrides: Mapping[str, str] | None = None) -> list[str]:
    """Each name's :func:`item_label`, kept apart: where two names read the same
    (``need_price`` and ``price``), each keeps its own name in brackets, so a plot's rows
    stay one per name.

    Examples
    --------
    >>> item_labels(["need_fast_claims_payout", "Like"])
    ['Fast claims payout', 'Like']
    >>> item_labels(["need_3", "3"])
    ['Need 3', '3']
    >>> item_labels(["need_price", "price"])
    ['Price (need_price)', 'Price (price)']
    """
    names = [str(n) for n in names]
    labels = [item_label(n, overrides) if "," not in n else n for n in names]
    # a prefix dropped from a number ("need_3" → "3") would read as a value: "Need 3"
    labels = [
        human_label(n, overrides=overrides) if _NUMBER.match(lab) else lab
        for lab, n in zip(labels, names, strict=True)
    ]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{lab} ({n})" if seen[lab] > 1 else lab for lab, n in zip(labels, names, strict=True)]


def id_label(value: Any, overrides: Mapping[str, str] | None = None) -> str:
    """An id the data give (an offer, a channel, a level, a need) written for people:
    ``home_bundle`` → "Home bundle", ``conference_b`` → "Conference B" (a lone last letter
    as a capital); a label in use (``[report.labels]``) wins, text that is not an id stays.

    Examples
    --------
    >>> id_label("home_bundle"), id_label("conference_b"), id_label("Web ads")
    ('Home bundle', 'Conference B', 'Web ads')
    >>> id_label("conference_b", {"conference_b": "Trade fair"})
    'Trade fair'
    """
    raw = str(value)
    label = item_label(raw, overrides)
    if raw in _in_use(overrides):
        return label
    return re.sub(r"(?<= )([a-z])$", lambda m: m.group(1).upper(), label)


_RANGE = re.compile(r"^(\d[\w.]*)_(\d[\w.]*)$")
_PLUS = re.compile(r"^(\d[\w.]*)_(plus|and_over|or_more)$")


def level_label(value: Any, overrides: Mapping[str, str] | None = None) -> str:
    """A level of an answer or a descriptor (``under_35k``, ``35k_60k``, ``150k_plus``)
    written for people; a label in use wins, text that is not an id stays as it is.

    Examples
    --------
    >>> [level_label(v) for v in ("under_35k", "35k_60k", "150k_plus", "$30,001-$60,000")]
    ['Under 35k', '35k–60k', '150k+', '$30,001-$60,000']
    >>> level_label("monthly"), level_label("pay_monthly", {"pay_monthly": "Monthly"})
    ('monthly', 'Monthly')
    """
    raw = str(value)
    labels = _in_use(overrides)
    if raw in labels:
        return str(labels[raw])
    if m := _PLUS.match(raw):
        return f"{m.group(1)}+"
    if m := _RANGE.match(raw):
        return f"{m.group(1)}–{m.group(2)}"
    return id_label(raw, overrides) if "_" in raw else raw


#: Table columns whose values are the data's ids (offers, channels, rules, levels): their
#: cells are written as labels (``home_bundle`` → "Home bundle"), lists item by item.
ID_COLUMNS = frozenset(
    {"offer", "offers", "offer_id", "next_best_offer", "best_offer", "channel", "channels"}
    | {"rule_id", "trigger", "from_offer", "to_offer", "option", "scenario"}
)
#: Table columns whose values are levels of answers and descriptors.
LEVEL_COLUMNS = frozenset({"level", "levels", "answer", "value_level"})


def cell_words(name: str) -> Callable[[Any], str] | None:
    """How the text cells of column ``name`` are written when they name ids or levels
    (:data:`ID_COLUMNS`, :data:`LEVEL_COLUMNS`), else ``None`` (as they are).

    Examples
    --------
    >>> cell_words("channels")("conference_a, conference_b"), cell_words("level")("150k_plus")
    ('Conference A, Conference B', '150k+')
    >>> cell_words("note") is None
    True
    """
    if name in ID_COLUMNS:
        return lambda v: ", ".join(id_label(p.strip()) for p in str(v).split(","))
    if name in LEVEL_COLUMNS:
        return level_label
    return None
