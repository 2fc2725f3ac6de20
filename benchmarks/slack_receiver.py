"""``ssot slack serve`` acknowledgement latency under a steady 20 requests/s (Slack must get its 200 within 3 s).

Run: ``.venv/bin/python benchmarks/slack_receiver.py [--rate 20] [--seconds 30]``. Starts the real command
on a free port with a throwaway journal, sends correctly signed message events on an open-loop schedule
(each on a new connection, as a fresh Slack delivery would be; every tenth one repeated as a retry), and
prints the median and p99 time to the 200 (each ack includes the journal's fsync). Asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledger_db import ROOT
from slack_sdk.signature import SignatureVerifier

SECRET = "benchmark-signing-secret"


def request(n: int, retry: bool) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "event_id": f"Ev{n:08d}",
            "event_time": 0,
            "event": {
                "type": "message",
                "channel": "C1",
                "user": "U1",
                "ts": f"{1782900000 + n}.000001",
                "text": f"message {n} " + "lorem ipsum " * 20,
            },
        }
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
    if retry:
        headers["X-Slack-Retry-Num"] = "1"
    return body, headers


def send(port: int, body: bytes, headers: dict[str, str]) -> tuple[float, int]:
    """One delivery on its own connection; the time from connecting to the complete answer."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return time.perf_counter() - started, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_JOURNAL_DIR": str(Path(tmp) / "journal"),
            "PYTHONPATH": str(ROOT),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines.cli", "slack", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()  # "listening on …"
            total = int(args.rate * args.seconds)
            prepared = [request(n - 1 if n % 10 == 9 else n, n % 10 == 9) for n in range(total)]
            start = time.perf_counter() + 0.5
            futures = []
            with ThreadPoolExecutor(max_workers=16) as pool:
                for n in range(total):
                    delay = start + n / args.rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(send, port, *prepared[n]))
                results = [f.result() for f in futures]
        finally:
            proc.terminate()
            proc.wait(10)
    latencies = sorted(r[0] * 1000 for r in results)
    ok = sum(1 for r in results if r[1] == 200)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"{len(results)} requests at {args.rate:.0f}/s ({ok} answered 200, one in ten a retry): ack latency "
        f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
