"""The questions unified search asks of CLI sessions (``ssot_pipelines.search``): full-text and exact matches
over the rendered transcript paragraphs, and a recall chunk described with its surrounding paragraphs."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.search.model import CONTEXT, Doc
from ssot_pipelines.sessions.recall import NAMESPACE, context_window
from ssot_pipelines.sessions.segments import parse_key
from ssot_pipelines.sessions.store import Connection

VECTOR_NAMESPACE = NAMESPACE
DATABASE = "cli_sessions"  # sessions.records.DATABASE, which imports pandas
# The stored, GIN-indexed to_tsvector('english', left(text, 200000)) of each paragraph (migration 0220):
# to_tsvector refuses texts over 1 MB, so a huge tool output is searched by its beginning.
_TSV = "p.tsv"


def fulltext_refs(conn: Connection, tsquery: str, limit: int) -> list[str]:
    """Chunk ids whose paragraphs match ``tsquery`` (a to_tsquery text), best first."""
    rows = conn.execute(
        f"SELECT c.chunk_id, max(ts_rank_cd({_TSV}, q)) AS rank FROM session_paragraphs p"
        " CROSS JOIN to_tsquery('english', %s) q"
        " JOIN session_chunks c ON c.session_key = p.session_key"
        " AND p.paragraph_no BETWEEN c.first_paragraph AND c.last_paragraph"
        f" WHERE {_TSV} @@ q GROUP BY c.chunk_id ORDER BY rank DESC, c.chunk_id LIMIT %s",
        (tsquery, limit),
    ).fetchall()
    conn.commit()
    return [str(r["chunk_id"]) for r in rows]


def exact_refs(conn: Connection, text: str) -> list[str]:
    """The first chunk of the session (or segment ``<id>#<n>``) whose id is ``text``."""
    session_id, number = parse_key(text.strip())
    if number is None:
        sql, params = (
            "session_key LIKE %s",
            (session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "#%",),
        )
    else:
        sql, params = "session_key = %s", (text.strip(),)
    rows = conn.execute(
        f"SELECT chunk_id FROM session_chunks WHERE {sql} AND chunk_no = 0 ORDER BY session_key LIMIT 3", params
    ).fetchall()
    conn.commit()
    return [str(r["chunk_id"]) for r in rows]


def vector_ref(hit_id: str, metadata: dict[str, Any]) -> str:
    return hit_id


def describe(conn: Connection, ref: str, around: int = CONTEXT) -> Doc | None:
    """The chunk ``ref`` with ``around`` paragraphs either side; None when it is gone."""
    row = conn.execute(
        "SELECT c.session_key, c.first_paragraph, c.last_paragraph, s.session_id, s.cwd, s.first_event_at"
        " FROM session_chunks c LEFT JOIN sessions s ON s.session_id = split_part(c.session_key, '#', 1)"
        " WHERE c.chunk_id = %s",
        (ref,),
    ).fetchone()
    conn.commit()
    if row is None:
        return None
    before, matched, after = context_window(
        conn, row["session_key"], row["first_paragraph"], row["last_paragraph"], around
    )
    when = row["first_event_at"].strftime("%Y-%m-%d %H:%M") if row["first_event_at"] else ""
    title = " · ".join(x for x in (f"session {row['session_key']}", row["cwd"] or "", when) if x)
    return Doc("sessions", ref, title, DATABASE, str(row["session_key"]), matched, before, after)
