"""Projection of the survey's segments onto the whole customer base.

A multinomial logit learns segment membership from what the customer database knows
(descriptors, acquisition channel, value features, product and channel mix, event counts) on
the respondents linked to customers. Its cross-validated accuracy, confusion matrix and
calibration are reported against the proportional chance criterion, and a verdict in words
says when the database cannot tell the segments apart (seed 004: demographic database
segments "told the organization little"). Segment sizes in the base are corrected for
misclassification by adjusted classify-and-count (Forman 2008): with ``M[i, j] =
P(predicted j | true i)`` from the cross-validation and ``q`` the predicted shares in the
base, the true shares ``π`` solve ``q = Mᵀ π`` (π ≥ 0, Σ π = 1); the interval comes from a
bootstrap of the held-out pairs.

The fitted model is plain numbers (:class:`ProjectionModel`): standardisation folded into
the weights, so projecting millions of customers is one matrix product and a softmax.

References
----------
Forman, G. (2008). Quantifying counts and costs via classification. *Data Mining and
Knowledge Discovery* 17, 164-206.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentum.valuation.typing_tool import proportional_chance

__all__ = [
    "Projection",
    "ProjectionModel",
    "adjusted_shares",
    "adjusted_shares_from_counts",
    "customer_features",
    "fit_projection",
]

_MAX_LEVELS = 20


def customer_features(
    customers: pd.DataFrame | None = None,
    *,
    id_column: str,
    per_customer: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    event_type: str | None = None,
    categorical: list[str] | None = None,
    numeric: list[str] | None = None,
    transactions: pd.DataFrame | None = None,
    mix_columns: list[str] | None = None,
) -> pd.DataFrame:
    """One row per customer of what the database knows, indexed by customer id.

    Numeric columns stay numeric, categorical ones become ``category`` dtype (the model
    one-hot encodes them); event counts per type (``events_<type>``) and shares of the
    transactions in each level of ``mix_columns`` (``mix_<col>=<level>``: product and
    channel mix) are added when given.

    Parameters
    ----------
    customers : pandas.DataFrame, optional
        Customer descriptors and acquisition channel.
    id_column : str
        Customer id column of every table given.
    per_customer : pandas.DataFrame, optional
        The value stage's per-customer table (RFM, CLV, …; dates are dropped).
    events : pandas.DataFrame, optional
        Events; counted per ``event_type``.
    categorical, numeric : list of str, optional
        Columns of ``customers`` to use (default: every non-id, non-date column by dtype).
    transactions : pandas.DataFrame, optional
        Transactions, for the mix shares of ``mix_columns``.
    """
    parts: list[pd.DataFrame] = []
    if customers is not None:
        c = customers.set_index(id_column)
        if categorical is None and numeric is None:
            cols = [x for x in c.columns if not pd.api.types.is_datetime64_any_dtype(c[x])]
            numeric = [x for x in cols if pd.api.types.is_numeric_dtype(c[x])]
            categorical = [x for x in cols if x not in numeric]
        cat = c[list(categorical or [])].astype("category")
        parts.append(pd.concat([c[list(numeric or [])].astype(float), cat], axis=1))
    if per_customer is not None:
        p = per_customer.set_index(id_column)
        keep = [x for x in p.columns if pd.api.types.is_numeric_dtype(p[x])]
        parts.append(p[keep].astype(float))
    if events is not None and event_type is not None:
        counts = events.groupby([id_column, event_type], observed=True).size().unstack(fill_value=0)
        counts.columns = [f"events_{x}" for x in counts.columns]
        parts.append(counts.astype(float))
    if transactions is not None:
        for col in mix_columns or []:
            share = pd.crosstab(transactions[id_column], transactions[col], normalize="index")
            share.columns = [f"mix_{col}={x}" for x in share.columns]
            parts.append(share.astype(float))
    if not parts:
        raise ValueError("customer features: give at least one of customers, per_customer")
    out = parts[0].join(parts[1:], how="left") if len(parts) > 1 else parts[0]
    for c in out.columns:
        if c.startswith(("events_", "mix_")):
            out[c] = out[c].fillna(0.0)
    out.index.name = id_column
    return out


@dataclass(frozen=True)
class ProjectionModel:
    """A fitted projection in plain numbers.

    Scores of segment k for a customer: ``b[k] + Σ_j W[k, j] · x_j + Σ_c T_c[level_c, k]``
    over the numeric columns ``x`` (missing values replaced by ``fill``) and one lookup table
    ``T_c`` per categorical column (unseen levels score 0); the membership probabilities
    are their softmax.
    """

    segments: tuple[int, ...]
    numeric: tuple[str, ...]
    fill: np.ndarray
    weights: np.ndarray  # segments × numeric (standardisation folded in)
    intercepts: np.ndarray
    categorical: dict[str, tuple[list[Any], np.ndarray]]  # column → (levels, levels × segments)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (``model/projection.json``)."""
        return {
            "format": "segmentum.projection",
            "version": 1,
            "segments": list(self.segments),
            "numeric": list(self.numeric),
            "fill": [float(v) for v in self.fill],
            "weights": self.weights.tolist(),
            "intercepts": [float(v) for v in self.intercepts],
            "categorical": {
                c: {"levels": [str(v) for v in lv], "weights": t.tolist()}
                for c, (lv, t) in self.categorical.items()
            },
            "how_to_score": (
                "score_k = intercepts[k] + sum_j weights[k][j] * x_j (numeric columns in the "
                "order of 'numeric', a missing value replaced by 'fill') + for each "
                "categorical column c, categorical[c].weights[level][k] (0 for a level not "
                "listed); probabilities = softmax of the scores; segment = the largest."
            ),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "projection.json") -> ProjectionModel:
        """Read the JSON form back, checking every field's shape (untrusted input)."""

        def bad(msg: str) -> ValueError:
            return ValueError(f"{source}: {msg}")

        if not isinstance(data, dict) or data.get("format") != "segmentum.projection":
            raise bad("not a segmentum projection (field 'format')")
        try:
            segs = tuple(int(s) for s in data["segments"])
            numeric = tuple(str(c) for c in data["numeric"])
            fill = np.asarray(data["fill"], dtype=float)
            W = np.asarray(data["weights"], dtype=float)
            b = np.asarray(data["intercepts"], dtype=float)
            cats = {
                str(c): (list(v["levels"]), np.asarray(v["weights"], dtype=float))
                for c, v in dict(data["categorical"]).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"malformed field ({exc})") from exc
        k, m = len(segs), len(numeric)
        if W.shape != (k, m) or b.shape != (k,) or fill.shape != (m,):
            raise bad(f"'weights' must be {k} x {m}, 'intercepts' {k}, 'fill' {m} numbers")
        for c, (lv, t) in cats.items():
            if t.shape != (len(lv), k):
                raise bad(f"'categorical.{c}.weights' must be {len(lv)} x {k}")
        if not all(np.isfinite(a).all() for a in (W, b, fill, *[t for _, t in cats.values()])):
            raise bad("numbers must be finite")
        return cls(segs, numeric, fill, W, b, cats)

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        """Linear scores (rows × segments)."""
        X = features[list(self.numeric)].to_numpy(dtype=float)
        if np.isnan(X).any():
            X = np.where(np.isnan(X), self.fill, X)
        s = X @ self.weights.T
        s += self.intercepts
        for codes, padded in self._codes(features):
            s += padded[codes]
        return s

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Membership probabilities (rows × segments)."""
        s = self.scores(features)
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return s

    def _codes(self, features: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for col, (levels, table) in self.categorical.items():
            values = features[col]
            if isinstance(values.dtype, pd.CategoricalDtype) and list(
                values.cat.categories
            ) == list(levels):
                codes = values.cat.codes.to_numpy()
            else:
                codes = pd.Index(levels).get_indexer(values.astype(object))
            padded = np.vstack([table, np.zeros((1, table.shape[1]))])
            out.append((codes, padded))  # code -1 (unseen or missing) picks the zero row
        return out

    def project(self, features: pd.DataFrame) -> pd.DataFrame:
        """``segment`` and ``segment_probability`` (the top membership probability) of every
        row, on ``features``' index.

        Computed segments × rows: the numeric block of a DataFrame is stored column-major,
        so its transpose feeds one wide matrix product (several times faster than the
        tall-and-narrow ``X @ W.T``); the top probability is ``1 / Σ_j exp(s_j - s_max)``.
        """
        n = len(features)
        XT = features[list(self.numeric)].to_numpy(dtype=float).T
        if not XT.flags["C_CONTIGUOUS"]:
            XT = np.ascontiguousarray(XT)
        if n and np.isnan(XT.sum()):
            XT = np.where(np.isnan(XT), self.fill[:, None], XT)
        S = self.weights @ XT
        S += self.intercepts[:, None]
        for codes, padded in self._codes(features):
            S += np.take(np.ascontiguousarray(padded.T), codes, axis=1)
        best = S.argmax(axis=0)
        top = np.take_along_axis(S, best[None, :], axis=0)
        S -= top
        np.exp(S, out=S)
        prob = 1.0 / S.sum(axis=0)
        return pd.DataFrame(
            {
                "segment": np.asarray(self.segments, dtype=np.int64)[best],
                "segment_probability": prob,
            },
            index=features.index,
        )


def _design(
    features: pd.DataFrame,
) -> tuple[np.ndarray, list[str], list[str], dict[str, list[Any]], np.ndarray]:
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    cats = [c for c in features.columns if c not in numeric]
    num = features[numeric].to_numpy(dtype=float)
    fill = np.nanmedian(num, axis=0) if num.size else np.zeros(len(numeric))
    fill = np.where(np.isnan(fill), 0.0, fill)
    num = np.where(np.isnan(num), fill, num)
    blocks = [num]
    levels: dict[str, list[Any]] = {}
    for c in cats:
        counts = features[c].astype(object).value_counts()
        lv = list(counts.index[:_MAX_LEVELS])
        levels[c] = lv
        codes = pd.Index(lv).get_indexer(features[c].astype(object))
        blocks.append((codes[:, None] == np.arange(len(lv))[None, :]).astype(float))
    return np.hstack(blocks), numeric, cats, levels, fill


@dataclass(frozen=True)
class Projection:
    """What :func:`fit_projection` finds.

    Attributes
    ----------
    model : ProjectionModel
    accuracy : float
        Cross-validated accuracy on the linked respondents.
    chance : float
        Proportional chance criterion of their segments.
    n_train : int
    confusion : pandas.DataFrame
        Cross-validated counts, rows survey segment, columns projected segment.
    calibration : pandas.DataFrame
        Bins of the top probability: ``mean_probability``, ``accuracy``, ``n``.
    brier : float
        Multiclass Brier score of the cross-validated probabilities.
    ece : float
        Expected calibration error: the bins' mean |top probability - accuracy|, weighted by
        their counts.
    verdict : str
        In words: whether the database tells the segments apart.
    informative : bool
        Accuracy clearly above chance (one-sided binomial test at 1 % and a lift over chance
        of at least 1.2).
    """

    model: ProjectionModel
    accuracy: float
    chance: float
    n_train: int
    confusion: pd.DataFrame
    calibration: pd.DataFrame
    brier: float
    ece: float
    verdict: str
    informative: bool

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (``segments.json``'s top-level ``projection``)."""
        return {
            "accuracy": float(self.accuracy),
            "chance": float(self.chance),
            "n_train": int(self.n_train),
            "brier": float(self.brier),
            "ece": float(self.ece),
            "informative": bool(self.informative),
            "verdict": self.verdict,
            "confusion_matrix": {
                "segments": [int(s) for s in self.confusion.index],
                "counts": self.confusion.to_numpy().astype(int).tolist(),
            },
            "calibration": self.calibration.to_dict(orient="records"),
        }

    def adjusted_shares(
        self, projected: np.ndarray, *, n_boot: int = 200, level: float = 0.9, seed: int = 0
    ) -> pd.DataFrame:
        """Segment shares of the base corrected for misclassification, with an interval.

        Parameters
        ----------
        projected : array of int
            Projected segment of every customer.
        """
        return adjusted_shares(self.confusion, projected, n_boot=n_boot, level=level, seed=seed)


def _acc_solve(M: np.ndarray, q: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    k = M.shape[0]
    # q = Mᵀ π with Σ π = 1 (a heavily weighted extra row), π ≥ 0
    A = np.vstack([M.T, 100.0 * np.ones((1, k))])
    b = np.concatenate([q, [100.0]])
    pi, _ = nnls(A, b)
    return pi / pi.sum() if pi.sum() > 0 else np.full(k, 1.0 / k)


def adjusted_shares(
    confusion: pd.DataFrame,
    projected: np.ndarray,
    *,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """Adjusted classify-and-count (Forman 2008) with a bootstrap interval.

    Parameters
    ----------
    confusion : pandas.DataFrame
        Held-out counts, rows true segment, columns predicted segment (same order).
    projected : array of int
        Predicted segment of every unit of the population.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``projected_share`` (raw classify and count), ``adjusted_share``,
        ``low``, ``high``.
    """
    segs = np.asarray(confusion.index)
    pos = {int(s): i for i, s in enumerate(segs)}
    codes = np.array([pos.get(int(s), -1) for s in np.asarray(projected)], dtype=np.int64)
    counts = np.bincount(codes[codes >= 0], minlength=segs.size)
    return adjusted_shares_from_counts(
        confusion, pd.Series(counts, index=segs), n_boot=n_boot, level=level, seed=seed
    )


def adjusted_shares_from_counts(
    confusion: pd.DataFrame,
    counts: pd.Series,
    *,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`adjusted_shares` from the number of units projected to each segment: all it
    needs of the population (so an engine can count the projected segments where the
    customers live and hand over one number per segment).

    Parameters
    ----------
    confusion : pandas.DataFrame
        Held-out counts, rows true segment, columns predicted segment (same order).
    counts : pandas.Series
        Units projected to each segment, indexed by segment; segments outside
        ``confusion`` are ignored, those missing count 0.
    """
    segs = np.asarray(confusion.index)
    C = confusion.to_numpy(dtype=float)
    k = segs.size
    by_seg = {int(s): int(v) for s, v in counts.items()}
    n = np.array([by_seg.get(int(s), 0) for s in segs], dtype=np.int64)
    q = n / max(int(n.sum()), 1)
    rows = C.sum(axis=1, keepdims=True)
    M = C / np.maximum(rows, 1)
    est = _acc_solve(M, q)
    rng = np.random.default_rng(seed)
    n_pop = max(int(n.sum()), 1)
    draws = np.empty((n_boot, k))
    for b in range(n_boot):
        Cb = np.vstack([rng.multinomial(int(rows[i, 0]), M[i]) for i in range(k)]).astype(float)
        Mb = Cb / np.maximum(Cb.sum(axis=1, keepdims=True), 1)
        qb = rng.multinomial(n_pop, q) / n_pop
        draws[b] = _acc_solve(Mb, qb)
    a = (1 - level) / 2
    return pd.DataFrame(
        {
            "projected_share": q,
            "adjusted_share": est,
            "low": np.quantile(draws, a, axis=0),
            "high": np.quantile(draws, 1 - a, axis=0),
        },
        index=pd.Index(segs.tolist(), name="segment"),
    )


def _training_rows(
    features: pd.DataFrame, labels: pd.Series, cv: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """The labelled customers' features, the segment numbers, each one's code 0..k-1 and
    the number of folds; errors when a segment is too small to cross-validate."""
    labels = labels.dropna()
    unknown = labels.index.difference(features.index)
    if len(unknown):
        raise ValueError(
            f"projection: {len(unknown)} labelled customers are not in the features "
            f"(first {unknown[:1].tolist()[0]!r})"
        )
    train = features.loc[labels.index]
    y_raw = labels.to_numpy().astype(np.int64)
    segs, y = np.unique(y_raw, return_inverse=True)
    if segs.size < 2:
        raise ValueError("projection: the linked respondents hold fewer than two segments")
    n_min = int(np.bincount(y).min())
    folds = int(min(cv, n_min))
    if folds < 2:
        raise ValueError(
            "projection: a segment has fewer than 2 linked respondents; cannot cross-validate"
        )
    return train, segs, y, folds


def _p_text(p_value: float) -> str:
    """``p = 0.042`` or ``p < 0.001``: the report's p-value format (never ``1.4e-264``)."""
    from segmentum.report.format import format_pvalue

    text = format_pvalue(p_value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _verdict(acc: float, chance: float, p_value: float) -> tuple[bool, str]:
    """Whether the projection beats chance (p < 0.01 and lift ≥ 1.2), said in a sentence."""
    lift = acc / chance
    informative = p_value < 0.01 and lift >= 1.2
    if informative:
        verdict = (
            f"The customer database tells the segments apart: {acc:.0%} of held-out linked "
            f"respondents are projected to their survey segment, {lift:.1f} times the "
            f"{chance:.0%} expected by chance."
        )
    else:
        verdict = (
            f"The customer database cannot tell the segments apart: held-out accuracy "
            f"{acc:.0%} against {chance:.0%} by chance ({_p_text(p_value)}). Projected segments "
            "of unsurveyed customers are little better than a guess; use the survey's "
            "segments and the typing tool, not the projection, to act on segments."
        )
    return informative, verdict


def _plain_model(
    clf: Any,
    mu: np.ndarray,
    sd: np.ndarray,
    segs: np.ndarray,
    numeric: list[str],
    cats: list[str],
    levels: dict[str, list[Any]],
    fill: np.ndarray,
) -> ProjectionModel:
    """The fitted logit in plain numbers, the standardisation folded into the weights and
    each categorical column's one-hot weights as a table per level."""
    coef, icpt = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # two segments: softmax of (0, s) is the logistic of s
        coef, icpt = np.vstack([np.zeros_like(coef[0]), coef[0]]), np.array([0.0, icpt[0]])
    W = coef / sd
    b = icpt - W @ mu
    n_num = len(numeric)
    cat_tables: dict[str, tuple[list[Any], np.ndarray]] = {}
    off = n_num
    for c in cats:
        lv = levels[c]
        cat_tables[c] = (lv, W[:, off : off + len(lv)].T.copy())
        off += len(lv)
    return ProjectionModel(
        segments=tuple(int(s) for s in segs),
        numeric=tuple(numeric),
        fill=fill,
        weights=W[:, :n_num].copy(),
        intercepts=b,
        categorical=cat_tables,
    )


def fit_projection(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    cv: int = 5,
    C: float = 1.0,
    random_state: int = 0,
) -> Projection:
    """Learn segment membership from customer features on the linked respondents.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`customer_features` of the customers (indexed by customer id); numeric and
        ``category``/object columns.
    labels : pandas.Series
        Survey segment of the linked customers, indexed by customer id (a subset of
        ``features``' index).
    cv : int, default=5
    C : float, default=1.0
        Inverse L2 penalty of the multinomial logit.
    random_state : int, default=0

    Returns
    -------
    Projection

    Raises
    ------
    ValueError
        Labels of unknown customers, fewer than two segments, or too few linked
        respondents to cross-validate.
    """
    from scipy.stats import binomtest
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    train, segs, y, folds = _training_rows(features, labels, cv)
    k = segs.size
    Z, numeric, cats, levels, fill = _design(train)
    mu = Z.mean(axis=0)
    sd = Z.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    Zs = (Z - mu) / sd

    def make() -> LogisticRegression:
        return LogisticRegression(C=C, solver="lbfgs", max_iter=1000)

    proba = np.zeros((len(y), k))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=random_state).split(Zs, y):
        clf = make().fit(Zs[tr], y[tr])
        proba[np.ix_(te, clf.classes_)] = clf.predict_proba(Zs[te])
    pred = proba.argmax(axis=1)
    acc = float((pred == y).mean())
    chance = proportional_chance(y)
    conf = np.zeros((k, k), dtype=int)
    np.add.at(conf, (y, pred), 1)
    onehot = np.eye(k)[y]
    brier = float(((proba - onehot) ** 2).sum(axis=1).mean())
    top = proba.max(axis=1)
    bins = np.minimum((top * 10).astype(int), 9)
    calib = (
        pd.DataFrame({"bin": bins, "p": top, "hit": pred == y})
        .groupby("bin")
        .agg(mean_probability=("p", "mean"), accuracy=("hit", "mean"), n=("p", "size"))
        .reset_index(drop=True)
    )
    p_value = float(binomtest(int((pred == y).sum()), len(y), chance, alternative="greater").pvalue)
    informative, verdict = _verdict(acc, chance, p_value)
    # Final fit on everyone, standardisation folded into the weights.
    clf = make().fit(Zs, y)
    model = _plain_model(clf, mu, sd, segs, numeric, cats, levels, fill)
    return Projection(
        model=model,
        accuracy=acc,
        chance=chance,
        n_train=len(y),
        confusion=pd.DataFrame(
            conf,
            index=pd.Index(segs.tolist(), name="segment"),
            columns=pd.Index(segs.tolist(), name="projected"),
        ),
        calibration=calib,
        brier=brier if math.isfinite(brier) else float("nan"),
        ece=float(
            np.sum(calib["n"] * (calib["mean_probability"] - calib["accuracy"]).abs())
            / calib["n"].sum()
        ),
        verdict=verdict,
        informative=bool(informative),
    )
