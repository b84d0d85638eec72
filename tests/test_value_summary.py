"""The DuckDB summary against the published CDNOW summary (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.value import summarize
from segmentum.value.summary import summary_sql


@pytest.fixture(scope="module")
def cdnow_tx(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")


def test_matches_published_calibration_summary(cdnow_tx: pd.DataFrame, shared_data: Path) -> None:
    pub = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_summary_with_monetary.csv")
    ours = summarize(cdnow_tx, amount="dollar_value", calibration_end="1997-09-30", time_unit="W")
    assert len(ours) == len(pub) == 2357
    m = pub.merge(ours, on="customer_id", suffixes=("_pub", ""), validate="one_to_one")
    assert (m["frequency_pub"] == m["frequency"]).all()
    # the published file rounds days / 7 to two decimals
    assert np.abs(m["recency_pub"] - m["recency"]).max() <= 0.005 + 1e-9
    assert np.abs(m["T_pub"] - m["T"]).max() <= 0.005 + 1e-9
    assert np.abs(m["monetary_value_pub"] - m["monetary_value"]).max() <= 0.005 + 1e-9
    assert (ours.loc[ours["frequency"] == 0, "recency"] == 0).all()


def test_holdout_columns_and_totals(cdnow_tx: pd.DataFrame) -> None:
    s = summarize(
        cdnow_tx,
        amount="dollar_value",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
        time_unit="W",
    )
    assert {"frequency_holdout", "monetary_holdout", "duration_holdout"} <= set(s.columns)
    assert s["duration_holdout"].iloc[0] == pytest.approx(273 / 7)
    days = cdnow_tx.assign(d=pd.to_datetime(cdnow_tx["date"]))
    hold = days[(days["d"] > "1997-09-30") & (days["d"] <= "1998-06-30")]
    assert s["frequency_holdout"].sum() == hold.groupby("customer_id")["d"].nunique().sum()
    cal = days[days["d"] <= "1997-09-30"]
    assert s["revenue"].sum() == pytest.approx(cal["dollar_value"].sum())
    assert s["n_transactions"].sum() == len(cal)


def test_same_day_merge_margin_and_days() -> None:
    tx = pd.DataFrame(
        {
            "cust": ["a", "a", "a", "b", "c"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-11 00:00",
                    "2024-01-05 00:00",
                    "2024-02-01 00:00",
                ]
            ),
            "amt": [10.0, 5.0, 20.0, 7.0, 3.0],
            "mrg": [1.0, 1.0, 4.0, 2.0, 1.0],
        }
    )
    s = summarize(
        tx, "cust", "ts", "amt", calibration_end="2024-01-21", margin="mrg", time_unit="D"
    ).set_index("cust")
    assert list(s.index) == ["a", "b"]  # c's first purchase is after calibration
    assert s.loc["a", "frequency"] == 1
    assert s.loc["a", "recency"] == 10
    assert s.loc["a", "T"] == 20
    assert s.loc["a", "monetary_value"] == 20
    assert s.loc["a", "n_transactions"] == 3
    assert s.loc["a", "revenue"] == 35
    assert s.loc["a", "margin"] == 6
    assert s.loc["b", "monetary_value"] == 0


def test_default_end_is_last_transaction_and_parquet_path(tmp_path: Path) -> None:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "date": ["2024-01-01", "2024-01-03", "2024-01-02"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    s = summarize(tx)
    assert s["T"].tolist() == [2.0, 1.0]
    path = tmp_path / "tx.parquet"
    tx.assign(date=pd.to_datetime(tx["date"])).to_parquet(path)
    pd.testing.assert_frame_equal(summarize(path), s, check_dtype=False)


def test_bad_arguments() -> None:
    tx = pd.DataFrame({"customer_id": [1], "date": ["2024-01-01"], "amount": [1.0]})
    with pytest.raises(ValueError, match="time_unit"):
        summarize(tx, time_unit="M")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lack column"):
        summarize(tx, amount="value")
    with pytest.raises(ValueError, match="after calibration_end"):
        summarize(tx, calibration_end="2024-02-01", holdout_end="2024-01-15")


def test_sql_is_one_statement() -> None:
    import datetime as dt

    sql = summary_sql(
        "t", customer_id="id", timestamp="ts", amount="x", calibration_end=dt.date(2024, 1, 1)
    )
    assert sql.count(";") == 0 and sql.strip().startswith("SELECT")


def _reference(tx: pd.DataFrame, cal: str, hold: str, unit: float) -> pd.DataFrame:
    """A plain pandas implementation of the BTYD summary, for comparison."""
    day = pd.to_datetime(tx["ts"]).dt.normalize()
    d = tx.assign(day=day).groupby(["cid", "day"], as_index=False)["amt"].sum()
    cal_t, hold_t = pd.Timestamp(cal), pd.Timestamp(hold)
    rows = []
    for cid, g in d.groupby("cid"):
        c = g[g["day"] <= cal_t].sort_values("day")
        if c.empty:
            continue
        h = g[(g["day"] > cal_t) & (g["day"] <= hold_t)]
        first, last = c["day"].iloc[0], c["day"].iloc[-1]
        rows.append(
            {
                "cid": cid,
                "frequency": len(c) - 1.0,
                "recency": (last - first).days / unit,
                "T": (cal_t - first).days / unit,
                "monetary_value": c["amt"].iloc[1:].mean() if len(c) > 1 else 0.0,
                "revenue": c["amt"].sum(),
                "frequency_holdout": float(len(h)),
                "monetary_holdout": h["amt"].mean() if len(h) else 0.0,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("id_kind", "unit"), [("int", "W"), ("str", "D")])
def test_matches_pandas_reference_on_random_data(id_kind: str, unit: str) -> None:
    rng = np.random.default_rng(42)
    n = 3000
    cid = rng.integers(0, 300, n)
    tx = pd.DataFrame(
        {
            "cid": cid if id_kind == "int" else np.char.add("c", cid.astype(str)),
            "ts": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), "D")
            + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
            "amt": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    ours = summarize(
        tx,
        "cid",
        "ts",
        "amt",
        calibration_end="2023-09-30",
        holdout_end="2024-01-31",
        time_unit=unit,  # type: ignore[arg-type]
    )
    ref = _reference(tx, "2023-09-30", "2024-01-31", 7.0 if unit == "W" else 1.0)
    m = ref.merge(ours, on="cid", suffixes=("_ref", ""), validate="one_to_one")
    assert len(m) == len(ref) == len(ours)
    for col in (
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "revenue",
        "frequency_holdout",
        "monetary_holdout",
    ):
        np.testing.assert_allclose(m[col], m[f"{col}_ref"], rtol=1e-9, atol=1e-9, err_msg=col)


def test_huge_integer_ids_and_old_dates_fall_back() -> None:
    tx = pd.DataFrame(
        {
            "customer_id": np.array([2**62, 2**62, 5, 5], dtype=np.int64),
            "date": pd.to_datetime(["1890-01-01", "1890-01-08", "1890-01-01", "1890-01-02"]),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    s = summarize(tx, calibration_end="1890-01-10").set_index("customer_id")
    assert s.loc[2**62, "recency"] == 7 and s.loc[5, "recency"] == 1
    assert s.loc[5, "first_purchase"] == pd.Timestamp("1890-01-01")


def test_first_day_ties_and_holdout_same_day_merge() -> None:
    # several lines on the first day, on a repeat day and on a holdout day; large integer ids
    tx = pd.DataFrame(
        {
            "customer_id": np.array([2**62] * 7 + [3], dtype=np.int64),
            "date": pd.to_datetime(
                [
                    "2024-01-01 08:00",
                    "2024-01-01 12:00",
                    "2024-01-01 18:00",
                    "2024-01-04 00:00",
                    "2024-01-04 00:00",
                    "2024-01-12 00:00",
                    "2024-01-12 00:00",
                    "2024-01-12 00:00",
                ]
            ),
            "amount": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
        }
    )
    s = summarize(
        tx, calibration_end="2024-01-10", holdout_end="2024-01-20", time_unit="D"
    ).set_index("customer_id")
    assert list(s.index) == [2**62]  # customer 3 first buys in the holdout
    row = s.loc[2**62]
    assert row["frequency"] == 1 and row["recency"] == 3 and row["T"] == 9
    assert row["monetary_value"] == 24.0  # the repeat day, not the first day's 7
    assert row["n_transactions"] == 5 and row["revenue"] == 31.0
    assert row["frequency_holdout"] == 1 and row["monetary_holdout"] == 96.0
    assert row["duration_holdout"] == 10
