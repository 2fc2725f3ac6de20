"""``ssot slack import`` of a generated workspace export: seconds and peak memory, at two sizes (flat?).

Run: ``.venv/bin/python benchmarks/slack_import.py [--messages 100000] [--small 25000]`` (uses POSTGRES_URL or
the embedded PostgreSQL, in throwaway databases). The export (a zip, written one day file at a time) has
20 channels over as many days as needed, 30 % of messages in threads whose replies spill into later day
files, edits, reactions, bots, file shares and joins. Each import runs as the real command in a child
process; its peak RSS comes from wait4. A second import of the same export measures "writes nothing".
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger_db import ROOT, throwaway_ledger

CHANNELS = 20
PER_DAY = 250  # messages per channel-day file


def generate(path: Path, messages: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    users = [
        {"id": f"U{n:05d}", "name": f"user{n}", "real_name": f"User Number {n}", "profile": {}} for n in range(200)
    ]
    channels = [
        {"id": f"C{n:05d}", "name": f"chan-{n}", "members": [u["id"] for u in users[:50]]} for n in range(CHANNELS)
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps(users))
        zf.writestr("channels.json", json.dumps(channels))
        written, day = 0, 0
        open_threads: dict[str, list[str]] = {c["name"]: [] for c in channels}
        while written < messages:
            for channel in channels:
                if written >= messages:
                    break
                stamp = start + timedelta(days=day)
                batch = []
                for n in range(min(PER_DAY, messages - written)):
                    ts = f"{int((stamp + timedelta(seconds=n * 300)).timestamp())}.{n:06d}"
                    user = rng.choice(users)["id"]
                    m: dict[str, object] = {
                        "type": "message",
                        "user": user,
                        "ts": ts,
                        "text": f"<@{user}> message {written + n} about deploy {rng.random():.6f} " * 3,
                    }
                    threads = open_threads[channel["name"]]
                    roll = rng.random()
                    if roll < 0.2 and threads:
                        m["thread_ts"] = rng.choice(threads[-20:])
                    elif roll < 0.3:
                        m["thread_ts"], m["reply_count"] = ts, 1
                        threads.append(ts)
                    elif roll < 0.33:
                        m["edited"] = {"user": user, "ts": ts}
                    elif roll < 0.35:
                        m = {
                            "type": "message",
                            "subtype": "bot_message",
                            "bot_id": "B1",
                            "username": "ci",
                            "text": "build passed",
                            "ts": ts,
                        }
                    elif roll < 0.37:
                        m["files"] = [{"name": f"log{n}.txt", "permalink": f"https://files.example/{n}"}]
                    elif roll < 0.38:
                        m = {
                            "type": "message",
                            "subtype": "channel_join",
                            "user": user,
                            "ts": ts,
                            "text": f"<@{user}> has joined the channel",
                        }
                    if roll > 0.9:
                        m["reactions"] = [{"name": "tada", "users": [user], "count": 1}]
                    batch.append(m)
                zf.writestr(f"{channel['name']}/{stamp:%Y-%m-%d}.json", json.dumps(batch))
                written += len(batch)
            day += 1


def run_import(export: Path, url: str) -> tuple[float, float, str]:
    env = {**os.environ, "POSTGRES_URL": url, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssot_pipelines.cli", "slack", "import", str(export)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"import failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=25_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in (args.small, args.messages):
            export = Path(tmp) / f"export-{size}.zip"
            generate(export, size)
            with throwaway_ledger("slack") as (url, _):
                seconds, peak, out = run_import(export, url)
                again, peak_again, out_again = run_import(export, url)
            lines = out.splitlines()
            inner = float(lines[0].rsplit(" in ", 1)[1].split()[0])
            print(
                f"{size:,} messages ({export.stat().st_size / 1e6:.1f} MB zip): command {seconds:.1f} s, import "
                f"itself {inner:.1f} s ({size / inner:,.0f} messages/s), peak RSS {peak:.0f} MB; {lines[1]}"
            )
            again_inner = float(out_again.splitlines()[0].rsplit(" in ", 1)[1].split()[0])
            print(
                f"  re-import: command {again:.1f} s, import itself {again_inner:.1f} s, peak RSS "
                f"{peak_again:.0f} MB; {out_again.splitlines()[1]}; {out_again.splitlines()[2]}"
            )


if __name__ == "__main__":
    main()
