"""How much of Notion's allowed request rate the learning pacer spends, and how many 429s that costs.

Two sandbox models (``ssot_pipelines/sandbox/ratelimit.py``):

- ``bucket``: 3 requests/s per token with bursts of 10 (the older documented limit, and the peer table's
  server). The pacer starts from its default, 180/min.
- ``window``: a budget per window per token (Notion's current per-connection model). The pacer starts 50 %
  above the budget (``NOTION_REQUESTS_PER_MINUTE``), so it must learn it from a 429.

Each scenario runs 1 or 4 processes (``ssot_pipelines_tests/pacer_worker.py``: a real gateway, users/me once,
then page reads) sharing one token and one Redis, for ``--windows`` windows' worth of requests. Windows
are ``--window`` seconds (Notion: 60; shorter here so a run takes minutes, set on both the sandbox and
``NOTION_RATE_WINDOW_SECONDS``). Target: ≥ 95 % of the allowed rate, at most one 429 per learning.

How "achieved" is measured, so that neither a bursty nor a smooth client is flattered:

- ``window``: the sandbox's windows are rebuilt from the times it admitted requests, by its own rule (a
  window opens with the first request at least one window after the previous one opened). Achieved =
  requests admitted in every window but the last / seconds from the first window's opening to the last
  one's. Whatever the pacer leaves unused counts against it: a window not filled (a budget learned too
  low, the learning itself) and the gap between a window's end and the next request; the last window is
  left out because how full it is depends on where the workload ends, not on the pacer. A client sending
  the whole budget at each window's start and one sending exactly budget/window both score 100 %.
  (``first-last`` is the older figure: requests admitted / seconds from the first to the last, which a
  client bursting at each window's start would push to 125 % over 5 windows.)
- ``bucket``: the best any client can do is the burst (10) at once, then 3/s; achieved = (requests
  admitted - 10) / seconds from the first to the last.

Run: ``.venv/bin/python benchmarks/pacer_efficiency.py`` (``--window 10 --windows 3`` for a quick run;
``--models window --windows 10`` for a longer window-model run). Uses
REDIS_URL or the embedded Redis. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from ssot_pipelines.notion.pacer import pacer_key
from ssot_pipelines.notion.setup import resolve_redis_url
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.sandbox.ratelimit import RateLimitConfig

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def whole_windows(admitted: list[float], window: float) -> tuple[int, float, list[float], list[int]]:
    """Requests in every window but the last, seconds from the first window's opening to the last's, and
    each window's opening and count, by the sandbox's rule (``ratelimit._Window.roll``)."""
    starts: list[float] = []
    counts: list[int] = []
    for t in admitted:
        if not starts or t >= starts[-1] + window:
            starts.append(t)
            counts.append(0)
        counts[-1] += 1
    if len(starts) < 2:
        return len(admitted), max(admitted[-1] - admitted[0], 1e-9), starts, counts
    return sum(counts[:-1]), starts[-1] - starts[0], starts, counts


def scenario(
    model: str, processes: int, window: float, windows: int, redis_url: str, trace: bool = False
) -> dict[str, Any]:
    token = f"bench-{uuid.uuid4().hex}"
    if model == "bucket":
        allowed = 3.0
        limits = RateLimitConfig(rps=3.0, burst=10)
        start_per_minute = None
    else:
        budget = 30 if window >= 10 else max(5, int(3 * window))
        allowed = budget / window
        limits = RateLimitConfig(rps=None, window_budget=budget, window_seconds=window)
        start_per_minute = str(allowed * 60 * 1.5)
    # half a window more than the windows measured, so the last measured window is not the workload's end
    total = int(allowed * window * (windows + 0.5))
    per_process = max(1, total // processes - 1)  # users/me once, then reads
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(Path(tmp) / "n.sqlite", tokens=(token,), rate_limits=limits) as sandbox,
    ):
        env = {k: v for k, v in os.environ.items() if k not in ("NOTION_RPS", "NOTION_PACER")}
        env.update(
            PACER_WORKER_TOKEN=token,
            PACER_WORKER_PAGE=sandbox.root_page_id,
            NOTION_RATE_WINDOW_SECONDS=str(window),
            PYTHONPATH=str(SOURCE_ROOT),
        )
        if start_per_minute:
            env["NOTION_REQUESTS_PER_MINUTE"] = start_per_minute
        else:
            env.pop("NOTION_REQUESTS_PER_MINUTE", None)
        started = time.monotonic()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "ssot_pipelines_tests.pacer_worker", sandbox.url, redis_url, str(per_process)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        reports = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        wall = time.monotonic() - started
        admitted = list(sandbox.limiter.admitted)
        refused = sum(sandbox.limiter.refused.values())
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(pacer_key(token) + "*"):
        client.delete(key)
    span = admitted[-1] - admitted[0]
    if model == "bucket":
        achieved = (len(admitted) - limits.burst) / span
    else:
        counted, seconds, starts, counts = whole_windows(admitted, window)
        achieved = counted / seconds
        if trace:
            # where the rate goes: each window's count, and the gap between a window's end and the next
            for i, (start, count) in enumerate(zip(starts, counts, strict=True)):
                gap = start - (starts[i - 1] + window) if i else 0.0
                print(f"  window {i + 1}: opens at {start - starts[0]:7.2f} s, {count} admitted, gap {gap:5.2f} s")
    lost = processes * per_process - sum(r["reads"] for r in reports)
    return {
        "model": model,
        "processes": processes,
        "requests": len(admitted),
        "seconds": wall,
        "achieved": achieved,
        "first_last": len(admitted) / span,
        "allowed": allowed,
        "refused": refused,
        "learnings": sum(r["learnings"] for r in reports),
        "budget": reports[-1]["pacer"]["requests_per_minute"],
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=20.0, help="window length in seconds (Notion: 60)")
    parser.add_argument("--windows", type=int, default=5, help="windows' worth of requests per scenario")
    parser.add_argument("--models", default="bucket,window", help="which sandbox models (bucket, window)")
    parser.add_argument("--processes", default="1,4", help="process counts to run")
    parser.add_argument("--trace", action="store_true", help="print each window of the sandbox (window model)")
    args = parser.parse_args()
    redis_url = resolve_redis_url()
    print(f"window {args.window:g} s, {args.windows} windows' worth of requests per scenario")
    print(
        f"{'model':<7} {'procs':>5} {'requests':>8} {'seconds':>8} {'achieved/s':>10} {'allowed/s':>9} "
        f"{'ratio':>6} {'first-last':>10} {'429s':>5} {'learned':>7} {'budget/min':>10} {'lost':>4}"
    )
    for model in args.models.split(","):
        for processes in (int(p) for p in args.processes.split(",")):
            r = scenario(model, processes, args.window, args.windows, redis_url, args.trace)
            print(
                f"{r['model']:<7} {r['processes']:>5} {r['requests']:>8} {r['seconds']:>8.1f} {r['achieved']:>10.2f} "
                f"{r['allowed']:>9.2f} {r['achieved'] / r['allowed']:>6.1%} "
                f"{r['first_last'] / r['allowed']:>10.1%} {r['refused']:>5} {r['learnings']:>7} "
                f"{r['budget']:>10.1f} {r['lost']:>4}",
                flush=True,
            )


if __name__ == "__main__":
    main()
