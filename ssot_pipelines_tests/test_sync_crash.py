"""A sync process killed with SIGKILL at random points, then re-run, ends exactly equal to the source."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager, text_of

SYNC_SCRIPT = """
import os, sys
import pandas as pd
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.notion.gateway import RetrySettings

gen = int(os.environ["GEN"])
rows = []
for i in range(int(os.environ["N"])):
    rows.append({"key": f"k{i:04d}", "Path": f"p/{i}.py", "SHA": f"{gen}-{i}", "Size": i,
                 "body": (f"gen {gen} line {i} 🚀\\n" * (400 if i % 10 == 0 else 3))})
df = pd.DataFrame(rows)
df.attrs["sync_mode"] = "full"
m = open_sync_manager(notion_base_url=os.environ["URL"], token="sandbox-token",
                      parent_page_id=os.environ["ROOT"], postgres_url=os.environ["PG"],
                      redis_url=os.environ["REDIS"], rps=1000.0,
                      retry=RetrySettings(max_attempts=5, base_seconds=0.01, max_backoff_seconds=0.1))
print("ready", flush=True)
report = m.sync("file_catalog", df)
print(report.summary())
sys.exit(1 if report.failed else 0)
"""


STARTUP_SECONDS = 0.85  # what the kill times were chosen with on an idle machine


def run_sync(env: dict[str, str], gen: int, kill_after: float | None) -> int | None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SYNC_SCRIPT],
        env={**env, "GEN": str(gen)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if kill_after is None:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out.decode()
        return 0
    # the kill is timed from the start of the sync, not of the process: start-up time varies with load
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(max(kill_after - STARTUP_SECONDS, 0.0))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return None


def test_sigkill_at_random_points_then_rerun_ends_equal(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    n = 300
    env = {
        **os.environ,
        "N": str(n),
        "URL": sandbox.url,
        "ROOT": sandbox.root_page_id,
        "PG": ledger_url,
        "REDIS": redis_url,
    }
    with sync_manager(sandbox, ledger_url, redis_url) as sync:  # provision first so kills land in the sync
        ds = sync.ids["file_catalog"].data_source_id
    rng = random.Random(1234)
    progress = []
    for gen in range(6):
        # each generation changes every value and body, so every kill interrupts real work
        run_sync(env, gen, kill_after=rng.uniform(0.9, 2.5))
        live = live_rows(person(sandbox), ds)
        progress.append(sum(1 for pages in live.values() for p in pages if text_of(p, "SHA").startswith(f"{gen}-")))
    assert any(0 < done < n for done in progress), f"no kill landed mid-sync: {progress}"
    run_sync(env, 5, kill_after=None)

    live = live_rows(person(sandbox), ds)
    assert sorted(live) == [f"k{i:04d}" for i in range(n)], "no missing row"
    assert all(len(pages) == 1 for pages in live.values()), "no duplicate row"
    assert all(text_of(pages[0], "SHA") == f"5-{int(k[1:])}" for k, pages in live.items()), "no stale value"
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        for i in (0, 10, 20, 7):
            page_id = sync.page_id("file_catalog", f"k{i:04d}")
            assert page_id is not None
            expected = f"gen 5 line {i} 🚀\n" * (400 if i % 10 == 0 else 3)
            assert sync.read_body(page_id) == expected, "bodies are complete, never doubled"
