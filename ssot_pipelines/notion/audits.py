"""Audit results per (target, database): written by ``ssot verify`` and the asset checks, read by the status page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class Audit:
    database: str
    ok: bool
    summary: str
    source: str
    audited_at: datetime


def record_audit(
    conn: psycopg.Connection[Any], target: str, database: str, *, ok: bool, summary: str, source: str = "verify"
) -> None:
    """Keep one audit's verdict (the caller commits). Old results are pruned to the last 50 per database."""
    conn.execute(
        "INSERT INTO notion_audits (target, database, ok, summary, source) VALUES (%s, %s, %s, %s, %s)",
        (target, database, ok, summary, source),
    )
    conn.execute(
        "DELETE FROM notion_audits WHERE target = %s AND database = %s AND id NOT IN ("
        " SELECT id FROM notion_audits WHERE target = %s AND database = %s ORDER BY id DESC LIMIT 50)",
        (target, database, target, database),
    )


def last_audits(conn: psycopg.Connection[Any], target: str) -> dict[str, Audit]:
    """The latest audit of each database of ``target``."""
    rows = conn.execute(
        "SELECT DISTINCT ON (database) database, ok, summary, source, audited_at FROM notion_audits"
        " WHERE target = %s ORDER BY database, id DESC",
        (target,),
    ).fetchall()
    return {
        r["database"]: Audit(r["database"], bool(r["ok"]), str(r["summary"]), str(r["source"]), r["audited_at"])
        for r in rows
    }
