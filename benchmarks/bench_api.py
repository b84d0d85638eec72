"""Load benchmark of the scoring API (issue 16), on loopback only.

``segmentum serve`` runs in its own process on a free ``127.0.0.1`` port over a small demo
project (or ``--project``). Rows, each against a peer measured in the same run:

- single-lead scoring at a fixed rate (default 200 requests/s for 60 s) with httpx (async):
  request *i* is sent at ``t0 + i / rate`` whatever happened before, and its latency runs
  from that planned moment to the answer (so a stall is not hidden by sending later; no
  coordinated omission). p50, p99, max and errors (any answer but 200, any failure).
  Targets: p99 < 25 ms, 0 errors. Peer: :meth:`LeadScorer.score_one` on the same leads
  in-process (the raw model call: the difference is the cost of HTTP, JSON and the key);
- one batch of 10,000 leads (every field of the demo's lead file) in one call; target
  < 1 s. Peer: :meth:`LeadScorer.score` on the same rows as a DataFrame in-process.

Usage: ``python benchmarks/bench_api.py [--seconds S] [--rate R] [--batch N] [--project P]
[--client raw]`` (needs the ``app`` extra). On a small machine shared with other work, httpx's
async client needs more CPU than the server; ``--client raw`` loads the server instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from _common import best_time

from segmentum.activation.leads import load_lead_scorer
from segmentum.app.keys import KeyStore

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_project(folder: Path) -> Path:
    """A demo project with one run (3,000 customers, 1,200 respondents), built once."""
    if not any((folder / "runs").glob("2*/manifest.json")):
        subprocess.run(
            [sys.executable, "-m", "segmentum", "demo", str(folder), "--customers", "3000",
             "--respondents", "1200"],
            check=True, capture_output=True,
        )  # fmt: skip
    return folder


def start_server(folder: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "segmentum", "serve", str(folder / "segmentum.toml"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(480):
        if proc.poll() is not None:
            raise SystemExit(f"segmentum serve exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("segmentum serve did not start")


class RawConnection:
    """One keep-alive HTTP/1.1 connection written by hand (``--client raw``): a client that
    costs tens of µs a request where httpx costs milliseconds, for when the load generator
    and the server share a small machine."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes):
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> RawConnection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, **headers}.items())
        return cls(reader, writer, head.encode())

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = int(header.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def fixed_rate(
    url: str,
    key: str,
    leads: list[dict[str, Any]],
    rate: float,
    seconds: float,
    workers: int,
    client: str = "httpx",
) -> tuple[np.ndarray, int]:
    """Latencies (s) from each request's planned send time, and the number of errors.

    A dispatcher queues request *i* at its planned time; ``workers`` connections take them
    in turn (httpx's pool gets slow with hundreds of requests waiting on it, which would
    measure the client, not the server). A request that waits for a free connection is
    late, and its wait counts in its latency.
    """
    n = int(rate * seconds)
    lat = np.full(n, np.nan)
    errors = 0
    bodies = [json.dumps({"rows": [leads[i % len(leads)]]}).encode() for i in range(n)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as c:
        for i in range(20):  # warm: connections, the model
            await c.post("/api/v1/score/leads", content=bodies[i])

        async def worker() -> None:
            nonlocal errors
            raw = await RawConnection.open(url, headers) if client == "raw" else None
            while (item := await queue.get()) is not None:
                i, planned = item
                try:
                    if raw is not None:
                        status, body = await raw.post("/api/v1/score/leads", bodies[i])
                    else:
                        r = await c.post("/api/v1/score/leads", content=bodies[i])
                        status, body = r.status_code, r.content
                    ok = status == 200 and len(json.loads(body)["rows"]) == 1
                except (httpx.HTTPError, OSError, ValueError):
                    ok = False
                lat[i] = time.perf_counter() - planned
                errors += not ok
            if raw is not None:
                raw.close()

        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            planned = t0 + i / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, planned))
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
    return lat, errors


def batch(url: str, key: str, rows: list[dict[str, Any]], repeat: int) -> tuple[float, int]:
    """Best wall time of one call scoring ``rows`` (sending, scoring, reading the answer)."""
    body = json.dumps({"rows": rows}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    best, errors = float("inf"), 0
    with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = c.post("/api/v1/score/leads", content=body)
            n = len(r.json()["rows"]) if r.status_code == 200 else 0
            best = min(best, time.perf_counter() - t0)
            errors += n != len(rows)
    return best, errors


def peer_single(scorer: Any, leads: list[dict[str, Any]], n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        scorer.score_one(leads[i % len(leads)])
        out[i] = time.perf_counter() - t0
    return out


def peer_batch(scorer: Any, frame: pd.DataFrame, repeat: int) -> float:
    return best_time(lambda: scorer.score(frame), repeat, collect=False)


def _ms(x: float) -> str:
    return f"{1000 * x:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the load (s)")
    ap.add_argument("--rate", type=float, default=200.0, help="single-lead requests per s")
    ap.add_argument("--batch", type=int, default=10_000, help="leads in the batch call")
    ap.add_argument("--workers", type=int, default=16, help="client connections")
    ap.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator: httpx (default), or a hand-written HTTP/1.1 client that "
        "needs far less CPU (for a small, shared machine)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="batch calls (best is shown)")
    ap.add_argument("--project", type=Path, help="a project with a run (default: a demo)")
    args = ap.parse_args()
    folder = args.project or demo_project(HERE / "results" / "api-demo")
    (run,) = sorted((folder / "runs").glob("2*"))[-1:]
    scorer = load_lead_scorer(run)
    frame = pd.read_parquet(folder / "data" / "leads.parquet")
    big = frame.sample(args.batch, replace=len(frame) < args.batch, random_state=0)
    big = big.reset_index(drop=True)
    rows = json.loads(big.to_json(orient="records"))
    _, key = KeyStore(folder).create("score", "bench_api")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(folder, Path(tmp) / "serve.log")
        try:
            load = fixed_rate(url, key, rows, args.rate, args.seconds, args.workers, args.client)
            lat, errors = asyncio.run(load)
            b_time, b_errors = batch(url, key, rows, args.repeat)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    p_lat = peer_single(scorer, rows, min(len(lat), 20_000))
    p_batch = peer_batch(scorer, big, args.repeat)
    p50, p99 = np.nanpercentile(lat, [50, 99])
    q50, q99 = np.percentile(p_lat, [50, 99])
    print(f"\nscoring API on {url} (loopback), run {run.name}\n")
    print("| work | segmentum (HTTP) | peer (in-process) | ratio | errors |")
    print("|---|---|---|---|---|")
    print(
        f"| one lead a call, {args.rate:.0f}/s for {args.seconds:.0f} s ({len(lat):,} calls): "
        f"p50 | {_ms(p50)} | {_ms(q50)} (`score_one`) | {p50 / q50:.0f}× | {errors} |"
    )
    print(
        f"| same, p99 (max {_ms(float(np.nanmax(lat)))}) | {_ms(p99)} (target < 25 ms) | "
        f"{_ms(q99)} | {p99 / q99:.0f}× | |"
    )
    print(
        f"| {args.batch:,} leads in one call ({len(json.dumps({'rows': rows})) / 1e6:.1f} MB "
        f"of JSON), best of {args.repeat} | {b_time:.2f} s (target < 1 s) | "
        f"{p_batch:.3f} s (`score` on a DataFrame) | {b_time / p_batch:.0f}× | {b_errors} |"
    )


if __name__ == "__main__":
    main()
