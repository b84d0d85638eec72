"""Benchmark of the go-to-market half of the activation stage (issue 14).

Rows (each against a peer measured in the same run):

- scoring N leads (default 1,000,000) with a lead model on 2 numeric and 3 categorical fields
  (6 segments): probabilities, target probability, expected value, score, keep and the
  reason in words (:meth:`LeadScorer.score`); target ≤ 5 s. Peer: the bare NumPy matrix
  product and softmax of the same numbers (no categorical lookup, no reasons);
- writing the audience files of M customers (default 2,000,000): one CSV per segment plus
  the control group (:func:`write_audiences`, XLSX off: over the row limit), with the
  formula neutralisation and checksums; target ≤ 2× the peer, DuckDB's own ``COPY … TO`` of
  the same columns to one CSV; and the same with the per segment × stage and per offer
  files (3× the rows written).

Usage: ``python benchmarks/bench_gtm.py [--quick] [--leads N] [--customers M]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from _common import best_time

from segmentum.activation.audiences import write_audiences
from segmentum.activation.leads import LeadScorer
from segmentum.valuation.projection import ProjectionModel


def make_scorer(seed: int = 0) -> LeadScorer:
    rng = np.random.default_rng(seed)
    k = 6
    cats = {
        "gender": (["female", "male", "other"], rng.normal(0, 1, (3, k))),
        "region": (["Northeast", "Midwest", "South", "West"], rng.normal(0, 1, (4, k))),
        "source": (["agent", "web", "app", "comparison_site", "phone"], rng.normal(0, 1, (5, k))),
    }
    model = ProjectionModel(
        segments=tuple(range(1, k + 1)), numeric=("age", "n_vehicles"),
        fill=np.array([45.0, 1.0]), weights=rng.normal(0, 0.05, (k, 2)),
        intercepts=rng.normal(0, 1, k), categorical=cats,
    )  # fmt: skip
    names = {s: f"Segment {s} name" for s in range(1, k + 1)}
    return LeadScorer(model, (1, 4), names, {s: 100.0 * s for s in range(1, k + 1)},
                      threshold=0.3, id_column="lead_id")  # fmt: skip


def make_leads(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "lead_id": [f"L{i:08d}" for i in range(n)],
            "age": rng.integers(18, 90, n).astype(float),
            "n_vehicles": rng.integers(1, 5, n).astype(float),
            "gender": rng.choice(["female", "male", "other"], n),
            "region": rng.choice(["Northeast", "Midwest", "South", "West"], n),
            "source": rng.choice(["agent", "web", "app", "comparison_site", "phone"], n),
        }
    )


def bench_leads(n: int, repeat: int) -> tuple[float, float]:
    scorer = make_scorer()
    leads = make_leads(n)
    ours = best_time(lambda: scorer.score(leads), repeat)
    m = scorer.model
    X = leads[list(m.numeric)].to_numpy()

    def peer() -> np.ndarray:
        s = X @ m.weights.T + m.intercepts
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        return s / s.sum(axis=1, keepdims=True)

    return ours, best_time(peer, repeat)


def make_people(n: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in range(n)],
            "email": [f"c{i}@example.com" for i in range(n)],
            "segment": rng.integers(1, 7, n),
            "stage": rng.choice(["new", "loyal", "lapsing", "lost"], n),
            "offer": rng.choice(["bundle", "upgrade", "renewal"], n),
            "expected_value": rng.gamma(2.0, 50.0, n),
            "control": rng.random(n) < 0.05,
        }
    )


def bench_audiences(n: int, repeat: int, folder: Path) -> tuple[float, float, float]:
    import duckdb

    people = make_people(n)
    cols = ["customer_id", "email", "segment", "stage", "offer", "expected_value"]
    seg_only = people.drop(columns=["stage", "offer"])

    def ours(frame: pd.DataFrame) -> Callable[[], object]:
        def run() -> object:
            shutil.rmtree(folder / "a", ignore_errors=True)
            return write_audiences(folder / "a", frame, columns=["email"], xlsx=False)

        return run

    def peer() -> None:
        con = duckdb.connect()
        con.register("people", people[cols])
        con.execute(f"COPY (SELECT * FROM people) TO '{folder / 'peer.csv'}' (FORMAT CSV, HEADER)")
        con.close()

    t_seg = best_time(ours(seg_only), repeat)
    t_all = best_time(ours(people), repeat)
    return t_seg, t_all, best_time(peer, repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 leads and customers")
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    n_leads = 100_000 if a.quick else a.leads
    n_cust = 100_000 if a.quick else a.customers
    ours, peer = bench_leads(n_leads, a.repeat)
    print(f"| score {n_leads:,} leads | {ours:.2f} s | {peer:.2f} s (bare NumPy softmax) "
          f"| {ours / peer:.1f}× |")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        t_seg, t_all, t_peer = bench_audiences(n_cust, a.repeat, Path(tmp))
    print(f"| audience files, {n_cust:,} customers: per segment + control | {t_seg:.2f} s | "
          f"{t_peer:.2f} s (DuckDB COPY of the same columns) | {t_seg / t_peer:.2f}× |")  # fmt: skip
    print(f"| same, plus per segment × stage and per offer (3× the rows) | {t_all:.2f} s | "
          f"{t_peer:.2f} s | {t_all / t_peer:.2f}× |")  # fmt: skip


if __name__ == "__main__":
    main()
