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

__all__ = ["holdout_metrics", "holdout_validation", "tracking_data"]


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
    out["actual_mean"] = out["actual_total"] / out["customers"]
    out["predicted_mean"] = out["predicted_total"] / out["customers"]
    out["error"] = out["predicted_total"] - out["actual_total"]
    out["error_pct"] = np.where(
        out["actual_total"] > 0, 100 * out["error"] / out["actual_total"], np.nan
    )
    out["customers"] = out["customers"].astype("int64")
    out.index.name = "calibration_frequency"
    return out[
        [
            "customers",
            "actual_mean",
            "predicted_mean",
            "actual_total",
            "predicted_total",
            "error",
            "error_pct",
        ]
    ].reset_index()


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
    customer-days after each customer's first day, counted in DuckDB.

    Returns
    -------
    pandas.DataFrame
        ``period`` (end of each period from the first purchase day), ``date``, ``actual``,
        ``expected`` (cumulative) and ``calibration`` (whether the period ends on or before
        ``calibration_end``).
    """
    unit = TIME_UNITS[time_unit]
    cid, ts = _quote(customer_id), _quote(timestamp)
    import duckdb  # lazy: importing segmentum.value stays light

    con = duckdb.connect()
    try:
        con.register("_tx", transactions)
        days = con.execute(
            f"""
            WITH d AS (SELECT DISTINCT {cid} AS cid, CAST({ts} AS DATE) AS day FROM _tx
                       WHERE CAST({ts} AS DATE) <= DATE '{end.isoformat()}'),
                 f AS (SELECT cid, MIN(day) AS first_day FROM d GROUP BY cid
                       HAVING MIN(day) <= DATE '{calibration_end.isoformat()}')
            SELECT f.first_day, d.day, d.day > f.first_day AS is_repeat
            FROM d JOIN f USING (cid)
            """
        ).df()
    finally:
        con.close()
    first = pd.to_datetime(days["first_day"])
    day = pd.to_datetime(days["day"])
    origin = first.min()
    births = ((first[days["day"] == days["first_day"]] - origin).dt.days / unit).value_counts()
    repeat_t = ((day[days["is_repeat"].to_numpy()] - origin).dt.days / unit).to_numpy()
    horizon = (pd.Timestamp(end) - origin).days / unit
    grid = np.arange(1, int(np.floor(horizon)) + 1, dtype=float)
    if grid.size == 0 or grid[-1] < horizon:
        grid = np.append(grid, horizon)
    actual = np.searchsorted(np.sort(repeat_t), grid, side="right")
    b_t = births.index.to_numpy(dtype=float)
    b_n = births.to_numpy(dtype=float)
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
