"""The questions unified search asks of Slack conversations (``ssot_pipelines.search``): full-text and exact
matches over messages, mapped to the recall chunks of ``slack_conversations``, and a chunk described with
the messages around it."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from ssot_pipelines.search.model import CONTEXT, Doc
from ssot_pipelines.slack import store
from ssot_pipelines.slack.recall import NAMESPACE
from ssot_pipelines.slack.render import message_paragraph
from ssot_pipelines.slack.store import Connection

VECTOR_NAMESPACE = NAMESPACE
DATABASE = "slack_conversations"  # slack.records.DATABASE, which imports pandas
# The stored, GIN-indexed to_tsvector('english', left(text, 200000)) of each message (migration 0810).
_TSV = "m.tsv"


def fulltext_refs(conn: Connection, tsquery: str, limit: int) -> list[str]:
    """Chunk ids (``<conversation_id>:<n>``) whose messages match ``tsquery``, best first."""
    rows = conn.execute(
        f"SELECT c.conversation_id || ':' || c.chunk_no AS ref, max(ts_rank_cd({_TSV}, q)) AS rank"
        " FROM slack_messages m CROSS JOIN to_tsquery('english', %s) q"
        " JOIN slack_chunks c ON c.conversation_id = m.conversation_id"
        " AND m.ts_num BETWEEN c.first_ts::numeric AND c.last_ts::numeric"
        f" WHERE NOT m.deleted AND m.kind = 'message' AND {_TSV} @@ q"
        " GROUP BY 1 ORDER BY rank DESC, 1 LIMIT %s",
        (tsquery, limit),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def exact_refs(conn: Connection, text: str) -> list[str]:
    """The first chunk of the conversation whose id is ``text``, or the chunk holding message ts ``text``."""
    rows = conn.execute(
        "SELECT conversation_id || ':' || chunk_no AS ref FROM slack_chunks WHERE (conversation_id = %s"
        " AND chunk_no = 0) OR first_ts = %s OR last_ts = %s ORDER BY 1 LIMIT 3",
        (text, text, text),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def vector_ref(hit_id: str, metadata: dict[str, Any]) -> str:
    return hit_id


def describe(conn: Connection, ref: str, around: int = CONTEXT) -> Doc | None:
    """The chunk ``ref`` with ``around`` messages either side; None when it is gone."""
    cid, _, number = ref.rpartition(":")
    if not number.isdigit():
        return None
    chunk = conn.execute(
        "SELECT first_ts, last_ts FROM slack_chunks WHERE conversation_id = %s AND chunk_no = %s", (cid, int(number))
    ).fetchone()
    if chunk is None:
        conn.commit()
        return None
    directory = store.directory(conn)
    messages = [m for m in store.conversation_messages(conn, cid) if m.kind == "message" and not m.deleted]
    conv = conn.execute(
        "SELECT channel_id, kind, anchor FROM slack_conversations WHERE conversation_id = %s", (cid,)
    ).fetchone()
    conn.commit()
    first, last = Decimal(chunk["first_ts"]), Decimal(chunk["last_ts"])
    inside = [i for i, m in enumerate(messages) if first <= Decimal(m.ts) <= last]
    if not inside:
        return None
    a, b = inside[0], inside[-1]
    paras = [message_paragraph(m, directory, UTC) for m in messages]
    channel = directory.channels.get(conv["channel_id"], conv["channel_id"]) if conv else ""
    title = f"#{channel} · {conv['kind']} {conv['anchor']}" if conv else cid
    return Doc(
        "slack",
        ref,
        title,
        DATABASE,
        cid,
        paras[a : b + 1],
        paras[max(0, a - around) : a],
        paras[b + 1 : b + 1 + around],
    )
