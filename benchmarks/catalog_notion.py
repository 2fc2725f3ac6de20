"""Notion requests of File Catalog syncs: a catalog of 10,000 files with 1% of them changed.

Incremental sync target: one write per changed file and nothing else. Full reconcile target: writes only
for the changed files plus at most one query per 100 rows. Against the local sandbox with its rate limit
lifted, through the real notion-client over HTTP.

Run: ``.venv/bin/python benchmarks/catalog_notion.py`` (``--files 1000`` for a quick run). Uses
POSTGRES_URL / REDIS_URL or the embedded services (a throwaway ledger database). Prints figures only.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from catalog_common import build_tree
from ledger_db import throwaway_ledger

from ssot_pipelines.catalog.config import DEFAULT_EXCLUDES, CatalogConfig, RepoRoot
from ssot_pipelines.catalog.extract import build_catalog_records
from ssot_pipelines.notion.setup import open_sync_manager, resolve_redis_url
from ssot_pipelines.sandbox import SandboxServer

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts


def change(repo: Path, paths: list[str], every: int, salt: str) -> int:
    changed = 0
    for rel in paths[::every]:
        with open(repo / rel, "ab") as fh:
            fh.write(f"\n# changed {salt}\n".encode())
        changed += 1
    return changed


def describe(label: str, report, stats: dict, changed: int, rows: int) -> None:  # type: ignore[no-untyped-def]
    by_method = stats["by_method"]
    writes = by_method.get("POST", 0) + by_method.get("PATCH", 0)
    # Queries are POSTs too: count them by endpoint.
    queries = sum(n for kind, n in stats["by_endpoint"].items() if "query" in kind)
    writes -= queries
    other = stats["requests"] - writes - queries
    print(
        f"{label}: {changed} changed files of {rows:,}: {stats['requests']} requests "
        f"({writes} writes = {writes / max(changed, 1):.2f} per changed file, {queries} queries = "
        f"{queries / max(rows / 100, 1):.2f} per 100 rows, other {other}); "
        f"engine report: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.archived} archived in {report.seconds:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    args = parser.parse_args()
    every = max(1, round(100 / args.changed_pct))

    base = Path(tempfile.mkdtemp(prefix="catalog-notion-bench-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
    sandbox.start()
    try:
        repo = base / "repo"
        repo.mkdir()
        paths, _ = build_tree(repo, args.files)
        config = CatalogConfig(roots=(RepoRoot("repo", repo),), excludes=DEFAULT_EXCLUDES)
        with throwaway_ledger("catalog") as (url, conn):
            manager = open_sync_manager(
                notion_base_url=sandbox.url,
                token=SANDBOX_TOKEN,
                parent_page_id=sandbox.root_page_id,
                postgres_url=url,
                redis_url=resolve_redis_url(),
                rps=100_000.0,
            )
            try:
                t0 = time.perf_counter()
                frame, _ = build_catalog_records(conn, config)
                first = manager.sync("file_catalog", frame)
                print(
                    f"initial sync: {first.created:,} pages created in {time.perf_counter() - t0:.1f}s "
                    f"({first.requests:,} requests)"
                )

                changed = change(repo, paths, every, "a")
                sandbox.reset_stats()
                t0 = time.perf_counter()
                frame, result = build_catalog_records(conn, config)
                report = manager.sync("file_catalog", frame)
                print(f"  (incremental scan {result.seconds:.2f}s, sync {time.perf_counter() - t0:.2f}s total)")
                describe("incremental sync", report, sandbox.stats(), changed, result.scanned)

                changed = change(repo, paths[every // 2 :], every, "b")
                sandbox.reset_stats()
                t0 = time.perf_counter()
                frame, result = build_catalog_records(conn, config, full=True)
                report = manager.sync("file_catalog", frame, reconcile=True)
                print(f"  (full scan {result.seconds:.2f}s, reconcile {time.perf_counter() - t0:.2f}s total)")
                describe("full reconcile", report, sandbox.stats(), changed, result.scanned)
            finally:
                manager.close()
                manager.conn.close()
    finally:
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
