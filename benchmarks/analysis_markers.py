"""How fast the built-in markers analyzer scans a repository's tracked text files.

    python benchmarks/analysis_markers.py --files 10000

Builds a git repository of ``--files`` Python and Markdown files (100 lines each, one line in 50 a marker
comment, one in 200 a marker inside a string, which must not count), then times listing the tracked
files and scanning them, twice (cold and warm page cache), and prints files/s, MB/s and the findings.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from ssot_pipelines.analysis.markers import marker_findings
from ssot_pipelines.analysis.runner import repository_files

LINES = 100


def build(root: Path, files: int) -> int:
    """Write the tree and commit it; returns the number of marker comments written."""
    markers = 0
    for n in range(files):
        folder = root / f"pkg{n % 100:02d}"
        folder.mkdir(exist_ok=True)
        python = n % 4 != 0
        lines = []
        for i in range(LINES):
            if i % 50 == 7:
                lines.append(f"x{i} = {i}  # TODO: item {n}.{i}" if python else f"<!-- FIXME: item {n}.{i} -->")
                markers += 1
            elif i % 200 == 11 and python:
                lines.append(f'y{i} = "# TODO: not a comment {i}"')
            else:
                lines.append(f"value_{i} = compute({i}, {n})  # plain comment" if python else f"Some prose {i}.")
        (folder / f"m{n:05d}.{'py' if python else 'md'}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return markers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        written = build(root, args.files)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
        print(f"{args.files:,} tracked files, {size / 1e6:.1f} MB, {written:,} marker comments")
        for label in ("first scan", "second scan"):
            t0 = time.perf_counter()
            files = repository_files(root, tracked_only=True)
            listed = time.perf_counter() - t0
            t1 = time.perf_counter()
            report = marker_findings(root, files)
            scanned = time.perf_counter() - t1
            print(
                f"{label}: git ls-files {listed:.2f} s; scan {scanned:.2f} s = {len(files) / scanned:,.0f} files/s, "
                f"{size / 1e6 / scanned:.1f} MB/s; {len(report.findings):,} findings "
                f"({'all' if len(report.findings) == written else 'NOT all'} markers, none from strings)"
            )


if __name__ == "__main__":
    main()
