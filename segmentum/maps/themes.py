"""Themes in open 'I wish ...' answers: TF-IDF + NMF, offline and deterministic.

Each answer is a TF-IDF vector (English stop words and the words of the prompt removed);
non-negative matrix factorisation finds ``n_themes`` themes, each named by its top terms.
An answer belongs to the theme with the largest loading. Theme shares per segment are
weighted by the survey weights. Representative quotes are the answers closest (cosine) to
a centroid: the theme's top loadings, or the mean TF-IDF vector of a segment's answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

PROMPT_WORDS = ("wish", "wished", "wishes", "could", "would", "just", "really", "im", "ive")


@dataclass(frozen=True)
class Themes:
    """Themes found in open text.

    Attributes
    ----------
    themes : pandas.DataFrame
        ``theme`` (1..m), ``label`` (top three terms), ``terms`` (top ten, comma separated),
        ``share`` (weighted share of answers whose main theme it is), ``n``.
    by_segment : pandas.DataFrame
        Long: ``segment``, ``theme``, ``label``, ``share`` (of the segment's answers),
        ``index`` (100 = the theme's overall share).
    quotes : pandas.DataFrame
        ``theme``, ``rank``, ``text``: the answers that load most on each theme.
    document_theme : pandas.Series
        Main theme of each answer (index of the input; answers left out are absent).
    warnings : tuple of str
    """

    themes: pd.DataFrame
    by_segment: pd.DataFrame
    quotes: pd.DataFrame
    document_theme: pd.Series = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.themes.empty


def _clean(texts: pd.Series) -> pd.Series:
    t = texts.astype("string").str.strip()
    return t[t.notna() & (t.str.len() > 0)].astype(str)


def _vectorizer(min_df: int | float = 2):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    stop = sorted(set(ENGLISH_STOP_WORDS) | set(PROMPT_WORDS))
    return TfidfVectorizer(
        stop_words=stop, ngram_range=(1, 2), min_df=min_df, max_features=3000, sublinear_tf=True
    )


def _empty(warning: str) -> Themes:
    return Themes(
        themes=pd.DataFrame(columns=["theme", "label", "terms", "share", "n"]),
        by_segment=pd.DataFrame(columns=["segment", "theme", "label", "share", "index"]),
        quotes=pd.DataFrame(columns=["theme", "rank", "text"]),
        document_theme=pd.Series(dtype=int),
        warnings=(warning,),
    )


def themes(
    texts: pd.Series,
    labels: pd.Series | None = None,
    *,
    weights: pd.Series | None = None,
    n_themes: int = 8,
    n_quotes: int = 3,
    min_answers: int = 20,
    random_state: int = 0,
    method: Literal["nmf", "embeddings"] = "nmf",
) -> Themes:
    """Find themes in 'I wish ...' answers and their share in each segment.

    Parameters
    ----------
    texts : pandas.Series of str
        Open answers; missing and empty ones are left out.
    labels : pandas.Series of int, optional
        Segment per row, aligned on ``texts.index``.
    weights : pandas.Series, optional
        Survey weights aligned on ``texts.index``.
    n_themes : int, default=8
        Number of NMF themes (reduced when the vocabulary is smaller).
    n_quotes : int, default=3
        Quotes kept per theme.
    min_answers : int, default=20
        Fewer non-empty answers than this: no themes, a warning.
    random_state : int, default=0
    method : {"nmf", "embeddings"}, default="nmf"
        ``"nmf"``: TF-IDF + NMF, offline, no extra packages. ``"embeddings"``: k-means on
        sentence embeddings, see :func:`segmentum.maps.embeddings.embedding_themes` (needs
        ``pip install "segmentum[text]"``).

    Returns
    -------
    Themes

    Raises
    ------
    ValueError
        If ``method`` is not one of the choices.
    ImportError
        If ``method="embeddings"`` and the ``text`` extra is not installed.
    """
    if method not in ("nmf", "embeddings"):
        raise ValueError(f"method must be one of 'nmf', 'embeddings'; got {method!r}")
    if method == "embeddings":
        from segmentum.maps.embeddings import embedding_themes

        return embedding_themes(
            texts,
            labels,
            weights=weights,
            n_themes=n_themes,
            n_quotes=n_quotes,
            min_answers=min_answers,
            random_state=random_state,
        )
    from sklearn.decomposition import NMF

    t = _clean(texts)
    if len(t) < min_answers:
        return _empty(f"only {len(t)} non-empty open answers (fewer than {min_answers}): no themes")
    vec = _vectorizer(min_df=2)
    try:
        x = vec.fit_transform(t.to_numpy())
    except ValueError:
        return _empty("open answers have no words that occur twice: no themes")
    terms = np.asarray(vec.get_feature_names_out())
    m = max(1, min(n_themes, x.shape[1] - 1, x.shape[0] - 1))
    nmf = NMF(n_components=m, init="nndsvda", random_state=random_state, max_iter=400)
    doc = nmf.fit_transform(x)
    comp = nmf.components_
    has = doc.sum(axis=1) > 0
    main = np.where(has, doc.argmax(axis=1) + 1, 0)
    w = (
        weights.reindex(t.index).fillna(0.0).to_numpy(dtype=float)
        if weights is not None
        else np.ones(len(t))
    )
    rows, quotes = [], []
    for k in range(m):
        top = comp[k].argsort()[::-1][:10]
        label = ", ".join(terms[top[:3]])
        share = float(w[main == k + 1].sum() / w[has].sum()) if w[has].sum() > 0 else 0.0
        rows.append(
            {
                "theme": k + 1,
                "label": label,
                "terms": ", ".join(terms[top]),
                "share": share,
                "n": int((main == k + 1).sum()),
            }
        )
        order = np.lexsort((np.arange(len(t)), -doc[:, k]))
        seen: set[str] = set()
        for i in order:
            txt = t.iloc[i]
            if doc[i, k] <= 0 or len(seen) >= n_quotes:
                break
            if txt.lower() in seen:
                continue
            seen.add(txt.lower())
            quotes.append({"theme": k + 1, "rank": len(seen), "text": txt})
    th = pd.DataFrame(rows)
    doc_theme = pd.Series(main, index=t.index, name="theme")
    by_seg = pd.DataFrame(columns=_BY_SEGMENT_COLUMNS)
    if labels is not None:
        by_seg = theme_shares_by_segment(th, main, labels.reindex(t.index), w, mask=has)
    return Themes(
        themes=th,
        by_segment=by_seg,
        quotes=pd.DataFrame(quotes, columns=["theme", "rank", "text"]),
        document_theme=doc_theme,
    )


_BY_SEGMENT_COLUMNS = ["segment", "theme", "label", "share", "index"]


def theme_shares_by_segment(
    themes_table: pd.DataFrame,
    main: np.ndarray,
    labels: pd.Series,
    weights: np.ndarray,
    mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Each theme's weighted share of a segment's answers, and its index vs the total.

    ``main`` is each answer's main theme (1-based, 0 for none), ``labels`` the segment per
    answer, ``mask`` the answers that count (all by default); ``themes_table`` has the
    overall ``share`` and ``label`` of each theme, in theme order.
    """
    keep = np.ones(len(main), dtype=bool) if mask is None else mask
    recs = []
    for s in sorted(int(v) for v in labels.dropna().unique()):
        ms = (labels == s).to_numpy() & keep
        tot = weights[ms].sum()
        for k in range(len(themes_table)):
            share = float(weights[ms & (main == k + 1)].sum() / tot) if tot > 0 else float("nan")
            overall = float(themes_table.loc[k, "share"])
            recs.append(
                {
                    "segment": s,
                    "theme": k + 1,
                    "label": themes_table.loc[k, "label"],
                    "share": share,
                    "index": 100.0 * share / overall if overall > 0 else float("nan"),
                }
            )
    return pd.DataFrame(recs, columns=_BY_SEGMENT_COLUMNS)


def representative_quotes(
    texts: pd.Series,
    labels: pd.Series,
    *,
    n: int = 3,
    segments: Sequence[int] | None = None,
) -> dict[int, list[str]]:
    """The answers of each segment most similar to the segment's TF-IDF centroid.

    Parameters
    ----------
    texts : pandas.Series of str
        Open answers (missing or empty ones are ignored).
    labels : pandas.Series of int
        Segment per row, aligned on ``texts.index``.
    n : int, default=3
        Quotes per segment (distinct texts only).
    segments : sequence of int, optional
        Segments to return (default: all labels present).

    Returns
    -------
    dict of int to list of str
        Most representative first; ties broken by row order, so the result is deterministic.
    """
    t = _clean(texts)
    lab = labels.reindex(t.index)
    segs = list(segments) if segments is not None else sorted(int(s) for s in lab.dropna().unique())
    out: dict[int, list[str]] = {s: [] for s in segs}
    if len(t) == 0:
        return out
    try:
        x = _vectorizer(min_df=1).fit_transform(t.to_numpy())
    except ValueError:
        return out
    for s in segs:
        idx = np.flatnonzero((lab == s).to_numpy())
        if idx.size == 0:
            continue
        sub = x[idx]
        centroid = np.asarray(sub.mean(axis=0)).ravel()
        norm = np.linalg.norm(centroid)
        if norm == 0:
            continue
        sims = np.asarray(sub @ (centroid / norm)).ravel()  # rows of TF-IDF are unit length
        order = np.lexsort((idx, -sims))
        # Candidates: the most representative distinct answers.
        candidates: list[int] = []
        seen: set[str] = set()
        for i in order:
            key = t.iloc[idx[i]].lower()
            if key in seen:
                continue
            seen.add(key)
            candidates.append(int(i))
            if len(candidates) >= max(10 * n, 30):
                break
        # Maximal marginal relevance: representative, but not three rewordings of one answer.
        chosen: list[int] = []
        while candidates and len(chosen) < n:
            if chosen:
                overlap = np.asarray(
                    (sub[candidates] @ sub[chosen].T).max(axis=1).todense()
                ).ravel()
            else:
                overlap = np.zeros(len(candidates))
            score = _MMR_LAMBDA * sims[candidates] - (1 - _MMR_LAMBDA) * overlap
            best = int(np.argmax(score))  # first maximum: ties keep row order
            chosen.append(candidates.pop(best))
        out[s] = [t.iloc[idx[i]] for i in chosen]
    return out


_MMR_LAMBDA = 0.5
