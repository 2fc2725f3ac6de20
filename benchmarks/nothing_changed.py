"""Requests of a second full sync with nothing changed: a catalog of 10,000 files, their drift scores and
20,000 Tech-Debt findings. Target: 0 writes; the reads are the reconcile's read-back of Notion.

The syncs run in-process through the same code as ``full_sync_job``'s assets (provisioning, then each
database's extract function and ``NotionSyncManager.sync(..., reconcile=True)``, in the job's order), against
the local sandbox with its rate limit lifted, through the real notion-client over HTTP. Three rounds: the
first creates everything (drift baselines), then 5 % of the files are edited and the linter report changes,
the second sync carries that, and the third, with nothing changed, is the one measured.

Run: ``.venv/bin/python benchmarks/nothing_changed.py`` (``--files 1000`` for a quick run). Uses
POSTGRES_URL / REDIS_URL or the embedded services (a throwaway ledger database). Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from catalog_common import build_tree
from ledger_db import throwaway_ledger

from ssot_pipelines.analysis.defs import extract_tech_debt
from ssot_pipelines.analysis.importers import read_report
from ssot_pipelines.analysis.store import record_report
from ssot_pipelines.assets.notion_sync import ExtractContext, SyncConfig, ledger_records
from ssot_pipelines.catalog.extract import extract_file_catalog
from ssot_pipelines.drift.defs import extract_drift_board, extract_secondbrain_tasks
from ssot_pipelines.notion.provision import provision
from ssot_pipelines.notion.setup import open_sync_manager, resolve_redis_url
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.sessions.records import extract_cli_sessions
from ssot_pipelines.vectors.hashing import HashingEmbedder

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts

PACE = 2.5  # Notion's pace, requests per second
# full_sync_job's Notion assets in the order their dependencies allow.
EXTRACTS: list[tuple[str, Callable[[ExtractContext], Any]]] = [
    ("file_catalog", extract_file_catalog),
    ("cli_sessions", extract_cli_sessions),
    ("slack_conversations", ledger_records("slack_conversations")),
    ("task_tracking", ledger_records("task_tracking")),
    ("tech_debt", extract_tech_debt),
    ("drift_board", extract_drift_board),
    ("secondbrain_tasks", extract_secondbrain_tasks),
]


def ruff_report(repo: Path, paths: list[str], out: Path, edited: set[str]) -> Path:
    """Two findings per text file (the linter's JSON): 10,000 files carry about 20,000 findings. In an edited
    file the first finding's message differs, as a linter's would after the edit."""
    findings = []
    for rel in (p for p in paths if not p.endswith(".bin")):
        unused = "`os` imported but unused" + (" (edited)" if rel in edited else "")
        for row, code, message in ((1, "F401", unused), (3, "E501", "Line too long")):
            findings.append(
                {
                    "code": code,
                    "message": message,
                    "filename": str(repo / rel),
                    "location": {"row": row, "column": 1},
                    "end_location": {"row": row, "column": 9},
                }
            )
    out.write_text(json.dumps(findings), encoding="utf-8")
    return out


def full_sync(manager: NotionSyncManager, conn: Any, url: str, parent: str) -> dict[str, Any]:
    """One full_sync_job's Notion work: provisioning, then every database extracted and reconciled."""
    manager.ids, manager.provisioned = provision(manager.gateway, manager.conn, manager.target, parent)
    log = logging.getLogger("bench")
    reports = {}
    for name, extract in EXTRACTS:
        ctx = ExtractContext(
            config=SyncConfig(full=True),
            log=log,
            ledger=conn,
            redis=redis.Redis.from_url(resolve_redis_url()),
            postgres_url=url,
            vectors=lambda: None,
            embedder=HashingEmbedder,
            notifier=None,
            run_id="bench",
            sync=manager,
        )
        frame = extract(ctx)
        reports[name] = manager.sync(name, frame, reconcile=True)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    base = Path(tempfile.mkdtemp(prefix="nothing-changed-bench-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
    sandbox.start()
    os.environ.update(
        {
            "SSOT_REPO_ROOTS": f"repo={base / 'repo'}",
            "SSOT_EMBEDDER": "hashing",
            "SSOT_JOURNAL_DIR": str(base / "journal"),
            "CLAUDE_CONFIG_DIR": str(base / "claude"),
            "CODEX_HOME": str(base / "codex"),
        }
    )
    try:
        repo = base / "repo"
        repo.mkdir()
        paths, _ = build_tree(repo, args.files)
        with throwaway_ledger("nothing_changed") as (url, conn):
            manager = open_sync_manager(
                notion_base_url=sandbox.url,
                token=SANDBOX_TOKEN,
                parent_page_id=sandbox.root_page_id,
                postgres_url=url,
                redis_url=resolve_redis_url(),
                rps=100_000.0,
            )
            try:

                def import_report(edited: set[str]) -> None:
                    report = read_report(ruff_report(repo, paths, base / f"ruff{len(edited)}.json", edited), None)
                    record_report(conn, report, repo_root=repo, source="ruff", whole_repository=True)
                    conn.commit()

                import_report(set())
                t0 = time.perf_counter()
                first = full_sync(manager, conn, url, sandbox.root_page_id)
                print(
                    f"first full sync: {sum(r.created for r in first.values()):,} pages created "
                    f"({sum(r.requests for r in first.values()):,} requests) in {time.perf_counter() - t0:.0f}s"
                )

                edited = set(paths[::20])  # 5 % of the files edited, one finding of each changed
                for rel in edited:
                    with open(repo / rel, "ab") as fh:
                        fh.write(b"\n# edited\n")
                import_report(edited)
                t0 = time.perf_counter()
                second = full_sync(manager, conn, url, sandbox.root_page_id)
                print(
                    f"second full sync (5 % edited, report changed): "
                    f"{sum(r.updated + r.created for r in second.values()):,} rows written in "
                    f"{time.perf_counter() - t0:.0f}s"
                )

                import_report(edited)  # the same report again: a new analysis run that changes nothing
                sandbox.reset_stats()
                t0 = time.perf_counter()
                third = full_sync(manager, conn, url, sandbox.root_page_id)
                seconds = time.perf_counter() - t0
                stats = sandbox.stats()
            finally:
                manager.close()
                manager.conn.close()
        rows = {name: r.unchanged + r.updated + r.created for name, r in third.items()}
        print(
            f"third full sync, nothing changed: {sum(rows.values()):,} rows "
            f"({', '.join(f'{n} {c:,}' for n, c in rows.items() if c)})"
        )
        queries = sum(n for kind, n in stats["by_endpoint"].items() if "query" in kind)
        print(f"  writes applied: {stats['writes_applied']} (by data source: {stats['writes_by_data_source']})")
        print(
            f"  requests: {stats['requests']:,} = {queries:,} data-source queries + "
            f"{stats['requests'] - queries:,} other reads ({stats['by_endpoint']})"
        )
        print(
            f"  engine: {sum(r.updated for r in third.values())} updated, "
            f"{sum(r.body_writes for r in third.values())} body writes, "
            f"{sum(r.created for r in third.values())} created, {sum(r.archived for r in third.values())} archived"
        )
        print(
            f"  time here (rate limit lifted): {seconds:.1f}s; the same reads at {PACE} requests/s: "
            f"{stats['requests'] / PACE:.0f}s ({stats['requests'] / PACE / 60:.1f} min)"
        )
    finally:
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
