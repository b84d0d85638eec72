"""Which segments to target (Dolnicar, Grün & Leisch 2018, step 8: selecting the target
segments).

Knock-out criteria remove segments that cannot be targeted (too small, unprofitable);
weighted attractiveness criteria score the rest (each criterion rescaled to 0..1 across the
segments still in the running, lower-is-better criteria such as cost-to-serve reversed); competitiveness is the
project's own brand against the best competitor on each segment's defining needs, rated by
that segment's respondents. Segments are ranked on the weighted sum of both. Because
weights are judgement calls, the weights are resampled around the given ones (Dirichlet with
mean the given weights) and each segment's probability of ranking first and in the top two
is reported. The sentence a manager can act on is written by :func:`priority_sentence`,
outside the computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CRITERIA",
    "Priorities",
    "ValuationConfig",
    "competitiveness",
    "prioritise",
    "priority_sentence",
]

#: attractiveness criteria: valuation column and whether more is better
CRITERIA: dict[str, tuple[str, bool]] = {
    "size": ("population_share", True),
    "clv_per_head": ("clv_per_head", True),
    "clv_total": ("clv", True),
    "revenue": ("revenue", True),
    "growth": ("growth", True),
    "profit_per_head": ("profit_per_head", True),
    "profit_clv_per_head": ("profit_clv_per_head", True),
    "cost_to_serve_per_head": ("cost_to_serve_per_head", False),
    "value_index": ("value_index", True),
}


class ValuationConfig(BaseModel):
    """Settings of the valuation stage, the ``[valuation]`` table of the project file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "size": 0.20,
            "clv_per_head": 0.25,
            "growth": 0.15,
            "profit_per_head": 0.15,
            "cost_to_serve_per_head": 0.05,
            "competitiveness": 0.20,
        },
        description="Weights of the attractiveness criteria and of competitiveness (rescaled "
        "to sum to 1). Criteria: " + ", ".join([*CRITERIA, "competitiveness"]) + ".",
    )
    our_brand: str | None = Field(
        None, description="The project's own brand in the competitor ratings."
    )
    min_population_share: float = Field(
        0.05, ge=0, lt=1, description="Knock-out: segments smaller than this share."
    )
    min_customers: int = Field(0, ge=0, description="Knock-out: fewer customers in the base.")
    min_profit_per_head: float | None = Field(
        None, description="Knock-out: profit per customer under this (none by default)."
    )
    n_defining_needs: int = Field(
        5, ge=1, le=50, description="Defining needs per segment for competitiveness."
    )
    n_draws: int = Field(
        2000, ge=0, le=100_000, description="Dirichlet draws of the weights for robustness."
    )
    concentration: float = Field(
        50.0,
        gt=0,
        description="Dirichlet concentration: higher keeps draws closer to the given weights.",
    )
    target_accuracy: float = Field(
        0.85, gt=0, le=1, description="Typing tool: held-out agreement to reach."
    )
    typing_method: Literal["logit", "lda", "tree"] = Field(
        "logit",
        description="Typing tool: multinomial logit, LDA (fastest) or a shallow tree "
        "(phone screeners).",
    )
    unclassifiable_below: float = Field(
        0.5, ge=0, le=1, description="Typing tool: top probability under this is unclassifiable."
    )
    random_state: int = Field(0, description="Seed of the resampling and cross-validation.")

    @field_validator("weights")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        known = [*CRITERIA, "competitiveness"]
        bad = [k for k in v if k not in known]
        if bad:
            raise ValueError(f"unknown criteria {bad}; valid: {known}")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return v


def competitiveness(
    ratings: pd.DataFrame,
    segments: pd.Series,
    defining_needs: dict[int, list[str]],
    *,
    our_brand: str,
    respondent_id: str = "respondent_id",
    brand: str = "brand",
    need: str = "need",
    rating: str = "rating",
) -> pd.DataFrame:
    """Our brand against the best competitor on each segment's defining needs.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Long table: respondent, brand, need, rating.
    segments : pandas.Series
        Segment of each respondent, indexed by respondent id.
    defining_needs : dict of int to list of str
        Needs (as in ``ratings[need]``) that define each segment.
    our_brand : str

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``ours``, ``best_competitor``, ``best_competitor_rating`` and
        ``competitiveness`` (ours minus the best competitor, in rating points; positive means
        we lead).

    Raises
    ------
    ValueError
        ``our_brand`` not among the rated brands (the valid brands are listed).
    """
    brands = sorted(ratings[brand].dropna().astype(str).unique())
    if our_brand not in brands:
        raise ValueError(f"our_brand {our_brand!r} is not a rated brand; valid: {brands}")
    r = ratings[[respondent_id, brand, need, rating]].copy()
    r["segment"] = r[respondent_id].map(segments)
    r = r.dropna(subset=["segment"])
    rows = []
    for s, needs in defining_needs.items():
        sub = r[(r["segment"] == s) & r[need].isin(needs)]
        means = sub.groupby(brand)[rating].mean()
        ours = float(means.get(our_brand, np.nan))
        others = means.drop(our_brand, errors="ignore")
        best = str(others.idxmax()) if len(others) else None
        best_r = float(others.max()) if len(others) else np.nan
        rows.append(
            {
                "segment": int(s),
                "ours": ours,
                "best_competitor": best,
                "best_competitor_rating": best_r,
                "competitiveness": ours - best_r,
            }
        )
    return pd.DataFrame(rows).set_index("segment")


@dataclass(frozen=True)
class Priorities:
    """What :func:`prioritise` finds.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by segment: ``rank`` (1 = first; knocked-out segments after the others),
        ``score``, ``attractiveness`` (0..1), ``competitiveness`` (rating points, NaN without
        ratings), ``knocked_out``, ``knock_out_reason``, ``p_first``, ``p_top2``, and the
        valuation columns used (``population_share``, ``clv_per_head``, …).
    weights : dict of str to float
        The weights used (rescaled to sum to 1, criteria without data dropped).
    dropped : list of str
        Criteria given a weight but without data (no transactions for growth, no ratings).
    """

    table: pd.DataFrame
    weights: dict[str, float]
    dropped: list[str]

    def priority(self) -> dict[int, dict[str, Any]]:
        """Per segment, ``segments.json``'s ``priority`` entry."""
        out = {}
        for s, r in self.table.iterrows():
            comp = r["competitiveness"]
            out[int(s)] = {  # type: ignore[call-overload]
                "rank": int(r["rank"]),
                "attractiveness": float(r["attractiveness"]),
                "competitiveness": None if pd.isna(comp) else float(comp),
                "knocked_out": bool(r["knocked_out"]),
                "knock_out_reason": r["knock_out_reason"] or None,
                "p_first": float(r["p_first"]),
                "p_top2": float(r["p_top2"]),
                "score": float(r["score"]),
            }
        return out


def _unit(v: np.ndarray, higher_better: bool, among: np.ndarray | None) -> np.ndarray:
    """Rescale to 0..1 over the segments still in the running (knocked-out ones clipped)."""
    ref = v if among is None or np.isnan(v[among]).all() else v[among]
    lo, hi = np.nanmin(ref), np.nanmax(ref)
    u = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full(v.shape, 0.5)
    u = np.where(np.isnan(u), 0.0, u)
    return u if higher_better else 1.0 - u


def _knock_outs(valuation: pd.DataFrame, cfg: ValuationConfig) -> list[str]:
    """Per segment, why it is knocked out ("" when it is not)."""
    reasons = []
    share = valuation["population_share"].to_numpy(dtype=float)
    custs = valuation.get("customers", pd.Series(np.inf, index=valuation.index)).to_numpy()
    pph = valuation.get("profit_per_head", pd.Series(np.nan, index=valuation.index)).to_numpy()
    for i in range(len(valuation)):
        why = []
        if share[i] < cfg.min_population_share:
            why.append(f"{share[i]:.1%} of the population < {cfg.min_population_share:.0%}")
        if custs[i] < cfg.min_customers:
            why.append(f"{int(custs[i]):,} customers < {cfg.min_customers:,}")
        if (
            cfg.min_profit_per_head is not None
            and not np.isnan(pph[i])
            and pph[i] < cfg.min_profit_per_head
        ):
            why.append(f"profit per head {pph[i]:,.2f} < {cfg.min_profit_per_head:,.2f}")
        reasons.append("; ".join(why))
    return reasons


def _criteria(
    valuation: pd.DataFrame, cfg: ValuationConfig, comp: np.ndarray, ko: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """The weighted criteria with data: segments × criteria scaled 0..1 (on the segments
    not knocked out), their names, their weights rescaled to sum to 1, and the weighted
    criteria dropped for want of data."""
    n_segs = len(valuation)
    cols: list[np.ndarray] = []
    names: list[str] = []
    dropped: list[str] = []
    raw_w: list[float] = []
    for crit, w in cfg.weights.items():
        if w == 0:
            continue
        if crit == "competitiveness":
            v, better = comp, True
        else:
            col, better = CRITERIA[crit]
            v = (
                valuation[col].to_numpy(dtype=float)
                if col in valuation
                else np.full(n_segs, np.nan)
            )
        if np.isnan(v).all():
            dropped.append(crit)
            continue
        cols.append(_unit(v, better, ~ko if (~ko).any() else None))
        names.append(crit)
        raw_w.append(float(w))
    if not cols:
        raise ValueError(
            f"valuation: no weighted criterion has data (dropped {dropped}); give weights "
            f"to criteria the data support: {list(CRITERIA)}"
        )
    return np.column_stack(cols), names, np.asarray(raw_w) / sum(raw_w), dropped


def _ranks(sc: np.ndarray, ko: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Rank 1 = best score; knocked-out segments after all others; ties by segment."""
    key = np.where(ko, sc - 1e6, sc)
    order = np.lexsort((segs, -key))
    r = np.empty(segs.size, dtype=np.int64)
    r[order] = np.arange(1, segs.size + 1)
    return r


def _weight_robustness(
    U: np.ndarray, w: np.ndarray, ko: np.ndarray, cfg: ValuationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Share of Dirichlet draws of the weights in which each segment ranks first / top two."""
    n_segs = U.shape[0]
    p_first = np.zeros(n_segs)
    p_top2 = np.zeros(n_segs)
    if cfg.n_draws > 0 and (~ko).any():
        rng = np.random.default_rng(cfg.random_state)
        W = rng.dirichlet(np.maximum(w * cfg.concentration, 1e-3), size=cfg.n_draws)
        S = U @ W.T  # segments × draws
        S[ko] = -np.inf
        order = np.argsort(-S, axis=0, kind="stable")
        p_first = np.bincount(order[0], minlength=n_segs) / cfg.n_draws
        top2 = order[:2].ravel() if (~ko).sum() >= 2 else order[:1].ravel()
        p_top2 = np.bincount(top2, minlength=n_segs) / cfg.n_draws
        p_top2[ko] = 0.0
    return p_first, p_top2


def prioritise(
    valuation: pd.DataFrame,
    config: ValuationConfig | None = None,
    competition: pd.DataFrame | None = None,
) -> Priorities:
    """Knock out, score, rank, and test the ranking's robustness to the weights.

    Parameters
    ----------
    valuation : pandas.DataFrame
        :func:`~segmentum.valuation.value.segment_valuation`'s table, indexed by segment.
    config : ValuationConfig, optional
    competition : pandas.DataFrame, optional
        :func:`competitiveness`'s table (column ``competitiveness``), indexed by segment.

    Returns
    -------
    Priorities
    """
    cfg = config or ValuationConfig()
    segs = valuation.index.to_numpy()
    comp = np.full(segs.size, np.nan)
    if competition is not None and "competitiveness" in competition:
        comp = competition["competitiveness"].reindex(segs).to_numpy(dtype=float)
    reasons = _knock_outs(valuation, cfg)
    ko = np.array([bool(r) for r in reasons])
    U, names, w, dropped = _criteria(valuation, cfg, comp, ko)
    attr_mask = np.array([n != "competitiveness" for n in names])
    wa = w * attr_mask
    attractiveness = U @ wa / wa.sum() if wa.sum() > 0 else np.zeros(segs.size)
    score = U @ w
    rank = _ranks(score, ko, segs)
    p_first, p_top2 = _weight_robustness(U, w, ko, cfg)
    table = pd.DataFrame(
        {
            "rank": rank,
            "score": score,
            "attractiveness": attractiveness,
            "competitiveness": comp,
            "knocked_out": ko,
            "knock_out_reason": reasons,
            "p_first": p_first,
            "p_top2": p_top2,
        },
        index=pd.Index(segs, name="segment"),
    )
    for c in ("population_share", "customers", "clv_per_head", "profit_per_head", "value_share"):
        if c in valuation:
            table[c] = valuation[c].to_numpy()
    if "clv_per_head" not in table:
        table["clv_per_head"] = np.nan
    return Priorities(
        table=table.sort_values("rank"), weights=dict(zip(names, w.tolist(), strict=True)),
        dropped=dropped,
    )  # fmt: skip


def priority_sentence(priorities: Priorities, names: dict[int, str] | None = None) -> str:
    """The sentence a manager can act on, e.g. "Target 3 (Online self-servers) and 1 …"."""
    t = priorities.table
    live = t[~t["knocked_out"]]
    if live.empty:
        return "No segment passes the knock-out criteria; relax them or revisit the segments."
    top = live.head(2)

    def label(s: Any) -> str:
        n = (names or {}).get(int(s))
        return f"{int(s)} ({n})" if n else str(int(s))

    heads = " and ".join(label(s) for s in top.index)
    parts = [f"Target {heads}"]
    if "population_share" in top:
        parts.append(f"together {top['population_share'].sum():.0%} of the population")
    if "value_share" in top and top["value_share"].notna().all():
        parts.append(f"{top['value_share'].sum():.0%} of the customer value")
    text = parts[0] + (": " + " and ".join(parts[1:]) if len(parts) > 1 else "")
    first = top.index[0]
    p1 = float(top["p_first"].iloc[0])
    text += (
        f". Segment {int(first)} ranks first in {p1:.0%} of reweightings"
        if p1 >= 0.5
        else f". The lead is fragile: segment {int(first)} ranks first in only {p1:.0%} of "
        "reweightings, so agree on the weights before committing"
    )
    ko = t[t["knocked_out"]]
    if len(ko):
        text += "; set aside " + ", ".join(
            f"{label(s)} ({r})" for s, r in zip(ko.index, ko["knock_out_reason"], strict=True)
        )
    return text + "."
