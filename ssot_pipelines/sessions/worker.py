"""The background worker: journal -> PostgreSQL (commit, then advance the segment checkpoint) -> Redis, vectors.

Every stage is safe to repeat: events are inserted on their stable id, the journal checkpoint moves in
the same transaction as the events it covers, the Redis stage marks events only after Redis took them,
and the recall stage rebuilds chunks with deterministic ids. An outage of one layer stops only its stage.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.sessions import journal, store
from ssot_pipelines.sessions.events import SessionEvent, hook_event
from ssot_pipelines.sessions.store import Connection

log = logging.getLogger(__name__)

DRAIN_BATCH = 2000
_DRAIN_LOCK = 0x55_07_5E55  # advisory lock id of the journal drain


@dataclass
class DrainReport:
    segments: int = 0
    records: int = 0
    inserted: int = 0
    malformed: int = 0
    waiting_tail_bytes: int = 0
    transcripts: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = f"journal: {self.records} records from {self.segments} segments, {self.inserted} new events"
        if self.malformed:
            text += f"; {self.malformed} unreadable journal lines kept raw as kind 'journal:malformed'"
        if self.waiting_tail_bytes:
            text += f"; {self.waiting_tail_bytes} bytes of a line still being written"
        return text


def drain_journal(conn: Connection, directory: Path | None = None, *, batch: int = DRAIN_BATCH) -> DrainReport:
    """Commit every journal record not yet in the ledger, advancing each segment's offset with its events."""
    report = DrainReport()
    # One drainer at a time (``ssot worker`` and a Dagster run may overlap); the other skips this stage.
    if not _try_lock(conn, wait_seconds=3.0):
        return report
    try:
        _drain_segments(conn, directory, batch, report)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_DRAIN_LOCK,))
        conn.commit()
    return report


def _try_lock(conn: Connection, *, wait_seconds: float) -> bool:
    # A killed drainer's lock goes with its connection; give the server a moment to notice.
    deadline = time.monotonic() + wait_seconds
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_DRAIN_LOCK,)).fetchone()
        conn.commit()
        if row and row["ok"]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _drain_segments(conn: Connection, directory: Path | None, batch: int, report: DrainReport) -> None:
    for segment in journal.segments(directory):
        report.segments += 1
        name = segment.name
        offset = store.journal_offset(conn, name)
        conn.commit()
        if segment.stat().st_size <= offset:
            _retire(segment, offset)
            continue
        while True:
            scan = journal.JournalScan()
            events: list[SessionEvent] = []
            end = offset
            for rec in journal.read_records(segment, offset, scan, limit=batch):
                event = hook_event(rec.record, f"journal/{name}")
                events.append(event)
                end = rec.end_offset
                path = _transcript_path(event)
                if path:
                    report.transcripts.add(path)
            for bad_end, bad in scan.malformed:
                events.append(_malformed_record(bad, name, bad_end))
                end = max(end, bad_end)
            if end == offset:
                report.waiting_tail_bytes += scan.incomplete_tail_bytes
                break
            with conn.transaction():
                report.inserted += store.insert_events(conn, events)
                store.set_journal_offset(conn, name, end, len(scan.malformed))
            report.records += len(events) - len(scan.malformed)
            report.malformed += len(scan.malformed)
            offset = end


def journal_keep_days() -> int:
    """``SSOT_JOURNAL_KEEP_DAYS`` (default 30): how long a fully committed journal segment is kept on disk."""
    from ssot_pipelines.settings import ConfigurationError, env

    raw = env("SSOT_JOURNAL_KEEP_DAYS", "30") or "30"
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigurationError(f"SSOT_JOURNAL_KEEP_DAYS={raw!r} is not a number of days (e.g. 30)") from None


def _retire(segment: Path, committed: int) -> None:
    """Delete a segment whose every byte is committed in PostgreSQL once it is older than the keep period."""
    from datetime import UTC, datetime, timedelta

    try:
        day = datetime.strptime(segment.stem, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return
    if datetime.now(UTC) - day > timedelta(days=journal_keep_days() + 1) and segment.stat().st_size == committed:
        segment.unlink(missing_ok=True)


def _transcript_path(event: SessionEvent) -> str | None:
    data = event.data()
    if isinstance(data, dict):
        for key in ("transcript_path", "agent_transcript_path"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _malformed_record(line: bytes, segment: str, end: int) -> SessionEvent:
    from datetime import UTC, datetime

    from ssot_pipelines.sessions.events import UNKNOWN_SESSION, line_digest

    text = line.decode("utf-8", "replace")
    return SessionEvent(
        event_id=f"journal:{segment}:{end}:{line_digest(text)}", session_id=UNKNOWN_SESSION, tool="claude-code",
        source="hook", kind="journal:malformed", ts=datetime.now(UTC), raw=text, origin=f"journal/{segment}",
    )


@dataclass
class WorkerConfig:
    postgres_url: str
    redis_url: str | None = None
    journal_directory: Path | None = None
    import_transcripts: bool = True
    recall: bool = True
    interval_seconds: float = 2.0
    tail_roots: list[Path] = field(default_factory=list)  # transcript folders checked for growth
    tail_every_seconds: float = 30.0


@dataclass
class PassReport:
    drain: DrainReport | None = None
    imported: int = 0
    live_pushed: int = 0
    indexed_sessions: int = 0
    errors: list[str] = field(default_factory=list)


def run_pass(cfg: WorkerConfig, *, vectors: Callable[[], tuple[Any, Any]] | None = None,
             tail: bool = False) -> PassReport:
    """One pass of every stage. PostgreSQL unreachable: nothing is acknowledged, the journal keeps it all.

    ``tail``: also import the transcripts under ``cfg.tail_roots`` that grew since their last import.
    """
    from ssot_pipelines.settings import redact

    out = PassReport()
    try:
        conn = psycopg.connect(cfg.postgres_url, row_factory=psycopg.rows.dict_row, connect_timeout=5)
    except psycopg.Error as exc:
        out.errors.append(f"PostgreSQL unreachable ({redact(str(exc).strip(), cfg.postgres_url)}); "
                          "the journal keeps every event until it answers")
        return out
    try:
        conn.execute("SET search_path TO ssot, public")
        conn.commit()
        out.drain = drain_journal(conn, cfg.journal_directory)
        if cfg.import_transcripts:
            from ssot_pipelines.sessions.transcripts import changed_transcripts, import_paths

            paths = [Path(p) for p in sorted(out.drain.transcripts) if Path(p).exists()]
            if tail:
                paths += changed_transcripts(conn, cfg.tail_roots)
            if paths:
                out.imported = import_paths(conn, paths).inserted
        if cfg.redis_url:
            out.live_pushed = _live_stage(conn, cfg.redis_url, out)
        if cfg.recall and vectors is not None:
            from ssot_pipelines.sessions.recall import index_sessions

            try:
                vector_store, embedder = vectors()
                out.indexed_sessions = index_sessions(conn, vector_store, embedder).sessions
            except Exception as exc:  # the vector layer is optional for zero loss; retried next pass
                conn.rollback()
                out.errors.append(f"recall indexing failed: {type(exc).__name__}: {exc}")
    except psycopg.Error as exc:
        out.errors.append(f"PostgreSQL failed mid-pass ({redact(str(exc).strip(), cfg.postgres_url)}); "
                          "the uncommitted part is retried")
    finally:
        conn.close()
    return out


def _live_stage(conn: Connection, redis_url: str, out: PassReport) -> int:
    import redis

    from ssot_pipelines.sessions.live import push_live

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return push_live(conn, client)
    except redis.RedisError as exc:
        conn.rollback()
        out.errors.append(f"Redis unavailable ({type(exc).__name__}); live streams catch up when it returns")
        return 0
    finally:
        client.close()


def run_forever(cfg: WorkerConfig, *, vectors: Callable[[], tuple[Any, Any]] | None = None,
                passes: int | None = None, echo: Callable[[str], None] = print) -> int:
    """Run passes until SIGTERM/SIGINT (or ``passes``); errors are reported once per change, then retried."""
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    done = 0
    last_errors: list[str] = []
    last_tail = 0.0
    while not stopping and (passes is None or done < passes):
        tail = bool(cfg.tail_roots) and time.monotonic() - last_tail >= cfg.tail_every_seconds
        if tail:
            last_tail = time.monotonic()
        try:
            report = run_pass(cfg, vectors=vectors, tail=tail)
        except Exception as exc:  # keep draining: the journal holds everything; the error is shown
            report = PassReport(errors=[f"pass failed: {type(exc).__name__}: {exc}"])
            log.exception("ssot worker pass failed")
        done += 1
        if report.errors != last_errors:
            for error in report.errors:
                echo(f"ssot worker: {error}")
            last_errors = report.errors
        if report.drain and (report.drain.inserted or report.drain.malformed):
            echo(f"ssot worker: {report.drain.summary()}; {report.live_pushed} to Redis, "
                 f"{report.indexed_sessions} sessions indexed")
        if passes is None or done < passes:
            time.sleep(cfg.interval_seconds)
    return 0
