"""The PostgreSQL layer: events (exact original JSON), sessions, links and the import checkpoints.

Inserts are idempotent on the stable event id (``ON CONFLICT DO NOTHING``), so every stage that feeds
this module can be repeated after a crash without duplicating anything; an id seen again with other
content is kept as a version. An event the ledger cannot store as it is goes to the quarantine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb

from ssot_pipelines.sessions.events import SessionEvent

Connection = psycopg.Connection[dict[str, Any]]

_COLUMNS = (
    "event_id",
    "session_id",
    "tool",
    "source",
    "kind",
    "ts",
    "message_uuid",
    "parent_uuid",
    "logical_parent_uuid",
    "tool_use_id",
    "prompt_id",
    "is_sidechain",
    "agent_id",
    "cwd",
    "git_branch",
    "origin",
    "raw",
    "version_of",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_TEXT_FIELDS = tuple(c for c in _COLUMNS if c not in ("ts", "is_sidechain"))
_VALUE_LIST = ", ".join(c for c in _COLUMNS if c not in ("event_id", "version_of"))
# Errors a single row can cause (a value PostgreSQL refuses, an index row too large, a trigger): the
# batch is bisected to find the row, which goes to the quarantine. Anything else (the server gone, a
# timeout) is not the row's fault and is raised: the caller retries the whole batch later.
ROW_ERRORS = (
    psycopg.errors.DataError,
    psycopg.errors.IntegrityError,
    psycopg.errors.ProgramLimitExceeded,
    psycopg.errors.InternalError,
    psycopg.errors.RaiseException,
)


@dataclass
class InsertResult:
    """What one insert did: new events, of which conflicting versions, and events sent to the quarantine."""

    inserted: int = 0
    versions: int = 0
    quarantined: int = 0

    def add(self, other: InsertResult) -> None:
        self.inserted += other.inserted
        self.versions += other.versions
        self.quarantined += other.quarantined


def storage_problem(event: SessionEvent) -> str | None:
    """Why the ledger cannot store ``event`` exactly as it is (None when it can).

    PostgreSQL text holds neither NUL nor lone surrogates (nor the bytes that are not UTF-8, which a
    reader kept as surrogates); replacing them would change what the person wrote, so such an event is
    quarantined with its exact bytes instead.
    """
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            return f"NUL character in {name} (PostgreSQL text cannot hold it)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not valid UTF-8 (a lone surrogate or bytes that are not UTF-8)"
    return None


def insert_or_quarantine(conn: Connection, events: Sequence[SessionEvent]) -> InsertResult:
    """Insert what the ledger can store, quarantine the rest with its bytes and reason (caller's transaction).

    No event can stop the others: one the ledger refuses is found by bisecting the batch in savepoints.
    """
    result = InsertResult()
    good: list[SessionEvent] = []
    for event in events:
        problem = storage_problem(event)
        if problem:
            result.quarantined += quarantine(conn, event, problem)
        else:
            good.append(event)
    _insert_bisecting(conn, good, result)
    return result


def _insert_bisecting(conn: Connection, events: Sequence[SessionEvent], result: InsertResult) -> None:
    if not events:
        return
    try:
        with conn.transaction():
            result.add(insert_events(conn, events))
        return
    except ROW_ERRORS as exc:
        if len(events) == 1:
            reason = f"PostgreSQL refused it: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            result.quarantined += quarantine(conn, events[0], reason)
            return
    half = len(events) // 2
    _insert_bisecting(conn, events[:half], result)
    _insert_bisecting(conn, events[half:], result)


def insert_events(conn: Connection, events: Sequence[SessionEvent]) -> InsertResult:
    """Insert the events not yet stored (in the caller's transaction); every value must be storable.

    Only a byte-identical event is a duplicate. An event whose id is stored (or earlier in the batch) with
    other content is kept as a version: id ``<id>~<digest>``, ``version_of`` = the id. Also refreshes the
    ``sessions`` rows of the sessions that gained events.
    """
    if not events:
        return InsertResult()
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_events "
            "(LIKE session_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("DELETE FROM incoming_events")
        with cur.copy(f"COPY incoming_events ({_COLUMN_LIST}) FROM STDIN") as copy:
            for e in events:
                copy.write_row(tuple(getattr(e, c) for c in _COLUMNS))
        cur.execute(
            # The content an id stands for: the stored row's, else the first in the batch.
            "WITH firsts AS (SELECT DISTINCT ON (event_id) event_id, raw FROM incoming_events"
            " ORDER BY event_id, seq), "
            "labelled AS (SELECT i.*, coalesce(s.raw, f.raw) <> i.raw AS is_version FROM incoming_events i"
            " JOIN firsts f USING (event_id) LEFT JOIN session_events s ON s.event_id = i.event_id), "
            # DISTINCT ON keeps one copy of byte-identical lines (a transcript re-read after a rewrite).
            "final AS (SELECT DISTINCT ON (final_id) * FROM (SELECT CASE WHEN is_version THEN event_id || '~' ||"
            " left(encode(sha256(convert_to(raw, 'UTF8')), 'hex'), 16) ELSE event_id END AS final_id,"
            " CASE WHEN is_version THEN event_id END AS final_version_of, seq AS arrival, * FROM labelled) x"
            " ORDER BY final_id, arrival), "
            f"new AS (INSERT INTO session_events (event_id, version_of, {_VALUE_LIST}) "
            # Arrival order decides seq, which breaks ties between equal timestamps.
            f"SELECT final_id, final_version_of, {_VALUE_LIST} FROM final ORDER BY arrival "
            "ON CONFLICT (event_id) DO NOTHING "
            "RETURNING session_id, tool, ts, cwd, git_branch, source, origin, version_of), "
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
            "SELECT (SELECT count(*) FROM new) AS n, (SELECT count(*) FROM new WHERE version_of IS NOT NULL)"
            " AS versions, (SELECT count(*) FROM touched) AS sessions"
        )
        row = cur.fetchone()
        cur.execute("DELETE FROM incoming_events")
    return InsertResult(int(row["n"]), int(row["versions"])) if row else InsertResult()


# -- the quarantine ---------------------------------------------------------------------------------


def _printable(text: str | None) -> str | None:
    """A label that PostgreSQL text can hold (the exact bytes are kept in ``raw``)."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def raw_bytes(event: SessionEvent) -> bytes:
    """The exact bytes ``event.raw`` was read from (readers keep bytes that are not UTF-8 as surrogates)."""
    try:
        return event.raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return event.raw.encode("utf-8", "surrogatepass")


def quarantine(conn: Connection, event: SessionEvent, reason: str) -> int:
    """Keep an event the ledger cannot store, with its exact bytes and the reason; 1 if it is new here."""
    raw = raw_bytes(event)
    origin = _printable(event.origin) or ""
    event_id = _printable(event.event_id)
    digest = hashlib.sha256()
    for part in (event.source.encode(), origin.encode(), (event_id or "").encode(), raw):
        digest.update(len(part).to_bytes(8, "big") + part)
    # What the parser needs to read the bytes again: the receipt time of a hook, the file's session.
    context = {"ts": event.ts.isoformat(), "session_id": _printable(event.session_id)}
    cur = conn.execute(
        "INSERT INTO session_quarantine (fingerprint, source, tool, origin, event_id, raw, context, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (fingerprint) DO UPDATE SET"
        " last_tried_at = now() WHERE session_quarantine.released_at IS NULL RETURNING (xmax = 0) AS new",
        (digest.hexdigest(), event.source, event.tool, origin, event_id, raw, Jsonb(context), reason),
    )
    row = cur.fetchone()
    return 1 if row and row["new"] else 0


def quarantined_events(conn: Connection, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The events still held in the quarantine, oldest first."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM session_quarantine WHERE released_at IS NULL ORDER BY quarantine_id LIMIT %s", (limit,)
        ).fetchall()
    ]


def release(conn: Connection, quarantine_id: int) -> None:
    conn.execute(
        "UPDATE session_quarantine SET released_at = now(), last_tried_at = now(),"
        " attempts = attempts + 1 WHERE quarantine_id = %s",
        (quarantine_id,),
    )


def still_held(conn: Connection, quarantine_id: int, reason: str) -> None:
    conn.execute(
        "UPDATE session_quarantine SET reason = %s, last_tried_at = now(), attempts = attempts + 1"
        " WHERE quarantine_id = %s",
        (reason, quarantine_id),
    )


@dataclass(frozen=True)
class CaptureBacklog:
    """What capture holds back: events in the quarantine, and journal bytes not yet committed."""

    quarantined: int
    journal_bytes_pending: int

    def summary(self) -> str:
        text = f"{self.quarantined} events in quarantine"
        if self.quarantined:
            text += " (see them with `ssot worker --show-quarantine`, retry with `ssot worker --redrive-quarantine`)"
        return text + f"; {self.journal_bytes_pending} journal bytes waiting for the worker"


def quarantined_count(conn: Connection) -> int:
    """How many events the quarantine holds (not yet re-driven into the ledger)."""
    row = conn.execute("SELECT count(*) AS n FROM session_quarantine WHERE released_at IS NULL").fetchone()
    return int(row["n"]) if row else 0


def capture_backlog(conn: Connection, journal_directory: str | None = None) -> CaptureBacklog:
    """For ``ssot status``: the events in quarantine and this machine's journal bytes not yet committed."""
    from ssot_pipelines.sessions import journal

    directory = journal_directory or journal.journal_dir()
    pending = 0
    segments = journal.segments(directory)
    if segments:
        jid = journal.journal_id(directory)
        offsets = journal_offsets(conn, jid)
        for segment in segments:
            pending += max(0, segment.stat().st_size - offsets.get(segment.name, 0))
    return CaptureBacklog(quarantined_count(conn), pending)


def session_events(conn: Connection, session_id: str) -> list[SessionEvent]:
    """All events of a session in order (time, then arrival)."""
    rows = conn.execute(
        f"SELECT seq, {_COLUMN_LIST} FROM session_events WHERE session_id = %s ORDER BY ts, seq", (session_id,)
    ).fetchall()
    return [SessionEvent(**row) for row in rows]


def session_row(conn: Connection, session_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM sessions WHERE session_id = %s", (session_id,)).fetchone()
    return dict(row) if row else None


def journal_offsets(conn: Connection, journal_id: str) -> dict[str, int]:
    """Segment name -> bytes committed, for one journal (see ``journal.journal_id``)."""
    rows = conn.execute(
        "SELECT segment, byte_offset FROM session_journal_offsets WHERE journal_id = %s", (journal_id,)
    ).fetchall()
    return {str(r["segment"]): int(r["byte_offset"]) for r in rows}


def journal_offset(conn: Connection, journal_id: str, segment: str) -> int:
    row = conn.execute(
        "SELECT byte_offset FROM session_journal_offsets WHERE journal_id = %s AND segment = %s", (journal_id, segment)
    ).fetchone()
    return int(row["byte_offset"]) if row else 0


def set_journal_offset(conn: Connection, journal_id: str, segment: str, offset: int, skipped: int) -> None:
    conn.execute(
        "INSERT INTO session_journal_offsets (journal_id, segment, byte_offset, skipped) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (journal_id, segment) DO UPDATE SET"
        " byte_offset = greatest(session_journal_offsets.byte_offset, EXCLUDED.byte_offset),"
        " skipped = session_journal_offsets.skipped + EXCLUDED.skipped, updated_at = now()",
        (journal_id, segment, offset, skipped),
    )


def transcript_checkpoint(conn: Connection, path: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM session_transcript_files WHERE path = %s", (path,)).fetchone()
    return dict(row) if row else None


def set_transcript_checkpoint(
    conn: Connection, path: str, offset: int, head_sha: str, lines: int, skipped: int, *, restart: bool = False
) -> None:
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
            " ON CONFLICT DO NOTHING",
            (to_session, from_session, kind, text),
        )


def link_evidence(conn: Connection, to_session: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT from_session, kind, evidence FROM session_link_evidence WHERE to_session = %s"
            " ORDER BY from_session",
            (to_session,),
        ).fetchall()
    ]


def links_of(conn: Connection, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Links touching any of ``keys`` (either end)."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM session_links WHERE from_key = ANY(%s) OR to_key = ANY(%s) ORDER BY created_at, from_key",
            (list(keys), list(keys)),
        ).fetchall()
    ]


def sessions_changed_since(conn: Connection, since: datetime | None, limit: int = 1000) -> list[str]:
    rows = conn.execute(
        "SELECT session_id FROM sessions WHERE %s::timestamptz IS NULL OR changed_at > %s ORDER BY changed_at LIMIT %s",
        (since, since, limit),
    ).fetchall()
    return [str(r["session_id"]) for r in rows]
