"""The ``segments`` stage: from a survey table to assignments, evidence and a report section."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.flow import Stage, StageContext
from segmentum.report.section import Section
from segmentum.segments.basis import BasisTransformer, PreparedBasis, prepare_basis
from segmentum.segments.config import SegmentsConfig
from segmentum.segments.estimator import SEGMENT_STABILITY_FLAG, NeedsSegmenter
from segmentum.segments.labels import LabelMatch, match_labels
from segmentum.segments.structure import (
    JACCARD_DOUBTFUL,
    NATURAL_ARI,
    NULL_MARGIN,
    STABLE_ARI,
    recommendation_text,
    verdict_text,
)

_RAW_METHODS = ("lca", "kprototypes")  # fitted on the raw typed items, not the matrix


class SegmentsModel:
    """Everything needed to score new rows: basis preparation, segmenter, label mapping.

    Saved under ``model/`` as data (:mod:`segmentum.segments.persist`, never pickle).
    ``predict(frame)`` returns segment numbers as in
    the run's assignments (after matching to a previous run).
    """

    def __init__(
        self,
        basis: list[str],
        transformer: BasisTransformer,
        segmenter: NeedsSegmenter,
        relabel: dict[int, int],
    ) -> None:
        self.basis = list(basis)
        self.transformer = transformer
        self.segmenter = segmenter
        self.relabel = dict(relabel)

    def _input(self, frame: pd.DataFrame) -> Any:
        sub = frame[self.basis]
        if self.segmenter.method in _RAW_METHODS:
            return sub
        names = getattr(self.segmenter, "feature_names_in_", None)
        mat = self.transformer.transform(sub)
        return pd.DataFrame(mat, columns=list(names)) if names is not None else mat

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Segment number of each row."""
        raw = self.segmenter.predict(self._input(frame))
        lut = np.zeros(max(self.relabel) + 1, dtype=np.int64)
        for a, b in self.relabel.items():
            lut[a] = b
        return lut[raw]

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Membership probabilities, one column per segment number."""
        p = self.segmenter.predict_proba(self._input(frame))
        cols = [self.relabel[j + 1] for j in range(p.shape[1])]
        return pd.DataFrame(p, columns=cols, index=frame.index)[sorted(cols)]


@dataclass(frozen=True)
class SegmentsResult:
    """What the segments stage hands to the run and the report.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per respondent: the id column, ``segment`` (int), ``segment_probability``.
    model : SegmentsModel
        Fitted basis preparation and segmenter, picklable, for scoring new rows.
    selection : pandas.DataFrame
        Evidence per k (see ``NeedsSegmenter.selection_``).
    segment_stability : pandas.DataFrame
        Per segment of the chosen solution: share, Jaccard stability, flag.
    centroids : pandas.DataFrame
        Segment × basis item means in original item units (shares for binary items,
        ``item=level`` shares for categorical items).
    recommendation : str
        One sentence explaining the number of segments (reason, runner-up, what k + 1 does).
    warnings : list of str
        Basis warnings and segment warnings (too small, unstable), for the report.
    summary : dict
        JSON-serialisable: k, method, stability, sizes, match quality, recommendation.
    stability_samples : dict
        k → bootstrap adjusted Rand indices (for box plots).
    match : LabelMatch or None
        How segments were matched to the previous run.
    structure : {"natural", "reproducible", "constructive"}
        The structure verdict for the delivered segments.
    verdict : str
        The verdict in words a marketer reads.
    evidence : dict
        JSON-serialisable evidence of the verdict (also ``summary["evidence"]``).
    null_samples : dict
        k → bootstrap ARIs on the null data (items permuted independently).
    """

    assignments: pd.DataFrame
    model: SegmentsModel
    selection: pd.DataFrame
    segment_stability: pd.DataFrame
    centroids: pd.DataFrame
    recommendation: str
    warnings: list[str]
    summary: dict[str, Any]
    stability_samples: dict[int, np.ndarray] = field(default_factory=dict)
    match: LabelMatch | None = None
    structure: str = "constructive"
    verdict: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    null_samples: dict[int, np.ndarray] = field(default_factory=dict)


def _json_float(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _item_centroids(
    transformer: BasisTransformer, frame: pd.DataFrame, labels: np.ndarray, w: np.ndarray | None
) -> pd.DataFrame:
    raw = transformer._raw_matrix(frame)
    names = transformer._output_names()
    segs = np.unique(labels)
    ww = np.ones(len(frame)) if w is None else w
    rows = []
    for s in segs:
        m = labels == s
        x = raw[m]
        wi = np.broadcast_to(ww[m][:, None], x.shape)
        ok = ~np.isnan(x)
        num = np.where(ok, x * wi, 0.0).sum(axis=0)
        den = np.where(ok, wi, 0.0).sum(axis=0)
        rows.append(num / np.maximum(den, 1e-12))
    out = pd.DataFrame(np.vstack(rows), columns=names, index=pd.Index(segs, name="segment"))
    return out


def _match_previous(
    previous: dict[str, Any],
    survey: pd.DataFrame,
    id_column: str,
    labels: np.ndarray,
    centroids: pd.DataFrame,
) -> LabelMatch | None:
    """Match to a previous run: by memberships when the ids overlap, else by centroids."""
    prev_assign = previous.get("assignments")
    if prev_assign is not None:
        prev = pd.DataFrame(prev_assign)
        merged = pd.DataFrame({id_column: survey[id_column].to_numpy(), "new": labels}).merge(
            prev[[id_column, "segment"]], on=id_column, how="inner"
        )
        if len(merged) >= max(10, 0.2 * len(labels)):
            new_ids = sorted(np.unique(labels).tolist())
            old_ids = sorted(prev["segment"].unique().tolist())
            new_m = (merged["new"].to_numpy()[:, None] == np.asarray(new_ids)[None, :]).astype(
                float
            )
            old_m = (merged["segment"].to_numpy()[:, None] == np.asarray(old_ids)[None, :]).astype(
                float
            )
            return match_labels(new_m, old_m, new_ids=new_ids, old_ids=old_ids, kind="memberships")
    prev_cent = previous.get("centroids")
    if prev_cent is None:
        return None
    old = pd.DataFrame(prev_cent)
    if "segment" in old.columns:
        old = old.set_index("segment")
    old.index = [int(i) for i in old.index]
    common = [c for c in centroids.columns if c in old.columns]
    if not common:
        raise ValueError("previous centroids share no basis item with this run; cannot match")
    return match_labels(
        centroids[common].to_numpy(),
        old[common].to_numpy(dtype=float),
        new_ids=[int(i) for i in centroids.index],
        old_ids=list(old.index),
        kind="centroids",
    )


def _check_survey(
    survey: pd.DataFrame, id_column: str, basis: list[str], weights: str | None
) -> None:
    """Reject a missing or duplicated id, absent basis columns and an absent weights column."""
    if id_column not in survey.columns:
        raise ValueError(f"survey: id column {id_column!r} not found")
    if survey[id_column].duplicated().any():
        dup = survey.loc[survey[id_column].duplicated(), id_column].iloc[0]
        raise ValueError(f"survey: id column {id_column!r} has duplicated id {dup!r}")
    missing = [c for c in basis if c not in survey.columns]
    if missing:
        raise ValueError(f"survey: basis columns not found: {missing}")
    if weights is not None and weights not in survey.columns:
        raise ValueError(f"survey: weights column {weights!r} not found")


def _segmenter(cfg: SegmentsConfig) -> NeedsSegmenter:
    """The estimator the settings ask for (the basis is already standardised)."""
    return NeedsSegmenter(
        cfg.n_segments,
        k_range=tuple(cfg.k_range),
        method=cfg.method,
        covariance_type=cfg.covariance_type,
        n_init=cfg.n_init,
        n_boot=cfg.n_boot,
        n_null=cfg.n_null,
        min_segment_share=cfg.min_segment_share,
        scale_correction=cfg.scale_correction if cfg.method == "kprototypes" else "none",
        standardize=False,
        random_state=cfg.random_state,
        n_jobs=cfg.n_jobs,
    )


def _prepare_and_fit(
    survey: pd.DataFrame, basis: list[str], w: np.ndarray | None, cfg: SegmentsConfig
) -> tuple[PreparedBasis, NeedsSegmenter, Any]:
    """Prepare the basis and fit the segmenter (raw methods on the typed items)."""
    raw_method = cfg.method in _RAW_METHODS
    prepared = prepare_basis(
        survey[basis],
        items=list(basis),
        scale_correction="none" if cfg.method == "lca" else cfg.scale_correction,
        standardize=cfg.standardize,
        reduce=None if raw_method else cfg.reduce,
        n_components=cfg.n_components,
        weights=w,
        impute=cfg.impute if cfg.method != "lca" else "median",
    )
    seg = _segmenter(cfg)
    if raw_method:
        X: Any = survey[basis].reset_index(drop=True)
        if cfg.method == "lca":
            prepared.warnings[:] = [m for m in prepared.warnings if "imputed" not in m]
    else:
        X = pd.DataFrame(prepared.matrix, columns=prepared.columns)
    seg.fit(X, sample_weight=prepared.weights)
    # Rule of thumb (Dolnicar, Grün & Leisch 2018, ch. 7): far fewer than ~10 respondents per
    # segment per basis item leaves segments that are noise; say so where the reader looks.
    per_segment = len(survey) / max(seg.n_segments_, 1)
    if per_segment < 30:
        prepared.warnings.append(
            f"only {len(survey):,} respondents for {seg.n_segments_} segments "
            f"({per_segment:.0f} per segment): too few to trust the segments; collect more "
            "answers or ask for fewer segments"
        )
    return prepared, seg, X


def _numbering(
    previous: dict[str, Any] | None,
    survey: pd.DataFrame,
    id_column: str,
    labels: np.ndarray,
    centroids: pd.DataFrame,
    k: int,
) -> tuple[LabelMatch | None, dict[int, int], str | None]:
    """New segment number → number shown (the previous run's where matched), and why not."""
    match = None
    relabel = {s: s for s in range(1, k + 1)}
    match_warning = None
    if previous:
        try:
            match = _match_previous(previous, survey, id_column, labels, centroids)
        except ValueError as exc:  # a previous run on another basis: number afresh, say so
            match = None
            match_warning = f"segment numbers not matched to the previous run: {exc}"
        if match is not None:
            relabel = {s: int(match.mapping.get(s, s)) for s in relabel}
    return match, relabel, match_warning


def _segment_sizes(final: np.ndarray, weights: np.ndarray | None) -> dict[str, dict[str, Any]]:
    """Each segment's count, share and weighted share (``summary["sizes"]``)."""
    sizes = {}
    for s in sorted(np.unique(final).tolist()):
        m = final == s
        sizes[str(s)] = {
            "n": int(m.sum()),
            "share": float(m.mean()),
            "weighted_share": float(weights[m].sum() / weights.sum())
            if weights is not None
            else float(m.mean()),
        }
    return sizes


def _segments_summary(
    seg: NeedsSegmenter,
    cfg: SegmentsConfig,
    *,
    sizes: dict[str, dict[str, Any]],
    seg_stab: pd.DataFrame,
    recommendation: str,
    verdict: str,
    evidence: dict[str, Any],
    match: LabelMatch | None,
    relabel: dict[int, int],
    warnings_: list[str],
) -> dict[str, Any]:
    """The JSON-serialisable headline figures (``segments.json``)."""
    return {
        "k": int(seg.n_segments_),
        "k_recommended": int(seg.selection_.loc[seg.selection_["recommended"], "k"].iloc[0]),
        "pinned": cfg.n_segments is not None,
        "method": cfg.method,
        "stability": _json_float(seg.stability_),
        "n_boot": int(cfg.n_boot),
        "sizes": sizes,
        "segment_stability": {
            str(int(r.segment)): _json_float(r.jaccard_median) for r in seg_stab.itertuples()
        },
        "unstable_segments": [int(s) for s in seg_stab.loc[seg_stab["flagged"], "segment"]]
        if cfg.n_boot
        else [],
        "recommendation": recommendation,
        "structure": seg.structure_,
        "verdict": verdict,
        "evidence": evidence,
        "log_likelihood": _json_float(seg.log_likelihood_),
        "bic": _json_float(seg.bic_),
        "match": None
        if match is None
        else {
            "mean_similarity": _json_float(match.mean_similarity),
            "mapping": {str(k): int(v) for k, v in relabel.items()},
        },
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.model_dump().items()
        },
        "warnings": warnings_,
    }


def run_segments(
    survey: pd.DataFrame,
    *,
    id_column: str,
    basis: list[str],
    weights: str | None = None,
    config: SegmentsConfig | None = None,
    previous: dict[str, Any] | None = None,
) -> SegmentsResult:
    """Run the segments stage.

    Parameters
    ----------
    survey : pandas.DataFrame
        One row per respondent.
    id_column : str
        Respondent id column (unique).
    basis : list of str
        The needs/attitude items segments are built on.
    weights : str or None, default=None
        Survey weight column.
    config : SegmentsConfig or None, default=None
    previous : dict or None, default=None
        A previous run to keep segment numbers: ``{"assignments": DataFrame(id, segment)}``
        (matched on memberships of common respondents) and/or ``{"centroids": DataFrame
        segment × item}`` (matched on centroids, e.g. ``result.centroids`` of that run).

    Returns
    -------
    SegmentsResult

    Raises
    ------
    ValueError
        Missing or duplicated ids, missing basis columns, bad basis values (named), too few
        respondents for the k asked.
    """
    cfg = config or SegmentsConfig()
    _check_survey(survey, id_column, basis, weights)
    w = None if weights is None else survey[weights].to_numpy(dtype=float)
    prepared, seg, X = _prepare_and_fit(survey, basis, w, cfg)
    labels = seg.labels_.copy()
    proba = seg.predict_proba(X)
    centroids = _item_centroids(prepared.transformer, survey[basis], labels, prepared.weights)
    match, relabel, match_warning = _numbering(
        previous, survey, id_column, labels, centroids, int(seg.n_segments_)
    )
    lut = np.zeros(max(relabel) + 1, dtype=np.int64)
    for a, b in relabel.items():
        lut[a] = b
    final = lut[labels]
    centroids.index = pd.Index([relabel[int(s)] for s in centroids.index], name="segment")
    centroids = centroids.sort_index()
    seg_stab = seg.segment_stability_.copy()
    seg_stab["segment"] = [relabel[int(s)] for s in seg_stab["segment"]]
    seg_stab = seg_stab.sort_values("segment").reset_index(drop=True)
    recommendation = recommendation_text(seg.choice_, seg.selection_, cfg.min_segment_share)
    evidence = _evidence(seg, relabel)
    verdict = verdict_text(seg.structure_, int(seg.n_segments_), evidence)
    if seg.structure_ == "constructive":
        prepared.warnings.insert(0, verdict)
    warnings_ = list(prepared.warnings) + list(seg.warnings_)
    if any(relabel[s] != s for s in relabel):
        warnings_ = [_renumber_text(m, relabel) for m in warnings_]
    if match_warning:
        warnings_.append(match_warning)
    assignments = pd.DataFrame(
        {
            id_column: survey[id_column].to_numpy(),
            "segment": final,
            "segment_probability": proba[np.arange(len(labels)), labels - 1],
        }
    )
    model = SegmentsModel(list(basis), prepared.transformer, seg, relabel)
    summary = _segments_summary(
        seg, cfg, sizes=_segment_sizes(final, prepared.weights), seg_stab=seg_stab,
        recommendation=recommendation, verdict=verdict, evidence=evidence, match=match,
        relabel=relabel, warnings_=warnings_,
    )  # fmt: skip
    return SegmentsResult(
        assignments=assignments,
        model=model,
        selection=seg.selection_.copy(),
        segment_stability=seg_stab,
        centroids=centroids,
        recommendation=recommendation,
        warnings=warnings_,
        summary=summary,
        stability_samples=dict(seg.stability_samples_),
        match=match,
        structure=seg.structure_,
        verdict=verdict,
        evidence=evidence,
        null_samples=dict(seg.null_stability_samples_),
    )


def _evidence(seg: NeedsSegmenter, relabel: dict[int, int]) -> dict[str, Any]:
    """The structure verdict's evidence, JSON-serialisable (``segments.json``)."""
    sel = seg.selection_
    row = sel.loc[sel["chosen"]].iloc[0]
    st = seg.segment_stability_
    per_k = []
    for r in sel.itertuples():
        per_k.append(
            {
                "k": int(r.k),
                "stability": _json_float(r.stability_median),
                "null_median": _json_float(r.null_median),
                "null_q95": _json_float(r.null_q95),
                "min_segment_jaccard": _json_float(r.min_segment_jaccard),
                "min_segment_share": _json_float(r.min_segment_share),
                "dispersion_gap": _json_float(r.dispersion_gap),
                "reproducible": bool(r.reproducible),
            }
        )
    choice = seg.choice_.as_dict()
    if choice.get("next_k") and choice["next_k"].get("split") is not None:
        choice["next_k"]["split"] = relabel.get(
            choice["next_k"]["split"], choice["next_k"]["split"]
        )
    shape = _relabel_shape(seg.shape_, relabel)
    if shape is not None and seg.choice_.mixture is not None:
        shape["mixture"] = seg.choice_.mixture
    return {
        "k": int(seg.n_segments_),
        "stability": _json_float(seg.stability_),
        "null_median": _json_float(row["null_median"]),
        "null_q95": _json_float(row["null_q95"]),
        "min_segment_jaccard": _json_float(st["jaccard_mean"].min()),
        "dispersion_gap": _json_float(row["dispersion_gap"]),
        "hopkins": _json_float(seg.tendency_["hopkins"]),
        "hopkins_vs_null": _json_float(seg.tendency_["hopkins_vs_null"]),
        "segments": {
            str(relabel.get(int(r.segment), int(r.segment))): {
                "jaccard": _json_float(r.jaccard_mean),
                "band": str(r.band),
            }
            for r in st.itertuples()
        },
        "choice": choice,
        "shape": shape,
        "per_k": per_k,
        "n_boot": int(seg.n_boot),
        "n_null": int(seg.n_null),
        "thresholds": {
            "stable_ari": STABLE_ARI,
            "null_margin": NULL_MARGIN,
            "segment_jaccard": JACCARD_DOUBTFUL,
            "natural_ari": NATURAL_ARI,
        },
    }


def _relabel_shape(shape: dict[str, Any] | None, relabel: dict[int, int]) -> dict | None:
    """The shape checks' evidence (``NeedsSegmenter.shape_``) in the stage's numbering."""
    if shape is None:
        return None
    return {
        "cut_pairs": [sorted(relabel.get(a, a) for a in pair) for pair in shape["cut_pairs"]],
        "hidden": [
            {"segment": relabel.get(h["segment"], h["segment"]), "share": h["share"]}
            for h in shape["hidden"]
        ],
        "max_pair_ridge": _json_float(shape["max_pair_ridge"]),
        "min_hidden_dip": _json_float(shape["min_hidden_dip"]),
    }


def _renumber_text(msg: str, relabel: dict[int, int]) -> str:
    import re

    return re.sub(
        r"segment (\d+)", lambda m: f"segment {relabel.get(int(m.group(1)), m.group(1))}", msg
    )


def _evidence_sentence(result: SegmentsResult) -> str:
    """k, method, global stability and cluster tendency, in one paragraph."""
    s = result.summary
    stab = s["stability"]
    ev = result.evidence
    tendency = ""
    if ev.get("dispersion_gap") is not None:
        tendency = (
            f" Cluster tendency: the within-segment dispersion is {ev['dispersion_gap']:.2f} "
            "log units below that of the permuted data"
            + (
                f"; Hopkins statistic {ev['hopkins']:.2f} against uniform points, "
                f"{ev['hopkins_vs_null']:.2f} against the permuted data (0.5 = no more "
                "clustered than the same items without association)."
                if ev.get("hopkins_vs_null") is not None
                else "."
            )
        )
    return (
        f"{s['k']} segments found by {s['method']}"
        + (f"; global stability (median bootstrap ARI) {stab:.2f}" if stab is not None else "")
        + f" over {s['n_boot']} bootstrap pairs per k. {result.recommendation}"
        + tendency
    )


def _stability_figures(sec: Section, result: SegmentsResult) -> None:
    """The stability curves (the evidence for k) and segment stability, in the appendix."""
    from segmentum.segments import plots

    if result.selection["null_q95"].notna().any():
        sec.figure(
            plots.stability_curve(result.selection),
            "Global stability per number of segments (median and quartiles of the adjusted "
            "Rand index between partitions fitted to bootstrap pairs) against the "
            "no-structure band: the same bootstrap analysis on the items permuted "
            "independently (same answers, no association). Green points are reproducible: "
            "high, clearly above the band, and every segment comes back (Dolnicar, Grün & "
            "Leisch 2018, ch. 7).",
            appendix=True,
        )
    else:  # the curve above draws the same medians and quartiles: the box plot once only
        sec.figure(
            plots.stability_boxplot(result.selection, result.stability_samples),
            "Global stability per number of segments: adjusted Rand index between partitions "
            "fitted to bootstrap pairs (Dolnicar, Grün & Leisch 2018, ch. 7).",
            appendix=True,
        )
    sec.figure(
        plots.segment_stability_chart(result.segment_stability, SEGMENT_STABILITY_FLAG),
        "Segment-level stability of the chosen solution: mean Jaccard agreement with the "
        "best match in bootstrap partitions, in Hennig's (2007) bands.",
        appendix=True,
    )


def report_section(result: SegmentsResult) -> Section:
    """The report's segments section: the structure verdict first, then the evidence for k
    (stability against its null band), the chosen solution and its segment stability."""
    from segmentum.segments import plots

    s = result.summary
    sec = Section(
        "segments",
        "Needs-based segments",
        summary=f"{result.verdict} {result.recommendation}".strip(),
    )
    if result.structure == "constructive":
        sec.warn(result.verdict)
    else:
        sec.text(result.verdict)
    sec.text(_evidence_sentence(result))
    if result.stability_samples:
        _stability_figures(sec, result)
    sec.figure(
        plots.fit_indices_chart(result.selection),
        "Fit indices by number of segments, each scaled to its range over k so their "
        "peaks and elbows compare on one axis (the hover and the evidence table give the "
        "values); the dotted line is the chosen k.",
        appendix=True,
    )
    sec.figure(
        plots.centroid_heatmap(
            result.centroids,
            {int(k): v["weighted_share"] for k, v in s["sizes"].items()},
        ),
        "Segment profiles: mean answer per basis item (item units; shares as percentages), "
        "coloured by the index against the item's average (100 = average).",
        unless="profiles",  # the profiles' heat map shows the same cells, and tests them
    )
    table = result.selection.copy()
    sec.table(table.round(3), "Evidence for the number of segments.", appendix=True)
    cols = [
        c for c in ("segment", "jaccard_mean", "band", "flagged") if c in result.segment_stability
    ]
    sizes = pd.DataFrame([{"segment": int(k), **v} for k, v in s["sizes"].items()]).merge(
        result.segment_stability[cols], on="segment"
    )
    sec.table(sizes.round(3), "Segment sizes and stability.")
    if result.match is not None:
        sec.text(
            f"Segments matched to the previous run (mean similarity "
            f"{result.match.mean_similarity:.2f})."
        )
        sec.table(result.match.quality.round(3), "Match to the previous run.", appendix=True)
    for m in result.warnings:
        if m != result.verdict:
            sec.warn(m)
    return sec


# --- the stage in the flow: what it needs from a project, what it hands on ------------------


def _skip(ctx: StageContext) -> str | None:
    survey = ctx.config.sources.survey
    if survey is None:
        return "no survey table is declared ([sources.survey])"
    if not survey.basis:
        return "the survey declares no basis items (basis = [...] under [sources.survey])"
    return None


def _previous_segments(ctx: StageContext) -> dict[str, Any] | None:
    # Parquet only, from a run folder the catalogue checked (manifest checksums).
    from segmentum.segments.persist import load_previous

    return None if ctx.previous_run is None else load_previous(ctx.previous_run)


def _run(ctx: StageContext) -> SegmentsResult:
    survey = ctx.config.sources.survey
    assert survey is not None
    return run_segments(
        ctx.data.frame("survey"),
        id_column=survey.id_column,
        basis=list(survey.basis),
        weights=survey.weight,
        config=ctx.settings(SegmentsConfig, "segments", random_state=ctx.seed),
        previous=_previous_segments(ctx),
    )


def _assignments(result: SegmentsResult, ctx: StageContext) -> pd.DataFrame:
    survey = ctx.config.sources.survey
    assert survey is not None
    frame = result.assignments.rename(columns={survey.id_column: "respondent_id"})
    frame["respondent_id"] = frame["respondent_id"].astype(str)
    if survey.customer_id:
        link = ctx.data.frame("survey")[[survey.id_column, survey.customer_id]].rename(
            columns={survey.id_column: "respondent_id", survey.customer_id: "customer_id"}
        )
        link["respondent_id"] = link["respondent_id"].astype(str)
        frame = frame.merge(link, on="respondent_id", how="left")
    return frame


def _save(result: SegmentsResult, model_dir: Path) -> None:
    # The scoring model as data (never pickle), memberships and centroids as Parquet.
    from segmentum.segments.persist import save_segments

    save_segments(result, model_dir)


SEGMENTS = Stage(
    name="segments",
    title="Needs-based segments",
    skip_reason=_skip,
    run=_run,
    section=report_section,
    assignments=_assignments,
    summary=lambda r: dict(r.summary),
    save_model=_save,
    settings=SegmentsConfig,
    summary_key="segmentation",
)
