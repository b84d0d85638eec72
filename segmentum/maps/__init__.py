"""Map and white-space stage: the segmentation map, gaps, 'I wish' themes, unmet needs.

Public API: :func:`segment_map` (2-D map of the need space with segments, need arrows,
competitors and gaps), :func:`white_space` (needs important to a sizeable segment that no
competitor serves well), :func:`themes` and :func:`representative_quotes` (open text), the
stage entry point :func:`run_maps` with its settings :class:`MapsConfig`, and in
:mod:`segmentum.maps.plots` the Plotly figure and the static image writer.
"""

from segmentum.maps.projection import SegmentMap, competitor_profiles, segment_map
from segmentum.maps.stage import MapInputs, MapsConfig, MapsResult, run_maps
from segmentum.maps.themes import Themes, representative_quotes, themes
from segmentum.maps.white_space import WhiteSpace, white_space

__all__ = [
    "MapInputs",
    "MapsConfig",
    "MapsResult",
    "SegmentMap",
    "Themes",
    "WhiteSpace",
    "competitor_profiles",
    "representative_quotes",
    "run_maps",
    "segment_map",
    "themes",
    "white_space",
]
