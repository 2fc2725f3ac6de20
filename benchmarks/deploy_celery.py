"""full_sync_job on the multiprocess executor and on N dagster-celery workers: wall time and overheads.

Both runs do the same work from scratch: a fresh Notion sandbox (3 requests/s, as Notion), a fresh ledger
and Dagster storage database, a repository of ``--files`` files, through `dagster job execute` exactly as a
person runs it. For Celery it also prints how long a worker takes to be ready, how long a step waits between
the worker receiving it and Dagster starting it (loading the code location in the worker process), and how
the steps spread over the workers.

Run: ``.venv/bin/python benchmarks/deploy_celery.py [--files 50] [--workers 2]``. Uses POSTGRES_URL /
REDIS_URL or the embedded services. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from ledger_db import database_url, throwaway_ledger

from ssot_pipelines.ledger import resolve_postgres_url
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.settings import ssot_home
from ssot_pipelines_tests.celery_fixtures import (
    create_database,
    deployment_env,
    drop_database,
    execute_job,
    ssot_worker,
    step_lines,
    workers,
)

STEP_START = re.compile(
    r'^\[(?P<at>[\d-]+ [\d:]+),(?P<ms>\d+):.*STEP_START - Started execution of step "(?P<step>\w+)"'
)


def _stamp(at: str, ms: str) -> float:
    return time.mktime(time.strptime(at, "%Y-%m-%d %H:%M:%S")) + int(ms) / 1000


def one_run(executor: str, files: int, n_workers: int, tmp: Path) -> None:
    repo = tmp / "repo"
    repo.mkdir()
    for i in range(files):
        (repo / f"module_{i}.py").write_text(f"VALUE = {i}\n")
    server_url = resolve_postgres_url()
    dagster_db = f"ssot_bench_dagster_{uuid.uuid4().hex[:8]}"
    with (
        SandboxServer(tmp / "notion.sqlite", port=0, rate_limit_rps=3.0, tokens=("sandbox-token",)) as sandbox,
        throwaway_ledger(f"deploy_{executor}") as (ledger_url, _conn),
    ):
        create_database(server_url, dagster_db)
        try:
            env = deployment_env(tmp, sandbox, ledger_url, database_url(server_url, dagster_db), repo)
            # this process's embedded Redis (or REDIS_URL): broker, backend and pacer for every subprocess
            env.update(SSOT_EXECUTOR=executor, SSOT_HOME=str(ssot_home()), REDIS_URL=os.environ.get("REDIS_URL", ""))
            if executor == "multiprocess":
                started = time.monotonic()
                result = execute_job("full_sync_job", env, tmp)
                wall = time.monotonic() - started
                print(
                    f"multiprocess: full_sync_job {wall:.1f} s (exit {result.returncode}); "
                    f"{sandbox.stats()['requests']} requests, {sandbox.stats()['rate_limited_429']} x 429"
                )
                return
            specs = [(ssot_worker(f"w{i + 1}"), tmp / f"w{i + 1}.log") for i in range(n_workers)]
            ready_started = time.monotonic()
            with workers(*specs, env=env, cwd=tmp) as running:
                ready = time.monotonic() - ready_started
                started = time.monotonic()
                result = execute_job("full_sync_job", env, tmp)
                wall = time.monotonic() - started
                texts = [w.text() for w in running]
            waits: list[float] = []
            spread: Counter[str] = Counter()
            for text in texts:
                received = {s.step: s.at for s in step_lines(text) if s.what == "started"}
                spread.update(s.worker for s in step_lines(text) if s.what == "started")
                for line in text.splitlines():
                    m = STEP_START.match(line)
                    if m and m["step"] in received:
                        waits.append(_stamp(m["at"], m["ms"]) - received[m["step"]])
            print(
                f"celery x{n_workers}: workers ready in {ready:.1f} s; full_sync_job {wall:.1f} s "
                f"(exit {result.returncode}); {sandbox.stats()['requests']} requests, "
                f"{sandbox.stats()['rate_limited_429']} x 429"
            )
            print(f"  steps per worker: {dict(spread)}")
            if waits:
                print(
                    f"  worker received -> step started: median {statistics.median(waits):.1f} s, "
                    f"max {max(waits):.1f} s over {len(waits)} steps (code location loaded per step process)"
                )
        finally:
            drop_database(server_url, dagster_db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for executor in ("multiprocess", "celery"):
        with tempfile.TemporaryDirectory(prefix=f"ssot-bench-{executor}-") as tmp:
            one_run(executor, args.files, args.workers, Path(tmp))


if __name__ == "__main__":
    main()
