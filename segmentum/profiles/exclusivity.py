"""The mutually-exclusive check: are segments defined by needs of their own?

Seed 004 of the practice: "segment attributes must be mutually exclusive across segments"
and segments must be quantifiable. A solution fails when one need defines several
segments, when needs are common to everyone and separate nobody, or when a segment is
defined by nothing distinctive. This module scores those three faults on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentum.profiles.profile import Profile, profile_value_columns


@dataclass(frozen=True)
class ExclusivityReport:
    """Verdict of the mutually-exclusive and quantifiable checks.

    Attributes
    ----------
    score : float
        ``(U * C * S) ** (1/3)`` in [0, 1], see :func:`exclusivity`.
    uniqueness, coverage, separation : float
        The three components U, C and S.
    threshold : float
        Score needed to pass.
    passed : bool
        ``score >= threshold`` and every segment has at least one defining need.
    shared_needs : dict of str to tuple of int
        Needs that define more than one segment, with those segments.
    common_needs : tuple of str
        Basis items on which no segment differs significantly from the rest.
    undefined_segments : tuple of int
        Segments with no defining need of their own (none, or only shared ones).
    quantifiable : bool
        Every segment is sized (at least ``min_size`` rows) and, when a value table was
        linked, valued (a non-missing value total).
    unquantified_segments : tuple of int
        Segments that are too small to size or that have no value.
    table : pandas.DataFrame
        Per segment: ``segment``, ``n``, ``share``, ``defining_needs``,
        ``exclusive_needs``, ``shared_needs``, ``valued``.
    """

    score: float
    uniqueness: float
    coverage: float
    separation: float
    threshold: float
    passed: bool
    shared_needs: dict[str, tuple[int, ...]]
    common_needs: tuple[str, ...]
    undefined_segments: tuple[int, ...]
    quantifiable: bool
    unquantified_segments: tuple[int, ...]
    table: pd.DataFrame

    @property
    def offenders(self) -> dict[str, object]:
        """Offending needs and segments, JSON-ready."""
        return {
            "shared_needs": {k: list(v) for k, v in self.shared_needs.items()},
            "common_needs": list(self.common_needs),
            "undefined_segments": list(self.undefined_segments),
            "unquantified_segments": list(self.unquantified_segments),
        }

    def verdict(self) -> str:
        """One sentence for the report, needs by their labels (``[report.labels]``)."""
        from segmentum.report.format import item_labels

        needs = list(dict.fromkeys([*self.shared_needs, *self.common_needs]))
        word = dict(zip(needs, item_labels(needs), strict=True))
        head = f"Exclusivity score {self.score:.2f} (threshold {self.threshold:.2f}): " + (
            "passed." if self.passed else "FAILED."
        )
        parts = []
        if self.shared_needs:
            parts.append(
                "needs defining several segments: "
                + "; ".join(
                    f"{word[n]} ({', '.join(map(str, s))})" for n, s in self.shared_needs.items()
                )
            )
        if self.undefined_segments:
            parts.append(
                "segments without a need of their own: "
                + ", ".join(map(str, self.undefined_segments))
            )
        if self.common_needs:
            parts.append(
                "needs that separate no segment: " + ", ".join(word[n] for n in self.common_needs)
            )
        if not self.quantifiable:
            parts.append(
                "segments not quantifiable (too small or not valued): "
                + ", ".join(map(str, self.unquantified_segments))
            )
        return head + (" " + ". ".join(p[0].upper() + p[1:] for p in parts) + "." if parts else "")


def exclusivity(
    profile: Profile, *, threshold: float = 0.6, n_needs: int = 3, min_size: int = 10
) -> ExclusivityReport:
    """Score how exclusive the defining needs are across segments.

    Parameters
    ----------
    profile : Profile
        Output of :func:`segmentum.profiles.profile`.
    threshold : float, default=0.6
        Score needed to pass.
    n_needs : int, default=3
        How many of each segment's defining needs (strongest first) are checked: the few
        that a persona would be built on.
    min_size : int, default=10
        Segments with fewer rows are not quantifiable.

    Returns
    -------
    ExclusivityReport

    Notes
    -----
    With ``D_s`` the defining needs of segment ``s`` and ``c_j`` the number of segments
    need ``j`` defines:

    * uniqueness ``U = sum_s sum_{j in D_s} (1 / c_j) / sum_s |D_s|`` (1 when every need
      defines one segment, ``1/k`` when all needs define all ``k`` segments; 0 when no
      segment has a defining need);
    * coverage ``C`` = share of segments with at least one need that defines only them;
    * separation ``S`` = share of basis items on which at least one segment differs
      significantly from the rest (items common to all separate none).

    The score is the geometric mean ``(U * C * S) ** (1/3)``, so any one fault pulls it
    down. The solution passes when ``score >= threshold`` and no segment is undefined.
    """
    segs = list(profile.segments)
    defining = {s: tuple(profile.defining_needs.get(s, ()))[:n_needs] for s in segs}
    counts: dict[str, list[int]] = {}
    for s in segs:
        for j in defining[s]:
            counts.setdefault(j, []).append(s)
    total_pairs = sum(len(d) for d in defining.values())
    u = (
        sum(1.0 / len(counts[j]) for s in segs for j in defining[s]) / total_pairs
        if total_pairs
        else 0.0
    )
    own = {s: [j for j in defining[s] if len(counts[j]) == 1] for s in segs}
    undefined = tuple(s for s in segs if not own[s])
    c = 1.0 - len(undefined) / len(segs) if segs else 0.0
    basis_rows = profile.rows(role="basis")
    sep_items = set(basis_rows.loc[basis_rows["significant"], "variable"])
    common = tuple(v for v in profile.basis if v not in sep_items)
    s_ = 1.0 - len(common) / len(profile.basis) if profile.basis else 0.0
    score = float(np.cbrt(u * c * s_))
    shared = {j: tuple(ss) for j, ss in counts.items() if len(ss) > 1}

    sizes = profile.sizes.set_index("segment")
    measures = profile_value_columns(profile.sizes)
    unq: list[int] = []
    rows = []
    for s in segs:
        n = int(sizes.loc[s, "n"])
        valued = (
            all(np.isfinite(sizes.loc[s, f"{m}_total"]) for m in measures) if measures else None
        )
        if n < min_size or valued is False:
            unq.append(s)
        rows.append(
            {
                "segment": s,
                "n": n,
                "share": float(sizes.loc[s, "share"]),
                "defining_needs": list(defining[s]),
                "exclusive_needs": own[s],
                "shared_needs": [j for j in defining[s] if len(counts[j]) > 1],
                "valued": valued,
            }
        )
    return ExclusivityReport(
        score=score,
        uniqueness=float(u),
        coverage=float(c),
        separation=float(s_),
        threshold=threshold,
        passed=bool(score >= threshold and not undefined),
        shared_needs=shared,
        common_needs=common,
        undefined_segments=undefined,
        quantifiable=not unq,
        unquantified_segments=tuple(unq),
        table=pd.DataFrame(rows),
    )
