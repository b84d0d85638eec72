"""What both theme finders share: the :class:`Themes` result, text cleaning, the TF-IDF
vectoriser and theme shares by segment.

:mod:`segmentum.maps.themes` (TF-IDF + NMF) and :mod:`segmentum.maps.embeddings` (sentence
embeddings, optional extra) both build on this module, so neither imports the other at
module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def clean_texts(texts: pd.Series) -> pd.Series:
    """The non-empty answers as stripped strings (missing and blank ones left out)."""
    t = texts.astype("string").str.strip()
    return t[t.notna() & (t.str.len() > 0)].astype(str)


def tfidf_vectorizer(min_df: int | float = 2):  # type: ignore[no-untyped-def]
    """TF-IDF of words and word pairs, English stop words and the prompt's words removed."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    stop = sorted(set(ENGLISH_STOP_WORDS) | set(PROMPT_WORDS))
    return TfidfVectorizer(
        stop_words=stop, ngram_range=(1, 2), min_df=min_df, max_features=3000, sublinear_tf=True
    )


def empty_themes(warning: str) -> Themes:
    """No themes, with the reason as the one warning."""
    return Themes(
        themes=pd.DataFrame(columns=["theme", "label", "terms", "share", "n"]),
        by_segment=pd.DataFrame(columns=["segment", "theme", "label", "share", "index"]),
        quotes=pd.DataFrame(columns=["theme", "rank", "text"]),
        document_theme=pd.Series(dtype=int),
        warnings=(warning,),
    )


BY_SEGMENT_COLUMNS = ["segment", "theme", "label", "share", "index"]


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
    return pd.DataFrame(recs, columns=BY_SEGMENT_COLUMNS)
