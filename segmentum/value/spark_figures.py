"""The value stage's figures on Spark from aggregates: nothing per customer reaches the driver.

With ``engine = "spark"`` the holdout validation, the tracking plot, the decile table and the
report's tables of the value stage are computed from a few small Spark aggregates:

- the holdout (:func:`holdout_spark`): the calibration summary
  (:func:`segmentum.value.spark.summarize_spark` with a holdout) counted by calibration
  pattern and holdout purchases (:func:`segmentum.value.validation.holdout_cells`, one
  ``GROUP BY``); the calibration model is fitted on the patterns with their counts and
  predicts once per pattern, and the validation table and the accuracy figures are the
  customer-weighted sums over the cells (:func:`~segmentum.value.validation.holdout_validation_from_cells`,
  :func:`~segmentum.value.validation.holdout_metrics_from_cells`);
- the tracking plot: the customer-days counted by day and by whether they repeat
  (:func:`segmentum.value.validation.tracking_counts_sql`); the expected curve depends on a
  customer only through the first purchase day, so it is evaluated per first day on the
  driver (:func:`~segmentum.value.validation.tracking_from_counts`);
- the decile table, the headline totals, the per-decile means, the RFM grid and the CLV
  histogram (:func:`aggregates_spark`): one aggregate by decile (with the CLV range), then
  one job for the grid and the histogram (whose bin edges follow from that range,
  :func:`segmentum.value.aggregates.histogram_edges`).

The figures are those of the DuckDB path (:func:`segmentum.value.run_value`) up to the order
of floating-point sums.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.spark_run import spark_column as _q
from segmentum.value.aggregates import (
    CLV_BINS,
    ValueAggregates,
    complete_rfm_grid,
    histogram_edges,
    histogram_table,
)
from segmentum.value.models import ConvergenceError
from segmentum.value.patterns import pattern_index
from segmentum.value.steps import ValueConfig, _fit_calibration, _holdout_period, _Log, _Rows
from segmentum.value.summary import TIME_UNITS
from segmentum.value.validation import (
    HOLDOUT_CELL_COLUMNS,
    holdout_metrics_from_cells,
    holdout_validation_from_cells,
    tracking_counts_sql,
    tracking_from_counts,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

__all__ = ["aggregates_spark", "holdout_cells_spark", "holdout_spark", "tracking_counts_spark"]


def holdout_cells_spark(
    transactions: DataFrame,
    customer_id: str,
    timestamp: str,
    amount: str,
    *,
    calibration_end: dt.date,
    holdout_end: dt.date,
    time_unit: str,
) -> pd.DataFrame:
    """:func:`segmentum.value.validation.holdout_cells` of the holdout summary, counted by
    Spark: the calibration summary and one ``GROUP BY`` (one job; a few thousand rows)."""
    from pyspark.sql import functions as F

    from segmentum.value.spark import summarize_spark

    cal = summarize_spark(
        transactions, customer_id, timestamp, amount, calibration_end=calibration_end,
        holdout_end=holdout_end, time_unit=time_unit,  # type: ignore[arg-type]
    )  # fmt: skip
    key = list(HOLDOUT_CELL_COLUMNS)
    cells = (
        cal.groupBy(*(_q(c) for c in key))
        .agg(F.count(F.lit(1)).alias("customers"))
        .toPandas()
        .sort_values(key, ignore_index=True)
    )
    cells["frequency_holdout"] = cells["frequency_holdout"].astype(float)
    cells["customers"] = cells["customers"].astype("int64")
    return cells


def tracking_counts_spark(
    transactions: DataFrame,
    *,
    customer_id: str,
    timestamp: str,
    calibration_end: dt.date,
    end: dt.date,
) -> pd.DataFrame:
    """The day counts of :func:`segmentum.value.validation.tracking_counts_sql`, by Spark."""
    view = f"segmentum_tracking_{uuid.uuid4().hex}"
    transactions.createOrReplaceTempView(view)
    spark: Any = transactions.sparkSession
    try:
        sql = tracking_counts_sql(
            view, customer_id=customer_id, timestamp=timestamp,
            calibration_end=calibration_end, end=end, dialect="spark",
        )  # fmt: skip
        return spark.sql(sql).toPandas()  # type: ignore[no-any-return]
    finally:
        spark.catalog.dropTempView(view)


def holdout_spark(
    transactions: DataFrame,
    *,
    customer_id: str,
    timestamp: str,
    amount: str,
    first_day: dt.date,
    end: dt.date,
    cfg: ValueConfig,
    n_repeat: int,
    log: _Log,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, float]]:
    """``steps._holdout_validation`` on Spark: the same period, skips, fit, validation table,
    metrics and tracking table, from two Spark aggregates (two jobs)."""
    validation, tracking, metrics = pd.DataFrame(), None, {}
    period = _holdout_period(first_day, end, cfg, n_repeat, log)
    if period is None:
        return validation, tracking, metrics
    hold, cal_end = period
    cells = holdout_cells_spark(
        transactions, customer_id, timestamp, amount,
        calibration_end=cal_end, holdout_end=end, time_unit=cfg.time_unit,
    )  # fmt: skip
    # the summary's duration_holdout: one number for everyone, (end − cal_end) in the unit
    duration = float((end - cal_end).days) / TIME_UNITS[cfg.time_unit]
    try:
        key = cells[["frequency", "recency", "T"]].assign(weights=cells["customers"])
        patterns, _ = pattern_index(key)
        rows = _Rows(patterns, np.arange(len(patterns)), int(cells["customers"].sum()))
        n_rep_cal = int(cells.loc[cells["frequency"] > 0, "customers"].sum())
        m_cal = _fit_calibration(rows, n_rep_cal, cfg, log)
        pred = m_cal.expected_purchases(duration, cells).to_numpy(dtype=float)
        validation = holdout_validation_from_cells(cells, pred)
        metrics = holdout_metrics_from_cells(cells, pred)
        metrics["calibration_end"] = cal_end.isoformat()  # type: ignore[assignment]
        metrics["holdout_periods"] = float(hold)
        counts = tracking_counts_spark(
            transactions, customer_id=customer_id, timestamp=timestamp,
            calibration_end=cal_end, end=end,
        )  # fmt: skip
        tracking = tracking_from_counts(
            counts, m_cal, calibration_end=cal_end, end=end, time_unit=cfg.time_unit
        )
    except (ConvergenceError, ValueError, FloatingPointError) as exc:
        log.skip(f"holdout validation skipped: {exc}")
    return validation, tracking, metrics


def _no_nan(name: str) -> Column:
    """The column with NaN as null: Spark's sums and means then skip them, as pandas' do."""
    from pyspark.sql import functions as F

    return F.when(~F.isnan(_q(name)), _q(name))


def _finite(name: str) -> Column:
    from pyspark.sql import functions as F

    c = _q(name)
    return c.isNotNull() & ~F.isnan(c) & (F.abs(c) != F.lit(float("inf")))


def _by_decile(frame: DataFrame) -> pd.DataFrame:
    """One aggregate by ``value_decile``: counts, NaN-skipping sums and counts of the value
    columns, unprofitable customers and the finite CLV range."""
    from pyspark.sql import functions as F

    cols = set(frame.columns)
    parts = [
        F.count(F.lit(1)).alias("customers"),
        F.sum((F.col("frequency") > 0).cast("long")).alias("repeat_buyers"),
        F.sum("n_transactions").alias("transactions"),
    ]
    for c in ("frequency", "revenue", "margin", "clv", "profit", "expected_purchases"):
        if c in cols:
            parts += [
                F.coalesce(F.sum(_no_nan(c)), F.lit(0.0)).alias(f"{c}_sum"),
                F.count(_no_nan(c)).alias(f"{c}_n"),
            ]
    if "profit" in cols:
        parts.append(F.sum((F.col("profit") < 0).cast("long")).alias("unprofitable"))
    if "clv" in cols:
        finite = F.when(_finite("clv"), F.col("clv"))
        parts += [F.min(finite).alias("clv_min"), F.max(finite).alias("clv_max")]
    out = frame.groupBy("value_decile").agg(*parts).toPandas()
    return out.sort_values("value_decile", ignore_index=True)


def _decile_table(by: pd.DataFrame) -> pd.DataFrame:
    """:func:`segmentum.value.decile_table` from the per-decile sums of :func:`_by_decile`."""
    out = pd.DataFrame({"decile": by["value_decile"].astype("int64")})
    out["customers"] = by["customers"].astype("int64")
    out["customers_share"] = out["customers"] / out["customers"].sum()
    out["customers_cum_share"] = out["customers_share"].cumsum()
    for c in ("revenue", "margin", "clv", "profit"):
        if f"{c}_sum" not in by:
            continue
        tot = by[f"{c}_sum"].astype(float)
        out[c] = tot
        denom = float(tot.sum())
        out[f"{c}_share"] = tot / denom if denom else np.nan
        out[f"{c}_cum_share"] = out[f"{c}_share"].cumsum()
    return out


def _profile_and_totals(by: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The per-decile means and the headline totals of :func:`_by_decile`'s table."""

    def mean(c: str) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return by[f"{c}_sum"].to_numpy(float) / by[f"{c}_n"].to_numpy(float)  # type: ignore[no-any-return]

    prof = pd.DataFrame({"decile": by["value_decile"].astype("int64")})
    prof["customers"] = by["customers"].astype("int64")
    prof["frequency_mean"] = mean("frequency")
    prof["revenue_mean"] = mean("revenue")
    if "expected_purchases_sum" in by:
        prof["expected_purchases_mean"] = mean("expected_purchases")
    if "unprofitable" in by:
        prof["unprofitable"] = by["unprofitable"].fillna(0).astype("int64")
    totals: dict[str, Any] = {
        "customers": int(by["customers"].sum()),
        "repeat_buyers": int(by["repeat_buyers"].fillna(0).sum()),
        "transactions": int(by["transactions"].fillna(0).sum()),
        "revenue": float(by["revenue_sum"].sum()),
    }
    if "margin_sum" in by:
        totals["margin"] = float(by["margin_sum"].sum())
    if "clv_sum" in by:
        n = float(by["clv_n"].sum())
        totals["clv_total"] = float(by["clv_sum"].sum())
        totals["clv_mean"] = totals["clv_total"] / n if n else float("nan")
    if "profit_sum" in by:
        totals["profit_total"] = float(by["profit_sum"].sum())
        totals["unprofitable_customers"] = int(by["unprofitable"].fillna(0).sum())
    return prof, totals


def _bin_of(name: str, edges: np.ndarray) -> Column:
    """The ``numpy.histogram`` bin of each value for these ``edges``: a first guess from the
    range, moved by one where it falls outside its bin's edges (numpy's own correction)."""
    from pyspark.sql import functions as F

    n = len(edges) - 1
    norm = n / (float(edges[-1]) - float(edges[0]))
    guess = F.floor((_q(name) - F.lit(float(edges[0]))) * F.lit(norm)).cast("int")
    guess = F.least(F.greatest(guess, F.lit(0)), F.lit(n - 1))
    arr = F.array(*(F.lit(float(e)) for e in edges))
    low, high = F.element_at(arr, guess + 1), F.element_at(arr, guess + 2)
    return (
        F.when(_q(name) < low, guess - 1)
        .when((_q(name) >= high) & (guess != F.lit(n - 1)), guess + 1)
        .otherwise(guess)
    )


def _grid_and_histogram(
    frame: DataFrame, edges: np.ndarray | None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The RFM cells (customers, revenue sum and count) and the CLV bin counts, as one job
    (a union of the two aggregates)."""
    from pyspark.sql import functions as F

    grid = frame.groupBy("recency_score", "frequency_score").agg(
        F.count(F.lit(1)).alias("n"),
        F.coalesce(F.sum(_no_nan("revenue")), F.lit(0.0)).alias("s"),
        F.count(_no_nan("revenue")).alias("m"),
    )
    grid = grid.select(
        F.lit("grid").alias("kind"),
        F.col("recency_score").cast("long").alias("a"),
        F.col("frequency_score").cast("long").alias("b"),
        "n", "s", "m",
    )  # fmt: skip
    if edges is not None:
        hist = (
            frame.where(_finite("clv"))
            .groupBy(_bin_of("clv", edges).alias("bin"))
            .agg(F.count(F.lit(1)).alias("n"))
        )
        grid = grid.unionByName(
            hist.select(
                F.lit("hist").alias("kind"),
                F.col("bin").cast("long").alias("a"),
                F.lit(None).cast("long").alias("b"),
                "n",
                F.lit(None).cast("double").alias("s"),
                F.lit(None).cast("long").alias("m"),
            )
        )
    both = grid.toPandas()
    cells = both[both["kind"] == "grid"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = cells["s"].to_numpy(float) / cells["m"].to_numpy(float)
    grid_cells = pd.DataFrame(
        {
            "recency_score": cells["a"].to_numpy(),
            "frequency_score": cells["b"].to_numpy(),
            "customers": cells["n"].to_numpy(),
            "mean_revenue": mean,
        }
    )
    if edges is None:
        return grid_cells, None
    bins = both[both["kind"] == "hist"]
    counts = np.zeros(len(edges) - 1, dtype="int64")
    np.add.at(counts, bins["a"].to_numpy(dtype="int64"), bins["n"].to_numpy(dtype="int64"))
    return grid_cells, histogram_table(edges, counts)


def aggregates_spark(
    frame: DataFrame, rfm_bins: int, bins: int = CLV_BINS, *, columns: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, ValueAggregates]:
    """The decile table and the :class:`~segmentum.value.aggregates.ValueAggregates` of a
    Spark per-customer table (two jobs): what
    :func:`segmentum.value.rfm.decile_table` and
    :func:`segmentum.value.aggregates.value_aggregates` give on its pandas twin.

    ``frame`` has ``value_decile``, ``frequency``, ``revenue``, ``n_transactions``, the RFM
    scores and the optional value columns; read twice, so it should be cached or
    checkpointed. ``columns``: the per-customer columns to report (``frame``'s by default).
    """
    by = _by_decile(frame)
    deciles = _decile_table(by)
    profile, totals = _profile_and_totals(by)
    edges = None
    if "clv" in frame.columns:
        low, high = by["clv_min"].min(), by["clv_max"].max()
        if pd.notna(low) and pd.notna(high):
            edges = histogram_edges(float(low), float(high), bins)
    grid_cells, hist = _grid_and_histogram(frame, edges)
    if "clv" in frame.columns and hist is None:  # no finite CLV: an empty histogram
        hist = histogram_table(np.zeros(1), np.zeros(0))
    aggregates = ValueAggregates(
        columns=tuple(columns or frame.columns),
        totals=totals,
        decile_profile=profile,
        rfm_grid=complete_rfm_grid(grid_cells, rfm_bins),
        clv_histogram=hist,
    )
    return deciles, aggregates
