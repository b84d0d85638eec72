"""The segment-profile heat map a manager reads: every need labelled, colour that means the
same for k = 2 as for k = 6 (index against the item's average), readable cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import MCD_BASIS, McDonalds
from sklearn.cluster import KMeans

from segmentum.profiles import profile
from segmentum.profiles.plots import index_heatmap
from segmentum.segments.plots import centroid_colour, centroid_heatmap


@pytest.fixture(scope="module")
def mcd2(mcdonalds: McDonalds) -> tuple[pd.DataFrame, np.ndarray]:
    x = mcdonalds.answers
    lab = KMeans(n_clusters=2, n_init=10, random_state=1234).fit_predict(x.to_numpy()) + 1
    return x, lab


def test_k2_heat_map_is_not_saturated_and_centred_on_the_average(
    mcd2: tuple[pd.DataFrame, np.ndarray],
) -> None:
    x, lab = mcd2
    centroids = x.groupby(lab).mean()
    shares = {int(s): float(np.mean(lab == s)) for s in np.unique(lab)}
    z, index = centroid_colour(centroids, shares)
    # the index is each segment's share against the whole sample's (100 = average)
    np.testing.assert_allclose(index, 100 * centroids.to_numpy() / x.mean().to_numpy())
    assert (z > 0).any() and (z < 0).any()
    saturated = np.isclose(np.abs(z), 1.0)
    assert saturated.mean() < 0.5  # per-item standardising made every k = 2 cell +-1
    # "fattening": 80-odd % in both segments, close to the average, so pale, not dark red
    fat = centroids.columns.get_loc("fattening")
    assert np.all(np.abs(z[:, fat]) < 0.3)
    # the items that split the two segments most are the strongest colours
    spread = np.abs(np.log(index[0] / index[1]))
    assert np.argmax(np.abs(z).max(axis=0)) == np.argmax(spread)
    fig = centroid_heatmap(centroids, shares)
    hm = fig.data[0]
    assert hm.zmid == 0 and hm.zmin == -1 and hm.zmax == 1
    text = np.asarray(hm.text)
    assert text.shape == (len(MCD_BASIS), 2) and all(t.endswith("%") for t in text.ravel())


def test_heat_map_labels_every_need_and_grows_with_them() -> None:
    rng = np.random.default_rng(0)
    few = pd.DataFrame(rng.uniform(1, 7, (3, 11)), columns=[f"need_{i}" for i in range(11)])
    many = pd.DataFrame(rng.uniform(1, 7, (6, 29)), columns=[f"need_{i}" for i in range(29)])
    figs = [centroid_heatmap(c) for c in (few, many)]
    for c, fig in zip((few, many), figs, strict=True):
        # every need has its own row, labelled for people ("need_3" → "Need 3"; issue 15)
        assert list(fig.layout.yaxis.tickvals) == [f"Need {i}" for i in range(c.shape[1])]
        assert fig.layout.yaxis.tickmode == "array"
        # 1..7 ratings are shown in their units, not as percentages
        assert not any(str(t).endswith("%") for t in np.asarray(fig.data[0].text).ravel())
    assert figs[1].layout.height - figs[0].layout.height == 26 * (29 - 11)
    assert figs[1].layout.height / 29 >= 26  # a row tall enough for 12 px cell text


def test_centred_scores_are_coloured_by_their_difference() -> None:
    c = pd.DataFrame({"maxdiff": [-2.0, 0.5, 1.5], "rating": [2.0, 4.0, 6.0]}, index=[1, 2, 3])
    z, index = centroid_colour(c)
    assert np.isnan(index[:, 0]).all() and np.isfinite(index[:, 1]).all()
    assert z[0, 0] < 0 < z[2, 0] and np.all(np.abs(z) <= 1)
    assert z[:, 1] == pytest.approx(np.log2([0.5, 1.0, 1.5]))


def test_index_heat_map_ticks_every_row(mcd2: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, lab = mcd2
    p = profile(x, pd.Series(lab, index=x.index), basis=MCD_BASIS)
    fig = index_heatmap(p)
    # a tick on every row, each item's name written for people ("yummy" → "Yummy"; issue 15)
    rows = [v[:1].upper() + v[1:] for v in p.index_matrix("basis").index]
    assert list(fig.layout.yaxis.tickvals) == rows == list(fig.data[0].y)
