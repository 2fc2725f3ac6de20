"""Accepted baselines in the ledger: the text a file is compared with, kept with its history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ssot_pipelines.notion.desired import human_values_all

Conn = psycopg.Connection[dict[str, Any]]
ACCEPT_STATUS = "Accept baseline"  # the Drift Board "Status" a person picks to accept the current state


@dataclass
class Baseline:
    file_key: str
    path: str
    component: str | None
    content: str
    content_sha256: str
    loc: int
    spec_similarity: float | None
    spec_sha256: str | None
    accepted_at: datetime
    accepted_by: str  # 'first analysis' | 'cli' | 'notion'
    git_commit: str | None = None  # HEAD of the file's repository at acceptance


def load_baselines(conn: Conn, keys: Sequence[str] | None = None) -> dict[str, Baseline]:
    query = (
        "SELECT file_key, path, component, content, content_sha256, loc, spec_similarity, spec_sha256,"
        " accepted_at, accepted_by, git_commit FROM drift_baselines"
    )
    rows = (
        conn.execute(query + " WHERE file_key = ANY(%s)", (list(keys),)) if keys is not None else conn.execute(query)
    ).fetchall()
    return {r["file_key"]: Baseline(**r) for r in rows}


def save_baselines(conn: Conn, baselines: Iterable[Baseline]) -> int:
    """Upsert baselines and append each to the history; the caller owns the transaction."""
    rows = list(baselines)
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO drift_baselines (file_key, path, component, content, content_sha256, loc,"
            " spec_similarity, spec_sha256, accepted_at, accepted_by, git_commit)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (file_key) DO UPDATE SET"
            " path = EXCLUDED.path, component = EXCLUDED.component, content = EXCLUDED.content,"
            " content_sha256 = EXCLUDED.content_sha256, loc = EXCLUDED.loc,"
            " spec_similarity = EXCLUDED.spec_similarity, spec_sha256 = EXCLUDED.spec_sha256,"
            " accepted_at = EXCLUDED.accepted_at, accepted_by = EXCLUDED.accepted_by,"
            " git_commit = EXCLUDED.git_commit",
            [
                (
                    b.file_key,
                    b.path,
                    b.component,
                    b.content,
                    b.content_sha256,
                    b.loc,
                    b.spec_similarity,
                    b.spec_sha256,
                    b.accepted_at,
                    b.accepted_by,
                    b.git_commit,
                )
                for b in rows
            ],
        )
        cur.executemany(
            "INSERT INTO drift_baseline_history (file_key, content_sha256, spec_similarity, accepted_at,"
            " accepted_by, git_commit) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (b.file_key, b.content_sha256, b.spec_similarity, b.accepted_at, b.accepted_by, b.git_commit)
                for b in rows
            ],
        )
    return len(rows)


def pending_notion_accepts(conn: Conn) -> list[str]:
    """Drift Board keys a person set to "Accept baseline" in Notion that were not acted on yet.

    The Status is human-owned, so the engine never resets it; ``notion_accept_consumed`` remembers that
    this choice was applied, and clears when the person moves the Status elsewhere.
    """
    status = {
        key: values.get("Status") for key, values in human_values_all(conn, "drift_board", present_only=True).items()
    }
    consumed = {
        r["file_key"]
        for r in conn.execute("SELECT file_key FROM drift_baselines WHERE notion_accept_consumed").fetchall()
    }
    cleared = sorted(key for key in consumed if key in status and status[key] != ACCEPT_STATUS)
    if cleared:
        conn.execute("UPDATE drift_baselines SET notion_accept_consumed = false WHERE file_key = ANY(%s)", (cleared,))
    return sorted(key for key, value in status.items() if value == ACCEPT_STATUS and key not in consumed)


def mark_notion_accepts_consumed(conn: Conn, keys: Sequence[str]) -> None:
    conn.execute("UPDATE drift_baselines SET notion_accept_consumed = true WHERE file_key = ANY(%s)", (list(keys),))
