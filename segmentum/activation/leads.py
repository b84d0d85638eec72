"""Lead scoring and filtering: which prospects are likely to be in a target segment.

Seed 001 asks to use segments "at the beginning of the sales cycle to filter out unlikely
sales leads". A lead has what the customer database also has before anyone buys: the
descriptors (demographics, firmographics) and the source it came from; some also answered
the golden questions. The valuation stage's projection cannot score them (it also uses value
features, RFM and CLV, that a prospect does not have), so :func:`fit_lead_scorer` fits a
*lead model* — the same multinomial logit (:func:`~segmentum.valuation.projection.
fit_projection`) on what leads can have, the linked customers' descriptors and acquisition
channel (renamed ``source``) — and saves it as plain JSON in the
:class:`~segmentum.valuation.projection.ProjectionModel` format (``model/lead_projection.json``;
run folders are untrusted input, never pickle).

Per lead (:meth:`LeadScorer.score`): the probability of each segment (the typing tool when
the lead answered every golden question, the lead model otherwise; ``method`` says which),
``target_probability`` (the sum over the target segments), ``expected_value`` (the segment
value per head expected under those probabilities × the conversion rate of the lead's
source, where the data give one), ``score`` (``target_probability`` in points, 0..100),
``keep`` (``target_probability ≥ threshold``) and ``reason`` in words ("likely segment 3
'Price-driven', 71 %; target").

Calibration is checked out of fold on the linked respondents (:attr:`LeadFit.calibration`:
mean predicted ``target_probability`` vs observed share in a target segment per decile), with
the ROC curve of the keep/drop decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.data.errors import DataError, Problem
from segmentum.valuation.projection import (
    Projection,
    ProjectionModel,
    customer_features,
    fit_projection,
)
from segmentum.valuation.typing_tool import TypingTool

__all__ = [
    "LEAD_COLUMNS",
    "LEAD_MODEL_FILE",
    "SOURCE",
    "LeadFit",
    "LeadScorer",
    "conversion_by_source",
    "fit_lead_scorer",
    "lead_features",
    "lead_summary",
    "load_lead_scorer",
    "target_segments",
]

#: columns :meth:`LeadScorer.score` writes after the lead id (the contract's six first)
LEAD_COLUMNS: tuple[str, ...] = (
    "segment",
    "target_probability",
    "expected_value",
    "score",
    "keep",
    "reason",
    "segment_name",
    "segment_probability",
    "method",
)
#: the lead model's name for the lead's source (the customers' acquisition channel)
SOURCE = "source"
#: where the lead model lives in a run folder
LEAD_MODEL_FILE = "model/lead_projection.json"
_LISTED = 5


def target_segments(
    priorities: pd.DataFrame | None,
    segments: Sequence[int],
    *,
    named: Sequence[int] | None = None,
    top_n: int = 2,
) -> tuple[int, ...]:
    """The segments the project acts on.

    Parameters
    ----------
    priorities : pandas.DataFrame or None
        The valuation's priority table (indexed by segment; ``rank``, ``knocked_out``).
    segments : sequence of int
        The run's segments.
    named : sequence of int, optional
        Segments the project names (``[activation] target_segments``); they win.
    top_n : int, default=2
        Otherwise the ``top_n`` best-ranked segments not knocked out.

    Raises
    ------
    ValueError
        A named segment that is not a segment of the run.
    """
    segs = [int(s) for s in segments]
    if named:
        unknown = [int(s) for s in named if int(s) not in segs]
        if unknown:
            raise ValueError(
                f"[activation] target_segments names {unknown}, not segments of the run "
                f"({', '.join(map(str, segs))})"
            )
        return tuple(int(s) for s in named)
    if priorities is None or "rank" not in priorities:
        return tuple(segs[:top_n])
    live = priorities[~priorities["knocked_out"]] if "knocked_out" in priorities else priorities
    live = live.sort_values("rank")
    if live.empty:
        live = priorities.sort_values("rank")
    return tuple(int(s) for s in live.index[:top_n])


def lead_features(
    frame: pd.DataFrame,
    *,
    id_column: str,
    descriptors: Sequence[str],
    source: str | None,
) -> pd.DataFrame:
    """What leads can have, one row per person indexed by id: the descriptors plus
    ``source`` (the column named by ``source``: a lead's source, or a customer's acquisition
    channel); numeric columns stay numeric, the others become categories."""
    cols = [c for c in descriptors if c != source]
    sub = frame[[id_column, *cols]].copy()
    if source is not None:
        sub[SOURCE] = frame[source].astype(str).where(frame[source].notna()).to_numpy()
    return customer_features(sub, id_column=id_column)


def conversion_by_source(
    leads: pd.DataFrame, *, source: str, converted: str, prior_strength: float = 20.0
) -> dict[str, float]:
    """Conversion rate of each source from past leads whose outcome is known.

    A source's rate is shrunk towards the overall rate (``(won + a · overall) / (n + a)``
    with ``a = prior_strength``) so that a source with three leads does not get 0 % or 100 %.
    Leads with no outcome (empty ``converted``) are left out.
    """
    y = pd.to_numeric(leads[converted], errors="coerce")
    known = y.notna()
    if not known.any():
        return {}
    y = y[known].clip(0, 1)
    overall = float(y.mean())
    g = y.groupby(leads.loc[known, source].astype(str))
    a = float(prior_strength)
    return {str(k): float((g.sum()[k] + a * overall) / (g.size()[k] + a)) for k in g.size().index}


@dataclass(frozen=True)
class LeadScorer:
    """Everything needed to score leads: the lead model and the project's decisions.

    Attributes
    ----------
    model : ProjectionModel
        The lead model (descriptors + ``source``).
    targets : tuple of int
        Target segments.
    segment_names : dict of int to str
    value_per_head : dict of int to float
        Segment value per head (CLV per head; 0 where unknown).
    conversion : dict of str to float
        Conversion rate by source (the rate of a source not listed: ``default_conversion``).
    default_conversion : float
        1.0 without conversion data ("expected value if won").
    threshold : float
        Leads with ``target_probability ≥ threshold`` are kept.
    id_column, source_column : str or None
        The leads table's id and source columns (defaults of :meth:`score`).
    typing_tool : TypingTool or None
        Scores leads that answered every golden question (not part of the JSON: it lives in
        ``model/typing_tool.json``).
    """

    model: ProjectionModel
    targets: tuple[int, ...]
    segment_names: dict[int, str]
    value_per_head: dict[int, float]
    conversion: dict[str, float] = field(default_factory=dict)
    default_conversion: float = 1.0
    threshold: float = 0.5
    id_column: str | None = None
    source_column: str | None = SOURCE
    typing_tool: TypingTool | None = field(default=None, repr=False)

    # -- data format ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``model/lead_projection.json``: the :class:`ProjectionModel` JSON plus a
        ``lead_scoring`` block (targets, names, value per head, conversion, threshold)."""
        out = self.model.to_dict()
        out["lead_scoring"] = {
            "targets": [int(s) for s in self.targets],
            "segment_names": {str(k): v for k, v in self.segment_names.items()},
            "value_per_head": {str(k): float(v) for k, v in self.value_per_head.items()},
            "conversion": {str(k): float(v) for k, v in self.conversion.items()},
            "default_conversion": float(self.default_conversion),
            "threshold": float(self.threshold),
            "id_column": self.id_column,
            "source_column": self.source_column,
            "how_to_score": (
                "probabilities as the projection (the lead's source in the column 'source'); "
                "target_probability = sum of the probabilities of 'targets'; expected_value "
                "= conversion[source] (else default_conversion) * sum_k p_k * "
                "value_per_head[k]; keep = target_probability >= threshold."
            ),
        }
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "lead_projection.json") -> LeadScorer:
        """Read the JSON form back, checking every field (untrusted input)."""
        model = ProjectionModel.from_dict(data, source)
        try:
            ls = dict(data["lead_scoring"])
            targets = tuple(int(s) for s in ls["targets"])
            names = {int(k): str(v) for k, v in dict(ls["segment_names"]).items()}
            vph = {int(k): float(v) for k, v in dict(ls["value_per_head"]).items()}
            conv = {str(k): float(v) for k, v in dict(ls["conversion"]).items()}
            default = float(ls["default_conversion"])
            threshold = float(ls["threshold"])
            idc = ls.get("id_column")
            srcc = ls.get("source_column")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: malformed 'lead_scoring' ({exc})") from exc
        if not set(targets) <= set(model.segments):
            raise ValueError(f"{source}: 'lead_scoring.targets' are not segments of the model")
        vals = [*vph.values(), *conv.values(), default, threshold]
        if not all(np.isfinite(vals)) or not all(0 <= v <= 1 for v in [*conv.values(), default]):
            raise ValueError(f"{source}: rates must be 0..1 and every number finite")
        return cls(
            model,
            targets,
            names,
            vph,
            conv,
            default,
            threshold,
            None if idc is None else str(idc),
            None if srcc is None else str(srcc),
        )

    def save(self, path: Path | str) -> Path:
        """Write :meth:`to_dict` as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    # -- scoring ----------------------------------------------------------------------------
    def probabilities(
        self, leads: pd.DataFrame, *, source_column: str | None = None, table: str = "leads"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Segment probabilities (rows × model segments) and the method of each row
        (``"typing_tool"`` or ``"lead_model"``).

        Raises
        ------
        DataError
            A column the model needs is missing, or a numeric field holds text, or a golden
            question answer is off its scale (named by table, row and column).
        """
        feats = self._features(leads, source_column, table)
        P = self.model.predict_proba(feats)
        method = np.full(len(leads), "lead_model", dtype=object)
        tool = self.typing_tool
        if tool is not None and all(c in leads.columns for c in tool.items):
            X, answered = _answers(tool, leads, table)
            if answered.any():
                pos = {s: j for j, s in enumerate(tool.segments)}
                cols = [pos.get(s, -1) for s in self.model.segments]
                Q = tool.predict_proba(X[answered])
                T = np.zeros((Q.shape[0], len(cols)))
                for j, c in enumerate(cols):
                    if c >= 0:
                        T[:, j] = Q[:, c]
                T /= np.maximum(T.sum(axis=1, keepdims=True), 1e-300)
                P[answered] = T
                method[answered] = "typing_tool"
        return P, method

    def _features(self, leads: pd.DataFrame, source_column: str | None, table: str) -> pd.DataFrame:
        src = source_column or self.source_column
        needed = [*self.model.numeric, *self.model.categorical]
        have = set(leads.columns)
        if SOURCE in needed and src is not None and src in have:
            have.add(SOURCE)
        missing = [c for c in needed if c not in have]
        if missing:
            shown = [src or SOURCE if c == SOURCE else c for c in missing]
            probs = [
                Problem(table, table, None, c, None, "a column the lead model needs", "missing")
                for c in shown
            ]
            raise DataError(
                f"{table}: missing column(s) {shown}. "
                + " ".join(p.describe() for p in probs[:_LISTED]),
                probs,
                hint="The lead model needs: "
                + ", ".join(src or SOURCE if c == SOURCE else c for c in needed)
                + ". Give every lead these fields (an empty cell is allowed: numeric ones are "
                "filled with the customers' median, unknown levels score 0).",
            )
        cols: dict[str, Any] = {}
        problems: list[Problem] = []
        for c in self.model.numeric:
            raw = leads[c].reset_index(drop=True)
            if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                cols[c] = raw.astype(float)
                continue
            vals = pd.to_numeric(raw, errors="coerce")
            bad = vals.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
            for i in np.flatnonzero(bad.to_numpy())[:_LISTED]:
                problems.append(
                    Problem(
                        table,
                        table,
                        int(i) + 1,
                        c,
                        str(raw.iloc[int(i)]),
                        "a number",
                        "not a number",
                    )
                )
            cols[c] = vals.astype(float)
        if problems:
            raise DataError(
                f"{table}: {len(problems)} bad value(s); nothing was scored. "
                + " ".join(p.describe() for p in problems),
                problems,
            )
        for c, (levels, _) in self.model.categorical.items():
            col = leads[src] if (c == SOURCE and src is not None and src in leads) else leads[c]
            col = col.reset_index(drop=True)
            if not pd.api.types.is_string_dtype(col) and col.dtype != object:
                col = col.astype(str).where(col.notna())
            # categories = the model's levels: the projection then reads the codes directly
            # (a level the model has not seen becomes missing first: it scores 0 either way,
            # and pandas is deprecating unseen values in a Categorical)
            known = col.where(col.isin(list(levels)))
            cols[c] = pd.Series(pd.Categorical(known, categories=list(levels)))
        return pd.DataFrame(cols)

    def score(
        self,
        leads: pd.DataFrame,
        *,
        id_column: str | None = None,
        source_column: str | None = None,
        table: str = "leads",
    ) -> pd.DataFrame:
        """Score and filter leads.

        Parameters
        ----------
        leads : pandas.DataFrame
            One row per lead: the id, the fields the lead model needs, optionally the answers
            to every golden question.
        id_column : str, optional
            Default the scorer's ``id_column``, else the first column.
        source_column : str, optional
            The lead's source column (default the scorer's ``source_column``).
        table : str, default="leads"
            Name used in errors (the file's path from the CLI).

        Returns
        -------
        pandas.DataFrame
            The id plus :data:`LEAD_COLUMNS` and ``p_<segment>`` per segment.

        Examples
        --------
        >>> m = ProjectionModel((1, 2), ("age",), np.array([40.0]),
        ...                     np.array([[0.1], [-0.1]]), np.array([-4.0, 4.0]), {})
        >>> s = LeadScorer(m, (1,), {1: "Young", 2: "Old"}, {1: 100.0, 2: 50.0})
        >>> s.score(pd.DataFrame({"id": ["a", "b"], "age": [20, 60]}))[["id", "keep"]]
          id   keep
        0  a  False
        1  b   True
        """
        idc = id_column or self.id_column
        if idc is None or idc not in leads.columns:
            if id_column is not None:
                raise DataError(
                    f"{table}: id column {id_column!r} not found", hint="Pass --id COLUMN."
                )
            idc = str(leads.columns[0])
        if len(leads) == 0:
            raise DataError(f"{table}: no leads to score (no data rows)")
        P, method = self.probabilities(leads, source_column=source_column, table=table)
        segs = np.asarray(self.model.segments, dtype=np.int64)
        tmask = np.isin(segs, np.asarray(self.targets, dtype=np.int64))
        tp = P[:, tmask].sum(axis=1)
        best = P.argmax(axis=1)
        top = P[np.arange(len(best)), best]
        v = np.array([self.value_per_head.get(int(s), 0.0) for s in segs])
        src = source_column or self.source_column
        conv = np.full(len(leads), self.default_conversion)
        if self.conversion and src is not None and src in leads:
            conv = (
                leads[src].astype(str).map(self.conversion).fillna(self.default_conversion)
            ).to_numpy(dtype=float)
        ev = (P @ v) * conv
        keep = tp >= self.threshold
        labels = [self.segment_names.get(int(s), f"Segment {int(s)}") for s in segs]
        names: Any = (
            pd.Categorical.from_codes(best, categories=labels)
            if len(set(labels)) == len(labels)
            else np.array(labels, dtype=object)[best]
        )
        out = pd.DataFrame(
            {
                idc: leads[idc].reset_index(drop=True),
                "segment": segs[best],
                "target_probability": tp,
                "expected_value": ev,
                "score": np.rint(100 * tp).astype(np.int64),
                "keep": keep,
                "reason": self._reasons(best, top, tp, tmask, method),
                "segment_name": names,
                "segment_probability": top,
                "method": pd.Categorical(method, categories=["lead_model", "typing_tool"]),
            }
        )
        for j, s in enumerate(segs):
            out[f"p_{int(s)}"] = P[:, j]
        return out

    def _reasons(
        self,
        best: np.ndarray,
        top: np.ndarray,
        tp: np.ndarray,
        tmask: np.ndarray,
        method: np.ndarray,
    ) -> Any:
        """The reason of every lead, built once per distinct (method, segment, %, target %)."""
        pct = np.rint(100 * top).astype(np.int64)
        tpct = np.rint(100 * tp).astype(np.int64)
        typed = (method == "typing_tool").astype(np.int64)
        key = ((typed * len(tmask) + best) * 101 + pct) * 101 + tpct
        uniq, inv = np.unique(key, return_inverse=True)
        texts = np.empty(len(uniq), dtype=object)
        segs = self.model.segments
        for u, k in enumerate(uniq.tolist()):
            k, tq = divmod(k, 101)
            k, p = divmod(k, 101)
            ty, b = divmod(k, len(tmask))
            texts[u] = self._reason(int(segs[b]), bool(tmask[b]), bool(ty), p, tq)
        if len(set(texts.tolist())) < len(texts):  # pragma: no cover - keys are distinct
            return texts[inv.ravel()]
        return pd.Categorical.from_codes(inv.ravel(), categories=texts.tolist())

    def _reason(self, seg: int, target: bool, typed: bool, pct: int, tpct: int) -> str:
        """A lead's reason in words, from its likely segment and the rounded percentages."""
        name = self.segment_names.get(seg, f"Segment {seg}")
        head = "golden questions: " if typed else ""
        verdict = (
            f"target; {tpct} % in a target segment"
            if target
            else f"not a target; {tpct} % in a target segment"
        )
        decision = "keep" if tpct / 100 >= self.threshold - 0.005 else "drop"
        return f"{head}likely segment {seg} '{name}', {pct} %; {verdict}; {decision}"

    def score_one(
        self,
        lead: Mapping[str, Any],
        *,
        id_column: str | None = None,
        source_column: str | None = None,
        table: str = "leads",
    ) -> dict[str, Any]:
        """Score one lead given as a mapping (the fast path: no DataFrame, about 0.1 ms).

        The same fields and values as a one-row :meth:`score`, as a dict of plain Python
        values; the same checks (a missing field, text in a numeric field, a golden
        question answer off its scale are a :class:`DataError` naming row 1 and the column).
        """
        idc = id_column or self.id_column
        if idc is None or idc not in lead:
            if id_column is not None:
                raise DataError(
                    f"{table}: id column {id_column!r} not found", hint="Pass --id COLUMN."
                )
            if not lead:
                raise DataError(f"{table}: no leads to score (no data rows)")
            idc = str(next(iter(lead)))
        src = source_column or self.source_column
        p, typed = self._proba_one(lead, src, table)
        segs = self.model.segments
        tmask = [int(s) in self.targets for s in segs]
        tp = float(sum(q for q, t in zip(p, tmask, strict=True) if t))
        b = int(p.argmax())
        top = float(p[b])
        conv = self.default_conversion
        if self.conversion and src is not None and src in lead:
            conv = self.conversion.get(str(lead[src]), self.default_conversion)
        ev = float(
            sum(q * self.value_per_head.get(int(s), 0.0) for q, s in zip(p, segs, strict=True))
        )
        seg = int(segs[b])
        pct, tpct = int(np.rint(100 * top)), int(np.rint(100 * tp))
        out: dict[str, Any] = {
            idc: lead[idc],
            "segment": seg,
            "target_probability": tp,
            "expected_value": ev * conv,
            "score": tpct,
            "keep": bool(tp >= self.threshold),
            "reason": self._reason(seg, tmask[b], typed, pct, tpct),
            "segment_name": self.segment_names.get(seg, f"Segment {seg}"),
            "segment_probability": top,
            "method": "typing_tool" if typed else "lead_model",
        }
        for j, s in enumerate(segs):
            out[f"p_{int(s)}"] = float(p[j])
        return out

    def _proba_one(
        self, lead: Mapping[str, Any], src: str | None, table: str
    ) -> tuple[np.ndarray, bool]:
        """One lead's segment probabilities (model segments) and whether the typing tool
        gave them."""
        model = self.model
        needed = [*model.numeric, *model.categorical]
        have = set(lead)
        if SOURCE in needed and src is not None and src in have:
            have.add(SOURCE)
        if any(c not in have for c in needed):
            self._features(pd.DataFrame([dict(lead)]), src, table)  # raises the named error
        x = np.empty(len(model.numeric))
        for j, c in enumerate(model.numeric):
            raw = lead[c]
            try:
                x[j] = np.nan if raw is None or str(raw).strip() == "" else float(raw)
            except (TypeError, ValueError):
                problem = Problem(table, table, 1, c, str(raw), "a number", "not a number")
                raise DataError(
                    f"{table}: 1 bad value(s); nothing was scored. " + problem.describe(),
                    [problem],
                ) from None
        s = model.intercepts + model.weights @ np.where(np.isnan(x), model.fill, x)
        for c, (levels, weights) in model.categorical.items():
            raw = lead[src] if (c == SOURCE and src is not None and src in lead) else lead[c]
            if raw is None or (isinstance(raw, float) and np.isnan(raw)):
                continue
            level = raw if isinstance(raw, str) else str(raw)
            if level in levels:
                s = s + weights[levels.index(level)]
        p = np.exp(s - s.max())
        p /= p.sum()
        tool = self.typing_tool
        if tool is None or not all(c in lead for c in tool.items):
            return p, False
        x = _answers_one(tool, lead, table)
        if np.isnan(x).any():
            return p, False
        q = tool.predict_proba(x)[0]
        pos = {s: j for j, s in enumerate(tool.segments)}
        t = np.array([q[pos[s]] if s in pos else 0.0 for s in model.segments])
        return t / max(t.sum(), 1e-300), True


def _answers(tool: TypingTool, leads: pd.DataFrame, table: str) -> tuple[np.ndarray, np.ndarray]:
    """Answers to the golden questions (rows × items) and which rows answered every one."""
    X = np.empty((len(leads), len(tool.items)))
    problems: list[Problem] = []
    for j, item in enumerate(tool.items):
        vals = pd.to_numeric(leads[item], errors="coerce").to_numpy(dtype=float)
        sc = tool.answer_scale[item]
        levels = sc.get("levels")
        ok = (
            np.isin(vals, np.asarray(levels, dtype=float))
            if levels is not None
            else (vals >= sc["min"]) & (vals <= sc["max"])
        )
        given = leads[item].notna().to_numpy()
        if not pd.api.types.is_numeric_dtype(leads[item]):
            # not in place: notna() of an all-None column can be a read-only array
            given = given & (leads[item].astype(str).str.strip() != "").to_numpy()
        for i in np.flatnonzero(given & ~ok)[:_LISTED]:
            problems.append(
                Problem(
                    table,
                    table,
                    int(i) + 1,
                    item,
                    str(leads[item].iloc[int(i)]),
                    "an answer on the golden question's scale or an empty cell",
                    "outside the answer scale",
                )
            )
        X[:, j] = vals
    if problems:
        raise DataError(
            f"{table}: {len(problems)} bad answer(s); nothing was scored. "
            + " ".join(p.describe() for p in problems[:_LISTED]),
            problems,
        )
    return X, ~np.isnan(X).any(axis=1)


def _answers_one(tool: TypingTool, lead: Mapping[str, Any], table: str) -> np.ndarray:
    """One lead's answers to the golden questions (NaN where not given), checked as
    :func:`_answers` checks a table."""
    x = np.empty(len(tool.items))
    problems: list[Problem] = []
    for j, item in enumerate(tool.items):
        raw = lead[item]
        try:
            v = float(raw)
        except (TypeError, ValueError):
            v = float("nan")
        given = raw is not None and not (isinstance(raw, str) and raw.strip() == "")
        given = given and not (isinstance(raw, float) and np.isnan(raw))
        sc = tool.answer_scale[item]
        levels = sc.get("levels")
        ok = (v in levels) if levels is not None else bool(sc["min"] <= v <= sc["max"])
        if given and not ok:
            problems.append(
                Problem(table, table, 1, item, str(raw),
                        "an answer on the golden question's scale or an empty cell",
                        "outside the answer scale")
            )  # fmt: skip
        x[j] = v
    if problems:
        raise DataError(
            f"{table}: {len(problems)} bad answer(s); nothing was scored. "
            + " ".join(p.describe() for p in problems[:_LISTED]),
            problems,
        )
    return x


@dataclass(frozen=True)
class LeadFit:
    """What :func:`fit_lead_scorer` finds.

    Attributes
    ----------
    scorer : LeadScorer
    projection : Projection
        The lead model's fit (cross-validated accuracy, confusion, verdict).
    calibration : pandas.DataFrame
        Out of fold on the linked respondents, per decile of ``target_probability``:
        ``decile``, ``mean_predicted``, ``observed`` (share in a target segment), ``n``.
    roc : pandas.DataFrame
        ``threshold``, ``kept_target`` (true-positive rate), ``kept_other`` (false-positive
        rate) of the keep rule over thresholds.
    auc : float
    kept_target, kept_other : float
        At the scorer's threshold: share of held-out target-segment respondents kept, and of
        the others.
    """

    scorer: LeadScorer
    projection: Projection
    calibration: pd.DataFrame
    roc: pd.DataFrame
    auc: float
    kept_target: float
    kept_other: float

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (``activation.json``'s ``lead_model``)."""
        return {
            "features": [*self.scorer.model.numeric, *self.scorer.model.categorical],
            "targets": [int(s) for s in self.scorer.targets],
            "threshold": float(self.scorer.threshold),
            "accuracy": float(self.projection.accuracy),
            "chance": float(self.projection.chance),
            "n_train": int(self.projection.n_train),
            "auc": float(self.auc),
            "kept_target": float(self.kept_target),
            "kept_other": float(self.kept_other),
            "calibration": self.calibration.to_dict(orient="records"),
            "max_calibration_gap": float(
                (self.calibration["mean_predicted"] - self.calibration["observed"]).abs().max()
            ),
        }


def _out_of_fold(
    features: pd.DataFrame, labels: pd.Series, folds: int, random_state: int
) -> np.ndarray:
    """Held-out segment probabilities of every labelled row (rows × sorted segments)."""
    from sklearn.model_selection import StratifiedKFold

    segs = np.unique(labels.to_numpy())
    y = labels.to_numpy()
    P = np.zeros((len(y), segs.size))
    skf = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for tr, te in skf.split(np.zeros(len(y)), y):
        fit = fit_projection(
            features.iloc[tr], labels.iloc[tr], cv=2, random_state=random_state
        ).model
        cols = [int(np.flatnonzero(segs == s)[0]) for s in fit.segments]
        P[np.ix_(te, cols)] = fit.predict_proba(features.iloc[te])
    return P


def _reliability(p: np.ndarray, hit: np.ndarray) -> pd.DataFrame:
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, 10)
    rows = [
        {
            "decile": d + 1,
            "mean_predicted": float(p[b].mean()),
            "observed": float(hit[b].mean()),
            "n": int(b.size),
        }
        for d, b in enumerate(bins)
        if b.size
    ]
    return pd.DataFrame(rows)


def _roc(p: np.ndarray, hit: np.ndarray) -> tuple[pd.DataFrame, float]:
    from sklearn.metrics import roc_auc_score, roc_curve

    if hit.all() or not hit.any():
        return pd.DataFrame(columns=["threshold", "kept_target", "kept_other"]), float("nan")
    fpr, tpr, thr = roc_curve(hit, p)
    roc = pd.DataFrame({"threshold": np.minimum(thr, 1.0), "kept_target": tpr, "kept_other": fpr})
    return roc, float(roc_auc_score(hit, p))


def fit_lead_scorer(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    targets: Sequence[int],
    segment_names: Mapping[int, str] | None = None,
    value_per_head: Mapping[int, float] | None = None,
    conversion: Mapping[str, float] | None = None,
    threshold: float = 0.5,
    id_column: str | None = None,
    source_column: str | None = SOURCE,
    typing_tool: TypingTool | None = None,
    folds: int = 5,
    random_state: int = 0,
) -> LeadFit:
    """Fit the lead model on the linked customers and check it out of fold.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`lead_features` of the customers (indexed by customer id).
    labels : pandas.Series
        Survey segment of the linked customers, indexed by customer id.
    targets : sequence of int
        Target segments (:func:`target_segments`).
    segment_names, value_per_head, conversion, threshold, id_column, source_column,
    typing_tool :
        As :class:`LeadScorer`.
    folds : int, default=5
        Folds of the out-of-fold calibration check.
    random_state : int, default=0

    Raises
    ------
    ValueError
        Too few linked customers, or fewer than two segments among them.
    """
    labels = labels.dropna().astype(np.int64)
    labels = labels[labels.index.isin(features.index)]
    feats = features.loc[labels.index]
    n_min = int(labels.value_counts().min()) if len(labels) else 0
    k = min(folds, n_min)
    if k < 2 or labels.nunique() < 2:
        raise ValueError(
            f"lead model: {len(labels)} linked customers in {labels.nunique()} segments "
            "(need at least 2 segments with 4+ linked customers each)"
        )
    projection = fit_projection(feats, labels, random_state=random_state)
    P = _out_of_fold(feats, labels, k, random_state)
    segs = np.unique(labels.to_numpy())
    tmask = np.isin(segs, np.asarray(list(targets), dtype=np.int64))
    p = P[:, tmask].sum(axis=1)
    hit = np.isin(labels.to_numpy(), np.asarray(list(targets), dtype=np.int64))
    roc, auc = _roc(p, hit)
    kept = p >= threshold
    scorer = LeadScorer(
        model=projection.model,
        targets=tuple(int(s) for s in targets),
        segment_names={int(s): str(n) for s, n in (segment_names or {}).items()},
        value_per_head={int(s): float(v) for s, v in (value_per_head or {}).items()},
        conversion={str(s): float(v) for s, v in (conversion or {}).items()},
        threshold=float(threshold),
        id_column=id_column,
        source_column=source_column,
        typing_tool=typing_tool,
    )
    return LeadFit(
        scorer=scorer,
        projection=projection,
        calibration=_reliability(p, hit),
        roc=roc,
        auc=auc,
        kept_target=float(kept[hit].mean()) if hit.any() else float("nan"),
        kept_other=float(kept[~hit].mean()) if (~hit).any() else float("nan"),
    )


def lead_summary(scored: pd.DataFrame) -> dict[str, Any]:
    """``activation.json``'s ``leads``: ``kept``, ``dropped``, ``value_kept`` (and the
    value dropped and the share of value kept)."""
    keep = scored["keep"].to_numpy(dtype=bool)
    ev = scored["expected_value"].to_numpy(dtype=float)
    total = float(ev.sum())
    return {
        "kept": int(keep.sum()),
        "dropped": int((~keep).sum()),
        "value_kept": float(ev[keep].sum()),
        "value_dropped": float(ev[~keep].sum()),
        "value_kept_share": float(ev[keep].sum() / total) if total > 0 else None,
        "by_method": {str(k): int(v) for k, v in scored["method"].value_counts().items()},
    }


def load_lead_scorer(source: Path | str, *, with_typing_tool: bool = True) -> LeadScorer:
    """Read the lead scorer of a run folder (``model/lead_projection.json``, with the run's
    typing tool when it has one), or the JSON file itself.

    Raises
    ------
    DataError
        No lead model in the folder, or an invalid file (named).
    """
    from segmentum.valuation.export import load_typing_tool

    path = Path(source)
    run = path if path.is_dir() else None
    if run is not None:
        path = run / LEAD_MODEL_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: no lead model",
            hint="Score leads with a run folder whose activation stage ran with customers "
            "linked to the survey (it writes model/lead_projection.json).",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        scorer = LeadScorer.from_dict(data, source=str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a valid lead model ({exc})") from exc
    tool_file = path.parent / "typing_tool.json"
    if with_typing_tool and tool_file.is_file():
        tool = load_typing_tool(tool_file)
        scorer = LeadScorer(**{**scorer.__dict__, "typing_tool": tool})
    return scorer
