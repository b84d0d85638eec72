"""A light report: Plotly's library packed once, big scatter clouds sampled, numbers rounded."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from segmentum.report import Section, render_report
from segmentum.report.context import figure_context
from segmentum.report.packing import (
    ILLEGAL,
    MAX_POINTS,
    decode,
    encode,
    round_arrays,
    sample_clouds,
)

SIZES = {"Seg 1": 9_000, "Seg 2": 2_500, "Seg 3": 400, "Seg 4": 250}


def _cloud() -> go.Figure:
    """One scatter trace per segment (as the map draws respondents) and a few centres."""
    rng = np.random.default_rng(1)
    fig = go.Figure()
    for name, n in SIZES.items():
        fig.add_trace(
            go.Scattergl(
                x=rng.normal(size=n),
                y=rng.normal(size=n),
                text=[f"{name} #{i}" for i in range(n)],
                marker={"color": rng.random(n)},
                mode="markers",
                name=name,
            )
        )
    fig.add_trace(go.Scatter(x=[0.1, 0.2, 0.3, 0.4], y=[1, 2, 3, 4], name="centres"))
    return fig


@pytest.mark.parametrize("n", [0, 1, 6, 7, 8, 999])
def test_packed_text_reads_back_and_holds_no_character_a_script_string_forbids(n: int) -> None:
    rng = np.random.default_rng(n)
    for data in (rng.bytes(n), bytes([ILLEGAL[i % 6] << 1 for i in range(n)]), bytes(n)):
        text = encode(data)
        assert decode(text, len(data)) == data
        assert not set(text) & set('\0\n\r"<\\')
        assert len(text.encode("utf-8")) <= -(-8 * len(data) // 7) + 2  # 8/7 bytes a byte


def test_big_cloud_is_sampled_to_the_cap_with_every_segment_and_the_caption_says_so() -> None:
    spec = figure_context(_cloud())
    figure, shown, total = sample_clouds(spec, seed=3)
    assert total == sum(SIZES.values()) and shown <= MAX_POINTS
    kept = {t["name"]: t for t in figure["data"]}
    for name, n in SIZES.items():
        trace = kept[name]
        k = len(trace["x"])
        assert 1 <= k < n, name
        # shares of the sample follow the segments' sizes (stratified), within a point
        assert abs(k - MAX_POINTS * n / total) <= 1, (name, k)
        # the points kept are original points, with their own text and colour
        index = [int(t.split("#")[1]) for t in trace["text"]]
        assert index == sorted(set(index))
        original = next(t for t in spec["data"] if t["name"] == name)
        assert trace["x"] == [original["x"][i] for i in index]
        assert len(trace["marker"]["color"]) == k
    assert kept["centres"]["x"] == [0.1, 0.2, 0.3, 0.4]  # small traces stay whole
    assert sample_clouds(spec, seed=3)[0] == figure  # seeded
    same, shown_all, total_all = sample_clouds(spec, max_points=20_000)  # under the cap: as is
    assert same is spec and shown_all == total_all == 11_500
    block = Section("maps", "Map").figure(_cloud(), caption="Respondents").to_context()
    caption = block["blocks"][0]["caption"]
    assert caption.startswith("Respondents") and f"of {total:,} points" in caption


def test_float_arrays_are_rounded_to_four_digits_of_their_range() -> None:
    data = [{"x": [5.123456, 0.000123, -2.0], "y": [1, 2, 3], "name": "3.14159"}]
    assert round_arrays(data) == [{"x": [5.123, 0.0, -2.0], "y": [1, 2, 3], "name": "3.14159"}]
    # gaps (NaN in a typed array) stay gaps, as strict JSON (the twin allows no NaN)
    gappy = figure_context(go.Figure(go.Scatter(x=np.array([1.5, np.nan, np.inf]))))
    assert gappy["data"][0]["x"] == [1.5, None, None]
    json.dumps(gappy, allow_nan=False)
    spec = figure_context(go.Figure(go.Heatmap(z=np.array([[1e-9, 0.123456], [0.5, 1.0]]))))
    assert spec["data"][0]["z"] == [[0.0, 0.123], [0.5, 1.0]]  # 4 digits of the largest, 1.0


def test_report_with_a_big_cloud_stays_small_and_carries_plotly_once() -> None:
    import plotly.offline

    sec = Section("maps", "Map").figure(_cloud(), caption="Respondents")
    sec.figure(go.Figure(go.Bar(x=["$30,001-$60,000", "$5"], y=[1, 2])), caption="Income")
    page = render_report([sec], title="Demo")
    # Plotly inlined as text is 4.8 MB: the page would be over 5 MB without packing
    assert len(page.encode("utf-8")) <= 2_000_000
    packed = re.findall(r'var z = "([^"]+)", n = (\d+);', page)
    assert len(packed) == 1
    assert gzip.decompress(decode(packed[0][0], int(packed[0][1]))).decode() == (
        plotly.offline.get_plotlyjs()
    )
    assert not re.findall(r"<script[^>]*\ssrc=", page) and "cdn.plot.ly" not in page
    assert page.count("Plotly.newPlot(") == 2
    assert '"typesetMath": false' in page  # a "$" in a label is text, not LaTeX
