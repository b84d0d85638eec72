"""Basis preparation: turn survey items into the matrix segments are built on.

The *basis* is the set of needs, attitude and behaviour items a segmentation is built on
(Dolnicar, Grün & Leisch 2018, ch. 6). :func:`prepare_basis` recognises each item's kind
(Likert, binary, categorical, numeric), checks it, optionally removes respondent-level
scale use (people who tick high on everything), standardises, imputes missing values
and reports what it did. The fitted :class:`BasisTransformer` transforms new rows the same
way, so that scoring later reproduces the basis exactly.
"""

from __future__ import annotations

import numbers
import warnings as _warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from segmentum.segments.config import DEFAULT_SEGMENTS as _DEFAULT

ItemKind = Literal["likert", "binary", "categorical", "numeric"]
ScaleCorrection = Literal["none", "center", "standardize"]

_YES = {"yes", "y", "true", "t"}
_NO = {"no", "n", "false", "f"}
NEAR_CONSTANT_SHARE = 0.95
NEAR_DUPLICATE_CORR = 0.95


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _shown(value: Any) -> Any:
    """A value as a message shows it: a NumPy scalar as the plain Python number or text
    (NumPy 2 writes ``np.int64(3)`` for ``repr(np.int64(3))``)."""
    return value.item() if isinstance(value, np.generic) else value


def _as_number(value: Any) -> float | None:
    """A number for ``value`` if it is one (or a numeric string), else None."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, numbers.Number):
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def infer_item_kind(column: pd.Series) -> ItemKind:
    """Recognise the kind of one basis item.

    Parameters
    ----------
    column : pandas.Series
        The item's answers; missing values are ignored.

    Returns
    -------
    {"likert", "binary", "categorical", "numeric"}
        ``binary``: two values 0/1 (or Yes/No, True/False); ``likert``: integers with at most
        11 distinct levels spanning at most 11 points; ``categorical``: labels or a pandas
        categorical; ``numeric``: anything else numeric.

    Raises
    ------
    ValueError
        If the column mixes numbers and text, or holds values that are neither.
    """
    name = column.name
    values = column[~column.isna()]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(column.dtype):
        return "binary"
    if pd.api.types.is_numeric_dtype(column.dtype):
        uniq = np.unique(values.to_numpy(dtype=float))
        if len(uniq) <= 2 and set(uniq.tolist()) <= {0.0, 1.0}:
            return "binary"
        if (
            len(uniq) <= 11
            and np.all(np.equal(np.mod(uniq, 1), 0))
            and (uniq.max() - uniq.min() <= 10 if len(uniq) else True)
        ):
            return "likert"
        return "numeric"
    # object / string columns: all text, all numbers, or mixed (an error)
    numeric, text = [], []
    for v in values.tolist():
        if isinstance(v, str):
            (text if _as_number(v) is None else numeric).append(v)
        elif isinstance(v, numbers.Number | np.bool_):
            numeric.append(v)
        else:
            raise ValueError(
                f"basis column {name!r}: value {v!r} of type {type(v).__name__} is neither "
                "a number nor a label"
            )
    if numeric and text:
        minority = text if len(text) <= len(numeric) else numeric
        raise ValueError(
            f"basis column {name!r} mixes numbers and text: bad value {_shown(minority[0])!r} "
            f"({len(numeric)} numeric, {len(text)} text values); recode it to one type"
        )
    if text:
        lowered = {t.strip().lower() for t in text}
        if lowered <= _YES | _NO and len(lowered) <= 2:
            return "binary"
        return "categorical"
    return infer_item_kind(pd.Series(pd.to_numeric(values), name=name))


@dataclass
class _ItemSpec:
    name: str
    kind: ItemKind
    categories: list[Any] = field(default_factory=list)  # categorical / LCA levels


class BasisTransformer:
    """Fitted basis preparation, able to transform new rows for scoring.

    Built by :func:`prepare_basis` (or fitted directly with :meth:`fit`); it stores every
    learned quantity (item kinds, categories, medians, means, standard deviations, the
    dimension reduction) so that :meth:`transform` reproduces the basis on new data.

    Parameters
    ----------
    items : list of str or None, default=None
        Basis columns; all columns when None.
    scale_correction : {"none", "center", "standardize"}, default="none"
        Within-respondent correction over the Likert and numeric items: subtract each
        respondent's mean (``center``), or also divide by their standard deviation
        (``standardize``).
    standardize : bool or "auto", default=True
        Standardise each prepared column (weighted mean 0, sd 1); ``"auto"`` standardises
        rating-scale and numeric items and keeps binary items and category dummies as 0/1.
        Standardise each output column to weighted mean 0 and standard deviation 1.
    reduce : {None, "pca", "fa"}, default=None
        Optional dimension reduction after standardising.
    n_components : int or None, default=None
        Components kept by ``reduce``; None keeps enough PCA components for 80 % of the
        variance, or half the columns for factor analysis.
    impute : {"median", "mean", "none"}, default="median"
        How missing answers are filled; ``"none"`` raises on missing values.
    """

    def __init__(
        self,
        items: list[str] | None = None,
        *,
        scale_correction: ScaleCorrection = "none",
        standardize: bool | Literal["auto"] = True,
        reduce: Literal["pca", "fa"] | None = None,
        n_components: int | None = None,
        impute: Literal["median", "mean", "none"] = "median",
    ) -> None:
        self.items = items
        self.scale_correction = scale_correction
        self.standardize = standardize
        self.reduce = reduce
        self.n_components = n_components
        self.impute = impute

    # -- encoding ---------------------------------------------------------------------
    def _encode_item(self, spec: _ItemSpec, column: pd.Series) -> np.ndarray:
        """Numeric encoding of one raw item (NaN for missing); one-hot for categorical."""
        n = len(column)
        miss = column.isna().to_numpy()
        if spec.kind == "binary":
            if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
                column.dtype
            ):
                out = np.array(column.to_numpy(dtype=float, na_value=np.nan), copy=True)
            else:
                text = column.astype(str).str.strip().str.lower()
                out = np.full(n, np.nan)
                out[text.isin(_YES).to_numpy()] = 1.0
                out[text.isin(_NO).to_numpy()] = 0.0
                rest = np.isnan(out) & ~miss
                if rest.any():
                    num = pd.to_numeric(column[rest], errors="coerce").to_numpy(dtype=float)
                    out[rest] = num
            out[miss] = np.nan
            bad = ~miss & ~np.isin(out, (0.0, 1.0))
            if bad.any():
                raise ValueError(
                    f"basis column {spec.name!r}: bad binary value {_shown(column[bad].iloc[0])!r}"
                )
            return out[:, None]
        if spec.kind == "categorical":
            codes = self._codes(spec, column)
            out = np.zeros((n, len(spec.categories)))
            ok = codes >= 0
            out[np.flatnonzero(ok), codes[ok]] = 1.0
            out[codes == -1] = np.nan
            return out
        vals = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(vals) & ~miss
        if bad.any():
            raise ValueError(
                f"basis column {spec.name!r}: bad value {_shown(column[bad].iloc[0])!r} is not a "
                "number"
            )
        return vals[:, None]

    @staticmethod
    def _codes(spec: _ItemSpec, column: pd.Series) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(spec.categories)}
        out = np.full(len(column), -1, dtype=np.int64)
        for i, v in enumerate(column.tolist()):
            if _is_missing(v):
                continue
            key = _category_key(v)
            out[i] = lookup.get(key, -2)  # -2: unseen category
        return out

    def _output_names(self) -> list[str]:
        names: list[str] = []
        for spec in self.specs_:
            if spec.kind == "categorical":
                names.extend(f"{spec.name}={c}" for c in spec.categories)
            else:
                names.append(spec.name)
        return names

    def _raw_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        missing_cols = [s.name for s in self.specs_ if s.name not in frame.columns]
        if missing_cols:
            raise ValueError(f"basis columns missing from the data: {missing_cols}")
        blocks = [self._encode_item(s, frame[s.name]) for s in self.specs_]
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def _scale_correct(self, mat: np.ndarray) -> np.ndarray:
        if self.scale_correction == "none" or not self.scale_cols_.size:
            return mat
        mat = mat.copy()
        sub = mat[:, self.scale_cols_]
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)
            mu = np.nanmean(sub, axis=1, keepdims=True)
            sub = sub - mu
            if self.scale_correction == "standardize":
                sd = np.nanstd(sub, axis=1, keepdims=True)
                sd[~(sd > 1e-12)] = 1.0
                sub = sub / sd
        mat[:, self.scale_cols_] = sub
        return mat

    # -- fit / transform --------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, weights: np.ndarray | None = None) -> BasisTransformer:
        """Learn kinds, categories, imputation values, scaling and reduction from ``frame``."""
        prepared = _fit_transformer(self, frame, weights)
        self._fit_report = prepared
        return self

    def transform(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Prepare new rows exactly as the fitted basis (missing values imputed).

        A numeric array (columns in basis order, no categorical items) skips re-encoding
        and keeps its float dtype (float32 stays float32 unless standardising).
        """
        if not hasattr(self, "specs_"):
            raise RuntimeError("BasisTransformer is not fitted; call fit or prepare_basis")
        if isinstance(frame, np.ndarray) and frame.dtype.kind in "fiub":
            # fast path for scoring numeric arrays: columns in basis order, no re-encoding
            if any(s.kind == "categorical" for s in self.specs_):
                raise ValueError("categorical basis items need a DataFrame to be transformed")
            if frame.ndim != 2 or frame.shape[1] != len(self.specs_):
                raise ValueError(
                    f"expected {len(self.specs_)} basis columns, got array of shape {frame.shape}"
                )
            mat = frame if frame.dtype.kind == "f" else frame.astype(float)
            mat = self._scale_correct(mat)
        else:
            mat = self._scale_correct(self._raw_matrix(frame))
        nan = np.isnan(mat)
        if nan.any():
            if self.impute == "none":
                raise ValueError("missing values in the basis and impute='none'")
            mat = np.where(nan, self.fill_[None, :], mat)
        if self.standardize:
            mat = (mat - self.mean_) / self.scale_
        if self.reducer_ is not None:
            mat = self.reducer_.transform(mat)
        return mat

    def codes(
        self, frame: pd.DataFrame, items: list[str] | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """Categorical codes for latent class analysis (-1 where missing).

        Binary items code 0/1, Likert items their sorted levels (ordinal items treated as
        categorical), categorical items their categories. Numeric items are refused.
        ``items`` restricts the output to some basis items (all by default).
        """
        out, n_cats = [], []
        for spec in self.specs_:
            if items is not None and spec.name not in items:
                continue
            if spec.kind == "numeric":
                raise ValueError(
                    f"basis column {spec.name!r} is numeric (many distinct values); latent "
                    "class analysis needs binary, categorical or ordinal items"
                )
            if spec.kind == "binary":
                col = self._encode_item(spec, frame[spec.name])[:, 0]
                codes = np.where(np.isnan(col), -1, col).astype(np.int64)
                n_cats.append(2)
            else:
                codes = self._codes(spec, frame[spec.name])
                if spec.kind == "likert" and (codes == -2).any():
                    # a Likert level never seen in fitting: treat as missing for scoring
                    codes = np.where(codes == -2, -1, codes)
                if (codes == -2).any():
                    bad = frame[spec.name][codes == -2].iloc[0]
                    raise ValueError(f"basis column {spec.name!r}: unseen category {bad!r}")
                n_cats.append(len(spec.categories))
            out.append(codes)
        if not out:
            return np.zeros((len(frame), 0), dtype=np.int64), []
        return np.column_stack(out), n_cats

    def inverse_item_units(self, centers: np.ndarray) -> np.ndarray:
        """Undo standardising for centres given in the prepared space (no reduction)."""
        if self.reducer_ is not None:
            centers = self.reducer_.inverse_transform(centers)
        if self.standardize:
            centers = centers * self.scale_ + self.mean_
        return centers


def _category_key(v: Any) -> Any:
    num = _as_number(v) if not isinstance(v, str) else None
    if num is not None and float(num).is_integer():
        return int(num)
    return v


def _sorted_levels(values: list[Any]) -> list[Any]:
    keys = sorted({_category_key(v) for v in values}, key=lambda x: (isinstance(x, str), x))
    return keys


@dataclass
class PreparedBasis:
    """The prepared segmentation basis and what was done to get it.

    Attributes
    ----------
    matrix : numpy.ndarray
        Rows × prepared columns, ready for clustering.
    columns : list of str
        Names of the prepared columns (``item=level`` for one-hot categorical items,
        ``PC1…`` or ``F1…`` after reduction).
    items : list of str
        The basis items, as given.
    kinds : dict
        Item → ``"likert" | "binary" | "categorical" | "numeric"``.
    diagnostics : pandas.DataFrame
        One row per item: kind, missing, imputed, sd, top-value share, ``near_constant``,
        ``duplicate_of`` (the item it nearly duplicates, |r| ≥ 0.95).
    imputed : dict
        Item → number of values imputed.
    warnings : list of str
        Messages for the report (near-constant items, near duplicates, imputations,
        dimension reduction).
    transformer : BasisTransformer
        Fitted; ``transformer.transform(new_frame)`` prepares new rows for scoring.
    weights : numpy.ndarray or None
        Survey weights (normalised to mean 1) or None.
    """

    matrix: np.ndarray
    columns: list[str]
    items: list[str]
    kinds: dict[str, ItemKind]
    diagnostics: pd.DataFrame
    imputed: dict[str, int]
    warnings: list[str]
    transformer: BasisTransformer
    weights: np.ndarray | None = None


def _weighted_mean_sd(mat: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if w is None:
        return mat.mean(axis=0), mat.std(axis=0)
    ww = w / w.sum()
    mu = ww @ mat
    sd = np.sqrt(ww @ (mat - mu) ** 2)
    return mu, sd


def _check_options(tr: BasisTransformer, frame: pd.DataFrame, items: list[str]) -> None:
    """Reject absent or no items and an unknown scale_correction, reduce or impute choice."""
    absent = [c for c in items if c not in frame.columns]
    if absent:
        raise ValueError(f"basis columns missing from the data: {absent}")
    if not items:
        raise ValueError("the basis is empty: name at least one item")
    if tr.scale_correction not in ("none", "center", "standardize"):
        raise ValueError(
            f"scale_correction={tr.scale_correction!r}; choose 'none', 'center' or 'standardize'"
        )
    if tr.reduce not in (None, "pca", "fa"):
        raise ValueError(f"reduce={tr.reduce!r}; choose None, 'pca' or 'fa'")
    if tr.impute not in ("median", "mean", "none"):
        raise ValueError(f"impute={tr.impute!r}; choose 'median', 'mean' or 'none'")


def _reject_rows_without_answers(sub: pd.DataFrame) -> None:
    """Raise when a row has every basis item missing (nothing to segment it on)."""
    all_missing = sub.isna().all(axis=1).to_numpy()
    if all_missing.any():
        rows = list(sub.index[all_missing][:5])
        raise ValueError(
            f"{int(all_missing.sum())} row(s) have every basis item missing (first: {rows}); "
            "drop them before segmenting"
        )


def _item_specs(sub: pd.DataFrame, items: list[str]) -> list[_ItemSpec]:
    """Each item's kind and levels; a constant item is an error."""
    specs: list[_ItemSpec] = []
    for name in items:
        col = sub[name]
        kind = infer_item_kind(col)
        nonmiss = col.dropna()
        if nonmiss.nunique() < 2:
            value = _shown(nonmiss.iloc[0]) if len(nonmiss) else None
            raise ValueError(
                f"basis column {name!r} is constant (every answer is {value!r}); it cannot "
                "separate segments, remove it from the basis"
            )
        cats: list[Any] = []
        if kind == "categorical":
            if isinstance(col.dtype, pd.CategoricalDtype):
                cats = [_category_key(c) for c in col.cat.categories]
            else:
                cats = _sorted_levels(nonmiss.tolist())
        elif kind == "likert":
            cats = _sorted_levels(pd.to_numeric(nonmiss).tolist())
        specs.append(_ItemSpec(name, kind, cats))
    return specs


def _scale_columns(specs: list[_ItemSpec]) -> list[int]:
    """Output columns (Likert and numeric items) that take the within-respondent correction."""
    scale_cols, j = [], 0
    for spec in specs:
        width = len(spec.categories) if spec.kind == "categorical" else 1
        if spec.kind in ("likert", "numeric"):
            scale_cols.append(j)
        j += width
    return scale_cols


def _normalised_weights(weights: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """Check the case weights (finite, non-negative, one per row) and rescale them to mean 1."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_rows,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("weights must be one finite, non-negative number per row")
    if w.sum() <= 0:
        raise ValueError("weights sum to zero")
    return w / w.mean()


def _impute(
    tr: BasisTransformer,
    mat: np.ndarray,
    sub: pd.DataFrame,
    specs: list[_ItemSpec],
    msgs: list[str],
) -> tuple[np.ndarray, dict[str, int]]:
    """Fill missing answers with the median or mean (``tr.fill_``); count them per item."""
    nan = np.isnan(mat)
    imputed: dict[str, int] = {}
    for spec in specs:
        n_miss = int(sub[spec.name].isna().sum())
        if n_miss:
            imputed[spec.name] = n_miss
    if nan.any() and tr.impute == "none":
        raise ValueError(
            f"missing values in basis items {sorted(imputed)} and impute='none'; choose "
            "impute='median' or a latent class model (which handles them)"
        )
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nanmedian(mat, axis=0) if tr.impute == "median" else np.nanmean(mat, axis=0)
    fill = np.where(np.isnan(fill), 0.0, fill)
    tr.fill_ = fill
    if nan.any():
        mat = np.where(nan, fill[None, :], mat)
        total = sum(imputed.values())
        msgs.append(
            f"{total} missing answer(s) imputed with the {tr.impute} in "
            f"{len(imputed)} item(s): "
            + ", ".join(f"{k} ({v})" for k, v in sorted(imputed.items(), key=lambda kv: -kv[1])[:8])
        )
    return mat, imputed


def _standardise(tr: BasisTransformer, mat: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Learn ``tr.mean_`` and ``tr.scale_`` (0/1 columns kept under "auto") and apply them."""
    mu, sd = _weighted_mean_sd(mat, w)
    tr.mean_ = mu
    tr.scale_ = np.where(sd > 1e-12, sd, 1.0)
    if tr.standardize == "auto":
        # Rating scales are standardised; 0/1 items (binary, category dummies) stay 0/1, or a
        # rare Yes (9 % of answers) would weigh three times a common one.
        zero_one = np.ones(len(mu), dtype=bool)
        zero_one[tr.scale_cols_] = False
        tr.mean_ = np.where(zero_one, 0.0, tr.mean_)
        tr.scale_ = np.where(zero_one, 1.0, tr.scale_)
    if tr.standardize:
        mat = (mat - tr.mean_) / tr.scale_
    return mat


def _item_diagnostics(
    tr: BasisTransformer,
    sub: pd.DataFrame,
    specs: list[_ItemSpec],
    imputed: dict[str, int],
    msgs: list[str],
) -> pd.DataFrame:
    """Per-item diagnostics on the raw encoding; warn on near-duplicate and near-constant items."""
    rows = []
    corr_cols = {}
    for spec in specs:
        col = sub[spec.name]
        nonmiss = col.dropna()
        top_share = float(nonmiss.value_counts(normalize=True).iloc[0])
        enc = tr._encode_item(spec, col)
        if enc.shape[1] == 1:
            x = enc[:, 0]
            corr_cols[spec.name] = np.where(np.isnan(x), np.nanmean(x), x)
            item_sd = float(np.nanstd(x))
        else:
            item_sd = float("nan")
        rows.append(
            {
                "item": spec.name,
                "kind": spec.kind,
                "levels": int(nonmiss.nunique()),
                "missing": int(col.isna().sum()),
                "imputed": imputed.get(spec.name, 0),
                "sd": item_sd,
                "top_share": top_share,
                "near_constant": top_share >= NEAR_CONSTANT_SHARE,
                "duplicate_of": "",
                "max_abs_corr": float("nan"),
            }
        )
    diag = pd.DataFrame(rows).set_index("item")
    if len(corr_cols) >= 2:
        names = list(corr_cols)
        cm = np.corrcoef(np.column_stack([corr_cols[n] for n in names]), rowvar=False)
        np.fill_diagonal(cm, 0.0)
        cm = np.nan_to_num(cm)
        for i, n in enumerate(names):
            diag.loc[n, "max_abs_corr"] = float(np.abs(cm[i]).max())
            for jj in range(i):
                if abs(cm[i, jj]) >= NEAR_DUPLICATE_CORR:
                    diag.loc[n, "duplicate_of"] = names[jj]
                    msgs.append(
                        f"items {names[jj]!r} and {n!r} nearly duplicate each other "
                        f"(r = {cm[i, jj]:.2f}); consider keeping one"
                    )
                    break
    for name in diag.index[diag["near_constant"]]:
        msgs.append(
            f"item {name!r} barely varies ({diag.loc[name, 'top_share']:.0%} give the same "
            "answer); it adds little to the segmentation"
        )
    return diag


def _fit_transformer(
    tr: BasisTransformer, frame: pd.DataFrame, weights: np.ndarray | None
) -> PreparedBasis:
    """Learn the encoding, imputation, scaling and reduction of ``tr`` on ``frame``."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame))
        frame.columns = [str(c) for c in frame.columns]
    items = list(tr.items) if tr.items is not None else [str(c) for c in frame.columns]
    _check_options(tr, frame, items)
    sub = frame[items]
    _reject_rows_without_answers(sub)
    specs = _item_specs(sub, items)
    tr.specs_ = specs
    tr.items_ = items
    raw = tr._raw_matrix(sub)
    out_names = tr._output_names()
    scale_cols = _scale_columns(specs)
    tr.scale_cols_ = np.asarray(scale_cols, dtype=np.int64)
    w = _normalised_weights(weights, len(frame))
    msgs: list[str] = []
    if tr.scale_correction != "none" and len(scale_cols) < 2:
        msgs.append(
            f"scale_correction={tr.scale_correction!r} needs at least two Likert/numeric "
            "items; it has little effect here"
        )
    mat, imputed = _impute(tr, tr._scale_correct(raw), sub, specs, msgs)
    mat = _standardise(tr, mat, w)
    diag = _item_diagnostics(tr, sub, specs, imputed, msgs)
    tr.reducer_ = None
    columns = out_names
    if tr.reduce is not None:
        mat, columns, msg = _reduce(tr, mat)
        msgs.append(msg)
    return PreparedBasis(
        matrix=np.ascontiguousarray(mat, dtype=float),
        columns=columns,
        items=items,
        kinds={s.name: s.kind for s in specs},
        diagnostics=diag,
        imputed=imputed,
        warnings=msgs,
        transformer=tr,
        weights=w,
    )


def _reduce(tr: BasisTransformer, mat: np.ndarray) -> tuple[np.ndarray, list[str], str]:
    from sklearn.decomposition import PCA, FactorAnalysis

    p = mat.shape[1]
    if tr.reduce == "pca":
        full = PCA().fit(mat)
        if tr.n_components is None:
            cum = np.cumsum(full.explained_variance_ratio_)
            n_comp = int(np.searchsorted(cum, 0.8) + 1)
        else:
            n_comp = int(tr.n_components)
        if not 1 <= n_comp <= p:
            raise ValueError(f"n_components={n_comp} must be between 1 and {p}")
        red = PCA(n_components=n_comp).fit(mat)
        kept = float(red.explained_variance_ratio_.sum())
        names = [f"PC{i + 1}" for i in range(n_comp)]
        msg = (
            f"PCA kept {n_comp} of {p} dimensions ({kept:.0%} of the variance); segments "
            "that differ only in the discarded dimensions are hidden (Dolnicar et al. 2018, "
            "section 6.5: prefer the original items)"
        )
    else:
        n_comp = int(tr.n_components) if tr.n_components is not None else max(1, p // 2)
        if not 1 <= n_comp <= p:
            raise ValueError(f"n_components={n_comp} must be between 1 and {p}")
        red = FactorAnalysis(n_components=n_comp, random_state=0).fit(mat)
        names = [f"F{i + 1}" for i in range(n_comp)]
        msg = (
            f"factor analysis kept {n_comp} factors of {p} items; factor-cluster "
            "segmentation can hide the structure in the original items (Dolnicar et al. "
            "2018, section 6.5)"
        )
    tr.reducer_ = red
    return red.transform(mat), names, msg


def prepare_basis(
    frame: pd.DataFrame,
    *,
    items: list[str] | None = None,
    scale_correction: ScaleCorrection = _DEFAULT.scale_correction,
    standardize: bool | Literal["auto"] = True,
    reduce: Literal["pca", "fa"] | None = _DEFAULT.reduce,
    n_components: int | None = _DEFAULT.n_components,
    weights: str | np.ndarray | pd.Series | None = None,
    impute: Literal["median", "mean", "none"] = _DEFAULT.impute,
) -> PreparedBasis:
    """Prepare the segmentation basis from survey items.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per respondent.
    items : list of str or None, default=None
        Basis items; all columns of ``frame`` (except a weights column) when None.
    scale_correction : {"none", "center", "standardize"}, default="none"
        Respondent-level scale-use correction over Likert and numeric items.
    standardize : bool or "auto", default=True
        Standardise each prepared column (weighted when weights are given); ``"auto"``
        standardises rating scales and keeps 0/1 items as 0/1.
    reduce : {None, "pca", "fa"}, default=None
        Optional dimension reduction; a warning says what it may hide.
    n_components : int or None, default=None
        Dimensions kept by ``reduce``.
    weights : str, array-like or None, default=None
        Survey weights: a column of ``frame`` or one value per row.
    impute : {"median", "mean", "none"}, default="median"
        How missing answers are filled (and reported).

    Returns
    -------
    PreparedBasis

    Raises
    ------
    ValueError
        Naming the column and the bad value: mixed numbers and text in a basis column,
        a constant item, rows with every item missing, unknown options.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"fast": ["Yes", "No", "Yes", "No", "Yes", "No"],
    ...                    "price": [1, 2, 5, 4, 7, 6]})
    >>> pb = prepare_basis(df)
    >>> pb.kinds
    {'fast': 'binary', 'price': 'likert'}
    >>> pb.matrix.shape
    (6, 2)
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("prepare_basis expects a pandas DataFrame")
    w: np.ndarray | None
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise ValueError(f"weights column {weights!r} not in the data")
        w = frame[weights].to_numpy(dtype=float)
        if items is None:
            items = [c for c in frame.columns if c != weights]
    elif weights is not None:
        w = np.asarray(weights, dtype=float)
    else:
        w = None
    tr = BasisTransformer(
        items,
        scale_correction=scale_correction,
        standardize=standardize,
        reduce=reduce,
        n_components=n_components,
        impute=impute,
    )
    return _fit_transformer(tr, frame, w)
