"""The background worker: journal -> PostgreSQL (commit, then advance the segment checkpoint) -> Redis, vectors.

Every stage is safe to repeat: events are inserted on their stable id, the journal checkpoint moves in
the same transaction as the events it covers, the Redis stage marks events only after Redis took them,
and the recall stage rebuilds chunks with deterministic ids. An outage of one layer stops only its stage.
"""

from __future__ import annotations

import json
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
from ssot_pipelines.sessions.transcripts import ImportReport

log = logging.getLogger(__name__)

DRAIN_BATCH = 2000


@dataclass
class DrainReport:
    journal_id: str = ""
    segments: int = 0
    records: int = 0
    inserted: int = 0
    versions: int = 0
    quarantined: int = 0
    malformed: int = 0
    waiting_tail_bytes: int = 0
    transcripts: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = f"journal: {self.records} records from {self.segments} segments, {self.inserted} new events"
        if self.versions:
            text += f" ({self.versions} conflicting versions of an event id, kept)"
        if self.quarantined:
            text += f"; {self.quarantined} events quarantined (the ledger cannot store them as they are)"
        if self.malformed:
            text += f"; {self.malformed} unreadable journal lines kept raw as kind 'journal:malformed'"
        if self.waiting_tail_bytes:
            text += f"; {self.waiting_tail_bytes} bytes of a line still being written"
        return text


def drain_journal(conn: Connection, directory: Path | None = None, *, batch: int = DRAIN_BATCH) -> DrainReport:
    """Commit every journal record not yet in the ledger, advancing each segment's offset with its events.

    Checkpoints are kept per journal identity (the ``journal-id`` file beside the segments), so journals
    of several machines or directories drain into one ledger side by side. An event the ledger cannot
    store goes to the quarantine in the same transaction, so it never holds back the events behind it.
    """
    directory = directory or Path(journal.journal_dir())
    report = DrainReport()
    if not journal.segments(directory):
        return report
    report.journal_id = journal.journal_id(directory)
    # One drainer per journal at a time (``ssot worker`` and a Dagster run may overlap); the other skips.
    lock = ("ssot-journal:" + report.journal_id,)
    if not _try_lock(conn, lock, wait_seconds=3.0):
        return report
    try:
        _drain_segments(conn, directory, report.journal_id, batch, report)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", lock)
        conn.commit()
    return report


def _try_lock(conn: Connection, lock: tuple[str], *, wait_seconds: float) -> bool:
    # A killed drainer's lock goes with its connection; give the server a moment to notice.
    deadline = time.monotonic() + wait_seconds
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS ok", lock).fetchone()
        conn.commit()
        if row and row["ok"]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _drain_segments(conn: Connection, directory: Path, journal_id: str, batch: int, report: DrainReport) -> None:
    for segment in journal.segments(directory):
        report.segments += 1
        name = segment.name
        offset = store.journal_offset(conn, journal_id, name)
        conn.commit()
        if segment.stat().st_size <= offset:
            _retire(segment, offset)
            continue
        origin = f"journal/{journal_id}/{name}"
        while True:
            scan = journal.JournalScan()
            events: list[SessionEvent] = []
            end = offset
            for rec in journal.read_records(segment, offset, scan, limit=batch):
                try:
                    event = hook_event(rec.record, origin)
                except (ValueError, TypeError, KeyError):  # a record damaged on disk (bad base64, odd types)
                    event = _malformed_record(json.dumps(rec.record).encode(), origin, rec.end_offset)
                events.append(event)
                end = rec.end_offset
                path = _transcript_path(event)
                if path:
                    report.transcripts.add(path)
            for bad_end, bad in scan.malformed:
                events.append(_malformed_record(bad, origin, bad_end))
                end = max(end, bad_end)
            if end == offset:
                report.waiting_tail_bytes += scan.incomplete_tail_bytes
                break
            with conn.transaction():
                result = store.insert_or_quarantine(conn, events)
                store.set_journal_offset(conn, journal_id, name, end, len(scan.malformed))
            report.inserted += result.inserted
            report.versions += result.versions
            report.quarantined += result.quarantined
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


def _malformed_record(line: bytes, origin: str, end: int) -> SessionEvent:
    from datetime import UTC, datetime

    from ssot_pipelines.sessions.events import UNKNOWN_SESSION, line_digest

    # surrogateescape: bytes that are not UTF-8 make it a quarantined event with its exact bytes.
    text = line.decode("utf-8", "surrogateescape")
    return SessionEvent(
        event_id=f"journal:{origin[8:]}:{end}:{line_digest(text)}",
        session_id=UNKNOWN_SESSION,
        tool="claude-code",
        source="hook",
        kind="journal:malformed",
        ts=datetime.now(UTC),
        raw=text,
        origin=origin,
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
    import_report: ImportReport | None = None
    live_pushed: int = 0
    indexed_sessions: int = 0
    quarantine_total: int = 0  # events held in the quarantine after this pass
    errors: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        """Events sent to the quarantine by this pass (journal and transcripts)."""
        return (self.drain.quarantined if self.drain else 0) + (
            self.import_report.quarantined if self.import_report else 0
        )

    @property
    def refused(self) -> int:
        """Transcript paths named by hook events that were refused unread (outside the roots, not a file)."""
        return len(self.import_report.refused) if self.import_report else 0

    def summary(self) -> str:
        """One line: what this pass did and what is held back."""
        drain = self.drain or DrainReport()
        versions = drain.versions + (self.import_report.versions if self.import_report else 0)
        text = (
            f"ssot worker: {drain.records} journal records, {drain.inserted} new events, "
            f"{self.imported} transcript events, {self.live_pushed} to Redis, "
            f"{self.indexed_sessions} sessions indexed"
        )
        if versions:
            text += f", {versions} conflicting versions kept"
        if self.refused:
            text += f", {self.refused} transcript paths refused"
        text += f"; {self.quarantined} quarantined now, {self.quarantine_total} in quarantine"
        if self.errors:
            text += f"; {len(self.errors)} errors"
        return text


def run_pass(
    cfg: WorkerConfig, *, vectors: Callable[[], tuple[Any, Any]] | None = None, tail: bool = False
) -> PassReport:
    """One pass of every stage. PostgreSQL unreachable: nothing is acknowledged, the journal keeps it all.

    ``tail``: also import the transcripts under ``cfg.tail_roots`` that grew since their last import.
    """
    from ssot_pipelines.settings import redact

    out = PassReport()
    try:
        conn = psycopg.connect(cfg.postgres_url, row_factory=psycopg.rows.dict_row, connect_timeout=5)
    except psycopg.Error as exc:
        out.errors.append(
            f"PostgreSQL unreachable ({redact(str(exc).strip(), cfg.postgres_url)}); "
            "the journal keeps every event until it answers"
        )
        return out
    try:
        conn.execute("SET search_path TO ssot, public")
        conn.commit()
        out.drain = drain_journal(conn, cfg.journal_directory)
        if cfg.import_transcripts:
            from ssot_pipelines.sessions.transcripts import changed_transcripts, import_paths

            # Hook events are untrusted: the paths they name are read only inside the transcript roots.
            paths = [Path(p) for p in sorted(out.drain.transcripts)]
            if tail:
                paths += changed_transcripts(conn, cfg.tail_roots)
            if paths:
                out.import_report = import_paths(conn, paths)
                out.imported = out.import_report.inserted
        out.quarantine_total = store.quarantined_count(conn)
        conn.commit()
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
        out.errors.append(
            f"PostgreSQL failed mid-pass ({redact(str(exc).strip(), cfg.postgres_url)}); "
            "the uncommitted part is retried"
        )
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


def run_forever(
    cfg: WorkerConfig,
    *,
    vectors: Callable[[], tuple[Any, Any]] | None = None,
    passes: int | None = None,
    echo: Callable[[str], None] = print,
) -> int:
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
        if (
            passes is not None
            or (report.drain and (report.drain.inserted or report.drain.malformed or report.drain.quarantined))
            or report.refused
        ):
            echo(report.summary())
        if passes is None or done < passes:
            time.sleep(cfg.interval_seconds)
    return 0


@dataclass
class RedriveReport:
    tried: int = 0
    stored: int = 0
    duplicates: int = 0
    held: list[tuple[int, str]] = field(default_factory=list)  # (quarantine id, reason) still held

    def summary(self) -> str:
        text = (
            f"quarantine: {self.tried} events re-driven, {self.stored} stored in the ledger, "
            f"{self.duplicates} already there, {len(self.held)} still held"
        )
        for qid, reason in self.held[:10]:
            text += f"\n  #{qid}: {reason}"
        return text


def redrive_quarantine(conn: Connection, *, limit: int = 10_000) -> RedriveReport:
    """Read every quarantined event again from its exact bytes and store those the ledger now accepts.

    Run it after a fix (a new version of this code, a repaired database): an event that is still not
    storable stays, with its latest reason and one more attempt counted.
    """
    report = RedriveReport()
    for row in store.quarantined_events(conn, limit=limit):
        report.tried += 1
        event = _reread(row)
        problem = store.storage_problem(event)
        if problem is None:
            result = store.InsertResult()
            try:
                with conn.transaction():
                    result = store.insert_events(conn, [event])
                    store.release(conn, int(row["quarantine_id"]))
            except store.ROW_ERRORS as exc:
                problem = f"PostgreSQL refused it: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            else:
                report.stored += result.inserted
                report.duplicates += 1 - result.inserted
        if problem is not None:
            with conn.transaction():
                store.still_held(conn, int(row["quarantine_id"]), problem)
            report.held.append((int(row["quarantine_id"]), problem))
    conn.commit()
    return report


def _reread(row: dict[str, Any]) -> SessionEvent:
    """The event a quarantined row holds, parsed by today's code from its exact bytes."""
    import base64
    from datetime import UTC, datetime

    from ssot_pipelines.sessions import claude_transcript, codex_rollout
    from ssot_pipelines.sessions.events import CODEX, parse_time

    raw = bytes(row["raw"])
    context = row["context"] or {}
    ts = parse_time(context.get("ts"), datetime.now(UTC))
    if row["source"] == "hook":
        record: dict[str, object] = {"id": row["event_id"], "received_at": context.get("ts"), "tool": row["tool"]}
        try:
            record["stdin"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record["stdin_b64"] = base64.b64encode(raw).decode("ascii")
        if str(row["event_id"] or "").startswith("journal:"):  # a torn journal line, kept as it was
            from dataclasses import replace

            return replace(_malformed_record(raw, row["origin"], 0), event_id=row["event_id"], ts=ts)
        return hook_event(record, row["origin"])
    text = raw.decode("utf-8", "surrogateescape")
    parse = codex_rollout.parse_line if row["tool"] == CODEX else claude_transcript.parse_line
    session = str(context.get("session_id") or "unknown")
    try:
        return parse(text, row["origin"], session, ts)
    except ValueError as exc:
        from ssot_pipelines.sessions.transcripts import malformed_event

        return malformed_event(text, row["origin"], session, row["tool"], ts, str(exc))
