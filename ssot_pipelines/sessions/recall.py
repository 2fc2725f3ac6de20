"""The vector layer of sessions: transcript chunks embedded for semantic recall, each able to return the
paragraphs around it.

The rendered paragraphs of each segment are kept in ``session_paragraphs`` and every chunk records the
paragraph range it covers, so a hit comes back with at least ``CONTEXT_PARAGRAPHS`` paragraphs either
side. Chunk ids (``<segment key>:<n>``) are deterministic and only chunks whose text changed are
re-embedded, so indexing is safe to repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ssot_pipelines.sessions import bridge
from ssot_pipelines.sessions.store import Connection
from ssot_pipelines.sessions.transcript_text import coverage, paragraphs
from ssot_pipelines.vectors import Embedder, VectorItem, VectorStore

NAMESPACE = "cli_sessions"
CHUNK_CHARS = 1500
# What the vector index holds of one chunk: a very long paragraph (a 10 MB tool output) is indexed by its
# beginning; the full text stays in session_paragraphs and comes back as context.
EMBED_CHARS = 4000
CONTEXT_PARAGRAPHS = 5


@dataclass
class IndexReport:
    sessions: int = 0
    segments: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0


def chunk_ranges(paras: Sequence[str], limit: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """Inclusive paragraph ranges grouping consecutive paragraphs up to ``limit`` characters."""
    ranges: list[tuple[int, int]] = []
    start, size = 0, 0
    for i, text in enumerate(paras):
        if i > start and size + len(text) > limit:
            ranges.append((start, i - 1))
            start, size = i, 0
        size += len(text) + 2
    if paras:
        ranges.append((start, len(paras) - 1))
    return ranges


def index_sessions(conn: Connection, store: VectorStore, embedder: Embedder, *, limit: int = 200) -> IndexReport:
    """Re-chunk and embed the sessions that changed since they were last indexed."""
    report = IndexReport()
    rows = conn.execute(
        "SELECT session_id, changed_at FROM sessions WHERE indexed_at IS NULL OR changed_at > indexed_at"
        " ORDER BY changed_at LIMIT %s",
        (limit,),
    ).fetchall()
    conn.commit()
    for row in rows:
        index_session(conn, store, embedder, str(row["session_id"]), report)
        conn.execute(
            "UPDATE sessions SET indexed_at = %s WHERE session_id = %s", (row["changed_at"], row["session_id"])
        )
        conn.commit()
        report.sessions += 1
    return report


def index_session(
    conn: Connection, store: VectorStore, embedder: Embedder, session_id: str, report: IndexReport
) -> None:
    segments = bridge.segments_of(conn, session_id)
    bridge.derive_links(conn, session_id, segments)
    cov = coverage([e for s in segments for e in s.events])
    for seg in segments:
        paras = paragraphs(seg.events, cov)
        _store_paragraphs(conn, seg.key, paras)
        ranges = chunk_ranges(paras)
        texts = ["\n\n".join(paras[a : b + 1])[:EMBED_CHARS] for a, b in ranges]
        shas = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        known = {
            int(r["chunk_no"]): str(r["text_sha"])
            for r in conn.execute(
                "SELECT chunk_no, text_sha FROM session_chunks WHERE session_key = %s", (seg.key,)
            ).fetchall()
        }
        todo = [i for i, sha in enumerate(shas) if known.get(i) != sha]
        if todo:
            vectors = embedder.embed([texts[i] for i in todo])
            items = [
                VectorItem(
                    id=f"{seg.key}:{i}",
                    vector=v,
                    text=texts[i],
                    metadata={
                        "session_key": seg.key,
                        "session_id": session_id,
                        "chunk_no": i,
                        "first_paragraph": ranges[i][0],
                        "last_paragraph": ranges[i][1],
                    },
                )
                for i, v in zip(todo, vectors, strict=True)
            ]
            store.upsert(NAMESPACE, items)
            report.chunks_embedded += len(items)
        stale = sorted(n for n in known if n >= len(texts))
        if stale:
            store.delete(NAMESPACE, [f"{seg.key}:{n}" for n in stale])
            report.chunks_deleted += len(stale)
        with conn.transaction():
            conn.execute("DELETE FROM session_chunks WHERE session_key = %s", (seg.key,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO session_chunks (chunk_id, session_key, chunk_no, first_paragraph, last_paragraph,"
                    " text_sha) VALUES (%s, %s, %s, %s, %s, %s)",
                    [(f"{seg.key}:{i}", seg.key, i, a, b, shas[i]) for i, (a, b) in enumerate(ranges)],
                )
        report.segments += 1


def _store_paragraphs(conn: Connection, key: str, paras: Sequence[str]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM session_paragraphs WHERE session_key = %s", (key,))
        with cur.copy("COPY session_paragraphs (session_key, paragraph_no, text) FROM STDIN") as copy:
            for i, text in enumerate(paras):
                copy.write_row((key, i, text.replace("\x00", "\ufffd")))


@dataclass
class RecallHit:
    key: str
    chunk_no: int
    score: float
    text: str
    before: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "chunk_no": self.chunk_no,
            "score": self.score,
            "before": self.before,
            "matched": self.matched,
            "after": self.after,
        }


def context_window(
    conn: Connection, key: str, first: int, last: int, around: int = CONTEXT_PARAGRAPHS
) -> tuple[list[str], list[str], list[str]]:
    """(paragraphs before, the chunk's paragraphs, paragraphs after), ``around`` either side."""
    rows = conn.execute(
        "SELECT paragraph_no, text FROM session_paragraphs WHERE session_key = %s AND paragraph_no BETWEEN %s AND %s"
        " ORDER BY paragraph_no",
        (key, first - around, last + around),
    ).fetchall()
    conn.commit()
    before = [r["text"] for r in rows if r["paragraph_no"] < first]
    matched = [r["text"] for r in rows if first <= r["paragraph_no"] <= last]
    after = [r["text"] for r in rows if r["paragraph_no"] > last]
    return before, matched, after


def search(
    conn: Connection,
    store: VectorStore,
    embedder: Embedder,
    query: str,
    *,
    top_k: int = 5,
    around: int = CONTEXT_PARAGRAPHS,
) -> list[RecallHit]:
    """The chunks nearest to ``query``, best first, each with its surrounding paragraphs."""
    [vector] = embedder.embed([query])
    hits = []
    for hit in store.query(NAMESPACE, vector, top_k=top_k):
        key = str(hit.metadata.get("session_key", hit.id.rpartition(":")[0]))
        first = int(hit.metadata.get("first_paragraph", 0))
        last = int(hit.metadata.get("last_paragraph", first))
        before, matched, after = context_window(conn, key, first, last, around)
        hits.append(RecallHit(key, int(hit.metadata.get("chunk_no", 0)), hit.score, hit.text, before, matched, after))
    return hits
