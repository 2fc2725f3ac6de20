"""Time from a hook event to its session page showing the event, against the local Notion sandbox.

Run: ``.venv/bin/python benchmarks/sessions_notion_latency.py [--events 10]``. Each round runs ssot-hook
(a new prompt in one live session), then what a ``cli_session_sensor`` run does (journal -> PostgreSQL,
extract, sync), then reads the page body back until the prompt is there. Under Dagster add the sensor
tick (30 s at most) and the run launch. Uses POSTGRES_URL or the embedded PostgreSQL (throwaway
database), an embedded Redis and a sandbox with its default rate limit. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger_db import throwaway_ledger
from sessions_common import ROOT

from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.services.embedded import embedded_redis_url, stop_embedded_redis
from ssot_pipelines.sessions.records import cli_session_frame, mark_extracted
from ssot_pipelines.sessions.worker import WorkerConfig, run_pass

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args()
    script = Path(sys.prefix) / "bin" / "ssot-hook"
    hook = [str(script)] if script.exists() else [sys.executable, "-m", "ssot_pipelines.sessions.hook"]
    with tempfile.TemporaryDirectory() as tmp, throwaway_ledger("sessions") as (url, _):
        journal_dir = Path(tmp) / "journal"
        env = {**os.environ, "SSOT_JOURNAL_DIR": str(journal_dir), "PYTHONPATH": str(ROOT)}
        server = SandboxServer(Path(tmp) / "notion.sqlite", port=0, tokens=(SANDBOX_TOKEN,))
        server.start()
        redis_url = embedded_redis_url(Path(tmp) / "redis")
        try:
            manager = open_sync_manager(
                notion_base_url=server.url,
                token=SANDBOX_TOKEN,
                parent_page_id=server.root_page_id,
                postgres_url=url,
                redis_url=redis_url,
            )
            conn = connect(url)
            cfg = WorkerConfig(postgres_url=url, redis_url=redis_url, journal_directory=journal_dir, recall=False)
            figures = []
            for i in range(args.events):
                marker = f"benchmark prompt {i} {time.time_ns()}"
                payload = {
                    "hook_event_name": "UserPromptSubmit",
                    "session_id": "bench-live",
                    "cwd": str(ROOT),
                    "prompt": marker,
                }
                start = time.perf_counter()
                subprocess.run(hook, input=json.dumps(payload).encode(), env=env, check=True)
                run_pass(cfg)
                frame = cli_session_frame(conn, manager.target)
                mark_extracted(conn, frame)
                manager.sync("cli_sessions", frame)
                page_id = manager.page_id("cli_sessions", "bench-live#1")
                while page_id is None or marker not in manager.read_body(page_id):
                    time.sleep(0.05)
                    page_id = manager.page_id("cli_sessions", "bench-live#1")
                figures.append(time.perf_counter() - start)
            conn.close()
            manager.close()
        finally:
            server.stop()
            stop_embedded_redis(Path(tmp) / "redis")
    print(f"hook event -> visible in its Notion page (sandbox, {args.events} events, one growing session):")
    print(
        f"  first (page created) {figures[0]:.2f} s; then median {statistics.median(figures[1:] or figures):.2f} s,"
        f" max {max(figures[1:] or figures):.2f} s"
    )
    print("  (under Dagster add the cli_session_sensor interval, 30 s at most, and the run launch)")


if __name__ == "__main__":
    main()
