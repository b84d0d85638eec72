"""The run's ``assignments`` table joined and written by Spark (``engine = "spark"``).

:func:`merge_assignments_spark` joins the stages' per-customer and per-respondent columns as
:func:`segmentum.project._merge_assignments` joins the pandas frames (outer joins on
``respondent_id`` / ``customer_id``, a later stage filling only what an earlier one left
empty, rows without the key kept apart), on Spark DataFrames: the stages that run in the
engine hand theirs over through ``Stage.assignments_spark``; the others' pandas frames are
handed to Spark.

:func:`write_parquet_parts` writes a Spark DataFrame as a folder of Parquet part files, one
per Spark partition, each written by the Spark task that holds it (``mapInArrow`` and
pyarrow). Every part carries the Arrow schema and pandas metadata a pandas run gives the
same table (text ``str``, integers ``int64``, or ``Int64`` where the column has gaps,
``boolean`` likewise, timestamps ``datetime64[us]``), so ``pandas.read_parquet`` and DuckDB
read the folder as one table with the same columns and dtypes as the DuckDB run's
``assignments.parquet``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "merge_assignments_spark",
    "nullable_columns",
    "pandas_schema",
    "persisted_rdds",
    "run_scope",
    "spark_column",
    "spark_identifier",
    "to_spark",
    "unpersist_since",
    "write_parquet_parts",
    "write_rejected",
]

_IDS = ("respondent_id", "customer_id")


def persisted_rdds(session: SparkSession) -> set[int]:
    """The ids of the RDDs the session's context holds persisted (cached DataFrames once
    computed, local checkpoints)."""
    held = session.sparkContext._jsc.getPersistentRDDs()
    return {int(key) for key in held.keySet().toArray()}


def unpersist_since(
    session: SparkSession, before: set[int], *, checkpoints: bool = False
) -> list[int]:
    """Unpersist every RDD persisted since ``before`` (:func:`persisted_rdds`); the ones
    held before are left alone. Local checkpoints are kept unless ``checkpoints``: a
    checkpointed frame has no lineage to recompute from, and a run's results (its Spark
    frames) may still read them. Returns the ids let go."""
    held = session.sparkContext._jsc.getPersistentRDDs()
    freed = []
    for key in list(held.keySet().toArray()):
        if int(key) in before:
            continue
        rdd = held.get(key)
        if rdd is None or (rdd.isCheckpointed() and not checkpoints):
            continue
        rdd.unpersist(False)
        freed.append(int(key))
    return freed


@contextlib.contextmanager
def run_scope(session: SparkSession) -> Iterator[SparkSession]:
    """The Spark side of one run: the session in UTC for the run (its own zone restored
    afterwards, :func:`segmentum.data.spark_ingest.session_in_utc`), and at the end every
    table the run persisted let go (:func:`unpersist_since`), whether the run succeeded or
    not; what the session held before the run is left alone."""
    from segmentum.data.spark_ingest import session_in_utc

    before = persisted_rdds(session)
    try:
        with session_in_utc(session):
            yield session
    finally:
        unpersist_since(session, before)


def write_rejected(frame: DataFrame, folder: Path) -> list[Path]:
    """The rows a Spark ingest set aside (``source_row``, ``reason``, the row's values),
    written by Spark as the part files of ``folder`` (``rejected/<table>.parquet/``) in
    file order, with the dtypes the DuckDB run's ``rejected/<table>.parquet`` has."""
    ordered = frame.orderBy("source_row")
    return write_parquet_parts(ordered, folder, pandas_schema(ordered))


def spark_identifier(name: str) -> str:
    """``name`` quoted for Spark SQL text: backticks around it, a backtick in it doubled."""
    return "`" + name.replace("`", "``") + "`"


def spark_column(name: str) -> Any:
    """A Spark column by its exact name (dots, ``=`` and spaces included)."""
    from pyspark.sql import functions as F

    return F.col(spark_identifier(name))


_q = spark_column


def to_spark(session: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """A pandas frame of the run as a Spark DataFrame, typed from its dtypes (an all-empty
    column keeps its type: text, integer, number, flag or timestamp)."""
    from pyspark.sql import types as T

    fields = []
    data = frame.copy()
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            kind: Any = T.BooleanType()
            data[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif pd.api.types.is_integer_dtype(dtype):
            kind = T.LongType()
            data[name] = frame[name].astype("Int64").astype(object).where(frame[name].notna(), None)
        elif pd.api.types.is_float_dtype(dtype):
            kind = T.DoubleType()
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = T.TimestampType()
        else:
            kind = T.StringType()
            data[name] = frame[name].astype(object).where(frame[name].notna(), None)
            data[name] = data[name].map(lambda v: v if v is None else str(v))
        fields.append(T.StructField(str(name), kind, True))
    return session.createDataFrame(data, schema=T.StructType(fields))


def nullable_columns(frame: pd.DataFrame) -> set[str]:
    """Columns of a stage's pandas frame held as pandas' nullable ``Int64``/``boolean``: the
    pandas run keeps those dtypes whether or not the column has gaps."""
    return {
        str(name)
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    }


def merge_assignments_spark(frames: list[DataFrame | None]) -> DataFrame | None:
    """Join stage columns into one row per respondent or customer, in Spark.

    The rules of :func:`segmentum.project._merge_assignments`; ``None`` when no frame has a
    column (the caller writes the empty table).
    """
    frames = [f for f in frames if f is not None and len(f.columns)]
    if not frames:
        return None
    merged = frames[0]
    for frame in frames[1:]:
        keys = [k for k in _IDS if k in merged.columns and k in frame.columns]
        if not keys:
            merged = _gaps(merged.unionByName(frame, allowMissingColumns=True))
        elif len(keys) == 2 and frame.where(_q("respondent_id").isNull()).limit(1).count():
            merged = _merge_on(
                merged, frame.where(_q("respondent_id").isNotNull()), "respondent_id"
            )
            rest = frame.where(_q("respondent_id").isNull()).drop("respondent_id")
            merged = _merge_on(merged, rest, "customer_id")
        else:
            merged = _merge_on(merged, frame, keys[0])
    front = [c for c in _IDS if c in merged.columns]
    return merged.select(*(_q(c) for c in front + [c for c in merged.columns if c not in front]))


GAP = "__gap__"  # GAP + column: whether the column was empty in some row after some join


def _gaps(frame: DataFrame) -> DataFrame:
    """Mark, per integer or flag column, rows where it is empty now (pandas turns such a
    column into floats at this join, and the run then stores it as ``Int64``)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    for f in frame.schema.fields:
        if f.name.startswith(GAP) or f.name.endswith("_dup"):
            continue
        if isinstance(f.dataType, T.IntegralType | T.BooleanType):
            empty = _q(f.name).isNull()
            if GAP + f.name in frame.columns:
                empty = F.coalesce(_q(GAP + f.name), F.lit(False)) | empty
            frame = frame.withColumn(GAP + f.name, empty)
    return frame


def _merge_on(merged: DataFrame, frame: DataFrame, key: str) -> DataFrame:
    """``project._merge_on`` in Spark: an outer join on ``key``; a column both carry keeps
    the earlier value and takes the later one where the earlier is missing."""
    from pyspark.sql import functions as F

    left = merged.where(_q(key).isNotNull())
    unlinked = merged.where(_q(key).isNull())
    both = [c for c in frame.columns if c != key and c in merged.columns]
    right = frame.select(*(_q(c).alias(f"{c}_dup") if c in both else _q(c) for c in frame.columns))
    added = [c for c in right.columns if c != key]
    joined = left.join(right, on=key, how="full_outer")
    joined = joined.select(*(_q(c) for c in left.columns), *(_q(c) for c in added))
    joined = _gaps(joined.unionByName(unlinked, allowMissingColumns=True))
    for col in both:
        if col not in _IDS:
            joined = joined.withColumn(col, F.coalesce(_q(col), _q(f"{col}_dup")))
    return joined.select(*(_q(c) for c in joined.columns if not c.endswith("_dup")))


def pandas_schema(
    frame: DataFrame, nullable_dtypes: set[str] | frozenset[str] = frozenset()
) -> pa.Schema:
    """The Arrow schema (with pandas metadata) the pandas run gives ``frame``'s columns:
    integer and flag columns with gaps, or named in ``nullable_dtypes`` (a stage's pandas
    frame had them as ``Int64``/``boolean``), as ``Int64``/``boolean`` (one Spark count)."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    nullable = [
        f.name
        for f in frame.schema.fields
        if isinstance(f.dataType, T.IntegralType | T.BooleanType) and not f.name.startswith(GAP)
    ]
    gaps: dict[str, int] = {}
    if nullable:
        exprs = []
        for c in nullable:
            empty = _q(c).isNull()
            if GAP + c in frame.columns:
                empty = empty | F.coalesce(_q(GAP + c), F.lit(False))
            exprs.append(F.count(F.when(empty, 1)).alias(c))
        row = frame.agg(*exprs).first()
        gaps = {c: int(row[c]) for c in nullable}
    empty: dict[str, pd.Series] = {}
    for f in frame.schema.fields:
        if f.name.startswith(GAP):
            continue
        kind = f.dataType
        if isinstance(kind, T.IntegralType):
            dtype: Any = "Int64" if gaps[f.name] or f.name in nullable_dtypes else "int64"
        elif isinstance(kind, T.BooleanType):
            dtype = "boolean" if gaps[f.name] or f.name in nullable_dtypes else "bool"
        elif isinstance(kind, T.FractionalType):
            dtype = "float64"
        elif isinstance(kind, T.TimestampType | T.TimestampNTZType | T.DateType):
            dtype = "datetime64[us]"
        else:
            dtype = "str"
        empty[f.name] = pd.Series(np.array([], dtype=object) if dtype == "str" else [], dtype=dtype)
    return pa.Schema.from_pandas(pd.DataFrame(empty), preserve_index=False)


def write_parquet_parts(frame: DataFrame, folder: Path, schema: pa.Schema) -> list[Path]:
    """Write ``frame`` as ``folder/part-NNNNN.parquet``, one file per non-empty Spark
    partition, each cast to ``schema`` by the task that holds it; returns the files.

    ``folder`` must be reachable from the executors (a local run; on a cluster, a shared
    file system).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    target = str(folder.resolve())

    def write(batches: Any) -> Any:
        from pyspark import TaskContext

        got = list(batches)
        table = pa.Table.from_batches(got) if got else schema.empty_table()
        if table.num_rows:
            part = TaskContext.get().partitionId()  # type: ignore[union-attr]
            columns = [
                table.column(f.name).cast(f.type) if table.schema.field(f.name).type != f.type
                else table.column(f.name)
                for f in schema
            ]  # fmt: skip
            table = pa.Table.from_arrays(columns, schema=schema)
            pq.write_table(table, f"{target}/part-{part:05d}.parquet")
        yield pa.RecordBatch.from_pydict({"rows": [table.num_rows]})

    ordered = frame.select(*(_q(f.name) for f in schema))
    ordered.mapInArrow(write, "rows long").collect()
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        pq.write_table(schema.empty_table(), folder / "part-00000.parquet")
        parts = [folder / "part-00000.parquet"]
    return parts
