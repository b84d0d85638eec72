"""Benchmark of the next best offer (issue 13): N customers x M offers, against bare pandas.

Rows (each against a peer measured in the same run):

- the whole arbitration for N customers (default 2,000,000) and M offers (default 20):
  P(accept) per segment x stage x offer from a response history of N rows
  (:func:`acceptance_estimates`), the contact history (``contact_history``), the control
  group (:func:`control_group`) and :func:`next_best_offer` (eligibility, expected value,
  1 % of customers with a suppressed offer, a contact limit, two offers with limits); the
  target is at most 10 s on 2 cores. The peer is the bare pandas way of the core step: merge
  every customer with the expected value of every eligible offer of their segment x stage,
  sort, and keep each customer's first row (no suppression, no limits, no control group);
- the control group alone (an FNV-1a + SplitMix64 hash per customer).

Usage: ``python benchmarks/bench_activation.py [--quick] [--customers N] [--offers M]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _common import best_time

from segmentum.activation import (
    STAGE_NAMES,
    ContactPolicy,
    acceptance_estimates,
    control_group,
    next_best_offer,
    read_offers,
)

TODAY = pd.Timestamp("2025-07-01")


def make_data(n: int, m: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Customers (6 segments x 8 stages), M offers, a response history of N rows."""
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{i:08d}" for i in range(n)])
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": rng.integers(1, 7, n),
            "stage": np.array(STAGE_NAMES, dtype=object)[rng.integers(0, 8, n)],
        }
    )
    stages = [";".join(rng.choice(STAGE_NAMES, 4, replace=False)) for _ in range(m)]
    segs = [";".join(map(str, rng.choice(6, 4, replace=False) + 1)) for _ in range(m)]
    raw = pd.DataFrame(
        {
            "offer_id": [f"O{j:02d}" for j in range(m)],
            "value": rng.uniform(50, 300, m),
            "cost": rng.uniform(1, 20, m),
            "segments": [s if j % 3 else "" for j, s in enumerate(segs)],
            "stages": stages,
            "limit": [n // 50 if j < 2 else np.nan for j in range(m)],
        }
    )
    pick = rng.integers(0, n, n)
    responses = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[pick],
            "timestamp": TODAY - pd.to_timedelta(rng.integers(1, 365, n), unit="D"),
            "offer_id": raw["offer_id"].to_numpy()[rng.integers(0, m, n)],
            "accepted": rng.random(n) < 0.08,
            "segment": customers["segment"].to_numpy()[pick],
            "stage": customers["stage"].to_numpy()[pick],
        }
    )
    return {"customers": customers, "offers": raw, "responses": responses}


def ours(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    c = data["customers"]
    offers = read_offers(
        data["offers"], known_segments=list(range(1, 7)), known_stages=list(STAGE_NAMES)
    )
    acc = acceptance_estimates(data["responses"], offers, c[["segment", "stage"]])
    policy = ContactPolicy(max_offers_per_period=2, suppress_after_refusals=2)
    control = control_group(c["customer_id"], 0, 0.05, strata=c["segment"])
    return next_best_offer(
        c,
        offers,
        acc,
        control=control,
        responses=data["responses"],
        analysis_date=TODAY,
        policy=policy,
    )


def peer(data: dict[str, pd.DataFrame], acc: pd.DataFrame) -> pd.DataFrame:
    """Bare pandas: every customer x every eligible offer, sort, first row per customer."""
    ev = acc.merge(data["offers"][["offer_id", "value", "cost"]], on="offer_id")
    ev["ev"] = ev["p_accept"] * ev["value"] - ev["cost"]
    ev = ev[ev["eligible"] & (ev["ev"] > 0)][["segment", "stage", "offer_id", "ev"]]
    wide = data["customers"].merge(ev, on=["segment", "stage"])
    wide = wide.sort_values(["customer_id", "ev"], ascending=[True, False])
    return wide.drop_duplicates("customer_id")


def _peer_table(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """P(accept) per cell x offer with an eligibility flag (prepared outside the timing)."""
    c = data["customers"]
    offers = read_offers(
        data["offers"], known_segments=list(range(1, 7)), known_stages=list(STAGE_NAMES)
    )
    acc = acceptance_estimates(data["responses"], offers, c[["segment", "stage"]])
    ok = acc.merge(offers[["offer_id", "segments", "stages"]], on="offer_id")
    ok["eligible"] = [
        (sl is None or str(s) in sl) and (tl is None or t in tl)
        for s, t, sl, tl in zip(
            ok["segment"], ok["stage"], ok["segments"], ok["stages"], strict=True
        )
    ]
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 customers, one repeat")
    parser.add_argument("--customers", type=int, default=2_000_000)
    parser.add_argument("--offers", type=int, default=20)
    args = parser.parse_args()
    n = 200_000 if args.quick else args.customers
    repeat = 1 if args.quick else 2
    data = make_data(n, args.offers)
    table = _peer_table(data)
    t_ours = best_time(lambda: ours(data), repeat)
    t_peer = best_time(lambda: peer(data, table), repeat)
    ids = data["customers"]["customer_id"]
    t_hash = best_time(lambda: control_group(ids, 0, 0.05), repeat)
    got = ours(data)
    print(f"next best offer: {n:,} customers x {args.offers} offers "
          f"({int(got['next_best_offer'].notna().sum()):,} offers made)")  # fmt: skip
    print("| work | segmentum | peer | ratio |\n|---|---|---|---|")
    print(
        f"| whole arbitration (estimates, contact history, control group, choice) | "
        f"{t_ours:.2f} s | {t_peer:.2f} s (pandas merge x eligible offers, sort, first per "
        f"customer) | {t_ours / t_peer:.2f}x |"
    )
    print(f"| control group alone (FNV-1a + SplitMix64 hash per customer) | {t_hash:.2f} s | | |")
    print("target: whole arbitration <= 10 s on 2 cores:", "met" if t_ours <= 10 else "NOT met")


if __name__ == "__main__":
    main()
