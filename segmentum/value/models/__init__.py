"""CLV models: one module and one small class per model."""

from segmentum.value.models._base import ConvergenceError, NotFittedError
from segmentum.value.models.bgbb import BetaGeoBetaBinomModel
from segmentum.value.models.bgnbd import BetaGeoModel
from segmentum.value.models.gamma_gamma import GammaGammaModel
from segmentum.value.models.pareto_nbd import ParetoNBDModel
from segmentum.value.models.sbg import ShiftedBetaGeoModel

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "NotFittedError",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
]
