"""segmentum: needs-based customer segmentation and strategy.

To whom do we sell, and what? segmentum turns customer data and survey answers into
needs-based segments that are sized, valued, mapped and ready to act on.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
