"""Map and white-space stage: the segmentation map, gaps, 'I wish' themes, unmet needs."""

from segmentum.maps.themes import Themes, representative_quotes, themes

__all__ = ["Themes", "representative_quotes", "themes"]
