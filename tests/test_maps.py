"""Segmentation map, bubble sizes, competitors, gaps, static images, white space, themes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentum.maps import segment_map, themes, white_space
from segmentum.maps.plots import bubble_sizes, map_figure, map_svg, themes_figure, write_static

NEEDS = ["need_online", "need_app", "need_price", "need_discount", "need_agent", "need_office"]


def _market(
    seed: int = 0, sizes: tuple[int, int, int] = (300, 150, 50)
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    lab = np.concatenate([np.full(n, i + 1) for i, n in enumerate(sizes)])
    centre = np.array([[6, 6, 3, 3, 2, 2], [3, 3, 6, 6, 3, 3], [2, 2, 3, 3, 6, 6]], dtype=float)
    x = np.clip(np.round(centre[lab - 1] + rng.normal(0, 0.8, (lab.size, 6))), 1, 7)
    df = pd.DataFrame(x, columns=NEEDS)
    df["respondent_id"] = [f"R{i}" for i in range(lab.size)]
    # weights that make population shares differ from sample shares
    df["weight"] = np.array([0.5, 1.0, 4.0])[lab - 1]
    return df, lab


def _ratings(brand_levels: dict[str, dict[str, float]], n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for b, levels in brand_levels.items():
        for need in NEEDS:
            for r in np.clip(np.round(levels.get(need, 3.0) + rng.normal(0, 0.5, n)), 1, 5):
                rows.append({"brand": b, "need": need, "rating": r})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# bubbles follow segment shares
# ---------------------------------------------------------------------------------------------
def test_bubble_area_follows_weighted_population_share() -> None:
    df, lab = _market()
    m = segment_map(df, lab, basis=NEEDS, weights="weight")
    w = df["weight"].to_numpy()
    share = np.array([w[lab == s].sum() for s in (1, 2, 3)]) / w.sum()
    seg = m.segments.set_index("segment")
    np.testing.assert_allclose(seg["share"], share)
    np.testing.assert_allclose(seg["area"], share / share.sum())
    # sample shares are 0.6 / 0.3 / 0.1; population shares 0.3 / 0.3 / 0.4 - bubbles follow these
    assert seg.loc[3, "area"] > seg.loc[1, "area"]
    fig = map_figure(m)
    bubbles = next(t for t in fig.data if t.name == "segments")
    assert bubbles.marker.sizemode == "area"
    sizes = np.asarray(bubbles.marker.size, dtype=float)
    np.testing.assert_allclose(sizes / sizes.sum(), share / share.sum())
    size, sizeref = bubble_sizes(m)
    assert sizeref == pytest.approx(2 * size.max() / 80.0**2)
    # the static SVG draws areas (r^2) in the same proportions
    root = ET.fromstring(map_svg(m))
    circles = [
        c for c in root.iter("{http://www.w3.org/2000/svg}circle") if c.get("class") == "segment"
    ]
    r = np.array([float(c.get("r")) for c in circles])
    np.testing.assert_allclose(r**2 / (r**2).sum(), share / share.sum(), rtol=1e-3)


def test_respondents_are_one_picture_of_dots_at_their_places() -> None:
    """The respondents are drawn as one SVG picture fixed to the axes (issue 15: 2,000 Plotly
    markers were most of the map's drawing time), a dot per respondent at its pixel."""
    from urllib.parse import unquote

    from segmentum.maps.layout import layout_map
    from segmentum.maps.plots import MAP_POINTS, respondents_picture

    df, lab = _market()
    m = segment_map(df, lab, basis=NEEDS, weights="weight")
    fig = map_figure(m)
    (image,) = fig.layout.images
    f = layout_map(m).frame
    assert (image.xref, image.yref, image.layer, image.sizing) == ("x", "y", "below", "stretch")
    assert (image.x, image.y) == (f.x0, f.y1) and image.sizex == pytest.approx(f.x1 - f.x0)
    assert list(fig.layout.xaxis.range) == [f.x0, f.x1]  # the picture covers the plot area
    svg = ET.fromstring(unquote(image.source.split(",", 1)[1]))
    dots = list(svg.iter("{http://www.w3.org/2000/svg}circle"))
    assert len(dots) == len(m.points) == len(df) < MAP_POINTS
    x0, y0, x1, y1 = f.plot_box
    where = {(int(d.get("cx")), int(d.get("cy"))) for d in dots}
    first = m.points.iloc[0]
    assert (round(f.px(first["x"]) - x0), round(f.py(first["y"]) - y0)) in where
    assert all(0 <= cx <= x1 - x0 and 0 <= cy <= y1 - y0 for cx, cy in where)
    # a sample when there are more; the legend still names them, with no points of its own
    sampled = ET.fromstring(unquote(respondents_picture(m, layout_map(m), 100).split(",", 1)[1]))
    assert len(list(sampled.iter("{http://www.w3.org/2000/svg}circle"))) == 100
    legend = next(t for t in fig.data if t.name == "respondents")
    assert list(legend.x) == [None] and legend.hoverinfo == "skip"


def test_bubble_area_can_follow_value() -> None:
    df, lab = _market()
    value = {1: 100.0, 2: 300.0, 3: 600.0}
    m = segment_map(
        df, lab, basis=NEEDS, size_by="value", segment_value=value, color_by="need_price"
    )
    np.testing.assert_allclose(m.segments["area"], [0.1, 0.3, 0.6])
    assert m.color_by == "need_price"
    assert m.segments.set_index("segment").loc[2, "color"] > 5  # the price segment
    with pytest.raises(ValueError, match="segment_value"):
        segment_map(df, lab, basis=NEEDS, size_by="value")


# ---------------------------------------------------------------------------------------------
# projection, arrows, competitors, gaps
# ---------------------------------------------------------------------------------------------
def test_pca_map_places_segments_needs_and_competitors() -> None:
    df, lab = _market()
    ratings = _ratings(
        {
            "WebCo": {"need_online": 4.8, "need_app": 4.8},
            "AgentCo": {"need_agent": 4.8, "need_office": 4.8},
        }
    )
    assert segment_map(df, lab, basis=NEEDS).method == "lda"  # auto: numeric items, 3 segments
    m = segment_map(
        df, lab, basis=NEEDS, weights="weight", competitor_ratings=ratings, method="pca"
    )
    assert m.method == "pca" and m.axes[0].startswith("PC 1")
    # centres are weighted means of the members' coordinates
    pts = m.points
    c1 = pts[pts["segment"] == 1][["x", "y"]].mean().to_numpy()
    np.testing.assert_allclose(
        m.segments.set_index("segment").loc[1, ["x", "y"]].to_numpy(dtype=float), c1
    )
    # the online arrow points towards the online segment
    a = m.arrows.set_index("need").loc["need_online", ["x", "y"]].to_numpy(dtype=float)
    assert float(np.dot(a, c1)) > 0
    comp = m.competitors.set_index("brand")
    centres = m.segments.set_index("segment")[["x", "y"]].to_numpy(dtype=float)

    def nearest(b: str) -> int:
        xy = comp.loc[b, ["x", "y"]].to_numpy(dtype=float)
        return int(np.argmin(np.hypot(*(centres - xy).T))) + 1

    assert nearest("WebCo") == 1
    assert nearest("AgentCo") == 3


def test_gap_found_where_demand_has_no_segment_or_competitor() -> None:
    df, lab = _market(sizes=(200, 200, 200))
    merged = np.where(
        lab == 3, 1, lab
    )  # segments 1 and 3 are two separate clusters under one label
    m = segment_map(df, merged, basis=NEEDS)
    assert len(m.gaps) >= 2
    pts = m.points.assign(true=lab)
    cluster1 = pts[pts["true"] == 1][["x", "y"]].mean().to_numpy()
    cluster3 = pts[pts["true"] == 3][["x", "y"]].mean().to_numpy()
    gx = m.gaps[["x", "y"]].to_numpy(dtype=float)
    spread = float(np.hypot(*(cluster1 - cluster3)))
    assert np.min(np.hypot(*(gx - cluster1).T)) < 0.25 * spread
    assert np.min(np.hypot(*(gx - cluster3).T)) < 0.25 * spread
    assert m.gaps["demand_share"].is_monotonic_decreasing
    # with the true segments there is no large gap
    m2 = segment_map(df, lab, basis=NEEDS)
    assert m2.gaps["demand_share"].sum() < m.gaps["demand_share"].sum()


def test_lda_and_ca_maps() -> None:
    df, lab = _market()
    lda = segment_map(df, lab, basis=NEEDS, method="lda")
    assert lda.method == "lda" and sum(lda.explained) == pytest.approx(1.0)
    yes = df[NEEDS].ge(5).replace({True: "Yes", False: "No"})
    ca = segment_map(yes, lab, basis=NEEDS)
    assert ca.method == "ca" and ca.axes[0].startswith("Dim 1")
    assert set(ca.arrows["need"]) == set(NEEDS)
    with pytest.raises(ValueError, match="method"):
        segment_map(df, lab, basis=NEEDS, method="tsne")  # type: ignore[arg-type]


def test_write_static_svg_and_png_or_fallback(tmp_path: Path) -> None:
    df, lab = _market()
    m = segment_map(df, lab, basis=NEEDS, names={1: "Online & app"})
    svg = write_static(m, tmp_path / "map.svg", title="Map <test>")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "Online &amp; app" in svg.read_text()
    png = write_static(m, tmp_path / "map.png")
    assert png.exists() and png.suffix in (".png", ".svg")
    if png.suffix == ".png":
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unsupported"):
        write_static(m, tmp_path / "map.bmp")


# ---------------------------------------------------------------------------------------------
# white space and themes
# ---------------------------------------------------------------------------------------------
def test_white_space_ranks_important_unserved_needs_first() -> None:
    df, lab = _market()
    # online needs: important to segment 1 (30 %+), no brand serves them; price needs served well
    ratings = _ratings(
        {
            "A": {
                "need_online": 1.6,
                "need_app": 2.4,
                "need_price": 4.8,
                "need_discount": 4.6,
                "need_agent": 4.5,
                "need_office": 4.5,
            },
            "B": {"need_online": 2.0, "need_app": 2.2, "need_price": 3.0},
        }
    )
    ws = white_space(
        df,
        lab,
        basis=NEEDS,
        competitor_ratings=ratings,
        weights="weight",
        need_scale=(1, 7),
        rating_scale=(1, 5),
        segment_value={1: 10.0, 2: 20.0, 3: 30.0},
    )
    assert ws.table["need"].tolist()[:2] == ["need_online", "need_app"]
    top = ws.table.iloc[0]
    assert top["segments"] == (1,)
    assert top["best_competitor"] == "B"
    assert top["best_competitor_score"] == pytest.approx(
        ratings[(ratings.brand == "B") & (ratings.need == "need_online")]["rating"].mean()
    )
    assert top["importance"] == pytest.approx(df.loc[lab == 1, "need_online"].mean())
    assert top["value"] == pytest.approx(10.0)
    assert "need_price" not in set(ws.table["need"])  # served well
    assert ws.table["gap"].is_monotonic_decreasing
    rec = ws.records()[0]
    assert set(rec) >= {"need", "segments", "importance", "best_competitor_score"}


def test_white_space_without_ratings_is_skipped_with_reason() -> None:
    df, lab = _market()
    ws = white_space(df, lab, basis=NEEDS, competitor_ratings=None)
    assert ws.table.empty and "no competitor ratings" in ws.warnings[0]


def test_themes_follow_segments_and_are_deterministic() -> None:
    rng = np.random.default_rng(0)
    a = [
        "I wish I could renew online in the app",
        "I wish the app let me file claims online",
        "I wish online quotes were instant in the app",
    ]
    b = [
        "I wish my agent visited the local office",
        "I wish a local agent knew my family",
        "I wish the office agent called back",
    ]
    lab = np.repeat([1, 2], 60)
    texts = pd.Series(
        [a[i] if s == 1 else b[i] for s, i in zip(lab, rng.integers(0, 3, lab.size), strict=True)]
    )
    texts.iloc[5] = None
    th = themes(texts, pd.Series(lab), n_themes=2)
    assert len(th.themes) == 2 and th.themes["share"].sum() == pytest.approx(1.0)
    share = th.by_segment.pivot(index="segment", columns="theme", values="share")
    assert share.loc[1].max() > 0.9 and share.loc[2].max() > 0.9
    assert share.loc[1].idxmax() != share.loc[2].idxmax()
    th2 = themes(texts, pd.Series(lab), n_themes=2)
    pd.testing.assert_frame_equal(th.themes, th2.themes)
    assert len(th.quotes) >= 2
    assert themes_figure(th).data
    few = themes(texts.head(5), n_themes=2)
    assert few.empty and "fewer than" in few.warnings[0]
