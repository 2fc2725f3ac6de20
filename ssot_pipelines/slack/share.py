"""``ssot slack share SESSION --channel C [--thread TS]``: post a session's handover pack to Slack.

The pack is the one ``ssot context`` prints and agents hand each other (what the session was doing,
its last messages, files, links). It is posted once per session and thread: a second call reports
the earlier post. The posted messages are logged into the ledger as part of their conversation, and
the conversation is linked to the session (evidence ``shared``). A pack longer than one Slack message
continues in the thread, never cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from slack_sdk import WebClient

from ssot_pipelines.slack import bridge, sessions_view, store
from ssot_pipelines.slack.model import message_from_slack, slack_zone
from ssot_pipelines.slack.store import Connection

MESSAGE_CHARS = 3500  # Slack shows up to ~4,000 characters of a message before "show more"


class ShareError(RuntimeError):
    """The share cannot be done (unknown session, an interrupted earlier post); the message says what to do."""


@dataclass
class ShareResult:
    session_id: str
    channel_id: str
    thread_ts: str
    message_ts: str
    already: bool
    conversation_id: str | None = None
    parts: list[str] = field(default_factory=list)


def split_message(text: str, limit: int = MESSAGE_CHARS) -> list[str]:
    """Parts of at most ``limit`` characters, cut at paragraph (else line) ends; joined, they are ``text``."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        cut = cut + 2 if cut > 0 else rest.rfind("\n", 0, limit) + 1
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:]
    return [*parts, rest] if rest or not parts else parts


def share_session(
    conn: Connection,
    client: WebClient,
    session: str,
    channel_id: str,
    thread_ts: str | None = None,
    *,
    again: bool = False,
    zone: tzinfo | None = None,
) -> ShareResult:
    """Post the session's pack (once per session and thread) and log the post into its conversation."""
    zone = zone or slack_zone()
    pack: Any = sessions_view.handover_pack(conn, session)
    if pack is None:
        raise ShareError(f"no session {session!r} in the ledger; run `ssot worker --once` or `ssot import` first")
    session_id = str(pack.session_id)
    thread = thread_ts or ""
    row = conn.execute(
        "SELECT state, message_ts FROM slack_shares WHERE session_id = %s AND channel_id = %s AND thread_ts = %s",
        (session_id, channel_id, thread),
    ).fetchone()
    conn.commit()
    if row and row["state"] == "posted":
        return ShareResult(
            session_id,
            channel_id,
            thread,
            str(row["message_ts"]),
            already=True,
            conversation_id=store.conversation_of(conn, channel_id, str(row["message_ts"])),
        )
    if row and row["state"] == "posting" and not again:
        raise ShareError(
            f"an earlier share of {session_id} to {channel_id} was interrupted and may have posted; "
            "look in Slack, then run again with --again to post anyway"
        )
    conn.execute(
        "INSERT INTO slack_shares (session_id, channel_id, thread_ts, state) VALUES (%s, %s, %s, 'posting')"
        " ON CONFLICT (session_id, channel_id, thread_ts) DO UPDATE SET state = 'posting', posted_at = now()",
        (session_id, channel_id, thread),
    )
    conn.commit()
    text = f"Handover pack of CLI session {pack.key} (ssot)\n\n" + pack.as_markdown()
    posted: list[dict[str, Any]] = []
    reply_to = thread_ts
    for part in split_message(text):
        response: Any = client.chat_postMessage(
            channel=channel_id, text=part, thread_ts=reply_to, unfurl_links=False, unfurl_media=False
        )
        message = dict(response.get("message") or {})
        message.setdefault("ts", response["ts"])
        message.setdefault("text", part)
        if reply_to:
            message.setdefault("thread_ts", reply_to)
        posted.append(message)
        reply_to = reply_to or str(response["ts"])
    first_ts = str(posted[0]["ts"])
    conn.commit()
    with conn.transaction():
        store.lock_writers(conn)
        conn.execute(
            "INSERT INTO slack_channels (channel_id, name, kind) VALUES (%s, %s, 'channel') ON CONFLICT DO NOTHING",
            (channel_id, channel_id),
        )
        messages = [message_from_slack(m, channel_id) for m in posted]
        if len(posted) > 1 and not thread_ts:
            # the first part became a thread root when the rest were posted under it
            messages[0] = message_from_slack(
                {**posted[0], "thread_ts": first_ts, "reply_count": len(posted) - 1}, channel_id
            )
        staging = store.Staging(conn)
        staging.add(messages, zone)
        store.merge_messages(conn)
        conversation_id = store.conversation_of(conn, channel_id, first_ts)
        conn.execute(
            "UPDATE slack_shares SET state = 'posted', message_ts = %s, posted_at = now()"
            " WHERE session_id = %s AND channel_id = %s AND thread_ts = %s",
            (first_ts, session_id, channel_id, thread),
        )
        if conversation_id:
            bridge.add_link(
                conn,
                conversation_id,
                session_id,
                "shared",
                f"the handover pack of {pack.key} was posted with `ssot slack share`",
                anchor_ts=first_ts,
            )
    return ShareResult(
        session_id,
        channel_id,
        thread,
        first_ts,
        already=False,
        conversation_id=conversation_id,
        parts=[str(m["ts"]) for m in posted],
    )
