"""Sync engine benchmarks (issue 2 §9). Prints figures; asserts nothing.

    python benchmarks/bench_sync.py                 # all three, default sizes
    python benchmarks/bench_sync.py --records 2000 --pace-records 40 --overhead-records 300

1. Requests per changed record (creates, updates), a full reconcile, and a re-sync of unchanged records.
2. Four processes syncing at once against a sandbox that enforces 3 requests/second.
3. Engine overhead per record against a plain loop of notion-client calls, sandbox limit lifted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from ledger_db import throwaway_ledger
from notion_client import Client

from ssot_pipelines.notion.gateway import RetrySettings
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.services.embedded import (
    embedded_postgres_url,
    embedded_redis_url,
    stop_embedded_postgres,
    stop_embedded_redis,
)

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts


def rows(n: int, gen: int = 0, start: int = 0) -> pd.DataFrame:
    df = pd.DataFrame(
        [
            {
                "key": f"bench/{i:06d}.py",
                "Path": f"bench/{i:06d}.py",
                "SHA": f"{gen}-{i:038x}",
                "Type": "python",
                "Size": i,
                "Preview": f"print({i})\n",
                "Component": "bench",
            }
            for i in range(start, start + n)
        ]
    )
    df.attrs["sync_mode"] = "full"
    return df


def bench_requests(sandbox: SandboxServer, ledger: str, redis_url: str, n: int) -> None:
    manager = open_sync_manager(
        notion_base_url=sandbox.url,
        token=SANDBOX_TOKEN,
        parent_page_id=sandbox.root_page_id,
        postgres_url=ledger,
        redis_url=redis_url,
        rps=10_000,
    )
    create = manager.sync("file_catalog", rows(n))
    changed = rows(n)
    step = 10
    changed.loc[changed.index % step == 0, "SHA"] = "changed"
    update = manager.sync("file_catalog", changed)
    unchanged = manager.sync("file_catalog", changed)
    reconcile = manager.sync("file_catalog", changed, reconcile=True)
    print("== requests per changed record ==")
    for label, count, requests in (
        ("create", create.created, create.requests),
        ("update", update.updated, update.requests),
    ):
        print(f"{label} {count} records: {requests} requests = {requests / max(1, count):.2f}/record")
    print(f"re-sync {unchanged.unchanged} unchanged records: {unchanged.requests} requests (writes: 0 expected)")
    print(
        f"full reconcile of {n} records, nothing changed: {reconcile.requests} requests "
        f"(= {reconcile.requests / n * 100:.2f} per 100 rows), {reconcile.updated} writes"
    )
    manager.close()


WORKER = """
import os, sys, time
import pandas as pd
from ssot_pipelines.notion.setup import open_sync_manager
sys.path.insert(0, os.environ["BENCH_DIR"])
from bench_sync import rows
m = open_sync_manager(notion_base_url=os.environ["URL"], token="sandbox-token", parent_page_id=os.environ["ROOT"],
                      postgres_url=os.environ["PG"], redis_url=os.environ["REDIS"], rps=float(os.environ["RPS"]))
df = rows(int(os.environ["N"]), start=int(os.environ["START"]))
df.attrs["sync_mode"] = "incremental"
t0 = time.time()
r = m.sync("file_catalog", df)
print(f"{t0} {time.time()} {r.requests} {r.rate_limited}", flush=True)
"""


def bench_pacing(sandbox: SandboxServer, ledger: str, redis_url: str, per_process: int, rps: float) -> None:
    # provision once, so the measured window holds only the sync traffic
    open_sync_manager(
        notion_base_url=sandbox.url,
        token=SANDBOX_TOKEN,
        parent_page_id=sandbox.root_page_id,
        postgres_url=ledger,
        redis_url=redis_url,
        rps=10_000,
    ).close()
    sandbox.set_rate_limit(3.0, burst=3)
    sandbox.reset_stats()
    env = {
        **os.environ,
        "URL": sandbox.url,
        "ROOT": sandbox.root_page_id,
        "PG": ledger,
        "REDIS": redis_url,
        "RPS": str(rps),
        "N": str(per_process),
        "BENCH_DIR": str(Path(__file__).parent),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env={**env, "START": str(100_000 * (k + 1))},
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outs = [p.communicate()[0].strip().splitlines()[-1].split() for p in procs]
    start = min(float(o[0]) for o in outs)
    end = max(float(o[1]) for o in outs)
    requests = sum(int(o[2]) for o in outs)
    limited = sum(int(o[3]) for o in outs)
    stats = sandbox.stats()
    achieved = requests / (end - start)
    print("== four processes, sandbox enforcing 3 requests/second ==")
    print(
        f"configured pace {rps:.2f} rps; {requests} requests in {end - start:.1f}s = {achieved:.2f} rps "
        f"({achieved / rps * 100:.1f}% of the pace); 429s seen by clients: {limited}; "
        f"429s served by the sandbox: {stats.get('rate_limited_429', stats.get('rate_limited', 'n/a'))}"
    )
    sandbox.set_rate_limit(None)


def bench_overhead(sandbox: SandboxServer, ledger: str, redis_url: str, n: int) -> None:
    manager = open_sync_manager(
        notion_base_url=sandbox.url,
        token=SANDBOX_TOKEN,
        parent_page_id=sandbox.root_page_id,
        postgres_url=ledger,
        redis_url=redis_url,
        rps=10_000,
        retry=RetrySettings(),
    )
    ds = manager.ids["drift_board"].data_source_id
    frame = pd.DataFrame([{"key": f"o{i}", "Name": f"row {i}", "Drift Score": i / n} for i in range(n)])
    frame.attrs["sync_mode"] = "full"
    t0 = time.perf_counter()
    manager.sync("drift_board", frame)
    engine = (time.perf_counter() - t0) / n
    client = Client(auth=SANDBOX_TOKEN, base_url=sandbox.url, retry=False)
    t0 = time.perf_counter()
    for i in range(n):
        client.pages.create(
            parent={"type": "data_source_id", "data_source_id": ds},
            properties={
                "Name": {"title": [{"type": "text", "text": {"content": f"plain {i}"}}]},
                "Key": {"rich_text": [{"type": "text", "text": {"content": f"p{i}"}}]},
                "Drift Score": {"number": i / n},
            },
        )
    plain = (time.perf_counter() - t0) / n
    print("== engine overhead (sandbox limit lifted) ==")
    print(
        f"engine {engine * 1000:.2f} ms/record vs plain notion-client loop {plain * 1000:.2f} ms/record "
        f"(overhead {(engine - plain) * 1000:.2f} ms/record: ledger checkpoints, hashing, pacer)"
    )
    manager.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--pace-records", type=int, default=40, help="records per process in the pacing run")
    parser.add_argument("--rps", type=float, default=2.5)
    parser.add_argument("--overhead-records", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SSOT_HOME"] = tmp
        pg = embedded_postgres_url(Path(tmp) / "pg")
        redis_url = embedded_redis_url(Path(tmp) / "redis")
        try:
            run_all(args, Path(tmp), pg, redis_url)
        finally:
            stop_embedded_postgres(Path(tmp) / "pg")
            stop_embedded_redis(Path(tmp) / "redis")


def run_all(args: argparse.Namespace, tmp: Path, pg: str, redis_url: str) -> None:
    with SandboxServer(tmp / "notion.sqlite", rate_limit_rps=None, tokens=(SANDBOX_TOKEN,)) as sandbox:
        with throwaway_ledger("requests", pg) as (url, _):
            bench_requests(sandbox, url, redis_url, args.records)
        with throwaway_ledger("overhead", pg) as (url, _):
            bench_overhead(sandbox, url, redis_url, args.overhead_records)
        with throwaway_ledger("pacing", pg) as (url, _):
            bench_pacing(sandbox, url, redis_url, args.pace_records, args.rps)


if __name__ == "__main__":
    main()
