"""Where to play: typing tool, scoring, projection onto the customer base, valuation, priorities.

The library half of the valuation stage (issue 12), pure functions from tables and fitted
objects to frozen results:

- :func:`build_typing_tool`: the fewest golden questions reaching a target held-out agreement
  (nested cross-validation), exported by :func:`save_typing_tool` (JSON),
  :func:`write_typing_tool_xlsx` (formulas in the cells) and :func:`questionnaire_markdown`;
- :func:`score`: new people from their answers (also ``segmentum score``);
- :func:`customer_features` and :func:`fit_projection`: the survey's segments projected onto
  every customer, with honest accuracy and misclassification-adjusted sizes;
- :func:`segment_valuation`: size, revenue, margin, CLV, growth, cost-to-serve, profit;
- :func:`prioritise` with :class:`ValuationConfig` and :func:`competitiveness`: knock-outs,
  weighted attractiveness, robustness to the weights; :func:`priority_sentence` in words.
"""

from segmentum.valuation.export import (
    load_typing_tool,
    questionnaire_html,
    questionnaire_markdown,
    save_typing_tool,
    write_typing_tool_xlsx,
)
from segmentum.valuation.priority import (
    CRITERIA,
    Priorities,
    ValuationConfig,
    competitiveness,
    prioritise,
    priority_sentence,
)
from segmentum.valuation.projection import (
    Projection,
    ProjectionModel,
    adjusted_shares,
    customer_features,
    fit_projection,
)
from segmentum.valuation.score import SCORE_COLUMNS, read_answers, score
from segmentum.valuation.typing_tool import (
    TypingTool,
    TypingToolResult,
    build_typing_tool,
    proportional_chance,
)
from segmentum.valuation.value import VALUE_COLUMNS, segment_valuation

__all__ = [
    "CRITERIA",
    "SCORE_COLUMNS",
    "VALUE_COLUMNS",
    "Priorities",
    "Projection",
    "ProjectionModel",
    "TypingTool",
    "TypingToolResult",
    "ValuationConfig",
    "adjusted_shares",
    "build_typing_tool",
    "competitiveness",
    "customer_features",
    "fit_projection",
    "load_typing_tool",
    "prioritise",
    "priority_sentence",
    "proportional_chance",
    "questionnaire_html",
    "questionnaire_markdown",
    "read_answers",
    "save_typing_tool",
    "score",
    "segment_valuation",
    "write_typing_tool_xlsx",
]
