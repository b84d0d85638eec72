"""The go-to-market half's customers on Spark: the lead model without the customers table.

The go-to-market half (:func:`~segmentum.activation.gtm.market_activation`) reads the
customers table twice, through a :class:`~segmentum.activation.gtm.CustomerBase`:

* to **fit the lead model**, the lead features of the customers linked to the survey
  (:meth:`SparkCustomerBase.features`): they are selected in Spark by id (a broadcast
  semi-join) and only their rows — a few hundred to a few thousand, as many as the survey
  links — reach the driver, where :func:`~segmentum.activation.leads.lead_features` types
  them as it types the whole table (the fit reads only these rows on both engines);
* to turn a **channel's mix by descriptor** into a mix by segment, every customer's segment
  probabilities under the lead model, raked to the channel's descriptor shares
  (:func:`~segmentum.activation.channels.mix_from_descriptors`). Raking gives everyone with
  the same descriptor values the same weight, so Spark scores every customer with the
  model's linear scores as SQL expressions
  (:func:`~segmentum.valuation.spark.segment_scores_spark`, softmax in Spark), groups them
  by the values of the channels' descriptor columns and brings one row per cell: its count
  and its mean probabilities (:meth:`SparkCustomerBase.cells`; a handful of rows, the
  product of the descriptors' levels).

The leads table (``[sources.leads]``, prospects to score) is read on the driver as before:
it is small by nature (a sales team's list), and the lead model scores it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentum.activation.leads import SOURCE, lead_features
from segmentum.spark_run import spark_column
from segmentum.valuation.projection import ProjectionModel
from segmentum.valuation.spark import segment_scores_spark

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

__all__ = ["SparkCustomerBase"]

_ID = "_lead_id"


_col = spark_column  # a column by its exact name


def _raw_columns(descriptors: Sequence[str], source: str | None) -> list[str]:
    """The customers' columns :func:`lead_features` reads, in its order (a descriptor named
    as the source, or as ``source`` when the source is renamed to it, is left out as it
    leaves it out)."""
    cols = [c for c in descriptors if c != source and not (source is not None and c == SOURCE)]
    return [*cols, source] if source is not None else cols


class SparkCustomerBase:
    """The customers table held in Spark, as the go-to-market half reads it.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        The clean customers table (one row per customer).
    id_column : str
        Its id column (compared as text, as the driver's ids are).
    """

    def __init__(self, frame: DataFrame, id_column: str):
        self.frame = frame
        self.id_column = id_column

    @property
    def columns(self) -> list[str]:
        """The customers table's columns (read from the schema, nothing collected)."""
        return [str(c) for c in self.frame.columns]

    def features(
        self, descriptors: Sequence[str], source: str | None, ids: pd.Index | None
    ) -> pd.DataFrame:
        """:func:`~segmentum.activation.leads.lead_features` of the customers ``ids`` (text
        ids; the linked customers): selected in Spark, their rows alone collected.

        A yes/no column Spark holds with empty cells comes to the driver as text (object) in
        the whole table: it is made text here too when the selected rows have none, so that
        the lead model sees the column as the DuckDB run does.

        Raises
        ------
        ValueError
            ``ids`` is ``None`` (every customer's features would come to the driver).
        """
        from pyspark.sql import functions as F

        if ids is None:
            raise ValueError(
                "SparkCustomerBase.features: give the customers' ids (the linked customers); "
                "every customer's row stays in Spark"
            )
        raw = _raw_columns(descriptors, source)
        spark = self.frame.sparkSession
        keys = spark.createDataFrame([(str(i),) for i in dict.fromkeys(ids)], "_key string")
        on = _col(self.id_column).cast("string") == F.col("_key")
        picked = self.frame.join(F.broadcast(keys), on, "left_semi")
        rows = picked.select(_col(self.id_column), *map(_col, dict.fromkeys(raw))).toPandas()
        for c in self._nullable_flags(list(dict.fromkeys(raw))):
            rows[c] = rows[c].astype(object)
        rows[self.id_column] = rows[self.id_column].astype(str)
        return lead_features(rows, id_column=self.id_column, descriptors=descriptors, source=source)

    def _nullable_flags(self, columns: list[str]) -> list[str]:
        """The yes/no (boolean) columns among ``columns`` with an empty cell in the table."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        kinds = {f.name: f.dataType for f in self.frame.schema.fields}
        flags = [c for c in columns if isinstance(kinds.get(c), T.BooleanType)]
        if not flags:
            return []
        row = self.frame.select(
            *[F.max(_col(c).isNull().cast("int")).alias(f"_n{i}") for i, c in enumerate(flags)]
        ).first()
        return [c for i, c in enumerate(flags) if row is not None and row[f"_n{i}"] == 1]

    def _as_feature(self, column: str, is_source: bool, model: ProjectionModel) -> Column:
        """A customers column as the lead model reads it: the source as text (as
        :func:`lead_features` makes it); a yes/no column the model holds as levels (it had
        empty cells) spelled as pandas spells it (``True``/``False``)."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        col = _col(column)
        kinds = {f.name: f.dataType for f in self.frame.schema.fields}
        if isinstance(kinds.get(column), T.BooleanType) and (
            is_source or column in model.categorical
        ):
            return F.when(col, F.lit("True")).when(~col, F.lit("False"))
        return col.cast("string") if is_source else col

    def cells(
        self,
        descriptors: Sequence[str],
        source: str | None,
        model: ProjectionModel,
        columns: Sequence[str],
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Every customer scored by ``model`` in Spark, grouped by the lead features
        ``columns`` (the channels' descriptor columns; ``source`` for the renamed source).

        Returns the cells' values (as :func:`lead_features` gives them, one row per cell),
        the customers in each and their mean segment probabilities (cells × the model's
        segments), what :func:`~segmentum.activation.channels.mix_from_descriptors` rakes.
        """
        from pyspark.sql import functions as F

        raw = _raw_columns(descriptors, source)
        feature_of = {c: c for c in raw if c != source}
        if source is not None:
            feature_of[source] = SOURCE
        named = [self._as_feature(c, c == source, model).alias(feature_of[c]) for c in raw]
        group = [c for c in raw if feature_of[c] in set(columns)]
        keys = [_col(c).alias(f"_g{i}") for i, c in enumerate(group)]
        people = self.frame.select(*named, *keys)
        k = len(model.segments)
        scores = people.select(
            *[F.col(f"_g{i}") for i in range(len(group))],
            *[s.alias(f"_s{j}") for j, s in enumerate(segment_scores_spark(model))],
        )
        top = F.greatest(*[F.col(f"_s{j}") for j in range(k)]) if k > 1 else F.col("_s0")
        scored = scores.withColumn("_top", top)
        total: Any = F.lit(0.0)
        for j in range(k):
            total = total + F.exp(F.col(f"_s{j}") - F.col("_top"))
        probs = [(F.exp(F.col(f"_s{j}") - F.col("_top")) / total).alias(f"_p{j}") for j in range(k)]
        scored = scored.select(*[F.col(f"_g{i}") for i in range(len(group))], *probs)
        by = [F.col(f"_g{i}") for i in range(len(group))]
        aggs = [F.count(F.lit(1)).alias("_n"), *[F.avg(f"_p{j}").alias(f"_p{j}") for j in range(k)]]
        out = (scored.groupBy(*by) if by else scored).agg(*aggs)
        cells = out.orderBy(*by).toPandas() if by else out.toPandas()
        counts = cells["_n"].to_numpy(dtype=float)
        mean = cells[[f"_p{j}" for j in range(k)]].to_numpy(dtype=float)
        frame = cells[[f"_g{i}" for i in range(len(group))]].copy()
        frame.columns = group
        frame.insert(0, _ID, np.arange(len(frame)))
        kept = [c for c in group if c != source]
        src = source if source in group else None
        ref = lead_features(frame, id_column=_ID, descriptors=kept, source=src)
        return ref, counts, mean
