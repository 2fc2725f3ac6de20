"""``ssot slack import``: a workspace export into the ledger, in one transaction.

Day files are read and copied into the ledger one at a time (memory stays flat); threads are rebuilt
from ``thread_ts`` across every day file, whatever order the replies come in. An unreadable file stops
the import before anything is committed, so an export is applied whole or not at all.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

from ssot_pipelines.slack import store
from ssot_pipelines.slack.export import ExportSource, day_messages, read_export
from ssot_pipelines.slack.model import Message, MessageError, message_from_slack, slack_zone
from ssot_pipelines.slack.store import Connection, MergeCounts

BATCH = 5000


@dataclass
class ImportReport:
    path: str
    channels: int = 0
    day_files: int = 0
    people: int = 0
    counts: MergeCounts = field(default_factory=MergeCounts)
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        c = self.counts
        lines = [
            f"{self.path}: {self.channels} channels, {self.day_files} day files, {self.people} people "
            f"in {self.seconds:.1f} s",
            f"conversations: {len(c.conversations_new)} new, {len(c.conversations_changed)} changed, "
            f"{c.conversations_unchanged} unchanged",
            f"messages: {c.messages_new} new, {c.messages_changed} changed, {c.messages_unchanged} unchanged"
            + (f", {c.messages_deleted} deleted in Slack (kept as tombstones)" if c.messages_deleted else ""),
        ]
        if c.memberships:
            lines.append(f"joins and leaves: {c.memberships} (counted, not shown)")
        if self.skipped:
            lines.append("skipped:")
            lines += [f"  {n} x {reason}" for reason, n in sorted(self.skipped.items())]
        return "\n".join(lines)


def import_export(conn: Connection, path: Path, *, zone: tzinfo | None = None) -> ImportReport:
    """Import the export at ``path`` (zip or folder) and commit; raises ExportError, with nothing applied, on bad
    input."""
    zone = zone or slack_zone()
    started = time.monotonic()
    report = ImportReport(path=str(path))
    source = ExportSource(path)
    try:
        contents = read_export(source)
        for reason in contents.skipped:
            report.skipped[reason] += 1
        conn.commit()  # end any read the caller left open: the import is one top-level transaction, not a savepoint
        with conn.transaction():
            store.lock_writers(conn)
            report.people = len(contents.users)
            store.upsert_users(conn, contents.users, source="export")
            store.upsert_channels(
                conn,
                [
                    {"channel_id": c.channel_id, "name": c.name, "kind": c.kind, "members": c.members}
                    for c in contents.channels
                ],
            )
            report.channels = len(contents.channels)
            staging = store.Staging(conn)
            batch: list[Message] = []
            for day_file in contents.day_files:
                report.day_files += 1
                for _position, raw in day_messages(source, day_file):
                    try:
                        batch.append(message_from_slack(raw, day_file.channel.channel_id, source_day=day_file.day))
                    except MessageError as exc:
                        report.skipped[f"message line that is unusable: {exc}"] += 1
                    if len(batch) >= BATCH:
                        staging.add(batch, zone)
                        batch = []
            staging.add(batch, zone)
            report.counts = store.merge_messages(conn, tombstone_missing_days=True)
    finally:
        source.close()
    report.seconds = time.monotonic() - started
    return report
