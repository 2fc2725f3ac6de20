"""Import Claude Code transcripts and Codex rollouts into the ledger, incrementally and re-runnably.

Each file is read from its checkpoint (byte offset) on; only complete lines are consumed, and the
events of a batch are committed in the same transaction as the new offset. A file that shrank or whose
beginning changed was rewritten (a resume can do that): it is read again from the start and the stable
event ids drop what is already stored. Malformed lines are kept raw (kind ``malformed``) and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ssot_pipelines.sessions import claude_transcript, codex_rollout, store
from ssot_pipelines.sessions.events import CLAUDE, CODEX, SessionEvent, line_digest
from ssot_pipelines.sessions.journal import CompleteLines
from ssot_pipelines.sessions.store import Connection

HEAD_BYTES = 64 * 1024
BATCH_BYTES = 32 * 1024 * 1024
BATCH_EVENTS = 5000


@dataclass
class ImportReport:
    files: int = 0
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    bytes_read: int = 0
    rewritten_files: list[str] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)  # path -> lines kept raw as "malformed"
    waiting_tail: dict[str, int] = field(default_factory=dict)  # path -> bytes of an unfinished last line
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.files} files, {self.lines} lines, {self.inserted} new events, "
                 f"{self.duplicates} already stored"]
        if self.malformed:
            parts.append(f"{sum(self.malformed.values())} malformed lines kept raw (not JSON; kind 'malformed') "
                         f"in {len(self.malformed)} files")
        if self.waiting_tail:
            parts.append(f"{len(self.waiting_tail)} files end in an unfinished line "
                         f"({sum(self.waiting_tail.values())} bytes), read once it is complete")
        if self.rewritten_files:
            parts.append(f"{len(self.rewritten_files)} files were rewritten and read again from the start")
        if self.missing:
            parts.append(f"{len(self.missing)} paths not found")
        return "; ".join(parts)


def default_roots() -> list[Path]:
    """Where the assistants keep their transcripts (``CLAUDE_CONFIG_DIR`` and ``CODEX_HOME`` respected)."""
    claude = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude") / "projects"
    codex_home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
    return [claude, codex_home / "sessions", codex_home / "archived_sessions"]


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``*.jsonl`` under the given directories (and the given files), sorted per directory."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*.jsonl") if p.is_file())


def changed_transcripts(conn: Connection, roots: Sequence[Path], *, max_age_hours: float = 48,
                        limit: int = 500) -> list[Path]:
    """Transcripts modified recently whose size differs from what was imported (cheap: stat + one query)."""
    horizon = time.time() - max_age_hours * 3600
    recent: dict[str, tuple[Path, int]] = {}
    for path in discover(r for r in roots if r.exists()):
        try:
            st = path.stat()
        except OSError:
            continue
        if st.st_mtime >= horizon:
            recent[str(path.resolve())] = (path, st.st_size)
    if not recent:
        return []
    rows = conn.execute("SELECT path, byte_offset FROM session_transcript_files WHERE path = ANY(%s)",
                        (list(recent),)).fetchall()
    conn.commit()
    done = {str(r["path"]): int(r["byte_offset"]) for r in rows}
    return [p for key, (p, size) in sorted(recent.items()) if done.get(key) != size][:limit]


def detect_tool(path: Path) -> str:
    if path.name.startswith("rollout-"):
        return CODEX
    with path.open("rb") as fh:
        first = fh.readline(HEAD_BYTES)
    try:
        return CODEX if codex_rollout.is_rollout_line(json.loads(first)) else CLAUDE
    except ValueError:
        return CLAUDE


def import_paths(conn: Connection, paths: Sequence[Path]) -> ImportReport:
    """Import every transcript under ``paths``; missing paths are reported, not fatal."""
    report = ImportReport()
    for root in paths:
        if not root.exists():
            report.missing.append(str(root))
    for path in discover(p for p in paths if p.exists()):
        import_file(conn, path, report)
    return report


def import_file(conn: Connection, path: Path, report: ImportReport) -> None:
    """Import the new complete lines of one file (re-reading it whole if it was rewritten)."""
    origin = str(path.resolve())
    tool = detect_tool(path)
    parse = codex_rollout.parse_line if tool == CODEX else claude_transcript.parse_line
    file_session = (codex_rollout.file_session_id if tool == CODEX else claude_transcript.file_session_id)(path)
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
    fallback_ts = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    witness = _LinkWitness(file_session) if tool == CLAUDE else None
    batch: list[SessionEvent] = []
    batch_bytes = lines = malformed = 0
    position = offset
    for line_bytes, end in _complete_lines(path, offset, report, origin):
        lines += 1
        text = line_bytes.decode("utf-8", "replace")
        if text.strip():
            try:
                event = parse(text, origin, file_session, fallback_ts)
                fallback_ts = event.ts
                if witness is not None:
                    witness.see(event)
            except ValueError as exc:
                malformed += 1
                event = _malformed(text, origin, file_session, tool, fallback_ts, str(exc))
            batch.append(event)
            batch_bytes += len(line_bytes)
        position = end
        if len(batch) >= BATCH_EVENTS or batch_bytes >= BATCH_BYTES:
            _commit(conn, batch, origin, position, _head_of(path, position), lines, malformed, restart, report)
            restart = False
            batch, batch_bytes, lines, malformed = [], 0, 0, 0
    if position != offset or restart:
        _commit(conn, batch, origin, position, _head_of(path, position), lines, malformed, restart, report)
    if witness is not None:
        witness.store(conn, origin)


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
        evidence = [(s, "resumed", f"{n} messages of it copied into this session's transcript")
                    for s, n in self.copied.items()]
        for leaf in self.leaves:
            owner = self.uuid_session.get(leaf)
            if owner is None:
                row = conn.execute("SELECT session_id FROM session_events WHERE message_uuid = %s AND origin = %s"
                                   " LIMIT 1", (leaf, origin)).fetchone()
                owner = str(row["session_id"]) if row else None
            # A leafUuid that is not in the same file is contamination from another session (#2597).
            if owner is not None and owner != self.file_session:
                evidence.append((owner, "resumed", f"summary leafUuid {leaf} in the same file"))
        if evidence:
            store.add_link_evidence(conn, self.file_session, evidence)
        conn.commit()


def _commit(conn: Connection, batch: list[SessionEvent], origin: str, position: int, head: str, lines: int,
            malformed: int, restart: bool, report: ImportReport) -> None:
    with conn.transaction():
        inserted = store.insert_events(conn, batch)
        store.set_transcript_checkpoint(conn, origin, position, head, lines, malformed, restart=restart)
    report.lines += lines
    report.inserted += inserted
    report.duplicates += len(batch) - inserted
    if malformed:
        report.malformed[origin] = report.malformed.get(origin, 0) + malformed


def _head_of(path: Path, offset: int) -> str:
    """Hash of the first min(offset, 64 KiB) bytes: what was already read, so growth never changes it."""
    with path.open("rb") as fh:
        return hashlib.sha256(fh.read(min(offset, HEAD_BYTES))).hexdigest()


def _complete_lines(path: Path, offset: int, report: ImportReport, origin: str) -> Iterator[tuple[bytes, int]]:
    lines = CompleteLines(path, offset)
    yield from lines
    report.bytes_read += lines.bytes_read
    if lines.tail:
        report.waiting_tail[origin] = lines.tail


def _malformed(text: str, origin: str, file_session: str, tool: str, ts: datetime, error: str) -> SessionEvent:
    return SessionEvent(
        event_id=f"{'codex' if tool == CODEX else 'cc'}:{file_session}:malformed:{line_digest(text)}",
        session_id=file_session, tool=tool, source="rollout" if tool == CODEX else "transcript",
        kind="malformed", ts=ts, raw=text, origin=origin,
    )
