"""Hook latency: wall time of ``ssot-hook`` per event (fsync'd journal append) against ``python -c pass``.

Run: ``.venv/bin/python benchmarks/sessions_hook_latency.py [--events 1000]``. Each event is a fresh
process fed realistic hook JSON on stdin, exactly as Claude Code runs it. Prints figures; asserts nothing.
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
    data = {"hook_event_name": event, "session_id": "bench-session", "cwd": str(ROOT),
            "transcript_path": "/tmp/none.jsonl", "permission_mode": "default"}
    if event == "PostToolUse":
        data.update(tool_name="Read", tool_use_id=f"toolu_{i}", tool_input={"file_path": "/p/x.py"},
                    tool_response={"content": "x = 1\n" * 200})
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
    print(f"{label:<34} median {statistics.median(times):7.1f} ms   p99 {percentile(times, 0.99):7.1f} ms   "
          f"max {max(times):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    script = Path(sys.prefix) / "bin" / "ssot-hook"
    hook = [str(script)] if script.exists() else [sys.executable, "-m", "ssot_pipelines.sessions.hook"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SSOT_JOURNAL_DIR": tmp, "PYTHONPATH": str(ROOT)}
        env.pop("POSTGRES_URL", None)
        baseline = time_runs([sys.executable, "-c", "pass"], args.events, env, feed=False)
        hook_times = time_runs(hook, args.events, env, feed=True)
        lines = sum(1 for p in Path(tmp).glob("*.jsonl") for _ in p.open("rb"))
    print(f"ssot-hook latency over {args.events} events ({' '.join(hook)}):")
    report("python -c pass (same machine)", baseline)
    report("ssot-hook (journal + fsync)", hook_times)
    print(f"overhead over bare interpreter start: median {statistics.median(hook_times) - statistics.median(baseline):.1f}"
          f" ms; journal lines written: {lines} (expected {args.events})")


if __name__ == "__main__":
    main()
