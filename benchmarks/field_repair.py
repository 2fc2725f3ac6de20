"""Time for the next ordinary run to finish after a File Catalog sync was killed with SIGKILL mid-sync.

A catalog of ``--files`` files is synced; then ``--changed`` files change, ``--added`` appear, two are
deleted and one renamed, and ``ssot catalog sync`` (incremental, paced at ``--rps`` requests/s) is killed
(its whole process group) once ``--kill-after`` of its Notion writes landed. The figures: how long the next
ordinary ``ssot catalog sync`` takes to repair everything (process start to exit), its requests, and a
check that Notion then equals the tree with one live page per file. Measures the ledger-repair run only
(the Dagster daemon and pool slots are measured elsewhere).

Run: ``.venv/bin/python benchmarks/field_repair.py`` (``--files 2000`` by default). Uses POSTGRES_URL /
REDIS_URL or the embedded services (a throwaway ledger database). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalog_common import ROOT, build_tree
from ledger_db import throwaway_ledger

from ssot_pipelines.notion.setup import open_sync_manager, resolve_redis_url
from ssot_pipelines.notion.text import plain_text
from ssot_pipelines.sandbox import SandboxServer

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts

SSOT = str(Path(sys.executable).parent / "ssot")


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--changed", type=int, default=120)
    parser.add_argument("--added", type=int, default=10)
    parser.add_argument("--rps", type=float, default=2.5, help="pace of the killed run (Notion's: 2.5)")
    parser.add_argument("--repair-rps", type=float, default=2.5, help="pace of the repair run")
    parser.add_argument("--kill-after", type=int, default=40, help="writes of the killed run before the kill")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="field-repair-bench-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
    sandbox.start()
    try:
        repo = base / "repo"
        repo.mkdir()
        paths, _ = build_tree(repo, args.files)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "tree")
        with throwaway_ledger("repair") as (url, conn):
            env = {
                **os.environ,
                "NOTION_TOKEN": SANDBOX_TOKEN,
                "NOTION_BASE_URL": sandbox.url,
                "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
                "POSTGRES_URL": url,
                "REDIS_URL": resolve_redis_url(),
                "SSOT_REPO_ROOTS": f"repo={repo}",
                "NOTION_RPS": "100000",
            }
            t0 = time.perf_counter()
            subprocess.run([SSOT, "catalog", "sync"], env=env, cwd=ROOT, check=True, capture_output=True)
            print(f"initial sync of {args.files:,} files: {time.perf_counter() - t0:.1f}s")

            for rel in paths[: args.changed]:
                with open(repo / rel, "ab") as fh:
                    fh.write(b"\n# changed\n")
            for i in range(args.added):
                (repo / f"added_{i}.py").write_text(f"added = {i}\n")
            (repo / paths[-1]).unlink()
            (repo / paths[-2]).unlink()
            renamed = repo / paths[-3]
            renamed.rename(renamed.with_name("renamed_" + renamed.name))
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "changes")
            work = args.changed + args.added + 3

            started = conn.execute("SELECT now() AS t").fetchone()["t"]  # type: ignore[index]
            conn.commit()
            proc = subprocess.Popen(
                [SSOT, "catalog", "sync"],
                env={**env, "NOTION_RPS": str(args.rps)},
                cwd=ROOT,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            written = 0
            while proc.poll() is None and written < args.kill_after:
                time.sleep(0.05)
                written = conn.execute(
                    "SELECT count(*) AS n FROM notion_rows WHERE synced_at > %s", (started,)
                ).fetchone()["n"]  # type: ignore[index]
                conn.commit()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"killed run: SIGKILL after {written} of about {work} row writes")

            sandbox.reset_stats()
            t0 = time.perf_counter()
            subprocess.run(
                [SSOT, "catalog", "sync"],
                env={**env, "NOTION_RPS": str(args.repair_rps)},
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            seconds = time.perf_counter() - t0
            stats = sandbox.stats()
            print(
                f"next ordinary run (ssot catalog sync, {args.repair_rps} requests/s): {seconds:.1f}s from start "
                f"to exit, {stats['requests']} requests"
            )

            manager = open_sync_manager(
                notion_base_url=sandbox.url,
                token=SANDBOX_TOKEN,
                parent_page_id=sandbox.root_page_id,
                postgres_url=url,
                redis_url=resolve_redis_url(),
                rps=100_000.0,
                provision_databases=False,
            )
            with manager:
                pages = manager.gateway.query_all(manager.ids["file_catalog"].data_source_id)
            keys = [
                plain_text(p["properties"]["Key"]["rich_text"])
                for p in pages
                if not (p.get("in_trash") or p.get("archived"))
            ]
            files = len(git(repo, "ls-files").splitlines())
            print(
                f"after the repair: {len(keys):,} live pages, {len(set(keys)):,} distinct keys, "
                f"{files:,} files in the tree"
            )
    finally:
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
