"""Acting on customers: lifecycle stage, next best offer and the universal control group.

The library half of the ``activation`` stage (issue 13), pure functions on pandas frames:

- :func:`lifecycle_stage` with :class:`LifecycleRules` (``[activation.stages]``);
- :func:`read_offers`, :func:`acceptance_estimates` (Beta-smoothed P(accept) per segment x
  stage x offer), :func:`next_best_offer` (eligibility, expected value, contact policy) and
  :func:`control_group` (a stable hash of the project seed and the customer id);
- :func:`customer_activation`, all of it for every customer, with :class:`ActivationConfig`.
"""

from segmentum.activation.customers import (
    ASSIGNMENT_COLUMNS,
    CustomerActivation,
    customer_activation,
)
from segmentum.activation.lifecycle import STAGE_NAMES, LifecycleRules, lifecycle_stage
from segmentum.activation.offers import (
    acceptance_estimates,
    contact_history,
    control_group,
    hash_uniform,
    next_best_offer,
    read_offers,
)
from segmentum.activation.settings import ActivationConfig, ContactPolicy

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "STAGE_NAMES",
    "ActivationConfig",
    "ContactPolicy",
    "CustomerActivation",
    "LifecycleRules",
    "acceptance_estimates",
    "contact_history",
    "control_group",
    "customer_activation",
    "hash_uniform",
    "lifecycle_stage",
    "next_best_offer",
    "read_offers",
]
