"""The per-customer summary against the published CDNOW summary (Fader, Hardie & Lee 2005),
a pandas reference, and each other: every test runs on both engines (portable SQL, compiled
kernel)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentum.value import summarize
from segmentum.value.summary import summary_sql


@pytest.fixture(params=["sql", "numba"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def cdnow_tx(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "cdnow" / "cdnow_sample_transactions.csv")


def test_matches_published_calibration_summary(
    cdnow_tx: pd.DataFrame, shared_data: Path, engine: str
) -> None:
    pub = pd.read_csv(shared_data / "cdnow" / "cdnow_sample_summary_with_monetary.csv")
    ours = summarize(
        cdnow_tx, amount="dollar_value", calibration_end="1997-09-30", time_unit="W", engine=engine
    )
    assert len(ours) == len(pub) == 2357
    m = pub.merge(ours, on="customer_id", suffixes=("_pub", ""), validate="one_to_one")
    assert (m["frequency_pub"] == m["frequency"]).all()
    # the published file rounds days / 7 to two decimals
    assert np.abs(m["recency_pub"] - m["recency"]).max() <= 0.005 + 1e-9
    assert np.abs(m["T_pub"] - m["T"]).max() <= 0.005 + 1e-9
    assert np.abs(m["monetary_value_pub"] - m["monetary_value"]).max() <= 0.005 + 1e-9
    assert (ours.loc[ours["frequency"] == 0, "recency"] == 0).all()


def test_holdout_columns_and_totals(cdnow_tx: pd.DataFrame, engine: str) -> None:
    s = summarize(
        cdnow_tx,
        amount="dollar_value",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
        time_unit="W",
        engine=engine,
    )
    assert {"frequency_holdout", "monetary_holdout", "duration_holdout"} <= set(s.columns)
    assert s["duration_holdout"].iloc[0] == pytest.approx(273 / 7)
    days = cdnow_tx.assign(d=pd.to_datetime(cdnow_tx["date"]))
    hold = days[(days["d"] > "1997-09-30") & (days["d"] <= "1998-06-30")]
    assert s["frequency_holdout"].sum() == hold.groupby("customer_id")["d"].nunique().sum()
    cal = days[days["d"] <= "1997-09-30"]
    assert s["revenue"].sum() == pytest.approx(cal["dollar_value"].sum())
    assert s["n_transactions"].sum() == len(cal)


def test_same_day_merge_margin_and_days(engine: str) -> None:
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
        tx,
        "cust",
        "ts",
        "amt",
        calibration_end="2024-01-21",
        margin="mrg",
        time_unit="D",
        engine=engine,
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


def test_default_end_is_last_transaction_and_parquet_path(tmp_path: Path, engine: str) -> None:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "date": ["2024-01-01", "2024-01-03", "2024-01-02"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    s = summarize(tx, engine=engine)
    assert s["T"].tolist() == [2.0, 1.0]
    path = tmp_path / "tx.parquet"
    tx.assign(date=pd.to_datetime(tx["date"])).to_parquet(path)
    pd.testing.assert_frame_equal(summarize(path, engine=engine), s, check_dtype=False)


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
def test_matches_pandas_reference_on_random_data(id_kind: str, unit: str, engine: str) -> None:
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
        engine=engine,
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


def test_huge_integer_ids_and_old_dates_fall_back(engine: str) -> None:
    tx = pd.DataFrame(
        {
            "customer_id": np.array([2**62, 2**62, 5, 5], dtype=np.int64),
            "date": pd.to_datetime(["1890-01-01", "1890-01-08", "1890-01-01", "1890-01-02"]),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    s = summarize(tx, calibration_end="1890-01-10", engine=engine).set_index("customer_id")
    assert s.loc[2**62, "recency"] == 7 and s.loc[5, "recency"] == 1
    assert s.loc[5, "first_purchase"] == pd.Timestamp("1890-01-01")


def test_first_day_ties_and_holdout_same_day_merge(engine: str) -> None:
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
        tx, calibration_end="2024-01-10", holdout_end="2024-01-20", time_unit="D", engine=engine
    ).set_index("customer_id")
    assert list(s.index) == [2**62]  # customer 3 first buys in the holdout
    row = s.loc[2**62]
    assert row["frequency"] == 1 and row["recency"] == 3 and row["T"] == 9
    assert row["monetary_value"] == 24.0  # the repeat day, not the first day's 7
    assert row["n_transactions"] == 5 and row["revenue"] == 31.0
    assert row["frequency_holdout"] == 1 and row["monetary_holdout"] == 96.0
    assert row["duration_holdout"] == 10


def _market(n_lines: int, n_customers: int, seed: int, id_kind: str = "int") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cid = rng.integers(0, n_customers, n_lines)
    ids: object = cid
    if id_kind == "str":
        ids = np.char.add("c", cid.astype(str))
    elif id_kind == "sparse":
        ids = cid * 1_000_003 + 2**40  # far apart: codes come from hashing, not a lookup
    elif id_kind == "int32":
        ids = cid.astype(np.int32) - 5_000  # negative ids too
    return pd.DataFrame(
        {
            "customer_id": ids,
            "date": pd.Timestamp("2022-03-01")
            + pd.to_timedelta(rng.integers(0, 700, n_lines), "D")
            + pd.to_timedelta(rng.integers(0, 86_400, n_lines), "s"),
            "amount": rng.gamma(2.0, 20.0, n_lines).round(2),
            "margin": rng.normal(5.0, 3.0, n_lines),
        }
    )


@pytest.mark.parametrize("id_kind", ["int", "int32", "sparse", "str"])
def test_engines_agree_across_blocks_of_customers(id_kind: str) -> None:
    # 20,000 customers span five of the kernel's 4,096-customer blocks
    tx = _market(200_000, 20_000, seed=7, id_kind=id_kind)
    kw = dict(calibration_end="2023-06-30", holdout_end="2024-01-31", margin="margin")
    sql = summarize(tx, engine="sql", **kw)  # type: ignore[arg-type]
    fast = summarize(tx, engine="numba", **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(fast, sql, check_exact=False, rtol=1e-10)
    assert len(sql) > 19_000


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),  # customer
            st.integers(0, 40),  # day
            st.floats(0.0, 1000.0, allow_nan=False).map(lambda x: round(x, 2)),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 40),
    st.integers(1, 10),
)
def test_engines_agree_on_any_lines(
    lines: list[tuple[int, int, float]], cal_day: int, hold_days: int
) -> None:
    tx = pd.DataFrame(lines, columns=["customer_id", "day", "amount"])
    tx["date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(tx["day"], "D")
    cal = pd.Timestamp("2024-01-01") + pd.Timedelta(days=cal_day)
    kw = dict(calibration_end=cal, holdout_end=cal + pd.Timedelta(days=hold_days))
    sql = summarize(tx, engine="sql", **kw)  # type: ignore[arg-type]
    fast = summarize(tx, engine="numba", **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(fast, sql, check_exact=False, rtol=1e-9, atol=1e-9)


def test_summary_does_not_depend_on_row_order(engine: str) -> None:
    tx = _market(5_000, 400, seed=3)
    kw = dict(calibration_end="2023-06-30", margin="margin", engine=engine)
    a = summarize(tx, **kw)  # type: ignore[arg-type]
    b = summarize(tx.sample(frac=1.0, random_state=1), **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10)


def test_missing_values_numba_says_so_and_auto_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import segmentum.value.summary as summary_mod

    tx = _market(2_000, 100, seed=5)
    tx.loc[10, "amount"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in 'amount'.*engine='sql'"):
        summarize(tx, calibration_end="2023-06-30", engine="numba")
    # auto takes the kernel from KERNEL_MIN_ROWS lines on; with missing values it hands over
    # to SQL, which skips the missing amount in sums
    monkeypatch.setattr(summary_mod, "KERNEL_MIN_ROWS", 0)
    auto = summarize(tx, calibration_end="2023-06-30")
    sql = summarize(tx, calibration_end="2023-06-30", engine="sql")
    pd.testing.assert_frame_equal(auto, sql)


def test_auto_uses_the_kernel_on_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import segmentum.value.summary as summary_mod

    calls: list[bool] = []
    real = summary_mod._summarize_compiled

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(summary_mod, "_summarize_compiled", spy)
    tx = _market(1_000, 50, seed=1)
    summarize(tx)
    assert calls == []  # small: SQL
    monkeypatch.setattr(summary_mod, "KERNEL_MIN_ROWS", 500)
    summarize(tx)
    assert calls == [True]
    with pytest.raises(ValueError, match="engine must be"):
        summarize(tx, engine="spark")  # type: ignore[arg-type]


def test_kernel_can_be_called_from_several_threads(tmp_path: Path) -> None:
    # numba's workqueue threading layer (the one left where OpenMP and TBB are missing)
    # terminates the process on concurrent launches; the kernel serialises them
    script = tmp_path / "threads.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            from concurrent.futures import ThreadPoolExecutor
            import numba
            import pandas as pd
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_value_summary import _market
            from segmentum.value import summarize
            tx = _market(100_000, 10_000, seed=11)
            ref = summarize(tx, calibration_end="2023-06-30", engine="sql")
            def run(_):
                return summarize(tx, calibration_end="2023-06-30", engine="numba")
            with ThreadPoolExecutor(4) as pool:
                outs = list(pool.map(run, range(8)))
            for out in outs:
                pd.testing.assert_frame_equal(out, ref, check_exact=False, rtol=1e-10)
            print("layer", numba.threading_layer())
            """
        )
    )
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layer workqueue" in done.stdout


def test_engines_agree_when_days_span_centuries() -> None:
    # a day bitmap over five centuries would be mostly zeros: the kernel sorts instead
    rng = np.random.default_rng(13)
    n = 30_000
    tx = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 5_000, n),
            "date": pd.Timestamp("1700-01-01")
            + pd.to_timedelta(rng.integers(0, 500 * 365, n) // 50 * 50, "D"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    tx = pd.concat([tx, tx.iloc[:5_000]])  # same-day repeats
    kw = dict(calibration_end="2150-01-01", holdout_end="2199-12-31")
    sql = summarize(tx, engine="sql", **kw)  # type: ignore[arg-type]
    fast = summarize(tx, engine="numba", **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(fast, sql, check_exact=False, rtol=1e-10)


def test_sorting_blocks_equal_bitmap_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from segmentum.value import _kernel

    tx = _market(60_000, 6_000, seed=17)
    kw = dict(calibration_end="2023-06-30", holdout_end="2024-01-31", margin="margin")
    bitmap = summarize(tx, engine="numba", **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(_kernel, "_MAX_BITMAP_WORDS", 0)
    sorting = summarize(tx, engine="numba", **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(sorting, bitmap, check_exact=False, rtol=1e-10)


def test_sql_dialects() -> None:
    import datetime as dt

    kw = dict(customer_id="id", timestamp="ts", amount="x", calibration_end=dt.date(2024, 1, 1))
    spark = summary_sql("t", dialect="spark", **kw)  # type: ignore[arg-type]
    assert "datediff(CAST(`ts` AS DATE)" in spark and "date_diff" not in spark
    assert '"' not in spark  # Spark quotes identifiers with backticks
    with pytest.raises(ValueError, match="dialect"):
        summary_sql("t", dialect="postgres", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["frame", "parquet"])
def test_bad_dates_and_amounts_name_their_rows(engine: str, where: str, tmp_path: Path) -> None:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "date": ["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-05"],
            "amount": ["1.5", "2", "abc", "3"],
        },
        index=[10, 11, 12, 13],
    )
    src: object = tx
    if where == "parquet":
        src = tmp_path / "tx.parquet"
        tx.to_parquet(src, index=False)
    at = "index 12 ('abc')" if where == "frame" else "tx.parquet row 2 ('abc')"
    with pytest.raises(
        ValueError, match=re.escape(f"column 'amount' has values that are not a number: {at}")
    ):
        summarize(src, calibration_end="2024-02-01", engine=engine)  # type: ignore[arg-type]
    tx["amount"] = "1.0"
    tx.loc[11, "date"] = "2024-13-03"
    if where == "parquet":
        tx.to_parquet(src, index=False)
    at = "index 11 ('2024-13-03')" if where == "frame" else "tx.parquet row 1 ('2024-13-03')"
    with pytest.raises(
        ValueError, match=re.escape(f"column 'date' has values that are not a date: {at}")
    ):
        summarize(src, calibration_end="2024-02-01", engine=engine)  # type: ignore[arg-type]


def test_missing_parquet_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cannot read .*nope\.parquet"):
        summarize(tmp_path / "nope.parquet", calibration_end="2024-01-01")


def test_parquet_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    pd.DataFrame({"customer_id": [1], "date": ["2024-01-01"], "value": [1.0]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"lack column\(s\) \['amount'\]; they have"):
        summarize(path)
