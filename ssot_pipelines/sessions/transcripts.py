"""Import Claude Code transcripts and Codex rollouts into the ledger, incrementally and re-runnably.

Each file is read from its checkpoint (byte offset) on; only complete lines are consumed, and the
events of a batch are committed in the same transaction as the new offset. A file that shrank or whose
beginning changed was rewritten (a resume can do that): it is read again from the start and the stable
event ids drop what is already stored. Malformed lines are kept raw (kind ``malformed``) and counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ssot_pipelines.sessions import claude_transcript, codex_rollout, store
from ssot_pipelines.sessions.events import CLAUDE, CODEX, SessionEvent, line_digest
from ssot_pipelines.sessions.journal import CompleteLines
from ssot_pipelines.sessions.roots import TranscriptGate, printable, transcript_roots
from ssot_pipelines.sessions.store import Connection

HEAD_BYTES = 64 * 1024
BATCH_BYTES = 32 * 1024 * 1024
BATCH_EVENTS = 5000
IDLE_ENV = "SSOT_TRANSCRIPT_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 600

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    files: int = 0
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    versions: int = 0  # same event id, different content: kept as versions
    quarantined: int = 0  # events the ledger cannot store as they are
    tails_imported: int = 0  # unterminated last lines imported because the file went idle or its session ended
    bytes_read: int = 0
    rewritten_files: list[str] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)  # path -> lines kept raw as "malformed"
    waiting_tail: dict[str, int] = field(default_factory=dict)  # path -> bytes of an unfinished last line
    missing: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # path -> why it was not read
    quarantine_total: int | None = None  # events held in the quarantine after this import

    def summary(self) -> str:
        parts = [
            f"{self.files} files, {self.lines} lines, {self.inserted} new events, "
            f"{self.duplicates} already stored (byte-identical)"
        ]
        if self.versions:
            parts.append(f"{self.versions} conflicting versions kept (an event id seen before with other content)")
        if self.quarantined:
            parts.append(f"{self.quarantined} events quarantined (the ledger cannot store them as they are)")
        if self.malformed:
            parts.append(
                f"{sum(self.malformed.values())} malformed lines kept raw (not JSON; kind 'malformed') "
                f"in {len(self.malformed)} files"
            )
        if self.tails_imported:
            parts.append(f"{self.tails_imported} unterminated last lines imported (file idle or session ended)")
        if self.waiting_tail:
            parts.append(
                f"{len(self.waiting_tail)} files end in an unfinished line "
                f"({sum(self.waiting_tail.values())} bytes), read once it is complete, the file has been "
                f"idle for {idle_seconds()} s ({IDLE_ENV}) or its session ended"
            )
        if self.rewritten_files:
            parts.append(f"{len(self.rewritten_files)} files were rewritten and read again from the start")
        if self.missing:
            parts.append(f"{len(self.missing)} paths not found")
        if self.refused:
            parts.append(
                f"{len(self.refused)} paths refused unread: "
                + "; ".join(f"{p}: {why}" for p, why in list(self.refused.items())[:5])
            )
        if self.quarantine_total:
            parts.append(
                f"{self.quarantine_total} events in quarantine in all (`ssot worker --redrive-quarantine` retries them)"
            )
        return "; ".join(parts)


def idle_seconds() -> int:
    """``SSOT_TRANSCRIPT_IDLE_SECONDS`` (default 600): idle time after which an unterminated last line counts."""
    from ssot_pipelines.settings import ConfigurationError, env

    raw = env(IDLE_ENV, str(DEFAULT_IDLE_SECONDS)) or str(DEFAULT_IDLE_SECONDS)
    try:
        return max(0, int(raw))
    except ValueError:
        raise ConfigurationError(f"{IDLE_ENV}={raw!r} is not a number of seconds (e.g. 600)") from None


def default_roots() -> list[Path]:
    """Where the assistants keep their transcripts, and the roots added in ``SSOT_TRANSCRIPT_ROOTS``."""
    return transcript_roots()


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``*.jsonl`` under the given directories (and the given files), sorted per directory."""
    for path in paths:
        if path.is_dir():
            # Symlinks and special files are yielded too: the gate refuses them with a reason.
            yield from sorted(p for p in path.rglob("*.jsonl") if not p.is_dir())
        elif path.exists() or path.is_symlink():
            yield path


def changed_transcripts(
    conn: Connection, roots: Sequence[Path], *, max_age_hours: float = 48, limit: int = 500
) -> list[Path]:
    """Transcripts modified recently whose size differs from what was imported (cheap: stat + one query)."""
    horizon = time.time() - max_age_hours * 3600
    recent: dict[str, tuple[Path, int]] = {}
    for path in discover(r for r in roots if r.exists()):
        try:
            st = path.stat()
        except OSError:
            continue
        key = str(path.resolve())
        # A FIFO is never polled; a name that is not UTF-8 is left to the sweep, which refuses it with the reason.
        if stat.S_ISREG(st.st_mode) and st.st_mtime >= horizon and _is_text(key):
            recent[key] = (path, st.st_size)
    if not recent:
        return []
    rows = conn.execute(
        "SELECT path, byte_offset FROM session_transcript_files WHERE path = ANY(%s)", (list(recent),)
    ).fetchall()
    conn.commit()
    done = {str(r["path"]): int(r["byte_offset"]) for r in rows}
    return [p for key, (p, size) in sorted(recent.items()) if done.get(key) != size][:limit]


def _is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def detect_tool(path: Path) -> str:
    if path.name.startswith("rollout-"):
        return CODEX
    with path.open("rb") as fh:
        first = fh.readline(HEAD_BYTES)
    try:
        return CODEX if codex_rollout.is_rollout_line(json.loads(first)) else CLAUDE
    except (ValueError, RecursionError):
        return CLAUDE


def import_paths(
    conn: Connection, paths: Sequence[Path], *, allow_outside_roots: bool = False, roots: list[Path] | None = None
) -> ImportReport:
    """Import every transcript under ``paths``; missing paths are reported, not fatal.

    Only regular files whose real path lies inside the transcript roots are read (``roots``, default
    ``transcript_roots()``); ``allow_outside_roots`` lifts the roots for paths a person named, never the
    regular-file rule. Every refusal is counted in the report and logged with its reason.
    """
    report = ImportReport()
    gate = TranscriptGate(roots, allow_outside_roots=allow_outside_roots)

    def refuse(path: Path, reason: str) -> None:
        report.refused[printable(str(path))] = reason
        log.warning("transcript %s refused unread: %s", printable(str(path)), reason)

    for given in paths:
        try:
            if not (given.exists() or given.is_symlink()):
                report.missing.append(printable(str(given)))
                continue
            files = list(discover([given]))
        except (OSError, ValueError) as exc:  # a name with NUL, too long, or not encodable
            refuse(given, f"not a usable path ({exc})")
            continue
        for path in files:
            real, reason = gate.admit(path)
            if real is None:
                refuse(path, reason or "refused")
                continue
            import_file(conn, real, report)
    report.quarantine_total = store.quarantined_count(conn)
    conn.commit()
    return report


def import_file(conn: Connection, path: Path, report: ImportReport) -> None:
    """Import the new complete lines of one file (re-reading it whole if it was rewritten).

    ``path`` is the real path the gate admitted. An unterminated last line is imported once the file has
    been idle for ``idle_seconds()`` or its session has ended, and the checkpoint then covers it.
    """
    origin = str(path)
    tool = detect_tool(path)
    size = path.stat().st_size
    checkpoint = store.transcript_checkpoint(conn, origin)
    conn.commit()
    offset = 0
    restart = False
    if checkpoint is not None:
        offset = int(checkpoint["byte_offset"])
        if size < offset or checkpoint["head_sha"] != _head_of(path, offset):
            report.rewritten_files.append(origin)
            offset, restart = 0, True
    report.files += 1
    if size == offset:
        return
    reader = _FileReader(conn, path, tool, origin)
    batch: list[SessionEvent] = []
    batch_bytes = lines = malformed = 0
    position = offset
    complete = CompleteLines(path, offset)
    for line_bytes, end in complete:
        lines += 1
        event, bad = reader.read(line_bytes)
        if event is not None:
            batch.append(event)
            batch_bytes += len(line_bytes)
            malformed += bad
        position = end
        if len(batch) >= BATCH_EVENTS or batch_bytes >= BATCH_BYTES:
            _commit(conn, batch, origin, position, _head_of(path, position), lines, malformed, restart, report)
            restart = False
            batch, batch_bytes, lines, malformed = [], 0, 0, 0
    report.bytes_read += complete.bytes_read
    if complete.tail:
        tail = _finished_tail(conn, path, position, reader.own_session, tool)
        if tail is None:
            report.waiting_tail[origin] = complete.tail
        else:
            lines += 1
            event, bad = reader.read(tail)
            if event is not None:
                batch.append(event)
                malformed += bad
            position += len(tail)
            report.tails_imported += 1
    if position != offset or restart:
        _commit(conn, batch, origin, position, _head_of(path, position), lines, malformed, restart, report)
    if reader.witness is not None:
        reader.witness.store(conn, origin)


class _FileReader:
    """Turns the lines of one transcript file into events, knowing which session the file belongs to.

    Which session a line belongs to comes from the content, never from the file name alone: a Codex
    rollout's session is its ``session_meta.id``; a Claude Code file's stem is its session only when its
    lines say so (``sessionId``), else lines without a session id belong to the session of the lines
    around them. Only a file whose own session is established that way can witness a resume.
    """

    def __init__(self, conn: Connection, path: Path, tool: str, origin: str) -> None:
        self.tool = tool
        self.origin = origin
        self.fallback_ts = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        self.witness: _LinkWitness | None = None
        self.follow = False  # lines without a session id take the session of the line before them
        if tool == CODEX:
            self.parse = codex_rollout.parse_line
            self.own_session = codex_rollout.session_id_of(path)
        else:
            self.parse = claude_transcript.parse_line
            stem = claude_transcript.file_session_id(path)
            if claude_transcript.names_its_session(conn, path, stem, origin):
                self.own_session = stem
                self.witness = _LinkWitness(stem)
            else:
                self.own_session = claude_transcript.first_session_id(path) or stem
                self.follow = True
        self.session = self.own_session

    def read(self, line_bytes: bytes) -> tuple[SessionEvent | None, int]:
        """(the event of one line or None for a blank line, 1 if it is kept raw as malformed)."""
        # surrogateescape keeps bytes that are not UTF-8: such a line is quarantined with its exact bytes.
        text = line_bytes.decode("utf-8", "surrogateescape")
        if not text.strip():
            return None, 0
        session = self.session if self.follow else self.own_session
        try:
            event = self.parse(text, self.origin, session, self.fallback_ts)
        except ValueError as exc:
            return malformed_event(text, self.origin, session, self.tool, self.fallback_ts, str(exc)), 1
        self.fallback_ts = event.ts
        if self.follow and not event.is_sidechain:
            self.session = event.session_id
        if self.witness is not None:
            self.witness.see(event)
        return event, 0


def _finished_tail(conn: Connection, path: Path, position: int, session_id: str, tool: str) -> bytes | None:
    """The unterminated last line from ``position``, if it is final: the file has been idle long enough or
    its session has ended (a SessionEnd hook event). None while a writer may still be mid-way."""
    st = path.stat()
    idle = time.time() - st.st_mtime >= idle_seconds()
    if not idle:
        row = conn.execute(
            "SELECT 1 FROM session_events WHERE session_id = %s AND kind = 'hook:SessionEnd' LIMIT 1", (session_id,)
        ).fetchone()
        conn.commit()
        if row is None:
            return None
    with path.open("rb") as fh:
        fh.seek(position)
        rest = fh.read()
    if not rest or b"\n" in rest:  # the line was finished meanwhile: the next import reads it as usual
        return None
    return rest


class _LinkWitness:
    """What a transcript file shows about where its session came from (a 1.0.x resume copies history)."""

    def __init__(self, file_session: str) -> None:
        self.file_session = file_session
        self.copied: dict[str, int] = {}
        self.uuid_session: dict[str, str] = {}
        self.leaves: list[str] = []

    def see(self, event: SessionEvent) -> None:
        if event.message_uuid:
            self.uuid_session[event.message_uuid] = event.session_id
        if event.kind == "summary" and event.logical_parent_uuid:
            self.leaves.append(event.logical_parent_uuid)
        elif event.session_id != self.file_session and not event.is_sidechain:
            self.copied[event.session_id] = self.copied.get(event.session_id, 0) + 1

    def store(self, conn: Connection, origin: str) -> None:
        evidence = [
            (s, "resumed", f"{n} messages of it copied into this session's transcript {origin}")
            for s, n in self.copied.items()
        ]
        for leaf in self.leaves:
            owner = self.uuid_session.get(leaf)
            if owner is None:
                row = conn.execute(
                    "SELECT session_id FROM session_events WHERE message_uuid = %s AND origin = %s LIMIT 1",
                    (leaf, origin),
                ).fetchone()
                owner = str(row["session_id"]) if row else None
            # A leafUuid that is not in the same file is contamination from another session (#2597).
            if owner is not None and owner != self.file_session:
                evidence.append((owner, "resumed", f"summary leafUuid {leaf} in the same file"))
        if evidence:
            store.add_link_evidence(conn, self.file_session, evidence)
        conn.commit()


def _commit(
    conn: Connection,
    batch: list[SessionEvent],
    origin: str,
    position: int,
    head: str,
    lines: int,
    malformed: int,
    restart: bool,
    report: ImportReport,
) -> None:
    with conn.transaction():
        result = store.insert_or_quarantine(conn, batch)
        store.set_transcript_checkpoint(conn, origin, position, head, lines, malformed, restart=restart)
    report.lines += lines
    report.inserted += result.inserted
    report.versions += result.versions
    report.quarantined += result.quarantined
    report.duplicates += len(batch) - result.inserted - result.quarantined
    if malformed:
        report.malformed[origin] = report.malformed.get(origin, 0) + malformed


def _head_of(path: Path, offset: int) -> str:
    """Hash of the first min(offset, 64 KiB) bytes: what was already read, so growth never changes it."""
    with path.open("rb") as fh:
        return hashlib.sha256(fh.read(min(offset, HEAD_BYTES))).hexdigest()


def malformed_event(text: str, origin: str, file_session: str, tool: str, ts: datetime, error: str) -> SessionEvent:
    return SessionEvent(
        event_id=f"{'codex' if tool == CODEX else 'cc'}:{file_session}:malformed:{line_digest(text)}",
        session_id=file_session,
        tool=tool,
        source="rollout" if tool == CODEX else "transcript",
        kind="malformed",
        ts=ts,
        raw=text,
        origin=origin,
    )
