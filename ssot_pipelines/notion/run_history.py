"""What the sync engine's bookkeeping says about one database of a target: the last run, the rows, the lag.

Read-only questions for the status page and the asset metadata; the tables stay private to ``notion/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

# The figures of a run report that the status page shows, in that order.
REPORT_FIGURES = ("created", "updated", "archived", "failed", "requests", "rate_limited")
# A run that moved any of these changed (or failed to change) Notion; other runs had nothing to do.
CHANGE_FIGURES = ("created", "updated", "archived", "failed", "recreated", "repaired", "body_writes")


@dataclass(frozen=True)
class LastRun:
    mode: str
    started_at: datetime
    finished_at: datetime
    figures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DatabaseFigures:
    """One database of one target as the ledger knows it."""

    database: str
    rows: int  # live pages in Notion (as far as the ledger knows)
    pending: int  # present records whose current content has not reached Notion
    oldest_pending: datetime | None  # when the oldest of them changed: the start of the lag
    last_run: LastRun | None  # the last finished run that changed Notion (or had failures)

    def lag_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the oldest change not yet in Notion (0 when nothing is pending)."""
        if self.oldest_pending is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.oldest_pending).total_seconds())


def database_figures(conn: psycopg.Connection[Any], target: str, database: str) -> DatabaseFigures:
    """The rows, the lag and the last run of ``database`` in ``target``."""
    rows = conn.execute(
        "SELECT count(*) AS n FROM notion_rows WHERE target = %s AND database = %s AND state <> 'archived'"
        " AND page_id IS NOT NULL",
        (target, database),
    ).fetchone()
    pending = conn.execute(
        "SELECT count(*) AS n, min(r.updated_at) AS oldest FROM records r LEFT JOIN notion_rows n"
        " ON n.target = %s AND n.database = r.database AND n.key = r.key"
        " WHERE r.database = %s AND r.present"
        " AND (n.key IS NULL OR n.state <> 'synced' OR n.pushed_digest IS DISTINCT FROM r.digest)",
        (target, database),
    ).fetchone()
    changed = " + ".join(f"coalesce((report->>'{name}')::bigint, 0)" for name in CHANGE_FIGURES)
    last = conn.execute(
        "SELECT mode, started_at, finished_at, report FROM sync_runs WHERE target = %s AND database = %s"
        f" AND finished_at IS NOT NULL AND ({changed}) > 0 ORDER BY id DESC LIMIT 1",
        (target, database),
    ).fetchone()
    last_run = None
    if last is not None:
        report = dict(last["report"] or {})
        figures = {name: int(report.get(name) or 0) for name in REPORT_FIGURES}
        last_run = LastRun(str(last["mode"]), last["started_at"], last["finished_at"], figures)
    return DatabaseFigures(
        database=database,
        rows=int(rows["n"]) if rows else 0,
        pending=int(pending["n"]) if pending else 0,
        oldest_pending=pending["oldest"] if pending else None,
        last_run=last_run,
    )
