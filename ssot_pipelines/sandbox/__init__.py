"""Local Notion sandbox: a strict Notion-API-compatible HTTP server speaking API versions
2025-09-03, 2026-03-11 and 2026-12-01, each request in the version its ``Notion-Version`` names (versions.py).

Used by every test and as the default when no Notion token is configured. Point the real client at it::

    with SandboxServer(path, rate_limit_rps=None) as server:
        notion = notion_client.Client(auth=server.token, base_url=server.url, retry=False)
        notion.databases.create(parent={"page_id": server.root_page_id}, ...)

State lives in one SQLite file (the root page "SecondBrain" keeps its id across restarts). Requests under
``/v1/`` are checked like Notion does (Bearer token, ``Notion-Version``, 2000 UTF-16 units per text,
100 elements per array, 1000 blocks / 500 KB per request, 100 per page, 10,000 results per query),
rate limited per token (token bucket, default 3 rps with bursts of 10) and optionally faulted
(``FaultConfig``, seeded). Control endpoints (the same Bearer token, never faulted):
``GET /__sandbox/health``, ``POST /__sandbox/faults``, ``POST /__sandbox/rate_limit``,
``GET /__sandbox/stats``, ``POST /__sandbox/stats/reset``, ``POST /__sandbox/shutdown``,
``GET|POST /__sandbox/block_limit`` (a Free multi-member workspace's lifetime block budget, block_limit.py;
off by default). The stats count requests by method, endpoint and API version, and applied writes by the
data source whose row (or row body) they changed. ``GET /`` is a read-only HTML view, opened once with
``?token=``. Only loopback ``Host`` names and the sandbox's own ``Origin`` are served (server.py). The
embedded sandbox's token is random per ``SSOT_HOME``, in ``$SSOT_HOME/sandbox-token`` (mode 0600;
``settings.sandbox_token()``).
"""

from __future__ import annotations

from .faults import FaultConfig
from .launcher import ensure_sandbox
from .server import SandboxServer

__all__ = ["FaultConfig", "SandboxServer", "ensure_sandbox"]
