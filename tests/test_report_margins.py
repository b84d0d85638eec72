"""Each figure's margins estimated before it is drawn (issue 15: every plot drawn once).

The estimator (:mod:`segmentum.report.margins`) is checked here on figures with planted label
lengths, legends and colour bars: more text never gets less room, the side that grows is the
one the text is on, margins a figure gives are kept. Whether the estimates hold in a real
browser (no figure of the demo's or McDonald's report grown by Plotly) is checked in
``test_report_browser.py``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from segmentum.report import Section
from segmentum.report.context import figure_context
from segmentum.report.margins import DEFAULT_MARGIN, estimate_margins, preset_margins, text_width


def _spec(fig: go.Figure) -> dict:
    return fig.to_plotly_json()


def _bars(labels: list[str], **layout: object) -> dict:
    fig = go.Figure(go.Bar(y=labels, x=list(range(len(labels))), orientation="h"))
    return _spec(fig.update_layout(template="plotly_white", **layout))


def test_text_width_grows_with_the_text_and_its_size() -> None:
    assert text_width("") == 0
    assert text_width("iiii") < text_width("MMMM")
    assert text_width("abc", 24) == pytest.approx(2 * text_width("abc", 12))
    assert text_width("a<br>longer line") == text_width("longer line")  # the widest line
    assert text_width("<b>bold</b>") == text_width("bold")  # markup is not drawn
    # about Arial's width of the same text, a little more (Liberation Sans: 'Segment 1' 55 px)
    assert 55 <= text_width("Segment 1") <= 70


def test_longer_category_labels_get_a_wider_left_margin_never_narrower() -> None:
    lefts = [estimate_margins(_bars(["a" * n, "b"]))["l"] for n in (1, 10, 20, 40, 80)]
    assert lefts == sorted(lefts)
    assert lefts[0] == DEFAULT_MARGIN["l"]  # short labels fit Plotly's own margin
    assert lefts[-1] > lefts[-2] > lefts[-3] > DEFAULT_MARGIN["l"]
    # the label's width, its gap to the axis and Plotly's 12 px pad: no more than that + 10
    wide = estimate_margins(_bars(["a" * 80, "b"]))
    assert text_width("a" * 80) + 12 <= wide["l"] <= text_width("a" * 80) + 12 + 10
    assert {k: wide[k] for k in "rtb"} == {k: DEFAULT_MARGIN[k] for k in "rtb"}
    # an axis title adds its depth on the same side
    titled = estimate_margins(_bars(["a" * 80, "b"], yaxis_title="need"))
    assert titled["l"] > wide["l"]


def test_legends_and_colour_bars_push_the_side_they_stand_on() -> None:
    def lines(names: list[str], **layout: object) -> dict:
        fig = go.Figure([go.Scatter(x=[1, 2], y=[1, 2], name=n) for n in names])
        return _spec(fig.update_layout(**layout))

    short, long = estimate_margins(lines(["a", "b"])), estimate_margins(lines(["a" * 60, "b"]))
    assert DEFAULT_MARGIN["r"] < short["r"] < long["r"]  # a vertical legend: the right
    assert long["r"] >= text_width("a" * 60) + 40
    # a horizontal legend below: one row fits Plotly's own margin, rows of long names do not
    one = estimate_margins(lines(["a" * 10, "b"], legend={"orientation": "h"}))
    names = [f"{i}" + "a" * 60 for i in range(6)]
    below = estimate_margins(lines(names, legend={"orientation": "h"}))
    assert one == DEFAULT_MARGIN
    assert below["r"] == DEFAULT_MARGIN["r"] and below["b"] > DEFAULT_MARGIN["b"]  # the bottom
    hidden = estimate_margins(lines(["a" * 60, "b"], showlegend=False))
    assert hidden == DEFAULT_MARGIN
    heat = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]], colorbar={"title": {"text": "customers"}}))
    bare = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]], showscale=False))
    assert estimate_margins(_spec(heat))["r"] > DEFAULT_MARGIN["r"]
    assert estimate_margins(_spec(bare)) == DEFAULT_MARGIN


def test_crowded_x_labels_are_turned_and_the_bottom_grows() -> None:
    def columns(n: int, width: int) -> dict:
        labels = [f"{i} " + "x" * width for i in range(n)]
        return _spec(go.Figure(go.Bar(x=labels, y=list(range(n)))))

    assert estimate_margins(columns(3, 5))["b"] == DEFAULT_MARGIN["b"]  # side by side
    turned = [estimate_margins(columns(12, w))["b"] for w in (20, 40, 60)]
    assert turned == sorted(turned) and turned[0] > DEFAULT_MARGIN["b"]
    # an angle the figure gives is used: upright labels need their full length below
    upright = _spec(go.Figure(go.Bar(x=["x" * 40, "y"], y=[1, 2])).update_xaxes(tickangle=90))
    assert estimate_margins(upright)["b"] >= text_width("x" * 40)


def test_margins_the_figure_gives_are_kept_and_fixed_ones_left_alone() -> None:
    given = _bars(["a" * 40, "b"], margin={"l": 400, "t": 30})
    out = preset_margins(given)["layout"]["margin"]
    assert out["l"] == 400 and out["t"] == 30  # larger than the estimate, or asked for
    fixed = _bars(["a" * 40, "b"], margin={"l": 10, "autoexpand": False})
    assert preset_margins(fixed) == fixed
    assert "margin" not in given["layout"] or given["layout"]["margin"] == {"l": 400, "t": 30}


def test_report_figures_carry_their_margins() -> None:
    fig = go.Figure(go.Heatmap(z=[[1, 2]], x=["s1", "s2"], y=["need_fast_claims_payout"]))
    block = Section("k", "K").figure(fig).to_context()["blocks"][0]
    margin = block["figure"]["layout"]["margin"]
    assert margin == estimate_margins(figure_context(fig)) and margin["l"] > DEFAULT_MARGIN["l"]
