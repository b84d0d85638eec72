"""Holdout validation of purchase models: predicted vs actual, overall and by frequency.

The usual checks of Fader, Hardie & Lee (2005): the conditional expectation of holdout
purchases by calibration frequency (their Figure 4) and the tracking plot of cumulative
repeat transactions over calendar time (Figure 3).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from segmentum.value.summary import TIME_UNITS, _quote

__all__ = [
    "HOLDOUT_CELL_COLUMNS",
    "holdout_cells",
    "holdout_metrics",
    "holdout_metrics_from_cells",
    "holdout_validation",
    "holdout_validation_from_cells",
    "tracking_counts_sql",
    "tracking_data",
    "tracking_from_counts",
]

#: the key of :func:`holdout_cells`: a calibration pattern and the holdout purchases
HOLDOUT_CELL_COLUMNS = ("frequency", "recency", "T", "frequency_holdout")


def holdout_validation(
    model: object,
    summary: pd.DataFrame,
    max_frequency: int = 7,
    *,
    predicted: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean predicted and actual holdout purchases by calibration frequency.

    Parameters
    ----------
    model : fitted BetaGeoModel or ParetoNBDModel
        Fitted on the calibration part of ``summary``.
    summary : pandas.DataFrame
        :func:`~segmentum.value.summarize` output with a holdout (``frequency_holdout``,
        ``duration_holdout``).
    max_frequency : int, default=7
        Calibration frequencies from this value up are pooled into one ``"7+"`` row.
    predicted : numpy.ndarray, optional
        The model's expected holdout purchases per customer, when already computed (the
        value stage computes them once per ``(x, t_x, T)`` pattern).

    Returns
    -------
    pandas.DataFrame
        Rows ``"0"``, ``"1"``, …, ``"7+"`` and ``"all"``; columns ``customers``,
        ``actual_mean``, ``predicted_mean``, ``actual_total``, ``predicted_total``, ``error``
        (predicted − actual total) and ``error_pct``.
    """
    need = ["frequency_holdout", "duration_holdout"]
    missing = [c for c in need if c not in summary]
    if missing:
        raise ValueError(
            f"holdout_validation needs {missing}: call summarize(..., holdout_end=...)"
        )
    pred = _predicted(model, summary) if predicted is None else np.asarray(predicted)
    freq = summary["frequency"].to_numpy()
    label = np.where(freq >= max_frequency, f"{max_frequency}+", freq.astype(int).astype(str))
    frame = pd.DataFrame(
        {"group": label, "actual": summary["frequency_holdout"].to_numpy(), "predicted": pred}
    )
    order = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    g = frame.groupby("group")
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "actual_total": g["actual"].sum(),
            "predicted_total": g["predicted"].sum(),
        }
    ).reindex([o for o in order if o in set(label)])
    out.loc["all"] = [len(frame), frame["actual"].sum(), frame["predicted"].sum()]
    return _finish_validation(out)


def _predicted(model: object, summary: pd.DataFrame) -> np.ndarray:
    """Expected purchases per customer over the holdout (``duration_holdout``)."""
    duration = float(summary["duration_holdout"].iloc[0])
    return model.expected_purchases(duration, summary).to_numpy()  # type: ignore[attr-defined,no-any-return]


def holdout_metrics(
    model: object, summary: pd.DataFrame, *, predicted: np.ndarray | None = None
) -> dict[str, float]:
    """Per-customer accuracy in the holdout: MAE, RMSE, correlation and total error (%).

    ``predicted``: the expected holdout purchases per customer, when already computed.
    """
    pred = _predicted(model, summary) if predicted is None else np.asarray(predicted)
    act = summary["frequency_holdout"].to_numpy(dtype=float)
    corr = float(np.corrcoef(pred, act)[0, 1]) if act.std() > 0 and pred.std() > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(pred - act))),
        "rmse": float(np.sqrt(np.mean((pred - act) ** 2))),
        "correlation": corr,
        "actual_total": float(act.sum()),
        "predicted_total": float(pred.sum()),
        "total_error_pct": float(100 * (pred.sum() - act.sum()) / act.sum())
        if act.sum()
        else float("nan"),
    }


def holdout_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """The customers of a holdout summary counted by (calibration pattern, holdout purchases).

    Predictions of BG/NBD and Pareto/NBD depend on a customer only through the calibration
    pattern ``(frequency, recency, T)``, and the holdout comparison adds only the actual
    holdout purchases, so these counts hold everything :func:`holdout_validation` and
    :func:`holdout_metrics` need (:func:`holdout_validation_from_cells`,
    :func:`holdout_metrics_from_cells`). On Spark the same table is one ``GROUP BY``.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`~segmentum.value.summarize` output with a holdout.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`HOLDOUT_CELL_COLUMNS` and ``customers`` (int64), sorted by the key.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [0.0, 2.0, 0.0], "recency": [0.0, 5.0, 0.0],
    ...                   "T": [9.0, 9.0, 9.0], "frequency_holdout": [0.0, 1.0, 0.0]})
    >>> holdout_cells(s)["customers"].tolist()
    [2, 1]
    """
    key = list(HOLDOUT_CELL_COLUMNS)
    missing = [c for c in key if c not in summary]
    if missing:
        raise ValueError(f"holdout_cells needs {missing}: call summarize(..., holdout_end=...)")
    out = summary.groupby(key, sort=True).size().rename("customers").reset_index()
    out["customers"] = out["customers"].astype("int64")
    return out


def _cell_arrays(cells: pd.DataFrame, predicted: np.ndarray) -> tuple[np.ndarray, ...]:
    w = cells["customers"].to_numpy(dtype=float)
    act = cells["frequency_holdout"].to_numpy(dtype=float)
    pred = np.asarray(predicted, dtype=float)
    if pred.shape != w.shape:
        raise ValueError(f"predicted has {pred.shape[0]} values for {w.shape[0]} cells")
    return w, act, pred


def holdout_validation_from_cells(
    cells: pd.DataFrame, predicted: np.ndarray, max_frequency: int = 7
) -> pd.DataFrame:
    """:func:`holdout_validation` from the counts of :func:`holdout_cells`.

    ``predicted``: the model's expected holdout purchases of each cell (a function of its
    pattern). Returns the table of :func:`holdout_validation`, with the same rows and
    columns; the totals are the same sums taken per cell (equal up to rounding).
    """
    w, act, pred = _cell_arrays(cells, predicted)
    freq = cells["frequency"].to_numpy()
    label = np.where(freq >= max_frequency, f"{max_frequency}+", freq.astype(int).astype(str))
    frame = pd.DataFrame({"group": label, "w": w, "actual": w * act, "predicted": w * pred})
    order = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    g = frame.groupby("group")
    out = pd.DataFrame(
        {
            "customers": g["w"].sum(),
            "actual_total": g["actual"].sum(),
            "predicted_total": g["predicted"].sum(),
        }
    ).reindex([o for o in order if o in set(label)])
    out.loc["all"] = [w.sum(), frame["actual"].sum(), frame["predicted"].sum()]
    return _finish_validation(out)


def _finish_validation(out: pd.DataFrame) -> pd.DataFrame:
    """Means, errors and the column order of the validation table from its totals."""
    out["actual_mean"] = out["actual_total"] / out["customers"]
    out["predicted_mean"] = out["predicted_total"] / out["customers"]
    out["error"] = out["predicted_total"] - out["actual_total"]
    out["error_pct"] = np.where(
        out["actual_total"] > 0, 100 * out["error"] / out["actual_total"], np.nan
    )
    out["customers"] = out["customers"].astype("int64")
    out.index.name = "calibration_frequency"
    cols = ["customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total"]
    return out[[*cols, "error", "error_pct"]].reset_index()


def holdout_metrics_from_cells(cells: pd.DataFrame, predicted: np.ndarray) -> dict[str, float]:
    """:func:`holdout_metrics` from the counts of :func:`holdout_cells` (weighted sums).

    MAE, RMSE and the correlation are customer-weighted over the cells, which is what they
    are over the customers; the correlation is ``nan`` when the predictions or the actual
    purchases do not vary.
    """
    w, act, pred = _cell_arrays(cells, predicted)
    n = w.sum()
    diff = pred - act
    sum_a, sum_p = float((w * act).sum()), float((w * pred).sum())
    corr = float("nan")
    seen = w > 0
    if np.ptp(act[seen]) > 0 and np.ptp(pred[seen]) > 0:
        dp, da = pred - sum_p / n, act - sum_a / n
        corr = float((w * dp * da).sum() / np.sqrt((w * dp**2).sum() * (w * da**2).sum()))
    return {
        "mae": float((w * np.abs(diff)).sum() / n),
        "rmse": float(np.sqrt((w * diff**2).sum() / n)),
        "correlation": corr,
        "actual_total": sum_a,
        "predicted_total": sum_p,
        "total_error_pct": float(100 * (sum_p - sum_a) / sum_a) if sum_a else float("nan"),
    }


def tracking_data(
    transactions: pd.DataFrame,
    model: object,
    *,
    customer_id: str,
    timestamp: str,
    calibration_end: dt.date,
    end: dt.date,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Cumulative repeat transactions, actual vs expected, per period (FHL 2005, Figure 3).

    Expected values sum ``E[X(t − t0_i)]`` (the model's ``expected_purchases_up_to``) over
    customers by their first purchase day ``t0_i``; customers who started after
    ``calibration_end`` are left out, as in the summary. Actual repeat transactions are
    customer-days after each customer's first day, counted in DuckDB
    (:func:`tracking_counts_sql`) and turned into the curves by :func:`tracking_from_counts`.

    Returns
    -------
    pandas.DataFrame
        ``period`` (end of each period from the first purchase day), ``date``, ``actual``,
        ``expected`` (cumulative) and ``calibration`` (whether the period ends on or before
        ``calibration_end``).
    """
    import duckdb  # lazy: importing segmentum.value stays light

    con = duckdb.connect()
    try:
        con.register("_tx", transactions)
        sql = tracking_counts_sql(
            "_tx", customer_id=customer_id, timestamp=timestamp,
            calibration_end=calibration_end, end=end,
        )  # fmt: skip
        counts = con.execute(sql).df()
    finally:
        con.close()
    return tracking_from_counts(
        counts, model, calibration_end=calibration_end, end=end, time_unit=time_unit
    )


def tracking_counts_sql(
    source: str,
    *,
    customer_id: str,
    timestamp: str,
    calibration_end: dt.date,
    end: dt.date,
    dialect: str = "duckdb",
) -> str:
    """The day counts the tracking plot needs, as one SQL statement (DuckDB or Spark SQL).

    Customer-days (distinct customer and day, up to ``end``) of the customers whose first
    purchase day is on or before ``calibration_end``, counted by ``day`` and ``is_repeat``
    (a day after the customer's first): the rows with ``is_repeat`` false count the new
    customers of each first day (each customer has one first day), the others the repeat
    customer-days of each day. A few thousand rows whatever the number of customers.
    """
    if dialect == "spark":
        cid, ts = ("`" + c.replace("`", "``") + "`" for c in (customer_id, timestamp))
    else:
        cid, ts = _quote(customer_id), _quote(timestamp)
    return f"""
        WITH d AS (SELECT DISTINCT {cid} AS cid, CAST({ts} AS DATE) AS day FROM {source}
                   WHERE CAST({ts} AS DATE) <= DATE '{end.isoformat()}'),
             f AS (SELECT cid, MIN(day) AS first_day FROM d GROUP BY cid
                   HAVING MIN(day) <= DATE '{calibration_end.isoformat()}')
        SELECT d.day AS day, d.day > f.first_day AS is_repeat, COUNT(*) AS n
        FROM d JOIN f ON d.cid = f.cid
        GROUP BY d.day, d.day > f.first_day
        """


def tracking_from_counts(
    counts: pd.DataFrame,
    model: object,
    *,
    calibration_end: dt.date,
    end: dt.date,
    time_unit: str = "W",
) -> pd.DataFrame:
    """The tracking table of :func:`tracking_data` from the day counts of
    :func:`tracking_counts_sql` (``day``, ``is_repeat``, ``n``), in any row order.

    The expected curve depends on the customers only through their first days: the model's
    ``E[X(t − t0)]`` of each first day ``t0`` is weighted by the customers who started then.
    """
    unit = TIME_UNITS[time_unit]
    counts = counts.assign(day=pd.to_datetime(counts["day"])).sort_values(
        ["day", "is_repeat"], ignore_index=True
    )
    repeat = counts["is_repeat"].astype(bool).to_numpy()
    births, repeats = counts[~repeat], counts[repeat]
    origin = births["day"].min()
    b_t = ((births["day"] - origin).dt.days / unit).to_numpy(dtype=float)
    b_n = births["n"].to_numpy(dtype=float)
    repeat_t = ((repeats["day"] - origin).dt.days / unit).to_numpy(dtype=float)
    horizon = (pd.Timestamp(end) - origin).days / unit
    grid = np.arange(1, int(np.floor(horizon)) + 1, dtype=float)
    if grid.size == 0 or grid[-1] < horizon:
        grid = np.append(grid, horizon)
    cum = np.concatenate([[0], np.cumsum(repeats["n"].to_numpy(dtype="int64"))])
    actual = cum[np.searchsorted(repeat_t, grid, side="right")]
    age = np.clip(grid[:, None] - b_t[None, :], 0, None)
    exp_x = model.expected_purchases_up_to(age)  # type: ignore[attr-defined]
    expected = (exp_x * b_n[None, :]).sum(axis=1)
    dates = origin + pd.to_timedelta(grid * unit, unit="D")
    return pd.DataFrame(
        {
            "period": grid,
            "date": dates,
            "actual": actual.astype(float),
            "expected": expected,
            "calibration": dates <= pd.Timestamp(calibration_end),
        }
    )
