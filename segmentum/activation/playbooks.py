"""Playbooks by segment × lifecycle stage: what to say, prove, offer, where, what not to say,
and how a salesperson qualifies a lead (seed 001: "sales materials … that address your
customers' needs as they travel through your sales cycle").

For each priority segment and each lifecycle stage it holds customers in, a playbook has:

* **message**: the stage's intent and the segment's defining needs (each with its index,
  100 = average), plus a white-space need of the segment when the map found one (its
  importance and the best competitor's rating);
* **proof points**: the defining needs on which our brand (``[valuation] our_brand``) is
  rated best of all brands, with both ratings; a need where a competitor is rated higher is
  listed as *no proof point* instead of being claimed;
* **offer**: the segment × stage's next best offer (the one chosen most) and its mean
  expected value;
* **channel**: for customers, the acquisition channel most of them came through (its
  share); for prospects (discovering, browsing, buying), the channel choice for the target
  segments (its affinity index);
* **avoid**: needs that matter significantly less to the segment than to others (index);
* **qualifying questions**: the typing tool's golden questions in plain words, with the
  answers that point into the segment and away from it (the tool's membership probability
  at those answers, the other answers at the average).

Wording is data: every sentence is a template of ``[activation.playbooks]``
(:class:`PlaybookSettings`, checked when the project file is read: an unknown template or a
placeholder that template does not have is an error), filled only with numbers from the
run, each statement citing the number it rests on. A segment with no distinctive need gets
a playbook that says so instead of a need-based message.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from segmentum.profiles.personas import phrase
from segmentum.report.format import id_label

__all__ = [
    "Playbook",
    "PlaybookSettings",
    "Playbooks",
    "build_playbooks",
    "playbook_blocks",
    "qualifying_questions",
]

PROSPECT_STAGES: tuple[str, ...] = ("discovering", "browsing", "buying")

#: each template's placeholders (the fields :func:`build_playbooks` fills)
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "message": frozenset({"intent", "needs", "segment", "name"}),
    "white_space": frozenset({"need", "importance", "competitor", "competitor_score", "gap"}),
    "no_need": frozenset({"intent", "segment", "name", "n_needs", "n_significant"}),
    "proof": frozenset({"need", "brand", "rating", "competitor", "competitor_rating"}),
    "no_proof": frozenset({"need", "brand", "rating", "competitor", "competitor_rating"}),
    "no_ratings": frozenset({"brand"}),
    "offer": frozenset({"offer", "expected_value", "customers"}),
    "no_offer": frozenset({"customers"}),
    "channel_customers": frozenset({"channel", "share", "customers"}),
    "channel_prospects": frozenset({"channel", "index"}),
    "no_channel": frozenset({"customers"}),
    "avoid": frozenset({"need", "index", "value", "total"}),
    "no_avoid": frozenset({"n_needs"}),
    "question": frozenset({"question", "into", "p_into", "away", "p_away", "p_average"}),
    "weak_question": frozenset({"question", "p_low", "p_high", "p_average"}),
}

DEFAULT_TEMPLATES: dict[str, str] = {
    "message": "{intent}: lead with {needs}.",
    "white_space": (
        "{need} is white space: it matters to them ({importance:.1f} on the item's scale) and "
        "the best competitor, {competitor}, is rated only {competitor_score:.1f} (gap "
        "{gap:.2f}); promise it only where we deliver it."
    ),
    "no_need": (
        "{intent}: no need sets segment {segment} apart ({n_significant} of {n_needs} needs "
        "differ significantly from the rest, none by enough to define it), so do not build "
        "the message on a need: lead with the offer and qualify with the questions."
    ),
    "proof": "{need}: {brand} is rated best, {rating:.2f} against {competitor_rating:.2f} for "
    "{competitor}.",
    "no_proof": "no proof point on {need}: {competitor} is rated {competitor_rating:.2f}, "
    "{brand} {rating:.2f}; do not claim it.",
    "no_ratings": "no brand ratings for {brand} on these needs (0 rated): no proof points.",
    "offer": "{offer}, expected value {expected_value:,.2f} per customer offered "
    "({customers:,} customer(s) in this stage).",
    "no_offer": "no next best offer is made in this stage ({customers:,} customer(s); none "
    "eligible, worth it or allowed by the contact policy): nurture without an offer.",
    "channel_customers": "{channel} ({share:.0%} of these {customers:,} customer(s) came "
    "through it).",
    "channel_prospects": "{channel}, the channel choice for the target segments (index "
    "{index:.0f}).",
    "no_channel": "no channel data for these {customers:,} customers.",
    "avoid": "{need} (index {index:.0f}: {value:.1f} against {total:.1f} on average).",
    "no_avoid": "nothing: none of the {n_needs} needs matters significantly less to them.",
    "question": '"{question}" Answers {into} point to the segment (P = {p_into:.0%} against '
    "{p_average:.0%} at the average answer); {away} point away (P = {p_away:.0%}).",
    "weak_question": '"{question}" No answer points to this segment (P at most {p_high:.0%}, '
    "{p_average:.0%} at the average answer); ask it to qualify the other segments.",
}

DEFAULT_INTENTS: dict[str, str] = {
    "discovering": "Introduce the brand",
    "browsing": "Help them choose",
    "buying": "Close the sale",
    "new": "Welcome and onboard",
    "repeat": "Deepen the relationship",
    "loyal": "Reward and extend",
    "lapsing": "Win them back before they leave",
    "lost": "Win them back",
}


class PlaybookSettings(BaseModel):
    """The ``[activation.playbooks]`` table: how the playbooks are worded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Write playbooks.md and the report part.")
    max_needs: int = Field(3, ge=1, le=10, description="Defining needs in the message.")
    max_avoid: int = Field(3, ge=0, le=10, description="Needs listed under 'avoid'.")
    stages: list[str] = Field(
        default_factory=list,
        description="Stages to write (empty: every stage the segment has customers in).",
    )
    intents: dict[str, str] = Field(
        default_factory=dict, description="What each stage's message is for (stage -> words)."
    )
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="Sentence templates replacing the defaults (message, white_space, "
        "no_need, proof, no_proof, no_ratings, offer, no_offer, channel_customers, "
        "channel_prospects, no_channel, avoid, no_avoid, question, weak_question), "
        "Python format strings with that template's placeholders.",
    )
    questions: dict[str, str] = Field(
        default_factory=dict,
        description="Plain wording of golden questions (item column -> question).",
    )

    @field_validator("templates")
    @classmethod
    def _known_placeholders(cls, v: dict[str, str]) -> dict[str, str]:
        for key, text in v.items():
            if key not in TEMPLATE_FIELDS:
                raise ValueError(
                    f"templates: unknown template {key!r}; the templates are "
                    f"{sorted(TEMPLATE_FIELDS)}"
                )
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise ValueError(f"templates.{key}: not a format string ({exc})") from exc
            bad = sorted(
                n for n in names if n.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS[key]
            )
            if bad or any(n == "" for n in names):
                raise ValueError(
                    f"templates.{key}: unknown placeholder(s) {bad or ['{}']}; it may use "
                    f"{sorted(TEMPLATE_FIELDS[key])}"
                )
        return v

    def say(self, key: str, **values: Any) -> str:
        """Fill template ``key`` (the project's, else the default)."""
        return self.templates.get(key, DEFAULT_TEMPLATES[key]).format(**values)

    def intent(self, stage: str) -> str:
        return self.intents.get(stage, DEFAULT_INTENTS.get(stage, f"In stage {stage}"))


@dataclass(frozen=True)
class Playbook:
    """One segment × stage: each part a list of sentences (each citing its number)."""

    segment: int
    name: str
    stage: str
    message: tuple[str, ...]
    proof_points: tuple[str, ...]
    offer: str
    channel: str
    avoid: tuple[str, ...]
    questions: tuple[str, ...]

    def parts(self) -> list[tuple[str, tuple[str, ...]]]:
        return [
            ("Message", self.message),
            ("Proof points", self.proof_points),
            ("Offer", (self.offer,)),
            ("Channel", (self.channel,)),
            ("Avoid", self.avoid),
            ("Qualifying questions", self.questions),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "stage": self.stage,
                **{k.lower().replace(" ", "_"): list(v) for k, v in self.parts()}}  # fmt: skip


@dataclass(frozen=True)
class Playbooks:
    """Every priority segment's playbooks and the lines introducing each segment."""

    playbooks: tuple[Playbook, ...]
    headers: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def segments(self) -> list[int]:
        return list(dict.fromkeys(p.segment for p in self.playbooks))

    def to_markdown(self) -> str:
        """``playbooks.md``: ``## Segment N: name`` per segment, ``### stage`` below."""
        lines = ["# Playbooks by segment and stage", ""]
        for s in self.segments():
            lines += [f"## Segment {s}: {self.names.get(s, f'Segment {s}')}", "",
                      self.headers.get(s, ""), ""]  # fmt: skip
            for p in (p for p in self.playbooks if p.segment == s):
                lines += [f"### {p.stage}", ""]
                for title, items in p.parts():
                    if len(items) == 1:
                        lines.append(f"- **{title}**: {items[0]}")
                    else:
                        lines.append(f"- **{title}**:")
                        lines += [f"  - {t}" for t in items]
                lines.append("")
        for w in self.warnings:
            lines.append(f"> {w}")
        return "\n".join(lines).rstrip() + "\n"

    def summary(self) -> dict[str, Any]:
        """``activation.json``'s ``playbooks``."""
        return {
            "segments": [
                {"segment": s, "name": self.names.get(s, f"Segment {s}"),
                 "header": self.headers.get(s, ""),
                 "stages": [p.to_dict() for p in self.playbooks if p.segment == s]}
                for s in self.segments()
            ],
            "warnings": list(self.warnings),
        }  # fmt: skip


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _span(levels: Sequence[float]) -> str:
    fmt = [f"{v:g}" for v in levels]
    if len(fmt) > 2 and np.allclose(np.diff(levels), np.diff(levels)[0]):
        return f"{fmt[0]}-{fmt[-1]}"
    return _join(fmt)


def qualifying_questions(
    tool: Any, segment: int, settings: PlaybookSettings, averages: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """The golden questions in plain words with the answers pointing into and out of
    ``segment``: the tool's membership probability at each answer, the others at the
    average answer (the tool's means, else ``averages``, else the scale's midpoint).
    """
    if tool is None or segment not in tool.segments:
        return ("no typing tool: no qualifying questions (0 golden questions).",)
    k = list(tool.segments).index(segment)
    items = list(tool.items)
    base = np.array([
        float(tool.mean[j]) if tool.method != "tree" and len(tool.mean) == len(items)
        else float((averages or {}).get(i, (tool.answer_scale[i]["min"] + tool.answer_scale[i]["max"]) / 2))
        for j, i in enumerate(items)
    ])  # fmt: skip
    p_avg = float(tool.predict_proba(base)[0, k])
    out = []
    for j, item in enumerate(items):
        sc = tool.answer_scale[item]
        levels = sc.get("levels") or list(np.arange(sc["min"], sc["max"] + 1))
        X = np.tile(base, (len(levels), 1))
        X[:, j] = levels
        p = tool.predict_proba(X)[:, k]
        lo, hi = float(sc["min"]), float(sc["max"])
        question = settings.questions.get(
            item, f"On a scale of {lo:g} to {hi:g}, how important is {phrase(item)} to you?"
        )
        into = [float(v) for v, q in zip(levels, p, strict=True) if q > max(p_avg, 1e-12) * 1.25]
        away = [float(v) for v, q in zip(levels, p, strict=True) if q < p_avg * 0.8]
        if not into:
            out.append(settings.say("weak_question", question=question, p_low=float(p.min()),
                                    p_high=float(p.max()), p_average=p_avg))  # fmt: skip
            continue
        out.append(settings.say(
            "question", question=question, into=_span(into), away=_span(away) if away else "none",
            p_into=float(p.max()), p_away=float(p.min()), p_average=p_avg,
        ))  # fmt: skip
    return tuple(out)


def _needs_part(
    profile: Any, segment: int, settings: PlaybookSettings
) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """The segment's defining needs (strongest first) and its significantly lower ones."""
    rows = profile.rows(segment, "basis")
    rows = rows[rows["kind"] != "categorical"] if "kind" in rows else rows
    defining = list(profile.defining_needs.get(segment, ()))
    top = rows.set_index("variable").reindex(defining).dropna(subset=["index"])
    low = rows[rows["significant"].astype(bool) & (rows["effect_size"] < 0)]
    low = low.sort_values(["index", "variable"]).head(settings.max_avoid)
    n_sig = int(rows["significant"].astype(bool).sum())
    return top.head(settings.max_needs).reset_index(), low, len(rows), n_sig


def _proof_points(
    needs: Sequence[str], scores: pd.DataFrame | None, brand: str | None, s: PlaybookSettings
) -> tuple[str, ...]:
    if scores is None or brand is None or brand not in scores.index:
        return (s.say("no_ratings", brand=brand or "our brand"),)
    out = []
    for need in needs:
        if need not in scores.columns or pd.isna(scores.at[brand, need]):
            continue
        col = scores[need].drop(brand).dropna()
        if col.empty:
            continue
        ours, rival = float(scores.at[brand, need]), str(col.idxmax())
        key = "proof" if ours > float(col.max()) else "no_proof"
        out.append(s.say(key, need=phrase(need), brand=brand, rating=ours, competitor=rival,
                         competitor_rating=float(col.max())))  # fmt: skip
    return tuple(out) or (s.say("no_ratings", brand=brand),)


def _white_space_line(ws: Any, segment: int, s: PlaybookSettings) -> str | None:
    if ws is None or ws.table is None or ws.table.empty:
        return None
    for r in ws.table.itertuples(index=False):
        if segment in [int(x) for x in r.segments]:
            return s.say("white_space", need=phrase(str(r.need)), importance=float(r.importance),
                         competitor=str(r.best_competitor),
                         competitor_score=float(r.best_competitor_score), gap=float(r.gap))  # fmt: skip
    return None


def _channel_line(
    segment: int, stage: str, customers: int, prospect: bool,
    channel_mix: pd.DataFrame | None, prospect_channel: tuple[str, float] | None,
    s: PlaybookSettings,
) -> str:  # fmt: skip
    if prospect and prospect_channel is not None:
        return s.say(
            "channel_prospects", channel=id_label(prospect_channel[0]), index=prospect_channel[1]
        )
    if channel_mix is not None and len(channel_mix):
        m = channel_mix[(channel_mix["segment"] == segment) & (channel_mix["stage"] == stage)]
        if len(m):
            top = m.sort_values(["share", "channel"], ascending=[False, True]).iloc[0]
            return s.say("channel_customers", channel=id_label(top["channel"]),
                         share=float(top["share"]), customers=customers)  # fmt: skip
    return s.say("no_channel", customers=customers)


def build_playbooks(
    segments: Sequence[int],
    segment_stage: pd.DataFrame,
    *,
    profile: Any = None,
    segment_names: Mapping[int, str] | None = None,
    stage_order: Sequence[str] = (),
    white_space: Any = None,
    our_brand: str | None = None,
    typing_tool: Any = None,
    channel_mix: pd.DataFrame | None = None,
    prospect_channel: tuple[str, float] | None = None,
    shares: Mapping[int, float] | None = None,
    prospect_stages: Sequence[str] = PROSPECT_STAGES,
    settings: PlaybookSettings | None = None,
) -> Playbooks:
    """Playbooks for the priority ``segments`` × the stages they hold customers in.

    Parameters
    ----------
    segments : sequence of int
        Priority segments, in priority order.
    segment_stage : pandas.DataFrame
        ``segment``, ``stage``, ``customers`` and, with offers, ``offer`` and
        ``expected_value`` (the activation's segment × stage table).
    profile : segmentum.profiles.profile.Profile, optional
        Defining needs, indices and significance of every need.
    segment_names : mapping of int to str, optional
    stage_order : sequence of str
        Stage names in lifecycle order.
    white_space : segmentum.maps.white_space.WhiteSpace, optional
        White-space needs and every brand's mean rating by need.
    our_brand : str, optional
    typing_tool : segmentum.valuation.typing_tool.TypingTool, optional
    channel_mix : pandas.DataFrame, optional
        ``segment``, ``stage``, ``channel``, ``share``: customers' acquisition channels.
    prospect_channel : (str, float), optional
        The channel chosen for the targets and its affinity index.
    shares : mapping of int to float, optional
        Population share of each segment.
    prospect_stages : sequence of str
        Stage names (as renamed) that are prospects rather than customers.
    settings : PlaybookSettings, optional
    """
    s = settings or PlaybookSettings()
    names = {int(k): str(v) for k, v in (segment_names or {}).items()}
    scores = white_space.competitor_scores if white_space is not None else None
    books, headers, warnings = [], {}, []
    order = {st: i for i, st in enumerate(stage_order)}
    for seg in [int(x) for x in segments]:
        name = names.get(seg, f"Segment {seg}")
        cells = segment_stage[(segment_stage["segment"] == seg) & (segment_stage["customers"] > 0)]
        cells = cells.sort_values("stage", key=lambda c: c.map(lambda x: order.get(x, 99)))
        if s.stages:
            cells = cells[cells["stage"].isin(s.stages)]
        top, low, n_needs, n_sig = (
            _needs_part(profile, seg, s) if profile is not None else (pd.DataFrame(), pd.DataFrame(), 0, 0)
        )  # fmt: skip
        avoid = tuple(
            s.say("avoid", need=phrase(str(r["variable"])), index=float(r["index"]),
                  value=float(r["value"]), total=float(r["total"]))
            for _, r in low.iterrows()
        ) or (s.say("no_avoid", n_needs=n_needs),)  # fmt: skip
        proof = _proof_points(list(top["variable"]) if len(top) else [], scores, our_brand, s)
        if not len(top):
            proof = ("no defining need, so no proof point to make (0 defining needs).",)
        questions = qualifying_questions(typing_tool, seg, s)
        ws_line = _white_space_line(white_space, seg, s)
        share = (shares or {}).get(seg)
        headers[seg] = (
            f"{share:.0%} of the population; " if share is not None else ""
        ) + f"{int(cells['customers'].sum()):,} customers in {len(cells)} stage(s)."
        for c in cells.itertuples(index=False):
            stage, n = str(c.stage), int(c.customers)
            if len(top):
                needs = _join([f"{phrase(str(r['variable']))} (index {r['index']:.0f})"
                               for _, r in top.iterrows()])  # fmt: skip
                message = [s.say("message", intent=s.intent(stage), needs=needs, segment=seg,
                                 name=name)]  # fmt: skip
                if ws_line:
                    message.append(ws_line)
            else:
                message = [s.say("no_need", intent=s.intent(stage), segment=seg, name=name,
                                 n_needs=n_needs, n_significant=n_sig)]  # fmt: skip
            offer = getattr(c, "offer", None)
            ev = getattr(c, "expected_value", float("nan"))
            offer_line = (
                s.say("offer", offer=id_label(offer), expected_value=float(ev), customers=n)
                if offer is not None and pd.notna(offer) and pd.notna(ev)
                else s.say("no_offer", customers=n)
            )
            channel = _channel_line(seg, stage, n, stage in set(prospect_stages), channel_mix,
                                    prospect_channel, s)  # fmt: skip
            books.append(Playbook(seg, name, stage, tuple(message), proof, offer_line, channel,
                                  avoid, questions))  # fmt: skip
        if cells.empty:
            warnings.append(f"segment {seg} holds no customers in any stage: no playbook")
    return Playbooks(tuple(books), headers, {k: names.get(k, f"Segment {k}") for k in segments},
                     tuple(warnings))  # fmt: skip


def playbook_blocks(sec: Any, books: Playbooks) -> Any:
    """The playbooks part of the activation report section: per segment, what holds in every
    stage (proof points, avoid, qualifying questions) once, then a table with a row per
    stage (message, offer, channel)."""
    if not books.playbooks:
        for w in books.warnings:
            sec.warn(w)
        return sec
    sec.text(
        f"Playbooks for the {len(books.segments())} priority segment(s), one per lifecycle "
        "stage they hold customers in (playbooks.md in the run folder; the wording is "
        "[activation.playbooks]). Every statement cites the number it rests on."
    )
    for s in books.segments():
        mine = [p for p in books.playbooks if p.segment == s]
        first = mine[0]
        sec.text(
            f"Segment {s}, {books.names.get(s, '')}: {books.headers.get(s, '')} "
            f"Proof points: {' '.join(first.proof_points)} Avoid: {' '.join(first.avoid)} "
            f"Qualifying questions: {' '.join(first.questions)}"
        )
        rows = [{"stage": p.stage, "message": " ".join(p.message), "offer": p.offer,
                 "channel": p.channel} for p in mine]  # fmt: skip
        sec.table(
            pd.DataFrame(rows), f"Playbook, segment {s}: message, offer and channel by stage."
        )
    for w in books.warnings:
        sec.warn(w)
    return sec
