"""Transcript import throughput into PostgreSQL (MB/s, events/s) and peak memory while importing.

Run: ``.venv/bin/python benchmarks/sessions_import_throughput.py [--size-mb 500]`` (uses POSTGRES_URL or
the embedded PostgreSQL, in a throwaway database). Generates a Claude Code + Codex transcript set of the
given size (tool outputs from 2 kB to 1 MB, a few 10 MB ones), imports it, then re-imports it (no new
events expected). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from ledger_db import throwaway_ledger

from ssot_pipelines.ledger import connect
from ssot_pipelines.sessions.transcripts import import_paths

FILE_TARGET = 8 * 1024 * 1024


def claude_line(session: str, n: int, rng: random.Random) -> dict[str, object]:
    base = {
        "uuid": f"{session}-{n}",
        "parentUuid": f"{session}-{n - 1}" if n else None,
        "sessionId": session,
        "timestamp": f"2026-06-21T10:{n // 3600 % 60:02d}:{n // 60 % 60:02d}.{n % 1000:03d}Z",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/u/proj",
        "version": "2.1.183",
        "gitBranch": "main",
    }
    kind = n % 4
    if kind == 0:
        return {**base, "type": "user", "message": {"role": "user", "content": f"please fix issue {n} " * 8}}
    if kind == 1:
        return {
            **base,
            "type": "assistant",
            "requestId": f"req_{n}",
            "message": {
                "id": f"msg_{n}",
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"toolu_{session}_{n}",
                        "name": "Read",
                        "input": {"file_path": f"/home/u/proj/src/m{n}.py"},
                    }
                ],
            },
        }
    if kind == 2:
        size = rng.choice((2_000, 8_000, 20_000, 60_000, 250_000)) if rng.random() > 0.002 else 1_000_000
        return {
            **base,
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{session}_{n - 1}",
                        "content": ("def f(x):\n    return x * 2\n" * (size // 30 + 1))[:size],
                    }
                ],
            },
        }
    return {
        **base,
        "type": "assistant",
        "message": {"id": f"msg_{n}", "role": "assistant", "content": [{"type": "text", "text": "Done. " * 40}]},
    }


def codex_line(n: int) -> dict[str, object]:
    ts = f"2025-10-29T00:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z"
    if n % 3 == 0:
        return {
            "timestamp": ts,
            "type": "response_item",
            "payload": {
                "type": "function_call",
                "name": "shell",
                "arguments": json.dumps({"command": ["ls", str(n)]}),
                "call_id": f"call_{n}",
            },
        }
    if n % 3 == 1:
        return {
            "timestamp": ts,
            "type": "response_item",
            "payload": {"type": "function_call_output", "call_id": f"call_{n - 1}", "output": "README.md\nsrc\n" * 400},
        }
    return {
        "timestamp": ts,
        "type": "response_item",
        "payload": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": f"step {n} done"}],
        },
    }


def generate(root: Path, size_mb: int) -> tuple[int, int]:
    rng = random.Random(4)
    target = size_mb * 1024 * 1024
    written = files = 0
    while written < target:
        files += 1
        if files % 10 == 0:
            sid = f"019a2d7a-0000-7000-8000-{files:012d}"
            path = root / "codex" / f"rollout-2025-10-29T00-59-38-{sid}.jsonl"
            make = lambda n: codex_line(n)  # noqa: E731
        else:
            sid = f"bench-{files:06d}"
            path = root / "claude" / "-home-u-proj" / f"{sid}.jsonl"
            make = lambda n, s=sid: claude_line(s, n, rng)  # noqa: E731
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with path.open("w") as fh:
            if files % 10 == 0:
                fh.write(
                    json.dumps(
                        {
                            "timestamp": "2025-10-29T00:59:38.317Z",
                            "type": "session_meta",
                            "payload": {"id": sid, "cwd": "/home/u/proj"},
                        }
                    )
                    + "\n"
                )
            n = 0
            limit = min(FILE_TARGET, target - written) if files % 25 else min(10 * FILE_TARGET, target - written)
            while size < limit:
                line = json.dumps(make(n)) + "\n"
                fh.write(line)
                size += len(line)
                n += 1
        written += size
    return written, files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_ledger("sessions") as (url, _):
        root = Path(tmp)
        start = time.perf_counter()
        size, files = generate(root, args.size_mb)
        print(f"generated {size / 1e6:.1f} MB in {files} files in {time.perf_counter() - start:.1f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with connect(url) as conn:
            start = time.perf_counter()
            report = import_paths(conn, [root], allow_outside_roots=True)
            seconds = time.perf_counter() - start
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            start = time.perf_counter()
            again = import_paths(conn, [root], allow_outside_roots=True)
            rerun = time.perf_counter() - start
        print(
            f"import: {report.bytes_read / 1e6:.1f} MB, {report.inserted} events in {seconds:.1f} s -> "
            f"{report.bytes_read / 1e6 / seconds:.1f} MB/s, {report.inserted / seconds:,.0f} events/s"
        )
        print(f"peak RSS of the importing process: {rss_after:.0f} MB (before import {rss_before:.0f} MB)")
        print(f"re-run over the same files: {again.inserted} new events, {rerun:.2f} s ({again.summary()})")


if __name__ == "__main__":
    main()
