"""Conversation vectors: each conversation (a thread or a channel day) is cut into chunks of consecutive
messages, and each chunk is embedded together with its neighbouring messages as context, into the
``slack_conversations`` namespace of the vector store (the same store sessions use).

Chunk ids are ``<conversation_id>:<n>``; only chunks whose text changed are embedded again, and chunks a
conversation no longer has are deleted, so indexing is safe to repeat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from ssot_pipelines.sessions.recall import chunk_ranges
from ssot_pipelines.slack import store
from ssot_pipelines.slack.render import message_paragraph
from ssot_pipelines.slack.store import Connection
from ssot_pipelines.vectors import Embedder, VectorItem, VectorStore

NAMESPACE = "slack_conversations"
CONTEXT_MESSAGES = 2  # neighbours embedded with a chunk, either side
EMBED_CHARS = 4000


@dataclass
class IndexReport:
    conversations: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0


def index_conversations(
    conn: Connection, vectors: VectorStore, embedder: Embedder, *, limit: int = 1000
) -> IndexReport:
    """Embed the conversations that changed since they were last indexed."""
    report = IndexReport()
    rows = conn.execute(
        "SELECT conversation_id, changed_at, channel_id, kind FROM slack_conversations"
        " WHERE indexed_at IS NULL OR indexed_at < changed_at ORDER BY changed_at LIMIT %s",
        (limit,),
    ).fetchall()
    conn.commit()
    directory = store.directory(conn)
    for row in rows:
        cid = str(row["conversation_id"])
        messages = [m for m in store.conversation_messages(conn, cid) if m.kind == "message" and not m.deleted]
        paras = [message_paragraph(m, directory, UTC) for m in messages]
        ranges = chunk_ranges(paras)
        texts = [
            "\n\n".join(paras[max(0, a - CONTEXT_MESSAGES) : b + 1 + CONTEXT_MESSAGES])[:EMBED_CHARS] for a, b in ranges
        ]
        shas = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        known = {
            int(r["chunk_no"]): str(r["text_sha"])
            for r in conn.execute(
                "SELECT chunk_no, text_sha FROM slack_chunks WHERE conversation_id = %s", (cid,)
            ).fetchall()
        }
        todo = [i for i, sha in enumerate(shas) if known.get(i) != sha]
        if todo:
            embedded = embedder.embed([texts[i] for i in todo])
            channel = directory.channels.get(str(row["channel_id"]), str(row["channel_id"]))
            items = [
                VectorItem(
                    id=f"{cid}:{i}",
                    vector=v,
                    text=texts[i],
                    metadata=_metadata(
                        cid, channel, str(row["kind"]), i, messages[ranges[i][0]].ts, messages[ranges[i][1]].ts
                    ),
                )
                for i, v in zip(todo, embedded, strict=True)
            ]
            vectors.upsert(NAMESPACE, items)
            report.chunks_embedded += len(items)
        stale = sorted(n for n in known if n >= len(texts))
        if stale:
            vectors.delete(NAMESPACE, [f"{cid}:{n}" for n in stale])
            report.chunks_deleted += len(stale)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM slack_chunks WHERE conversation_id = %s", (cid,))
            cur.executemany(
                "INSERT INTO slack_chunks (conversation_id, chunk_no, first_ts, last_ts, text_sha)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(cid, i, messages[a].ts, messages[b].ts, shas[i]) for i, (a, b) in enumerate(ranges)],
            )
            cur.execute(
                "UPDATE slack_conversations SET indexed_at = %s WHERE conversation_id = %s", (row["changed_at"], cid)
            )
        report.conversations += 1
    return report


def _metadata(cid: str, channel: str, kind: str, chunk_no: int, first_ts: str, last_ts: str) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "channel": channel,
        "kind": kind,
        "chunk_no": chunk_no,
        "first_ts": first_ts,
        "last_ts": last_ts,
    }


def search(vectors: VectorStore, embedder: Embedder, query: str, *, top_k: int = 5) -> list[dict[str, Any]]:
    """The conversation chunks nearest to ``query``, best first (id, score, text with its context)."""
    [vector] = embedder.embed([query])
    return [
        {"id": h.id, "score": h.score, "conversation_id": h.metadata.get("conversation_id"), "text": h.text}
        for h in vectors.query(NAMESPACE, vector, top_k=top_k)
    ]
