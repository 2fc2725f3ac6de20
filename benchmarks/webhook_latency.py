"""Time from a person's edit in the Notion sandbox to the ledger, through ``ssot notion webhook serve``.

Run: ``.venv/bin/python benchmarks/webhook_latency.py [--edits 50]``. Starts a sandbox (no rate limit), syncs
50 File Catalog rows into it with the engine, starts the real ``ssot notion webhook serve`` process on a free
port, registers it as the sandbox's webhook subscription (the handshake stores the token), then edits one
row's Notes "as a person" (``/__sandbox/person/v1/...``) at a time and polls the ledger every 10 ms until the
new value is there. The path timed: the sandbox's signed delivery, signature check, fsynced journal, the
drain's page read through the engine (``pull_page``) and the ledger write. Prints median, p99 and max.
Asserts nothing.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from ledger_db import ROOT, throwaway_ledger
from notion_client import Client
from sessions_common import percentile

from ssot_pipelines.notion.desired import SyncRecord
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.services.redis_url import resolve_redis_url


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    redis_url = resolve_redis_url()
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_ledger("webhook") as (url, _conn),
        SandboxServer(Path(tmp) / "notion.sqlite", rate_limit_rps=None) as sandbox,
    ):
        manager = open_sync_manager(
            notion_base_url=sandbox.url,
            token=sandbox.token,
            parent_page_id=sandbox.root_page_id,
            postgres_url=url,
            redis_url=redis_url,
            rps=1000.0,
        )
        keys = [f"repo/src/m{i:03d}.py" for i in range(50)]
        manager.sync("file_catalog", [SyncRecord(k, {"Path": k.removeprefix("repo/")}) for k in keys])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        env = {
            **os.environ,
            "SSOT_HOME": str(Path(tmp) / "home"),
            "POSTGRES_URL": url,
            "REDIS_URL": redis_url,
            "NOTION_BASE_URL": sandbox.url,
            "NOTION_TOKEN": sandbox.token,
            "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
            "NOTION_RPS": "1000",
            "PYTHONPATH": str(ROOT),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines.cli", "notion", "webhook", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            print(proc.stdout.readline().decode().strip())
            httpx.post(
                f"{sandbox.url}/__sandbox/webhooks",
                headers={"Authorization": f"Bearer {sandbox.token}"},
                json={"url": f"http://127.0.0.1:{port}/", "verification_token": "bench-verification-token"},
            )
            person = Client(auth=sandbox.token, base_url=f"{sandbox.url}/__sandbox/person", retry=False)
            time.sleep(1)  # the handshake lands first
            timings = []
            for n in range(args.edits):
                key = keys[n % len(keys)]
                page_id = manager.page_id("file_catalog", key)
                text = f"edit {n} by a person"
                started = time.perf_counter()
                person.pages.update(page_id, properties={"Notes": {"rich_text": [{"text": {"content": text}}]}})
                while manager.human_values("file_catalog", key).get("Notes") != text:
                    if time.perf_counter() - started > 60:
                        raise SystemExit(f"edit {n} did not reach the ledger within 60 s")
                    time.sleep(0.01)
                timings.append((time.perf_counter() - started) * 1000)
            print(
                f"{len(timings)} person edits, edit to ledger through the webhook: median "
                f"{statistics.median(timings):.0f} ms, p99 {percentile(timings, 0.99):.0f} ms, "
                f"max {max(timings):.0f} ms"
            )
        finally:
            proc.terminate()
            proc.wait(10)
            manager.close()


if __name__ == "__main__":
    main()
