"""One process of a paced read workload: ``python -m ssot_pipelines_tests.pacer_worker BASE_URL REDIS_URL N``.

It builds the pacer from the environment exactly as ``open_sync_manager`` does (``NOTION_PACER``,
``NOTION_REQUESTS_PER_MINUTE``, ``NOTION_RATE_WINDOW_SECONDS``...), asks users/me once, then reads the
root page N times through a real gateway, and prints one JSON line: reads that succeeded, requests sent,
429s received, budgets learned, seconds. Used by ``test_pacer.py`` and ``benchmarks/pacer_efficiency.py``.
"""

from __future__ import annotations

import json
import sys
import time

import redis

from ssot_pipelines.notion.gateway import NotionGateway, RetrySettings
from ssot_pipelines.notion.pacer import LearningPacer, pacer_from_settings, workspace_of

TOKEN_ENV = "PACER_WORKER_TOKEN"


def main(argv: list[str]) -> int:
    import os

    base_url, redis_url, reads = argv[0], argv[1], int(argv[2])
    token = os.environ[TOKEN_ENV]
    client = redis.Redis.from_url(redis_url)
    pacer = pacer_from_settings(client, token)
    gateway = NotionGateway(
        token=token, base_url=base_url, pacer=pacer, retry=RetrySettings(max_attempts=30, base_seconds=0.05)
    )
    started = time.monotonic()
    me = gateway.preflight()
    if isinstance(pacer, LearningPacer):
        pacer.use_workspace(workspace_of(me, base_url))
    root = os.environ["PACER_WORKER_PAGE"]
    done = 0
    for _ in range(reads):
        page = gateway.call("GET", f"pages/{root}")
        done += page.get("object") == "page"
    result = {
        "reads": done,
        "requests": gateway.stats.requests,
        "rate_limited": gateway.stats.rate_limited,
        "learnings": getattr(pacer, "learnings", 0),
        "seconds": round(time.monotonic() - started, 3),
        "pacer": pacer.describe(),
    }
    gateway.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
