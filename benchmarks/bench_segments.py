"""Benchmark of the segments stage against its peers, in one run.

Usage::

    .venv/bin/python benchmarks/bench_segments.py [--quick]

Work measured (each side in its own fresh process, so peak memory is its own; peak memory
is sampled every 20 ms as the RSS of the process plus its worker processes):

1. Stability analysis on McDonald's (1,453 × 11 Yes/No): k = 2..8, 100 bootstrap pairs
   (``--quick``: 20), 10 k-means restarts per fit, ``NeedsSegmenter(n_jobs=-1)`` with its
   null reference (3 permuted data sets, the structure verdict); the peer is the same
   analysis written the plain way (scikit-learn ``KMeans`` in a loop, one process, no
   null). The CPU/wall column shows whether both cores were used. A second row sets the
   analysis with its null against ``n_null=0``; a third times the demo's segments stage
   (3,000 respondents, ``--quick``: 1,000; no peer).
2. k-means, k = 6, on 2,000,000 × 20 float32 (``--quick``: 400,000), 3 restarts, vs
   scikit-learn ``KMeans(n_init=3)``: time and inertia.
3. Scoring (assigning) 2,000,000 rows (``--quick``: 400,000) with the fitted
   ``NeedsSegmenter.predict`` vs a bare NumPy nearest-centroid computation
   (``argmin(|c|²/2 - x·cᵀ)``, one GEMM, no checks).
4. Latent class models on McDonald's, k = 2..5 (``--quick``: 2..3), 20 random starts each:
   ``segmentum.segments.lca.fit_lca`` vs StepMix (``StepMix(measurement="categorical",
   n_init=20)``, the same convergence tolerance); the note gives the largest log-likelihood
   gap (ours minus StepMix's: positive means ours found a better maximum).

Times are the best of the repeats (1 for the stability analysis).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import best_time_and_result

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGMENTUM_SHARED_DATA", ROOT.parent / "shared" / "data"))
MCD = SHARED / "msa" / "mcdonalds.csv"


class _PeakMemory:
    """Samples RSS of this process and its children (loky workers) in a thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(
                    c.memory_info().rss for c in self.proc.children(recursive=True)
                )
            except Exception:  # a worker ended while sampled
                rss = 0
            self.peak = max(self.peak, rss)
            time.sleep(0.02)

    def __enter__(self) -> _PeakMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def _cpu_seconds() -> float:
    import resource

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    import psutil

    live = 0.0
    for ch in psutil.Process().children(recursive=True):
        try:
            t = ch.cpu_times()
            live += t.user + t.system
        except Exception:
            pass
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + live


def _mcd_matrix() -> Any:
    import numpy as np
    import pandas as pd

    return (pd.read_csv(MCD).iloc[:, :11].to_numpy() == "Yes").astype(np.float64)


def _blobs(n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(6, 20))
    lab = rng.integers(0, 6, n)
    x = centers[lab] + rng.normal(0, 1.5, size=(n, 20))
    return x.astype(np.float32)


# -- work run in child processes ----------------------------------------------------------
def _stability_segmentum(n_boot: int, n_null: int = 3) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from segmentum.segments import NeedsSegmenter

    x = _mcd_matrix()
    with _PeakMemory() as pm:
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        seg = NeedsSegmenter(
            k_range=(2, 8), n_boot=n_boot, n_init=10, n_null=n_null, random_state=0, n_jobs=-1
        )
        seg.fit(x)
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    note = f"k={seg.n_segments_}, {seg.structure_}"
    return {"time": wall, "peak": pm.peak, "cpu_wall": cpu / wall, "note": note}


def _demo_segments_stage(n_respondents: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from sklearn.metrics import adjusted_rand_score

    from segmentum.demo import ROLES, make_market
    from segmentum.demo.project import DEMO_SETTINGS
    from segmentum.segments.stage import SegmentsConfig, run_segments

    market = make_market(seed=0, n_customers=2_000, n_respondents=n_respondents)
    roles = ROLES["survey"]
    settings = {
        k: tuple(v) if isinstance(v, list) else v for k, v in DEMO_SETTINGS["segments"].items()
    }
    with _PeakMemory() as pm:
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        res = run_segments(
            market.survey,
            id_column=roles["id"],
            basis=roles["basis"],
            weights=roles["weight"],
            config=SegmentsConfig(**settings),
        )
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    truth = market.truth.set_index("respondent_id").loc[market.survey[roles["id"]], "segment"]
    ari = adjusted_rand_score(truth.to_numpy(), res.assignments["segment"].to_numpy())
    note = f"k={res.summary['k']}, {res.structure}, ARI with planted truth {ari:.3f}"
    return {"time": wall, "peak": pm.peak, "cpu_wall": cpu / wall, "note": note}


def _stability_peer(n_boot: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    x = _mcd_matrix()
    n = len(x)
    with _PeakMemory() as pm:
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        rng = np.random.default_rng(0)
        med = {}
        for k in range(2, 9):
            KMeans(k, n_init=10, random_state=0).fit(x)
            aris = []
            for _ in range(n_boot):
                preds = []
                for _ in range(2):
                    idx = rng.integers(0, n, n)
                    km = KMeans(k, n_init=10, random_state=int(rng.integers(1 << 30))).fit(x[idx])
                    preds.append(km.predict(x))
                aris.append(adjusted_rand_score(*preds))
            med[k] = float(np.median(aris))
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    return {"time": wall, "peak": pm.peak, "cpu_wall": cpu / wall, "note": ""}


def _kmeans_segmentum(n: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from segmentum.segments._methods import fit_kmeans

    x = _blobs(n)
    seeds = iter(range(repeats))
    with _PeakMemory() as pm:
        best, fit = best_time_and_result(
            lambda: fit_kmeans(x, 6, n_init=3, rng=np.random.default_rng(next(seeds))),
            repeats,
            collect=False,
        )
    return {"time": best, "peak": pm.peak, "inertia": fit.inertia}


def _kmeans_peer(n: int, repeats: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    x = _blobs(n)
    seeds = iter(range(repeats))
    with _PeakMemory() as pm:
        best, km = best_time_and_result(
            lambda: KMeans(6, n_init=3, random_state=next(seeds)).fit(x), repeats, collect=False
        )
    return {"time": best, "peak": pm.peak, "inertia": float(km.inertia_)}


def _score_segmentum(n: int, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from segmentum.segments import NeedsSegmenter

    x = _blobs(n)
    seg = NeedsSegmenter(6, n_boot=0, n_init=1, random_state=0).fit(x[:20_000])
    with _PeakMemory() as pm:
        best, lab = best_time_and_result(lambda: seg.predict(x), repeats, collect=False)
    return {"time": best, "peak": pm.peak, "checksum": int(lab.sum())}


def _score_peer(n: int, repeats: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.cluster import KMeans

    x = _blobs(n)
    c = KMeans(6, n_init=1, random_state=0).fit(x[:20_000]).cluster_centers_.astype(np.float32)
    with _PeakMemory() as pm:
        best, lab = best_time_and_result(
            lambda: np.argmin(0.5 * (c * c).sum(axis=1) - x @ c.T, axis=1), repeats, collect=False
        )
    return {"time": best, "peak": pm.peak, "checksum": int(lab.sum())}


def _lca_segmentum(ks: list[int]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from segmentum.segments.lca import fit_lca

    codes = _mcd_matrix().astype(int)
    lls = {}
    with _PeakMemory() as pm:
        t0 = time.perf_counter()
        for k in ks:
            res = fit_lca(codes, [2] * codes.shape[1], k, n_init=20, tol=1e-10, random_state=0)
            lls[k] = res.log_likelihood
        wall = time.perf_counter() - t0
    return {"time": wall, "peak": pm.peak, "ll": lls}


def _lca_peer(ks: list[int]) -> dict[str, Any]:
    import warnings

    import stepmix

    x = _mcd_matrix()
    lls = {}
    with _PeakMemory() as pm:
        t0 = time.perf_counter()
        for k in ks:
            model = stepmix.StepMix(
                n_components=k, measurement="categorical", n_init=20, random_state=0,
                verbose=0, progress_bar=0, max_iter=5000, abs_tol=1e-10,
            )  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(x)
            lls[k] = float(model.score(x) * len(x))
        wall = time.perf_counter() - t0
    return {"time": wall, "peak": pm.peak, "ll": lls}


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh, non-daemonic Python process (so joblib may fork
    workers there) and return its result."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", fn.__name__, json.dumps(args)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes for a fast check")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        fn = globals()[args.child[0]]
        print(json.dumps(fn(*json.loads(args.child[1]))))
        return 0
    n_boot = 20 if args.quick else 100
    n_big = 400_000 if args.quick else 2_000_000
    reps = 2 if args.quick else 3
    rows = []

    a = _in_child(_stability_segmentum, n_boot)
    b = _in_child(_stability_peer, n_boot)
    rows.append(
        (
            f"stability k=2..8, {n_boot} boot, 10 restarts (McDonald's)",
            a,
            b,
            f"CPU/wall {a['cpu_wall']:.2f} vs {b['cpu_wall']:.2f}; {a['note']}",
        )
    )
    a = _in_child(_stability_segmentum, n_boot, 3)
    b = _in_child(_stability_segmentum, n_boot, 0)
    rows.append(
        (
            "the same with its null (3 permuted data sets) vs without (n_null=0)",
            a,
            b,
            f"{a['note']} vs {b['note']}; flexclust bootFlexclust 126.6 s (issue #10)",
        )
    )
    n_resp = 1_000 if args.quick else 3_000
    a = _in_child(_demo_segments_stage, n_resp)
    rows.append(
        (
            f"demo segments stage, {n_resp:,} respondents x 29 needs, 50 boot",
            a,
            {"time": float("nan"), "peak": 0},
            a["note"],
        )
    )
    a = _in_child(_kmeans_segmentum, n_big, reps)
    b = _in_child(_kmeans_peer, n_big, reps)
    rows.append(
        (
            f"k-means k=6, {n_big:,} x 20 float32, 3 restarts",
            a,
            b,
            f"inertia {a['inertia']:.7g} vs {b['inertia']:.7g} "
            f"(relative difference {(a['inertia'] - b['inertia']) / b['inertia']:+.1e})",
        )
    )
    a = _in_child(_score_segmentum, n_big, reps + 2)
    b = _in_child(_score_peer, n_big, reps + 2)
    rows.append(
        (
            f"scoring {n_big:,} rows (predict vs bare NumPy)",
            a,
            b,
            "predict validates input and maps labels to 1..k",
        )
    )
    ks = [2, 3] if args.quick else [2, 3, 4, 5]
    a = _in_child(_lca_segmentum, ks)
    try:
        b = _in_child(_lca_peer, ks)
        gap = max(a["ll"][str(k)] - b["ll"][str(k)] for k in ks)
        rows.append(
            (
                f"LCA k={ks[0]}..{ks[-1]}, 20 starts each (McDonald's)",
                a,
                b,
                f"vs StepMix; largest LL gap (ours - StepMix) {gap:+.4f}",
            )
        )
    except subprocess.CalledProcessError as exc:  # StepMix not installed
        print(f"StepMix could not run: {exc.stderr.strip().splitlines()[-1]}")
    head = f"{'work':<52} {'segmentum s':>11} {'peer s':>9} {'ratio':>6} {'peak MiB':>15}  notes"
    print(head)
    print("-" * len(head))
    for name, a, b, note in rows:
        print(
            f"{name:<52} {a['time']:>11.3f} {b['time']:>9.3f} {a['time'] / b['time']:>6.2f} "
            f"{a['peak'] / 2**20:>7.0f}/{b['peak'] / 2**20:<7.0f}  {note}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
