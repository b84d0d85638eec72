"""The CLV uplift of offers that change a covariate: the next best offer's optional term.

An offer declared in ``[activation.offer_covariates]`` sets a customer's covariate to a
value once taken (taking the home bundle sets ``home_bundle`` to true). Its expected value
is then ``P(accept) x (value + CLV with − CLV without) − cost``: the value stage's purchase
model is refitted with the declared covariates (Fader & Hardie 2007's time-invariant
covariates, as :func:`segmentum.value.whatif.scenario_whatif` does), and each customer's CLV
is computed at their own history, once as they are and once with the covariate set. A
customer who already has the value gains nothing. Offers not declared keep the plain
expected value.

With ``engine = "spark"`` every customer's uplift is computed and kept in Spark
(:func:`segmentum.activation.spark_whatif.offer_clv_uplift_spark`): ``OfferUplift.spark``
holds the rows and ``OfferUplift.moved`` the per-offer aggregates the summary reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentum.activation.settings import OfferCovariate
from segmentum.value.clv import customer_lifetime_value
from segmentum.value.whatif import clv_settings, fit_table, margin_rates, refit_purchase

__all__ = [
    "OfferUplift",
    "offer_clv_uplift",
    "offer_model",
    "spend_mean",
    "uplift_spend",
    "uplift_values",
]


@dataclass(frozen=True)
class OfferUplift:
    """CLV uplift per customer of each declared offer.

    Attributes
    ----------
    uplift : pandas.DataFrame or None
        Indexed by ``customer_id`` (str), one column per declared offer: CLV with the offer's
        covariate value minus CLV as the customer is (0 where it is already that value).
        ``None`` on Spark, where the rows stay in :attr:`spark`.
    effects : pandas.DataFrame
        ``covariate_effects_`` of the refitted purchase model (process, covariate, coef, se).
    declared : dict
        The ``[activation.offer_covariates]`` entries.
    model : str
        The purchase model refitted (``BG/NBD`` or ``Pareto/NBD``).
    spark : pyspark.sql.DataFrame or None
        With ``engine = "spark"``: the per-customer uplift (text ``customer_id`` and one
        column per offer), computed and kept in Spark.
    moved : dict or None
        On Spark, per offer the customers it moves and their mean uplift, computed there
        (what :meth:`summary` reads instead of :attr:`uplift`).
    """

    uplift: pd.DataFrame | None
    effects: pd.DataFrame
    declared: dict[str, OfferCovariate] = field(default_factory=dict)
    model: str = ""
    spark: Any = None
    moved: Mapping[str, tuple[int, float]] | None = None

    def spark_frame(self, spark: Any) -> Any:
        """The uplift as a Spark DataFrame (text ``customer_id``, one column per offer):
        :attr:`spark` when it was computed there, else :attr:`uplift` handed to Spark."""
        if self.spark is not None:
            return self.spark
        from segmentum.valuation.spark import to_spark_frame

        assert self.uplift is not None
        table = self.uplift.rename_axis("customer_id").reset_index()
        return to_spark_frame(spark, table.assign(customer_id=table["customer_id"].astype(str)))

    def summary(self) -> list[dict[str, Any]]:
        """Per offer: its covariate and value, the customers it moves, their mean uplift and
        the covariate's fitted coefficient (plain JSON types, for ``activation.json``)."""
        out = []
        for offer, d in self.declared.items():
            if self.moved is not None:
                n_moved, mean_uplift = self.moved[offer]
            else:
                assert self.uplift is not None
                u = self.uplift[offer].to_numpy(dtype=float)
                moved = np.abs(u) > 0
                n_moved = int(moved.sum())
                mean_uplift = float(u[moved].mean()) if moved.any() else 0.0
            eff = self.effects[self.effects["covariate"].str.startswith(d.covariate)]
            out.append(
                {
                    "offer_id": offer,
                    "covariate": d.covariate,
                    "value": d.value,
                    "process": d.process,
                    "model": self.model,
                    "customers_moved": int(n_moved),
                    "mean_clv_uplift": float(mean_uplift),
                    "effects": [
                        {"covariate": str(r.covariate), "coef": float(r.coef), "se": float(r.se)}
                        for r in eff.itertuples(index=False)
                    ],
                }
            )
        return out


def spend_mean(value: Any) -> float | None:
    """The spend model's population mean spend (``None`` without a spend model): what
    fills the expected spend of customers without a spend history."""
    spend_model = value.models.get("spend")
    return None if spend_model is None else float(spend_model.mean_spend_)


def uplift_spend(
    table: pd.DataFrame, mean_spend: float | None, means: Mapping[str, float] | None = None
) -> np.ndarray:
    """Expected spend per purchase: the value stage's (gaps: ``mean_spend``, the spend
    model's mean), else the mean spend; ``means`` holds the column means of the whole
    customer base when ``table`` is a batch of it (a Spark run), else ``table``'s own."""

    def mean(column: str, s: pd.Series) -> float:
        return float(means[column]) if means is not None else float(s.mean())

    if "expected_spend" in table.columns:
        s = pd.to_numeric(table["expected_spend"], errors="coerce")
        fill = mean_spend if mean_spend is not None else mean("expected_spend", s)
        return s.fillna(fill).to_numpy(dtype=float)
    if "monetary_value" in table.columns:
        s = pd.to_numeric(table["monetary_value"], errors="coerce")
        return s.fillna(mean("monetary_value", s)).to_numpy(dtype=float)
    return np.ones(len(table))


def offer_model(value: Any, buyers: pd.DataFrame, declared: Mapping[str, OfferCovariate]) -> Any:
    """The value stage's purchase model refitted with the offers' covariates on the buyers'
    patterns (:func:`~segmentum.value.whatif.fit_table`; ``buyers`` may be Spark's pattern
    counts already). A ``ValueError`` names the ``[activation.offer_covariates]`` entries."""
    by = {p: sorted({d.covariate for d in declared.values() if d.process == p}) for p in
          ("purchase", "dropout")}  # fmt: skip
    try:
        fitted_on = fit_table(buyers, [*by["purchase"], *by["dropout"]])
        return refit_purchase(value, fitted_on, by["purchase"], by["dropout"])
    except ValueError as exc:
        keys = ", ".join(declared)
        raise ValueError(f"[activation.offer_covariates] ({keys}): {exc}") from exc


def uplift_values(
    model: Any,
    table: pd.DataFrame,
    declared: Mapping[str, OfferCovariate],
    spend: np.ndarray,
    settings: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Each declared offer's CLV uplift for the rows of ``table``: CLV with the offer's
    covariate value minus CLV as the row is (``settings``: horizon, step, discount rate and
    margin rate of :func:`~segmentum.value.clv.customer_lifetime_value`). A row depends
    only on itself, so batches of a table give the table's values."""
    before = customer_lifetime_value(model, table, spend, **settings).to_numpy()
    out = {}
    for offer, d in declared.items():
        col = table[d.covariate]
        taken = pd.Series([d.value] * len(table), index=table.index)
        try:
            taken = taken.astype(col.dtype)
            after = customer_lifetime_value(
                model, table.assign(**{d.covariate: taken}), spend, **settings
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"[activation.offer_covariates] {offer}.value: {d.value!r} for covariate "
                f"{d.covariate!r}: {exc}"
            ) from exc
        out[offer] = after.to_numpy() - before
    return out


def offer_clv_uplift(
    value: Any, table: pd.DataFrame, declared: Mapping[str, OfferCovariate]
) -> OfferUplift:
    """Refit the purchase model with the offers' covariates and price each offer's uplift.

    The model is refitted on the buyers' patterns, as a Spark run does
    (:func:`segmentum.activation.spark_whatif.offer_clv_uplift_spark`, which keeps the
    per-customer uplift in Spark).

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
    buyers = table[table["purchased"]] if "purchased" in table.columns else table
    model = offer_model(value, buyers, declared)
    settings = {**clv_settings(value.config), "margin_rate": margin_rates(table)}
    spend = uplift_spend(table, spend_mean(value))
    out = uplift_values(model, table, declared, spend, settings)
    frame = pd.DataFrame(out, index=pd.Index(table["customer_id"].astype(str), name="customer_id"))
    return OfferUplift(frame, model.covariate_effects_, dict(declared), model._name)
