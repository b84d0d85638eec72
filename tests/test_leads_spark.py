"""The go-to-market half's customers held in Spark (#17 item 4): the lead model's rows
selected in Spark, and a channel's mix by descriptor raked on cells Spark counts, give what
the whole customers table on the driver gives (needs the ``spark`` extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from spark_collections import record_collections  # noqa: E402
from test_leads import TARGETS, people  # noqa: E402

from segmentum.activation.channels import mix_from_descriptors  # noqa: E402
from segmentum.activation.gtm import TableBase  # noqa: E402
from segmentum.activation.leads import fit_lead_scorer  # noqa: E402
from segmentum.activation.spark_leads import SparkCustomerBase  # noqa: E402

pytestmark = pytest.mark.spark

N = 2_000
DESCRIPTORS = ["age", "region", "member"]


@pytest.fixture(scope="module")
def base(spark):  # type: ignore[no-untyped-def]
    """2,000 planted customers in Spark, 300 of them linked; ``member`` is a yes/no column
    with empty cells among the unlinked customers only, ``age`` has a few missing."""
    cust, seg = people(N, seed=7)
    rng = np.random.default_rng(3)
    linked = np.sort(rng.choice(N, size=300, replace=False))
    member = pd.Series(rng.random(N) < 0.4, dtype=object)
    unlinked = np.setdiff1d(np.arange(N), linked)
    member.iloc[unlinked[:50]] = None
    cust["member"] = member
    cust.loc[cust.index[unlinked[50:60]], "age"] = np.nan
    frame = spark.createDataFrame(
        cust, "id string, age double, region string, channel string, member boolean"
    )
    labels = pd.Series(seg[linked], index=cust["id"].to_numpy()[linked])
    # the driver's whole table, as the run's Deferred collects it
    whole = frame.toPandas()
    return SparkCustomerBase(frame, "id"), TableBase(whole, "id"), labels


def test_linked_rows_alone_give_the_whole_tables_lead_model(base) -> None:  # type: ignore[no-untyped-def]
    """Only the linked customers' rows come to the driver, typed as the whole table types
    them (``member`` stays a category though the linked rows have no empty cell), and the
    lead model fitted on them is the one fitted with every customer's features."""
    on_spark, on_driver, labels = base
    with record_collections() as calls:
        got = on_spark.features(DESCRIPTORS, "channel", labels.index)
    assert max(c.rows for c in calls) == len(labels) < N
    want = on_driver.features(DESCRIPTORS, "channel")
    assert len(want) == N and isinstance(want["member"].dtype, pd.CategoricalDtype)
    assert list(got.columns) == list(want.columns)
    assert [str(t) for t in got.dtypes if str(t) != "category"] == [
        str(t) for t in want.dtypes if str(t) != "category"
    ]
    sub = want.loc[labels.index]
    for c in want.columns:
        assert got.loc[labels.index, c].astype(object).tolist() == sub[c].astype(object).tolist()
    fits = [fit_lead_scorer(f, labels, targets=TARGETS, random_state=0) for f in (got, want)]
    assert fits[0].scorer.to_dict() == fits[1].scorer.to_dict()
    assert fits[0].auc == fits[1].auc and fits[0].auc > 0.6  # the planted segments show
    assert "member" in fits[0].scorer.model.categorical
    with pytest.raises(ValueError, match="linked customers"):
        on_spark.features(DESCRIPTORS, "channel", None)


def test_mix_by_descriptor_from_spark_cells_is_the_per_customer_mix(base) -> None:  # type: ignore[no-untyped-def]
    """A channel's mix by descriptor raked on Spark's cells (count and mean probabilities
    per level) is the mix raked on every customer scored on the driver."""
    on_spark, on_driver, labels = base
    feats = on_driver.features(DESCRIPTORS, "channel")
    model = fit_lead_scorer(feats, labels, targets=TARGETS, random_state=0).scorer.model
    columns = ["source", "region", "member"]
    with record_collections() as calls:
        cells, counts, mean = on_spark.cells(DESCRIPTORS, "channel", model, columns)
    assert max(c.rows for c in calls) == len(cells) <= 3 * 2 * 3  # levels x levels x levels
    assert counts.sum() == N and mean.shape == (len(cells), len(model.segments))
    ref, ones, P = on_driver.cells(DESCRIPTORS, "channel", model, columns)
    assert len(ref) == N and (ones == 1).all()
    for marginals in (
        {"source": {"web": 0.7, "agent": 0.3}},
        {"source": {"event": 0.5, "web": 0.5}, "region": {"north": 0.2, "south": 0.8}},
        {"member": {"True": 0.9, "False": 0.1}},
    ):
        want = mix_from_descriptors(marginals, ref, P)
        got = mix_from_descriptors(marginals, cells, mean, counts=counts)
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=str(marginals))
    # the raking moves the mix: web-heavy and event-heavy audiences differ
    a = mix_from_descriptors({"source": {"web": 1.0}}, cells, mean, counts=counts)
    b = mix_from_descriptors({"source": {"event": 1.0}}, cells, mean, counts=counts)
    assert np.abs(a - b).max() > 0.05
