"""Ordered levels: the order a categorical answer's levels are shown and tested in.

Survey answers such as ``Never … More than once a week``, ``I hate it!-5 … I love it!+5`` or
``Less than $30,000 … more than $240,001`` have an order that alphabetical sorting destroys.
The order is either declared (``levels = { VisitFrequency = [...] }`` in the project file) or
inferred here from the labels alone:

- **frequencies** (``Never``, ``Once a year``, ``Every three months``, ``2-3 times a month``,
  ``Weekly``, ``More than once a week``, ``Daily``), by how many times a year they mean;
- **known scales**: agreement, satisfaction, importance, likelihood, quality, amount, size and
  vague frequency (``Rarely … Always``);
- **numbers**: a number with a label (``I hate it!-5`` is -5, ``+2`` is 2, ``1 Extremely
  well``), ranges and bands (``$30,001 to $60,000``, ``30-60k``, ``(25,35]``, ``18-24``), open
  ends (``Less than $30,000``, ``<30k``, ``more than $120,000``, ``65+``, ``>= 3``).

An order is inferred only when every level is placed and no two levels tie; otherwise the data's
order is kept and nothing is said. The result never depends on the order the levels come in.
Pure functions of the labels: no I/O, only :mod:`re` and the standard library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "KNOWN_SCALES",
    "NON_ANSWERS",
    "LevelOrder",
    "frequency_per_year",
    "infer_order",
    "number_key",
    "order_levels",
]


@dataclass(frozen=True)
class LevelOrder:
    """The order of one column's levels.

    Attributes
    ----------
    column : str
        The column.
    levels : tuple of str
        Its levels, lowest first.
    source : str
        ``"declared"`` (the project file) or how the order was inferred: ``"numbers"``,
        ``"number ranges"``, ``"frequency scale"`` or the name of a known scale
        (``"agreement scale"``...).
    """

    column: str
    levels: tuple[str, ...]
    source: str

    @property
    def inferred(self) -> bool:
        """Whether the order was inferred (not declared)."""
        return self.source != "declared"

    def note(self, column: str | None = None, level: Callable[[str], str] | None = None) -> str:
        """What was inferred, for the notes: ``"Like: ordered from its numbers (… … …)"``.

        ``column`` and ``level`` write the column's name and its levels for a reader (the
        report's labels); by default both as they are in the data.
        """
        how = {
            "declared": "ordered as declared in the project file",
            "numbers": "ordered from its numbers",
            "number ranges": "ordered from its number ranges",
        }.get(self.source, f"ordered as {_article(self.source)} {self.source}")
        placed = [lv for lv in self.levels if not _is_non_answer(lv)] or list(self.levels)
        word = level or str
        return f"{column or self.column}: {how} ({word(placed[0])} … {word(placed[-1])})"

    def position(self, level: str) -> int | None:
        """1-based position of ``level`` in the order, or None when it is not a level."""
        try:
            return self.levels.index(level) + 1
        except ValueError:
            return None


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _norm(label: str) -> str:
    s = label.strip().lower().replace("–", "-").replace("—", "-").replace("’", "'")
    s = re.sub(r"[^\w\s'+<>=$%.,()\[\]-]", " ", s)
    return re.sub(r"\s+", " ", s).strip(" .,")


# --- frequencies: how many times a year a label means ----------------------------------------

_PER_YEAR = {
    "day": 365.0,
    "daily": 365.0,
    "week": 52.0,
    "weekly": 52.0,
    "fortnight": 26.0,
    "fortnightly": 26.0,
    "month": 12.0,
    "monthly": 12.0,
    "quarter": 4.0,
    "quarterly": 4.0,
    "year": 1.0,
    "yearly": 1.0,
    "annually": 1.0,
    "annual": 1.0,
}
_WORDS = {
    "once": 1.0,
    "twice": 2.0,
    "thrice": 3.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "eleven": 11.0,
    "twelve": 12.0,
    "a couple of": 2.0,
    "a few": 3.0,
    "few": 3.0,
    "several": 3.0,
    "many": 5.0,
    "other": 2.0,
}
_N = r"(?:\d+(?:\.\d+)?|" + "|".join(sorted((re.escape(w) for w in _WORDS), key=len)[::-1]) + ")"
_FREQUENCY = re.compile(
    rf"(?:(?P<mod>more than|less than|at least|at most|over|under|up to|about|around|nearly)\s+)?"
    rf"(?:(?P<c1>{_N})(?:\s*(?:or|-|to)\s*(?P<c2>{_N}))?\s*(?P<times>times?|x)?\s*)?"
    rf"(?P<art>a|an|per|each|every|in a|in an|once every|once a)?\s*"
    rf"(?:(?P<every>{_N})\s*)?"
    rf"(?P<period>days?|weeks?|fortnights?|months?|quarters?|years?|daily|weekly|fortnightly|"
    rf"monthly|quarterly|yearly|annually|annual)"
    rf"(?:\s*(?P<tail>or more|or more often|or less|or less often|\+|plus))?"
)
_NEVER = {"never", "not at all", "none", "zero", "0 times", "no visits"}
_MORE, _LESS = 1.0 + 1e-3, 1.0 - 1e-3


def _count(word: str | None) -> float:
    if word is None:
        return 1.0
    return float(word) if word[0].isdigit() else _WORDS[word]


def frequency_per_year(label: str) -> float | None:
    """How many times a year a frequency label means, or None when it is not one.

    Examples
    --------
    >>> [frequency_per_year(s) for s in ("Never", "Every three months", "Once a week")]
    [0.0, 4.0, 52.0]
    >>> frequency_per_year("2-3 times a month"), frequency_per_year("18-24")
    (30.0, None)
    """
    s = _norm(label)
    if s in _NEVER:
        return 0.0
    m = _FREQUENCY.fullmatch(s)
    if m is None:
        return None
    period = m["period"].rstrip("s") if m["period"] not in _PER_YEAR else m["period"]
    marked = (
        m["times"] or m["art"] or m["c1"] in ("once", "twice", "thrice") or period.endswith("ly")
    )
    if not marked:
        return None  # "1-3 years" is a duration, not a frequency
    count = (_count(m["c1"]) + _count(m["c2"] or m["c1"])) / 2.0
    every = _count(m["every"]) if m["every"] else 1.0
    rate = count * _PER_YEAR[period] / every
    if m["mod"] in ("more than", "at least", "over") or m["tail"] in (
        "or more",
        "or more often",
        "+",
        "plus",
    ):
        rate *= _MORE
    elif m["mod"] in ("less than", "at most", "under", "up to") or m["tail"] in (
        "or less",
        "or less often",
    ):
        rate *= _LESS
    return rate


# --- known scales -----------------------------------------------------------------------------


def _scale(*groups: tuple[float, str]) -> dict[str, float]:
    return {phrase.strip(): rank for rank, phrases in groups for phrase in phrases.split("|")}


KNOWN_SCALES: dict[str, dict[str, float]] = {
    "agreement scale": _scale(
        (
            1,
            "strongly disagree|completely disagree|totally disagree|disagree strongly|"
            "disagree completely|fully disagree",
        ),
        (2, "disagree|mostly disagree|disagree somewhat"),
        (
            2.5,
            "somewhat disagree|slightly disagree|tend to disagree|partly disagree|"
            "mildly disagree|rather disagree",
        ),
        (
            3,
            "neither agree nor disagree|neither disagree nor agree|neutral|undecided|"
            "neither|agree nor disagree|neither agree or disagree",
        ),
        (3.5, "somewhat agree|slightly agree|tend to agree|partly agree|mildly agree|rather agree"),
        (4, "agree|mostly agree|agree somewhat"),
        (
            5,
            "strongly agree|completely agree|totally agree|agree strongly|agree completely|"
            "fully agree",
        ),
    ),
    "satisfaction scale": _scale(
        (1, "very dissatisfied|extremely dissatisfied|completely dissatisfied|very unsatisfied"),
        (2, "dissatisfied|unsatisfied|not satisfied"),
        (2.5, "somewhat dissatisfied|slightly dissatisfied|fairly dissatisfied"),
        (3, "neither satisfied nor dissatisfied|neither dissatisfied nor satisfied|neutral"),
        (3.5, "somewhat satisfied|slightly satisfied|fairly satisfied"),
        (4, "satisfied"),
        (5, "very satisfied|extremely satisfied|completely satisfied"),
    ),
    "importance scale": _scale(
        (1, "not at all important|not important at all|completely unimportant"),
        (2, "not important|not very important|unimportant|of little importance"),
        (2.5, "slightly important|a little important|low importance"),
        (3, "somewhat important|moderately important|neutral|fairly important"),
        (4, "important|quite important"),
        (4.5, "very important|high importance"),
        (5, "extremely important|critical|essential|absolutely essential"),
    ),
    "likelihood scale": _scale(
        (1, "very unlikely|extremely unlikely|definitely not|definitely would not|certainly not"),
        (2, "unlikely|probably not|probably would not"),
        (2.5, "somewhat unlikely|fairly unlikely"),
        (3, "neither likely nor unlikely|neutral|not sure|unsure|maybe|might or might not"),
        (3.5, "somewhat likely|fairly likely"),
        (4, "likely|probably|probably would"),
        (5, "very likely|extremely likely|definitely|definitely would|certainly"),
    ),
    "quality scale": _scale(
        (1, "very poor|very bad|terrible|awful"),
        (2, "poor|bad"),
        (3, "fair|average|ok|okay|neutral|acceptable|neither good nor bad"),
        (4, "good"),
        (5, "very good"),
        (6, "excellent|outstanding|exceptional"),
    ),
    "amount scale": _scale(
        (0, "none"),
        (1, "very low|extremely low"),
        (2, "low"),
        (2.5, "rather low|fairly low|somewhat low"),
        (3, "medium|moderate|average"),
        (3.5, "rather high|fairly high|somewhat high"),
        (4, "high"),
        (5, "very high|extremely high"),
    ),
    "size scale": _scale(
        (1, "very small|extra small|tiny"),
        (2, "small"),
        (3, "medium|average"),
        (4, "large|big"),
        (5, "very large|extra large|huge"),
    ),
    "frequency scale": _scale(
        (0, "never"),
        (1, "almost never|hardly ever|rarely|seldom"),
        (2, "occasionally|sometimes|now and then"),
        (3, "often|frequently|regularly"),
        (4, "very often|usually|most of the time|almost always|very frequently"),
        (5, "always|all the time"),
    ),
}
"""Known answer scales: normalised phrase → rank (lowest first). A column is ordered by a scale
only when every one of its levels is a phrase of that scale and no two share a rank."""


# --- numbers, ranges and bands ----------------------------------------------------------------

_NUM = r"\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?(?:k\b|thousand\b|million\b)?"
_SIGNED = re.compile(rf"(?:(?<![\w$])(?P<sign>[-+]))?\s?(?P<num>{_NUM})")
_RANGE = re.compile(rf"(?P<lo>{_NUM})\s*(?:-|to|and|until|till)\s*(?P<hi>{_NUM})")
_PLAIN = r"-?\d+(?:\.\d+)?"
_INTERVAL = re.compile(rf"[(\[]\s*(?P<lo>{_PLAIN})\s*[,;]\s*(?P<hi>{_PLAIN})\s*[)\]]")
_BELOW = re.compile(
    r"(?:^|\b)(?:less than|fewer than|under|below|up to|at most|lower than|younger than|"
    r"no more than|not more than)\b|<=?|(?:\b(?:or|and) (?:less|under|below|fewer|younger)\b)"
)
_ABOVE = re.compile(
    r"(?:^|\b)(?:more than|greater than|over|above|at least|higher than|older than|"
    r"in excess of)\b|>=?|#\s*(?:\+|plus\b)|(?:\b(?:or|and) (?:more|over|above|older|greater|"
    r"higher|plus)\b)"
)
_UNITS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}
_UNIT = re.compile(r"\b(day|week|month|year)s?\b")


def _value(text: str) -> float:
    t = text.replace("$", "").replace(",", "").strip()
    mult = 1.0
    for suffix, m in (("thousand", 1e3), ("million", 1e6), ("k", 1e3)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)].strip(), m
            break
    return float(t) * mult


def _with_suffix(lo: str, hi: str) -> tuple[float, float]:
    """``30-60k``: the upper end's ``k`` applies to the lower end too."""
    a, b = _value(lo), _value(hi)
    if re.search(r"(k|thousand|million)$", hi.strip()) and not re.search(
        r"(k|thousand|million)$", lo.strip()
    ):
        a *= _value("1" + hi.strip().lstrip("$0123456789,. "))
    return a, b


def number_key(label: str) -> tuple[float, float] | None:
    """Where a label sits on a number line: ``(low, high)``, or None without one clear number.

    Examples
    --------
    >>> number_key("I hate it!-5"), number_key("+2"), number_key("$30,001 to $60,000")
    ((-5.0, -5.0), (2.0, 2.0), (30001.0, 60000.0))
    >>> number_key("Less than $30,000"), number_key("65+"), number_key("30-60k")
    ((-inf, 30000.0), (65.0, inf), (30000.0, 60000.0))
    >>> number_key("under_35k"), number_key("35k_60k"), number_key("150k_plus")
    ((-inf, 35000.0), (35000.0, 60000.0), (150000.0, inf))
    """
    s = re.sub(r"(?<=[\dk])_(?=\$?\d)", "-", _norm(label)).replace("_", " ")  # 35k_60k
    if s in _NEVER:
        return (0.0, 0.0)
    unit_match = _UNIT.search(s)
    unit = _UNITS[unit_match.group(1)] if unit_match else 1.0
    if len(set(_UNIT.findall(s))) > 1:
        return None
    interval = _INTERVAL.fullmatch(s)
    if interval is not None:  # (25,35]
        lo, hi = float(interval["lo"]) * unit, float(interval["hi"]) * unit
        return (lo, hi) if lo < hi else None
    s = s.strip("()[] ")
    r = _RANGE.search(s)
    if r is not None:
        if len(_SIGNED.findall(s)) != 2:
            return None
        lo, hi = _with_suffix(r["lo"], r["hi"])
        return (lo * unit, hi * unit) if lo < hi else None
    found = list(_SIGNED.finditer(s))
    if len(found) != 1:
        return None
    hit = found[0]
    x = _value(hit["num"]) * (-1.0 if hit["sign"] == "-" else 1.0) * unit
    rest = f"{s[: hit.start()]} # {s[hit.end() :]}"
    below, above = _BELOW.search(rest), _ABOVE.search(rest)
    if below and not above:
        return (-math.inf, x)
    if above and not below:
        return (x, math.inf)
    if below or above:
        return None
    return (x, x)


def _order_by(keys: Mapping[str, object]) -> tuple[str, ...] | None:
    """Levels sorted by their keys, or None when a level has no key or two keys tie."""
    if any(k is None for k in keys.values()) or len(set(keys.values())) != len(keys):
        return None
    return tuple(sorted(keys, key=lambda lv: (keys[lv], lv)))  # type: ignore[index]


NON_ANSWERS = frozenset(
    {
        "don't know",
        "dont know",
        "do not know",
        "dk",
        "prefer not to say",
        "prefer not to answer",
        "rather not say",
        "refused",
        "no answer",
        "n a",
        "n/a",
        "na",
        "not applicable",
        "does not apply",
    }
)
"""Labels that are no position on a scale; an ordered column shows them last."""


def infer_order(levels: Iterable[object]) -> tuple[tuple[str, ...], str] | None:
    """The order of a column's levels and how it was found, or None.

    Tries frequencies, then the :data:`KNOWN_SCALES`, then numbers; the first that places
    every level, with no two tied, wins. Non-answers (:data:`NON_ANSWERS`: ``Don't know``,
    ``Prefer not to say``…) go last when at least two other levels are placed. The answer
    does not depend on the order of ``levels`` (duplicates are ignored).

    Returns
    -------
    (tuple of str, str) or None
        The levels lowest first, and ``"frequency scale"``, a known scale's name,
        ``"numbers"`` or ``"number ranges"``.

    Examples
    --------
    >>> infer_order(["Once a month", "Never", "Once a week"])
    (('Never', 'Once a month', 'Once a week'), 'frequency scale')
    >>> infer_order(["+1", "-1", "0", "I love it!+5", "I hate it!-5"])[0]
    ('I hate it!-5', '-1', '0', '+1', 'I love it!+5')
    >>> infer_order(["65+", "Prefer not to say", "18-34", "35-64"])[0]
    ('18-34', '35-64', '65+', 'Prefer not to say')
    >>> infer_order(["NSW", "VIC", "QLD"]) is None
    True
    """
    found = sorted({str(v) for v in levels if v is not None})
    last = [lv for lv in found if _is_non_answer(lv)]
    placed = [lv for lv in found if lv not in last]
    if len(placed) < 2:
        return None
    got = _infer_placed(placed)
    return None if got is None else ((*got[0], *last), got[1])


def _is_non_answer(label: str) -> bool:
    return _norm(label).replace("/", " ") in NON_ANSWERS


def _infer_placed(found: list[str]) -> tuple[tuple[str, ...], str] | None:
    order = _order_by({lv: frequency_per_year(lv) for lv in found})
    if order is not None:
        return order, "frequency scale"
    normed = {lv: _norm(lv) for lv in found}
    for name, scale in KNOWN_SCALES.items():
        order = _order_by({lv: scale.get(normed[lv]) for lv in found})
        if order is not None:
            return order, name
    keys = {lv: number_key(lv) for lv in found}
    order = _order_by(keys)
    if order is None:
        return None
    ranged = any(k is not None and k[0] != k[1] for k in keys.values())
    return order, "number ranges" if ranged else "numbers"


def order_levels(
    column: str,
    found: Iterable[object],
    declared: Sequence[object] | None = None,
    *,
    infer: bool = True,
) -> LevelOrder | None:
    """The order of ``column``'s levels: as declared, else inferred, else None.

    Parameters
    ----------
    column : str
        The column, for the note and the error.
    found : iterable
        The levels found in the data (any order).
    declared : sequence, optional
        The declared order. It must list every level found.
    infer : bool, default=True
        Whether to infer an order when none is declared.

    Returns
    -------
    LevelOrder or None
        A declared order keeps only the levels found, in the declared order.

    Raises
    ------
    ValueError
        When ``declared`` misses levels found in the data; the message names the column and
        the missing levels.
    """
    values = sorted({str(v) for v in found if v is not None})
    if declared is not None:
        listed = [_declared_text(v) for v in declared]
        missing = [v for v in values if v not in listed]
        if missing:
            shown = ", ".join(repr(v) for v in missing[:10]) + (", …" if len(missing) > 10 else "")
            raise ValueError(
                f"column '{column}': the declared levels do not cover the values found: "
                f"{shown}. Add them to levels = {{ {column} = [...] }} (or fix the data)"
            )
        present = set(values)
        return LevelOrder(column, tuple(v for v in listed if v in present), "declared")
    if not infer:
        return None
    inferred = infer_order(values)
    if inferred is None:
        return None
    return LevelOrder(column, inferred[0], inferred[1])


def _declared_text(value: object) -> str:
    """A declared level as the data spell it (``3`` and ``3.0`` are ``"3"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
