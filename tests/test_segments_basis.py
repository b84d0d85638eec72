"""Basis preparation: kinds, checks, diagnostics, scale-use correction, transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentum.segments import prepare_basis
from segmentum.segments.basis import infer_item_kind


def _survey(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "taste": rng.integers(1, 8, n),
            "price": rng.integers(1, 6, n),
            "fast": rng.choice(["Yes", "No"], n),
            "healthy": rng.integers(0, 2, n),
            "channel": rng.choice(["web", "store", "phone"], n),
            "spend": rng.gamma(2.0, 30.0, n),
        }
    )


def test_kinds_are_recognised():
    df = _survey()
    pb = prepare_basis(df)
    assert pb.kinds == {
        "taste": "likert",
        "price": "likert",
        "fast": "binary",
        "healthy": "binary",
        "channel": "categorical",
        "spend": "numeric",
    }
    assert pb.columns[:5] == ["taste", "price", "fast", "healthy", "channel=phone"]
    assert pb.matrix.shape == (60, 8)
    np.testing.assert_allclose(pb.matrix.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(pb.matrix.std(axis=0), 1.0)


def test_transform_reproduces_the_matrix_and_scores_new_rows():
    df = _survey()
    pb = prepare_basis(df, scale_correction="center")
    np.testing.assert_allclose(pb.transformer.transform(df), pb.matrix)
    one = pb.transformer.transform(df.iloc[[3]])
    np.testing.assert_allclose(one, pb.matrix[[3]])


def test_yes_no_and_codes_give_the_same_basis():
    df = _survey()
    codes = df.assign(fast=(df["fast"] == "Yes").astype(int))
    np.testing.assert_allclose(prepare_basis(df).matrix, prepare_basis(codes).matrix)


def test_mixed_types_error_names_column_and_value():
    df = _survey()
    df["price"] = df["price"].astype(object)
    df.loc[4, "price"] = "n/a"
    with pytest.raises(ValueError, match=r"'price'.*'n/a'"):
        prepare_basis(df)


def test_constant_item_is_an_error():
    df = _survey().assign(taste=4)
    with pytest.raises(ValueError, match=r"'taste' is constant"):
        prepare_basis(df)


@pytest.mark.parametrize(("value", "shown"), [(4, "4"), (2.5, "2.5"), ("Yes", "'Yes'")])
def test_constant_item_message_shows_the_plain_value(value, shown):
    # the column's values are NumPy scalars: NumPy 2's repr would write np.int64(4)
    df = _survey().assign(taste=value)
    with pytest.raises(ValueError, match=r"'taste' is constant") as info:
        prepare_basis(df)
    assert f"(every answer is {shown});" in str(info.value)
    assert "np." not in str(info.value)


def test_bad_value_at_transform_shows_the_plain_number():
    from segmentum.segments.basis import BasisTransformer

    df = _survey()
    fitted = BasisTransformer(["taste", "healthy"]).fit(df)
    new = df.assign(healthy=df["healthy"].astype(float))
    new.loc[3, "healthy"] = 2.0
    with pytest.raises(ValueError, match=r"'healthy': bad binary value 2\.0$"):
        fitted.transform(new)


def test_all_missing_rows_are_an_error():
    df = _survey().astype(object)
    df.loc[7, :] = None
    with pytest.raises(ValueError, match=r"every basis item missing.*7"):
        prepare_basis(df)


def test_missing_values_imputed_and_reported():
    df = _survey()
    df.loc[[1, 2, 3], "taste"] = np.nan
    df.loc[5, "fast"] = None
    pb = prepare_basis(df)
    assert pb.imputed == {"taste": 3, "fast": 1}
    assert pb.diagnostics.loc["taste", "imputed"] == 3
    assert any("4 missing answer(s) imputed" in w for w in pb.warnings)
    assert not np.isnan(pb.matrix).any()
    with pytest.raises(ValueError, match="impute='none'"):
        prepare_basis(df, impute="none")


def test_near_constant_and_duplicate_items_are_reported():
    df = _survey(200)
    df["taste_again"] = df["taste"]
    df.loc[df.index[2:], "taste_again"] = df["taste"].iloc[2:]
    df["rare"] = 0
    df.loc[0, "rare"] = 1
    pb = prepare_basis(df)
    assert pb.diagnostics.loc["taste_again", "duplicate_of"] == "taste"
    assert bool(pb.diagnostics.loc["rare", "near_constant"])
    assert any("nearly duplicate" in w for w in pb.warnings)
    assert any("'rare' barely varies" in w for w in pb.warnings)


def test_scale_correction_removes_acquiescence():
    rng = np.random.default_rng(1)
    base = rng.integers(2, 6, size=(100, 6)).astype(float)
    shift = rng.integers(0, 2, size=(100, 1)) * 2.0  # half the people tick everything higher
    df = pd.DataFrame(base + shift, columns=[f"q{i}" for i in range(6)])
    centred = prepare_basis(df, scale_correction="center", standardize=False).matrix
    np.testing.assert_allclose(centred.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        centred, prepare_basis(df - shift, scale_correction="center", standardize=False).matrix
    )
    std = prepare_basis(df, scale_correction="standardize", standardize=False).matrix
    np.testing.assert_allclose(std.std(axis=1)[std.std(axis=1) > 0], 1.0)


def test_weights_column_and_weighted_standardising():
    df = _survey().assign(w=np.linspace(0.5, 1.5, 60))
    pb = prepare_basis(df, weights="w")
    assert "w" not in pb.items
    ww = pb.weights / pb.weights.sum()
    np.testing.assert_allclose(ww @ pb.matrix, 0.0, atol=1e-12)


def test_reduction_warns_what_it_hides():
    df = _survey()
    pb = prepare_basis(df, reduce="pca", n_components=3)
    assert pb.columns == ["PC1", "PC2", "PC3"]
    assert any("hidden" in w for w in pb.warnings)
    np.testing.assert_allclose(pb.transformer.transform(df), pb.matrix, atol=1e-10)
    fa = prepare_basis(df, reduce="fa", n_components=2)
    assert fa.matrix.shape == (60, 2)
    assert any("factor" in w for w in fa.warnings)


def test_bad_options_list_choices():
    with pytest.raises(ValueError, match="'none', 'center' or 'standardize'"):
        prepare_basis(_survey(), scale_correction="row")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"not found|missing"):
        prepare_basis(_survey(), items=["nope"])


def test_infer_kind_of_text_yes_no_and_labels():
    assert infer_item_kind(pd.Series(["Yes", "no", None], name="a")) == "binary"
    assert infer_item_kind(pd.Series(["1 Good", "2 Bad"], name="b")) == "categorical"
    assert infer_item_kind(pd.Series(["1", "2", "5"], name="c")) == "likert"
    assert infer_item_kind(pd.Series([0.1, 2.5, 3.7], name="d")) == "numeric"


def test_auto_standardising_keeps_yes_no_items_zero_one(shared_data):
    """Rare Yes answers must not outweigh common ones: 'auto' leaves 0/1 items alone and
    standardises rating scales (the stage's default)."""
    import numpy as np
    import pandas as pd

    from segmentum.segments import prepare_basis
    from segmentum.segments.stage import SegmentsConfig

    mcd = pd.read_csv(shared_data / "msa" / "mcdonalds.csv")
    frame = mcd.iloc[:, :11].copy()
    frame["rating"] = np.arange(len(frame)) % 7 + 1
    prepared = prepare_basis(frame, standardize="auto")
    binary = prepared.matrix[:, :11]
    assert set(np.unique(binary)) == {0.0, 1.0}
    rating = prepared.matrix[:, 11]
    assert abs(rating.mean()) < 1e-9 and abs(rating.std() - 1) < 0.01
    assert SegmentsConfig().standardize == "auto"
