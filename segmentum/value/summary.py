"""Per-customer transaction summaries (RFM and BTYD), computed inside DuckDB.

Two engines give the same summary. ``engine="sql"``: the whole summary is one SQL statement
built by :func:`summary_sql`; it uses only ``GROUP BY``, ``CASE``, ``MIN``/``MAX``/``SUM``/
``COUNT`` with ``FILTER``, date differences and one standard window function
(``DENSE_RANK() OVER (PARTITION BY customer ORDER BY day)``), so the same expression runs on
Spark SQL (``datediff`` in place of ``date_diff``) when the data live there; Spark runs the
window as a shuffle by customer and a sort within partitions, and the per-customer
``GROUP BY`` after it reuses that partitioning.

Same-day purchases are merged without an aggregate by (customer, day): the dense rank of a
line's day among its customer's days gives the number of distinct days (the largest rank)
and the first day's lines (rank 1). On data where nearly every line is its own customer-day
that aggregate has about as many groups as lines and cost about as much as two plain
``GROUP BY customer``; the window costs less and leaves the rows clustered by customer.
Still, the window makes the SQL about twice a bare ``GROUP BY customer``. ``engine="numba"``:
DuckDB reads and casts the lines, and a compiled kernel (:mod:`segmentum.value._kernel`)
merges the days in one cache-friendly pass, in less time than the bare ``GROUP BY``;
``engine="auto"`` picks it for large inputs.

BTYD convention (Fader, Hardie & Lee 2005): purchases on the same day are one transaction;
``frequency`` counts repeat transactions (the first is excluded); ``recency`` is the time of
the last repeat purchase since the first (0 when there is none); ``T`` is the time from the
first purchase to the end of calibration; ``monetary_value`` is the mean value of the
repeat transactions (0 when there are none).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentum.spark_run import spark_identifier

if TYPE_CHECKING:
    import duckdb

__all__ = ["TIME_UNITS", "summarize", "summary_sql"]

#: days per time unit
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}

Source = pd.DataFrame | str | Path

_EPOCH = dt.date(1900, 1, 1)
_UNIX_EPOCH = dt.date(1970, 1, 1)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _date_literal(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


# long: one SQL statement assembled clause by clause; the pieces share the quoted names and
# the dialect switches, and split apart each would take eight arguments.
def summary_sql(
    source: str,
    *,
    customer_id: str,
    timestamp: str,
    amount: str,
    calibration_end: dt.date,
    holdout_end: dt.date | None = None,
    margin: str | None = None,
    time_unit: str = "D",
    dialect: Literal["duckdb", "spark"] = "duckdb",
) -> str:
    """The SQL statement behind :func:`summarize`.

    Parameters
    ----------
    source : str
        A table expression (a table name, or ``read_parquet('…')``).
    customer_id, timestamp, amount : str
        Column names in the source.
    calibration_end : datetime.date
        Last day of the calibration period (inclusive).
    holdout_end : datetime.date, optional
        Last day of the holdout period (inclusive); adds ``frequency_holdout``,
        ``monetary_holdout`` and ``duration_holdout``.
    margin : str, optional
        Margin column summed per customer.
    time_unit : {"D", "W"}, default="D"
        Unit of ``recency``, ``T`` and ``duration_holdout`` (days, or days / 7).
    dialect : {"duckdb", "spark"}, default="duckdb"
        SQL dialect: only identifier quoting and the two date functions differ
        (``date_diff``/``datediff`` and date + integer/``date_add``).

    Returns
    -------
    str
        One ``SELECT`` statement, one row per customer whose first purchase falls on or before
        ``calibration_end``.
    """
    unit = TIME_UNITS[time_unit]
    if dialect not in ("duckdb", "spark"):
        raise ValueError(f"summary_sql: dialect must be 'duckdb' or 'spark', got {dialect!r}")
    spark = dialect == "spark"
    q = spark_identifier if spark else _quote
    cid, ts, amt = q(customer_id), q(timestamp), q(amount)
    epoch = "DATE '1900-01-01'"
    # a DOUBLE, not a literal like 7.0 (a DECIMAL in Spark, which rounds the quotient)
    unit_sql = f"CAST({unit} AS DOUBLE)"
    cal_n = (calibration_end - _EPOCH).days
    end_n = (holdout_end - _EPOCH).days if holdout_end is not None else cal_n
    hold = holdout_end is not None
    if spark:
        day_expr = f"datediff(CAST({ts} AS DATE), {epoch})"
    else:
        day_expr = f"date_diff('day', {epoch}, CAST({ts} AS DATE))"

    def day_to_date(col: str) -> str:
        if spark:
            return f"date_add({epoch}, CAST({col} AS INT))"
        return f"{epoch} + CAST({col} AS INTEGER)"

    mcol = f", CAST({q(margin)} AS DOUBLE) AS mrg" if margin else ""
    # Step 1: every line with the dense rank of its day among the customer's days. Same-day
    # lines share a rank, so the number of distinct days is the largest rank and the first
    # day's lines are those of rank 1: no aggregate by (customer, day) is needed. (A
    # partition-and-sort is cheaper than hashing ~one group per line, and it leaves the rows
    # clustered by customer, which makes the GROUP BY below cheap. Ordering on the 4-byte
    # date rather than the day number sorts faster; the ranks are the same.)
    lines = f"""
        SELECT {cid} AS cid, {day_expr} AS day, CAST({amt} AS DOUBLE) AS amt{mcol},
               DENSE_RANK() OVER (PARTITION BY {cid} ORDER BY CAST({ts} AS DATE)) AS dr
        FROM {source}
        WHERE {day_expr} <= {end_n}"""
    in_cal_cond = f"day <= {cal_n}"

    # Step 2: per customer
    def in_cal(agg: str, extra: str = "") -> str:
        # without a holdout every remaining line is in calibration: no FILTER needed
        cond = " AND ".join(c for c in (in_cal_cond if hold else "", extra) if c)
        return f"{agg} FILTER (WHERE {cond})" if cond else agg

    # calibration days come first in the day order, so their count is their largest rank
    hold_cols = ""
    if hold:
        hold_cols = f""",
           MAX(dr) AS n_days_all,
           COALESCE(SUM(amt) FILTER (WHERE NOT ({in_cal_cond})), 0.0) AS revenue_holdout"""
    margin_agg = f"\n           {in_cal('SUM(mrg)')} AS margin," if margin else ""
    per_customer = f"""
    SELECT cid,
           {in_cal("MIN(day)")} AS first_d,
           {in_cal("MAX(day)")} AS last_d,
           {in_cal("COUNT(*)")} AS n_transactions,
           {in_cal("MAX(dr)")} AS n_days,
           {in_cal("SUM(amt)")} AS revenue,{margin_agg}
           {in_cal("SUM(amt)", "dr > 1")} AS repeat_revenue{hold_cols}
    FROM ({lines}
    ) AS lines
    GROUP BY cid"""
    hold_select = ""
    if hold:
        hold_select = f""",
       n_days_all - n_days AS frequency_holdout,
       CASE WHEN n_days_all > n_days THEN revenue_holdout / (n_days_all - n_days) ELSE 0.0 END
           AS monetary_holdout,
       CAST({end_n - cal_n} AS DOUBLE) / {unit_sql} AS duration_holdout"""
    # nested subqueries rather than CTEs: DuckDB may materialise a CTE, and Spark SQL reads
    # nested subqueries the same way
    return f"""
SELECT cid AS {q(customer_id)},
       CAST(n_days - 1 AS DOUBLE) AS frequency,
       CAST(last_d - first_d AS DOUBLE) / {unit_sql} AS recency,
       CAST({cal_n} - first_d AS DOUBLE) / {unit_sql} AS T,
       CASE WHEN n_days > 1 THEN repeat_revenue / (n_days - 1) ELSE 0.0 END
           AS monetary_value,
       {day_to_date("first_d")} AS first_purchase,
       {day_to_date("last_d")} AS last_purchase,
       n_transactions, revenue{", margin" if margin else ""}{hold_select}
FROM ({per_customer}
) AS per_customer
WHERE first_d IS NOT NULL"""


#: from this many lines on, ``engine="auto"`` uses the compiled kernel (below it the SQL
#: takes well under a second and the kernel's one-time compilation would cost more)
KERNEL_MIN_ROWS = 5_000_000
# bytes per line the kernel holds at its peak: the lines as read (id, day, amount, margin),
# their customer codes and the partitioned copy
_KERNEL_BYTES_PER_ROW = 64


def _kernel_worthwhile(
    con: duckdb.DuckDBPyConnection, source: str, n_rows: int | None = None
) -> bool:
    if n_rows is None:  # Parquet: the count comes from the file footers
        n_rows = int(con.execute(f"SELECT COUNT(*) FROM {source}").fetchall()[0][0])
    if n_rows < KERNEL_MIN_ROWS:
        return False
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: stay on the spilling SQL path
        return False
    if n_rows * _KERNEL_BYTES_PER_ROW > memory / 2:
        return False
    return importlib.util.find_spec("numba") is not None


def _customer_codes(ids: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """int32 codes that sort like the ids, and the ids in that order."""
    if pa.types.is_integer(ids.type):
        from segmentum.value._kernel import dense_codes

        values = ids.to_numpy()
        dense = dense_codes(values)
        if dense is not None:
            codes, uniques = dense
            return codes, pa.array(uniques.astype(values.dtype, copy=False))
    encoded = pc.dictionary_encode(ids.combine_chunks())
    dictionary = encoded.dictionary
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(order.size, np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, dictionary.take(pa.array(order))


def _summarize_compiled(
    con: duckdb.DuckDBPyConnection,
    source: str,
    customer_id: str,
    timestamp: str,
    amount: str,
    margin: str | None,
    cal: dt.date,
    hold: dt.date | None,
    time_unit: str,
    *,
    strict: bool,
) -> pd.DataFrame | None:
    """The summary through the compiled kernel; ``None`` when it cannot take these lines
    (missing values, unsupported id type) and ``strict`` is false."""
    try:
        from segmentum.value._kernel import STATE_COLUMNS, summarise_codes
    except ImportError as exc:
        if strict:
            raise ImportError(
                "summarize(engine='numba') needs numba: pip install numba, or use engine='sql'"
            ) from exc
        return None
    unit = TIME_UNITS[time_unit]
    # days since 1970-01-01: the storage of Arrow's date32, so DuckDB only casts to DATE
    cal_n = (cal - _UNIX_EPOCH).days
    end_n = (hold - _UNIX_EPOCH).days if hold is not None else cal_n
    day_expr = f"CAST({_quote(timestamp)} AS DATE)"
    end_date = _date_literal(hold if hold is not None else cal)
    mcol = f", CAST({_quote(margin)} AS DOUBLE) AS mrg" if margin else ""
    lines = con.sql(
        f"SELECT {_quote(customer_id)} AS cid, {day_expr} AS day, "
        f"CAST({_quote(amount)} AS DOUBLE) AS amt{mcol} FROM {source} "
        f"WHERE {day_expr} <= {end_date}"
    ).to_arrow_table()
    nulls = [c for c in lines.column_names if lines.column(c).null_count]
    if nulls:
        if strict:
            names = {"cid": customer_id, "day": timestamp, "amt": amount, "mrg": margin}
            raise ValueError(
                "summarize(engine='numba'): missing values in "
                f"{', '.join(repr(names[c]) for c in nulls)}; drop or fill them, or use "
                "engine='sql'"
            )
        return None
    try:
        codes, uniques = _customer_codes(lines.column("cid"))
    except pa.ArrowNotImplementedError:
        if strict:
            raise
        return None
    day = lines.column("day").cast(pa.int32()).to_numpy()
    amt = lines.column("amt").to_numpy()
    mrg = lines.column("mrg").to_numpy() if margin else None
    del lines
    # one row per state column (the kernel keeps a customer's state together in memory)
    state = np.ascontiguousarray(summarise_codes(codes, len(uniques), day, amt, mrg, cal_n).T)
    keep = np.isfinite(state[0])  # customers with a purchase by the calibration end
    if not keep.all():
        state = state[:, keep]
        uniques = uniques.filter(pa.array(keep))
    st = dict(zip(STATE_COLUMNS, state, strict=True))
    ids = uniques.to_pandas()
    first, last, n_days = st["first_d"], st["last_d"], st["n_days"]
    repeat = n_days > 1
    epoch = np.datetime64(_UNIX_EPOCH, "D")
    cols: dict[str, object] = {
        customer_id: ids,
        "frequency": n_days - 1.0,
        "recency": (last - first) / unit,
        "T": (cal_n - first) / unit,
        "monetary_value": np.where(
            repeat,
            (st["revenue"] - st["first_day_revenue"]) / np.where(repeat, n_days - 1, 1),
            0.0,
        ),
        "first_purchase": (epoch + first.astype(np.int64)).astype("datetime64[us]"),
        "last_purchase": (epoch + last.astype(np.int64)).astype("datetime64[us]"),
        "n_transactions": st["n_transactions"].astype(np.int64),
        "revenue": st["revenue"],
    }
    if margin:
        cols["margin"] = st["margin"]
    if hold is not None:
        n_hold = st["n_days_holdout"]
        cols["frequency_holdout"] = n_hold
        cols["monetary_holdout"] = np.where(
            n_hold > 0, st["revenue_holdout"] / np.where(n_hold > 0, n_hold, 1), 0.0
        )
        cols["duration_holdout"] = np.full(len(n_hold), (end_n - cal_n) / unit)
    # already sorted by customer id (the codes sort like the ids); no copy into one block
    return pd.DataFrame(cols, copy=False)


def _bad_values_error(
    con: duckdb.DuckDBPyConnection,
    transactions: Source,
    source: str,
    columns: dict[str, str],
    exc: Exception,
) -> ValueError:
    """Name the rows whose values DuckDB could not cast, column by column."""
    what = {"DATE": "a date", "DOUBLE": "a number"}
    for col, sql_type in columns.items():
        c = _quote(col)
        bad = f"TRY_CAST({c} AS {sql_type}) IS NULL AND {c} IS NOT NULL"
        if isinstance(transactions, pd.DataFrame):
            # a projection keeps the frame's row order (DuckDB preserves insertion order)
            mask = con.execute(f"SELECT {bad} AS bad FROM {source}").fetchnumpy()["bad"]
            pos = np.flatnonzero(np.asarray(mask, dtype=bool))[:3]
            labels = transactions.index[pos].tolist()
            values = transactions[col].iloc[pos].tolist()
            where = [f"index {lab!r} ({val!r})" for lab, val in zip(labels, values, strict=True)]
            n_bad = int(np.asarray(mask, dtype=bool).sum())
        else:
            path = str(transactions).replace("'", "''")
            rows = con.execute(
                f"SELECT filename, file_row_number, CAST({c} AS VARCHAR) FROM "
                f"read_parquet('{path}', file_row_number = true, filename = true) "
                f"WHERE {bad} ORDER BY filename, file_row_number"
            ).fetchall()
            where = [f"{Path(f).name} row {r} ({v!r})" for f, r, v in rows[:3]]
            n_bad = len(rows)
        if n_bad:
            more = f" and {n_bad - len(where):,} more" if n_bad > len(where) else ""
            return ValueError(
                f"summarize: column {col!r} has values that are not {what[sql_type]}: "
                f"{', '.join(where)}{more}. Fix or drop those rows (in a project run, "
                '`on_bad_rows = "quarantine"` sets them aside).'
            )
    return ValueError(f"summarize: DuckDB could not read the transactions: {exc}")


def check_time_unit(caller: str, time_unit: str) -> None:
    if time_unit not in TIME_UNITS:
        raise ValueError(
            f"{caller}: time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}"
        )


def check_columns(caller: str, have: list[str], needed: tuple[str | None, ...]) -> None:
    """Raise naming the columns of ``needed`` (``None`` = not used) missing from ``have``."""
    missing = [c for c in needed if c and c not in have]
    if missing:
        raise ValueError(f"{caller}: transactions lack column(s) {missing}; they have {have}")


def resolve_period(
    caller: str,
    calibration_end: object,
    holdout_end: object,
    observation_end: object,
    last_date: Callable[[], object],
) -> tuple[dt.date, dt.date | None]:
    """Calibration and holdout ends as dates; the calibration end defaults to the observation
    end, and that to the last transaction date (``last_date()``, queried only then)."""
    if calibration_end is None:
        if observation_end is None:
            observation_end = last_date()
            if observation_end is None:
                raise ValueError(f"{caller}: no transactions")
        calibration_end = observation_end
    cal = _to_date(calibration_end, "calibration_end")
    hold = _to_date(holdout_end, "holdout_end") if holdout_end is not None else None
    if hold is not None and hold <= cal:
        raise ValueError(f"{caller}: holdout_end {hold} must be after calibration_end {cal}")
    return cal, hold


def _to_date(value: object, name: str) -> dt.date:
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"summarize: {name}={value!r} is not a date") from exc
    if pd.isna(ts):
        raise ValueError(f"summarize: {name} is missing")
    return ts.date()


def summarize(
    transactions: Source,
    customer_id: str = "customer_id",
    timestamp: str = "date",
    amount: str = "amount",
    calibration_end: object = None,
    holdout_end: object = None,
    time_unit: Literal["D", "W"] = "D",
    observation_end: object = None,
    *,
    margin: str | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    engine: Literal["auto", "sql", "numba"] = "auto",
) -> pd.DataFrame:
    """One row per customer: RFM totals and the BTYD summary, computed in DuckDB.

    Parameters
    ----------
    transactions : pandas.DataFrame or path
        One row per transaction line; a ``.parquet`` path (or glob) is scanned in place.
    customer_id, timestamp, amount : str
        Column names. ``timestamp`` may be a date, a timestamp or an ISO string; the time of
        day is dropped.
    calibration_end : date-like, optional
        Last day (inclusive) of the calibration period; defaults to ``observation_end``.
        Customers whose first purchase is later are left out.
    holdout_end : date-like, optional
        Last day (inclusive) of the holdout period after ``calibration_end``.
    time_unit : {"D", "W"}, default="D"
        Unit of ``recency``, ``T`` and ``duration_holdout``: days, or weeks (days / 7, as in
        the published CDNOW summaries).
    observation_end : date-like, optional
        End of observation when there is no holdout; defaults to the last transaction date.
    margin : str, optional
        Margin column summed into ``margin``.
    connection : duckdb connection, optional
        Reuse a connection (for example one tuned with ``SET memory_limit``).
    engine : {"auto", "sql", "numba"}, default="auto"
        ``"sql"`` runs the portable SQL statement of :func:`summary_sql` in DuckDB.
        ``"numba"`` reads the lines through DuckDB and summarises them in a compiled kernel
        (about 2.5 times faster on large tables; the first use compiles it, about 7 s, and
        caches it). ``"auto"`` takes the kernel from 5 million lines on, when the lines fit
        in half the machine's memory and have no missing values; otherwise SQL, which can
        spill to disk. Both give the same summary.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (named as given), ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``first_purchase``, ``last_purchase``, ``n_transactions`` (lines),
        ``revenue``, ``margin`` (when a margin column is given), and with a holdout
        ``frequency_holdout``, ``monetary_holdout`` and ``duration_holdout``. Totals cover
        the calibration period. Sorted by customer id, one row per customer.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                    "date": ["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-05"],
    ...                    "amount": [10.0, 5.0, 20.0, 7.0]})
    >>> s = summarize(tx, calibration_end="2024-01-15", time_unit="W")
    >>> s[["customer_id", "frequency", "recency", "T", "monetary_value"]].to_dict("records")[0]
    {'customer_id': 1, 'frequency': 1.0, 'recency': 1.0, 'T': 2.0, 'monetary_value': 20.0}
    """
    import duckdb  # lazy: importing segmentum.value does not load DuckDB

    check_time_unit("summarize", time_unit)
    if engine not in ("auto", "sql", "numba"):
        raise ValueError(f"summarize: engine must be 'auto', 'sql' or 'numba', got {engine!r}")
    needed = (customer_id, timestamp, amount, margin)
    con = connection if connection is not None else duckdb.connect()
    n_rows: int | None = None
    if isinstance(transactions, pd.DataFrame):
        check_columns("summarize", list(transactions.columns), needed)
        con.register("_segmentum_tx", transactions)
        source = "_segmentum_tx"
        n_rows = len(transactions)
    else:
        path = str(transactions).replace("'", "''")
        source = f"read_parquet('{path}')"
    try:
        if n_rows is None:  # a Parquet path: its columns, without reading the data
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            check_columns("summarize", names, needed)

        def last_date() -> object:
            return con.execute(
                f"SELECT MAX(CAST({_quote(timestamp)} AS DATE)) FROM {source}"
            ).fetchall()[0][0]

        cal, hold = resolve_period(
            "summarize", calibration_end, holdout_end, observation_end, last_date
        )
        out = None
        if engine == "numba" or (engine == "auto" and _kernel_worthwhile(con, source, n_rows)):
            out = _summarize_compiled(
                con, source, customer_id, timestamp, amount, margin, cal, hold, time_unit,
                strict=engine == "numba",
            )  # fmt: skip
        if out is None:
            sql = summary_sql(
                source,
                customer_id=customer_id,
                timestamp=timestamp,
                amount=amount,
                calibration_end=cal,
                holdout_end=hold,
                margin=margin,
                time_unit=time_unit,
            )
            out = con.execute(sql).df().sort_values(customer_id, ignore_index=True)
            for col in ("first_purchase", "last_purchase"):
                out[col] = pd.to_datetime(out[col])
            out["n_transactions"] = out["n_transactions"].astype("int64")
            if "frequency_holdout" in out:
                out["frequency_holdout"] = out["frequency_holdout"].astype(float)
    except duckdb.IOException as exc:
        if isinstance(transactions, pd.DataFrame):
            raise
        raise FileNotFoundError(
            f"summarize: cannot read {str(transactions)!r} as Parquet: "
            f"{str(exc).splitlines()[0]}. Check the path (a glob like 'tx/*.parquet' works)."
        ) from exc
    except duckdb.ConversionException as exc:
        columns = {timestamp: "DATE", amount: "DOUBLE"}
        if margin:
            columns[margin] = "DOUBLE"
        raise _bad_values_error(con, transactions, source, columns, exc) from exc
    finally:
        if isinstance(transactions, pd.DataFrame):
            con.unregister("_segmentum_tx")
        if connection is None:
            con.close()
    return out
