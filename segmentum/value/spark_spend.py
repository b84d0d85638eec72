"""The Gamma-Gamma spend model fitted where the repeat buyers live (Spark).

Mean spends are continuous, so the distinct ``(frequency, monetary_value)`` pairs of the
repeat buyers are about one per buyer: collected, they grow with the customer base. Summed
over customers the Gamma-Gamma log-likelihood needs the rows only through the counts by
frequency, three scalars and six sums that depend on γ alone
(:class:`~segmentum.value.models.gamma_gamma.GammaGammaSums`); all are plain Spark SQL
aggregates (``ln`` and arithmetic). :func:`spend_sums_spark` computes the first two in one
job (one row per distinct frequency comes to the driver) and hands the fit a ``v_sums``
that is one single-row aggregate per γ the optimiser tries (about ten for a fit), so
:meth:`GammaGammaModel.fit_sums` gives the fit on the rows, exactly (to rounding), with
O(distinct frequencies) rows on the driver whatever the number of customers.

:func:`spend_pairs_cap` is the number of distinct pairs up to which the value stage still
collects them and fits as before (``SEGMENTUM_SPARK_SPEND_PAIRS_CAP``, default 100,000).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from segmentum.value.models.gamma_gamma import GammaGammaSums

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

__all__ = ["SPEND_PAIRS_CAP", "SpendSums", "spend_pairs_cap", "spend_sums_spark"]

#: distinct (frequency, monetary_value) pairs up to which they are collected for the fit
SPEND_PAIRS_CAP = 100_000
_CAP_ENV = "SEGMENTUM_SPARK_SPEND_PAIRS_CAP"


def spend_pairs_cap() -> int:
    """The pairs cap: ``SEGMENTUM_SPARK_SPEND_PAIRS_CAP`` when set (an integer >= 0; tests
    set it low to take the summed fit on small data), else :data:`SPEND_PAIRS_CAP`."""
    raw = os.environ.get(_CAP_ENV, "").strip()
    if not raw:
        return SPEND_PAIRS_CAP
    try:
        cap = int(raw)
    except ValueError:
        cap = -1
    if cap < 0:
        raise ValueError(
            f"environment variable {_CAP_ENV}={raw!r} is not a whole number >= 0; unset it "
            f"or give the number of distinct spend pairs to collect (default {SPEND_PAIRS_CAP:,})"
        )
    return cap


@dataclass(frozen=True)
class SpendSums:
    """What :func:`spend_sums_spark` found among the repeat buyers.

    Attributes
    ----------
    sums : GammaGammaSums
        Of the buyers with a positive, finite mean spend (``v_sums`` runs in Spark).
    excluded : int
        Buyers with a mean spend of zero or less (left out of the model).
    non_numeric : int
        Distinct (frequency, spend) pairs whose spend is missing, NaN or +inf: what
        :meth:`GammaGammaModel.fit` on the collected pairs would refuse.
    positive : DataFrame
        The rows ``v_sums`` aggregates (``x``, ``m`` as doubles).
    cached : bool
        Whether ``positive`` was persisted here (then :meth:`release` unpersists it).
    """

    sums: GammaGammaSums
    excluded: int
    non_numeric: int
    positive: DataFrame
    cached: bool

    def release(self) -> None:
        """Unpersist ``positive`` when it was persisted for the fit."""
        if self.cached:
            self.positive.unpersist()


def _v_sums(positive: DataFrame, weights: Column) -> Callable[[float], np.ndarray]:
    """``γ ↦ [A, B, C, D, E, F]``, one single-row Spark aggregate per call."""
    from pyspark.sql import functions as F

    x, m = F.col("x"), F.col("m")

    def at(v: float) -> np.ndarray:
        d = F.lit(float(v)) + m * x
        terms = (x * F.log(d), F.log(d), x / d, 1 / d, x / (d * d), 1 / (d * d))
        row = positive.agg(*(F.sum(weights * t) for t in terms)).first()
        return np.array([float(r) for r in row], dtype=float)

    return at


def spend_sums_spark(
    repeat: DataFrame, weights: str | None = None, *, persist: bool = True
) -> SpendSums:
    """The Gamma-Gamma sums of the repeat buyers in ``repeat`` (a Spark table with
    ``frequency`` > 0 and ``monetary_value``, one row per customer, or per pair with a
    ``weights`` column), computed in Spark.

    One job groups by frequency (the rows that come to the driver: one per distinct
    frequency); ``sums.v_sums`` is one more single-row job per call. With ``persist``
    (the default; pass ``False`` when what ``repeat`` is read from is cached already),
    ``positive`` is persisted so that those jobs do not recompute ``repeat``.
    """
    from pyspark.sql import functions as F

    x = F.col("frequency").cast("double")
    m = F.col("monetary_value").cast("double")
    w = F.col(weights).cast("double") if weights else F.lit(1.0)
    bad = m.isNull() | F.isnan(m) | (m == float("inf"))
    pos, out = ~bad & (m > 0), ~bad & (m <= 0)

    def flag(cond: Column) -> Column:
        return F.max(F.when(cond, 1).otherwise(0))

    by_x = (
        repeat.groupBy(x.alias("x"))
        .agg(
            F.sum(F.when(pos, w)).alias("w"),
            F.sum(F.when(pos, w * F.log(m))).alias("lm"),
            F.sum(F.when(pos, w * m)).alias("m"),
            F.sum(F.when(out, w)).alias("out"),
            (flag(m.isNull()) + flag(F.isnan(m)) + flag(m == float("inf"))).alias("bad"),
        )
        .toPandas()
        .fillna(0.0)
        .sort_values("x", ignore_index=True)
    )
    kept = by_x[by_x["w"] > 0]
    xs = kept["x"].to_numpy(dtype=float)
    positive = repeat.where(pos).select(x.alias("x"), m.alias("m"), w.alias("__w"))
    if persist:
        positive = positive.persist()
    sums = GammaGammaSums(
        frequency=xs,
        weights=kept["w"].to_numpy(dtype=float),
        sum_log_m=float(kept["lm"].sum()),
        sum_x_log_m=float(xs @ kept["lm"].to_numpy(dtype=float)),
        sum_m=float(kept["m"].sum()),
        v_sums=_v_sums(positive, F.col("__w")),
    )
    return SpendSums(
        sums=sums,
        excluded=round(float(by_x["out"].sum())),
        non_numeric=int(by_x["bad"].sum()),
        positive=positive,
        cached=persist,
    )
