"""Themes in open 'I wish ...' answers: TF-IDF + NMF, offline and deterministic.

Each answer is a TF-IDF vector (English stop words and the words of the prompt removed);
non-negative matrix factorisation finds ``n_themes`` themes, each named by its top terms.
An answer belongs to the theme with the largest loading. Theme shares per segment are
weighted by the survey weights. Representative quotes are the answers closest (cosine) to
a centroid: the theme's top loadings, or the mean TF-IDF vector of a segment's answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from segmentum.maps.text import (
    BY_SEGMENT_COLUMNS,
    PROMPT_WORDS,
    Themes,
    clean_texts,
    empty_themes,
    tfidf_vectorizer,
    theme_shares_by_segment,
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
        from segmentum.maps.embeddings import embedding_themes  # optional extra: lazy

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

    t = clean_texts(texts)
    if len(t) < min_answers:
        return empty_themes(
            f"only {len(t)} non-empty open answers (fewer than {min_answers}): no themes"
        )
    vec = tfidf_vectorizer(min_df=2)
    try:
        x = vec.fit_transform(t.to_numpy())
    except ValueError:
        return empty_themes("open answers have no words that occur twice: no themes")
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
    by_seg = pd.DataFrame(columns=BY_SEGMENT_COLUMNS)
    if labels is not None:
        by_seg = theme_shares_by_segment(th, main, labels.reindex(t.index), w, mask=has)
    return Themes(
        themes=th,
        by_segment=by_seg,
        quotes=pd.DataFrame(quotes, columns=["theme", "rank", "text"]),
        document_theme=doc_theme,
    )


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
    t = clean_texts(texts)
    lab = labels.reindex(t.index)
    segs = list(segments) if segments is not None else sorted(int(s) for s in lab.dropna().unique())
    out: dict[int, list[str]] = {s: [] for s in segs}
    if len(t) == 0:
        return out
    try:
        x = tfidf_vectorizer(min_df=1).fit_transform(t.to_numpy())
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


__all__ = [
    "PROMPT_WORDS",
    "Themes",
    "representative_quotes",
    "theme_shares_by_segment",
    "themes",
]
