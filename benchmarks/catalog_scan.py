"""File Catalog scan figures on a synthetic tree: cold scan and hashing against git, warm scan against
``git status``, peak memory, and one multi-GB file hashed with flat memory.

Run: ``.venv/bin/python benchmarks/catalog_scan.py`` (100,000 files, about 0.5 GB; ``--files 5000`` for a
quick run). Uses POSTGRES_URL or the embedded PostgreSQL (a throwaway database). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

from catalog_common import build_tree
from ledger_db import throwaway_ledger

from ssot_pipelines.catalog.config import DEFAULT_EXCLUDES, CatalogConfig, RepoRoot
from ssot_pipelines.catalog.detect import detect_changes
from ssot_pipelines.catalog.hashing import hash_file
from ssot_pipelines.catalog.refresh import hash_files, refresh_catalog
from ssot_pipelines.catalog.scan import scan_roots


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True).stdout


def timed(fn, repeat: int = 1) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big-file-gb", type=float, default=2.0, help="size of the one huge (sparse) file")
    parser.add_argument("--workers", type=int, default=min(8, (os.cpu_count() or 2) * 2))
    parser.add_argument("--dir", help="where to build the tree (default: a temporary directory)")
    args = parser.parse_args()

    base = Path(args.dir or tempfile.mkdtemp(prefix="catalog-bench-"))
    repo = base / "repo"
    try:
        repo.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths, total = build_tree(repo, args.files)
        print(
            f"tree: {len(paths):,} files, {total / 1e6:,.0f} MB, built in {time.perf_counter() - t0:.1f}s "
            f"({os.cpu_count()} CPUs)"
        )
        git(repo, "init", "-q")
        t0 = time.perf_counter()
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "tree")
        print(f"git add + commit: {time.perf_counter() - t0:.1f}s")
        config = CatalogConfig(roots=(RepoRoot("repo", repo),), excludes=DEFAULT_EXCLUDES, hash_workers=args.workers)

        # -- cold: walk, hash, against git hash-object on the same files (page cache warm for both) --
        walk_s, scan = timed(lambda: scan_roots(config))
        files = scan.files  # type: ignore[attr-defined]
        listing = "\n".join(f.path for f in files).encode() + b"\n"
        git_s, _ = timed(lambda: git(repo, "hash-object", "--stdin-paths", stdin=listing))
        ours_s, hashed = timed(lambda: hash_files(files, args.workers))
        one_s, _ = timed(lambda: hash_files(files, 1))
        mb = sum(d.size for _, d, _ in hashed if d) / 1e6  # type: ignore[union-attr]
        print(f"walk (stat only): {walk_s:.2f}s for {len(files):,} files")
        print(
            f"hashing: ours {mb / ours_s:,.0f} MB/s ({ours_s:.2f}s, {args.workers} threads), "
            f"ours single-thread {mb / one_s:,.0f} MB/s ({one_s:.2f}s), "
            f"git hash-object --stdin-paths {mb / git_s:,.0f} MB/s ({git_s:.2f}s)"
        )

        with throwaway_ledger("catalog") as (_, conn):  # traced separately: tracemalloc slows Python down a lot
            tracemalloc.start()
            refresh_catalog(conn, config)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        with throwaway_ledger("catalog") as (_, conn):
            cold_s, cold = timed(lambda: refresh_catalog(conn, config))
            print(
                f"cold refresh (walk + hash + ledger write of {cold.hashed:,} files): {cold_s:.2f}s; "  # type: ignore[attr-defined]
                f"Python heap peak {peak / 1e6:.0f} MB, process max RSS "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
            )

            # -- warm: nothing changed. Rounds interleave the measures, so load from other jobs on a shared
            # machine weighs on all of them alike; each figure is a median. --
            git(repo, "status", "--porcelain")  # let git refresh its index stat cache first
            measures = {
                "status": lambda: git(repo, "status", "--porcelain"),
                "sensor_git": lambda: detect_changes(conn, config),
                "sensor_walk": lambda: detect_changes(conn, config, use_git=False),
                # What hourly_incremental_sync does to find the changes: the real refresh, committing its state.
                "hourly_git": lambda: refresh_catalog(conn, config),
                "hourly_walk": lambda: refresh_catalog(conn, config, use_git=False),
            }
            rounds = 7
            times: dict[str, list[float]] = {name: [] for name in measures}
            last: dict[str, object] = {}
            for _ in range(rounds):
                for name, fn in measures.items():
                    took, last[name] = timed(fn)
                    times[name].append(took)
            med = {name: statistics.median(ts) for name, ts in times.items()}
            sensor, sensor_walked, hourly, hourly_walked = (
                last["sensor_git"],
                last["sensor_walk"],
                last["hourly_git"],
                last["hourly_walk"],
            )
            assert not sensor and not sensor_walked and sensor.via_git == ["repo"]  # type: ignore[attr-defined]
            assert hourly.via_git == ["repo"] and hourly.hashed == 0 and not hourly.changed_keys  # type: ignore[attr-defined]
            assert hourly_walked.via_git == [] and hourly_walked.hashed == 0  # type: ignore[attr-defined]
            status_s = med["status"]

            def vs(name: str) -> str:
                return f"{med[name]:.3f}s ({med[name] / status_s:.2f}x)"

            print(
                f"warm, nothing changed (median of {rounds} interleaved rounds): git status {status_s:.3f}s; "
                "target <= 1.5x"
            )
            print(f"  sensor asking git {vs('sensor_git')}; sensor stat-ing every file {vs('sensor_walk')}")
            print(
                f"  hourly incremental sync's check asking git {vs('hourly_git')}; the same stat-ing every "
                f"file (non-git roots, git fallback) {vs('hourly_walk')}"
            )

        # -- one huge file: streamed, flat memory --
        big = base / "huge.bin"
        with open(big, "wb") as fh:
            fh.truncate(int(args.big_file_gb * (1 << 30)))
        tracemalloc.start()
        big_s, digest = timed(lambda: hash_file(str(big)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"one {args.big_file_gb:g} GB file: {digest.size / 1e6 / big_s:,.0f} MB/s, "  # type: ignore[attr-defined]
            f"Python heap peak while hashing {peak / 1e6:.1f} MB"
        )
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
