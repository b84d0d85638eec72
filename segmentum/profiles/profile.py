"""Segment profiles: mean or share, index, test, correction and effect size per variable.

Every segment is compared with the rest of the sample on every variable: basis items
(needs), descriptors, behaviours and value measures. The output is tidy (one row per
segment x variable x level) so that the report, ``segments.json`` and the personas read the
same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from segmentum.stats import (
    align_labels,
    align_weights,
    bh_adjust,
    chi2_association,
    classify,
    effective_n,
    proportion_test,
    weighted_mean,
    welch_test,
)
from segmentum.stats.levels import LevelOrder, order_levels

Role = Literal["basis", "descriptor", "behaviour", "value"]

TABLE_COLUMNS = [
    "segment",
    "variable",
    "role",
    "kind",
    "level",
    "level_order",
    "value",
    "rest",
    "total",
    "index",
    "n",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_size",
    "significant",
]


@dataclass(frozen=True)
class Profile:
    """Profiles of a segmentation, as tidy tables.

    Attributes
    ----------
    table : pandas.DataFrame
        Long table, one row per segment x variable x level, columns ``segment``,
        ``variable``, ``role`` (basis, descriptor, behaviour, value), ``kind`` (numeric,
        binary, categorical), ``level`` (``"mean"`` for numeric variables, else the level
        whose share is reported), ``level_order`` (the level's 1-based position when the
        variable's levels are ordered, see ``levels``; else missing), ``value`` (segment mean or share), ``rest`` (the same
        outside the segment), ``total`` (whole sample), ``index`` (``100 * value / total``;
        100 = average; NaN when the total is not positive), ``n`` (rows with an answer in
        the segment), ``statistic`` (Welch t or z), ``p_value``, ``p_adjusted``
        (Benjamini-Hochberg across every test in the table), ``effect_size`` (Cohen's d for
        numeric, Cohen's h for shares; positive = higher in the segment), ``significant``
        (``p_adjusted < alpha``).
    sizes : pandas.DataFrame
        One row per segment: ``segment``, ``n``, ``share_sample``, ``weight``, ``share``
        (weighted population share) and, with a value table, ``customers``,
        ``customer_share`` and per value measure ``<m>_total``, ``<m>_share``, ``<m>_mean``.
    associations : pandas.DataFrame
        One row per variable: chi-square (categorical and binary, Cramér's V) or the largest
        segment effect (numeric) with BH-adjusted p-values across variables.
    defining_needs : dict of int to tuple of str
        Per segment the basis items that set it apart most (significant, effect size at
        least ``min_effect``, higher than the rest), strongest first.
    segment_descriptors : pandas.DataFrame
        Descriptor levels that over-index significantly per segment (index at least
        ``min_index``, or a numeric descriptor whose mean differs with at least
        ``min_effect``), strongest first within each segment.
    basis, descriptors, behaviours, value_measures : tuple of str
        The variables profiled in each role (skipped ones removed).
    kinds : dict of str to str
        Kind of each profiled variable.
    level_orders : dict of str to LevelOrder
        The categorical variables whose levels are ordered (declared, or inferred from the
        labels: numbers, ranges, frequency and agreement scales); ``levels`` gives their
        levels lowest first. Their rows in ``table`` come in this order. ``notes`` says,
        one per inferred order, e.g. ``"Like: ordered from its numbers (I hate it!-5 …
        I love it!+5)"``.
    alpha : float
        False discovery rate used for ``significant``.
    warnings : tuple of str
        What was skipped and why.
    """

    table: pd.DataFrame
    sizes: pd.DataFrame
    associations: pd.DataFrame
    defining_needs: dict[int, tuple[str, ...]]
    segment_descriptors: pd.DataFrame
    basis: tuple[str, ...]
    descriptors: tuple[str, ...]
    behaviours: tuple[str, ...]
    value_measures: tuple[str, ...]
    kinds: dict[str, str]
    alpha: float
    labels: pd.Series = field(repr=False)
    weights: pd.Series = field(repr=False)
    warnings: tuple[str, ...] = ()
    level_orders: dict[str, LevelOrder] = field(default_factory=dict)

    @property
    def levels(self) -> dict[str, tuple[str, ...]]:
        """Ordered categorical variables and their levels, lowest first."""
        return {c: o.levels for c, o in self.level_orders.items()}

    @property
    def notes(self) -> tuple[str, ...]:
        """One note per inferred order (``"Like: ordered from its numbers (…)"``), the column
        and its levels in the report's words (``income_band`` → "Income band", ``150k_plus``
        → "150k+")."""
        from segmentum.report.format import item_label, level_label

        return tuple(
            o.note(item_label(c), level_label) for c, o in self.level_orders.items() if o.inferred
        )

    @property
    def segments(self) -> tuple[int, ...]:
        """Segment labels, in order."""
        return tuple(int(s) for s in self.sizes["segment"])

    def rows(self, segment: int | None = None, role: Role | None = None) -> pd.DataFrame:
        """Rows of :attr:`table` for one segment and/or role."""
        t = self.table
        if segment is not None:
            t = t[t["segment"] == segment]
        if role is not None:
            t = t[t["role"] == role]
        return t

    def distinctive(self, segment: int, role: Role = "basis") -> pd.DataFrame:
        """Significant rows of one segment in both directions, largest ``|effect|`` first."""
        t = self.rows(segment, role)
        t = t[t["significant"]]
        return t.reindex(t["effect_size"].abs().sort_values(ascending=False).index)

    def index_matrix(self, role: Role = "basis") -> pd.DataFrame:
        """Index (100 = average) as a variable x segment matrix, for heat maps."""
        t = self.rows(role=role)
        key = np.where(t["kind"] != "categorical", t["variable"], t["variable"] + ": " + t["level"])
        t = t.assign(key=key)
        if t.empty:
            return pd.DataFrame()
        m = t.pivot_table(index="key", columns="segment", values="index", sort=False)
        return m


def profile(
    frame: pd.DataFrame,
    labels: pd.Series | np.ndarray | Sequence[int],
    *,
    basis: Sequence[str],
    descriptors: Sequence[str] = (),
    behaviours: Sequence[str] = (),
    value: pd.DataFrame | None = None,
    id_column: str | None = None,
    weights: str | pd.Series | np.ndarray | None = None,
    alpha: float = 0.05,
    n_defining: int = 5,
    min_effect: float = 0.2,
    min_index: float = 110.0,
    min_size: int = 10,
    max_levels: int = 20,
    levels: Mapping[str, Sequence[object]] | None = None,
    infer_levels: bool = True,
) -> Profile:
    """Profile every segment against the rest on needs, descriptors, behaviours and value.

    Parameters
    ----------
    frame : pandas.DataFrame
        The survey, one row per respondent.
    labels : pandas.Series or array-like of int
        Segment of each row (a Series aligned on ``frame.index`` or one label per row in
        order). Rows with a missing label are left out.
    basis : sequence of str
        Need items the segments were built on (numeric, Likert, binary or Yes/No).
    descriptors, behaviours : sequence of str, default=()
        Columns that describe the segments afterwards. Categorical columns with more than
        ``max_levels`` levels are skipped with a warning.
    value : pandas.DataFrame, optional
        Per-customer value measures (revenue, margin, CLV...). Indexed by customer id (or
        holding the ``id_column``) when ``id_column`` is given, else aligned on
        ``frame.index``.
    id_column : str, optional
        Column of ``frame`` with the customer id that links respondents to ``value``.
    weights : str or array-like, optional
        Survey weight column name or values. Weighted means/shares; tests use Kish's
        effective sample size.
    alpha : float, default=0.05
        False discovery rate for the Benjamini-Hochberg correction.
    n_defining : int, default=5
        How many defining needs to keep per segment.
    min_effect : float, default=0.2
        Smallest effect (Cohen's d or h) for a need to define a segment ("small" effect).
    min_index : float, default=110
        Smallest index for a descriptor level to count as over-indexing.
    min_size : int, default=10
        Segments (or their complement) with fewer answering rows are not tested.
    max_levels : int, default=20
        Most levels a categorical variable may have.
    levels : mapping of str to sequence, optional
        Declared level orders, lowest first, e.g. ``{"VisitFrequency": ["Never", ...]}``.
        Each must list every level found in its column (else ``ValueError``).
    infer_levels : bool, default=True
        Infer the order of the other categorical variables from their labels where every
        level can be placed (:func:`segmentum.stats.levels.infer_order`), with a note.

    Returns
    -------
    Profile

    Notes
    -----
    Numeric variables: weighted Welch t-test (segment vs rest) with effective sample
    sizes, Cohen's d. Binary variables and each level of a categorical variable: weighted
    pooled two-proportion z-test, Cohen's h. All p-values of the table are corrected
    together with Benjamini-Hochberg. Index = ``100 * segment value / total value``. An
    ordered categorical variable is also tested on its level ranks (Kruskal-Wallis across
    segments, epsilon-squared as effect size) in ``associations`` when rows are unweighted.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"need_price": [1, 2, 1, 6, 7, 6] * 5, "g": list("ababab") * 5})
    >>> p = profile(df, [1, 1, 1, 2, 2, 2] * 5, basis=["need_price"], descriptors=["g"])
    >>> p.defining_needs[2]
    ('need_price',)
    >>> round(float(p.rows(2, "basis")["index"].iloc[0]))
    165
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    missing = [c for c in (*basis, *descriptors, *behaviours) if c not in frame.columns]
    if missing:
        raise KeyError(f"columns not in the survey table: {missing}")
    if not basis:
        raise ValueError("basis must name at least one need item")
    warns: list[str] = []
    lab = align_labels(frame, labels)
    keep = lab.notna()
    if not keep.all():
        warns.append(f"{int((~keep).sum())} rows have no segment label and were left out")
    frame = frame.loc[keep]
    lab = lab.loc[keep].astype(int)
    w = align_weights(frame, weights)
    segs = sorted(int(s) for s in lab.unique())
    if len(segs) < 2:
        warns.append("only one segment: nothing to compare, tests skipped")

    data, value_cols, valued = _attach_value(frame, value, id_column, warns)
    roles: list[tuple[str, Role]] = (
        [(c, "basis") for c in basis]
        + [(c, "descriptor") for c in descriptors]
        + [(c, "behaviour") for c in behaviours]
        + [(c, "value") for c in value_cols]
    )
    g = lab.to_numpy()
    wv = w.to_numpy()
    small = _untestable_segments(g, segs, min_size, warns)

    orders = _Orders(levels or {}, infer_levels)
    records, assoc, kinds, used = _test_all(
        data, roles, g, wv, segs, small, max_levels, warns, orders
    )

    table = pd.DataFrame.from_records(
        records, columns=[c for c in TABLE_COLUMNS if c not in ("p_adjusted", "significant")]
    )
    table = _with_adjusted(table, alpha)[TABLE_COLUMNS].reset_index(drop=True)
    table["level_order"] = table["level_order"].astype("Int64")
    assoc_df = _with_adjusted(
        pd.DataFrame.from_records(
            assoc,
            columns=["variable", "role", "kind", "test", "statistic", "p_value", "effect_size"],
        ),
        alpha,
    )

    sizes = _sizes(g, wv, segs, data, value_cols, valued)
    defining = _defining(table, segs, n_defining, min_effect)
    seg_desc = _over_indexing(table, min_effect, min_index)
    return Profile(
        table=table,
        sizes=sizes,
        associations=assoc_df,
        defining_needs=defining,
        segment_descriptors=seg_desc,
        basis=tuple(used["basis"]),
        descriptors=tuple(used["descriptor"]),
        behaviours=tuple(used["behaviour"]),
        value_measures=tuple(used["value"]),
        kinds=kinds,
        alpha=alpha,
        labels=lab,
        weights=w,
        warnings=tuple(warns),
        level_orders=dict(orders.found),
    )


@dataclass
class _Orders:
    """Declared level orders, and the orders found while testing (declared or inferred)."""

    declared: Mapping[str, Sequence[object]]
    infer: bool
    found: dict[str, LevelOrder] = field(default_factory=dict)

    def order(self, col: str, levels: list[str]) -> list[str]:
        """``levels`` in their order (the data's when none is declared or inferred)."""
        got = order_levels(col, levels, self.declared.get(col), infer=self.infer)
        if got is None:
            return levels
        self.found[col] = got
        return list(got.levels)


def _test_all(
    data: pd.DataFrame,
    roles: list[tuple[str, Role]],
    g: np.ndarray,
    wv: np.ndarray,
    segs: list[int],
    small: list[int],
    max_levels: int,
    warns: list[str],
    orders: _Orders,
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, str], dict[Role, list[str]]]:
    """Classify and test every variable: the table rows, the association tests, each
    variable's kind and the variables used per role (skipped ones are said in ``warns``)."""
    records: list[dict[str, object]] = []
    assoc: list[dict[str, object]] = []
    kinds: dict[str, str] = {}
    used: dict[Role, list[str]] = {"basis": [], "descriptor": [], "behaviour": [], "value": []}
    for col, role in roles:
        cls = classify(data[col], max_levels)
        if cls is None:
            n_lv = data[col].nunique()
            warns.append(
                f"{role} {col!r} has {n_lv} categories (more than max_levels={max_levels}): skipped; "
                "group its levels first"
            )
            continue
        kind, coded, levels = cls
        if role == "value":
            kind, coded, levels = "numeric", data[col].astype(float), ["mean"]
        if kind == "categorical":
            levels = orders.order(col, levels)
        ok = coded.notna().to_numpy() & (wv > 0)
        if ok.sum() == 0:
            warns.append(f"{role} {col!r} has no answers: skipped")
            continue
        kinds[col] = kind
        used[role].append(col)
        rows, tests = _test_variable(
            col,
            role,
            kind,
            coded.to_numpy()[ok],
            levels,
            g[ok],
            wv[ok],
            segs,
            small,
            ordered=col in orders.found,
        )
        records += rows
        assoc += tests

    return records, assoc, kinds, used


def _link_value(frame: pd.DataFrame, value: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    if id_column is not None:
        if id_column not in frame.columns:
            raise KeyError(f"id_column {id_column!r} is not in the survey table")
        v = value.set_index(id_column) if id_column in value.columns else value
        if not v.index.is_unique:
            raise ValueError(f"the value table has duplicate ids in {id_column!r}")
        out = v.reindex(frame[id_column].to_numpy())
        out.index = frame.index
        return out
    if not value.index.equals(frame.index):
        if len(value) != len(frame):
            raise ValueError(
                "value table does not align with the survey: pass id_column to link customers"
            )
        return value.set_axis(frame.index)
    return value


def _sizes(
    g: np.ndarray,
    w: np.ndarray,
    segs: list[int],
    data: pd.DataFrame,
    value_cols: list[str],
    has_value: bool,
) -> pd.DataFrame:
    rows = []
    wt = float(w.sum())
    linked = np.zeros(len(g), dtype=bool)
    if has_value and value_cols:
        linked = data[value_cols].notna().any(axis=1).to_numpy()
    for s in segs:
        m = g == s
        row: dict[str, float | int] = {
            "segment": s,
            "n": int(m.sum()),
            "share_sample": float(m.mean()),
            "weight": float(w[m].sum()),
            "share": float(w[m].sum() / wt) if wt > 0 else float("nan"),
            "n_effective": effective_n(w[m]),
        }
        if has_value and value_cols:
            row["customers"] = int((m & linked).sum())
            row["customer_share"] = float((m & linked).sum() / max(linked.sum(), 1))
            for c in value_cols:
                x = data[c].to_numpy(dtype=float)
                ok = np.isfinite(x)
                tot = float(np.sum(w[ok] * x[ok]))
                seg_tot = float(np.sum(w[ok & m] * x[ok & m]))
                row[f"{c}_total"] = seg_tot
                row[f"{c}_share"] = seg_tot / tot if tot != 0 else float("nan")
                row[f"{c}_mean"] = (
                    weighted_mean(x[ok & m], w[ok & m]) if (ok & m).any() else float("nan")
                )
        rows.append(row)
    return pd.DataFrame(rows)


def _defining(
    table: pd.DataFrame, segs: list[int], n: int, min_effect: float
) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    b = table[
        (table["role"] == "basis") & table["significant"] & (table["effect_size"] >= min_effect)
    ]
    for s in segs:
        t = b[b["segment"] == s].sort_values(["effect_size", "variable"], ascending=[False, True])
        seen: list[str] = []
        for v in t["variable"]:
            if v not in seen:
                seen.append(str(v))
        out[s] = tuple(seen[:n])
    return out


def _over_indexing(table: pd.DataFrame, min_effect: float, min_index: float) -> pd.DataFrame:
    d = table[(table["role"] == "descriptor") & table["significant"]]
    num = (d["kind"] == "numeric") & (d["effect_size"].abs() >= min_effect)
    share = (d["kind"] != "numeric") & (d["effect_size"] > 0) & (d["index"] >= min_index)
    d = d[num | share].assign(strength=lambda x: x["effect_size"].abs())
    d = d.sort_values(["segment", "strength", "variable"], ascending=[True, False, True])
    cols = [
        "segment",
        "variable",
        "kind",
        "level",
        "value",
        "total",
        "index",
        "effect_size",
        "p_adjusted",
    ]
    return d[cols].reset_index(drop=True)


def profile_value_columns(sizes: pd.DataFrame) -> list[str]:
    """Names of value measures present in a :attr:`Profile.sizes` table."""
    return [c[: -len("_total")] for c in sizes.columns if c.endswith("_total")]


def segment_value(profile: Profile, segment: int) -> dict[str, float]:
    """Value behind one segment (share of customers and each value measure), for JSON."""
    row = profile.sizes.set_index("segment").loc[segment]
    out: dict[str, float] = {}
    if "customer_share" in row.index:
        out["customer_share"] = float(row["customer_share"])
    for m in profile_value_columns(profile.sizes):
        out[f"{m}_total"] = float(row[f"{m}_total"])
        out[f"{m}_share"] = float(row[f"{m}_share"])
        out[f"{m}_mean"] = float(row[f"{m}_mean"])
    return out


def _attach_value(
    frame: pd.DataFrame, value: pd.DataFrame | None, id_column: str | None, warns: list[str]
) -> tuple[pd.DataFrame, list[str], bool]:
    """The survey with the numeric value measures joined on; their column names; valued?"""
    data = frame.copy()
    value_cols: list[str] = []
    if value is None:
        return data, value_cols, False
    vt = _link_value(frame, value, id_column)
    for c in vt.columns:
        if pd.api.types.is_numeric_dtype(vt[c]):
            name = c if c not in data.columns else f"value_{c}"
            data[name] = vt[c].to_numpy()
            value_cols.append(name)
    if not value_cols:
        warns.append("the value table has no numeric column; segments are not valued")
    return data, value_cols, True


def _untestable_segments(
    g: np.ndarray, segs: list[int], min_size: int, warns: list[str]
) -> list[int]:
    """Segments too small (or with too small a rest) to test, each with a warning."""
    seg_n = {s: int((g == s).sum()) for s in segs}
    small = [s for s in segs if seg_n[s] < min_size or len(g) - seg_n[s] < min_size]
    for s in small:
        if len(segs) < 2:
            break
        if seg_n[s] < min_size:
            warns.append(
                f"segment {s} has {seg_n[s]} rows (fewer than min_size={min_size}): "
                "its differences are reported but not tested"
            )
        else:
            warns.append(
                f"the rest of the sample outside segment {s} has {len(g) - seg_n[s]} rows "
                f"(fewer than min_size={min_size}): segment {s} is not tested"
            )
    return small


def _association(
    col: str, role: str, kind: str, test: str, stat: float, p: float, es: float
) -> dict[str, object]:
    return {
        "variable": col,
        "role": role,
        "kind": kind,
        "test": test,
        "statistic": stat,
        "p_value": p,
        "effect_size": es,
    }


def _test_variable(
    col: str,
    role: str,
    kind: str,
    cv: np.ndarray,
    levels: list[str],
    gv: np.ndarray,
    ww: np.ndarray,
    segs: list[int],
    small: list[int],
    *,
    ordered: bool = False,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """One variable's rows (each segment × level against the rest) and its association tests.

    ``cv``, ``gv`` and ``ww`` are the coded answers, segments and weights of the rows that
    answered. Categorical and binary variables get a chi-square test against the segments
    (``ordered`` ones also a rank test); numeric ones the smallest Welch p-value over
    segments (Bonferroni).
    """
    assoc = []
    if kind == "categorical":
        chi2, p_chi, v = chi2_association(cv.astype(str), gv, ww)
        assoc.append(_association(col, role, kind, "chi2", chi2, p_chi, v))
        if ordered and (rank_test := _rank_test(col, role, cv, levels, gv, ww)) is not None:
            assoc.append(rank_test)
        series = [(lv, (cv == lv).astype(float)) for lv in levels]
    else:
        xs = cv.astype(float)
        if kind == "binary":
            chi2, p_chi, v = chi2_association(xs.astype(int).astype(str), gv, ww)
            assoc.append(_association(col, role, kind, "chi2", chi2, p_chi, v))
        series = [(levels[0], xs)]
    records: list[dict[str, object]] = []
    for lv, x in series:
        total = weighted_mean(x, ww)
        for s in segs:
            ing = gv == s
            n_s = int(ing.sum())
            res = welch_test(x, ww, ing) if kind == "numeric" else proportion_test(x, ww, ing)
            tested = s not in small and n_s > 0 and n_s < len(gv) and len(segs) > 1
            val = weighted_mean(x[ing], ww[ing]) if n_s else float("nan")
            records.append(
                {
                    "segment": s,
                    "variable": col,
                    "role": role,
                    "kind": kind,
                    "level": str(lv),
                    "level_order": levels.index(lv) + 1 if ordered else pd.NA,
                    "value": val,
                    "rest": res.rest,
                    "total": total,
                    "index": 100.0 * val / total if total > 0 else float("nan"),
                    "n": n_s,
                    "statistic": res.statistic if tested else float("nan"),
                    "p_value": res.p_value if tested else float("nan"),
                    "effect_size": res.effect_size,
                }
            )
    if kind == "numeric" and len(segs) > 1:
        ps = [float(r["p_value"]) for r in records if np.isfinite(float(r["p_value"]))]  # type: ignore[arg-type]
        es = [abs(float(r["effect_size"])) for r in records if np.isfinite(float(r["effect_size"]))]  # type: ignore[arg-type]
        assoc.append(
            _association(
                col,
                role,
                kind,
                "min welch (Bonferroni)",
                float("nan"),
                min(1.0, min(ps) * len(ps)) if ps else float("nan"),
                max(es) if es else float("nan"),
            )
        )
    return records, assoc


def _rank_test(
    col: str, role: str, cv: np.ndarray, levels: list[str], gv: np.ndarray, ww: np.ndarray
) -> dict[str, object] | None:
    """Kruskal-Wallis on the level ranks of an ordered variable (unweighted rows only):
    does the segments' position on the scale differ? Effect size epsilon-squared."""
    from scipy import stats as sps

    if len(ww) < 3 or not np.allclose(ww, ww[0]):
        return None  # a weighted rank test is not offered; the chi-square stands
    codes = pd.Index(levels).get_indexer(cv)
    groups = [codes[gv == s] for s in np.unique(gv)]
    if len(groups) < 2:
        return None
    try:
        h, p = sps.kruskal(*groups)
    except ValueError:  # every answer on one level
        return None
    eps2 = float(h) / (len(codes) - 1)
    return _association(col, role, "categorical", "kruskal-wallis (ordered)", h, p, eps2)


def _with_adjusted(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Benjamini-Hochberg adjusted p-values of the whole table, and which are significant."""
    frame["p_adjusted"] = bh_adjust(frame["p_value"].to_numpy(dtype=float))
    frame["significant"] = (frame["p_adjusted"] < alpha).fillna(False).astype(bool)
    return frame
