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

ROW_FIELDS = ("state", "page_id", "machine_hash", "body_hash", "body_length", "shared")


class SyncLedger:
    """Ledger access for one Notion target (rows are kept per target; desired records are shared)."""

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

    # -- desired records ----------------------------------------------------------------------------

    def store_desired(self, database: str, records: Sequence[Any], vanished: Sequence[str]) -> None:
        """Write the desired state first: the ledger is the durable record, Notion follows it."""
        with self.conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO records (database, key, "values", body, priority, present, updated_at)'
                " VALUES (%s, %s, %s, %s, %s, true, now())"
                ' ON CONFLICT (database, key) DO UPDATE SET "values" = EXCLUDED."values", body = EXCLUDED.body,'
                " priority = EXCLUDED.priority, present = true, updated_at = now()"
                ' WHERE records."values" IS DISTINCT FROM EXCLUDED."values"'
                " OR records.body IS DISTINCT FROM EXCLUDED.body OR NOT records.present",
                [
                    (database, r.key, json.dumps(r.values, default=str, ensure_ascii=False), r.body, r.priority)
                    for r in records
                ],
            )
            if vanished:
                cur.execute(
                    "UPDATE records SET present = false, updated_at = now() WHERE database = %s AND key = ANY(%s)",
                    (database, list(vanished)),
                )
        self.conn.commit()

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
        rows = self._all(
            "SELECT key, human FROM records WHERE database = %s AND human <> '{}'::jsonb", (database,)
        )
        return {r["key"]: dict(r["human"]) for r in rows}

    # -- pushed rows --------------------------------------------------------------------------------

    def row(self, database: str, key: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM notion_rows WHERE target = %s AND database = %s AND key = %s", (self.target, database, key)
        )

    def page_id(self, database: str, key: str) -> str | None:
        row = self._one(
            "SELECT page_id FROM notion_rows WHERE target = %s AND database = %s AND key = %s"
            " AND state <> 'archived'",
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
            " machine_hash = NULL, body_hash = NULL, body_length = NULL",
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


def rekey(conn: psycopg.Connection[Any], database: str, old_key: str, new_key: str) -> bool:
    """Give a record a new key and keep its Notion page (a renamed file keeps its page, Notes and links).

    The next sync writes the new Key onto the page. Returns False, moving nothing, when the old key has
    no live page or the new key already has a row of its own (then the old page is archived as usual).
    """
    with conn.transaction():
        taken = conn.execute(
            "SELECT 1 FROM notion_rows WHERE database = %s AND key = %s LIMIT 1", (database, new_key)
        ).fetchone()
        had = conn.execute(
            "SELECT 1 FROM notion_rows WHERE database = %s AND key = %s AND state <> 'archived' LIMIT 1",
            (database, old_key),
        ).fetchone()
        if taken or not had:
            return False
        conn.execute("DELETE FROM records WHERE database = %s AND key = %s", (database, new_key))
        for table in ("records", "notion_rows"):
            conn.execute(f"UPDATE {table} SET key = %s WHERE database = %s AND key = %s", (new_key, database, old_key))
    return True
