"""Planted truth: simulated needs data with known segments.

The simulator draws ``k`` segment profiles on a latent scale (each segment high or low on
every needs item, ±0.8…1.2; any two segments differ in direction on at least a quarter of
the needs items), respondents in unequal segments (Dirichlet sizes, none under
about 1/(2k)), latent answers = profile + N(0, overlap²) + a respondent scale-use bias
N(0, 0.3²) added to every item, plus pure-noise items, all discretised to a 1..7 Likert
scale (4 + 1.5 × latent, rounded and clipped). ``overlap`` is the within-segment noise
standard deviation: 0.6 is well separated, 0.9 moderate, 1.2 high, 1.5 very high.
The basis is prepared with within-respondent centring (scale-use correction) and
standardising; k is chosen from 2..9 by the stability-first rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentum.segments import NeedsSegmenter, prepare_basis


def simulate_needs(
    n_segments: int,
    *,
    n: int = 800,
    n_items: int = 16,
    n_noise: int = 4,
    overlap: float = 0.9,
    scale_bias: float = 0.3,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulated Likert needs survey with planted segments; returns (items, truth)."""
    rng = np.random.default_rng(seed)
    k = n_segments
    share = 0.5 * rng.dirichlet(np.full(k, 3.0)) + 0.5 / k
    sizes = rng.multinomial(n - 10 * k, share) + 10
    truth = np.repeat(np.arange(k), sizes)
    while True:  # segments differ in direction on at least a quarter of the needs items
        signs = rng.choice([-1.0, 1.0], size=(k, n_items))
        hamming = (signs[:, None, :] != signs[None, :, :]).sum(axis=2)
        if hamming[np.triu_indices(k, 1)].min() >= n_items // 4:
            break
    profiles = signs * rng.uniform(0.8, 1.2, (k, n_items))
    latent = profiles[truth] + rng.normal(0.0, overlap, (n, n_items))
    latent += rng.normal(0.0, scale_bias, (n, 1))  # scale-use bias: some tick high on all
    allv = np.hstack([latent, rng.normal(0.0, 1.0, (n, n_noise))])
    likert = np.clip(np.round(4 + 1.5 * allv), 1, 7).astype(int)
    order = rng.permutation(n)
    cols = [f"need{i + 1}" for i in range(n_items)] + [f"noise{i + 1}" for i in range(n_noise)]
    return pd.DataFrame(likert[order], columns=cols), truth[order]


def _run(k: int, overlap: float, seed: int, n_boot: int = 20) -> tuple[int, float]:
    df, truth = simulate_needs(k, overlap=overlap, seed=1000 * k + seed)
    basis = prepare_basis(df, scale_correction="center")
    seg = NeedsSegmenter(k_range=(2, 9), n_boot=n_boot, n_init=10, random_state=seed)
    seg.fit(basis.matrix)
    return seg.n_segments_, adjusted_rand_score(truth, seg.labels_)


def test_simulator_plants_what_it_says():
    df, truth = simulate_needs(5, seed=3)
    assert df.shape == (800, 20)
    assert df.to_numpy().min() >= 1 and df.to_numpy().max() <= 7
    assert len(np.unique(truth)) == 5
    assert np.bincount(truth).min() >= 800 / 10 * 0.8
    assert np.bincount(truth).max() > np.bincount(truth).min()  # unequal sizes


@pytest.mark.parametrize("k", [3, 6])
def test_moderate_overlap_quick(k):
    chosen, ari = _run(k, overlap=0.9, seed=0, n_boot=15)
    assert chosen == k
    assert ari >= 0.9


@pytest.mark.slow
def test_planted_truth_accuracy_by_overlap(capsys):
    """Moderate overlap: right k in ≥ 90 % of designs and mean ARI ≥ 0.9; the table shows
    how both fall as overlap grows (figures quoted in the closing note)."""
    rows = []
    for overlap, reps in [(0.6, 1), (0.9, 2), (1.2, 1), (1.5, 1)]:
        for k in range(3, 9):
            for rep in range(reps):
                chosen, ari = _run(k, overlap, seed=rep)
                rows.append({"overlap": overlap, "k": k, "chosen": chosen, "ari": ari})
    res = pd.DataFrame(rows)
    res["right"] = res["k"] == res["chosen"]
    table = res.groupby("overlap").agg(
        designs=("k", "size"), k_right=("right", "mean"), ari_mean=("ari", "mean"),
        ari_min=("ari", "min"),
    )  # fmt: skip
    with capsys.disabled():
        print("\nplanted truth by overlap\n" + table.round(3).to_string())
    moderate = res[res["overlap"] == 0.9]
    assert moderate["right"].mean() >= 0.9
    assert moderate.loc[moderate["right"], "ari"].mean() >= 0.9
    assert moderate["ari"].mean() >= 0.9
