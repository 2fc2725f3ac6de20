"""Slack Conversations records for Notion: one row per conversation, its body every message in order.

Incremental: a conversation is handed to the sync when it changed since it was last handed to this
Notion target (new messages, an edit, a resolved name, a new link), or when one of its related CLI
sessions had no Notion page yet at that time. A full sync hands every conversation over.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import pandas as pd

from ssot_pipelines.slack import bridge, store
from ssot_pipelines.slack.model import slack_zone, ts_datetime
from ssot_pipelines.slack.render import Directory, body, render_text, speaker, summary_line
from ssot_pipelines.slack.store import Connection

DATABASE = "slack_conversations"
EXTRACT_LIMIT = 5000
COLUMNS = (
    "key",
    "Title",
    "Conversation ID",
    "Channel",
    "Participants",
    "Message Count",
    "Started At",
    "Related CLI Sessions",
    "Bridge Evidence",
    "body",
)


def conversation_record(
    conn: Connection, conversation_id: str, zone: tzinfo, directory: Directory | None = None
) -> dict[str, Any] | None:
    """The Notion row of one conversation, or None when it has no message to show."""
    messages = store.conversation_messages(conn, conversation_id)
    shown = [m for m in messages if m.kind == "message"]
    if not shown:
        return None
    directory = directory or store.directory(conn)
    first = shown[0]
    channel = directory.channels.get(first.channel_id, first.channel_id)
    chan_row = store.channel(conn, first.channel_id)
    label = f"#{channel}" if chan_row is None or chan_row["kind"] in ("channel", "group") else channel
    if first.thread_ts:
        root = "(deleted message)" if first.deleted else summary_line(render_text(first.text, directory))
        title = f"{label} · thread: {root or speaker(first, directory)}"
    else:
        title = f"{label} · {conversation_id.rsplit('/', 1)[-1]}"
    participants = list(dict.fromkeys(speaker(m, directory) for m in shown))
    related, evidence = bridge.related_sessions(conn, conversation_id)
    return {
        "key": conversation_id,
        "Title": title,
        "Conversation ID": conversation_id,
        "Channel": label,
        "Participants": participants,
        "Message Count": len(shown),
        "Started At": ts_datetime(first.ts).isoformat(),
        "Related CLI Sessions": related,
        "Bridge Evidence": evidence or None,
        "body": body(messages, directory, zone),
    }


def conversation_frame(
    conn: Connection, target: str, sync: Any = None, *, full: bool = False, limit: int = EXTRACT_LIMIT
) -> pd.DataFrame:
    """The frame for the Slack Conversations database (``full``: every conversation), handed over on the way.

    ``sync`` (a NotionSyncManager) answers whether a related CLI session already has its Notion page.
    """
    zone = slack_zone()
    if full:
        rows = conn.execute(
            "SELECT conversation_id, changed_at, digest FROM slack_conversations ORDER BY changed_at"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT c.conversation_id, c.changed_at, c.digest FROM slack_conversations c LEFT JOIN slack_handover h"
            " ON h.target = %s AND h.conversation_id = c.conversation_id"
            " WHERE h.conversation_id IS NULL OR h.changed_at < c.changed_at OR h.unresolved"
            " ORDER BY c.changed_at LIMIT %s",
            (target, limit),
        ).fetchall()
    directory = store.directory(conn)
    records: list[dict[str, Any]] = []
    vanished: list[str] = []
    handed: list[tuple[str, Any, bool]] = []
    for row in rows:
        cid = str(row["conversation_id"])
        record = conversation_record(conn, cid, zone, directory) if row["digest"] else None
        if record is None:
            vanished.append(cid)  # its messages moved into a thread: the row goes
            handed.append((cid, row["changed_at"], False))
            continue
        unresolved = sync is not None and any(
            sync.page_id("cli_sessions", key) is None for key in record["Related CLI Sessions"]
        )
        records.append(record)
        handed.append((cid, row["changed_at"], unresolved))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO slack_handover (target, conversation_id, changed_at, unresolved) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (target, conversation_id) DO UPDATE SET changed_at = EXCLUDED.changed_at,"
            " unresolved = EXCLUDED.unresolved, handed_at = now()",
            [(target, cid, changed, unresolved) for cid, changed, unresolved in handed],
        )
    conn.commit()
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["sync_mode"] = "full" if full else "incremental"
    frame.attrs["vanished"] = vanished
    frame.attrs["metadata"] = {
        "conversations": len(records),
        "withdrawn": len(vanished),
        "messages": int(sum(r["Message Count"] for r in records)),
    }
    return frame


def extract_slack_conversations(ctx: Any) -> pd.DataFrame:
    """The ``slack_conversations`` asset's extract (an ``ExtractContext``)."""
    frame = conversation_frame(ctx.ledger, ctx.sync.target, ctx.sync, full=bool(ctx.config.full))
    ctx.log.info(f"Slack conversations: {len(frame)} to sync, {len(frame.attrs['vanished'])} withdrawn")
    return frame
