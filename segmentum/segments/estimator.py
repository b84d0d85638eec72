"""`NeedsSegmenter`: one estimator, several methods, the number of segments chosen with evidence."""

from __future__ import annotations

import dataclasses
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.metrics import (
    calinski_harabasz_score,
    silhouette_score,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from segmentum.parallel import workers_die_with_parent
from segmentum.segments._fastkmeans import adjusted_rand, distinct_rows, kmeans_weighted_batch
from segmentum.segments._methods import (
    BasisData,
    GMMFit,
    entropy_term,
    fit_ensemble,
    fit_gmm,
    fit_kmeans,
    fit_kprototypes,
    fit_latent_class,
    nearest_center,
)
from segmentum.segments.basis import BasisTransformer
from segmentum.segments.config import DEFAULT_SEGMENTS as _DEFAULT
from segmentum.segments.labels import canonical_order
from segmentum.segments.structure import (
    Choice,
    choose,
    hennig_band,
    hidden_min_rows,
    hopkins,
    interval_basis,
    mixture_structure,
    permute_columns,
    population_weights,
    shape_evidence,
    split_at_dip,
)

METHODS = ("kmeans", "gmm", "lca", "kprototypes", "ensemble")
LIKELIHOOD_METHODS = ("gmm", "lca")
# segment-level Jaccard below this is flagged (Hennig 2007: < 0.6 is "not a real cluster")
SEGMENT_STABILITY_FLAG = 0.6
SELECTION_COLUMNS = (
    "k",
    "stability_median",
    "stability_q25",
    "stability_q75",
    "null_median",
    "null_q05",
    "null_q95",
    "min_segment_jaccard",
    "min_segment_share",
    "dispersion_gap",
    "cut_pairs",
    "hidden_groups",
    "bic",
    "icl",
    "log_likelihood",
    "silhouette",
    "calinski_harabasz",
    "within_dispersion",
    "unstable_segments",
    "reproducible",
    "recommended",
    "chosen",
)


def _fit_one(
    method: str,
    data: BasisData,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    covariance_type: str,
    sample_weight: np.ndarray | None,
    quick: bool = False,
    seed: int | None = None,
) -> Any:
    if method == "kmeans":
        return fit_kmeans(
            data.num,  # type: ignore[arg-type]
            k,
            n_init=n_init,
            rng=rng,
            sample_weight=sample_weight,
            seed=seed,
            refine=not quick,
        )
    if method == "gmm":
        return fit_gmm(
            data.num,  # type: ignore[arg-type]
            k,
            n_init=n_init,
            rng=rng,
            covariance_type=covariance_type,
            sample_weight=sample_weight,
        )
    if method == "lca":
        return fit_latent_class(
            data, k, n_init=n_init, rng=rng, sample_weight=sample_weight, quick=quick
        )
    if method == "kprototypes":
        return fit_kprototypes(data, k, n_init=n_init, rng=rng, sample_weight=sample_weight)
    # ensemble: n_init bootstrap resamples, each with its own random restarts
    return fit_ensemble(
        data.num,  # type: ignore[arg-type]
        k,
        n_init=n_init,
        rng=rng,
        n_resamples=n_init,
        sample_weight=sample_weight,
    )


def _bootstrap_partitions(
    method: str,
    data: BasisData,
    k: int,
    seeds: list[np.random.SeedSequence],
    n_init: int,
    covariance_type: str,
    sample_weight: np.ndarray | None,
) -> list[np.ndarray]:
    """Fit one bootstrap sample per seed; return each partition predicted on all rows."""
    from threadpoolctl import threadpool_limits

    if method == "kmeans":
        with threadpool_limits(limits=1):
            return _bootstrap_partitions_kmeans(data.num, k, seeds, n_init, sample_weight)  # type: ignore[arg-type]
    out = []
    n = len(data)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ss in seeds:
            rng = np.random.default_rng(ss)
            idx = rng.integers(0, n, size=n)
            sw = None if sample_weight is None else sample_weight[idx]
            fit = _fit_one(
                method,
                data.take(idx),
                k,
                n_init=n_init,
                rng=rng,
                covariance_type=covariance_type,
                sample_weight=sw,
                quick=True,
            )
            out.append(fit.predict(data).astype(np.int16))
    return out


def _bootstrap_partitions_kmeans(
    x: np.ndarray,
    k: int,
    seeds: list[np.random.SeedSequence],
    n_init: int,
    sample_weight: np.ndarray | None,
) -> list[np.ndarray]:
    """k-means bootstrap partitions on the distinct rows with bootstrap counts as weights
    (:mod:`segmentum.segments._fastkmeans`): the same draws and the same algorithm as
    fitting the resampled rows, with the restarts in one array computation."""
    uniq, inverse = distinct_rows(x)
    n, m = len(x), len(uniq)
    out = []
    for ss in seeds:
        rng = np.random.default_rng(ss)
        idx = rng.integers(0, n, size=n)
        counts = np.bincount(idx, minlength=n).astype(float)
        if sample_weight is not None:
            counts *= sample_weight
        wu = np.bincount(inverse, weights=counts, minlength=m)
        keep = wu > 0
        centers, _ = kmeans_weighted_batch(uniq[keep], wu[keep], k, n_init=n_init, rng=rng)
        out.append(nearest_center(uniq, centers)[inverse].astype(np.int16))
    return out


def _cyclic_pairs(parts: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (partition i, partition i + 1), cyclically: B bootstrap fits give B pairs of
    independent bootstrap samples (half the fits of disjoint pairs)."""
    b = len(parts)
    if b < 2:
        return []
    if b == 2:
        return [(parts[0], parts[1])]
    return [(parts[i], parts[(i + 1) % b]) for i in range(b)]


def _null_dispersion(
    x: np.ndarray, k: int, seed: np.random.SeedSequence, n_init: int, w: np.ndarray | None
) -> float:
    """Mean within-segment squared distance of a k-means fit (the null's dispersion)."""
    uniq, inverse = distinct_rows(x)
    wu = np.bincount(inverse, weights=w, minlength=len(uniq)).astype(float)
    keep = wu > 0
    _, inertia = kmeans_weighted_batch(
        uniq[keep], wu[keep], k, n_init=n_init, rng=np.random.default_rng(seed)
    )
    return inertia / float(wu.sum())


def _best_match_jaccard(ref: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """For each segment of ``ref``, the Jaccard index with its best-matching ``other`` segment."""
    k2 = int(other.max()) + 1
    tab = np.zeros((k, k2))
    np.add.at(tab, (ref, other), 1.0)
    a = tab.sum(axis=1)[:, None]
    b = tab.sum(axis=0)[None, :]
    jac = tab / np.maximum(a + b - tab, 1.0)
    return jac.max(axis=1)


def _split_of(coarse: np.ndarray, fine: np.ndarray) -> int | None:
    """The coarse segment (0-based) that the finer partition splits, if one clearly is."""
    kc, kf = int(coarse.max()) + 1, int(fine.max()) + 1
    tab = np.zeros((kc, kf))
    np.add.at(tab, (coarse, fine), 1.0)
    source = tab.argmax(axis=0)  # the coarse segment each fine segment mostly comes from
    counts = np.bincount(source, minlength=kc)
    split = np.flatnonzero(counts >= 2)
    if split.size == 0:
        return None
    return int(split[np.argmax(tab.sum(axis=1)[split])])


def _diag_mixture(x: np.ndarray, labels: np.ndarray, k: int, init: Any = None) -> Any:
    """A diagonal Gaussian mixture fitted by EM from a partition (its shares, means and
    variances), or from a fitted mixture's parameters (``init``)."""
    from sklearn.mixture import GaussianMixture

    if init is None:
        weights = np.bincount(labels, minlength=k) / len(labels)
        means = np.vstack([x[labels == c].mean(axis=0) for c in range(k)])
        prec = 1.0 / np.vstack([x[labels == c].var(axis=0) + 1e-3 for c in range(k)])
    else:
        weights, means, prec = init.weights_, init.means_, init.precisions_
    gm = GaussianMixture(
        k,
        covariance_type="diag",
        weights_init=weights,
        means_init=means,
        precisions_init=prec,
        init_params="random_from_data",
        reg_covar=1e-6,
        max_iter=300,
        random_state=0,
    )
    return gm.fit(x)


def _split_hidden(
    x: np.ndarray, labels: np.ndarray, hidden: list[tuple[int, float]], min_rows: int
) -> np.ndarray:
    """The partition with each segment that hides a group split at its density dip."""
    out = labels.copy()
    k_new = int(labels.max()) + 1
    for c, _share in hidden:
        rows = np.flatnonzero(labels == c)
        side = split_at_dip(x[rows], min_rows)
        if side is not None:
            out[rows[side]] = k_new
            k_new += 1
    return out


def _segment_table(
    labels: np.ndarray, jac: np.ndarray, perm: np.ndarray, share: np.ndarray
) -> pd.DataFrame:
    """Per-segment bootstrap stability (``segment_stability_``) in canonical numbering."""
    st = pd.DataFrame(
        {
            "segment": perm + 1,
            "share": share,
            "jaccard_median": np.median(jac, axis=0),
            "jaccard_q25": np.quantile(jac, 0.25, axis=0),
            "jaccard_mean": jac.mean(axis=0),
        }
    )
    # Hennig's bands read the mean Jaccard over bootstrap partitions (clusterboot)
    st["flagged"] = st["jaccard_mean"] < SEGMENT_STABILITY_FLAG
    st["band"] = [hennig_band(j) for j in st["jaccard_mean"]]
    return st.sort_values("segment").reset_index(drop=True)


class NeedsSegmenter(ClusterMixin, BaseEstimator):
    """Needs-based segmentation with the number of segments chosen by stability, and a
    verdict on the structure: natural, reproducible or constructive.

    Fits one of five methods for every number of segments in ``k_range`` and measures,
    for each, global stability (the adjusted Rand index between partitions fitted to
    bootstrap samples and predicted on all rows, Dolnicar, Grün & Leisch 2018, ch. 7),
    segment-level stability (Jaccard agreement of each segment with its best match in the
    bootstrap partitions; Hennig 2007), the same global stability on ``n_null`` null data
    sets (each item permuted on its own: the same marginals, no association), fit indices
    and the smallest segment's share.

    The choice reads the whole curve (:mod:`segmentum.segments.structure`): a k is
    *reproducible* when its stability is high (median ARI ≥ 0.80, lower quartile ≥ 0.70),
    clearly above the null (≥ the null band's 95th percentile and ≥ the null median + 0.10),
    every segment comes back
    (mean Jaccard ≥ 0.6) and no segment is under ``min_segment_share``; the recommended k
    is the largest reproducible one (one fewer where its extra segment is only doubtful
    and fewer segments are clearly more stable). With none reproducible the structure is
    *constructive* and the most segments above the null band with none dissolved are
    recommended (else the k most stable relative to its null); *natural*
    when the chosen solution is near-perfectly stable (≥ 0.90, every segment ≥ 0.85) with
    the curve peaking there. For k-means on an interval-scaled basis the solutions are
    checked for density dips (``shape_``): a solution that cuts a group in two steps down to
    the largest separated reproducible k; one whose segment hides a separate group is
    constructive, unless a diagonal Gaussian mixture refitted from the split segments
    separates every segment and comes back in bootstrap refits (then it is delivered,
    ``choice_.reason == "mixture_separates"``; ``predict`` uses that mixture). The estimator returns data (``choice_``, ``selection_``);
    the sentences are written by the stage (:func:`~segmentum.segments.structure.recommendation_text`).

    Row order does not matter: the rows are fitted in a canonical order (sorted by value),
    so the same rows in another order give the same partition, labels and evidence.

    Parameters
    ----------
    n_segments : int or None, default=None
        Number of segments. None chooses it from ``k_range``; an int pins it (the evidence
        for ``k_range`` is still computed when ``n_boot > 0``, and the choice is never
        changed).
    k_range : tuple of int, default=(2, 8)
        Smallest and largest number of segments considered (inclusive).
    method : {"kmeans", "gmm", "lca", "kprototypes", "ensemble"}, default="kmeans"
        ``kmeans``: k-means, ``n_init`` k-means++ restarts. ``gmm``: Gaussian mixture with
        ``covariance_type``. ``lca``: latent class analysis (binary, categorical and ordinal
        items; missing answers handled by the likelihood). ``kprototypes``: k-prototypes
        for mixed numeric and categorical items. ``ensemble``: consensus of k-means and
        Gaussian mixtures (for k-1, k, k+1) over ``n_init`` bootstrap resamples through a
        co-association matrix (average linkage on 1 - co-association; k-means on the
        membership matrix above 3,000 rows), in the spirit of Sawtooth's CCEA.
    covariance_type : {"diag", "full", "tied", "spherical"}, default="diag"
        Covariance of the Gaussian mixture components (``method="gmm"``).
    n_init : int, default=10
        Random restarts per fit (bootstrap fits included).
    n_boot : int, default=100
        Bootstrap fits per k for the stability analysis, compared in ``n_boot`` pairs
        (each fit with the next, cyclically: every pair is two independent bootstrap
        samples, with half the fits of disjoint pairs); 0 skips it. k-means bootstrap fits
        run on the distinct rows with bootstrap counts as weights, all restarts at once.
    n_null : int, default=3
        Null data sets (items permuted independently) for the structure verdict, each
        with ``max(4, ceil(n_boot / (3 n_null)))`` bootstrap fits per k; 0 skips the null
        (the verdict then rests on the absolute thresholds alone: faster, less safe on
        binary or skewed items).
    min_segment_share : float, default=0.05
        Segments smaller than this share of respondents (weighted) are flagged, and k with
        such a segment are not recommended.
    scale_correction : {"none", "center", "standardize"}, default="none"
        Within-respondent scale-use correction of Likert and numeric items.
    standardize : bool, default=False
        Standardise the prepared columns (``prepare_basis`` already does by default).
    random_state : int, RandomState instance or None, default=None
        Seed; the same data and seed give identical labels.
    n_jobs : int or None, default=-1
        Processes for the bootstrap fits (joblib); -1 uses every core.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each row, numbered 1..k by size (largest first; ties by centroid).
    n_segments_ : int
        Number of segments fitted.
    cluster_centers_ : ndarray of shape (n_segments_, n_columns)
        Segment means in the prepared numeric space (one-hot for categorical items).
    log_likelihood_, bic_, icl_ : float
        For ``gmm`` and ``lca``; NaN otherwise.
    inertia_ : float
        Within-segment sum of squares (k-means, ensemble) or cost (k-prototypes).
    stability_ : float
        Median bootstrap adjusted Rand index of the chosen k (NaN when ``n_boot=0``).
    selection_ : pandas.DataFrame
        One row per k: ``k``, ``stability_median``, ``stability_q25``, ``stability_q75``,
        ``null_median``, ``null_q05``, ``null_q95`` (the null band), ``min_segment_jaccard``
        (the least stable segment's mean Jaccard), ``min_segment_share``,
        ``dispersion_gap`` (log of the null's mean within-segment dispersion minus the
        data's: a cluster-tendency figure), ``cut_pairs`` and ``hidden_groups`` (the
        shape checks, see ``shape_``; NaN where they do not apply), ``bic``, ``icl``,
        ``log_likelihood``,
        ``silhouette``, ``calinski_harabasz``, ``within_dispersion``,
        ``unstable_segments``, ``reproducible``, ``recommended``, ``chosen``.
    structure_ : {"natural", "reproducible", "constructive"}
        Verdict for the delivered solution.
    choice_ : segmentum.segments.structure.Choice
        The choice as data: k, the recommended k, the reason, the runner-up, what k + 1
        does, the reproducible k.
    tendency_ : dict
        ``hopkins`` (against uniform points in the data's box) and ``hopkins_vs_null``
        (against the permuted data; 0.5 = no more clustered than the items without
        association); with unequal ``sample_weight``, the population's (data rows drawn
        by weight, the null from the items' weighted marginals).
    null_stability_samples_ : dict
        k → the null bootstrap adjusted Rand indices.
    stability_samples_ : dict
        k → the ``n_boot`` bootstrap adjusted Rand indices (for box plots).
    segment_stability_ : pandas.DataFrame
        For the chosen k: ``segment``, ``share``, ``jaccard_median``, ``jaccard_q25``,
        ``jaccard_mean``, ``flagged`` (mean Jaccard below 0.6), ``band`` (Hennig's:
        highly stable ≥ .85, stable ≥ .75, doubtful ≥ .6, unstable ≥ .5, dissolved).
    shape_ : dict or None
        Density gaps of the chosen solution (k-means on an interval-scaled basis, every
        item with at least five answers; None otherwise): ``cut_pairs`` (pairs of segments
        with no dip in density between them: one group cut in two), ``hidden`` (segments
        that hide a separate group, with its share of respondents), ``max_pair_ridge``,
        ``min_hidden_dip`` (:func:`~segmentum.segments.structure.shape_evidence`; with
        unequal ``sample_weight``, weighted densities and shares: the population's).
    warnings_ : list of str
        Problems found (small or unstable segments).
    basis_ : BasisTransformer
        The fitted encoding of the input columns.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.

    See Also
    --------
    segmentum.segments.prepare_basis : prepare and check the basis first.
    segmentum.segments.run_segments : the stage entry point.

    Notes
    -----
    ``predict_proba`` gives posterior probabilities for ``gmm`` and ``lca``. For
    ``kmeans`` and ``ensemble`` it is the posterior of an equal-weight spherical Gaussian
    mixture with the segment centres and the pooled within-segment variance σ²,
    ``softmax(-d²/2σ²)``; for ``kprototypes`` ``softmax(-cost/mean cost)``.

    References
    ----------
    Dolnicar, S., Grün, B. & Leisch, F. (2018). *Market Segmentation Analysis*, ch. 7.
    Hennig, C. (2007). Cluster-wise assessment of cluster stability. CSDA 52, 258–271.
    Ernst, D. & Dolnicar, S. (2018). How to avoid random market segmentation solutions.
    J. Travel Research 57(1), 69–82.
    Linzer, D. A. & Lewis, J. B. (2011). poLCA. J. Statistical Software 42(10).
    Hennig, C. (2010). Methods for merging Gaussian mixture components. ADAC 4, 3–34.
    Fraley, C. & Raftery, A. E. (2002). Model-based clustering, discriminant analysis and
    density estimation. JASA 97, 611–631.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 1], [1, 2], [2, 1], [8, 8], [8, 9], [9, 8]])
    >>> seg = NeedsSegmenter(n_segments=2, n_boot=0, n_init=3, random_state=0).fit(X)
    >>> seg.labels_
    array([1, 1, 1, 2, 2, 2])
    >>> seg.predict(np.array([[0, 0], [9, 9]]))
    array([1, 2])
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_segments": [None, Interval(Integral, 2, None, closed="left")],
        "k_range": [tuple, list],
        "method": [StrOptions(set(METHODS))],
        "covariance_type": [StrOptions({"diag", "full", "tied", "spherical"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "n_boot": [Interval(Integral, 0, None, closed="left")],
        "n_null": [Interval(Integral, 0, None, closed="left")],
        "min_segment_share": [Interval(Real, 0, 1, closed="left")],
        "scale_correction": [StrOptions({"none", "center", "standardize"})],
        "standardize": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_segments: int | None = _DEFAULT.n_segments,
        *,
        k_range: tuple[int, int] = _DEFAULT.k_range,
        method: str = _DEFAULT.method,
        covariance_type: str = _DEFAULT.covariance_type,
        n_init: int = _DEFAULT.n_init,
        n_boot: int = _DEFAULT.n_boot,
        n_null: int = _DEFAULT.n_null,
        min_segment_share: float = _DEFAULT.min_segment_share,
        scale_correction: str = _DEFAULT.scale_correction,
        standardize: bool = False,  # not the setting: the stage standardises in prepare_basis
        random_state: Any = None,
        n_jobs: int | None = _DEFAULT.n_jobs,
    ) -> None:
        self.n_segments = n_segments
        self.k_range = k_range
        self.method = method
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.n_boot = n_boot
        self.n_null = n_null
        self.min_segment_share = min_segment_share
        self.scale_correction = scale_correction
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- input ------------------------------------------------------------------------
    def _as_frame(self, X: Any, reset: bool) -> Any:
        if isinstance(X, pd.DataFrame) and (
            self.method in ("lca", "kprototypes")
            or not all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes)
        ):
            cols = [str(c) for c in X.columns]
            if reset:
                self.n_features_in_ = X.shape[1]
                self.feature_names_in_ = np.asarray(cols, dtype=object)
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but NeedsSegmenter is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if len(X) < 1:
                raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
            out = X.copy()
            out.columns = cols
            return out
        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        arr = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if self.method == "lca" else True,
        )
        if not reset and self.method in ("kmeans", "gmm", "ensemble"):
            return arr  # scoring fast path: the fitted transformer takes arrays directly
        if names is not None and all(isinstance(c, str) for c in names):
            cols = [str(c) for c in names]
        else:
            cols = [f"x{i}" for i in range(arr.shape[1])]
        return pd.DataFrame(arr, columns=cols)

    def _data(self, frame: Any) -> BasisData:
        tr = self.basis_
        method = self.method
        if isinstance(frame, np.ndarray):
            return BasisData(tr.transform(frame), None, [])
        if method == "lca":
            codes, n_cats = tr.codes(frame)
            y = np.zeros((len(frame), 0))
            if codes.size:
                from segmentum.segments.lca import one_hot

                y, _ = one_hot(codes, n_cats)
            return BasisData(y, codes, n_cats)
        if method == "kprototypes":
            kinds = {s.name: s.kind for s in tr.specs_}
            cat_items = [n for n, kd in kinds.items() if kd in ("binary", "categorical")]
            num_cols = [
                i
                for i, nm in enumerate(tr._output_names())
                if kinds.get(nm) in ("likert", "numeric")
            ]
            num = tr.transform(frame)[:, num_cols]
            codes, n_cats = tr.codes(frame, cat_items)
            return BasisData(num, codes, n_cats)
        return BasisData(tr.transform(frame), None, [])

    # -- fit --------------------------------------------------------------------------
    def _check_k(self, n: int) -> list[int]:
        kr = tuple(self.k_range)
        if (
            len(kr) != 2
            or not all(isinstance(v, Integral) for v in kr)
            or kr[0] < 2
            or kr[1] < kr[0]
        ):
            raise ValueError(
                f"k_range={self.k_range!r} must be two integers (low, high) with 2 <= low <= high"
            )
        ks = list(range(int(kr[0]), int(kr[1]) + 1))
        if self.n_segments is not None:
            if self.n_segments >= n:
                raise ValueError(
                    f"n_segments={self.n_segments} needs more respondents: got n_samples = {n}; "
                    "use fewer segments or more data"
                )
            if self.n_boot == 0:
                return [int(self.n_segments)]
            ks = sorted(set(ks) | {int(self.n_segments)})
            ks = [k for k in ks if k < n]
            return ks
        if kr[1] >= n:
            raise ValueError(
                f"k_range={self.k_range!r} cannot be fitted on n_samples = {n} respondents: "
                f"the largest k must be below the number of rows; lower it to at most {n - 1}"
            )
        return ks

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> NeedsSegmenter:
        """Fit every k in the range (or the pinned k), measure stability, choose k.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_items)
            Basis items. Binary as 0/1 or Yes/No, categorical as codes or labels.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,) or None
            Survey weights, used in fitting by every method (weighted k-means and
            k-prototypes costs, weighted EM for ``gmm`` and ``lca``, a weighted bootstrap for
            ``ensemble``), in the stability resamples and in segment shares.

        Returns
        -------
        self
        """
        frame = self._as_frame(X, reset=True)
        w = self._check_sample_weight(sample_weight, len(frame))
        ks = self._check_k(len(frame))
        data = self._fit_basis(frame, w)
        # Row order must not matter: fit on the rows in a canonical order (sorted by their
        # values, then weight) and hand the labels back in the caller's order.
        order = self._canonical_rows(data, w)
        data = data.take(order)
        w = None if w is None else w[order]
        seq = self._seed_sequence()
        # one stream per (purpose, k): a k's solution does not depend on the k range
        full_seeds = [np.random.SeedSequence(seq.entropy, spawn_key=(0, k)) for k in ks]
        boot_seeds = [np.random.SeedSequence(seq.entropy, spawn_key=(1, k)) for k in ks]
        fits, rows = self._fit_each_k(ks, data, w, full_seeds)
        sel = pd.DataFrame(rows)
        # bootstrap stability, with its null reference (items permuted independently)
        nulls = self._null_data(data, seq) if self.n_boot and self.n_null else []
        boots, null_aris, null_disp = self._stability(ks, data, boot_seeds, w, nulls, seq)
        seg_stab, boot_aris, perms = self._stability_columns(
            ks, fits, sel, data, w, boots, null_aris, null_disp
        )
        self.stability_samples_ = boot_aris
        self.null_stability_samples_ = dict(null_aris)
        shapes = self._shape_columns(ks, fits, sel, data, w, bootstrapped=boots is not None)
        choice = self._choose_k(ks, sel, fits, perms)
        refined = self._mixture_refinement(ks, fits, sel, data, w, shapes, choice, seq)
        mixture_stab = None
        if refined is not None:
            choice, mix_fit, mixture_stab, mix_shape = refined
            if mix_fit is not None:  # the delivered solution at that k
                fits = {**fits, choice.k: mix_fit}
                shapes = {**shapes, choice.k: mix_shape}
        chosen = choice.k
        sel["reproducible"] = sel["k"].isin(choice.reproducible_k)
        sel["recommended"] = sel["k"] == choice.k_recommended
        sel["chosen"] = sel["k"] == chosen
        self.selection_ = sel[list(SELECTION_COLUMNS)].reset_index(drop=True)
        self.choice_ = choice
        self.structure_ = choice.structure
        self.tendency_ = self._tendency(data, nulls, seq, w)
        fit = fits[chosen]
        self._fit = fit
        self._fits = fits
        k_eff = int(fit.labels.max()) + 1
        centers = self._centers_for(fit, data, w)
        perm = canonical_order(fit.labels, centers, k_eff, w)
        self._perm = perm
        inv = np.argsort(perm)
        labels_sorted = (perm[fit.labels] + 1).astype(np.int64)
        self.labels_ = np.empty_like(labels_sorted)
        self.labels_[order] = labels_sorted
        self.n_segments_ = k_eff
        self.cluster_centers_ = centers[inv]
        self.log_likelihood_ = float(fit.log_likelihood)
        row = self.selection_.loc[self.selection_["k"] == chosen].iloc[0]
        self.bic_ = float(row["bic"])
        self.icl_ = float(row["icl"])
        self.inertia_ = float(getattr(fit, "inertia", np.nan))
        self.stability_ = float(row["stability_median"])
        self.segment_stability_ = seg_stab[chosen]
        if mixture_stab is not None and choice.mixture is not None:  # its own bootstraps
            self.stability_ = float(choice.mixture["stability_median"])
            self.bic_ = float(choice.mixture["bic"])
            self.segment_stability_ = _segment_table(
                fit.labels, mixture_stab, perm, self._shares(fit.labels, k_eff, w)
            )
        self.shape_ = self._shape_of(shapes.get(chosen), perm)
        self.warnings_ = self._segment_warnings(chosen, k_eff, bootstrapped=boots is not None)
        return self

    @staticmethod
    def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
        """Check the weights (finite, non-negative, one per row) and rescale them to mean 1."""
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=float)
        if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all():
            raise ValueError("sample_weight must be one finite non-negative value per row")
        if w.sum() <= 0:
            raise ValueError("sample_weight: every weight is zero; at least one must be positive")
        return w / w.mean()

    def _fit_basis(self, frame: Any, w: np.ndarray | None) -> BasisData:
        """Fit ``basis_`` (weighted standardisation) and encode ``frame`` for the method."""
        self.basis_ = BasisTransformer(
            scale_correction=self.scale_correction,  # type: ignore[arg-type]
            standardize=self.standardize or self.method == "kprototypes",
            impute="median",
        )
        if self.method == "lca":
            self.basis_.standardize = False
        self.basis_.fit(frame, weights=w)  # weighted standardisation
        data = self._data(frame)
        if self.method in ("kmeans", "gmm", "ensemble") and not data.num.shape[1]:  # type: ignore[union-attr]
            raise ValueError("the basis has no usable columns")
        return data

    def _fit_each_k(
        self,
        ks: list[int],
        data: BasisData,
        w: np.ndarray | None,
        seeds: list[np.random.SeedSequence],
    ) -> tuple[dict[int, Any], list[dict]]:
        """Fit every k on the full data; the fits and their fit indices (one row per k)."""
        from threadpoolctl import threadpool_limits

        fits: dict[int, Any] = {}
        rows = []
        # one thread: these fits are small, and OpenMP threads on a busy machine spin
        # (scikit-learn's Lloyd on 800 rows took 0.18 s a restart instead of 2 ms)
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore", category=RuntimeWarning)
            for k, ss in zip(ks, seeds, strict=True):
                fit = _fit_one(
                    self.method,
                    data,
                    k,
                    n_init=self.n_init,
                    rng=np.random.default_rng(ss),
                    covariance_type=self.covariance_type,
                    sample_weight=w,
                    seed=int(self.random_state)
                    if isinstance(self.random_state, Integral)
                    else None,
                )
                fits[k] = fit
                rows.append(self._fit_indices(k, fit, data, w))
        return fits, rows

    def _stability_columns(
        self,
        ks: list[int],
        fits: dict[int, Any],
        sel: pd.DataFrame,
        data: BasisData,
        w: np.ndarray | None,
        boots: Any,
        null_aris: Any,
        null_disp: Any,
    ) -> tuple[dict[int, pd.DataFrame], dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Add the stability, null and per-segment columns to ``sel`` (in place).

        Returns each k's per-segment stability table, its bootstrap ARIs and its canonical
        segment order.
        """
        seg_stab: dict[int, pd.DataFrame] = {}
        boot_aris: dict[int, np.ndarray] = {}
        perms: dict[int, np.ndarray] = {}
        for i, k in enumerate(ks):
            labels = fits[k].labels
            k_eff = int(labels.max()) + 1
            if boots is not None:
                aris = np.array([adjusted_rand(a, b) for a, b in boots[k]])
                sel.loc[i, "stability_median"] = float(np.median(aris))
                sel.loc[i, "stability_q25"] = float(np.quantile(aris, 0.25))
                sel.loc[i, "stability_q75"] = float(np.quantile(aris, 0.75))
                jac = np.array([_best_match_jaccard(labels, p[0], k_eff) for p in boots[k]])
                boot_aris[k] = aris
            else:
                jac = np.full((1, k_eff), np.nan)
            if null_aris:
                na = null_aris[k]
                sel.loc[i, "null_median"] = float(np.median(na))
                sel.loc[i, "null_q05"] = float(np.quantile(na, 0.05))
                sel.loc[i, "null_q95"] = float(np.quantile(na, 0.95))
                wd = float(sel.loc[i, "within_dispersion"])
                sel.loc[i, "dispersion_gap"] = float(
                    np.log(np.mean(null_disp[k])) - np.log(max(wd, 1e-300))
                )
            perm = canonical_order(labels, self._centers_for(fits[k], data, w), k_eff, w)
            perms[k] = perm
            st = _segment_table(labels, jac, perm, self._shares(labels, k_eff, w))
            seg_stab[k] = st
            sel.loc[i, "unstable_segments"] = int(st["flagged"].sum())
            sel.loc[i, "min_segment_jaccard"] = float(st["jaccard_mean"].min())
        for c in (
            "stability_median",
            "stability_q25",
            "stability_q75",
            "null_median",
            "null_q05",
            "null_q95",
            "dispersion_gap",
        ):
            if c not in sel:
                sel[c] = np.nan
        return seg_stab, boot_aris, perms

    def _shape_columns(
        self,
        ks: list[int],
        fits: dict[int, Any],
        sel: pd.DataFrame,
        data: BasisData,
        w: np.ndarray | None,
        *,
        bootstrapped: bool,
    ) -> dict[int, dict[str, Any]]:
        """Density gaps of each k-means solution (``cut_pairs``, ``hidden_groups`` columns;
        NaN where the checks do not apply: other methods, no bootstraps, or a basis with an
        item of fewer than five answers), the population's under survey weights ``w``; the
        rows in canonical order."""
        sel["cut_pairs"] = np.nan
        sel["hidden_groups"] = np.nan
        x = data.num
        if self.method != "kmeans" or not bootstrapped or x is None or not interval_basis(x):
            return {}
        from threadpoolctl import threadpool_limits

        out = {}
        # one thread: small projections, where BLAS threads on a busy machine spin (demo,
        # 3,000 x 29, k = 2..8: 0.4 s on one thread, 3.3 s with the default threads)
        with threadpool_limits(limits=1):
            for i, k in enumerate(ks):
                ev = shape_evidence(x, fits[k].labels, sample_weight=w)
                out[k] = ev
                sel.loc[i, "cut_pairs"] = len(ev["cut_pairs"])
                sel.loc[i, "hidden_groups"] = len(ev["hidden"])
        return out

    def _mixture_refinement(
        self,
        ks: list[int],
        fits: dict[int, Any],
        sel: pd.DataFrame,
        data: BasisData,
        w: np.ndarray | None,
        shapes: dict[int, dict[str, Any]],
        choice: Choice,
        seq: np.random.SeedSequence,
    ) -> tuple[Choice, Any, np.ndarray | None, dict[str, Any]] | None:
        """Where a segment of k-means' choice hides a separate group (k-means does not
        isolate small segments beside a dominant one): split it at its density dip, refit a
        diagonal Gaussian mixture from the split partition (a mixture allows unequal sizes)
        and repeat while a segment still hides a group. The result is delivered when every
        segment is separated from every other by a dip, none is under
        ``min_segment_share`` and its bootstrap refits (EM from its parameters on each
        bootstrap sample, ``n_boot`` of them) pass the reproducibility test against the
        k-means null band at that k. Returns the new choice (with ``mixture``), the fit,
        the per-segment bootstrap Jaccard (None, None where it is not delivered) and the
        mixture's shape evidence, or
        None where it does not apply (unweighted k-means on interval-scaled items only)."""
        if choice.caveat != "hidden_group" or self.n_segments is not None or w is not None:
            return None
        if not shapes or data.num is None:
            return None
        from threadpoolctl import threadpool_limits

        x, k0 = data.num, choice.k_recommended
        labels, gm = fits[k0].labels, None
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while True:
                ev = shape_evidence(x, labels)
                if ev["cut_pairs"]:
                    return None
                if not ev["hidden"]:
                    break
                split = _split_hidden(x, labels, ev["hidden"], hidden_min_rows(len(x)))
                k_new = int(split.max()) + 1
                if k_new > max(ks) or k_new == int(labels.max()) + 1:
                    return None
                gm = _diag_mixture(x, split, k_new)
                labels = gm.predict(x)
                if len(np.unique(labels)) < k_new:
                    return None
            if gm is None:
                return None
            k1 = int(gm.n_components)
            info: dict[str, Any] = {
                "from_k": k0,
                "k": k1,
                "bic": float(gm.bic(x)),
                "bic_from_k": float(_diag_mixture(x, fits[k0].labels, k0).bic(x)),
                "min_segment_share": float(self._shares(labels, k1, None).min()),
            }
            if info["min_segment_share"] < self.min_segment_share:
                return (
                    dataclasses.replace(choice, mixture={**info, "delivered": False}),
                    None,
                    None,
                    ev,
                )
            parts = []
            for ss in np.random.SeedSequence(seq.entropy, spawn_key=(6,)).spawn(
                max(self.n_boot, 3)
            ):
                idx = np.random.default_rng(ss).integers(0, len(x), size=len(x))
                parts.append(_diag_mixture(x[idx], labels[idx], k1, init=gm).predict(x))
        aris = np.array([adjusted_rand(a, b) for a, b in _cyclic_pairs(parts)])
        jac = np.array([_best_match_jaccard(labels, p, k1) for p in parts])
        info.update(
            stability_median=float(np.median(aris)),
            stability_q25=float(np.quantile(aris, 0.25)),
            min_segment_jaccard=float(jac.mean(axis=0).min()),
        )
        verdict = mixture_structure(info, sel.loc[sel["k"] == k1].iloc[0])
        if verdict is None:
            return dataclasses.replace(choice, mixture={**info, "delivered": False}), None, None, ev
        fit = GMMFit(gm, labels, float(gm.score(x) * len(x)), int(gm._n_parameters()), gm.means_)
        new = dataclasses.replace(
            choice,
            k=k1,
            k_recommended=k1,
            structure=verdict,
            data_structure=verdict,
            reason="mixture_separates",
            runner_up=k0,
            next_k=None,
            caveat=None,
            mixture={**info, "delivered": True},
        )
        return new, fit, jac, ev

    @staticmethod
    def _shape_of(ev: dict[str, Any] | None, perm: np.ndarray) -> dict[str, Any] | None:
        """The chosen solution's shape evidence with segments numbered as in ``labels_``."""
        if ev is None:
            return None
        return {
            "cut_pairs": [sorted((int(perm[a]) + 1, int(perm[b]) + 1)) for a, b in ev["cut_pairs"]],
            "hidden": [{"segment": int(perm[c]) + 1, "share": float(sh)} for c, sh in ev["hidden"]],
            "max_pair_ridge": float(ev["max_pair_ridge"]),
            "min_hidden_dip": float(ev["min_hidden_dip"]),
        }

    def _choose_k(
        self,
        ks: list[int],
        sel: pd.DataFrame,
        fits: dict[int, Any],
        perms: dict[int, np.ndarray],
    ) -> Choice:
        """Choose k from the selection table and which segment each k+1 splits."""
        split_of = {}
        for k in ks:
            if k + 1 in fits:
                sp = _split_of(perms[k][fits[k].labels], fits[k + 1].labels)
                split_of[k] = None if sp is None else sp + 1
        by_fit = "bic" if self.method in LIKELIHOOD_METHODS else "calinski_harabasz"
        return choose(
            sel,
            min_share=self.min_segment_share,
            pinned=None if self.n_segments is None else int(self.n_segments),
            split_of=split_of,
            by_fit=by_fit,
        )

    def _segment_warnings(self, chosen: int, k_eff: int, *, bootstrapped: bool) -> list[str]:
        """Warnings on the chosen solution: small and unstable segments, empty segments."""
        msgs: list[str] = []
        small = self.segment_stability_[self.segment_stability_["share"] < self.min_segment_share]
        for _, r in small.iterrows():
            msgs.append(
                f"segment {int(r['segment'])} holds {r['share']:.1%} of respondents, under the "
                f"{self.min_segment_share:.0%} needed to act on it"
            )
        if bootstrapped:
            for _, r in self.segment_stability_[self.segment_stability_["flagged"]].iterrows():
                msgs.append(
                    f"segment {int(r['segment'])} is unstable: it comes back in bootstrap "
                    f"samples with a mean Jaccard agreement of {r['jaccard_mean']:.2f} "
                    f"(below {SEGMENT_STABILITY_FLAG})"
                )
        if k_eff != chosen:
            msgs.append(f"the {self.method} solution has {k_eff} non-empty segments, not {chosen}")
        return msgs

    @staticmethod
    def _canonical_rows(data: BasisData, w: np.ndarray | None) -> np.ndarray:
        """A row order that depends only on the rows' values (and weights), not on the
        order they came in: lexicographic on every column. Equal rows are interchangeable."""
        keys: list[np.ndarray] = []
        if w is not None:
            keys.append(w)
        if data.codes is not None and data.codes.shape[1]:
            keys.extend(data.codes[:, j] for j in range(data.codes.shape[1]))
        if data.num is not None and data.num.shape[1]:
            keys.extend(data.num[:, j] for j in range(data.num.shape[1]))
        if not keys:
            return np.arange(len(data))
        return np.lexsort(keys[::-1])

    def _null_data(self, data: BasisData, seq: np.random.SeedSequence) -> list[BasisData]:
        """``n_null`` data sets with each item permuted on its own (same marginals, no
        association between items)."""
        out = []
        for r in range(self.n_null):
            rng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(2, r)))
            if self.method == "lca":
                from segmentum.segments.lca import one_hot

                codes = permute_columns(data.codes, rng)  # type: ignore[arg-type]
                out.append(
                    BasisData(one_hot(codes, data.n_categories)[0], codes, data.n_categories)
                )
            else:
                num = None if data.num is None else permute_columns(data.num, rng)
                codes = None if data.codes is None else permute_columns(data.codes, rng)
                out.append(BasisData(num, codes, data.n_categories))
        return out

    def _tendency(
        self,
        data: BasisData,
        nulls: list[BasisData],
        seq: np.random.SeedSequence,
        w: np.ndarray | None = None,
    ) -> dict[str, float]:
        """Cluster tendency: Hopkins statistic against uniform points in the data's box and
        against the null data (0.5: no more clustered than the items without association).
        Under unequal survey weights ``w``, the population's: data rows drawn by weight, and
        the null drawn from the items' weighted marginals (:func:`permute_columns`)."""
        x = data.num if data.num is not None and data.num.shape[1] else None
        if x is None:
            x = data.codes.astype(float)  # type: ignore[union-attr]
        rng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(3,)))
        pw = population_weights(w, len(x))
        out = {"hopkins": hopkins(x, rng, sample_weight=pw), "hopkins_vs_null": float("nan")}
        if nulls and pw is not None:
            ref_rng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(7,)))
            nx = permute_columns(x, ref_rng, sample_weight=pw)
            out["hopkins_vs_null"] = hopkins(x, rng, reference=nx, sample_weight=pw)
        elif nulls:
            nx = nulls[0].num if nulls[0].num is not None and nulls[0].num.shape[1] else None
            if nx is None:
                nx = nulls[0].codes.astype(float)  # type: ignore[union-attr]
            out["hopkins_vs_null"] = hopkins(x, rng, reference=nx)
        return out

    def _seed_sequence(self) -> np.random.SeedSequence:
        rs = self.random_state
        if rs is None:
            return np.random.SeedSequence()
        if isinstance(rs, Integral):
            return np.random.SeedSequence(int(rs))
        return np.random.SeedSequence(int(rs.randint(0, 2**31 - 1)))

    @staticmethod
    def _shares(labels: np.ndarray, k: int, w: np.ndarray | None) -> np.ndarray:
        counts = np.bincount(labels, weights=w, minlength=k).astype(float)
        return counts / counts.sum()

    @staticmethod
    def _centers_for(fit: Any, data: BasisData, w: np.ndarray | None = None) -> np.ndarray:
        """Weighted mean of each segment in the basis space (unweighted for a segment whose
        rows all weigh zero)."""
        labels = fit.labels
        k = int(labels.max()) + 1
        x = data.num if data.num is not None and data.num.shape[1] else None
        if x is None:
            x = data.codes.astype(float)  # type: ignore[union-attr]
        rows = []
        for c in range(k):
            m = labels == c
            if not m.any():
                rows.append(np.zeros(x.shape[1]))
            elif w is not None and w[m].sum() > 0:
                rows.append(np.average(x[m], axis=0, weights=w[m]))
            else:
                rows.append(x[m].mean(axis=0))
        return np.vstack(rows)

    def _fit_indices(self, k: int, fit: Any, data: BasisData, w: np.ndarray | None) -> dict:
        labels = fit.labels
        k_eff = int(labels.max()) + 1
        rec: dict[str, float] = {"k": k}
        rec["min_segment_share"] = float(self._shares(labels, k, w).min())
        ll = float(fit.log_likelihood)
        n = len(data)
        if self.method in LIKELIHOOD_METHODS:
            p = fit.n_params
            bic = -2.0 * ll + p * np.log(n)
            rec["log_likelihood"] = ll
            rec["bic"] = bic
            rec["icl"] = bic + 2.0 * entropy_term(fit.predict_proba(data))
        else:
            rec["log_likelihood"] = rec["bic"] = rec["icl"] = np.nan
        x = data.num if data.num is not None and data.num.shape[1] else data.codes.astype(float)  # type: ignore[union-attr]
        if k_eff >= 2 and k_eff < n:
            rng = np.random.default_rng(0)
            sub = rng.choice(n, size=min(n, 2000), replace=False)
            rec["silhouette"] = (
                float(silhouette_score(x[sub], labels[sub]))
                if len(np.unique(labels[sub])) > 1
                else np.nan
            )
            rec["calinski_harabasz"] = float(calinski_harabasz_score(x, labels))
        else:
            rec["silhouette"] = rec["calinski_harabasz"] = np.nan
        cen = self._centers_for(fit, data, w)
        sq = ((x - cen[labels]) ** 2).sum(axis=1)
        rec["within_dispersion"] = float(sq.mean() if w is None else np.average(sq, weights=w))
        return rec

    def _stability(
        self,
        ks: list[int],
        data: BasisData,
        seeds: list[np.random.SeedSequence],
        w: np.ndarray | None,
        nulls: list[BasisData],
        seq: np.random.SeedSequence,
    ) -> tuple[
        dict[int, list[tuple[np.ndarray, np.ndarray]]] | None,
        dict[int, np.ndarray],
        dict[int, list[float]],
    ]:
        """Bootstrap pairs per k on the data, and bootstrap ARIs (and the k-means
        dispersion) per k on each null data set, in one parallel batch."""
        if self.n_boot == 0:
            return None, {}, {}
        # the null costs about a third of the real analysis: its ARIs are spread little
        n_null_boot = max(4, int(np.ceil(self.n_boot / (3 * max(len(nulls), 1)))))
        tasks: list[tuple[int, int, list[np.random.SeedSequence]]] = []  # (data set, k, seeds)
        n_fits = self.n_boot if self.n_boot >= 3 else self.n_boot + 1
        for k, ss in zip(ks, seeds, strict=True):
            per = ss.spawn(n_fits)
            chunk = max(1, int(np.ceil(n_fits / 4)))
            for s in range(0, n_fits, chunk):
                tasks.append((-1, k, per[s : s + chunk]))
        for r in range(len(nulls)):
            for k in ks:
                per = np.random.SeedSequence(seq.entropy, spawn_key=(4, r, k)).spawn(n_null_boot)
                tasks.append((r, k, per))
        n_jobs = self.n_jobs if self.n_jobs is not None else 1
        with workers_die_with_parent():  # no worker outlives a killed run
            results = Parallel(n_jobs=n_jobs)(
                delayed(_bootstrap_partitions)(
                    self.method,
                    data if r < 0 else nulls[r],
                    k,
                    sd,
                    self.n_init,
                    self.covariance_type,
                    w,
                )
                for r, k, sd in tasks
            )
        parts: dict[tuple[int, int], list[np.ndarray]] = {}
        for (r, k, _), res in zip(tasks, results, strict=True):
            parts.setdefault((r, k), []).extend(res)
        out = {k: _cyclic_pairs(parts[(-1, k)])[: self.n_boot] for k in ks}
        null_aris: dict[int, list[float]] = {k: [] for k in ks}
        for r in range(len(nulls)):
            for k in ks:
                null_aris[k].extend(adjusted_rand(a, b) for a, b in _cyclic_pairs(parts[(r, k)]))
        null_disp: dict[int, list[float]] = {k: [] for k in ks}
        if nulls:
            for r, nd in enumerate(nulls):
                x = nd.num if nd.num is not None and nd.num.shape[1] else None
                if x is None:
                    x = nd.codes.astype(float)  # type: ignore[union-attr]
                for k in ks:
                    ss = np.random.SeedSequence(seq.entropy, spawn_key=(5, r, k))
                    null_disp[k].append(_null_dispersion(x, k, ss, self.n_init, w))
        return out, {k: np.asarray(v) for k, v in null_aris.items() if v}, null_disp

    # -- post-fit ---------------------------------------------------------------------
    def _raw_predict_data(self, X: Any) -> BasisData:
        check_is_fitted(self)
        frame = self._as_frame(X, reset=False)
        return self._data(frame)

    def predict(self, X: Any) -> np.ndarray:
        """Segment (1..k) of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_items)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        data = self._raw_predict_data(X)
        return (self._perm[self._fit.predict(data)] + 1).astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Membership probabilities; column j is segment j + 1 (see Notes of the class)."""
        data = self._raw_predict_data(X)
        proba = self._fit.predict_proba(data)
        return proba[:, np.argsort(self._perm)]

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
