"""The status page's own tables (migration 0910): its page and block ids, and the failed runs it shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class StoredPage:
    page_id: str
    verified_at: datetime | None
    blocks: dict[str, tuple[str, str]]  # section -> (block id, text hash)


def stored_page(conn: psycopg.Connection[Any], target: str) -> StoredPage | None:
    row = conn.execute("SELECT page_id, verified_at FROM status_pages WHERE target = %s", (target,)).fetchone()
    if row is None:
        return None
    blocks = conn.execute(
        "SELECT section, block_id, text_hash FROM status_page_blocks WHERE target = %s", (target,)
    ).fetchall()
    return StoredPage(
        str(row["page_id"]), row["verified_at"], {b["section"]: (b["block_id"], b["text_hash"]) for b in blocks}
    )


def save_page(conn: psycopg.Connection[Any], target: str, page_id: str) -> None:
    """A new page replaces the old one and its blocks (the caller commits)."""
    conn.execute("DELETE FROM status_page_blocks WHERE target = %s", (target,))
    conn.execute(
        "INSERT INTO status_pages (target, page_id, verified_at) VALUES (%s, %s, now())"
        " ON CONFLICT (target) DO UPDATE SET page_id = EXCLUDED.page_id, created_at = now(), verified_at = now()",
        (target, page_id),
    )


def save_block(conn: psycopg.Connection[Any], target: str, section: str, block_id: str, text_hash: str) -> None:
    conn.execute(
        "INSERT INTO status_page_blocks (target, section, block_id, text_hash) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (target, section) DO UPDATE SET block_id = EXCLUDED.block_id, text_hash = EXCLUDED.text_hash",
        (target, section, block_id, text_hash),
    )


def mark_verified(conn: psycopg.Connection[Any], target: str) -> None:
    conn.execute("UPDATE status_pages SET verified_at = now() WHERE target = %s", (target,))


def record_run_failure(conn: psycopg.Connection[Any], run_id: str, job_name: str, message: str) -> None:
    """Keep a failed Dagster run for the page (idempotent per run; the caller commits). Keeps the last 20."""
    conn.execute(
        "INSERT INTO status_run_failures (run_id, job_name, message) VALUES (%s, %s, %s)"
        " ON CONFLICT (run_id) DO NOTHING",
        (run_id, job_name, message),
    )
    conn.execute(
        "DELETE FROM status_run_failures WHERE run_id NOT IN"
        " (SELECT run_id FROM status_run_failures ORDER BY failed_at DESC LIMIT 20)"
    )


def recent_failures(conn: psycopg.Connection[Any], limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT run_id, job_name, message, failed_at FROM status_run_failures ORDER BY failed_at DESC LIMIT %s",
        (limit,),
    ).fetchall()


@contextmanager
def page_lock(conn: psycopg.Connection[Any], target: str) -> Iterator[None]:
    """One writer of a target's status page at a time (parallel steps must not create two pages)."""
    lock = f"ssot-status-page|{target}"
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock,))
    conn.commit()
    try:
        yield
    finally:
        if not conn.closed:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock,))
            conn.commit()
