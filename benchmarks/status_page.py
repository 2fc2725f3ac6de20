"""Requests and time of the "SSoT Status" page refresh (issue 13 §2). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/status_page.py              # 10,000 File Catalog rows
    .venv/bin/python benchmarks/status_page.py --rows 1000

A File Catalog of ``--rows`` records is synced into a local sandbox (rate limit lifted), then the page is
refreshed in each situation a run meets: first creation, a run with nothing to do, a run that changed one
record, a read-back (full sync / by hand), and a page a person trashed. Uses POSTGRES_URL / REDIS_URL or
the embedded services (a throwaway ledger database).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from ledger_db import throwaway_ledger
from notion_client import Client

from ssot_pipelines.notion.gateway import RetrySettings
from ssot_pipelines.notion.setup import open_sync_manager, resolve_redis_url
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.statuspage.page import StatusUpdate, gather_sections, refresh_status_page

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts


def catalog(n: int, gen: int = 0) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {"key": f"bench/{i:06d}.py", "Path": f"bench/{i:06d}.py", "SHA": f"{gen if i == 0 else 0}-{i:038x}"}
            for i in range(n)
        ]
    )
    frame.attrs["sync_mode"] = "full"
    return frame


def timed(label: str, manager: NotionSyncManager, **kwargs: bool) -> StatusUpdate:
    started = time.perf_counter()
    update = refresh_status_page(manager, **kwargs)
    seconds = time.perf_counter() - started
    print(
        f"  {label:44} {update.requests:3d} requests  {update.blocks_written:3d} blocks written  "
        f"{seconds * 1000:8.1f} ms"
    )
    return update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_ledger("status") as (url, _conn):
        sandbox = SandboxServer(Path(tmp) / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
        sandbox.start()
        try:
            manager = open_sync_manager(
                notion_base_url=sandbox.url,
                token=SANDBOX_TOKEN,
                parent_page_id=sandbox.root_page_id,
                postgres_url=url,
                redis_url=resolve_redis_url(None),
                rps=1000.0,
                retry=RetrySettings(max_attempts=5, base_seconds=0.05, max_backoff_seconds=0.5),
            )
            with manager:
                started = time.perf_counter()
                manager.sync("file_catalog", catalog(args.rows))
                print(f"synced {args.rows:,} File Catalog rows in {time.perf_counter() - started:.1f}s")
                # A fresh ledger has no planner statistics until autovacuum's ANALYZE (within about a minute
                # of a bulk insert): both are shown, the second is the steady state.
                for when in ("before ANALYZE", "after ANALYZE"):
                    if when == "after ANALYZE":
                        manager.conn.execute("ANALYZE records, notion_rows")
                        manager.conn.commit()
                    started = time.perf_counter()
                    sections = gather_sections(manager)
                    print(
                        f"gathering the figures of {len(sections)} sections (ledger SQL, no request), {when}: "
                        f"{(time.perf_counter() - started) * 1000:.1f} ms"
                    )
                print("status page refresh:")
                timed("first run: page created", manager)
                manager.sync("file_catalog", catalog(args.rows))
                timed("a run with nothing to do", manager)
                manager.sync("file_catalog", catalog(args.rows, gen=1))
                timed("a run that changed one record", manager)
                timed("read back (full sync, ssot statuspage)", manager, verify=True)
                page = manager.conn.execute("SELECT page_id FROM status_pages").fetchone()
                assert page is not None
                Client(auth=SANDBOX_TOKEN, base_url=sandbox.url).request(
                    path=f"pages/{page['page_id']}", method="PATCH", body={"in_trash": True}
                )
                timed("read back after a person trashed the page", manager, verify=True)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
