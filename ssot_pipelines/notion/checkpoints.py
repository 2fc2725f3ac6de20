"""The sync's bookkeeping in the ledger: desired records, what was pushed to which page, run reports.

Every method commits, because each call records a fact the next Notion write relies on: a run killed
after any call resumes from exactly what is here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from ssot_pipelines.notion import desired
from ssot_pipelines.notion.desired import SyncRecord

ROW_FIELDS = ("state", "page_id", "machine_hash", "body_hash", "body_length", "shared", "pushed_digest")


class SyncLedger:
    """Ledger access for one Notion target (rows are kept per target; desired records are shared).

    Only ``ssot_pipelines/notion/`` uses it; capabilities use ``desired``'s named functions.
    """

    def __init__(self, conn: psycopg.Connection[Any], target: str) -> None:
        self.conn = conn
        self.target = target

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        row = self.conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
        self.conn.commit()
        return dict(row) if row else None

    def _all(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        rows = self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
        self.conn.commit()
        return [dict(r) for r in rows]

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        cur = self.conn.execute(sql, params)  # type: ignore[arg-type]
        self.conn.commit()
        return cur.rowcount or 0

    # Rows changed since the planner last gathered statistics, past which a sync gathers them itself: before
    # autovacuum's ANALYZE reaches a freshly filled ledger, the pending-records join of ``records`` and
    # ``notion_rows`` takes seconds instead of milliseconds (a nested loop over 10,000 rows).
    STALE_STATISTICS_ROWS = 2000

    def refresh_statistics(self) -> bool:
        """ANALYZE ``records`` and ``notion_rows`` when many rows changed since their last ANALYZE (in its own
        short transaction; it never blocks writers). True when it ran."""
        self.conn.commit()
        row = self.conn.execute(
            "SELECT coalesce(sum(n_mod_since_analyze), 0) AS changed FROM pg_stat_user_tables"
            " WHERE relname IN ('records', 'notion_rows') AND schemaname = current_schema()"
        ).fetchone()
        self.conn.commit()
        if row is None or int(row["changed"]) < self.STALE_STATISTICS_ROWS:
            return False
        self.conn.execute("ANALYZE records, notion_rows")
        self.conn.commit()
        return True

    # -- desired records ----------------------------------------------------------------------------

    def store_desired(
        self, database: str, records: Sequence[SyncRecord], vanished: Sequence[str], *, complete: bool = False
    ) -> None:
        """Write the desired state first: the ledger is the durable record, Notion follows it.

        ``complete``: the records are the whole desired state (a full sync); every other key is absent.
        """
        desired.stage(self.conn, database, records, vanished, withdraw_others=complete)
        stored = {
            r["key"]: r["digest"]
            for r in self.conn.execute(
                "SELECT key, digest FROM records WHERE database = %s AND key = ANY(%s)",
                (database, [r.key for r in records]),
            ).fetchall()
        }
        self.conn.commit()
        for record in records:
            record.digest = stored.get(record.key)

    def pending_records(self, database: str, exclude: set[str]) -> list[SyncRecord]:
        """Present records this target has not received completely (see ``desired.keys_not_synced``)."""
        rows = self._all(
            'SELECT r.key, r."values", r.body, r.priority, r.digest FROM records r LEFT JOIN notion_rows n'
            " ON n.target = %s AND n.database = r.database AND n.key = r.key"
            " WHERE r.database = %s AND r.present AND (n.key IS NULL OR n.state <> 'synced'"
            " OR n.pushed_digest IS DISTINCT FROM r.digest)",
            (self.target, database),
        )
        return [desired.from_row(r) for r in rows if r["key"] not in exclude]

    def absent_live_keys(self, database: str) -> list[str]:
        """Keys with a live row in this target that the source no longer wants (absent or unknown)."""
        rows = self._all(
            "SELECT n.key FROM notion_rows n LEFT JOIN records r ON r.database = n.database AND r.key = n.key"
            " WHERE n.target = %s AND n.database = %s AND n.state <> 'archived' AND (r.key IS NULL OR NOT r.present)",
            (self.target, database),
        )
        return sorted(r["key"] for r in rows)

    def apply_renames(self, database: str) -> int:
        """Move this target's pages to the new keys of renamed records (see ``desired.stage_rename``)."""
        renames = self._all(
            "SELECT r.id, r.old_key, r.new_key FROM record_renames r WHERE r.database = %s AND EXISTS ("
            " SELECT 1 FROM notion_rows n WHERE n.target = %s AND n.database = r.database AND n.key = r.old_key"
            " AND n.state <> 'archived') ORDER BY r.id",
            (database, self.target),
        )
        moved = 0
        for rename in renames:
            moved += self._write(
                "UPDATE notion_rows n SET key = %s, pushed_digest = NULL WHERE n.target = %s AND n.database = %s"
                " AND n.key = %s AND n.state <> 'archived' AND NOT EXISTS (SELECT 1 FROM notion_rows t"
                " WHERE t.target = n.target AND t.database = n.database AND t.key = %s)",
                (rename["new_key"], self.target, database, rename["old_key"], rename["new_key"]),
            )
        # a rename no target still needs (no live page under its old key anywhere) is done
        self._write(
            "DELETE FROM record_renames r WHERE r.database = %s AND NOT EXISTS (SELECT 1 FROM notion_rows n"
            " WHERE n.database = r.database AND n.key = r.old_key AND n.state <> 'archived')",
            (database,),
        )
        return moved

    def mark_absent(self, database: str, key: str) -> None:
        self._write(
            "UPDATE records SET present = false, updated_at = now() WHERE database = %s AND key = %s", (database, key)
        )

    def has_record(self, database: str, key: str) -> bool:
        return self._one("SELECT 1 AS x FROM records WHERE database = %s AND key = %s", (database, key)) is not None

    def all_records(self, database: str) -> list[dict[str, Any]]:
        return self._all('SELECT key, "values", body, priority, present FROM records WHERE database = %s', (database,))

    def set_human(self, database: str, key: str, values: dict[str, Any]) -> bool:
        """Store human-owned values pulled from Notion; True when they changed."""
        encoded = json.dumps(values)
        return bool(
            self._write(
                "UPDATE records SET human = %s WHERE database = %s AND key = %s AND human IS DISTINCT FROM %s",
                (encoded, database, key, encoded),
            )
        )

    def human(self, database: str, key: str) -> dict[str, Any]:
        row = self._one("SELECT human FROM records WHERE database = %s AND key = %s", (database, key))
        return dict(row["human"]) if row else {}

    def human_all(self, database: str) -> dict[str, dict[str, Any]]:
        rows = self._all("SELECT key, human FROM records WHERE database = %s AND human <> '{}'::jsonb", (database,))
        return {r["key"]: dict(r["human"]) for r in rows}

    # -- pushed rows --------------------------------------------------------------------------------

    def row(self, database: str, key: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM notion_rows WHERE target = %s AND database = %s AND key = %s", (self.target, database, key)
        )

    def page_id(self, database: str, key: str) -> str | None:
        row = self._one(
            "SELECT page_id FROM notion_rows WHERE target = %s AND database = %s AND key = %s AND state <> 'archived'",
            (self.target, database, key),
        )
        return str(row["page_id"]) if row and row["page_id"] else None

    def page_ids(self, database: str, keys: Sequence[str]) -> dict[str, str]:
        """Live page ids of the given keys (keys without a page are absent from the result)."""
        rows = self._all(
            "SELECT key, page_id FROM notion_rows WHERE target = %s AND database = %s AND key = ANY(%s)"
            " AND page_id IS NOT NULL AND state <> 'archived'",
            (self.target, database, list(keys)),
        )
        return {r["key"]: str(r["page_id"]) for r in rows}

    def live_keys(self, database: str) -> set[str]:
        rows = self._all(
            "SELECT key FROM notion_rows WHERE target = %s AND database = %s AND state <> 'archived'",
            (self.target, database),
        )
        return {r["key"] for r in rows}

    def intend_create(self, database: str, key: str) -> None:
        """Record, before the request, that a create is about to be sent (so a crash can look it up)."""
        self._write(
            "INSERT INTO notion_rows (target, database, key, page_id, state, intent_at)"
            " VALUES (%s, %s, %s, NULL, 'creating', now()) ON CONFLICT (target, database, key) DO UPDATE"
            " SET state = 'creating', page_id = NULL, intent_at = now(),"
            " machine_hash = NULL, body_hash = NULL, body_length = NULL, pushed_digest = NULL",
            (self.target, database, key),
        )

    def set_row(self, database: str, key: str, **fields: Any) -> None:
        if not set(fields) <= set(ROW_FIELDS):
            raise ValueError(f"unknown notion_rows fields {sorted(set(fields) - set(ROW_FIELDS))}")
        sets = ", ".join(f"{name} = %s" for name in fields)
        self._write(
            f"UPDATE notion_rows SET {sets}, synced_at = now() WHERE target = %s AND database = %s AND key = %s",
            (*fields.values(), self.target, database, key),
        )

    def forget(self, database: str, key: str) -> None:
        self._write(
            "DELETE FROM notion_rows WHERE target = %s AND database = %s AND key = %s", (self.target, database, key)
        )

    # -- runs and watermarks ------------------------------------------------------------------------

    def start_run(self, database: str, mode: str) -> int:
        row = self._one(
            "INSERT INTO sync_runs (target, database, mode) VALUES (%s, %s, %s) RETURNING id",
            (self.target, database, mode),
        )
        assert row is not None
        return int(row["id"])

    def finish_run(self, run_id: int, report: dict[str, Any]) -> None:
        self._write(
            "UPDATE sync_runs SET finished_at = now(), report = %s WHERE id = %s",
            (json.dumps(report, default=str), run_id),
        )

    def pulled_until(self, database: str) -> datetime | None:
        row = self._one(
            "SELECT pulled_until FROM sync_watermarks WHERE target = %s AND database = %s", (self.target, database)
        )
        return row["pulled_until"] if row else None

    def set_pulled_until(self, database: str, moment: datetime) -> None:
        self._write(
            "INSERT INTO sync_watermarks (target, database, pulled_until) VALUES (%s, %s, %s)"
            " ON CONFLICT (target, database) DO UPDATE SET pulled_until = EXCLUDED.pulled_until",
            (self.target, database, moment),
        )


def adopt_target(conn: psycopg.Connection[Any], target: str, legacy_ids: Sequence[str]) -> str | None:
    """Move a ledger's rows from an id an older version gave this same target (before the parent page id
    and base URL were normalised) to ``target``; once, and only while ``target`` has no databases yet.
    Returns the id adopted, if any."""
    if not legacy_ids:
        return None
    with conn.transaction():
        if conn.execute("SELECT 1 FROM notion_databases WHERE target = %s LIMIT 1", (target,)).fetchone():
            return None
        row = conn.execute(
            "SELECT target FROM notion_databases WHERE target = ANY(%s) GROUP BY target"
            " ORDER BY max(provisioned_at) DESC LIMIT 1",
            (list(legacy_ids),),
        ).fetchone()
        if row is None:
            return None
        old = row["target"] if isinstance(row, dict) else row[0]
        for table in ("notion_databases", "notion_rows", "sync_runs", "sync_watermarks"):
            conn.execute(f"UPDATE {table} SET target = %s WHERE target = %s", (target, old))
    return str(old)


def _lock_id(target: str, database: str) -> str:
    return f"ssot-sync|{target}|{database}"


def try_sync_lock(conn: psycopg.Connection[Any], target: str, database: str) -> bool:
    """Take the (target, database) sync lock if it is free; True when this session now holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS ok", (_lock_id(target, database),))
    ok = row.fetchone()
    conn.commit()
    return bool(ok["ok"] if isinstance(ok, dict) else ok[0])  # type: ignore[index]


def sync_lock(conn: psycopg.Connection[Any], target: str, database: str) -> None:
    """Wait for and take the (target, database) sync lock (a session-level PostgreSQL advisory lock)."""
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_lock_id(target, database),))
    conn.commit()


def sync_unlock(conn: psycopg.Connection[Any], target: str, database: str) -> None:
    if conn.closed:
        return  # the lock went with the session
    conn.rollback()
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_lock_id(target, database),))
    conn.commit()
