"""Matching 50,000 findings across two analyses: seconds and peak memory.

Builds a synthetic repository (files on disk, so line hashes and block hashes are real), a first
analysis of N findings, then a second one where half of the files gained lines at the top (every finding
in them moved), 1% of the findings were fixed and 1% are new. Prints:
  - normalize + match (pure Python, no database): seconds and tracemalloc peak;
  - the whole import into the ledger (normalize, match, one transaction): seconds per analysis.

Run: .venv/bin/python benchmarks/analysis_matching.py [--findings 50000] [--files 2000] [--no-ledger]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_db import throwaway_ledger

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding
from ssot_pipelines.analysis.lifecycle import AnalysisScope, plan_lifecycle
from ssot_pipelines.analysis.matching import KnownIssue
from ssot_pipelines.analysis.normalize import Normalizer
from ssot_pipelines.analysis.store import record_report

RULES = ("F401", "F841", "E711", "B006", "S602", "UP006", "SIM108", "RUF005")
SHIFT = 3


def build(root: Path, files: int, findings: int, seed: int = 11) -> tuple[list[RawFinding], list[RawFinding]]:
    """Write the files; return the raw findings of the first and second analyses."""
    rng = random.Random(seed)
    per_file = max(1, findings // files)
    lines_per_file = per_file * 6 + 20
    first: list[RawFinding] = []
    second: list[RawFinding] = []
    for f in range(files):
        path = f"pkg{f // 100}/mod_{f}.py"
        body = [f"value_{f}_{n} = compute({n}, '{rng.random():.6f}')" for n in range(lines_per_file)]
        moved = f % 2 == 0
        (root / "v1" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "v2" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "v1" / path).write_text("\n".join(body) + "\n")
        (root / "v2" / path).write_text("\n".join((["# inserted"] * SHIFT if moved else []) + body) + "\n")
        for k in range(per_file):
            line = 10 + k * 6
            rule = RULES[(f + k) % len(RULES)]
            message = f"issue {rule} about value_{f}_{line - 1}"
            raw = RawFinding("ruff", rule, path, line, message, "minor")
            first.append(raw)
            if rng.random() < 0.01:
                continue  # fixed
            second.append(RawFinding("ruff", rule, path, line + (SHIFT if moved else 0), message, "minor"))
        if rng.random() < per_file * 0.01:
            second.append(
                RawFinding("ruff", "E501", path, 5 + (SHIFT if moved else 0), "line too long (130 > 120)", "minor")
            )
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--no-ledger", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first, second = build(root, args.files, args.findings)
        print(
            f"{len(first):,} findings in {args.files:,} files; second analysis {len(second):,} findings "
            f"(half the files shifted by {SHIFT} lines)"
        )

        timings = _normalize_and_match(root, first, second)
        print(
            f"normalize both analyses: {timings['normalize']:.2f} s; match {len(second):,} findings against "
            f"{len(first):,} issues: {timings['match']:.2f} s"
        )
        print(f"  outcome: {timings['counts']}")
        tracemalloc.start()
        _normalize_and_match(root, first, second)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory (normalize + match, second pass under tracemalloc): {peak / 2**20:.0f} MiB")

        if args.no_ledger:
            return
        with throwaway_ledger("analysis") as (_, conn):
            for label, findings, tree in (("first", first, "v1"), ("second", second, "v2")):
                started = time.perf_counter()
                summary = record_report(
                    conn,
                    ParsedReport("ruff json", findings),
                    repo_root=root / tree,
                    repo="bench",
                    source=label,
                    whole_repository=True,
                )
                conn.commit()
                print(
                    f"ledger import, {label} analysis: {time.perf_counter() - started:.2f} s {summary.counts['ruff']}"
                )


def _normalize_and_match(root: Path, first: list[RawFinding], second: list[RawFinding]) -> dict[str, Any]:
    started = time.perf_counter()
    base = Normalizer(root / "v1").normalize_all(first)
    raw = Normalizer(root / "v2").normalize_all(second)
    normalized = time.perf_counter() - started
    known = [
        KnownIssue(
            str(i),
            f.rule,
            f.path,
            f.line,
            f.line_hash,
            f.block_hash,
            f.message_norm,
            f.scope,
            None,
            {},
            "open",
            time_zero(),
        )
        for i, f in enumerate(base)
    ]
    started = time.perf_counter()
    plan = plan_lifecycle(raw, known, AnalysisScope.whole_repository(), lambda p: True)
    return {"normalize": normalized, "match": time.perf_counter() - started, "counts": plan.counts()}


def time_zero() -> "datetime":  # noqa: UP037
    return datetime(2026, 1, 1, tzinfo=UTC)


from datetime import UTC, datetime  # noqa: E402

if __name__ == "__main__":
    main()
