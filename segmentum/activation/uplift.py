"""The CLV uplift of offers that change a covariate: the next best offer's optional term.

An offer declared in ``[activation.offer_covariates]`` sets a customer's covariate to a
value once taken (taking the home bundle sets ``home_bundle`` to true). Its expected value
is then ``P(accept) x (value + CLV with − CLV without) − cost``: the value stage's purchase
model is refitted with the declared covariates (Fader & Hardie 2007's time-invariant
covariates, as :func:`segmentum.value.whatif.scenario_whatif` does), and each customer's CLV
is computed at their own history, once as they are and once with the covariate set. A
customer who already has the value gains nothing. Offers not declared keep the plain
expected value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.settings import OfferCovariate
from segmentum.value.clv import customer_lifetime_value, step_discount_rate
from segmentum.value.whatif import margin_rates

__all__ = ["OfferUplift", "offer_clv_uplift"]


@dataclass(frozen=True)
class OfferUplift:
    """CLV uplift per customer of each declared offer.

    Attributes
    ----------
    uplift : pandas.DataFrame
        Indexed by ``customer_id`` (str), one column per declared offer: CLV with the offer's
        covariate value minus CLV as the customer is (0 where it is already that value).
    effects : pandas.DataFrame
        ``covariate_effects_`` of the refitted purchase model (process, covariate, coef, se).
    declared : dict
        The ``[activation.offer_covariates]`` entries.
    model : str
        The purchase model refitted (``BG/NBD`` or ``Pareto/NBD``).
    """

    uplift: pd.DataFrame
    effects: pd.DataFrame
    declared: dict[str, OfferCovariate] = field(default_factory=dict)
    model: str = ""

    def summary(self) -> list[dict[str, Any]]:
        """Per offer: its covariate and value, the customers it moves, their mean uplift and
        the covariate's fitted coefficient (plain JSON types, for ``activation.json``)."""
        out = []
        for offer, d in self.declared.items():
            u = self.uplift[offer].to_numpy(dtype=float)
            moved = np.abs(u) > 0
            eff = self.effects[self.effects["covariate"].str.startswith(d.covariate)]
            out.append(
                {
                    "offer_id": offer,
                    "covariate": d.covariate,
                    "value": d.value,
                    "process": d.process,
                    "model": self.model,
                    "customers_moved": int(moved.sum()),
                    "mean_clv_uplift": float(u[moved].mean()) if moved.any() else 0.0,
                    "effects": [
                        {"covariate": str(r.covariate), "coef": float(r.coef), "se": float(r.se)}
                        for r in eff.itertuples(index=False)
                    ],
                }
            )
        return out


def _spend(value: Any, table: pd.DataFrame) -> np.ndarray:
    """Expected spend per purchase: the value stage's, the spend model's mean without one."""
    if "expected_spend" in table.columns:
        s = pd.to_numeric(table["expected_spend"], errors="coerce")
        spend_model = value.models.get("spend")
        fill = spend_model.mean_spend_ if spend_model is not None else float(s.mean())
        return s.fillna(fill).to_numpy(dtype=float)
    if "monetary_value" in table.columns:
        s = pd.to_numeric(table["monetary_value"], errors="coerce")
        return s.fillna(float(s.mean())).to_numpy(dtype=float)
    return np.ones(len(table))


def offer_clv_uplift(
    value: Any, table: pd.DataFrame, declared: Mapping[str, OfferCovariate]
) -> OfferUplift:
    """Refit the purchase model with the offers' covariates and price each offer's uplift.

    Parameters
    ----------
    value : ValueResult
        The value stage's result (its ``"purchase"`` and ``"spend"`` models, its settings).
    table : pandas.DataFrame
        One row per customer (:func:`segmentum.value.whatif.customer_table`): the value
        stage's columns and the customers table's (the covariates).
    declared : mapping of offer id to OfferCovariate

    Returns
    -------
    OfferUplift
        A ``ValueError`` names the ``[activation.offer_covariates]`` entry and what is wrong
        (a covariate that is not a column, a value that is not one of its levels).
    """
    from segmentum.value.summary import TIME_UNITS

    cfg = value.config
    plain = value.models["purchase"]
    buyers = table[table["purchased"]] if "purchased" in table.columns else table
    by = {p: sorted({d.covariate for d in declared.values() if d.process == p}) for p in
          ("purchase", "dropout")}  # fmt: skip
    try:
        model = type(plain)(penalizer=plain.penalizer).fit(
            buyers, purchase_covariates=by["purchase"], dropout_covariates=by["dropout"]
        )
    except ValueError as exc:
        keys = ", ".join(declared)
        raise ValueError(f"[activation.offer_covariates] ({keys}): {exc}") from exc
    unit = TIME_UNITS[cfg.time_unit]
    kw = {
        "horizon": cfg.clv_horizon_days / unit,
        "step": cfg.clv_step_days / unit,
        "discount_rate": step_discount_rate(cfg.discount_rate, cfg.clv_step_days),
        "margin_rate": margin_rates(table),
    }
    spend = _spend(value, table)
    before = customer_lifetime_value(model, table, spend, **kw).to_numpy()
    out = {}
    for offer, d in declared.items():
        col = table[d.covariate]
        taken = pd.Series([d.value] * len(table), index=table.index)
        try:
            taken = taken.astype(col.dtype)
            after = customer_lifetime_value(
                model, table.assign(**{d.covariate: taken}), spend, **kw
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"[activation.offer_covariates] {offer}.value: {d.value!r} for covariate "
                f"{d.covariate!r}: {exc}"
            ) from exc
        out[offer] = after.to_numpy() - before
    frame = pd.DataFrame(out, index=pd.Index(table["customer_id"].astype(str), name="customer_id"))
    return OfferUplift(frame, model.covariate_effects_, dict(declared), model._name)
