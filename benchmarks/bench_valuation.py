"""Benchmark of the valuation library: projection of the customer base and typing-tool scoring.

Rows (each against a peer measured in the same run):

- projecting N customers (default 2,000,000) with :class:`ProjectionModel` from the features
  frame (numeric columns plus categorical ones) against a bare NumPy pass of the same linear
  scores on the prebuilt dense design (one-hot dummies included, stored features × rows:
  ``W @ X + b``, argmax, top probability); the target is at most 2× the peer;
- scoring one person through ``segmentum.score`` (a mapping of answers) against the bare NumPy
  arithmetic of the same rule on one row; the target is under 1 ms.

Usage: ``python benchmarks/bench_valuation.py [--quick] [--customers N]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _common import best_time

import segmentum
from segmentum.valuation import ProjectionModel, build_typing_tool


def _rss_mib() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20  # current RSS
    except ImportError:  # pragma: no cover
        return float("nan")


def bench_projection(n: int, repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    k, n_num = 6, 24
    cats = {"channel": 5, "region": 8, "payment_plan": 3}
    num = rng.normal(size=(n, n_num))
    frame = pd.DataFrame(num, columns=[f"x{i}" for i in range(n_num)])
    levels: dict[str, tuple[list[object], np.ndarray]] = {}
    dummies = []
    for c, m in cats.items():
        lv = [f"{c}_{j}" for j in range(m)]
        codes = rng.integers(0, m, size=n)
        frame[c] = pd.Categorical.from_codes(codes, categories=lv)
        levels[c] = (lv, rng.normal(size=(m, k)))
        dummies.append((codes[:, None] == np.arange(m)[None, :]).astype(float))
    W = rng.normal(size=(k, n_num))
    b = rng.normal(size=k)
    model = ProjectionModel(
        segments=tuple(range(1, k + 1)),
        numeric=tuple(f"x{i}" for i in range(n_num)),
        fill=np.zeros(n_num),
        weights=W,
        intercepts=b,
        categorical=levels,
    )
    design_t = np.ascontiguousarray(np.hstack([num, *dummies]).T)  # features × rows
    W_full = np.hstack([W, *[levels[c][1].T for c in cats]])
    del dummies

    def peer() -> tuple[np.ndarray, np.ndarray]:
        s = W_full @ design_t + b[:, None]
        best = s.argmax(axis=0)
        s -= s[best, np.arange(n)]
        np.exp(s, out=s)
        return best + 1, 1.0 / s.sum(axis=0)

    def ours() -> pd.DataFrame:
        return model.project(frame)

    got, want = ours(), peer()
    assert (got["segment"].to_numpy() == want[0]).all()
    assert np.allclose(got["segment_probability"].to_numpy(), want[1])
    t_peer = best_time(peer, repeat)
    t_ours = best_time(ours, repeat)
    return {
        "work": f"projection of {n:,} customers ({n_num} numeric + {len(cats)} categorical, "
        f"{k} segments)",
        "segmentum": t_ours,
        "peer": t_peer,
        "peer_name": "bare NumPy on the prebuilt dense design, features x rows: W @ X + b, "
        "argmax, top probability 1 / sum(exp(s - max))",
        "ratio": t_ours / t_peer,
    }


def bench_score_one(repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=1200)
    centres = rng.integers(1, 8, size=(4, 12))
    X = pd.DataFrame(
        np.clip(np.rint(centres[y] + rng.normal(0, 1.5, (1200, 12))), 1, 7).astype(int),
        columns=[f"q{i}" for i in range(12)],
    )
    tool = build_typing_tool(X, y + 1, method="lda", target=0.99, max_questions=6, cv=3).tool
    person = {c: int(X[c].iloc[0]) for c in tool.items}
    x = np.array([person[c] for c in tool.items], dtype=float)
    n_calls = 2000

    def ours() -> None:
        for _ in range(n_calls):
            segmentum.score(tool, person)

    def peer() -> None:
        for _ in range(n_calls):
            s = ((x - tool.mean) / tool.scale) @ tool.coefficients.T + tool.intercepts
            p = np.exp(s - s.max())
            p /= p.sum()
            int(p.argmax())

    t_ours = best_time(ours, repeat) / n_calls
    t_peer = best_time(peer, repeat) / n_calls
    return {
        "work": f"scoring one person ({len(tool.items)} golden questions), per call",
        "segmentum": t_ours,
        "peer": t_peer,
        "peer_name": "bare NumPy arithmetic of the same rule on one row",
        "ratio": t_ours / t_peer,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200,000 customers, one repeat")
    ap.add_argument("--customers", type=int, default=2_000_000)
    args = ap.parse_args()
    n = 200_000 if args.quick else args.customers
    repeat = 1 if args.quick else 3
    rows = [bench_projection(n, repeat), bench_score_one(repeat)]
    print(f"RSS at the end {_rss_mib():,.0f} MiB")
    print("| work | segmentum | peer | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        unit = 1e3 if r["segmentum"] < 0.01 else 1.0  # type: ignore[operator]
        suffix = " ms" if unit == 1e3 else " s"
        print(
            f"| {r['work']} | {r['segmentum'] * unit:.3f}{suffix} | "  # type: ignore[operator]
            f"{r['peer'] * unit:.3f}{suffix} ({r['peer_name']}) | {r['ratio']:.2f}× |"  # type: ignore[operator]
        )


if __name__ == "__main__":
    main()
