"""What the project's views cost in Notion requests and seconds: first provisioning, the check on every full
sync, restoring views a person deleted, adoption after a ledger reset, and ``ssot verify``'s view audit.

Run: ``.venv/bin/python benchmarks/views_cost.py [--rps 2.5]``. Starts a sandbox that enforces Notion's
classic limit (3 requests/s, burst 10), provisions the seven databases (not counted), then times each step
of ``provision_views`` with the engine's pacer at ``--rps`` (the default NOTION_RPS). Requests are counted
by the sandbox (``/__sandbox/stats``), writes too. Prints one line per step; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger_db import throwaway_ledger
from notion_client import Client

from ssot_pipelines.dashboards.plan import DASHBOARD_SLOT, VIEW_PLAN
from ssot_pipelines.dashboards.provision import ViewsReport, provision_views
from ssot_pipelines.dashboards.records import recorded_views
from ssot_pipelines.dashboards.verify import check_views
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.services.redis_url import resolve_redis_url


def measure(sandbox: SandboxServer, label: str, step: Callable[[], Any]) -> Any:
    sandbox.reset_stats()
    t0 = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - t0
    stats = sandbox.stats()
    detail = result.summary() if isinstance(result, ViewsReport) else str(result)
    endpoints = ", ".join(f"{k} {v}" for k, v in sorted(stats["by_endpoint"].items()))
    print(
        f"{label:38} {stats['requests']:3} requests ({stats['writes_applied']:2} writes, "
        f"{stats['rate_limited_429']} x 429) {seconds:6.2f} s   {detail}\n{'':38} {endpoints}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rps", type=float, default=2.5, help="the engine's pace (NOTION_RPS)")
    args = parser.parse_args()
    redis_url = resolve_redis_url()
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_ledger("views") as (url, _conn),
        SandboxServer(Path(tmp) / "notion.sqlite", rate_limit_rps=3.0, burst=10) as sandbox,
    ):
        manager: NotionSyncManager = open_sync_manager(
            notion_base_url=sandbox.url,
            token=sandbox.token,
            parent_page_id=sandbox.root_page_id,
            postgres_url=url,
            redis_url=redis_url,
            rps=args.rps,
        )
        with manager:

            def views(fresh: list[str] | None = None) -> ViewsReport:
                return provision_views(
                    manager.gateway, manager.conn, manager.target, manager.ids, fresh_databases=fresh or ()
                )

            print(
                f"{len(VIEW_PLAN)} views (a dashboard and its widgets included), sandbox at 3 requests/s, "
                f"engine paced at {args.rps} requests/s"
            )
            measure(sandbox, "first provisioning (ssot setup)", lambda: views(manager.provisioned.created))
            measure(sandbox, "full sync, nothing changed", views)
            recorded = recorded_views(manager.conn, manager.target)
            person = Client(auth=sandbox.token, base_url=f"{sandbox.url}/__sandbox/person", retry=False)
            person.request(path=f"views/{recorded['tech_debt/open'].view_id}", method="DELETE")
            person.request(path=f"views/{recorded[DASHBOARD_SLOT].view_id}", method="DELETE")
            measure(sandbox, "restore a view and the dashboard", views)
            manager.conn.execute("DELETE FROM dashboard_views WHERE target = %s", (manager.target,))
            manager.conn.commit()
            measure(sandbox, "adopt all after a ledger reset", views)

            def audit() -> str:
                problems = check_views(manager.gateway, manager.conn, manager.target, manager.ids, manager.ids)
                return f"{sum(len(p) for p in problems.values())} problems"

            measure(sandbox, "ssot verify: the views' audit", audit)


if __name__ == "__main__":
    main()
