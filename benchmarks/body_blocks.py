"""Blocks a page body spends, before and after packing, for the real text of this repository.

A multi-member Free Notion workspace takes 1,000 blocks in its lifetime (reference/notion-2026.md §5), so
the blocks a body costs matter as much as the requests. "Before" is the earlier layout (paragraphs of four
2,000-character pieces); "after" is ``notion.bodies.packed_blocks`` (up to 100 pieces per paragraph,
within half a request). The page row itself is one more block in both cases.

Bodies measured: every text file of this repository (the File Catalog's kind of text) and the session
transcripts of the test data (CLI Sessions' kind), each as one body; then the largest file replayed as a
transcript that grows over 20 syncs (each sync appends its new tail: "before" and "after" append the tail
as new blocks; on a workspace known to be block-limited, the engine fills the last block in place first).

Run: ``.venv/bin/python benchmarks/body_blocks.py``. Pure computation, no services. Prints figures only.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssot_pipelines.notion.bodies import packed_blocks, plan_in_place  # noqa: E402
from ssot_pipelines.notion.text import batch_blocks, block_text, split_text  # noqa: E402

OLD_PIECES_PER_BLOCK = 4
SUFFIXES = {".py", ".md", ".sql", ".yaml", ".yml", ".toml", ".cfg", ".jsonl", ".json", ".txt"}


def old_blocks(text: str) -> int:
    return math.ceil(len(split_text(text)) / OLD_PIECES_PER_BLOCK)


def old_requests(text: str) -> int:
    pieces = split_text(text)
    blocks = [
        {"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": p}} for p in chunk]}}
        for chunk in (pieces[i : i + OLD_PIECES_PER_BLOCK] for i in range(0, len(pieces), OLD_PIECES_PER_BLOCK))
    ]
    return sum(1 for _ in batch_blocks(blocks))


def texts(paths: list[Path]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text:
            out.append((str(path.relative_to(ROOT)), text))
    return out


def files_of_repo() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "__pycache__", ".ssot"}
    return sorted(
        p for p in ROOT.rglob("*") if p.is_file() and p.suffix in SUFFIXES and not skip & set(p.relative_to(ROOT).parts)
    )


def row(label: str, bodies: list[tuple[str, str]]) -> None:
    chars = sum(len(t) for _, t in bodies)
    before = sum(old_blocks(t) for _, t in bodies)
    after = sum(len(packed_blocks(t)) for _, t in bodies)
    req_before = sum(old_requests(t) for _, t in bodies)
    req_after = sum(sum(1 for _ in batch_blocks(packed_blocks(t))) for _, t in bodies)
    print(
        f"{label:<44} {len(bodies):>6} {chars:>11,} {before:>8,} {after:>7,} {before / max(after, 1):>6.1f}x"
        f" {req_before:>7,} {req_after:>7,}"
    )


def growth(text: str, steps: int = 20) -> tuple[int, int, int]:
    """Blocks spent by a body that grows over ``steps`` syncs: before, after, and after on a workspace known
    to be block-limited (``plan_in_place(..., fill_last=True)``, the engine's own plan, applied here)."""
    cuts = [len(text) * (i + 1) // steps for i in range(steps)]
    before = after = limited = 0
    page: list[dict[str, Any]] = []  # the limited workspace's page, block by block
    done = 0
    for cut in cuts:
        before += old_blocks(text[done:cut])
        after += len(packed_blocks(text[done:cut]))
        plan = plan_in_place(page, text[:cut], fill_last=True)
        by_id = {b["id"]: b for b in page}
        for block_id, new in plan.updates:
            by_id[block_id].update(new)
        page = [b for b in page if b["id"] not in set(plan.deletes)]
        page += [{**b, "id": f"b{limited + i}"} for i, b in enumerate(plan.appends)]
        limited += len(plan.appends)
        done = cut
    assert "".join(block_text(b) for b in page) == text
    return before, after, limited


def main() -> None:
    files = texts(files_of_repo())
    transcripts = [(n, t) for n, t in files if n.startswith("ssot_pipelines_tests/data/sessions/")]
    sources = [(n, t) for n, t in files if n.endswith(".py") and n.startswith("ssot_pipelines/")]
    print("blocks per page body (the page row adds one block either way)")
    heads = ("count", "chars", "before", "after", "saved", "req.bef", "req.aft")
    print(f"{'bodies':<44} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, (6, 11, 8, 7, 7, 7, 7), strict=True)))
    row("every text file of the repository", files)
    row("  package sources (ssot_pipelines/*.py)", sources)
    row("  session transcripts (test data)", transcripts)
    big = sorted(files, key=lambda f: -len(f[1]))[:5]
    for name, text in big:
        row(f"  {name[-42:]}", [(name, text)])
    name, text = big[0]
    before, after, limited = growth(text)
    print()
    print(f"a body growing over 20 syncs ({name}, {len(text):,} chars): blocks spent")
    print(f"  before (4 pieces per paragraph, tail appended): {before:,}")
    print(f"  after (packed, tail appended):                  {after:,}")
    print(f"  after, block-limited workspace (last block filled in place): {limited:,}")


if __name__ == "__main__":
    main()
