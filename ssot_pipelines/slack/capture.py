"""The Events API journal: written by ``ssot slack serve`` (one fsync'd line per event, before Slack gets
its acknowledgement), drained into the ledger here.

The journal uses the same writer and reader as ``ssot-hook`` (``sessions.journal``): one JSON line per
record, ``stdin`` holding the exact body Slack sent. The drain stores each envelope once by
``event_id`` (so Slack's retries are harmless), applies its event, and moves the segment's offset in
the same transaction.

People's answers to the agents' task threads (a ``reaction_added``, a reply in a thread) are marked
when they are stored and, once their batch is committed, handed to the work graph
(``tasks.slack.apply_slack_event``, itself once per ``event_id``); an event is unmarked only after it
was applied, so a drain killed in between hands it over on the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from ssot_pipelines.sessions import journal
from ssot_pipelines.settings import env, ssot_home
from ssot_pipelines.slack import store
from ssot_pipelines.slack.events import Pending, apply_event
from ssot_pipelines.slack.model import slack_zone
from ssot_pipelines.slack.store import Connection

BATCH = 1000
FORWARD_LOCK = 0x55_07_A45E  # advisory lock: one hand-over of answers to the work graph at a time


def journal_directory() -> Path:
    """``SLACK_JOURNAL_DIR``, else ``$SSOT_HOME/slack-journal``."""
    explicit = env("SLACK_JOURNAL_DIR")
    return Path(explicit).expanduser() if explicit else ssot_home() / "slack-journal"


def journal_record(body: bytes, event_id: str | None) -> bytes:
    """The journal line for one request body Slack sent."""
    return journal.encode_record(body, tool="slack", event_id=f"slack:{event_id}" if event_id else None)


@dataclass
class DrainReport:
    records: int = 0
    new_events: int = 0
    duplicates: int = 0
    malformed: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    conversations_new: int = 0
    conversations_changed: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # outcomes of events handed to tasks

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.applied.items())) or "nothing to apply"
        text = (
            f"slack journal: {self.records} records, {self.new_events} new events ({kinds}), "
            f"{self.duplicates} repeats skipped, {self.malformed} unreadable; conversations "
            f"{self.conversations_new} new, {self.conversations_changed} changed"
        )
        if self.answers:
            text += "; tasks: " + ", ".join(f"{n} {k}" for k, n in sorted(self.answers.items()))
        return text


def pending_bytes(conn: Connection, directory: Path | None = None) -> int:
    """How many journal bytes are not in the ledger yet (the sensor's question)."""
    total = 0
    for segment in journal.segments(directory or journal_directory()):
        row = conn.execute(
            "SELECT byte_offset FROM slack_journal_offsets WHERE segment = %s", (segment.name,)
        ).fetchone()
        total += max(0, segment.stat().st_size - (int(row["byte_offset"]) if row else 0))
    conn.commit()
    return total


def drain(
    conn: Connection, directory: Path | None = None, *, zone: tzinfo | None = None, batch: int = BATCH
) -> DrainReport:
    """Commit every journal record not yet in the ledger and apply its event."""
    zone = zone or slack_zone()
    report = DrainReport()
    conn.commit()  # each batch below commits on its own, never as a savepoint of the caller's transaction
    for segment in journal.segments(directory or journal_directory()):
        while True:
            with conn.transaction():
                store.lock_writers(conn)
                row = conn.execute(
                    "SELECT byte_offset FROM slack_journal_offsets WHERE segment = %s", (segment.name,)
                ).fetchone()
                offset = int(row["byte_offset"]) if row else 0
                scan = journal.JournalScan()
                records = list(journal.read_records(segment, offset, scan, limit=batch))
                end = max([offset] + [r.end_offset for r in records] + [e for e, _ in scan.malformed])
                if end == offset:
                    break
                _apply(conn, records, zone, report)
                report.malformed += len(scan.malformed)
                conn.execute(
                    "INSERT INTO slack_journal_offsets (segment, byte_offset, skipped) VALUES (%s, %s, %s)"
                    " ON CONFLICT (segment) DO UPDATE SET byte_offset = EXCLUDED.byte_offset,"
                    " skipped = slack_journal_offsets.skipped + EXCLUDED.skipped, updated_at = now()",
                    (segment.name, end, len(scan.malformed)),
                )
    forward_answers(conn, report)
    return report


def is_answer(envelope: dict[str, Any]) -> bool:
    """Whether an envelope may be a person's answer to a task thread: a reaction, or a person's thread reply."""
    event = envelope.get("event")
    if envelope.get("type") != "event_callback" or not isinstance(event, dict):
        return False
    if event.get("type") == "reaction_added":
        return True
    return (
        event.get("type") == "message"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("thread_ts"))
        and event.get("thread_ts") != event.get("ts")
    )


def forward_answers(conn: Connection, report: DrainReport | None = None, *, batch: int = 200) -> int:
    """Hand every stored answer not yet handed over to the work graph; returns how many were handed."""
    from ssot_pipelines.tasks.slack import SlackSettings, apply_slack_event

    settings = SlackSettings.from_env()
    handed = 0
    conn.commit()
    # one forwarder at a time: apply_slack_event's de-duplication is per event, not against a twin running now
    conn.execute("SELECT pg_advisory_lock(%s)", (FORWARD_LOCK,))
    try:
        while True:
            rows = conn.execute(
                "SELECT event_id, body FROM slack_events WHERE forward_pending ORDER BY received_at, event_id LIMIT %s",
                (batch,),
            ).fetchall()
            conn.commit()
            if not rows:
                break
            for row in rows:
                envelope = json.loads(row["body"])
                outcome = apply_slack_event(conn, {**envelope, "event_id": row["event_id"]}, settings)
                conn.execute("UPDATE slack_events SET forward_pending = false WHERE event_id = %s", (row["event_id"],))
                conn.commit()
                handed += 1
                if report is not None:
                    action = outcome.action.split(":", 1)[0]
                    report.answers[action] = report.answers.get(action, 0) + 1
    finally:
        conn.rollback()
        conn.execute("SELECT pg_advisory_unlock(%s)", (FORWARD_LOCK,))
        conn.commit()
    return handed


def _apply(conn: Connection, records: list[journal.JournalRecord], zone: tzinfo, report: DrainReport) -> None:
    pending = Pending(conn, {}, {})
    for rec in records:
        report.records += 1
        raw = journal.hook_input(rec.record)
        try:
            envelope = json.loads(raw)
        except ValueError:
            report.malformed += 1
            continue
        if not isinstance(envelope, dict):
            report.malformed += 1
            continue
        event_id = str(envelope.get("event_id") or rec.record.get("id"))
        received = str(rec.record.get("received_at") or datetime.now(UTC).isoformat())
        inserted = conn.execute(
            "INSERT INTO slack_events (event_id, received_at, body, applied, forward_pending)"
            " VALUES (%s, %s, %s, true, %s) ON CONFLICT (event_id) DO NOTHING",
            (event_id, received, raw.decode("utf-8", "replace"), is_answer(envelope)),
        ).rowcount
        if not inserted:
            report.duplicates += 1
            continue
        report.new_events += 1
        what = apply_event(pending, envelope)
        report.applied[what] = report.applied.get(what, 0) + 1
    if pending.channels:
        conn.cursor().executemany(
            "INSERT INTO slack_channels (channel_id, name, kind) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(cid, cid, kind) for cid, kind in pending.channels.items()],
        )
    if pending.messages:
        staging = store.Staging(conn)
        staging.add(pending.messages.values(), zone)
        counts = store.merge_messages(conn)
        report.conversations_new += len(counts.conversations_new)
        report.conversations_changed += len(counts.conversations_changed)
