"""The PostgreSQL layer: events (exact original JSON), sessions, links and the import checkpoints.

Inserts are idempotent on the stable event id (``ON CONFLICT DO NOTHING``), so every stage that feeds
this module can be repeated after a crash without duplicating anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from ssot_pipelines.sessions.events import SessionEvent

Connection = psycopg.Connection[dict[str, Any]]

_COLUMNS = (
    "event_id", "session_id", "tool", "source", "kind", "ts", "message_uuid", "parent_uuid",
    "logical_parent_uuid", "tool_use_id", "prompt_id", "is_sidechain", "agent_id", "cwd", "git_branch",
    "origin", "raw",
)
_COLUMN_LIST = ", ".join(_COLUMNS)


def _clean(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; JSON escapes it as \u0000, so only corrupt bytes could carry one.
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


def insert_events(conn: Connection, events: Sequence[SessionEvent]) -> int:
    """Insert the events not yet stored (in the caller's transaction); returns how many were new.

    Also refreshes the ``sessions`` rows of the sessions that gained events.
    """
    if not events:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_events "
            "(LIKE session_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("DELETE FROM incoming_events")
        with cur.copy(f"COPY incoming_events ({_COLUMN_LIST}) FROM STDIN") as copy:
            for e in events:
                copy.write_row((
                    e.event_id, e.session_id, e.tool, e.source, e.kind, e.ts, e.message_uuid, e.parent_uuid,
                    e.logical_parent_uuid, e.tool_use_id, e.prompt_id, e.is_sidechain, e.agent_id,
                    _clean(e.cwd), _clean(e.git_branch), _clean(e.origin), _clean(e.raw),
                ))
        # DISTINCT ON keeps one copy when a batch repeats an id (a transcript re-read after a rewrite).
        cur.execute(
            f"WITH new AS (INSERT INTO session_events ({_COLUMN_LIST}) "
            # Arrival order decides seq, which breaks ties between equal timestamps.
            f"SELECT {_COLUMN_LIST} FROM (SELECT DISTINCT ON (event_id) *, seq AS arrival FROM incoming_events"
            " ORDER BY event_id, seq) AS unique_events ORDER BY arrival "
            "ON CONFLICT (event_id) DO NOTHING "
            "RETURNING session_id, tool, ts, cwd, git_branch, source, origin), "
            "touched AS (INSERT INTO sessions AS s (session_id, tool, cwd, git_branch, transcript_path,"
            " first_event_at, last_event_at, event_count, changed_at) "
            "SELECT session_id, min(tool), max(cwd), max(git_branch),"
            " max(origin) FILTER (WHERE source <> 'hook'), min(ts), max(ts), count(*), clock_timestamp()"
            " FROM new GROUP BY session_id "
            "ON CONFLICT (session_id) DO UPDATE SET"
            " cwd = coalesce(EXCLUDED.cwd, s.cwd), git_branch = coalesce(EXCLUDED.git_branch, s.git_branch),"
            " transcript_path = coalesce(s.transcript_path, EXCLUDED.transcript_path),"
            " first_event_at = least(s.first_event_at, EXCLUDED.first_event_at),"
            " last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at),"
            " event_count = s.event_count + EXCLUDED.event_count, changed_at = clock_timestamp() "
            "RETURNING 1) "
            "SELECT (SELECT count(*) FROM new) AS n, (SELECT count(*) FROM touched) AS sessions"
        )
        row = cur.fetchone()
        cur.execute("DELETE FROM incoming_events")
    return int(row["n"]) if row else 0


def session_events(conn: Connection, session_id: str) -> list[SessionEvent]:
    """All events of a session in order (time, then arrival)."""
    rows = conn.execute(
        f"SELECT seq, {_COLUMN_LIST} FROM session_events WHERE session_id = %s ORDER BY ts, seq", (session_id,)
    ).fetchall()
    return [SessionEvent(**row) for row in rows]


def session_row(conn: Connection, session_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM sessions WHERE session_id = %s", (session_id,)).fetchone()
    return dict(row) if row else None


def journal_offset(conn: Connection, segment: str) -> int:
    row = conn.execute("SELECT byte_offset FROM session_journal_offsets WHERE segment = %s", (segment,)).fetchone()
    return int(row["byte_offset"]) if row else 0


def set_journal_offset(conn: Connection, segment: str, offset: int, skipped: int) -> None:
    conn.execute(
        "INSERT INTO session_journal_offsets (segment, byte_offset, skipped) VALUES (%s, %s, %s) "
        "ON CONFLICT (segment) DO UPDATE SET"
        " byte_offset = greatest(session_journal_offsets.byte_offset, EXCLUDED.byte_offset),"
        " skipped = session_journal_offsets.skipped + EXCLUDED.skipped, updated_at = now()",
        (segment, offset, skipped),
    )


def transcript_checkpoint(conn: Connection, path: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM session_transcript_files WHERE path = %s", (path,)).fetchone()
    return dict(row) if row else None


def set_transcript_checkpoint(conn: Connection, path: str, offset: int, head_sha: str, lines: int,
                              skipped: int, *, restart: bool = False) -> None:
    conn.execute(
        "INSERT INTO session_transcript_files (path, byte_offset, head_sha, lines, skipped) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET byte_offset = EXCLUDED.byte_offset,"
        " head_sha = EXCLUDED.head_sha,"
        " lines = CASE WHEN %s THEN EXCLUDED.lines ELSE session_transcript_files.lines + EXCLUDED.lines END,"
        " skipped = CASE WHEN %s THEN EXCLUDED.skipped ELSE session_transcript_files.skipped + EXCLUDED.skipped END,"
        " updated_at = now()",
        (path, offset, head_sha, lines, skipped, restart, restart),
    )


def add_links(conn: Connection, links: Iterable[tuple[str, str, str, str]]) -> int:
    """Store (from_key, to_key, kind, evidence) links; existing pairs are kept as first found."""
    added = 0
    for from_key, to_key, kind, evidence in links:
        if from_key == to_key:
            continue
        cur = conn.execute(
            "INSERT INTO session_links (from_key, to_key, kind, evidence) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (from_key, to_key) DO NOTHING",
            (from_key, to_key, kind, evidence),
        )
        added += cur.rowcount
    return added


def add_link_evidence(conn: Connection, to_session: str, evidence: Iterable[tuple[str, str, str]]) -> None:
    """Remember (from_session, kind, evidence) found for ``to_session``; the first evidence per kind is kept."""
    for from_session, kind, text in evidence:
        conn.execute(
            "INSERT INTO session_link_evidence (to_session, from_session, kind, evidence) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING", (to_session, from_session, kind, text),
        )


def link_evidence(conn: Connection, to_session: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT from_session, kind, evidence FROM session_link_evidence WHERE to_session = %s ORDER BY from_session",
        (to_session,)).fetchall()]


def links_of(conn: Connection, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Links touching any of ``keys`` (either end)."""
    return [dict(r) for r in conn.execute(
        "SELECT * FROM session_links WHERE from_key = ANY(%s) OR to_key = ANY(%s) ORDER BY created_at, from_key",
        (list(keys), list(keys)),
    ).fetchall()]


def sessions_changed_since(conn: Connection, since: datetime | None, limit: int = 1000) -> list[str]:
    rows = conn.execute(
        "SELECT session_id FROM sessions WHERE %s::timestamptz IS NULL OR changed_at > %s "
        "ORDER BY changed_at LIMIT %s",
        (since, since, limit),
    ).fetchall()
    return [str(r["session_id"]) for r in rows]
