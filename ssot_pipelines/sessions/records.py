"""CLI Sessions records for Notion: one row per segment, its page body the complete transcript."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ssot_pipelines.notion.desired import synced_body_hashes
from ssot_pipelines.sessions import bridge, store
from ssot_pipelines.sessions.events import UNKNOWN_SESSION
from ssot_pipelines.sessions.segments import Segment
from ssot_pipelines.sessions.store import Connection
from ssot_pipelines.sessions.transcript_text import body, coverage, paragraphs

DATABASE = "cli_sessions"
TITLE_CHARS = 100  # the title is a label; the full text is in the body
EXTRACT_LIMIT = 500

COLUMNS = (
    "key",
    "Title",
    "Session ID",
    "Status",
    "Start Time",
    "End Time",
    "Previous Session",
    "Link Kind",
    "Tool",
    "Project Directory",
    "Branch",
    "Message Count",
    "body",
)


def pending_sessions(conn: Connection, target: str | None, *, limit: int = EXTRACT_LIMIT) -> list[dict[str, Any]]:
    """Sessions with events not yet handed to Notion, or whose last handover is not confirmed in Notion."""
    rows = conn.execute(
        "SELECT session_id, changed_at FROM sessions WHERE session_id <> %s AND"
        " (extracted_at IS NULL OR changed_at > extracted_at) ORDER BY changed_at LIMIT %s",
        (UNKNOWN_SESSION, limit),
    ).fetchall()
    found = {str(r["session_id"]): dict(r) for r in rows}
    if target is not None:
        # The sync engine says what reached this target: same body pushed and the row synced.
        waiting = {
            r["key"]: r["body_sha"]
            for r in conn.execute("SELECT key, body_sha FROM session_handover WHERE NOT confirmed").fetchall()
        }
        pushed = synced_body_hashes(conn, target, DATABASE, list(waiting))
        confirmed = [key for key, sha in waiting.items() if pushed.get(key) == sha]
        if confirmed:
            conn.execute("UPDATE session_handover SET confirmed = true WHERE key = ANY(%s)", (confirmed,))
        # Unconfirmed handovers, and sessions shown "active" that have gone quiet for 24 h (now "ended").
        for r in conn.execute(
            "SELECT DISTINCT h.session_id, s.changed_at FROM session_handover h JOIN sessions s USING (session_id)"
            " WHERE NOT h.confirmed OR (h.status = 'active' AND s.last_event_at < now() - %s) LIMIT %s",
            (bridge.IDLE_AFTER, limit),
        ).fetchall():
            found.setdefault(str(r["session_id"]), dict(r))
    conn.commit()
    return list(found.values())


def session_records(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    """The rows (one per segment) of one session, links derived and stored on the way."""
    row = store.session_row(conn, session_id)
    if row is None:
        return []
    segments = bridge.segments_of(conn, session_id)
    bridge.derive_links(conn, session_id, segments)
    keys = [s.key for s in segments]
    links = store.links_of(conn, keys)
    conn.commit()
    cov = coverage([e for s in segments for e in s.events])
    title = _session_title(segments)
    out = []
    for i, seg in enumerate(segments):
        is_last = i == len(segments) - 1
        previous = [lk for lk in links if lk["to_key"] == seg.key]
        paras = paragraphs(seg.events, cov)
        status = bridge.segment_status(
            seg, is_last=is_last, continued_elsewhere=any(lk["from_key"] == seg.key for lk in links)
        )
        events = seg.events
        out.append(
            {
                "key": seg.key,
                "Title": title + (f" · part {seg.number}" if len(segments) > 1 else ""),
                "Session ID": session_id,
                "Status": status,
                "Start Time": events[0].ts if events else row["first_event_at"],
                "End Time": (events[-1].ts if events else row["last_event_at"]) if status != "active" else None,
                "Previous Session": sorted({lk["from_key"] for lk in previous}),
                "Link Kind": previous[0]["kind"] if previous else None,
                "Tool": row["tool"],
                "Project Directory": row["cwd"],
                "Branch": row["git_branch"],
                "Message Count": len(paras),
                "body": body(paras),
            }
        )
    return out


def _session_title(segments: Sequence[Segment]) -> str:
    titles: dict[str, str] = {}
    first_prompt = ""
    uuids = {e.message_uuid for seg in segments for e in seg.events if e.message_uuid}
    for seg in segments:
        for e in seg.events:
            if e.kind in ("ai-title", "custom-title", "summary") or (e.kind == "prompt" and not first_prompt):
                data = e.data()
                if not isinstance(data, dict):
                    continue
                if e.kind == "summary" and data.get("leafUuid") not in uuids:
                    continue  # a summary about another session (contamination, #2597)
                if e.kind == "prompt":
                    first_prompt = _first_line(_prompt_text(data))
                else:
                    value = data.get("customTitle") or data.get("aiTitle") or data.get("summary")
                    if isinstance(value, str) and value:
                        titles[e.kind] = value
            elif e.kind == "hook:UserPromptSubmit" and not first_prompt:
                data = e.data()
                if isinstance(data, dict):
                    first_prompt = _first_line(str(data.get("prompt", "")))
    chosen = titles.get("custom-title") or titles.get("ai-title") or first_prompt or titles.get("summary") or ""
    return _shorten(chosen) or f"Session {segments[0].session_id[:8]}"


def _prompt_text(data: dict[str, Any]) -> str:
    payload = data.get("payload")
    content = payload.get("content") if isinstance(payload, dict) else (data.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return json.dumps(content) if content else ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith("<"):
            return line.strip()
    return text.strip()


def _shorten(text: str) -> str:
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def cli_session_frame(conn: Connection, target: str | None = None, *, limit: int = EXTRACT_LIMIT) -> pd.DataFrame:
    """The incremental frame for the CLI Sessions database: every segment of every pending session."""
    pending = pending_sessions(conn, target, limit=limit)
    rows: list[dict[str, Any]] = []
    for item in pending:
        rows.extend(session_records(conn, item["session_id"]))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["sync_mode"] = "incremental"
    frame.attrs["vanished"] = []
    frame.attrs["metadata"] = {"sessions": len(pending), "segments": len(rows)}
    frame.attrs["extracted"] = [(p["session_id"], p["changed_at"]) for p in pending]
    return frame


def mark_extracted(conn: Connection, frame: pd.DataFrame) -> None:
    """Remember what was handed over: the ``changed_at`` read (later events are never skipped) and each
    segment's body digest, unconfirmed until the sync engine's ledger shows it reached Notion."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE sessions SET extracted_at = %s WHERE session_id = %s",
            [(changed, sid) for sid, changed in frame.attrs.get("extracted", [])],
        )
        cur.executemany(
            "INSERT INTO session_handover (key, session_id, body_sha, status, confirmed, handed_at)"
            " VALUES (%s, %s, %s, %s, false, now()) ON CONFLICT (key) DO UPDATE SET body_sha = EXCLUDED.body_sha,"
            " status = EXCLUDED.status, confirmed = false, handed_at = now()",
            [
                (row["key"], row["Session ID"], _sha(row["body"] or ""), row["Status"])
                for row in frame.to_dict(orient="records")
            ],
        )
    conn.commit()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def extract_cli_sessions(ctx: Any) -> pd.DataFrame:
    """The ``cli_sessions`` asset's extract (an ``ExtractContext``): pending sessions as segment rows."""
    target = getattr(getattr(ctx, "sync", None), "target", None)
    frame = cli_session_frame(ctx.ledger, target)
    mark_extracted(ctx.ledger, frame)
    ctx.log.info(f"CLI sessions: {frame.attrs['metadata']['sessions']} sessions changed, {len(frame)} segments")
    return frame
