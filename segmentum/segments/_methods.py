"""The clustering methods behind :class:`NeedsSegmenter`, one small fitted object each.

Every method fits one number of segments ``k`` on a :class:`BasisData` and returns an
object with ``labels`` (0..k-1 on the fitted rows), ``predict``/``predict_proba`` for any
rows, ``centers`` in the numeric space (where defined) and fit statistics
(``log_likelihood``, ``n_params`` for mixtures and latent class, ``inertia``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.mixture import GaussianMixture

from segmentum.segments.lca import LCAResult, fit_lca

# Above this many rows k-means restarts run on a subsample and only the best candidates are
# refined on all rows (see ``fit_kmeans``).
_KMEANS_SUBSAMPLE_ABOVE = 200_000


@dataclass
class BasisData:
    """The basis as the methods see it: a numeric matrix and/or categorical codes."""

    num: np.ndarray | None = None  # (n, p) float, prepared (imputed, scaled)
    codes: np.ndarray | None = None  # (n, J) int, -1 missing
    n_categories: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.num) if self.num is not None else len(self.codes)  # type: ignore[arg-type]

    def take(self, idx: np.ndarray) -> BasisData:
        return BasisData(
            None if self.num is None else self.num[idx],
            None if self.codes is None else self.codes[idx],
            self.n_categories,
        )


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _sq_dist(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances rows × centres (BLAS: |x|² - 2x·c + |c|²)."""
    xc = x @ centers.T
    d = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * xc + np.einsum("ij,ij->i", centers, centers)
    return np.maximum(d, 0.0)


def nearest_center(x: np.ndarray, centers: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    """Index of the nearest centre per row, in chunks (memory stays bounded).

    Uses argmin of ``|c|² - 2x·c`` (the row norm does not change the argmin), one GEMM per
    chunk, in the dtype of ``x``.
    """
    centers = np.asarray(centers, dtype=x.dtype)
    cn = 0.5 * np.einsum("ij,ij->i", centers, centers)
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), chunk):
        blk = x[s : s + chunk]
        out[s : s + chunk] = np.argmin(cn[None, :] - blk @ centers.T, axis=1)
    return out


# -- k-means ------------------------------------------------------------------------------
@dataclass
class KMeansFit:
    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    sigma2: float  # pooled within-segment variance per dimension (soft membership scale)

    log_likelihood: float = float("nan")
    n_params: int = 0

    def predict(self, data: BasisData) -> np.ndarray:
        return nearest_center(data.num, self.centers)  # type: ignore[arg-type]

    def predict_proba(self, data: BasisData) -> np.ndarray:
        """Soft membership: posterior of an equal-weight spherical Gaussian mixture with the
        k-means centres and the pooled within-segment variance, ``softmax(-d²/2σ²)``."""
        d = _sq_dist(data.num, self.centers)  # type: ignore[arg-type]
        return softmax(-d / (2.0 * max(self.sigma2, 1e-12)), axis=1)


def hartigan_refine(
    x: np.ndarray,
    labels: np.ndarray,
    k: int,
    sample_weight: np.ndarray | None = None,
    max_moves: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hartigan–Wong single-point transfers after Lloyd (Telgarsky & Vattani 2010).

    Moving point i (weight w) from segment a (total weight W_a) to b changes the
    within-segment sum of squares by ``W_b w/(W_b + w) d²(i, b) - W_a w/(W_a - w) d²(i, a)``.
    Lloyd stops when no point is nearer another centre; Hartigan continues while any
    transfer lowers the objective, so every Lloyd optimum it starts from can only improve.
    The best transfer is applied one at a time, updating two centres incrementally.
    """
    n = len(x)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    labels = labels.copy()
    tot = np.bincount(labels, weights=w, minlength=k).astype(float)
    centers = np.zeros((k, x.shape[1]))
    np.add.at(centers, labels, x * w[:, None])
    centers /= np.maximum(tot, 1e-300)[:, None]
    d2 = _sq_dist(x, centers)
    rows = np.arange(n)
    max_moves = 10 * n if max_moves is None else max_moves
    scale = float(np.mean(d2[rows, labels])) + 1e-300
    for _ in range(max_moves):
        wa = tot[labels]
        with np.errstate(divide="ignore", invalid="ignore"):
            remove = np.where(wa > w, wa * w / (wa - w), np.inf) * d2[rows, labels]
        add = (tot[None, :] * w[:, None] / (tot[None, :] + w[:, None])) * d2
        add[rows, labels] = np.inf
        best_b = np.argmin(add, axis=1)
        gain = remove - add[rows, best_b]
        gain[~np.isfinite(gain)] = -np.inf
        i = int(np.argmax(gain))
        if not gain[i] > 1e-10 * scale:
            break
        a, b, wi = int(labels[i]), int(best_b[i]), w[i]
        centers[a] = (centers[a] * tot[a] - wi * x[i]) / (tot[a] - wi)
        centers[b] = (centers[b] * tot[b] + wi * x[i]) / (tot[b] + wi)
        tot[a] -= wi
        tot[b] += wi
        labels[i] = b
        for c in (a, b):
            diff = x - centers[c]
            d2[:, c] = np.einsum("ij,ij->i", diff, diff)
    return labels, centers


def fit_kmeans(
    x: np.ndarray,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    sample_weight: np.ndarray | None = None,
    seed: int | None = None,
    refine: bool = True,
) -> KMeansFit:
    """k-means with ``n_init`` k-means++ restarts, best inertia kept.

    We run scikit-learn's Lloyd iterations (Cython, OpenMP, chunked, float32-aware): a
    NumPy re-implementation was not faster and would only add risk, and equal seeds give
    inertias identical to ``sklearn.cluster.KMeans``. Above 200,000 rows the restarts run on
    a 100,000-row subsample and the best three solutions are refined on all rows, keeping
    the lowest full-data inertia; this is faster than ``n_init`` full-data runs and, since
    the refinement is Lloyd on all rows, its inertia is a true local optimum there too.

    With ``seed`` the restarts are exactly those of ``KMeans(random_state=seed)``; with
    ``refine`` (up to 200,000 rows) the best solution is then improved by Hartigan
    transfers (:func:`hartigan_refine`), so the inertia is never above scikit-learn's with
    the same seed and ``n_init``, and often below.
    """
    from sklearn.cluster import KMeans

    n = len(x)
    if n <= _KMEANS_SUBSAMPLE_ABOVE or n_init <= 1:
        rs = _seed(rng) if seed is None else seed
        km = KMeans(k, n_init=n_init, random_state=rs, algorithm="lloyd")
        km.fit(x, sample_weight=sample_weight)
        centers, labels, inertia = km.cluster_centers_, km.labels_, float(km.inertia_)
        if refine and n <= _KMEANS_SUBSAMPLE_ABOVE:
            xl = np.asarray(x, dtype=float)
            new_labels, new_centers = hartigan_refine(xl, labels.astype(np.int64), k, sample_weight)
            d = _sq_dist(xl, new_centers)[np.arange(n), new_labels]
            new_inertia = float(d.sum() if sample_weight is None else d @ sample_weight)
            if new_inertia < inertia:
                centers, labels, inertia = new_centers.astype(x.dtype), new_labels, new_inertia
    else:
        sub = rng.choice(n, size=100_000, replace=False)
        sw = None if sample_weight is None else sample_weight[sub]
        cands = []
        for _ in range(n_init):
            km = KMeans(k, n_init=1, random_state=_seed(rng), algorithm="lloyd")
            km.fit(x[sub], sample_weight=sw)
            cands.append((km.inertia_, km.cluster_centers_))
        cands.sort(key=lambda c: c[0])
        best = None
        for _, init in cands[:3]:
            km = KMeans(k, init=init, n_init=1, algorithm="lloyd")
            km.fit(x, sample_weight=sample_weight)
            if best is None or km.inertia_ < best.inertia_:
                best = km
        assert best is not None
        centers, labels, inertia = best.cluster_centers_, best.labels_, float(best.inertia_)
    wsum = float(n if sample_weight is None else sample_weight.sum())
    sigma2 = inertia / max(wsum * x.shape[1], 1.0)
    return KMeansFit(centers, labels.astype(np.int64), inertia, sigma2)


# -- Gaussian mixtures --------------------------------------------------------------------
@dataclass
class GMMFit:
    model: object
    labels: np.ndarray
    log_likelihood: float
    n_params: int
    centers: np.ndarray
    inertia: float = float("nan")

    def predict(self, data: BasisData) -> np.ndarray:
        return self.model.predict(data.num)  # type: ignore[attr-defined]

    def predict_proba(self, data: BasisData) -> np.ndarray:
        return self.model.predict_proba(data.num)  # type: ignore[attr-defined]


class WeightedGaussianMixture(GaussianMixture):  # type: ignore[misc]
    """scikit-learn's ``GaussianMixture`` whose EM weighs each row by a survey weight.

    scikit-learn's mixture has no ``sample_weight``. Weighted EM only changes two things:
    the M-step's responsibilities are multiplied by the row weights (so every mean,
    covariance and mixing proportion is a weighted estimate), and the convergence criterion
    is the weighted mean log-likelihood; the k-means start is weighted too. These are hooks
    of scikit-learn's EM loop (``_initialize_parameters``, ``_initialize``, ``_m_step``,
    ``_e_step``), so the rest (``n_init`` starts, regularisation, convergence, ``predict``)
    is scikit-learn's own. A test checks that
    integer weights give the fit of the data with rows repeated, which would catch a change in
    those hooks.
    """

    sample_weight_: np.ndarray

    # keyword arguments (scikit-learn >= 1.8 passes its array namespace ``xp``) go
    # through unchanged
    def _initialize(self, X: np.ndarray, resp: np.ndarray, **kw: Any) -> None:
        super()._initialize(X, resp * self.sample_weight_[:, None], **kw)

    def _initialize_parameters(self, X: np.ndarray, random_state: Any, **kw: Any) -> None:
        # scikit-learn's k-means start, with the weights: a zero-weight group must not
        # get a component of its own
        from sklearn.cluster import KMeans

        km = KMeans(self.n_components, n_init=1, random_state=random_state)
        labels = km.fit(X, sample_weight=self.sample_weight_).labels_
        resp = np.zeros((len(X), self.n_components), dtype=X.dtype)
        resp[np.arange(len(X)), labels] = 1.0
        self._initialize(X, resp, **kw)

    def _e_step(self, X: np.ndarray, **kw: Any) -> tuple[float, np.ndarray]:
        log_prob_norm, log_resp = self._estimate_log_prob_resp(X, **kw)
        mean = np.average(np.asarray(log_prob_norm), weights=self.sample_weight_)
        return float(mean), log_resp

    def _m_step(self, X: np.ndarray, log_resp: np.ndarray, **kw: Any) -> None:
        with np.errstate(divide="ignore"):  # weight 0: log 0 = -inf, exp(-inf) = 0
            log_w = np.log(self.sample_weight_)
        super()._m_step(X, log_resp + log_w[:, None], **kw)


def _weighted_gaussian_mixture(**params: object) -> object:
    """A :class:`WeightedGaussianMixture` (a module-level class, so that a fitted one can
    be saved and loaded by name)."""
    return WeightedGaussianMixture(**params)


def fit_gmm(
    x: np.ndarray,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    covariance_type: str,
    sample_weight: np.ndarray | None = None,
) -> GMMFit:
    """Gaussian mixture by scikit-learn's EM (k-means initialisation, ``n_init`` starts);
    with ``sample_weight``, weighted EM (:func:`_weighted_gaussian_mixture`)."""
    from sklearn.mixture import GaussianMixture

    params = dict(
        n_components=k,
        covariance_type=covariance_type,
        n_init=n_init,
        random_state=_seed(rng),
        reg_covar=1e-6,
        max_iter=500,
    )
    if sample_weight is None:
        gm = GaussianMixture(**params).fit(x)  # type: ignore[arg-type]
        ll = float(gm.score(x) * len(x))
    else:
        gm = _weighted_gaussian_mixture(**params)
        gm.sample_weight_ = np.asarray(sample_weight, dtype=float)  # type: ignore[attr-defined]
        gm.fit(x)  # type: ignore[attr-defined]
        ll = float(gm.score_samples(x) @ gm.sample_weight_)  # type: ignore[attr-defined]
    return GMMFit(gm, gm.predict(x), ll, int(gm._n_parameters()), gm.means_)  # type: ignore[attr-defined]


# -- latent class -------------------------------------------------------------------------
@dataclass
class LCAFit:
    result: LCAResult
    labels: np.ndarray
    log_likelihood: float
    n_params: int
    centers: np.ndarray | None = None
    inertia: float = float("nan")

    def predict(self, data: BasisData) -> np.ndarray:
        return np.argmax(self.result.log_posterior(data.codes), axis=1)  # type: ignore[arg-type]

    def predict_proba(self, data: BasisData) -> np.ndarray:
        return np.exp(self.result.log_posterior(data.codes))  # type: ignore[arg-type]


def fit_latent_class(
    data: BasisData,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    sample_weight: np.ndarray | None = None,
    quick: bool = False,
) -> LCAFit:
    """Latent class model; ``quick`` (bootstrap fits, where only the partition matters)
    continues the best 2 starts (not 4) after the burn-in and stops at a relative
    log-likelihood gain of 1e-6 instead of 1e-9."""
    res = fit_lca(
        data.codes,  # type: ignore[arg-type]
        data.n_categories,
        k,
        tol=1e-6 if quick else 1e-9,
        n_keep=2 if quick else 4,
        n_init=max(n_init, 1),
        weights=sample_weight,
        random_state=_seed(rng),
    )
    post = res.log_posterior(data.codes)  # type: ignore[arg-type]
    return LCAFit(res, np.argmax(post, axis=1), res.log_likelihood, res.n_params)


# -- k-prototypes -------------------------------------------------------------------------
@dataclass
class KPrototypesFit:
    centers: np.ndarray  # numeric part (k, p)
    modes: np.ndarray  # categorical part (k, J)
    gamma: float
    labels: np.ndarray
    inertia: float
    log_likelihood: float = float("nan")
    n_params: int = 0

    def _cost(self, data: BasisData) -> np.ndarray:
        n = len(data)
        cost = np.zeros((n, len(self.modes)))
        if data.num is not None and data.num.shape[1]:
            cost += _sq_dist(data.num, self.centers)
        if data.codes is not None and data.codes.shape[1]:
            c = data.codes
            mism = (c[:, None, :] != self.modes[None, :, :]) & (c[:, None, :] >= 0)
            cost += self.gamma * mism.sum(axis=2)
        return cost

    def predict(self, data: BasisData) -> np.ndarray:
        return np.argmin(self._cost(data), axis=1)

    def predict_proba(self, data: BasisData) -> np.ndarray:
        cost = self._cost(data)
        scale = max(self.inertia / max(len(data), 1), 1e-12)
        return softmax(-cost / scale, axis=1)


def _modes(
    codes: np.ndarray, labels: np.ndarray, k: int, n_cats: list[int], w: np.ndarray
) -> np.ndarray:
    """Per segment and item, the category with the largest total weight."""
    out = np.zeros((k, codes.shape[1]), dtype=np.int64)
    for j, c in enumerate(n_cats):
        ok = codes[:, j] >= 0
        counts = np.zeros((k, c))
        np.add.at(counts, (labels[ok], codes[ok, j]), w[ok])
        out[:, j] = counts.argmax(axis=1)
    return out


def fit_kprototypes(
    data: BasisData,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    gamma: float | None = None,
    max_iter: int = 100,
    sample_weight: np.ndarray | None = None,
) -> KPrototypesFit:
    """k-prototypes (Huang 1998): squared Euclidean distance on numeric items plus
    ``gamma`` × number of mismatches on categorical items (missing codes do not count).

    ``gamma`` defaults to half the mean standard deviation of the numeric items (Huang's
    suggestion), or 1 with no numeric items. Batch (Lloyd-style) updates from ``n_init``
    random initial prototypes; the lowest cost is kept. With ``sample_weight`` the cost is
    the weighted sum, centres are weighted means, modes the categories with the largest
    total weight, and initial prototypes are drawn with probability proportional to weight.
    """
    n = len(data)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    p_init = w / w.sum()
    if np.count_nonzero(p_init) < k:
        raise ValueError(f"k-prototypes needs at least {k} rows with a positive weight")
    num = data.num if data.num is not None else np.zeros((n, 0))
    codes = data.codes if data.codes is not None else np.zeros((n, 0), dtype=np.int64)
    if gamma is None:
        gamma = 0.5 * float(num.std(axis=0).mean()) if num.shape[1] else 1.0
        gamma = gamma if gamma > 0 else 1.0
    best: KPrototypesFit | None = None
    for _ in range(max(n_init, 1)):
        idx = rng.choice(n, size=k, replace=False, p=p_init)
        fit = KPrototypesFit(num[idx].copy(), np.maximum(codes[idx], 0), gamma, np.zeros(n), 0.0)
        labels = None
        for _it in range(max_iter):
            cost = fit._cost(BasisData(num, codes, data.n_categories))
            new = np.argmin(cost, axis=1)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            counts = np.bincount(labels, weights=w, minlength=k)
            empty = np.flatnonzero(counts <= 0)
            if empty.size:  # re-seed empty clusters at the worst-fitting weighted rows
                badness = np.where(w > 0, cost[np.arange(n), labels], -np.inf)
                worst = np.argsort(-badness)[: empty.size]
                labels[worst] = empty
                counts = np.bincount(labels, weights=w, minlength=k)
            if num.shape[1]:
                sums = np.zeros((k, num.shape[1]))
                np.add.at(sums, labels, num * w[:, None])
                fit.centers = sums / np.maximum(counts, 1e-300)[:, None]
            if codes.shape[1]:
                fit.modes = _modes(codes, labels, k, data.n_categories, w)
        assert labels is not None
        cost = fit._cost(BasisData(num, codes, data.n_categories))
        fit.labels = np.argmin(cost, axis=1)
        fit.inertia = float(cost[np.arange(n), fit.labels] @ w)
        if best is None or fit.inertia < best.inertia:
            best = fit
    assert best is not None
    return best


# -- ensemble (consensus through co-association) ------------------------------------------
@dataclass
class EnsembleFit:
    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    sigma2: float
    n_solutions: int
    log_likelihood: float = float("nan")
    n_params: int = 0

    def predict(self, data: BasisData) -> np.ndarray:
        return nearest_center(data.num, self.centers)  # type: ignore[arg-type]

    def predict_proba(self, data: BasisData) -> np.ndarray:
        d = _sq_dist(data.num, self.centers)  # type: ignore[arg-type]
        return softmax(-d / (2.0 * max(self.sigma2, 1e-12)), axis=1)


def fit_ensemble(
    x: np.ndarray,
    k: int,
    *,
    n_init: int,
    rng: np.random.Generator,
    n_resamples: int = 10,
    linkage_max_n: int = 3000,
    sample_weight: np.ndarray | None = None,
) -> EnsembleFit:
    """Consensus clustering in the spirit of Sawtooth's CCEA.

    Base solutions: k-means (single random restart each) and diagonal Gaussian mixtures,
    for k-1, k and k+1 segments, each fitted on a bootstrap resample and predicted on all
    rows: ``n_resamples`` resamples × 2 methods (one random restart each) × 3 values of k.
    The co-association matrix C (share of solutions putting i and j together) is cut by
    average linkage on ``1 - C`` (n ≤ 3000), or, for larger n, by k-means on the one-hot
    membership matrix H (``C = H Hᵀ / m``, so squared distances between rows of H are
    ``2 m (1 - C_ij)``): the same criterion without the n × n matrix.
    Consensus segments are then scored on new rows by their nearest centroid.

    With ``sample_weight`` the resamples draw rows with probability proportional to weight
    (a weighted bootstrap), the k-means cut of the memberships is weighted, and centroids
    and inertia are weighted; the average-linkage cut treats rows alike.
    """
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    n = len(x)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    p_boot = None if sample_weight is None else w / w.sum()
    ks = [kk for kk in (k - 1, k, k + 1) if 2 <= kk < n]
    blocks: list[np.ndarray] = []
    for _r in range(max(1, n_resamples)):
        boot = rng.choice(n, size=n, p=p_boot)
        for kk in ks:
            km = KMeans(kk, n_init=1, random_state=_seed(rng)).fit(x[boot])
            blocks.append(nearest_center(x, km.cluster_centers_))
            gm = GaussianMixture(
                kk, covariance_type="diag", random_state=_seed(rng), reg_covar=1e-6
            ).fit(x[boot])
            blocks.append(gm.predict(x))
    m = len(blocks)
    if n <= linkage_max_n:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform

        h = np.hstack([np.eye(int(b.max()) + 1)[b] for b in blocks])
        dist = 1.0 - (h @ h.T) / m
        np.fill_diagonal(dist, 0.0)
        z = linkage(squareform(dist, checks=False), method="average")
        labels = fcluster(z, t=k, criterion="maxclust") - 1
    if n > linkage_max_n or np.bincount(labels).min() < max(2, 0.01 * n):
        # large n, or average linkage left stray tiny groups: k-means on the memberships
        h = np.hstack([np.eye(int(b.max()) + 1)[b] for b in blocks])
        cut = KMeans(k, n_init=max(1, n_init), random_state=_seed(rng))
        labels = cut.fit(h, sample_weight=sample_weight).labels_
    # consensus labels → weighted centroids → nearest centroid, twice; segments left without
    # weight or rows are dropped, so labels are 0..k'-1 and agree with ``predict``
    for _ in range(2):
        centers = _weighted_centroids(x, _relabel_dense(labels), w)
        labels = nearest_center(x, centers)
    used = np.unique(labels)
    centers, labels = centers[used], _relabel_dense(labels)
    inertia = float(_sq_dist(x, centers)[np.arange(n), labels] @ w)
    sigma2 = inertia / max(float(w.sum()) * x.shape[1], 1.0)
    return EnsembleFit(centers, labels, inertia, sigma2, m)


def _weighted_centroids(x: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted centroids of the segments that hold some weight (renumbered densely)."""
    tot = np.bincount(labels, weights=w)
    keep = np.flatnonzero(tot > 0)
    sums = np.zeros((len(tot), x.shape[1]))
    np.add.at(sums, labels, x * w[:, None])
    return sums[keep] / tot[keep, None]


def _relabel_dense(labels: np.ndarray) -> np.ndarray:
    _, inv = np.unique(labels, return_inverse=True)
    return inv.astype(np.int64)


def entropy_term(proba: np.ndarray) -> float:
    """``-sum_i sum_k tau_ik log tau_ik`` (classification entropy, for ICL)."""
    p = np.clip(proba, 1e-300, 1.0)
    return float(-(proba * np.log(p)).sum())
