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
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ColumnKind",
    "ReportSettings",
    "column_formatter",
    "column_kind",
    "format_money",
    "format_number",
    "format_percent",
    "format_pvalue",
    "human_label",
    "item_label",
    "item_labels",
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
    words = " ".join(_WORDS.get(t.lower(), t) for t in tokens)
    words = words[:1].upper() + words[1:]
    return f"{words} ({tail})" if tail else words


def human_label(
    name: Any,
    stage_labels: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """A column's label: ``overrides`` (``[report.labels]``), the stage's table, the common
    table, or the name made readable.

    Examples
    --------
    >>> human_label("customers_cum_share")
    'Customers (cumulative share)'
    >>> human_label("clv_per_head"), human_label("rows read")
    ('CLV per head', 'Rows read')
    >>> human_label("clv", overrides={"clv": "Lifetime value"})
    'Lifetime value'
    """
    from segmentum.report.labels import COMMON_LABELS

    key = name if isinstance(name, str) else str(name)
    for table in (overrides, stage_labels, COMMON_LABELS):
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

    ``overrides`` (``[report.labels]``) wins; a prefix that only says what kind of column it
    is (``need_``, ``beh_``, ``att_``, ``desc_``) is dropped; text that is not an identifier
    (a survey's question, "luxury / be spoilt") is left as it is.

    Examples
    --------
    >>> item_label("need_fast_claims_payout"), item_label("beh_bought_online, profit_clv")
    ('Fast claims payout', 'Bought online, Profit CLV')
    >>> item_label("need_x", {"need_x": "Price"}), item_label("luxury / be spoilt")
    ('Price', 'luxury / be spoilt')
    """

    def one(name: str) -> str:
        if overrides and name in overrides:
            return str(overrides[name])
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
