"""The structure verdict and the choice of k: natural, reproducible or constructive.

Ground truth comes from three places: published numbers (McDonald's, Dolnicar, Grün &
Leisch 2018, Appendix A), data with no structure at all (the verdict must be
constructive), and planted segments from the simulator below (the right k, and never a
confident verdict with the wrong k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentum.segments import NeedsSegmenter, prepare_basis
from segmentum.segments.structure import (
    choose,
    hennig_band,
    hidden_dip,
    interval_basis,
    pair_ridge,
    permute_columns,
)

DESIGNS = ("separated", "moderate", "unequal", "noise_items", "elongated")


def simulate_design(
    design: str, k: int, *, seed: int = 0, n: int = 800, overlap: float | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Likert needs data (1..7) with ``k`` planted segments; returns (items, truth).

    Every design: segment profiles ±0.8…1.2 on 16 needs items on a latent scale (any two
    segments differ in direction on at least a quarter of them), a respondent scale-use
    bias N(0, 0.3²) on every item, answers ``round(4 + 1.5 × latent)`` clipped to 1..7.

    - ``separated``: within-segment noise sd 0.6, 4 noise items, unequal Dirichlet sizes;
    - ``moderate``: sd 0.9 (the same as ``tests/test_segments_truth.py``);
    - ``unequal``: sd 0.7, segment sizes 80 / 15 / 5 % (k = 3) or one segment holding
      60 % and the rest sharing 40 % (k > 3);
    - ``noise_items``: sd 0.7 and 16 pure-noise items beside the 16 needs items;
    - ``elongated``: sd 0.5 plus, per segment, a common factor N(0, 1.5²) along a random
      direction (clusters three times as long as they are wide);
    ``overlap`` overrides the within-segment sd.
    """
    rng = np.random.default_rng(seed)
    n_items, n_noise, sd = 16, 4, {"separated": 0.6, "moderate": 0.9}.get(design, 0.7)
    if design == "elongated":
        sd = 0.5
    if design == "noise_items":
        n_noise = 16
    sd = overlap if overlap is not None else sd
    if design == "unequal":
        share = np.array([0.8, 0.15, 0.05]) if k == 3 else np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))]
        sizes = rng.multinomial(n, share)
    else:
        share = 0.5 * rng.dirichlet(np.full(k, 3.0)) + 0.5 / k
        sizes = rng.multinomial(n - 10 * k, share) + 10
    truth = np.repeat(np.arange(k), sizes)
    while True:
        signs = rng.choice([-1.0, 1.0], size=(k, n_items))
        hamming = (signs[:, None, :] != signs[None, :, :]).sum(axis=2)
        if hamming[np.triu_indices(k, 1)].min() >= n_items // 4:
            break
    profiles = signs * rng.uniform(0.8, 1.2, (k, n_items))
    latent = profiles[truth] + rng.normal(0.0, sd, (n, n_items))
    if design == "elongated":
        axes = rng.normal(size=(k, n_items))
        axes /= np.linalg.norm(axes, axis=1, keepdims=True)
        latent += rng.normal(0.0, 1.5, (n, 1)) * axes[truth]
    latent += rng.normal(0.0, 0.3, (n, 1))
    allv = np.hstack([latent, rng.normal(0.0, 1.0, (n, n_noise))])
    likert = np.clip(np.round(4 + 1.5 * allv), 1, 7).astype(int)
    order = rng.permutation(n)
    cols = [f"need{i + 1}" for i in range(n_items)] + [f"noise{i + 1}" for i in range(n_noise)]
    return pd.DataFrame(likert[order], columns=cols), truth[order]


def fit_design(df: pd.DataFrame, seed: int = 0, n_boot: int = 20) -> NeedsSegmenter:
    basis = prepare_basis(df, scale_correction="center")
    seg = NeedsSegmenter(k_range=(2, 9), n_boot=n_boot, n_init=10, random_state=seed, n_jobs=1)
    return seg.fit(basis.matrix)


@pytest.fixture(scope="module")
def mcdonalds(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "msa" / "mcdonalds.csv")


def _yes(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame.iloc[:, :11] == "Yes").astype(float)


def test_hennig_bands_and_permuted_null_keep_marginals():
    assert [hennig_band(v) for v in (0.9, 0.8, 0.65, 0.55, 0.3)] == [
        "highly stable",
        "stable",
        "doubtful",
        "unstable",
        "dissolved",
    ]
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=500), rng.normal(size=500)])
    x[:, 1] += 3 * x[:, 0]  # strongly associated
    p = permute_columns(x, np.random.default_rng(1))
    np.testing.assert_array_equal(np.sort(p, axis=0), np.sort(x, axis=0))  # same marginals
    assert abs(np.corrcoef(p.T)[0, 1]) < 0.1 < abs(np.corrcoef(x.T)[0, 1])


def test_density_checks_see_a_group_cut_in_two_and_a_hidden_small_group():
    rng = np.random.default_rng(3)
    # one elongated group (sd 4 along the first axis) cut in two at its middle: no dip
    long = rng.normal(size=(800, 5)) * np.r_[4.0, np.ones(4)]
    left, right = long[long[:, 0] < 0], long[long[:, 0] >= 0]
    assert pair_ridge(left, right) >= 0.8
    # two groups 6 sd apart: a clear gap
    far = rng.normal(size=(400, 5)) + np.r_[6.0, np.zeros(4)]
    assert pair_ridge(rng.normal(size=(400, 5)), far) < 0.2
    # a small group (5 %) beside a dominant one inside one segment is found, with its share
    small = rng.normal(size=(50, 5)) + np.r_[0.0, 6.0, np.zeros(3)]
    dip, share = hidden_dip(np.vstack([rng.normal(size=(950, 5)), small]), min_rows=20)
    assert dip < 0.5 and share == pytest.approx(0.05, abs=0.01)
    # one Gaussian group hides nothing
    assert hidden_dip(rng.normal(size=(1000, 5)), min_rows=20)[0] >= 0.5
    # binary items have no density to read
    assert not interval_basis((rng.random((300, 6)) < 0.3).astype(float))
    assert interval_basis(rng.integers(1, 8, (300, 6)).astype(float))


def _table(**cols: list[float]) -> pd.DataFrame:
    ks = [2, 3, 4, 5]
    base = {
        "k": ks,
        "stability_median": [0.99, 0.99, 0.98, 0.98],
        "stability_q25": [0.98, 0.98, 0.96, 0.95],
        "null_median": [0.1] * 4,
        "null_q95": [0.2] * 4,
        "min_segment_jaccard": [0.97, 0.97, 0.96, 0.96],
        "min_segment_share": [0.2, 0.15, 0.1, 0.08],
        "dispersion_gap": [0.3] * 4,
        "cut_pairs": [0.0] * 4,
        "hidden_groups": [0.0] * 4,
        "bic": [np.nan] * 4,
        "calinski_harabasz": [1.0] * 4,
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_choice_reads_the_density_checks():
    kw = dict(min_share=0.05, pinned=None, split_of={}, by_fit="calinski_harabasz")
    plain = choose(_table(), **kw)
    assert plain.k == 5 and plain.structure == "natural" and plain.caveat is None
    # k = 5 cuts a group in two: the largest separated reproducible k instead
    cut = choose(_table(cut_pairs=[0.0, 0.0, 0.0, 1.0]), **kw)
    assert (cut.k, cut.reason, cut.structure) == (4, "largest_separated", "natural")
    # every smaller k hides a group: k = 5 stays, reproducible but not natural
    cut_only = choose(_table(cut_pairs=[0.0, 0.0, 0.0, 1.0], hidden_groups=[1.0] * 3 + [0.0]), **kw)
    assert (cut_only.k, cut_only.structure, cut_only.caveat) == (5, "reproducible", "cut_in_two")
    # a segment of the chosen solution hides a separate group: constructive, said why
    hid = choose(_table(hidden_groups=[0.0, 0.0, 0.0, 1.0]), **kw)
    assert (hid.k, hid.structure, hid.caveat) == (5, "constructive", "hidden_group")
    # where the checks did not run (binary items), the verdict is the stability rules' alone
    nan = choose(_table(cut_pairs=[np.nan] * 4, hidden_groups=[np.nan] * 4), **kw)
    assert (nan.k, nan.structure, nan.caveat) == (5, "natural", None)


def book_profile(means: pd.DataFrame) -> set[str]:
    """Which of the book's four McDonald's segments (Appendix A) each segment matches, by
    its share of "Yes" per perception."""
    names = set()
    for _, m in means.iterrows():
        if m["yummy"] > 0.7 and m["tasty"] > 0.7 and m["cheap"] > 0.7:
            names.add("fans")
        elif m["yummy"] > 0.7 and m["tasty"] > 0.7 and m["expensive"] > 0.7:
            names.add("tasty but expensive")
        elif m["yummy"] < 0.3 and m["cheap"] > 0.7 and m["greasy"] > 0.5:
            names.add("cheap and greasy")
        elif m["yummy"] < 0.3 and m["expensive"] > 0.7 and m["disgusting"] > 0.5:
            names.add("negative")
    return names


def test_mcdonalds_four_reproducible_segments_quick(mcdonalds):
    """Fewer bootstraps than the default (the slow test runs defaults for seeds 0..4)."""
    x = _yes(mcdonalds)
    seg = NeedsSegmenter(n_boot=40, random_state=0, n_jobs=1).fit(x)
    sel = seg.selection_.set_index("k")
    assert seg.n_segments_ == 4, sel
    assert seg.structure_ == "reproducible"
    assert bool(sel.loc[4, "reproducible"]) and not bool(sel.loc[5, "reproducible"])
    # k = 2 is the most stable, as in the book, and still not the choice
    assert sel["stability_median"].idxmax() == 2
    means = x.groupby(seg.labels_).mean()
    assert book_profile(means) == {"fans", "tasty but expensive", "cheap and greasy", "negative"}


def test_row_order_does_not_matter(mcdonalds):
    x = _yes(mcdonalds)
    perm = np.random.default_rng(5).permutation(len(x))
    kw = dict(k_range=(2, 5), n_boot=10, n_init=5, random_state=0, n_jobs=1)
    a = NeedsSegmenter(**kw).fit(x)
    b = NeedsSegmenter(**kw).fit(x.iloc[perm].reset_index(drop=True))
    np.testing.assert_array_equal(a.labels_[perm], b.labels_)  # same partition, same labels
    pd.testing.assert_frame_equal(a.selection_, b.selection_)  # same evidence
    assert a.structure_ == b.structure_


@pytest.mark.parametrize("kind", ["uniform likert", "gaussian", "skewed binary"])
def test_noise_is_constructive(kind):
    """No structure at all: any partition is constructive, whatever k is delivered."""
    rng = np.random.default_rng(11)
    if kind == "uniform likert":
        df = pd.DataFrame(rng.integers(1, 6, (400, 12)), columns=[f"q{i}" for i in range(12)])
        x = prepare_basis(df).matrix
    elif kind == "gaussian":
        x = rng.normal(size=(400, 12))
    else:  # independent Yes/No items, each with its own (skewed) share of Yes
        x = (rng.random((400, 12)) < rng.uniform(0.05, 0.4, 12)).astype(float)
    seg = NeedsSegmenter(k_range=(2, 6), n_boot=20, random_state=0, n_jobs=1).fit(x)
    assert seg.structure_ == "constructive", seg.selection_
    assert not seg.selection_["reproducible"].any()
    assert seg.choice_.reason in ("largest_above_chance", "most_above_null")


@pytest.mark.parametrize(("design", "k"), [("separated", 4), ("elongated", 5), ("elongated", 4)])
def test_planted_segments_quick(design, k):
    """elongated k = 4: k-means cuts groups in two reproducibly up to k = 7 (it chose 6
    before the density checks)."""
    df, truth = simulate_design(design, k, seed=100 * k)
    seg = fit_design(df, n_boot=15)
    assert seg.n_segments_ == k
    assert seg.structure_ in ("natural", "reproducible")
    assert adjusted_rand_score(truth, seg.labels_) >= 0.9


def test_small_segment_beside_a_dominant_one_is_not_claimed():
    """unequal 80/15/5: k-means merges the 5 % group (k = 2, natural before the checks);
    the hidden group makes the verdict constructive, and the evidence names it."""
    df, truth = simulate_design("unequal", 3, seed=300)
    seg = fit_design(df, n_boot=15)
    assert seg.n_segments_ == 2 and seg.structure_ == "constructive"
    assert seg.choice_.caveat == "hidden_group"
    assert [h["share"] for h in seg.shape_["hidden"]] == [pytest.approx(0.05, abs=0.02)]
    # a mixture started from the split segments finds the third, but it holds 4.75 %:
    # under the 5 % smallest-segment rule, so it is named and not delivered ...
    mix = seg.choice_.mixture
    assert (mix["k"], mix["delivered"]) == (3, False) and mix["min_segment_share"] < 0.05
    # ... and with a 4 % rule it is delivered: the planted 80/15/5 segments
    basis = prepare_basis(df, scale_correction="center")
    seg4 = NeedsSegmenter(
        k_range=(2, 9), n_boot=15, n_init=10, min_segment_share=0.04, random_state=0, n_jobs=1
    ).fit(basis.matrix)
    assert seg4.n_segments_ == 3 and seg4.choice_.reason == "mixture_separates"
    assert seg4.structure_ in ("natural", "reproducible")
    assert adjusted_rand_score(truth, seg4.labels_) >= 0.95
    assert seg4.predict(basis.matrix).tolist() == seg4.labels_.tolist()


def test_mixture_isolates_small_segments_beside_a_dominant_one():
    """unequal 60 % + five of 8 %: k-means merges two small ones (k = 5, natural before);
    split at the density dip and refitted as a mixture, the six planted segments."""
    df, truth = simulate_design("unequal", 6, seed=600)
    seg = fit_design(df, n_boot=15)
    assert seg.n_segments_ == 6 and seg.choice_.reason == "mixture_separates"
    assert (
        seg.choice_.runner_up == 5
        and seg.choice_.mixture["bic"] < seg.choice_.mixture["bic_from_k"]
    )
    assert seg.structure_ in ("natural", "reproducible")
    assert adjusted_rand_score(truth, seg.labels_) >= 0.95
    assert seg.segment_stability_["jaccard_mean"].min() >= 0.85
    # row order does not matter on this path either: same partition, same labels
    perm = np.random.default_rng(5).permutation(len(df))
    shuffled = fit_design(df.iloc[perm].reset_index(drop=True), n_boot=15)
    np.testing.assert_array_equal(seg.labels_[perm], shuffled.labels_)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_mcdonalds_defaults_choose_the_books_four_segments(mcdonalds, seed):
    """Default settings (100 bootstraps, 10 restarts, 3 null data sets), seeds 0..4: k = 4
    as in Dolnicar, Grün & Leisch (2018, Appendix A), verdict reproducible, the book's four
    profiles."""
    x = _yes(mcdonalds)
    seg = NeedsSegmenter(random_state=seed, n_jobs=1).fit(x)
    assert seg.n_segments_ == 4, seg.selection_
    assert seg.structure_ == "reproducible"
    sel = seg.selection_.set_index("k")
    # the stability curve falls as in the book (.956 .871 .839 .717 ... for k = 2..8)
    assert sel.loc[2, "stability_median"] > sel.loc[4, "stability_median"] > 0.8
    assert sel.loc[8, "stability_median"] < 0.75
    means = x.groupby(seg.labels_).mean()
    assert book_profile(means) == {"fans", "tasty but expensive", "cheap and greasy", "negative"}


# Known wrong k (closing note of issue #10): k-means does not isolate small segments beside
# a dominant one. The density checks find the hidden group and a mixture started from the
# split segments recovers them (60 % + k - 1 small ones at k = 6, 7 are right now), but at
# 80/15/5 (k = 3) and 60 % + seven of 5.7 % (k = 8) the smallest planted segment holds
# 4.75 % and 4.9 % of the 800 respondents: under the 5 % smallest-segment rule, so the k
# stays wrong and the verdict constructive, with the mixture named. (Elongated k = 4 and 8,
# cut in two by k-means, are right since the checks too.)
KNOWN_WRONG = {("unequal", 3), ("unequal", 8)}


@pytest.mark.slow
def test_planted_truth_right_k_and_never_confidently_wrong(capsys):
    """Every design, k = 3, 5, 7 (k = 4, 6, 8 in the closing note's sweep): right k in ≥ 90 %
    outside the known k-means limit, and across all, no natural or reproducible verdict with
    the wrong k."""
    rows = []
    for design in DESIGNS:
        for k in (3, 5, 7):
            df, truth = simulate_design(design, k, seed=100 * k)
            seg = fit_design(df)
            rows.append(
                {
                    "design": design,
                    "k": k,
                    "chosen": seg.n_segments_,
                    "structure": seg.structure_,
                    "ari": adjusted_rand_score(truth, seg.labels_),
                }
            )
    res = pd.DataFrame(rows)
    res["right"] = res["k"] == res["chosen"]
    res["confidently_wrong"] = ~res["right"] & res["structure"].ne("constructive")
    with capsys.disabled():
        print("\nplanted truth by design\n" + res.to_string())
    known = [(d, k) in KNOWN_WRONG for d, k in zip(res["design"], res["k"], strict=True)]
    assert res.loc[~np.array(known), "right"].mean() >= 0.9
    assert res["confidently_wrong"].sum() == 0


@pytest.mark.slow
def test_verdict_degrades_with_overlap(capsys):
    """As the within-segment noise grows the verdict goes natural → reproducible →
    constructive, and it is never confident about a wrong k."""
    rows = []
    for overlap in (0.6, 0.9, 1.2, 1.5):
        for k in (4,):
            df, truth = simulate_design("moderate", k, seed=100 * k, overlap=overlap)
            seg = fit_design(df)
            rows.append(
                {
                    "overlap": overlap,
                    "k": k,
                    "chosen": seg.n_segments_,
                    "structure": seg.structure_,
                    "ari": adjusted_rand_score(truth, seg.labels_),
                }
            )
    res = pd.DataFrame(rows)
    with capsys.disabled():
        print("\nverdict by overlap\n" + res.to_string())
    wrong = res["k"] != res["chosen"]
    assert not (wrong & res["structure"].ne("constructive")).any()
    rank = res["structure"].map({"natural": 2, "reproducible": 1, "constructive": 0})
    by_overlap = rank.groupby(res["overlap"]).mean()
    assert by_overlap.is_monotonic_decreasing
    assert (res.loc[res["overlap"] == 0.6, "structure"] == "natural").all()


@pytest.mark.slow
def test_vacmot_verdict_and_no_majority_segment_without_a_defining_need(shared_data):
    """Dolnicar & Leisch (2008) publish 6 segments of these 20 travel motives (vacmot6)."""
    from segmentum.profiles import profile
    from segmentum.segments.stage import SegmentsConfig, run_segments

    v = pd.read_csv(shared_data / "msa" / "vacmot.csv")
    basis = list(v.columns)
    df = v.assign(id=range(len(v)))
    res = run_segments(df, id_column="id", basis=basis, config=SegmentsConfig())
    assert res.structure in ("natural", "reproducible", "constructive")
    assert res.verdict.startswith("These data have") and res.summary["structure"] == res.structure
    labels = res.assignments["segment"].to_numpy()
    p = profile(df, labels, basis=basis)
    shares = p.sizes.set_index("segment")["share"]
    for s, share in shares.items():
        assert share <= 0.5 or len(p.defining_needs[s]) > 0, (s, share)
    published = pd.read_csv(shared_data / "msa" / "vacmot6.csv")["vacmot6"]
    assert res.summary["k"] >= 3
    assert adjusted_rand_score(published, labels) > 0.3


@pytest.mark.slow
@pytest.mark.parametrize(("design", "k"), sorted(d for d in KNOWN_WRONG if d[1] not in (3, 5, 7)))
def test_known_wrong_k_is_never_claimed(design, k):
    """The known wrong k outside the sweep's k = 3, 5, 7: still wrong (remove a design from
    KNOWN_WRONG once it is right), and constructive with the hidden group named."""
    df, _ = simulate_design(design, k, seed=100 * k)
    seg = fit_design(df)
    assert seg.n_segments_ != k, "fixed: remove it from KNOWN_WRONG"
    assert seg.structure_ == "constructive" and seg.choice_.caveat == "hidden_group"


def test_stage_names_the_hidden_group_and_saves_the_mixture(tmp_path):
    """The stage's verdict says which segment hides a group (segments.json evidence), and a
    delivered mixture is saved and scores new rows as fitted (model files are data)."""
    import json

    from segmentum import model_store
    from segmentum.segments.persist import MODEL, TRUSTED_TYPES, save_segments
    from segmentum.segments.stage import SegmentsConfig, run_segments

    cfg = SegmentsConfig(n_boot=10, scale_correction="center", k_range=(2, 9), n_jobs=1)
    df, _ = simulate_design("unequal", 3, seed=300)
    df["id"] = range(len(df))
    basis = [c for c in df.columns if c != "id"]
    res = run_segments(df, id_column="id", basis=basis, config=cfg)
    assert res.structure == "constructive" and "hides a separate group" in res.verdict
    shape = json.loads(json.dumps(res.summary["evidence"]))["shape"]
    assert len(shape["hidden"]) == 1 and shape["mixture"]["delivered"] is False
    df6, _ = simulate_design("unequal", 6, seed=600)
    df6["id"] = range(len(df6))
    res6 = run_segments(df6, id_column="id", basis=basis, config=cfg)
    assert res6.summary["k"] == 6 and "A mixture with unequal sizes fits 6" in res6.recommendation
    save_segments(res6, tmp_path)
    back = model_store.load(tmp_path, MODEL, trusted=TRUSTED_TYPES)
    assert back.segmenter.choice_.reason == "mixture_separates"
    np.testing.assert_array_equal(back.predict(df6), res6.assignments["segment"].to_numpy())
