"""The ledger side of Slack: people, channels, messages by ``(channel_id, ts)`` and the conversations
they form. Every writer (export import, Events API drain, ``slack share``) goes through
:func:`merge_messages`, so an export replayed after live capture, or twice, changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import psycopg

from ssot_pipelines.slack.model import Message, thread_conversation_id
from ssot_pipelines.slack.render import Directory, person_name

Connection = psycopg.Connection[dict[str, Any]]

WRITE_LOCK = 0x55_07_51AC  # advisory lock: one writer of Slack messages at a time (import, drain, share)

_COLUMNS = (
    "channel_id",
    "ts",
    "ts_num",
    "thread_ts",
    "conversation_id",
    "kind",
    "subtype",
    "user_id",
    "bot_name",
    "text",
    "edited",
    "deleted",
    "files",
    "reactions",
    "source_day",
    "digest",
)
_COLUMN_LIST = ", ".join(_COLUMNS)


@dataclass
class MergeCounts:
    messages_new: int = 0
    messages_changed: int = 0
    messages_unchanged: int = 0
    messages_deleted: int = 0  # tombstoned because their day file no longer has them
    memberships: int = 0
    conversations_new: list[str] = field(default_factory=list)
    conversations_changed: list[str] = field(default_factory=list)
    conversations_unchanged: int = 0


def lock_writers(conn: Connection) -> None:
    """Serialise Slack writers for the rest of the caller's transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))


class Staging:
    """A per-transaction temp table that messages are copied into before one merge."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS slack_incoming (seq bigserial, LIKE slack_messages INCLUDING DEFAULTS)"
            " ON COMMIT DROP"
        )
        conn.execute("TRUNCATE slack_incoming")
        self.count = 0

    def add(self, messages: Iterable[Message], zone: tzinfo) -> None:
        with self.conn.cursor() as cur, cur.copy(f"COPY slack_incoming ({_COLUMN_LIST}) FROM STDIN") as copy:
            for m in messages:
                copy.write_row(_row(m, zone))
                self.count += 1


def _clean(text: str | None) -> str | None:
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


def _row(m: Message, zone: tzinfo) -> tuple[Any, ...]:
    return (
        m.channel_id,
        m.ts,
        m.ts_num,
        m.thread_ts,
        m.conversation_id(zone),
        m.kind,
        m.subtype,
        m.user_id,
        _clean(m.bot_name),
        _clean(m.text) or "",
        m.edited,
        m.deleted,
        json.dumps(m.files, ensure_ascii=False),
        json.dumps(m.reactions, ensure_ascii=False),
        m.source_day,
        m.digest(),
    )


def merge_messages(conn: Connection, *, tombstone_missing_days: bool = False) -> MergeCounts:
    """Merge what was staged into ``slack_messages`` and refresh the conversations it touched.

    Runs in the caller's transaction (which must hold :func:`lock_writers`). ``tombstone_missing_days``: an
    export's day file is complete, so a message the ledger has from the same channel-day file that the file
    no longer holds was deleted in Slack; it stays, as a tombstone.
    """
    counts = MergeCounts()
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE slack_in ON COMMIT DROP AS SELECT DISTINCT ON (channel_id, ts) * "
            "FROM slack_incoming ORDER BY channel_id, ts, seq DESC"
        )
        cur.execute("CREATE UNIQUE INDEX ON slack_in (channel_id, ts)")  # the tombstone check looks messages up
        cur.execute("CREATE INDEX ON slack_in (channel_id, thread_ts)")
        cur.execute("ANALYZE slack_in")
        # A root whose replies are known becomes a thread, wherever (and in whichever file) the replies are.
        cur.execute(
            "UPDATE slack_in i SET thread_ts = i.ts, conversation_id = i.channel_id || '/thread/' || i.ts"
            " WHERE i.thread_ts IS NULL AND (EXISTS (SELECT 1 FROM slack_in r WHERE r.channel_id = i.channel_id"
            " AND r.thread_ts = i.ts AND r.ts <> i.ts) OR EXISTS (SELECT 1 FROM slack_messages r"
            " WHERE r.channel_id = i.channel_id AND r.thread_ts = i.ts AND r.ts <> i.ts))"
        )
        if tombstone_missing_days:
            cur.execute(
                f"INSERT INTO slack_in ({_COLUMN_LIST}) SELECT m.channel_id, m.ts, m.ts_num, m.thread_ts,"
                " m.conversation_id, m.kind, m.subtype, m.user_id, m.bot_name, m.text, m.edited, true, m.files,"
                " '[]'::jsonb, m.source_day, 'tombstone:' || m.digest FROM slack_messages m"
                " WHERE NOT m.deleted AND m.kind = 'message' AND (m.channel_id, m.source_day) IN"
                " (SELECT DISTINCT channel_id, source_day FROM slack_in WHERE source_day IS NOT NULL)"
                " AND NOT EXISTS (SELECT 1 FROM slack_in i WHERE i.channel_id = m.channel_id AND i.ts = m.ts)"
            )
            counts.messages_deleted = cur.rowcount
        row = cur.execute(
            "SELECT count(*) FILTER (WHERE m.ts IS NULL AND i.kind = 'message') AS new,"
            " count(*) FILTER (WHERE m.ts IS NOT NULL AND i.kind = 'message' AND (m.digest <> i.digest"
            "  OR m.conversation_id <> i.conversation_id)) AS changed,"
            " count(*) FILTER (WHERE m.ts IS NOT NULL AND i.kind = 'message' AND m.digest = i.digest"
            "  AND m.conversation_id = i.conversation_id) AS unchanged,"
            " count(*) FILTER (WHERE i.kind = 'membership') AS memberships"
            " FROM slack_in i LEFT JOIN slack_messages m USING (channel_id, ts)"
        ).fetchone()
        assert row is not None
        counts.messages_new, counts.messages_unchanged = int(row["new"]), int(row["unchanged"])
        counts.messages_changed = int(row["changed"]) - counts.messages_deleted
        counts.memberships = int(row["memberships"])
        affected = {
            r["id"]
            for r in cur.execute(
                "SELECT i.conversation_id AS id FROM slack_in i LEFT JOIN slack_messages m USING (channel_id, ts)"
                " WHERE m.ts IS NULL OR m.digest <> i.digest OR m.conversation_id <> i.conversation_id"
                " UNION SELECT m.conversation_id FROM slack_in i JOIN slack_messages m USING (channel_id, ts)"
                " WHERE m.conversation_id <> i.conversation_id"
            ).fetchall()
        }
        cur.execute(
            f"INSERT INTO slack_messages ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM slack_in"
            " ON CONFLICT (channel_id, ts) DO UPDATE SET thread_ts = EXCLUDED.thread_ts,"
            " conversation_id = EXCLUDED.conversation_id, kind = EXCLUDED.kind, subtype = EXCLUDED.subtype,"
            " user_id = EXCLUDED.user_id, bot_name = EXCLUDED.bot_name, text = EXCLUDED.text,"
            " edited = EXCLUDED.edited, deleted = EXCLUDED.deleted, files = EXCLUDED.files,"
            " reactions = EXCLUDED.reactions, source_day = coalesce(EXCLUDED.source_day, slack_messages.source_day),"
            " digest = EXCLUDED.digest, updated_at = now()"
            " WHERE slack_messages.digest <> EXCLUDED.digest"
            "  OR slack_messages.conversation_id <> EXCLUDED.conversation_id"
        )
        # Roots already in the ledger that just got their first reply move into the thread.
        moved = cur.execute(
            "SELECT r.channel_id, r.ts, r.conversation_id FROM slack_messages r JOIN (SELECT DISTINCT channel_id,"
            " thread_ts FROM slack_in WHERE thread_ts IS NOT NULL AND thread_ts <> ts) t"
            " ON r.channel_id = t.channel_id AND r.ts = t.thread_ts WHERE r.thread_ts IS NULL"
        ).fetchall()
        for m in moved:
            new_id = thread_conversation_id(m["channel_id"], m["ts"])
            cur.execute(
                "UPDATE slack_messages SET thread_ts = ts, conversation_id = %s, updated_at = now()"
                " WHERE channel_id = %s AND ts = %s",
                (new_id, m["channel_id"], m["ts"]),
            )
            affected |= {m["conversation_id"], new_id}
        seen = {r["conversation_id"] for r in cur.execute("SELECT DISTINCT conversation_id FROM slack_in").fetchall()}
        counts.conversations_new, counts.conversations_changed = refresh_conversations(conn, sorted(affected))
        counts.conversations_unchanged = len(seen - set(counts.conversations_new) - set(counts.conversations_changed))
        cur.execute("DROP TABLE slack_in")
        cur.execute("TRUNCATE slack_incoming")
    return counts


def refresh_conversations(conn: Connection, ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Recompute the digest of these conversations; returns (new, changed) ids."""
    if not ids:
        return [], []
    rows = conn.execute(
        "INSERT INTO slack_conversations AS c (conversation_id, channel_id, kind, anchor, digest)"
        " SELECT conversation_id, min(channel_id), split_part(conversation_id, '/', 2),"
        " split_part(conversation_id, '/', 3), md5(string_agg(ts || ':' || digest, ',' ORDER BY ts_num))"
        " FROM slack_messages WHERE conversation_id = ANY(%s) GROUP BY conversation_id"
        " ON CONFLICT (conversation_id) DO UPDATE SET digest = EXCLUDED.digest, changed_at = clock_timestamp()"
        " WHERE c.digest <> EXCLUDED.digest RETURNING conversation_id, (xmax = 0) AS inserted",
        (list(ids),),
    ).fetchall()
    emptied = conn.execute(
        "UPDATE slack_conversations c SET digest = '', changed_at = clock_timestamp()"
        " WHERE conversation_id = ANY(%s) AND c.digest <> ''"
        " AND NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.conversation_id = c.conversation_id)"
        " RETURNING conversation_id",
        (list(ids),),
    ).fetchall()
    new = sorted(r["conversation_id"] for r in rows if r["inserted"])
    changed = sorted(
        [r["conversation_id"] for r in rows if not r["inserted"]] + [r["conversation_id"] for r in emptied]
    )
    return new, changed


# -- reading -----------------------------------------------------------------------------------------


def _message(row: dict[str, Any]) -> Message:
    return Message(
        channel_id=row["channel_id"],
        ts=row["ts"],
        thread_ts=row["thread_ts"],
        kind=row["kind"],
        subtype=row["subtype"],
        user_id=row["user_id"],
        bot_name=row["bot_name"],
        text=row["text"],
        edited=row["edited"],
        deleted=row["deleted"],
        files=list(row["files"] or []),
        reactions=list(row["reactions"] or []),
        source_day=row["source_day"],
    )


def message(conn: Connection, channel_id: str, ts: str) -> Message | None:
    row = conn.execute(
        f"SELECT {_COLUMN_LIST} FROM slack_messages WHERE channel_id = %s AND ts = %s", (channel_id, ts)
    ).fetchone()
    return _message(row) if row else None


def conversation_messages(conn: Connection, conversation_id: str) -> list[Message]:
    """Every message of a conversation (membership rows included), in time order."""
    rows = conn.execute(
        f"SELECT {_COLUMN_LIST} FROM slack_messages WHERE conversation_id = %s ORDER BY ts_num",
        (conversation_id,),
    ).fetchall()
    return [_message(r) for r in rows]


def conversation_of(conn: Connection, channel_id: str, ts: str) -> str | None:
    row = conn.execute(
        "SELECT conversation_id FROM slack_messages WHERE channel_id = %s AND ts = %s", (channel_id, ts)
    ).fetchone()
    return str(row["conversation_id"]) if row else None


def directory(conn: Connection) -> Directory:
    people: dict[str, str] = {}
    for r in conn.execute("SELECT user_id, real_name, display_name, handle FROM slack_users").fetchall():
        name = person_name(r["real_name"], r["display_name"], r["handle"])
        if name:
            people[r["user_id"]] = name
    channels = {
        r["channel_id"]: r["name"] for r in conn.execute("SELECT channel_id, name FROM slack_channels").fetchall()
    }
    return Directory(people, channels)


def channel(conn: Connection, channel_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM slack_channels WHERE channel_id = %s", (channel_id,)).fetchone()
    return dict(row) if row else None


# -- people and channels -----------------------------------------------------------------------------


def upsert_users(conn: Connection, users: Iterable[dict[str, Any]], *, source: str) -> int:
    """Store people (``user_id``, ``real_name``, ``display_name``, ``handle``, ``is_bot``); returns rows changed."""
    changed = 0
    with conn.cursor() as cur:
        for u in users:
            cur.execute(
                "INSERT INTO slack_users AS u (user_id, real_name, display_name, handle, is_bot, source)"
                " VALUES (%(user_id)s, %(real_name)s, %(display_name)s, %(handle)s, %(is_bot)s, %(source)s)"
                " ON CONFLICT (user_id) DO UPDATE SET real_name = EXCLUDED.real_name,"
                " display_name = EXCLUDED.display_name, handle = EXCLUDED.handle, is_bot = EXCLUDED.is_bot,"
                " source = EXCLUDED.source, fetched_at = now()"
                " WHERE (u.real_name, u.display_name, u.handle, u.is_bot) IS DISTINCT FROM"
                " (EXCLUDED.real_name, EXCLUDED.display_name, EXCLUDED.handle, EXCLUDED.is_bot)"
                "  OR EXCLUDED.source = 'api'",
                {**u, "source": source},
            )
            changed += cur.rowcount
    return changed


def upsert_channels(conn: Connection, channels: Iterable[dict[str, Any]]) -> int:
    """Store channels (``channel_id``, ``name``, ``kind``, ``members``); returns rows changed."""
    changed = 0
    with conn.cursor() as cur:
        for c in channels:
            cur.execute(
                "INSERT INTO slack_channels AS c (channel_id, name, kind, members) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (channel_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
                " members = EXCLUDED.members, updated_at = now()"
                " WHERE (c.name, c.kind, c.members) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.members)",
                (c["channel_id"], c["name"], c["kind"], json.dumps(c.get("members") or [])),
            )
            changed += cur.rowcount
    return changed


def users_without_names(conn: Connection, limit: int = 200) -> list[str]:
    """User ids that messages mention or were written by, and that no users.json or users.info named yet."""
    rows = conn.execute(
        "WITH seen AS (SELECT user_id FROM slack_messages WHERE user_id IS NOT NULL"
        " UNION SELECT (regexp_matches(text, '<@([A-Z0-9]+)', 'g'))[1] FROM slack_messages WHERE text LIKE '%%<@%%'"
        " UNION SELECT jsonb_array_elements_text(r -> 'users') FROM slack_messages,"
        " jsonb_array_elements(reactions) r WHERE reactions <> '[]')"
        " SELECT s.user_id FROM seen s LEFT JOIN slack_users u USING (user_id) WHERE u.user_id IS NULL"
        " ORDER BY s.user_id LIMIT %s",
        (limit,),
    ).fetchall()
    return [str(r["user_id"]) for r in rows]


def conversations_touching_users(conn: Connection, user_ids: Sequence[str]) -> list[str]:
    """Conversations whose body shows one of these people (as speaker), to rebuild once names are known."""
    alternatives = "|".join(re.escape(u) for u in user_ids)
    pattern = f"<@({alternatives})[|>]" if user_ids else "^$"
    rows = conn.execute(
        "SELECT DISTINCT conversation_id FROM slack_messages WHERE user_id = ANY(%s) OR text ~ %s"
        " OR reactions::text ~ %s",
        (list(user_ids), pattern, f"({alternatives})" if user_ids else "^$"),
    ).fetchall()
    return [str(r["conversation_id"]) for r in rows]


def touch_conversations(conn: Connection, ids: Sequence[str]) -> None:
    """Mark conversations changed (a name they show was resolved) so the next sync rebuilds their bodies."""
    conn.execute(
        "UPDATE slack_conversations SET changed_at = clock_timestamp() WHERE conversation_id = ANY(%s)", (list(ids),)
    )


def channels_without_names(conn: Connection, limit: int = 200) -> list[str]:
    """Channels and DMs known only by id (first seen in a live event)."""
    rows = conn.execute(
        "SELECT channel_id FROM slack_channels WHERE name = channel_id ORDER BY channel_id LIMIT %s",
        (limit,),
    ).fetchall()
    return [str(r["channel_id"]) for r in rows]


def rename_channel(conn: Connection, channel_id: str, name: str) -> None:
    conn.execute("UPDATE slack_channels SET name = %s, updated_at = now() WHERE channel_id = %s", (name, channel_id))
    conn.execute("UPDATE slack_conversations SET changed_at = clock_timestamp() WHERE channel_id = %s", (channel_id,))
