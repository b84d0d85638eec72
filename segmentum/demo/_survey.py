"""Survey answers and competitor ratings of the demo market (vectorised draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentum.demo import _spec as spec
from segmentum.demo._frames import str_column

LIKERT_MIN, LIKERT_MAX = spec.SURVEY_SCALE
# Competitor ratings: a respondent's halo per brand, and noise per brand and need.
RATING_HALO_SD = 0.35
RATING_NOISE_SD = 0.75
# Latent noise and respondent styles, calibrated so that centring + k-means recovers the
# planted segments (ARI about 0.9) while raw answers do visibly worse.
ITEM_NOISE_SD = 1.05
MEMBERSHIP_SD = 0.18
HYBRID_SHARE = 0.12
SCALE_SHIFT_SD = 0.6
SCALE_SPREAD_SD = 0.2


def draw_categorical(rng: np.random.Generator, prob: np.ndarray) -> np.ndarray:
    """Draw one category per row of a probability matrix.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    prob : numpy.ndarray of shape (n, k)
        Row-wise probabilities (rows sum to 1).

    Returns
    -------
    numpy.ndarray of shape (n,)
        Category codes in ``0..k-1``.
    """
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(prob.shape[0])[:, None]
    return (u > cum).sum(axis=1)


def likert_needs(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """Need answers on the 7-point scale, with membership strength, hybrids and scale use.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    segment : numpy.ndarray of shape (n,)
        Planted segment code of each respondent.

    Returns
    -------
    numpy.ndarray of shape (n, n_needs), dtype int64
        Answers in ``1..7``.
    """
    n = segment.size
    k = len(spec.SEGMENT_NAMES)
    means = spec.planted_means()
    base = np.array([spec.NEED_BASE[c] for c in spec.NEED_COLUMNS])
    boosts = means - base
    strength = np.clip(rng.normal(1.0, MEMBERSHIP_SD, n), 0.5, 1.5)
    profile = boosts[segment] * strength[:, None]
    # Hybrids lean partly towards a second segment (realistic overlap).
    hybrid = rng.random(n) < HYBRID_SHARE
    second = (segment + rng.integers(1, k, n)) % k
    lean = rng.uniform(0.2, 0.45, n) * hybrid
    profile = (1 - lean)[:, None] * profile + lean[:, None] * boosts[second]
    latent = base + profile + rng.normal(0.0, ITEM_NOISE_SD, (n, base.size))
    # Scale use: an additive shift (yea-/nay-saying) and a personal spread.
    shift = rng.normal(0.0, SCALE_SHIFT_SD, n)
    spread = np.exp(rng.normal(0.0, SCALE_SPREAD_SD, n))
    answer = 4.0 + shift[:, None] + spread[:, None] * latent
    return np.clip(np.rint(answer), LIKERT_MIN, LIKERT_MAX).astype(np.int64)


def wish_sentences(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """One open 'I wish ...' sentence per respondent.

    Most sentences voice the respondent's own segment's needs, some a generic wish, a few
    another segment's; openers, fillers and second clauses vary the wording.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    segment : numpy.ndarray of shape (n,)
        Planted segment code of each respondent.

    Returns
    -------
    numpy.ndarray of shape (n,), dtype object
        The sentences.
    """
    n = segment.size
    k = len(spec.SEGMENT_NAMES)
    per_segment = [spec.WISH_TEMPLATES[name] for name in spec.SEGMENT_NAMES]
    n_templates = len(per_segment[0])
    table = np.array([t for templates in per_segment for t in templates], dtype=object)
    generic = np.array(spec.GENERIC_WISHES, dtype=object)

    u = rng.random(n)
    source = np.where(u < 0.72, segment, (segment + rng.integers(1, k, n)) % k)
    first = table[source * n_templates + rng.integers(0, n_templates, n)]
    is_generic = (u >= 0.82) & (u < 0.97)
    first = np.where(is_generic, generic[rng.integers(0, generic.size, n)], first)
    # A second clause from the own segment for some respondents.
    second = table[segment * n_templates + rng.integers(0, n_templates, n)]
    add_second = (rng.random(n) < 0.3) & (second != first)
    joiner = np.array([" and ", ", and ", " and that "], dtype=object)[rng.integers(0, 3, n)]
    clause = np.where(add_second, first + joiner + second, first)
    opener = np.array(spec.WISH_OPENERS, dtype=object)[rng.integers(0, len(spec.WISH_OPENERS), n)]
    suffix = np.array(spec.WISH_SUFFIXES, dtype=object)[rng.integers(0, len(spec.WISH_SUFFIXES), n)]
    return opener + " " + clause + suffix + "."


def post_stratification_weights(
    rng: np.random.Generator, age: np.ndarray, gender: np.ndarray, region: np.ndarray
) -> np.ndarray:
    """Weights that align the sample's age x gender x region mix with a fixed population.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    age, gender, region : numpy.ndarray of shape (n,)
        Age in years, gender code, region code.

    Returns
    -------
    numpy.ndarray of shape (n,)
        Weights in about ``0.3..3`` with mean 1.
    """
    n = age.size
    age_band = np.digitize(age, [35, 55])
    gender2 = np.minimum(gender, 1)
    cell = (age_band * 2 + gender2) * len(spec.REGIONS) + region
    n_cells = 3 * 2 * len(spec.REGIONS)
    pop_age = np.array([0.30, 0.36, 0.34])
    pop_gender = np.array([0.51, 0.49])
    pop_region = np.array([0.17, 0.21, 0.38, 0.24])
    target = (
        pop_age[:, None, None] * pop_gender[None, :, None] * pop_region[None, None, :]
    ).ravel()
    sample = np.bincount(cell, minlength=n_cells) / n
    ratio = np.where(sample > 0, target / np.maximum(sample, 1e-12), 1.0)
    # Non-response adjustments on variables we do not keep make weights vary within cells.
    weight = ratio[cell] * np.exp(rng.normal(0.0, 0.25, n))
    for _ in range(20):
        weight = np.clip(weight / weight.mean(), 0.3, 3.0)
    return weight / weight.mean()


def make_survey(
    rng: np.random.Generator, segment: np.ndarray, customer_id: np.ndarray
) -> pd.DataFrame:
    """Survey frame: ids, weight, needs, behaviours, descriptors and open text.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    segment : numpy.ndarray of shape (n,)
        Planted segment code of each respondent.
    customer_id : numpy.ndarray of shape (n,), dtype object
        Linked customer id, or None.

    Returns
    -------
    pandas.DataFrame
        One row per respondent, columns as documented in :mod:`segmentum.demo`.
    """
    n = segment.size
    needs = likert_needs(rng, segment)
    behaviours = rng.random((n, len(spec.BEHAVIOUR_COLUMNS))) < spec.BEHAVIOUR_PROB[segment]
    age = np.clip(np.rint(rng.normal(spec.AGE_MEAN[segment], spec.AGE_SD)), 18, 85).astype(np.int64)
    gender = draw_categorical(rng, spec.GENDER_PROB[segment])
    region = draw_categorical(rng, spec.REGION_PROB[segment])
    income = draw_categorical(rng, spec.INCOME_PROB[segment])
    household = draw_categorical(rng, spec.HOUSEHOLD_PROB[segment])
    retired_age = (age >= 66) & (rng.random(n) < 0.6)
    household = np.where(retired_age, spec.HOUSEHOLDS.index("retired"), household)
    household = np.where(
        (age < 60) & (household == spec.HOUSEHOLDS.index("retired")),
        spec.HOUSEHOLDS.index("couple"),
        household,
    )
    weight = post_stratification_weights(rng, age, gender, region)
    wish = wish_sentences(rng, segment)

    columns: dict[str, object] = {
        "respondent_id": str_column(np.array([f"R{i:06d}" for i in range(1, n + 1)], dtype=object)),
        "customer_id": str_column(customer_id),
        "weight": weight,
    }
    for j, name in enumerate(spec.NEED_COLUMNS):
        columns[name] = needs[:, j]
    for j, name in enumerate(spec.BEHAVIOUR_COLUMNS):
        columns[name] = behaviours[:, j].astype(np.int64)
    columns["age"] = age
    columns["gender"] = str_column(np.array(spec.GENDERS, dtype=object)[gender])
    columns["region"] = str_column(np.array(spec.REGIONS, dtype=object)[region])
    columns["income_band"] = str_column(np.array(spec.INCOME_BANDS, dtype=object)[income])
    columns["household"] = str_column(np.array(spec.HOUSEHOLDS, dtype=object)[household])
    columns["i_wish"] = str_column(wish)
    return pd.DataFrame(columns)


def make_competitor_ratings(
    rng: np.random.Generator, segment: np.ndarray, respondent_id: pd.Series
) -> pd.DataFrame:
    """Long table of how well each brand serves each need, per respondent (1..5).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    segment : numpy.ndarray of shape (n,)
        Planted segment code of each respondent.
    respondent_id : pandas.Series
        Respondent ids, in the order of ``segment``.

    Returns
    -------
    pandas.DataFrame
        Columns ``respondent_id``, ``brand``, ``need``, ``rating``; one row per respondent,
        brand and need.
    """
    n = segment.size
    n_brands = len(spec.BRANDS)
    n_needs = len(spec.NEED_COLUMNS)
    means = spec.brand_means()
    halo = spec.BRAND_HALO[segment] + rng.normal(0.0, RATING_HALO_SD, (n, n_brands))
    latent = (
        means[None, :, :]
        + halo[:, :, None]
        + rng.normal(0.0, RATING_NOISE_SD, (n, n_brands, n_needs))
    )
    rating = np.clip(np.rint(latent), *spec.RATING_SCALE).astype(np.int64).ravel()
    resp_code = np.repeat(np.arange(n), n_brands * n_needs)
    brand_code = np.tile(np.repeat(np.arange(n_brands), n_needs), n)
    need_code = np.tile(np.arange(n_needs), n * n_brands)
    ids = respondent_id.to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "respondent_id": str_column(ids, resp_code),
            "brand": str_column(np.array(spec.BRANDS, dtype=object), brand_code),
            "need": str_column(np.array(spec.NEED_COLUMNS, dtype=object), need_code),
            "rating": rating,
        }
    )
