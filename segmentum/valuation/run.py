"""The valuation stage as one function: typing tool, projection, valuation, priorities.

:func:`run_valuation` is what the stage adapter calls (after maps): it takes the tables and
the segments stage's respondent segments and returns a :class:`ValuationResult` holding the
customer segments (``segment``, ``segment_probability``, ``segment_source``), the
``segments.json`` entries (top-level ``projection``; per segment ``valuation`` and
``priority``), the model files to write under ``model/`` (:meth:`ValuationResult.save`) and
the "Where to play" report section (:func:`report_section`). Each step does what the data
allow and says why it skipped the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.report.context import jsonable
from segmentum.report.format import human_label, item_labels
from segmentum.report.labels import STAGE_LABELS
from segmentum.report.section import Section
from segmentum.valuation.export import (
    questionnaire_html,
    questionnaire_markdown,
    save_typing_tool,
    write_typing_tool_xlsx,
)
from segmentum.valuation.priority import (
    Priorities,
    ValuationConfig,
    competitiveness,
    prioritise,
    priority_sentence,
)
from segmentum.valuation.projection import Projection, customer_features, fit_projection
from segmentum.valuation.typing_tool import TypingToolResult, build_typing_tool
from segmentum.valuation.value import segment_valuation

__all__ = [
    "SurveySide",
    "ValuationResult",
    "defining_needs_from_basis",
    "finish_valuation",
    "fit_linked",
    "report_section",
    "run_valuation",
    "survey_segments",
    "survey_side",
]


@dataclass(frozen=True)
class ValuationResult:
    """What the valuation stage hands to the run and the report.

    Attributes
    ----------
    customer_segments : pandas.DataFrame
        Indexed by customer id: ``segment`` (int), ``segment_probability``,
        ``segment_source`` (``"survey"`` for linked respondents, ``"projected"`` otherwise).
        Empty without customers. From :func:`~segmentum.valuation.spark_valuation.
        run_valuation_spark`, the linked customers only (every customer's segment stays in
        Spark).
    typing : TypingToolResult or None
    projection : Projection or None
    adjusted_sizes : pandas.DataFrame or None
        Misclassification-adjusted segment shares of the base, with interval.
    valuation : pandas.DataFrame or None
    priorities : Priorities or None
    sentence : str
        What to do, in words.
    segment_names : dict of int to str
    warnings : list of str
    """

    customer_segments: pd.DataFrame
    typing: TypingToolResult | None
    projection: Projection | None
    adjusted_sizes: pd.DataFrame | None
    valuation: pd.DataFrame | None
    priorities: Priorities | None
    sentence: str
    segment_names: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def segments_json(self) -> dict[str, Any]:
        """``segments.json`` additions: ``projection`` (top level), ``typing_tool`` and per
        segment ``valuation`` and ``priority`` (under ``segments``, keyed by number)."""
        out: dict[str, Any] = {"sentence": self.sentence, "warnings": list(self.warnings)}
        if self.projection is not None:
            proj = self.projection.summary()
            if self.adjusted_sizes is not None:
                proj["adjusted_sizes"] = {
                    str(int(s)): {k: jsonable(v) for k, v in row.items()}
                    for s, row in self.adjusted_sizes.iterrows()
                }
            out["projection"] = proj
        if self.typing is not None:
            out["typing_tool"] = self.typing.summary()
        segs: dict[str, Any] = {}
        if self.valuation is not None:
            for s, row in self.valuation.iterrows():
                segs.setdefault(str(int(s)), {})["valuation"] = {  # type: ignore[call-overload]
                    k: jsonable(v) for k, v in row.items()
                }
        if self.priorities is not None:
            for s, entry in self.priorities.priority().items():
                segs.setdefault(str(int(s)), {})["priority"] = entry
        out["segments"] = segs
        return out

    def assignment_rows(
        self,
        respondent_segments: pd.DataFrame,
        *,
        respondent_id: str,
        customer_id: str,
        survey_customer_id: str | None = None,
    ) -> pd.DataFrame:
        """Rows for ``assignments.parquet``: every respondent and every customer, once.

        Parameters
        ----------
        respondent_segments : pandas.DataFrame
            The segments stage's assignments: ``respondent_id``, ``segment``,
            ``segment_probability`` (and the survey's customer id column when linked).
        respondent_id, customer_id : str
            Id column names of the run's assignments.
        survey_customer_id : str, optional
            Customer id column in ``respondent_segments`` (links respondents to customers).

        Returns
        -------
        pandas.DataFrame
            ``respondent_id``, ``customer_id``, ``segment`` (int), ``segment_probability``,
            ``segment_source`` (``"survey"`` for respondents, ``"projected"`` for the other
            customers); a linked respondent is one row holding both ids.
        """
        resp = respondent_segments[[respondent_id, "segment", "segment_probability"]].copy()
        if survey_customer_id is not None and survey_customer_id in respondent_segments:
            resp[customer_id] = respondent_segments[survey_customer_id].to_numpy()
        else:
            resp[customer_id] = None
        resp["segment_source"] = "survey"
        cs = self.customer_segments
        known = set(resp[customer_id].dropna())
        rest = cs[(cs["segment_source"] == "projected") & ~cs.index.isin(list(known))]
        cust = pd.DataFrame(
            {
                respondent_id: None,
                customer_id: rest.index.to_numpy(),
                "segment": rest["segment"].to_numpy(dtype=np.int64),
                "segment_probability": rest["segment_probability"].to_numpy(dtype=float),
                "segment_source": "projected",
            }
        )
        out = pd.concat([resp, cust[resp.columns]], ignore_index=True)
        out["segment"] = out["segment"].astype(np.int64)
        return out

    def save(self, model_dir: Path) -> list[Path]:
        """Write ``typing_tool.json``, ``typing_tool.xlsx``, ``questionnaire.md`` and
        ``projection.json`` (those that exist) into ``model_dir``."""
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        written = []
        if self.typing is not None:
            written.append(save_typing_tool(self.typing.tool, model_dir / "typing_tool.json"))
            written.append(write_typing_tool_xlsx(self.typing.tool, model_dir / "typing_tool.xlsx"))
            q = model_dir / "questionnaire.md"
            q.write_text(questionnaire_markdown(self.typing.tool), encoding="utf-8")
            written.append(q)
        if self.projection is not None:
            p = model_dir / "projection.json"
            p.write_text(json.dumps(self.projection.model.to_dict(), indent=2) + "\n")
            written.append(p)
        return written


def defining_needs_from_basis(
    answers: pd.DataFrame, labels: pd.Series | np.ndarray, n: int = 5
) -> dict[int, list[str]]:
    """Each segment's ``n`` items with the largest standardised mean above the others'."""
    lab = np.asarray(labels)
    X = answers.astype(float)
    sd = X.std().replace(0, 1.0)
    out = {}
    for s in np.unique(lab):
        d = (X[lab == s].mean() - X[lab != s].mean()) / sd
        out[int(s)] = list(d.sort_values(ascending=False).index[:n])
    return out


def _typing_tool_step(
    sv: pd.DataFrame,
    seg: pd.Series,
    numeric: list[str],
    cfg: ValuationConfig,
    w: np.ndarray | None,
    names: dict[int, str],
    respondent_id: str,
    warnings: list[str],
) -> TypingToolResult | None:
    """Build the typing tool on the numeric basis items (None when it cannot be built)."""
    if not (numeric and seg.nunique() >= 2):
        return None
    try:
        typing = build_typing_tool(
            sv[numeric],
            seg.to_numpy(),
            target=cfg.target_accuracy,
            method=cfg.typing_method,  # type: ignore[arg-type]
            threshold=cfg.unclassifiable_below,
            sample_weight=w,
            segment_names=names,
            id_column=respondent_id,
            random_state=cfg.random_state,
        )
    except ValueError as exc:
        warnings.append(f"typing tool skipped: {exc}")
        return None
    if not typing.target_reached:
        warnings.append(
            f"typing tool: no set of up to {len(typing.curve)} questions reaches "
            f"{cfg.target_accuracy:.0%} held-out agreement (best {typing.accuracy:.0%})"
        )
    return typing


@dataclass(frozen=True)
class SurveySide:
    """The survey's half of the valuation: what runs on the driver on either engine.

    Attributes
    ----------
    segments : pandas.Series
        Segment (int) of each segmented respondent, indexed by respondent id.
    survey : pandas.DataFrame
        The survey's rows of those respondents, indexed by respondent id.
    names : dict of int to str
        Segment names.
    numeric : list of str
        The numeric basis items (the typing tool's).
    weights : numpy.ndarray or None
        The respondents' survey weights.
    typing : TypingToolResult or None
    population_shares : dict of int to float
        Weighted survey share of each segment.
    warnings : list of str
        What the survey side skipped, in words.
    """

    segments: pd.Series
    survey: pd.DataFrame
    names: dict[int, str]
    numeric: list[str]
    weights: np.ndarray | None
    typing: TypingToolResult | None
    population_shares: dict[int, float]
    warnings: list[str] = field(default_factory=list)

    def linked(
        self, survey_customer_id: str | None, customer_ids: Any, *, as_text: bool = False
    ) -> pd.Series:
        """Survey segment of the customers linked to respondents, indexed by customer id
        (the first respondent of a customer), for the ids among ``customer_ids`` (the ids
        as text with ``as_text``, as an engine holding text ids gives them)."""
        if survey_customer_id is None:
            return pd.Series(dtype=np.int64)
        link = self.survey[survey_customer_id].dropna()
        if as_text:
            link = link.astype(str)
        link = link[link.isin(customer_ids)]
        linked = pd.Series(self.segments.loc[link.index].to_numpy(), index=link.to_numpy())
        return linked[~linked.index.duplicated()]


def survey_side(
    survey: pd.DataFrame,
    respondent_segments: pd.Series,
    *,
    respondent_id: str,
    basis: list[str],
    weights: str | None = None,
    segment_names: dict[int, str] | None = None,
    config: ValuationConfig | None = None,
) -> SurveySide:
    """The typing tool and the population shares: the valuation's survey side (parameters
    as :func:`run_valuation`'s)."""
    cfg = config or ValuationConfig()
    warnings: list[str] = []
    seg = respondent_segments.dropna().astype(np.int64)
    sv = survey.set_index(respondent_id).loc[seg.index]
    names = {int(s): (segment_names or {}).get(int(s), f"Segment {int(s)}") for s in seg.unique()}
    w = sv[weights].to_numpy(dtype=float) if weights else None
    numeric = [c for c in basis if pd.api.types.is_numeric_dtype(sv[c])]
    if len(numeric) < len(basis):
        warnings.append(
            "typing tool: non-numeric basis items left out: "
            + ", ".join(item_labels([c for c in basis if c not in numeric]))
        )
    typing = _typing_tool_step(sv, seg, numeric, cfg, w, names, respondent_id, warnings)
    ww = np.ones(len(seg)) if w is None else w
    pop = pd.Series(ww, index=seg.index).groupby(seg.to_numpy()).sum()
    pop_shares = {int(s): float(v / pop.sum()) for s, v in pop.items()}
    return SurveySide(seg, sv, names, numeric, w, typing, pop_shares, warnings)


def fit_linked(
    features: pd.DataFrame, linked: pd.Series, cfg: ValuationConfig, warnings: list[str]
) -> Projection | None:
    """The projection fitted on the linked customers' features (None, with the reason in
    ``warnings``, when too few are linked or the fit fails)."""
    if not (len(linked) >= 20 and linked.nunique() >= 2):
        warnings.append(
            f"projection skipped: {len(linked)} respondents linked to customers (need 20)"
        )
        return None
    try:
        projection = fit_projection(features, linked, random_state=cfg.random_state)
    except ValueError as exc:
        warnings.append(f"projection skipped: {exc}")
        return None
    if not projection.informative:
        warnings.append(projection.verdict)
    return projection


def _project_customers(
    side: SurveySide,
    customers: pd.DataFrame,
    *,
    customer_id: str,
    respondent_id: str,
    survey_customer_id: str | None,
    customer_columns: list[str] | None,
    per_customer: pd.DataFrame | None,
    events: pd.DataFrame | None,
    event_type: str | None,
    transactions: pd.DataFrame | None,
    mix_columns: list[str] | None,
    cfg: ValuationConfig,
    warnings: list[str],
) -> tuple[Projection | None, Any, pd.DataFrame]:
    """Segment every customer: the survey's segment where linked, else the projection's.

    Returns the projection (None when skipped), its adjusted sizes and the customer segments.
    """
    adjusted = None
    cust_seg = pd.DataFrame(columns=["segment", "segment_probability", "segment_source"])
    feats = customer_features(
        customers[[customer_id, *(customer_columns or [])]]
        if customer_columns is not None
        else customers.drop(columns=[c for c in customers if c == respondent_id]),
        id_column=customer_id,
        per_customer=per_customer,
        events=events,
        event_type=event_type,
        transactions=transactions,
        mix_columns=mix_columns,
    )
    linked = side.linked(survey_customer_id, feats.index)
    projection = fit_linked(feats, linked, cfg, warnings)
    if projection is not None:
        proj = projection.model.project(feats)
        adjusted = projection.adjusted_shares(proj["segment"].to_numpy(), seed=cfg.random_state)
        proj["segment_source"] = "projected"
        proj.loc[linked.index, "segment"] = linked.to_numpy()
        proj.loc[linked.index, "segment_probability"] = 1.0
        proj.loc[linked.index, "segment_source"] = "survey"
        cust_seg = proj
    elif len(linked):
        cust_seg = survey_segments(linked)
    return projection, adjusted, cust_seg


def survey_segments(linked: pd.Series) -> pd.DataFrame:
    """The customer segments of the linked customers alone (``segment_source`` "survey")."""
    return pd.DataFrame({"segment": linked, "segment_probability": 1.0, "segment_source": "survey"})


def _competitiveness_step(
    ratings: pd.DataFrame | None,
    rating_columns: dict[str, str] | None,
    sv: pd.DataFrame,
    seg: pd.Series,
    numeric: list[str],
    defining_needs: dict[int, list[str]] | None,
    cfg: ValuationConfig,
    warnings: list[str],
) -> Any:
    """Our brand's competitiveness per segment on its defining needs (None without ratings)."""
    if ratings is None:
        return None
    if not cfg.our_brand:
        warnings.append("competitiveness skipped: set our_brand in [valuation]")
        return None
    rc = {"respondent_id": "respondent_id", "brand": "brand", "need": "need"}
    rc.update(rating_columns or {})
    needs = defining_needs or defining_needs_from_basis(
        sv[numeric], seg.to_numpy(), cfg.n_defining_needs
    )
    try:
        return competitiveness(
            ratings, seg, {int(k): list(v) for k, v in needs.items()},
            our_brand=cfg.our_brand, **rc,
        )  # fmt: skip
    except ValueError as exc:
        warnings.append(f"competitiveness skipped: {exc}")
        return None


def run_valuation(
    survey: pd.DataFrame,
    respondent_segments: pd.Series,
    *,
    respondent_id: str,
    basis: list[str],
    survey_customer_id: str | None = None,
    weights: str | None = None,
    segment_names: dict[int, str] | None = None,
    customers: pd.DataFrame | None = None,
    customer_id: str | None = None,
    customer_columns: list[str] | None = None,
    per_customer: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
    timestamp: str | None = None,
    amount: str | None = None,
    mix_columns: list[str] | None = None,
    events: pd.DataFrame | None = None,
    event_type: str | None = None,
    ratings: pd.DataFrame | None = None,
    rating_columns: dict[str, str] | None = None,
    defining_needs: dict[int, list[str]] | None = None,
    config: ValuationConfig | None = None,
) -> ValuationResult:
    """Run the valuation stage on what the earlier stages and the tables give.

    Parameters
    ----------
    survey : pandas.DataFrame
        The survey (basis items, ids, optional customer id and weight).
    respondent_segments : pandas.Series
        Segment of each respondent, indexed by respondent id (the segments stage's).
    respondent_id, basis, survey_customer_id, weights : column names of the survey
    segment_names : dict of int to str, optional
        Persona names (the profiles stage's).
    customers, customer_id, customer_columns : the customers table, its id column and the
        descriptor/channel columns to learn from (default: all but ids and dates)
    per_customer : pandas.DataFrame, optional
        The value stage's per-customer table.
    transactions, timestamp, amount, mix_columns : for growth and product/channel mix
    events, event_type : for event counts
    ratings, rating_columns : competitor ratings and their ``respondent_id``, ``brand``,
        ``need``, ``rating`` columns
    defining_needs : dict of int to list of str, optional
        Each segment's defining needs (the profiles stage's); default from the basis.
    config : ValuationConfig, optional
    """
    cfg = config or ValuationConfig()
    side = survey_side(
        survey, respondent_segments, respondent_id=respondent_id, basis=basis,
        weights=weights, segment_names=segment_names, config=cfg,
    )  # fmt: skip
    warnings = list(side.warnings)
    projection = None
    adjusted = None
    cust_seg = pd.DataFrame(columns=["segment", "segment_probability", "segment_source"])
    if customers is not None and customer_id is not None:
        projection, adjusted, cust_seg = _project_customers(
            side, customers, customer_id=customer_id, respondent_id=respondent_id,
            survey_customer_id=survey_customer_id, customer_columns=customer_columns,
            per_customer=per_customer, events=events, event_type=event_type,
            transactions=transactions, mix_columns=mix_columns, cfg=cfg, warnings=warnings,
        )  # fmt: skip
    valuation = None
    if per_customer is not None and customer_id is not None and len(cust_seg):
        valuation = segment_valuation(
            cust_seg["segment"],
            per_customer,
            id_column=customer_id,
            transactions=transactions,
            timestamp=timestamp,
            amount=amount,
            population_shares=side.population_shares,
        )
    return finish_valuation(
        side, customer_segments=cust_seg, projection=projection, adjusted_sizes=adjusted,
        valuation=valuation, ratings=ratings, rating_columns=rating_columns,
        defining_needs=defining_needs, config=cfg, warnings=warnings,
    )  # fmt: skip


def finish_valuation(
    side: SurveySide,
    *,
    customer_segments: pd.DataFrame,
    projection: Projection | None,
    adjusted_sizes: pd.DataFrame | None,
    valuation: pd.DataFrame | None,
    ratings: pd.DataFrame | None = None,
    rating_columns: dict[str, str] | None = None,
    defining_needs: dict[int, list[str]] | None = None,
    config: ValuationConfig | None = None,
    warnings: list[str] | None = None,
) -> ValuationResult:
    """Competitiveness, priorities and the sentence on top of the segment valuation (the
    driver's last step on either engine).

    ``valuation`` None (no per-customer value or no customer segments) values the segments
    by their population shares alone, and says so in the warnings.
    """
    cfg = config or ValuationConfig()
    warnings = list(side.warnings if warnings is None else warnings)
    if valuation is None:
        warnings.append("valuation: no per-customer value or no customer segments; sizes only")
        valuation = pd.DataFrame({"population_share": pd.Series(side.population_shares)})
        valuation = valuation.rename_axis("segment")
    comp = _competitiveness_step(
        ratings, rating_columns, side.survey, side.segments, side.numeric, defining_needs, cfg,
        warnings,
    )  # fmt: skip
    priorities = prioritise(valuation, cfg, comp)
    if priorities.dropped:
        warnings.append(
            "criteria without data were left out of the ranking: "
            + ", ".join(human_label(c, STAGE_LABELS["valuation"]) for c in priorities.dropped)
        )
    return ValuationResult(
        customer_segments=customer_segments,
        typing=side.typing,
        projection=projection,
        adjusted_sizes=adjusted_sizes,
        valuation=valuation,
        priorities=priorities,
        sentence=priority_sentence(priorities, side.names),
        segment_names=side.names,
        warnings=warnings,
    )


def report_section(result: ValuationResult) -> Section:
    """The report's "Where to play" section: priorities, valuation, projection, typing tool;
    it ends in the sentence a manager can act on."""
    from segmentum.valuation import plots

    sec = Section("valuation", "Where to play", summary=result.sentence)
    if result.priorities is not None:
        sec.figure(
            plots.evaluation_plot(result.priorities.table, result.segment_names),
            "Segment evaluation plot (Dolnicar, Grün & Leisch 2018, step 8): attractiveness "
            "× competitiveness; bubble area = population share, colour = CLV per head.",
        )
        cols = ["rank", "attractiveness", "competitiveness", "knocked_out", "p_first", "p_top2"]
        sec.table(
            result.priorities.table[cols].round(3),
            "Priorities; how often each segment ranks first and in the top two comes from "
            "Dirichlet resampling of the weights.",
        )
    if result.valuation is not None:
        sec.table(result.valuation.round(3), "Segment valuation.")
    if result.projection is not None:
        p = result.projection
        sec.text(p.verdict)
        sec.table(
            p.confusion,
            "Projection: cross-validated confusion matrix (linked respondents).",
            appendix=True,
        )
        if result.adjusted_sizes is not None:
            sec.table(
                result.adjusted_sizes.round(3),
                "Segment shares of the customer base, adjusted for misclassification (90 % "
                "bootstrap interval).",
            )
    if result.typing is not None:
        t = result.typing
        sec.figure(plots.typing_curve(t), "Typing tool: held-out agreement by number of questions.")
        sec.text(
            f"{t.n_questions} golden questions type {t.accuracy:.0%} of held-out respondents "
            f"into their full-survey segment (chance {t.chance:.0%}); "
            f"{t.unclassifiable_share:.0%} fall in the unclassifiable band."
        )
        sec.html(questionnaire_html(t.tool), "Printable questionnaire (golden questions).")
    for m in result.warnings:
        sec.warn(m)
    sec.text(result.sentence)
    return sec
