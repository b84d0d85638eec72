"""The demo's go-to-market tables: sales leads with planted segments, and channels to buy.

``leads``: new prospects drawn from the same market as the customers (planted segment, then
age, gender, region, vehicles and the source they came through, each given the segment as
for customers). A share of them answered the needs quiz on the web site (the survey's need
questions; empty for the others), and past leads carry their outcome (``converted``, 0/1,
empty while open) at a planted conversion rate per source.

``channels``: seed 001's choice in the insurer's words. Two events at the same cost:
``conference_a`` (10,000 visitors of a general fair, few of them in the segments the
valuation will target: the top two of the planted value ranking) and ``conference_b``
(about 1,000 visitors of an app-and-gadgets show, most of them in those segments); and
``comparison_ads``, whose mix is given by descriptor (its visitors' source), not by segment.
The segment numbers of the mix follow the run's canonical numbering (segments ordered by
weighted size in the survey), which the generator predicts from the planted survey.

The planted truth (segment of every lead, the conversion rates) goes to ``truth.json``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from segmentum.demo import _spec as spec
from segmentum.demo._commerce import make_book
from segmentum.demo._frames import str_column
from segmentum.demo._survey import likert_needs

__all__ = ["GTM_ROLES", "GTM_SETTINGS", "N_LEADS", "make_channels", "make_leads", "write_gtm"]

N_LEADS: Final[int] = 5_000
QUIZ_SHARE: Final[float] = 0.3
PAST_SHARE: Final[float] = 0.4
CONVERSION: Final = MappingProxyType(
    {"agent": 0.25, "web": 0.08, "app": 0.10, "comparison_site": 0.05, "phone": 0.15}
)
#: each conference's visitors by planted segment, by rank in the planted value ranking
#: (``truth.json``'s ``value_ranking``, the order the valuation stage recovers): B's come
#: mostly from the two most attractive segments (the targets), A's from the least.
CONFERENCE_A: Final[tuple[float, ...]] = (0.02, 0.03, 0.05, 0.30, 0.35, 0.25)
CONFERENCE_B: Final[tuple[float, ...]] = (0.50, 0.35, 0.05, 0.04, 0.03, 0.03)

GTM_ROLES: Final = MappingProxyType(
    {
        "leads": {
            "id": "lead_id",
            "descriptors": ["age", "gender", "region", "n_vehicles"],
            "source": "source",
            "answers": list(spec.NEED_COLUMNS),
            "converted": "converted",
        },
        "channels": {"channel": "channel", "cost": "cost", "audience": "audience"},
    }
)
"""Column roles of the two tables, for the project file."""

GTM_SETTINGS: Final = MappingProxyType(
    {"budget": 20_000.0, "lead_threshold": 0.17, "audience_columns": ["region", "payment_plan"]}
)
"""The demo's ``[activation]`` go-to-market settings: one conference's cost to spend, and a
lead threshold that keeps most target-segment leads (they are a quarter of the market)."""


def make_leads(seed: int, n_leads: int = N_LEADS) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads with planted segments.

    Returns
    -------
    leads : pandas.DataFrame
        ``lead_id``, ``age``, ``gender``, ``region``, ``n_vehicles``, ``source``, the need
        columns (answered by ``QUIZ_SHARE`` of the leads, else empty) and ``converted``.
    segment : numpy.ndarray
        Planted segment code of each lead (index into ``SEGMENT_NAMES``).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 14]))
    seg = rng.choice(len(spec.SEGMENT_NAMES), size=n_leads, p=spec.SEGMENT_SHARES)
    none = np.full(n_leads, -1)
    book = make_book(rng, seg, 1095, {"age": none, "gender": none, "region": none})
    source = np.array(spec.ACQUISITION_CHANNELS, dtype=object)[book.acquisition]
    leads = pd.DataFrame(
        {
            "lead_id": str_column(np.array([f"L{i:06d}" for i in range(1, n_leads + 1)])),
            "age": book.age.astype(np.int64),
            "gender": str_column(np.array(spec.GENDERS, dtype=object), book.gender),
            "region": str_column(np.array(spec.REGIONS, dtype=object), book.region),
            "n_vehicles": book.n_vehicles.astype(np.int64),
            "source": str_column(source),
        }
    )
    answers = likert_needs(rng, seg).astype(float)
    answers[rng.random(n_leads) >= QUIZ_SHARE] = np.nan
    for j, col in enumerate(spec.NEED_COLUMNS):
        leads[col] = answers[:, j]
    rate = np.array([CONVERSION[s] for s in source])
    won = (rng.random(n_leads) < rate).astype(float)
    leads["converted"] = np.where(rng.random(n_leads) < PAST_SHARE, won, np.nan)
    return leads, seg


def _run_numbering(survey: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    """Planted segment name → the number the run will give it (by weighted survey size)."""
    resp = truth.dropna(subset=["respondent_id"]).set_index("respondent_id")["segment"]
    w = survey.set_index("respondent_id")["weight"]
    shares = w.groupby(resp.reindex(w.index).to_numpy()).sum().sort_values(ascending=False)
    return {str(name): i + 1 for i, name in enumerate(shares.index)}


def make_channels(survey: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Seed 001's two conferences (mix by segment) and one ad buy (mix by descriptor)."""
    from segmentum.demo._economics import value_ranking

    number = _run_numbering(survey, truth)
    ranking = value_ranking()
    rows: list[dict[str, Any]] = [
        {"channel": "conference_a", "cost": 20_000.0, "audience": 10_000},
        {"channel": "conference_b", "cost": 20_000.0, "audience": 1_050},
        {"channel": "comparison_ads", "cost": 25_000.0, "audience": 8_000},
    ]
    for row, mix in zip(rows[:2], (CONFERENCE_A, CONFERENCE_B), strict=True):
        for name, share in zip(ranking, mix, strict=True):
            row[f"segment_{number[name]}"] = share
    rows[2]["source=comparison_site"] = 0.7
    rows[2]["source=web"] = 0.3
    frame = pd.DataFrame(rows)
    seg_cols = sorted((c for c in frame if c.startswith("segment_")), key=lambda c: int(c[8:]))
    return frame[["channel", "cost", "audience", *seg_cols, "source=comparison_site",
                  "source=web"]]  # fmt: skip


def gtm_truth(leads: pd.DataFrame, segment: np.ndarray) -> dict[str, Any]:
    """``truth.json`` additions: each lead's planted segment and the conversion rates."""
    names = np.array(spec.SEGMENT_NAMES, dtype=object)[segment]
    return {
        "lead_segments": dict(zip(leads["lead_id"], names.tolist(), strict=True)),
        "lead_conversion_by_source": dict(CONVERSION),
    }


def write_gtm(market: Any, folder: Any) -> dict[str, Any]:
    """Write ``data/leads.parquet`` and ``data/channels.parquet`` beside the market's tables
    and add the leads' planted truth to ``truth.json``; returns the paths by table."""
    import json
    from pathlib import Path

    folder = Path(folder)
    leads, seg = make_leads(int(market.seed))
    channels = make_channels(market.survey, market.truth)
    paths = {
        "leads": folder / "data" / "leads.parquet",
        "channels": folder / "data" / "channels.parquet",
    }
    leads.to_parquet(paths["leads"], index=False)
    channels.to_parquet(paths["channels"], index=False)
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else {}
    truth.update(gtm_truth(leads, seg))
    truth_file.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return paths
