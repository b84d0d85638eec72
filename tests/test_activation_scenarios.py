"""The report's what-if part (``[activation] scenarios``): sentence, chart, table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentum.activation.scenarios import (
    ScenarioOutcome,
    scenario_blocks,
    scenario_chart,
    scenario_sentence,
    whatif_table,
)
from segmentum.report.section import Section
from segmentum.value import BetaGeoModel, whatif
from segmentum.value.models.simulate import simulate_bgnbd_covariates
from segmentum.value.whatif import load_scenario


@pytest.fixture(scope="module")
def fitted() -> tuple[BetaGeoModel, pd.DataFrame]:
    rng = np.random.default_rng(5)
    z = pd.DataFrame({"bundle": rng.integers(0, 2, 1500).astype(float)})
    df = simulate_bgnbd_covariates(
        {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}, z, 52,
        purchase={}, dropout={"bundle": 0.8}, seed=6,
    )  # fmt: skip
    df["segment"] = rng.integers(1, 4, len(df))
    df["monetary_value"] = rng.gamma(4.0, 10.0, len(df))
    return BetaGeoModel().fit(df, dropout_covariates=["bundle"]), df


def _outcome(fitted: tuple, changes: list[dict]) -> ScenarioOutcome:
    model, df = fitted
    sc, _ = load_scenario({"name": "push", "change": changes})
    return ScenarioOutcome("scenarios/push.toml", sc, whatif(model, df, sc, n_draws=20))


def test_a_scenario_changing_nothing_reads_as_zero_in_the_section(fitted: tuple) -> None:
    o = _outcome(fitted, [{"segment": 2, "retention": 0.0}])
    text = scenario_sentence(o)
    assert "no change in CLV in any segment" in text
    assert "±0 in total (±0 to ±0)" in text
    bars = scenario_chart(o).data[0]
    np.testing.assert_allclose(np.asarray(bars.y, dtype=float), 0.0, atol=1e-9)
    sec = scenario_blocks(Section("activation", "Acting on customers"), [o])
    assert [b.kind for b in sec.blocks] == ["text", "text", "figure", "table"]


def test_the_sentence_names_the_moved_segment_per_head_and_the_total(fitted: tuple) -> None:
    o = _outcome(fitted, [{"segment": 2, "retention": 0.3}])
    t = o.table.set_index("segment")
    per_head = t.loc["2", "difference"] / t.loc["2", "customers"]
    assert per_head > 0 and t.loc["1", "difference"] == 0
    text = scenario_sentence(o)
    assert f"+{per_head:,.0f} CLV per head in segment 2" in text
    assert "segment 1" not in text.split(":", 1)[1]
    assert "retention of segment 2 +30%" in text
    csv = whatif_table([o, _outcome(fitted, [{"spend": 0.1}])])
    assert list(csv.columns) == ["scenario", "segment", "customers", "clv_before", "clv_after",
                                 "difference", "low", "high"]  # fmt: skip
    assert len(csv) == 2 * len(o.table)


def test_no_scenarios_add_nothing() -> None:
    sec = scenario_blocks(Section("activation", "Acting on customers"), [])
    assert sec.blocks == []
