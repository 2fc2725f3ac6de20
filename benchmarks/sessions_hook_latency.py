"""Hook latency: wall time of ``ssot-hook`` per event (fsync'd journal append) against ``python -c pass``.

Run: ``.venv/bin/python benchmarks/sessions_hook_latency.py [--events 1000] [--compare-root DIR]``. Each event
is a fresh process fed realistic hook JSON on stdin, exactly as Claude Code runs it. ``--compare-root``
also times the hook of another checkout (e.g. the main branch) in the same rounds, so a before/after
comparison sees the same load. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sessions_common import ROOT, percentile

EVENTS = ("UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")


def payload(i: int) -> bytes:
    event = EVENTS[i % len(EVENTS)]
    data = {
        "hook_event_name": event,
        "session_id": "bench-session",
        "cwd": str(ROOT),
        "transcript_path": "/tmp/none.jsonl",
        "permission_mode": "default",
    }
    if event == "PostToolUse":
        data.update(
            tool_name="Read",
            tool_use_id=f"toolu_{i}",
            tool_input={"file_path": "/p/x.py"},
            tool_response={"content": "x = 1\n" * 200},
        )
    elif event == "UserPromptSubmit":
        data["prompt"] = f"prompt number {i}: fix the failing test"
    return json.dumps(data).encode()


def time_runs(argv: list[str], n: int, env: dict[str, str], feed: bool) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        subprocess.run(argv, input=payload(i) if feed else b"", env=env, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label:<34} median {statistics.median(times):7.1f} ms   p99 {percentile(times, 0.99):7.1f} ms   "
        f"max {max(times):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--compare-root", type=Path, help="another checkout whose installed hook is timed too")
    args = parser.parse_args()
    script = Path(sys.prefix) / "bin" / "ssot-hook"
    fast = [sys.executable, "-S", "-c", "from ssot_pipelines.sessions.hook import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SSOT_JOURNAL_DIR": tmp, "PYTHONPATH": str(ROOT)}
        env.pop("POSTGRES_URL", None)
        # Interleaved in rounds of 50 so that load from other processes hits all three alike.
        other_env = {**env, "PYTHONPATH": str(args.compare_root.resolve())} if args.compare_root else None
        baseline: list[float] = []
        installed: list[float] = []
        console: list[float] = []
        other: list[float] = []
        for _ in range(0, args.events, 50):
            n = min(50, args.events - len(baseline))
            baseline += time_runs([sys.executable, "-c", "pass"], n, env, feed=False)
            installed += time_runs(fast, n, env, feed=True)
            if other_env is not None:
                other += time_runs(fast, n, other_env, feed=True)
            if script.exists():
                console += time_runs([str(script)], n, env, feed=True)
        lines = sum(1 for p in Path(tmp).glob("*.jsonl") for _ in p.open("rb"))
    print(f"ssot-hook latency over {args.events} events each:")
    report("python -c pass (same machine)", baseline)
    report("hook as installed (python -S -c)", installed)
    if other:
        report(f"same, {args.compare_root}"[:34], other)
    if console:
        report("bin/ssot-hook console script", console)
    expected = args.events * (1 + bool(console) + bool(other))
    print(f"journal lines written: {lines} (expected {expected})")


if __name__ == "__main__":
    main()
