"""Shared pieces of the catalog benchmarks: a synthetic repository tree and a throwaway ledger database."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


WORDS = ("sync", "ledger", "notion", "catalog", "drift", "value", "return", "import", "def", "class", "self")


def text_blob(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def build_tree(root: Path, files: int, *, seed: int = 7, per_dir: int = 100) -> tuple[list[str], int]:
    """Write ``files`` files (mostly source-sized text, 0.5% binaries of 256 KB-2 MB); return paths and bytes."""
    rng = random.Random(seed)
    pool = [text_blob(rng, 16384) for _ in range(64)]  # slices of a few texts keep generation fast
    paths: list[str] = []
    total = 0
    for i in range(files):
        rel = f"pkg{i // (per_dir * 100)}/mod{(i // per_dir) % 100}/file{i}"
        if rng.random() < 0.005:
            rel += ".bin"
            data = os.urandom(rng.randint(256 << 10, 2 << 20))
        else:
            rel += rng.choice((".py", ".md", ".txt", ".json", ".ts"))
            start = rng.randint(0, 8000)
            data = rng.choice(pool)[start : start + rng.randint(100, 8000)] + f"# {i}\n".encode()
        path = root / rel
        if i % per_dir == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(rel)
        total += len(data)
    (root / ".gitignore").write_text("*.tmp\nbuild/\n")
    return paths, total
