"""Messages we posted ourselves (a task's thread, a bot's notes), logged into the Slack tables as part of
their conversations, so they are Slack Conversations like any other: synced, searched, never withdrawn.

Another package calls :func:`record_posts` with what it sent and what Slack answered (``ts``); it never
touches the Slack tables itself. A message the ledger already has (the Events API delivered it, an export
held it, an earlier call logged it) is left as it is, so the first true copy wins and a repeat changes
nothing. A root whose first reply is logged becomes a thread (``<channel>/thread/<ts>``), exactly as when
the replies come from Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from ssot_pipelines.slack import store
from ssot_pipelines.slack.model import Message, slack_zone
from ssot_pipelines.slack.store import Connection


@dataclass(frozen=True)
class OwnPost:
    """One message we posted: where (``channel_id``, ``thread_ts`` for a reply), its ``ts``, as whom, what."""

    channel_id: str
    ts: str
    text: str
    bot_name: str
    thread_ts: str | None = None


def record_posts(conn: Connection, posts: Sequence[OwnPost], *, zone: tzinfo | None = None) -> list[str]:
    """Log ``posts`` into the Slack tables (in the caller's transaction); returns the conversations changed.

    Messages already in the ledger are skipped. The caller commits; until then nothing is visible.
    """
    if not posts:
        return []
    zone = zone or slack_zone()
    store.lock_writers(conn)
    conn.cursor().executemany(
        "INSERT INTO slack_channels (channel_id, name, kind) VALUES (%s, %s, 'channel') ON CONFLICT DO NOTHING",
        [(c,) * 2 for c in sorted({p.channel_id for p in posts})],
    )
    new = [p for p in posts if store.message(conn, p.channel_id, p.ts) is None]
    if not new:
        return []
    staging = store.Staging(conn)
    staging.add(
        (
            Message(
                channel_id=p.channel_id,
                ts=p.ts,
                thread_ts=p.thread_ts if p.thread_ts != p.ts else None,
                kind="message",
                subtype=None,  # what an app's chat.postMessage gives (bot_id and user, no subtype)
                user_id=None,
                bot_name=p.bot_name,
                text=p.text,
            )
            for p in new
        ),
        zone,
    )
    counts = store.merge_messages(conn)
    return sorted({*counts.conversations_new, *counts.conversations_changed})


def conversations_of(conn: Connection, messages: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The Slack Conversations key of each logged ``(channel_id, ts)`` message (absent: not logged)."""
    if not messages:
        return {}
    rows = conn.execute(
        "SELECT m.channel_id, m.ts, m.conversation_id FROM slack_messages m"
        " JOIN unnest(%s::text[], %s::text[]) AS q (channel_id, ts) USING (channel_id, ts)",
        ([c for c, _ in messages], [t for _, t in messages]),
    ).fetchall()
    return {(r["channel_id"], r["ts"]): str(r["conversation_id"]) for r in rows}
