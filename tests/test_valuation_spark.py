"""The valuation on Spark (needs the ``spark`` extra): the figures pandas gives, from Spark
aggregates, on a small market.

One small demo market (900 customers, 400 respondents) is valued twice: by
:func:`~segmentum.valuation.run.run_valuation` on pandas tables and by
:func:`~segmentum.valuation.spark_valuation.run_valuation_spark` on the same tables handed
to Spark. The projection model, the adjusted sizes, the valuation table and the priorities
must agree (counts identical, sums within 1e-9 relative), every customer's segment must be
the pandas one, and nothing the valuation brings to the driver may hold all customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need the spark extra: pip install -e '.[spark]'"
)

from segmentum.demo import NEED_COLUMNS, make_market  # noqa: E402
from segmentum.spark_run import to_spark  # noqa: E402
from segmentum.valuation import ValuationConfig  # noqa: E402
from segmentum.valuation.run import run_valuation  # noqa: E402
from segmentum.valuation.spark_valuation import (  # noqa: E402
    assignments_from_segments_spark,
    run_valuation_spark,
    segment_valuation_spark,
)
from segmentum.valuation.value import segment_valuation  # noqa: E402
from segmentum.value import run_value  # noqa: E402

pytestmark = pytest.mark.spark

N_CUSTOMERS = 900


@pytest.fixture(scope="module")
def both(spark):  # type: ignore[no-untyped-def]
    """The market valued on pandas and on Spark, and the calls that reached the driver."""
    from spark_collections import record_collections

    m = make_market(seed=0, n_customers=N_CUSTOMERS, n_respondents=400)
    value = run_value(
        m.transactions, customer_id="customer_id", timestamp="date", amount="amount",
        margin="margin", channel="channel", events=m.events, customers=m.customers,
        analysis_date=m.analysis_date,
    )  # fmt: skip
    truth = m.truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    code = {n: i + 1 for i, n in enumerate(sorted(truth.unique()))}
    segs = truth.map(code).astype(int)
    cfg = ValuationConfig(
        typing_method="lda", our_brand=sorted(m.competitor_ratings["brand"])[0], n_draws=100
    )
    common = dict(
        respondent_id="respondent_id", basis=list(NEED_COLUMNS), survey_customer_id="customer_id",
        weights="weight", customer_id="customer_id", timestamp="date", amount="amount",
        mix_columns=["product", "channel"], event_type="event_type",
        ratings=m.competitor_ratings, config=cfg,
    )  # fmt: skip
    customers = m.customers.drop(columns=["respondent_id"])
    pandas_run = run_valuation(
        m.survey, segs, customers=customers, per_customer=value.per_customer,
        transactions=m.transactions, events=m.events, **common,
    )  # fmt: skip
    tables = {
        "customers": to_spark(spark, customers),
        "per_customer": to_spark(spark, value.per_customer),
        "transactions": to_spark(spark, m.transactions),
        "events": to_spark(spark, m.events),
    }
    with record_collections() as calls:
        on_spark = run_valuation_spark(m.survey, segs, spark=spark, **tables, **common)
    return m, pandas_run, on_spark, calls


def test_projection_model_and_adjusted_sizes_are_the_pandas_ones(both) -> None:  # type: ignore[no-untyped-def]
    _, want, got, _ = both
    a, b = want.projection, got.result.projection
    assert a is not None and b is not None
    assert b.n_train == a.n_train >= 20
    assert b.model.numeric == a.model.numeric and list(b.model.categorical) == list(
        a.model.categorical
    )
    assert any(c.startswith("mix_") for c in a.model.numeric)  # the mix shares are features
    assert any(c.startswith("events_") for c in a.model.numeric)
    np.testing.assert_allclose(b.model.weights, a.model.weights, rtol=1e-6, atol=1e-9)
    pd.testing.assert_frame_equal(b.confusion, a.confusion)
    assert b.accuracy == a.accuracy
    want_sizes, got_sizes = want.adjusted_sizes, got.result.adjusted_sizes
    assert want_sizes is not None and got_sizes is not None
    pd.testing.assert_frame_equal(got_sizes, want_sizes, rtol=1e-12)


def test_valuation_table_and_priorities_are_the_pandas_ones(both) -> None:  # type: ignore[no-untyped-def]
    _, want, got, _ = both
    a, b = want.valuation, got.result.valuation
    assert a is not None and b is not None and "growth" in a and a["growth"].notna().any()
    assert list(b.columns) == list(a.columns) and list(b.index) == list(a.index)
    assert b["customers"].tolist() == a["customers"].tolist()
    assert int(a["customers"].sum()) > 0.9 * N_CUSTOMERS
    pd.testing.assert_frame_equal(b, a, check_exact=False, rtol=1e-9)
    pa, pb = want.priorities, got.result.priorities
    assert pa is not None and pb is not None
    pd.testing.assert_frame_equal(pb.table, pa.table, check_exact=False, rtol=1e-9)
    assert got.result.sentence == want.sentence
    assert got.result.warnings == want.warnings


def test_every_customer_gets_the_pandas_segment(both, spark) -> None:  # type: ignore[no-untyped-def]
    _, want, got, _ = both
    cs = want.customer_segments
    frame = got.segments.toPandas().set_index("customer_id").loc[cs.index.astype(str)]
    assert len(frame) == len(cs) == N_CUSTOMERS
    assert (frame["segment"].to_numpy() == cs["segment"].to_numpy(dtype=np.int64)).all()
    assert (frame["segment_source"].to_numpy() == cs["segment_source"].to_numpy()).all()
    np.testing.assert_allclose(frame["segment_probability"], cs["segment_probability"], rtol=1e-9)
    # on the driver: the linked customers only
    survey_rows = cs[cs["segment_source"] == "survey"]
    assert set(got.result.customer_segments.index) == set(survey_rows.index.astype(str))
    assert (got.result.customer_segments["segment_source"] == "survey").all()
    resp = pd.DataFrame(
        {"respondent_id": ["r1", "r2"], "customer_id": [survey_rows.index[0], None],
         "segment": [1, 2], "segment_probability": [1.0, 0.9], "segment_source": "survey"}
    )  # fmt: skip
    rows = assignments_from_segments_spark(resp, got.segments, spark).toPandas()
    assert len(rows) == 2 + (cs["segment_source"] == "projected").sum()
    assert rows["customer_id"].dropna().is_unique


def test_no_collection_holds_every_customer(both) -> None:  # type: ignore[no-untyped-def]
    *_, calls = both
    assert calls, "the recorder saw no collection"
    assert max(c.rows for c in calls) < 400  # the linked customers' features at most
    big = [str(c) for c in calls if c.rows >= N_CUSTOMERS // 2]
    assert not big, big


def test_segment_valuation_spark_with_gaps_and_no_growth(spark) -> None:  # type: ignore[no-untyped-def]
    seg = pd.Series([1, 1, 2, 2, 2], index=[f"c{i}" for i in range(5)])
    pc = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(6)],
         "revenue": [10.0, np.nan, 5.0, 7.0, 1.0, 99.0], "clv": [1.0, 2.0, np.nan, 4.0, 5.0, 9.0]}
    )  # fmt: skip
    want = segment_valuation(seg, pc, id_column="customer_id")
    frame = to_spark(spark, seg.rename("segment").rename_axis("customer_id").reset_index())
    got = segment_valuation_spark(frame, to_spark(spark, pc))
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert got.loc[1, "revenue"] == 10.0 and got.loc[2, "clv"] == 9.0  # NaN skipped


def test_answer_top_customers_from_spark_are_the_pandas_ones(spark) -> None:  # type: ignore[no-untyped-def]
    """The value-only answer's top customers on Spark: the top rows of the value stage's
    Spark table (NaN and null skipped, ties by customer id), as pandas' ``nlargest``."""
    from types import SimpleNamespace

    from segmentum.report.answer import _top_customers

    rng = np.random.default_rng(3)
    pc = pd.DataFrame(
        {"customer_id": [f"c{i:02d}" for i in range(40)], "revenue": rng.gamma(2.0, 50.0, 40),
         "clv": rng.gamma(2.0, 80.0, 40)}
    )  # fmt: skip
    pc.loc[pc["clv"].idxmax(), "clv"] = np.nan  # the largest CLV is unknown: skipped
    pc.loc[5, "clv"] = pc.loc[7, "clv"] = pc["clv"].max() + 1.0  # a tie at the top
    for frame in (pc, pc.assign(clv=np.nan)):  # by CLV; by revenue without any CLV
        want = _top_customers(SimpleNamespace(per_customer=frame, customer_id="customer_id"))
        got = _top_customers(SimpleNamespace(spark=to_spark(spark, frame)))
        assert len(got) == 5 and got == want
    assert (
        _top_customers(SimpleNamespace(per_customer=pc, customer_id="customer_id"))[0].customer_id
        == "c05"
    )


def test_a_yes_no_column_with_empty_cells_scores_as_in_pandas(spark) -> None:  # type: ignore[no-untyped-def]
    """A yes/no column with empty cells is held as levels True/False; Spark's cast of a
    boolean to text spells them true/false, which once scored every customer 0 on it."""
    from segmentum.valuation.projection import ProjectionModel
    from segmentum.valuation.spark import project_spark

    table = np.array([[2.0, -1.0], [-1.5, 1.0]])  # levels False, True × segments 1, 2
    model = ProjectionModel(
        segments=(1, 2), numeric=("age",), fill=np.array([40.0]),
        weights=np.array([[0.01], [-0.01]]), intercepts=np.array([0.0, 0.1]),
        categorical={"has_agent": ([False, True], table)},
    )  # fmt: skip
    rows = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "age": [30.0, 50.0, None, 41.0],
         "has_agent": pd.array([True, False, None, True], dtype=object)}
    )  # fmt: skip
    want = model.project(rows.set_index("customer_id"))
    frame = spark.createDataFrame(rows.astype({"has_agent": "boolean"}))
    assert dict(frame.dtypes)["has_agent"] == "boolean"
    got = project_spark(model, frame, "customer_id").toPandas().set_index("customer_id")
    got = got.loc[want.index]
    assert list(got["segment"]) == list(want["segment"]) == [2, 1, 1, 2]
    np.testing.assert_allclose(got["segment_probability"], want["segment_probability"], rtol=1e-12)
