"""The value stage: where value sits before segmenting on needs.

Per-customer summaries computed in DuckDB (:func:`summarize`), RFM scores and decile tables,
CLV models that reproduce the published papers (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG, BG/BB),
holdout validation, cost-to-serve and profit, the what-if of an offering change (:func:`whatif`), the stage entry point :func:`run_value` and its
report section :func:`report_section`.
"""

from segmentum.value.clv import customer_lifetime_value
from segmentum.value.cost import CostRules, cost_to_serve
from segmentum.value.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    NotFittedError,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from segmentum.value.report import report_section
from segmentum.value.rfm import decile_table, rfm_scores
from segmentum.value.stage import ValueConfig, ValueResult, run_value
from segmentum.value.summary import summarize, summary_sql
from segmentum.value.validation import holdout_validation, tracking_data
from segmentum.value.whatif import Scenario, load_scenario, whatif

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "ConvergenceError",
    "CostRules",
    "GammaGammaModel",
    "NotFittedError",
    "ParetoNBDModel",
    "Scenario",
    "ShiftedBetaGeoModel",
    "ValueConfig",
    "ValueResult",
    "cost_to_serve",
    "customer_lifetime_value",
    "decile_table",
    "holdout_validation",
    "load_scenario",
    "report_section",
    "rfm_scores",
    "run_value",
    "summarize",
    "summary_sql",
    "tracking_data",
    "whatif",
]
