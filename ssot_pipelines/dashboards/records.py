"""The ``dashboard_views`` table: which Notion view ids are the project's, per target and slot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class RecordedView:
    slot: str
    view_id: str
    database_name: str
    view_type: str
    restored: int


def recorded_views(conn: psycopg.Connection[Any], target: str) -> dict[str, RecordedView]:
    """The views the project made for ``target``, by slot."""
    rows = conn.execute(
        "SELECT slot, view_id, database_name, view_type, restored FROM dashboard_views WHERE target = %s", (target,)
    ).fetchall()
    return {
        r["slot"]: RecordedView(r["slot"], r["view_id"], r["database_name"], r["view_type"], int(r["restored"]))
        for r in rows
    }


def record_view(
    conn: psycopg.Connection[Any],
    target: str,
    slot: str,
    view_id: str,
    database_name: str,
    view_type: str,
    *,
    restored: bool = False,
) -> None:
    """Remember (or re-point) one of our views; the caller commits."""
    conn.execute(
        "INSERT INTO dashboard_views (target, slot, view_id, database_name, view_type, restored)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (target, slot) DO UPDATE SET view_id = EXCLUDED.view_id,"
        " database_name = EXCLUDED.database_name, view_type = EXCLUDED.view_type, checked_at = now(),"
        " created_at = CASE WHEN dashboard_views.view_id = EXCLUDED.view_id THEN dashboard_views.created_at"
        " ELSE now() END, restored = dashboard_views.restored + EXCLUDED.restored",
        (target, slot, view_id, database_name, view_type, 1 if restored else 0),
    )


def mark_checked(conn: psycopg.Connection[Any], target: str, slot: str) -> None:
    conn.execute("UPDATE dashboard_views SET checked_at = now() WHERE target = %s AND slot = %s", (target, slot))
