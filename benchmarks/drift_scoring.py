"""Drift scoring of a 10,000-file catalog: seconds cold (empty embedding cache), warm, and after edits.

Builds a git repository of N Python files in 10 components (each with a spec), then times:
  1. the first analysis: baselines for every file, every summary embedded (cold cache);
  2. a rescore with nothing changed (warm cache: no text is embedded again);
  3. a rescore after 10% of the files gained an off-spec function (only their new summaries are embedded).

Run: .venv/bin/python benchmarks/drift_scoring.py [--files 10000] [--embedder hashing|minilm]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_db import throwaway_ledger

from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.drift.assess import assess_drift
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.workspace import open_workspace
from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.embedder import make_embedder

COMPONENTS = 10
TOPICS = ("billing", "search", "auth", "storage", "reports", "alerts", "exports", "users", "jobs", "metrics")


def build_repo(root: Path, files: int, seed: int = 5) -> list[Path]:
    rng = random.Random(seed)
    toml = []
    for topic in TOPICS[:COMPONENTS]:
        toml.append(
            f'[[component]]\nname = "{topic}"\npaths = ["{topic}/"]\n'
            f'spec_text = "The {topic} component: {topic} records, validation and {topic} rules. '
            f'No network access, no direct SQL."\n'
        )
        (root / topic).mkdir(parents=True)
    (root / "ssot_components.toml").write_text("\n".join(toml))
    paths = []
    for i in range(files):
        topic = TOPICS[i % COMPONENTS]
        functions = []
        for f in range(rng.randint(4, 9)):
            functions.append(
                f"def {topic}_step_{i}_{f}(record, limit={f}):\n"
                f'    """Validate one {topic} record against rule {f}."""\n'
                f"    total = 0\n    for item in record.items[:limit]:\n        total += item.amount * {f + 1}\n"
                f"    return total > {rng.randint(1, 100)}\n"
            )
        path = root / topic / f"module_{i}.py"
        path.write_text(f'"""{topic.capitalize()} rules, part {i}."""\nimport math\n\n\n' + "\n\n".join(functions))
        paths.append(path)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(
            ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
            check=True,
            capture_output=True,
        )
    return paths


OFF_SPEC = '''

def fetch_remote_{n}(url):
    """Download the record from a partner API and write it straight into the database."""
    import sqlite3
    import urllib.request
    body = urllib.request.urlopen(url, timeout=5).read()
    sqlite3.connect("cache.db").execute("insert into pages values (?)", (body,))
    return body
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--embedder", default="hashing", choices=("hashing", "minilm"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_ledger("drift") as (_, conn):
        root = Path(tmp) / "repo"
        root.mkdir()
        started = time.perf_counter()
        paths = build_repo(root, args.files)
        print(f"built {args.files:,} files in {COMPONENTS} components ({time.perf_counter() - started:.1f} s)")
        workspace = open_workspace(conn, [RepoRoot("bench", root)])
        thresholds = DriftThresholds()

        def run(label: str) -> None:
            embedder = CachedEmbedder(make_embedder(args.embedder), conn)
            result = assess_drift(conn, workspace.files, workspace.components, embedder, thresholds)
            print(
                f"{label}: {result.seconds:.2f} s for {result.scored:,} files "
                f"({embedder.stats.misses:,} texts embedded, {embedder.stats.hits:,} cache hits; "
                f"bands {dict(result.bands)})"
            )

        run(f"cold (first analysis, {args.embedder} embedder, empty cache)")
        run("warm (nothing changed)")
        for n, path in enumerate(paths[::10]):
            path.write_text(path.read_text() + OFF_SPEC.format(n=n))
        run("after editing 10% of the files")


if __name__ == "__main__":
    main()
