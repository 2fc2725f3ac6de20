"""Human-owned values the sync engine pulled back from Notion, read in bulk from its ledger records.

``NotionSyncManager.human_values(database, key)`` reads the same column one key at a time; drift and task
decisions need every row at once.
"""

from __future__ import annotations

from typing import Any

import psycopg


def human_values_by_key(conn: psycopg.Connection[dict[str, Any]], database: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT key, human FROM records WHERE database = %s AND human <> '{}'::jsonb", (database,)
    ).fetchall()
    return {r["key"]: dict(r["human"]) for r in rows}
