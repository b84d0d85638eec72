"""The next best offer's CLV uplift, on the demo's home-bundle offer.

The demo plants that holders of the home bundle lapse at half the hazard, so taking the
bundle raises a non-holder's CLV; an offer declared in ``[activation.offer_covariates]``
adds ``P(accept) x`` that uplift to its expected value, and nothing changes for offers
not declared.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segmentum.activation.customers import customer_activation
from segmentum.activation.report import customer_blocks
from segmentum.activation.settings import ActivationConfig, OfferCovariate
from segmentum.activation.uplift import offer_clv_uplift
from segmentum.demo import SEGMENT_NAMES, make_market
from segmentum.report.section import Section
from segmentum.value import BetaGeoModel, GammaGammaModel, summarize
from segmentum.value.stage import ValueConfig

BUNDLE = {"home_bundle": OfferCovariate(covariate="home_bundle", value=True)}


@pytest.fixture(scope="module")
def demo() -> SimpleNamespace:
    m = make_market(seed=0, n_customers=3000, n_respondents=50)
    s = summarize(
        m.transactions, "customer_id", "date", "amount", calibration_end=m.analysis_date,
        time_unit="W", margin="margin",
    )  # fmt: skip
    purchase = BetaGeoModel().fit(s)
    spend = GammaGammaModel().fit(s[s["frequency"] > 0])
    table = s.merge(m.customers, on="customer_id", how="left").assign(
        expected_spend=spend.expected_spend(s).to_numpy(),
        p_alive=purchase.probability_alive(s).to_numpy(),
        purchased=True,
    )
    value = SimpleNamespace(
        config=ValueConfig(time_unit="W"), models={"purchase": purchase, "spend": spend}
    )
    truth = m.truth.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    code = {name: i + 1 for i, name in enumerate(SEGMENT_NAMES)}
    customers = pd.DataFrame(
        {"customer_id": truth["customer_id"], "segment": truth["segment"].map(code)}
    )
    return SimpleNamespace(market=m, value=value, table=table, customers=customers)


def _activation(demo: SimpleNamespace, uplift: object = None) -> object:
    m = demo.market
    return customer_activation(
        demo.customers, m.analysis_date, per_customer=demo.table,
        events=m.events[["customer_id", "timestamp", "event_type"]], offers=m.offers,
        responses=m.responses, uplift=uplift,
    )  # fmt: skip


def test_taking_the_bundle_raises_the_clv_of_non_holders_only(demo: SimpleNamespace) -> None:
    up = offer_clv_uplift(demo.value, demo.table, BUNDLE)
    u = up.uplift["home_bundle"]
    holders = demo.table.set_index("customer_id")["home_bundle"].reindex(u.index)
    assert (u[holders] == 0).all()  # they hold it already
    assert (u[~holders] > 0).mean() > 0.9  # the planted effect: holders lapse less
    summary = up.summary()[0]
    assert summary["customers_moved"] == int((u != 0).sum())
    assert summary["mean_clv_uplift"] == pytest.approx(float(u[u != 0].mean()))
    assert summary["effects"][0]["covariate"] == "home_bundle"


def test_the_declared_offer_adds_p_accept_times_the_uplift(demo: SimpleNamespace) -> None:
    plain = _activation(demo).customers.set_index("customer_id")  # type: ignore[attr-defined]
    up = offer_clv_uplift(demo.value, demo.table, BUNDLE)
    ca = _activation(demo, up)
    got = ca.customers.set_index("customer_id")  # type: ignore[attr-defined]
    # without the declaration: the plain expected value, no uplift column values
    assert plain["offer_clv_uplift"].isna().all()
    bundle = got[got["next_best_offer"] == "home_bundle"]
    assert len(bundle) > 0
    u = up.uplift["home_bundle"].reindex(bundle.index).to_numpy()
    np.testing.assert_allclose(bundle["offer_clv_uplift"], u)
    np.testing.assert_allclose(
        bundle["offer_expected_value"], bundle["offer_p_accept"] * (260.0 + u) - 12.0
    )
    # where the bundle was best and its uplift is positive it stays best, now worth more
    was = plain["next_best_offer"] == "home_bundle"
    gain = up.uplift["home_bundle"].reindex(plain.index) > 0
    assert (got.loc[was & gain, "next_best_offer"] == "home_bundle").all()
    assert (
        got.loc[was & gain, "offer_expected_value"] > plain.loc[was & gain, "offer_expected_value"]
    ).all()
    # a large uplift wins the arbitration wherever the bundle is eligible
    big = type(up)(up.uplift * 0 + 5000.0, up.effects, up.declared, up.model)
    ca_big = _activation(demo, big).customers  # type: ignore[attr-defined]
    eligible = ca_big["stage"].isin(["repeat", "loyal"]) & ~ca_big["control"]
    offered = eligible & ca_big["next_best_offer"].notna()
    # (all but those who refused it three times: the contact policy suppresses it)
    assert (ca_big.loc[offered, "next_best_offer"] == "home_bundle").mean() > 0.95
    assert (
        ca_big.loc[~ca_big["stage"].isin(["repeat", "loyal"]), "next_best_offer"] != "home_bundle"
    ).all()
    js = ca.summary()["offers"]["clv_uplift"]  # type: ignore[attr-defined]
    assert js[0]["offer_id"] == "home_bundle" and js[0]["customers_moved"] > 0
    text = " ".join(
        b.content for b in customer_blocks(Section("a", "A"), ca).blocks if b.kind == "text"
    )
    assert "Home bundle sets home bundle to True" in text  # ids by their labels (issue 15)


def test_a_bad_declaration_names_the_entry(demo: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match=r"offer_covariates.*loyalty_card"):
        offer_clv_uplift(
            demo.value,
            demo.table,
            {"home_bundle": OfferCovariate(covariate="loyalty_card", value=1)},
        )
    up = offer_clv_uplift(demo.value, demo.table, BUNDLE)
    renamed = type(up)(up.uplift.rename(columns={"home_bundle": "gold"}), up.effects, {}, "")
    with pytest.raises(ValueError, match=r"offer\(s\) \['gold'\].*home_bundle"):
        _activation(demo, renamed)
    assert ActivationConfig(offer_covariates={"x": {"covariate": "c", "value": 1}})
