"""A data-collection plan: which customer-database fields identify the segments, and what
collecting each one is worth in accuracy.

Seed 004 asks for "a formal plan to collect actionable observed behaviors and preferences":
the survey's segments are only useful on the whole base when the database can tell them
apart. Starting from the projection's inputs (:func:`~segmentum.valuation.projection.
customer_features` of the respondents linked to customers) this module refits the same
multinomial logit on subsets of the *fields* (a customer column, one event type's count, the
shares of one transaction column's levels) with the same stratified folds, and measures:

* ``accuracy_alone``: held-out accuracy of the field by itself;
* ``gain_if_collected``: held-out accuracy of all fields minus that of all fields but this
  one (what the field adds on top of the others), with a paired interval: the per-person
  difference of hits between the two refits on the same folds, mean ± z·sd/√n;
* ``greedy_rank`` and ``cumulative_accuracy``: greedy forward selection, adding at each step
  the field that raises the held-out accuracy most (among the ``max_candidates`` best
  fields alone) — "collect these N fields to reach X %";
* per segment, the fields whose removal lowers that segment's held-out recall most;
* the golden questions asked on a web form: the typing tool's items added to the database
  fields (and alone, to compare with the typing tool's own held-out accuracy).

Accuracies carry Wilson intervals; all refits share one set of folds, so differences are
paired.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CollectionPlan",
    "collection_blocks",
    "collection_plan",
    "field_groups",
    "plan_for_run",
]

_MAX_LEVELS = 20


def field_groups(features: pd.DataFrame) -> dict[str, list[str]]:
    """The fields a customer database would collect, each the feature columns it makes.

    ``mix_<col>=<level>`` columns are one field ``mix_<col>`` (the shares of one transaction
    column); every other column (descriptors, acquisition channel, value measures,
    ``events_<type>`` counts) is its own field.
    """
    groups: dict[str, list[str]] = {}
    for c in features.columns:
        key = str(c).split("=", 1)[0] if str(c).startswith("mix_") else str(c)
        groups.setdefault(key, []).append(str(c))
    return groups


def _kind(name: str) -> str:
    if name.startswith("events_"):
        return "observed behaviour (events)"
    if name.startswith("mix_"):
        return "observed behaviour (purchase mix)"
    return "database field"


def _block(frame: pd.DataFrame) -> np.ndarray:
    """Numeric block of some feature columns: medians for gaps, one-hot for categories."""
    parts = []
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s):
            x = s.to_numpy(dtype=float)
            med = float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0
            parts.append(np.where(np.isnan(x), med, x)[:, None])
        else:
            levels = list(s.astype(object).value_counts().index[:_MAX_LEVELS])
            codes = pd.Index(levels).get_indexer(s.astype(object))
            parts.append((codes[:, None] == np.arange(len(levels))[None, :]).astype(float))
    out = np.hstack(parts) if parts else np.zeros((len(frame), 0))
    sd = out.std(axis=0)
    return (out - out.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)


def _wilson(hits: int, n: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    if n == 0:
        return (float("nan"), float("nan"))
    z = float(norm.ppf(0.5 + level / 2))
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def _paired(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean of ``a - b`` (per-person hits) and its normal interval."""
    from scipy.stats import norm

    d = a.astype(float) - b.astype(float)
    z = float(norm.ppf(0.5 + level / 2))
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    m = float(d.mean())
    return m, m - z * se, m + z * se


class _Refitter:
    """Held-out hits of the logit on any subset of fields, on fixed folds (cached)."""

    def __init__(self, blocks: Mapping[str, np.ndarray], y: np.ndarray, cv: int, seed: int):
        from sklearn.model_selection import StratifiedKFold

        self.blocks, self.y = blocks, y
        n_min = int(np.bincount(y).min())
        folds = max(2, min(cv, n_min))
        self.folds = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y))
        self.cache: dict[frozenset[str], np.ndarray] = {}
        top = np.bincount(y).argmax()
        self.majority = y == top

    def hits(self, names: Sequence[str]) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        key = frozenset(names)
        if key in self.cache:
            return self.cache[key]
        if not names:
            return self.majority
        from threadpoolctl import threadpool_limits

        X = np.hstack([self.blocks[n] for n in sorted(key)])
        pred = np.empty(len(self.y), dtype=np.int64)
        with threadpool_limits(1):  # small problems: BLAS threads only contend
            for tr, te in self.folds:
                clf = LogisticRegression(C=1.0, max_iter=300, tol=1e-3).fit(X[tr], self.y[tr])
                pred[te] = clf.predict(X[te])
        out = pred == self.y
        self.cache[key] = out
        return out


@dataclass(frozen=True)
class CollectionPlan:
    """What :func:`collection_plan` finds.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per field, greedy order first: ``field``, ``kind``, ``columns``,
        ``greedy_rank`` (NaN beyond the selection), ``cumulative_accuracy`` (held out, with
        the fields ranked up to it), ``cumulative_low``/``cumulative_high``,
        ``step_gain``, ``accuracy_alone``, ``alone_low``/``alone_high``,
        ``gain_if_collected`` (all fields minus all but this one), ``gain_low``/
        ``gain_high``, ``identifies_segments`` (segments whose recall drops most without it).
        A last row ``golden questions (web form)`` when given: accuracy with the database
        fields and the golden answers, its gain over the fields alone.
    by_segment : pandas.DataFrame
        ``segment``, ``field``, ``recall_drop`` (held-out recall of the segment with all
        fields minus without this one), the top three fields per segment.
    accuracy_all : float
        Held-out accuracy with every field.
    majority : float
        Accuracy of guessing the largest segment (the start of the greedy curve).
    golden : dict
        ``accuracy_alone`` (+ ``low``/``high``) of the golden questions by themselves,
        ``accuracy_with_fields`` and ``gain`` (+ interval); empty without them.
    n : int
        Linked respondents the refits use.
    level : float
    sentence : str
        "Collect these N fields to reach X % accuracy".
    """

    table: pd.DataFrame
    by_segment: pd.DataFrame
    accuracy_all: float
    majority: float
    golden: dict[str, Any] = field(default_factory=dict)
    n: int = 0
    level: float = 0.9
    sentence: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready (``activation.json``'s ``collection_plan``)."""

        def plain(v: Any) -> Any:
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {
            "sentence": self.sentence,
            "n": self.n,
            "level": self.level,
            "accuracy_all": self.accuracy_all,
            "majority": self.majority,
            "golden": {k: plain(v) for k, v in self.golden.items()},
            "fields": [{k: plain(v) for k, v in r.items()} for r in self.table.to_dict("records")],
            "by_segment": [
                {k: plain(v) for k, v in r.items()} for r in self.by_segment.to_dict("records")
            ],
        }


def _greedy(
    ref: _Refitter, names: list[str], max_fields: int, min_gain: float
) -> list[tuple[str, float]]:
    """Forward selection: (field, held-out accuracy with it and those before)."""
    chosen: list[str] = []
    path: list[tuple[str, float]] = []
    best = float(ref.hits([]).mean())
    while len(chosen) < min(max_fields, len(names)):
        rest = [n for n in names if n not in chosen]
        scores = {n: float(ref.hits([*chosen, n]).mean()) for n in rest}
        pick = max(rest, key=lambda n: (scores[n], -names.index(n)))
        if scores[pick] - best < min_gain and chosen:
            break
        chosen.append(pick)
        best = scores[pick]
        path.append((pick, best))
    return path


def _recall(hits: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    return np.array([hits[y == j].mean() if (y == j).any() else np.nan for j in range(k)])


def collection_plan(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    golden: pd.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
    cv: int = 5,
    max_fields: int = 6,
    max_candidates: int = 10,
    min_gain: float = 0.005,
    level: float = 0.9,
    random_state: int = 0,
) -> CollectionPlan:
    """Rank the database fields by how well they identify the segments.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`~segmentum.valuation.projection.customer_features`, indexed by customer id.
    labels : pandas.Series
        Survey segment of the linked customers, indexed by customer id.
    golden : pandas.DataFrame, optional
        The golden questions' answers of the same customers (indexed by customer id).
    kinds : mapping of str to str, optional
        What kind of field each is (shown in the table); default from the name (events,
        purchase mix, else database field).
    cv : int, default=5
    max_fields : int, default=6
        The greedy selection stops after this many fields, or earlier when the next field
        adds less than ``min_gain`` held-out accuracy.
    max_candidates : int, default=10
        The greedy selection chooses among the fields with the best accuracy alone (it
        refits once per candidate and step).
    level : float, default=0.9
        Level of the intervals.
    random_state : int, default=0

    Returns
    -------
    CollectionPlan

    Raises
    ------
    ValueError
        Labels of customers not in ``features``, or fewer than two segments.
    """
    labels = labels.dropna()
    unknown = labels.index.difference(features.index)
    if len(unknown):
        raise ValueError(
            f"collection plan: {len(unknown)} labelled customers are not in the features "
            f"(first {str(unknown[0])!r})"
        )
    train = features.loc[labels.index]
    segs, y = np.unique(labels.to_numpy().astype(np.int64), return_inverse=True)
    if segs.size < 2:
        raise ValueError("collection plan: the linked respondents hold fewer than two segments")
    groups = field_groups(train)
    blocks = {g: _block(train[cols]) for g, cols in groups.items()}
    names = list(groups)
    ref = _Refitter(blocks, y, cv, random_state)
    full = ref.hits(names)
    n, k = len(y), segs.size
    alone_acc = {g: float(ref.hits([g]).mean()) for g in names}
    pool = sorted(names, key=lambda g: (-alone_acc[g], names.index(g)))[:max_candidates]
    path = _greedy(ref, [g for g in names if g in pool], max_fields, min_gain)
    rank = {f: i + 1 for i, (f, _) in enumerate(path)}
    cum = dict(path)
    rows, drops = [], []
    rec_full = _recall(full, y, k)
    for g in names:
        alone = ref.hits([g])
        without = ref.hits([x for x in names if x != g]) if len(names) > 1 else ref.hits([])
        gain, lo, hi = _paired(full, without, level)
        drop = rec_full - _recall(without, y, k)
        drops += [{"segment": int(segs[j]), "field": g, "recall_drop": float(drop[j])}
                  for j in range(k)]  # fmt: skip
        top = [int(segs[j]) for j in np.argsort(-drop) if drop[j] > 0][:2]
        c = cum.get(g, float("nan"))
        c_lo, c_hi = _wilson(round(c * n), n, level) if g in cum else (np.nan, np.nan)
        a_lo, a_hi = _wilson(int(alone.sum()), n, level)
        rows.append({
            "field": g, "kind": (kinds or {}).get(g, _kind(g)), "columns": ", ".join(groups[g]),
            "greedy_rank": rank.get(g, np.nan), "cumulative_accuracy": c,
            "cumulative_low": c_lo, "cumulative_high": c_hi, "step_gain": np.nan,
            "accuracy_alone": float(alone.mean()), "alone_low": a_lo, "alone_high": a_hi,
            "gain_if_collected": gain, "gain_low": lo, "gain_high": hi,
            "identifies_segments": ", ".join(map(str, top)),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    table = _order(table, float(ref.hits([]).mean()))
    by_seg = (
        pd.DataFrame(drops)
        .sort_values(["segment", "recall_drop"], ascending=[True, False])
        .groupby("segment")
        .head(3)
        .reset_index(drop=True)
    )
    gold = _golden(ref, names, golden, labels.index, level) if golden is not None else {}
    if gold:
        table = pd.concat([table, pd.DataFrame([gold.pop("_row")])], ignore_index=True)
    acc_all = float(full.mean())
    return CollectionPlan(
        table=table, by_segment=by_seg, accuracy_all=acc_all,
        majority=float(ref.hits([]).mean()), golden=gold, n=n, level=level,
        sentence=_sentence(path, acc_all, len(names), float(ref.hits([]).mean()), gold,
                           _wilson(round(path[-1][1] * n), n, level) if path else None),
    )  # fmt: skip


def _order(table: pd.DataFrame, majority: float) -> pd.DataFrame:
    """Greedy order first (with each step's gain), the rest by accuracy alone."""
    t = table.sort_values(
        ["greedy_rank", "accuracy_alone", "field"],
        ascending=[True, False, True],
        na_position="last",
    ).reset_index(drop=True)
    ranked = t["greedy_rank"].notna()
    prev = np.concatenate([[majority], t.loc[ranked, "cumulative_accuracy"].to_numpy()[:-1]])
    t.loc[ranked, "step_gain"] = t.loc[ranked, "cumulative_accuracy"].to_numpy() - prev
    return t


def _golden(
    ref: _Refitter,
    names: list[str],
    golden: pd.DataFrame,
    index: pd.Index,
    level: float,
) -> dict[str, Any]:
    """The golden questions on a web form: alone, and on top of the database fields."""
    g = golden.reindex(index)
    if g.isna().all(axis=None) or g.shape[1] == 0:
        return {}
    ref.blocks = {**ref.blocks, "__golden__": _block(g)}
    alone = ref.hits(["__golden__"])
    both = ref.hits([*names, "__golden__"])
    full = ref.hits(names)
    n = len(alone)
    gain, lo, hi = _paired(both, full, level)
    a_lo, a_hi = _wilson(int(alone.sum()), n, level)
    b_lo, b_hi = _wilson(int(both.sum()), n, level)
    row = {
        "field": "golden questions (web form)", "kind": "survey answers (golden questions)",
        "columns": ", ".join(map(str, golden.columns)), "greedy_rank": np.nan,
        "cumulative_accuracy": float(both.mean()), "cumulative_low": b_lo,
        "cumulative_high": b_hi, "step_gain": np.nan, "accuracy_alone": float(alone.mean()),
        "alone_low": a_lo, "alone_high": a_hi, "gain_if_collected": gain, "gain_low": lo,
        "gain_high": hi, "identifies_segments": "",
    }  # fmt: skip
    return {
        "items": [str(c) for c in golden.columns],
        "accuracy_alone": float(alone.mean()), "low": a_lo, "high": a_hi,
        "accuracy_with_fields": float(both.mean()), "gain": gain, "gain_low": lo,
        "gain_high": hi, "_row": row,
    }  # fmt: skip


def _sentence(
    path: list[tuple[str, float]],
    acc_all: float,
    n_fields: int,
    majority: float,
    gold: dict,
    interval: tuple[float, float] | None,
) -> str:
    if not path:
        return "No database field identifies the segments better than guessing the largest."
    from segmentum.report.format import item_label

    fields = item_label([f for f, _ in path])
    text = (
        f"Collect these {len(path)} field(s) to reach {path[-1][1]:.0%} held-out accuracy "
        + (f"({interval[0]:.0%}-{interval[1]:.0%}) " if interval else "")
        + f"(largest segment guessed: {majority:.0%}; all {n_fields} fields: {acc_all:.0%}): "
        f"{fields}."
    )
    if gold:
        text += (
            f" Asking the {len(gold['items'])} golden question(s) on a web form as well "
            f"raises it to {gold['accuracy_with_fields']:.0%} (+{gold['gain']:.0%}); "
            f"alone they reach {gold['accuracy_alone']:.0%}."
        )
    return text


def _linked_features(
    ctx: Any, ids: set[str], cols: list[str], value: Any
) -> tuple[pd.DataFrame, set[str]]:
    """engine = "duckdb": the projection's features of the customers ``ids`` (text ids),
    from the clean tables filtered to them, and the value table's columns."""
    src = ctx.config.sources
    cs = src.customers

    def only(frame: pd.DataFrame, col: str) -> pd.DataFrame:
        return frame[frame[col].astype(str).isin(ids)].assign(**{col: lambda f: f[col].astype(str)})

    customers = only(ctx.data.frame("customers"), cs.id)
    cols = [c for c in dict.fromkeys(cols) if c in customers.columns]
    per = None
    if value is not None:
        per = only(value.per_customer, value.customer_id).rename(columns={value.customer_id: cs.id})
    ev = et = tx = None
    if src.events is not None:
        ev = only(ctx.data.frame("events"), src.events.customer_id)
        ev = ev.rename(columns={src.events.customer_id: cs.id})
        et = src.events.event_type
    mix: list[str] = []
    if src.transactions is not None:
        t = src.transactions
        mix = [c for c in (t.product, t.channel) if c]
        tx = only(ctx.data.frame("transactions"), t.customer_id).rename(
            columns={t.customer_id: cs.id}
        )
    from segmentum.valuation.projection import customer_features

    feats = customer_features(
        customers[[cs.id, *cols]], id_column=cs.id, per_customer=per, events=ev,
        event_type=et, transactions=tx, mix_columns=mix,
    )  # fmt: skip
    feats.index = feats.index.astype(str)
    return feats, set(per.columns) if per is not None else set()


def plan_for_run(ctx: Any, **kwargs: Any) -> CollectionPlan | None:
    """The collection plan of a project run: the projection's inputs, rebuilt as the
    valuation stage builds them, for the linked respondents only (None when the run has no
    projection).

    Parameters
    ----------
    ctx : segmentum.flow.StageContext
        A stage after valuation.
    **kwargs
        Passed to :func:`collection_plan`.
    """
    from segmentum.valuation.stage import ValuationStageResult
    from segmentum.value.stage import ValueResult

    vst = ctx.result(ValuationStageResult)
    src = ctx.config.sources
    cs = src.customers
    if vst.result.projection is None or cs is None:
        return None
    rows = vst.assignments
    linked = rows[(rows["segment_source"] == "survey") & rows["customer_id"].notna()]
    labels = pd.Series(linked["segment"].to_numpy(), index=linked["customer_id"].astype(str))
    labels = labels[~labels.index.duplicated()]
    ids = set(labels.index)
    cols = [c for c in [*cs.descriptors, cs.channel, cs.acquisition_cost] if c]
    value = ctx.optional(ValueResult)
    from segmentum.valuation.spark import stage_session

    session = stage_session(ctx)
    if session is not None:  # engine = "spark": the linked customers' rows only
        from segmentum.valuation.spark_valuation import linked_features_spark

        feats, per_columns = linked_features_spark(ctx, sorted(ids), cols, value, session)
    else:
        feats, per_columns = _linked_features(ctx, ids, cols, value)
    labels = labels[labels.index.isin(feats.index)]  # linked ids the customers table lacks
    golden = None
    typing, survey = vst.result.typing, src.survey
    if typing is not None and survey is not None and survey.customer_id:
        sv = ctx.data.frame("survey").dropna(subset=[survey.customer_id])
        sv = sv.assign(**{survey.customer_id: sv[survey.customer_id].astype(str)})
        golden = sv.drop_duplicates(survey.customer_id).set_index(survey.customer_id)
        golden = golden[list(typing.tool.items)]
    kinds = {str(c): "value measure (from transactions)" for c in feats.columns
             if c in per_columns}  # fmt: skip
    return collection_plan(
        feats, labels, golden=golden, kinds=kinds, random_state=ctx.seed, **kwargs
    )


def collection_blocks(sec: Any, plan: CollectionPlan) -> Any:
    """The data-collection plan's part of a report section."""
    sec.text(
        plan.sentence + f" Held-out accuracy on {plan.n:,} respondents linked to customers, "
        f"{plan.level:.0%} intervals (collection_plan.csv in the run folder)."
    )
    cols = ["field", "kind", "greedy_rank", "cumulative_accuracy", "accuracy_alone",
            "gain_if_collected", "gain_low", "gain_high", "identifies_segments"]  # fmt: skip
    sec.table(
        plan.table[cols].round(3),
        "Data-collection plan: each field's held-out accuracy alone and what it adds to all "
        "the others (refit without it, paired interval); greedy order first.",
    )
    if len(plan.by_segment):
        best = plan.by_segment[plan.by_segment["recall_drop"] > 0]
        sec.table(
            best.round(3),
            "Fields that identify each segment best: its held-out recall with all fields minus "
            "without the field (top three per segment).",
        )
    if plan.golden:
        g = plan.golden
        sec.text(
            f"Golden questions on a web form ({len(g['items'])}): alone {g['accuracy_alone']:.0%} "
            f"({g['low']:.0%}-{g['high']:.0%}); with the database fields "
            f"{g['accuracy_with_fields']:.0%}, +{g['gain']:.0%} ({g['gain_low']:.0%} to "
            f"{g['gain_high']:.0%}) over the fields alone."
        )
    return sec
