"""The answer first: the one screen of the report a manager can forward.

:func:`answer_for` reads the results of the stages a run has and answers, in that order:
to whom we sell (the priority segments from the valuation stage, their size and value), what
(their defining needs, the next best offer from activation), how (the channel from the
go-to-market half, the lifecycle-stage mix) and how sure we are (the structure verdict, the
projection's and the typing tool's accuracy). Each point links to its evidence below.

It answers with what the run has: a run with value only (transactions, no survey) gets an
answer about value (where it sits, how concentrated CLV is) and a title without the word
"segmentation"; a survey-only run without valuation names its segments by size and defining
needs. The :class:`Answer` is plain data: the report renders it with ``answer.html`` and
writes it into ``report.json`` under ``"answer"``, for the web app's first page.

Like everything in :mod:`segmentum.report`, it never fits or recomputes: it reads results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import pandas as pd

from segmentum.report.format import (
    format_money,
    format_percent,
    human_label,
    id_label,
)

__all__ = [
    "Answer",
    "Figure",
    "Point",
    "SegmentCard",
    "TopCustomer",
    "answer_for",
    "id_label",
    "report_title",
    "what_point",
]

AnswerKind = Literal["segments", "value", "inputs"]


@dataclass(frozen=True)
class Point:
    """One line of the answer: the question, the answer in words, and where the evidence is."""

    question: str
    text: str
    href: str
    evidence: str


@dataclass(frozen=True)
class Figure:
    """A headline number (a tile on the answer screen), already written for people."""

    label: str
    value: str


@dataclass(frozen=True)
class TopCustomer:
    """One of the most valuable customers (a value-only answer names them)."""

    customer_id: str
    revenue: float
    clv: float | None = None


@dataclass(frozen=True)
class SegmentCard:
    """A segment the answer names: who they are, how many, what they are worth and want."""

    segment: int
    name: str
    rank: int | None = None
    population_share: float | None = None
    customers: int | None = None
    value_share: float | None = None
    clv_per_head: float | None = None
    needs: tuple[str, ...] = ()
    offer: str | None = None
    stages: tuple[tuple[str, float], ...] = ()

    def stage_mix(self) -> str:
        """The lifecycle-stage mix in words: "87 % loyal, 9.6 % lost, 1.2 % repeat"."""
        return ", ".join(f"{format_percent(v)} {s}" for s, v in self.stages)

    def facts(self, currency: str | None = None) -> list[str]:
        """The card's figures as short phrases ("25 % of the population", …)."""
        out = []
        if self.population_share is not None:
            out.append(f"{format_percent(self.population_share)} of the population")
        if self.customers is not None:
            out.append(f"{self.customers:,} customers")
        if self.value_share is not None:
            out.append(f"{format_percent(self.value_share)} of the customer value")
        if self.clv_per_head is not None:
            out.append(f"CLV {format_money(self.clv_per_head, currency)} per customer")
        return out


@dataclass(frozen=True)
class Answer:
    """The report's first screen, as data.

    Attributes
    ----------
    kind : {"segments", "value", "inputs"}
        What the run could answer: whom to target (segments ran), where value sits (value
        only) or only what was read.
    title : str
        The report's title; it says "segmentation" only when there are segments.
    headline : str
        The answer in one sentence.
    points : tuple of Point
        To whom, what, how, how sure (or the value questions), each with its evidence link.
    figures : tuple of Figure
        Headline numbers.
    segments : tuple of SegmentCard
        The segments named: the priority segments, or all by size without valuation.
    top_customers : tuple of TopCustomer
        A value-only answer's most valuable customers (by CLV where it was computed).
    currency : str or None
        The project's currency symbol, used in the cards' money.
    """

    kind: AnswerKind
    title: str
    headline: str
    points: tuple[Point, ...] = ()
    figures: tuple[Figure, ...] = ()
    segments: tuple[SegmentCard, ...] = ()
    top_customers: tuple[TopCustomer, ...] = ()
    currency: str | None = None

    def to_context(self) -> dict[str, Any]:
        """Plain JSON data (``report.json``'s ``"answer"``); each card with its ``facts``,
        ``stage_mix`` and ``offer_text`` (the offer by its label) written out."""
        out = asdict(self)
        out["segments"] = [
            {
                **asdict(card),
                "facts": card.facts(self.currency),
                "stage_mix": card.stage_mix(),
                "offer_text": id_label(card.offer) if card.offer else "",
            }
            for card in self.segments
        ]
        out["top_customers"] = [
            {
                **asdict(c),
                "revenue_text": format_money(c.revenue, self.currency),
                "clv_text": "" if c.clv is None else format_money(c.clv, self.currency),
            }
            for c in self.top_customers
        ]
        return out


def report_title(project: str, kind: AnswerKind) -> str:
    """The report's title for what the run contains.

    Examples
    --------
    >>> report_title("CDNOW", "value"), report_title("Demo", "segments")
    ('CDNOW: customer value report', 'Demo: segmentation report')
    """
    what = {"segments": "segmentation report", "value": "customer value report"}
    return f"{project}: {what.get(kind, 'data report')}"


def answer_for(
    results: Mapping[str, Any],
    *,
    project: str = "segmentum project",
    currency: str | None = None,
    skipped: Mapping[str, str] | None = None,
) -> Answer:
    """The answer screen from the results of the stages that ran.

    Parameters
    ----------
    results : mapping of str to result
        Stage name → its result, for the stages that ran (``"value"``, ``"segments"``,
        ``"profiles"``, ``"maps"``, ``"valuation"``, ``"activation"``).
    project : str
        The project's name, for the title.
    currency : str, optional
        The project's currency symbol (``[report] currency``).
    skipped : mapping of str to str, optional
        Stages that did not run and why: the answer says what it could not answer.

    Returns
    -------
    Answer
    """
    skipped = dict(skipped or {})
    if "segments" in results:
        answer = _segments_answer(results, project, currency)
    elif "value" in results:
        answer = _value_answer(results["value"], project, currency)
    else:
        answer = Answer(
            "inputs",
            report_title(project, "inputs"),
            "No analysis stage could run on these inputs; the appendix says what was read "
            "and why each stage was skipped.",
            currency=currency,
        )
    if skipped and answer.kind != "inputs":
        by_reason: dict[str, list[str]] = {}
        for stage, reason in skipped.items():
            by_reason.setdefault(reason, []).append(stage)
        why = "; ".join(f"{', '.join(stages)}: {reason}" for reason, stages in by_reason.items())
        points = (*answer.points, Point("Not answered", why, "#overview", "Inputs and stages"))
        answer = replace(answer, points=points)
    return answer


# --- a run with segments ---------------------------------------------------------------------


def _segments_answer(results: Mapping[str, Any], project: str, currency: str | None) -> Answer:
    cards = _cards(results)
    valuation = getattr(results.get("valuation"), "result", None)
    prioritised = valuation is not None and valuation.priorities is not None
    k = len(_names(results)) or len(cards)
    if prioritised:
        headline = _sentence_head(valuation.sentence)
    else:
        headline = f"{k} needs-based segments; the largest: " + ", ".join(
            _card_label(c) for c in cards[:3]
        )
        headline += "."
    points = [_whom(cards, prioritised, k)]
    points.append(what_point(cards))
    how = _how(cards, results)
    if how is not None:
        points.append(how)
    points.append(_how_sure(results))
    return Answer(
        "segments",
        report_title(project, "segments"),
        headline,
        points=tuple(points),
        figures=tuple(_segment_figures(results, k, currency)),
        segments=tuple(cards),
        currency=currency,
    )


def _sentence_head(sentence: str) -> str:
    """The valuation's sentence up to its first full stop ("Target 4 (…) and 5 (…): …")."""
    head = sentence.split(". ")[0].rstrip(".")
    return head + "."


def _names(results: Mapping[str, Any]) -> dict[int, str]:
    profiles = results.get("profiles")
    if profiles is not None:
        return {int(k): str(v) for k, v in profiles.names().items()}
    valuation = getattr(results.get("valuation"), "result", None)
    if valuation is not None and valuation.segment_names:
        return {int(k): str(v) for k, v in valuation.segment_names.items()}
    sizes = results["segments"].summary.get("sizes", {})
    return {int(k): f"Segment {k}" for k in sizes}


def _card_label(card: SegmentCard) -> str:
    return f"{card.segment} ({card.name})" if card.name else str(card.segment)


def _cards(results: Mapping[str, Any]) -> list[SegmentCard]:
    """The priority segments (valuation's top two that pass the knock-outs; the ranking table
    carries their size and value), else every segment by size."""
    names = _names(results)
    valuation = getattr(results.get("valuation"), "result", None)
    sizes = results["segments"].summary.get("sizes", {})
    if valuation is not None and valuation.priorities is not None:
        table = valuation.priorities.table
        live = table[~table["knocked_out"].astype(bool)]
        chosen = [int(s) for s in live.sort_values("rank").index[:2]]
    else:
        by_size = sorted(sizes, key=lambda s: -_share(sizes[s]))
        chosen, table = [int(s) for s in by_size], None
    cards = []
    for s in chosen:
        row = table.loc[s] if table is not None and s in table.index else None
        share = _get(row, "population_share")
        cards.append(
            SegmentCard(
                segment=s,
                name=names.get(s, ""),
                rank=None if row is None else int(row["rank"]),
                population_share=share if share is not None else _share(sizes.get(str(s), {})),
                customers=None if _get(row, "customers") is None else int(row["customers"]),
                value_share=_get(row, "value_share"),
                clv_per_head=_get(row, "clv_per_head"),
                needs=_needs(results, s),
                offer=_offer(results, s),
                stages=_stages(results, s),
            )
        )
    return cards


def _share(size: Mapping[str, Any]) -> float | None:
    share = size.get("weighted_share", size.get("share"))
    return None if share is None else float(share)


def _get(row: pd.Series | None, key: str) -> float | None:
    if row is None or key not in row.index or pd.isna(row[key]):
        return None
    return float(row[key])


def _needs(results: Mapping[str, Any], segment: int, n: int = 3) -> tuple[str, ...]:
    """A segment's defining needs in words (the persona's "what defines them" items)."""
    profiles = results.get("profiles")
    if profiles is None:
        return ()
    for persona in profiles.personas:
        if int(persona.segment) == segment:
            words = [str(d).split(":")[0] for d in persona.defines]
            words = [w for w in words if not w.startswith(("far less", "less "))]
            if words:
                return tuple(words[:n])
    needs = profiles.profile.defining_needs.get(segment, ())
    return tuple(human_label(v) for v in list(needs)[:n])


def _activation_mix(results: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.Series] | None:
    """Each segment's customers by lifecycle stage (``segment``, ``stage``, ``customers``,
    ``share`` of the segment, largest first) and the next best offer most of them get (by
    segment), or None without activation.

    Read from the activation result's aggregates (``ActivationResult.stage_mix()`` and
    ``top_offers()``, the same on both engines); a result without them is counted from its
    per-customer rows (``customers.customers``), as a DuckDB run holds them.
    """
    activation = results.get("activation")
    if activation is None:
        return None
    if hasattr(activation, "stage_mix") and hasattr(activation, "top_offers"):
        return activation.stage_mix(), activation.top_offers()
    c = activation.customers.customers.dropna(subset=["segment"])
    parts, offers = [], {}
    for seg, rows in c.groupby("segment", sort=True):
        if "stage" in rows:
            counts = rows["stage"].value_counts()
            part = pd.DataFrame({"stage": counts.index, "customers": counts.to_numpy()})
            parts.append(part.assign(segment=seg, share=part["customers"] / counts.sum()))
        made = rows["next_best_offer"].dropna() if "next_best_offer" in rows else pd.Series()
        if not made.empty:
            offers[seg] = str(made.value_counts().index[0])
    columns = ["segment", "stage", "customers", "share"]
    mix = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    return mix, pd.Series(offers, dtype=object)


def _of_segment(frame: pd.DataFrame | pd.Series, segment: int) -> Any:
    """The rows (or entries) of ``segment`` (segment numbers compared as integers)."""
    keys = frame["segment"] if isinstance(frame, pd.DataFrame) else frame.index.to_series()
    numbers = pd.to_numeric(keys, errors="coerce")
    return frame[(numbers == segment).to_numpy()]


def _offer(results: Mapping[str, Any], segment: int) -> str | None:
    """The next best offer most of the segment's customers get."""
    mix = _activation_mix(results)
    if mix is None:
        return None
    offers = _of_segment(mix[1], segment)
    return None if offers.empty else str(offers.iloc[0])


def _stages(results: Mapping[str, Any], segment: int, n: int = 3) -> tuple[tuple[str, float], ...]:
    """The segment's customers by lifecycle stage, largest first: (stage, share)."""
    mix = _activation_mix(results)
    if mix is None:
        return ()
    rows = _of_segment(mix[0], segment)
    return tuple((str(r.stage), float(r.share)) for r in rows.head(n).itertuples())


def _whom(cards: list[SegmentCard], prioritised: bool, k: int) -> Point:
    parts = []
    for card in cards[:3] if not prioritised else cards:
        facts = card.facts()
        parts.append(_card_label(card) + (f": {', '.join(facts[:3])}" if facts else ""))
    if prioritised:
        text = "Priority segments (of " + f"{k}): " + "; ".join(parts) + "."
        return Point("To whom we sell", text, "#valuation", "Where to play")
    text = f"No valuation ran, so no segment is prioritised; by size: {'; '.join(parts)}."
    return Point("Who the segments are", text, "#profiles", "Personas")


def _ids_labelled(text: str, ids: Any) -> str:
    """``text`` with every id of ``ids`` in it (a whole word) written as :func:`id_label`."""
    for raw in sorted({str(i) for i in ids}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(raw)}(?![\w])", id_label(raw), text)
    return text


def what_point(cards: list[SegmentCard]) -> Point:
    """The answer's "what they want": the first three segments' defining needs and offers."""
    parts = []
    for card in cards[:3]:
        bit = f"segment {card.segment} is defined by " + (
            ", ".join(card.needs) or "needs the profiles did not describe"
        )
        if card.offer:
            bit += f"; next best offer: {id_label(card.offer)}"
        parts.append(bit)
    text = "; ".join(parts) + "."
    return Point("What they want", text[:1].upper() + text[1:], "#profiles", "Personas")


def _how(cards: list[SegmentCard], results: Mapping[str, Any]) -> Point | None:
    activation = results.get("activation")
    if activation is None:
        return None
    parts = []
    market = activation.market
    if market is not None and market.plan is not None:
        table = market.plan.table
        chosen = table.loc[table["chosen"].astype(bool), "channel"]
        if len(chosen):
            parts.append("Channel: " + ", ".join(id_label(c) for c in chosen))
        head = market.plan.sentence.split(" — ")[0].split("; ")[0].rstrip(".")
        parts.append(_ids_labelled(head, table["channel"]))
    for card in cards[:3]:
        if card.stages:
            parts.append(f"Customers of segment {card.segment}: {card.stage_mix()}")
    if not parts:
        return None
    return Point("How to reach them", ". ".join(parts) + ".", "#activation", "Acting on customers")


def _how_sure(results: Mapping[str, Any]) -> Point:
    seg = results["segments"]
    verdict = str(seg.verdict).split(" (")[0].split(". ")[0].rstrip(".")
    parts = [verdict]
    profiles = results.get("profiles")
    if profiles is not None:
        ex = profiles.exclusivity
        parts.append(
            f"the segments are {'' if ex.passed else 'not '}mutually exclusive in the needs "
            f"that define them (score {float(ex.score):.2f})"
        )
    valuation = getattr(results.get("valuation"), "result", None)
    if valuation is not None and valuation.projection is not None:
        p = valuation.projection
        parts.append(
            f"the customer database projects {format_percent(p.accuracy)} of held-out "
            f"respondents to their segment (chance {format_percent(p.chance)})"
        )
    if valuation is not None and valuation.typing is not None:
        t = valuation.typing
        parts.append(
            f"{t.n_questions} golden questions type {format_percent(t.accuracy)} of held-out "
            "respondents correctly"
        )
    return Point("How sure we are", "; ".join(parts) + ".", "#segments", "Needs-based segments")


def _segment_figures(results: Mapping[str, Any], k: int, currency: str | None) -> list[Figure]:
    seg = results["segments"].summary
    out = [Figure("Segments", f"{k}"), Figure("Structure", str(seg.get("structure", "")))]
    if seg.get("stability") is not None:
        out.append(Figure("Stability (median ARI)", f"{float(seg['stability']):.2f}"))
    value = results.get("value")
    if value is not None:
        out += _value_figures(value, currency)[:2]
    return out


# --- a run with value only -------------------------------------------------------------------


def _value_figures(value: Any, currency: str | None) -> list[Figure]:
    s = value.summary
    out = [Figure("Customers", f"{int(s['customers']):,}")]
    if s.get("top_decile_revenue_share") is not None:
        out.append(Figure("Top 10 %'s revenue", format_percent(s["top_decile_revenue_share"])))
    if s.get("revenue") is not None:
        out.append(Figure("Revenue", format_money(s["revenue"], currency)))
    if s.get("clv_total") is not None:
        out.append(Figure("Expected CLV", format_money(s["clv_total"], currency)))
    return out


def _top_share(deciles: pd.DataFrame, column: str) -> float | None:
    if column not in deciles or not len(deciles):
        return None
    top = deciles.loc[deciles["decile"] == deciles["decile"].min(), column]
    return None if top.isna().all() else float(top.iloc[0])


def _value_answer(value: Any, project: str, currency: str | None) -> Answer:
    s, dec = value.summary, value.deciles
    top_rev = _top_share(dec, "revenue_share")
    top_clv = _top_share(dec, "clv_share")
    n = int(s["customers"])
    top_n = (
        int(dec.loc[dec["decile"] == dec["decile"].min(), "customers"].iloc[0]) if len(dec) else 0
    )
    headline = f"{n:,} customers, {int(s['repeat_buyers']):,} of them repeat buyers."
    if top_rev is not None:
        headline = (
            f"The top 10 % of customers ({top_n:,}) bring {format_percent(top_rev)} of revenue; "
            + headline
        )
    points = [
        Point(
            "Where value sits",
            f"The top value decile ({top_n:,} customers) brings "
            + (format_percent(top_rev) if top_rev is not None else "an unknown share")
            + f" of revenue; customers are ranked by {s.get('decile_by', 'revenue')}.",
            "#value",
            "Customer value",
        )
    ]
    if s.get("clv_total") is not None:
        conc = f"; the top decile holds {format_percent(top_clv)} of it" if top_clv else ""
        points.append(
            Point(
                "What customers are worth",
                f"Expected CLV over the next {float(s.get('clv_horizon_days', 365)):.0f} days: "
                f"{format_money(s['clv_total'], currency)} in all, "
                f"{format_money(s['clv_mean'], currency)} per customer{conc}.",
                "#value",
                "CLV distribution",
            )
        )
    holdout = s.get("holdout") or {}
    if holdout:
        points.append(
            Point(
                "How sure we are",
                f"On a holdout, the purchase model's total is off by "
                f"{abs(float(holdout['total_error_pct'])):.1f} % and its per-customer "
                f"correlation with what happened is {float(holdout['correlation']):.2f}.",
                "#value-evidence",
                "Model fit (appendix)",
            )
        )
    return Answer(
        "value",
        report_title(project, "value"),
        headline,
        points=tuple(points),
        figures=tuple(_value_figures(value, currency)),
        top_customers=_top_customers(value),
        currency=currency,
    )


def _top_customers(value: Any, n: int = 5) -> tuple[TopCustomer, ...]:
    """The ``n`` most valuable customers: by CLV where it was computed, else by revenue."""
    top = _top_rows(value, n)
    if top is None:
        return ()
    rows, id_column = top
    return tuple(
        TopCustomer(
            customer_id=str(r[id_column]),
            revenue=float(r["revenue"]),
            clv=None if "clv" not in rows or pd.isna(r["clv"]) else float(r["clv"]),
        )
        for _, r in rows.iterrows()
    )


def _top_rows(value: Any, n: int) -> tuple[pd.DataFrame, str] | None:
    """The value table's ``n`` rows of largest CLV (else revenue) and their id column: on
    Spark the top ``n`` of the value stage's Spark table (ties by customer id), never the
    whole table; else pandas' ``nlargest``."""
    frame = getattr(value, "spark", None)
    if frame is not None:
        from pyspark.sql import functions as F

        by = "clv" if "clv" in frame.columns else "revenue"
        if by == "clv" and frame.where(_a_number(F.col("clv"))).limit(1).count() == 0:
            by = "revenue"
        if by not in frame.columns or "revenue" not in frame.columns:
            return None
        cols = ["customer_id", "revenue", *(["clv"] if "clv" in frame.columns else [])]
        ranked = frame.where(_a_number(F.col(by))).orderBy(F.col(by).desc(), "customer_id")
        return ranked.select(*cols).limit(n).toPandas(), "customer_id"
    pc = value.per_customer
    by = "clv" if "clv" in pc and pc["clv"].notna().any() else "revenue"
    if by not in pc or value.customer_id not in pc:
        return None
    return pc.nlargest(n, by), value.customer_id


def _a_number(column: Any) -> Any:
    """Spark: the value is neither null nor NaN (what pandas' ``nlargest`` ranks)."""
    from pyspark.sql import functions as F

    return column.isNotNull() & ~F.isnan(column)
