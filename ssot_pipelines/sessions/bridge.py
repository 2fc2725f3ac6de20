"""Session bridging: the links between segments and sessions, and the context pack a next session needs.

Evidence for a link, strongest first: a compaction inside one session id; history of another session
copied into this session's transcript (a resume in Claude Code 1.0.x); a trusted ``summary.leafUuid``
(its uuid is in the same file); ``forkedFrom`` / ``forked_from_id`` / a Codex subagent's parent thread;
and last, the hook's SessionStart ``source`` (clear, resume, fork) with the same cwd and the most recent
earlier session.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ssot_pipelines.sessions import store
from ssot_pipelines.sessions.events import CONVERSATION_KINDS, SessionEvent
from ssot_pipelines.sessions.segments import Segment, parse_key, segment_key, split_segments
from ssot_pipelines.sessions.store import Connection
from ssot_pipelines.sessions.transcript_text import coverage, render_event

HOOK_LINK_WINDOW = timedelta(hours=6)
_SOURCE_KIND = {"clear": "cleared", "resume": "resumed", "fork": "forked"}


def segments_of(conn: Connection, session_id: str) -> list[Segment]:
    return split_segments(session_id, store.session_events(conn, session_id))


def derive_links(conn: Connection, session_id: str, segments: list[Segment] | None = None) -> int:
    """Find and store the links into this session (and between its segments); returns how many were new."""
    segments = segments if segments is not None else segments_of(conn, session_id)
    links: list[tuple[str, str, str, str]] = []
    for seg in segments[1:]:
        links.append(
            (
                segment_key(session_id, seg.number - 1),
                seg.key,
                seg.opened_by or "compacted",
                f"{seg.opened_by or 'compaction'} inside session {session_id}",
            )
        )
    events = [e for seg in segments for e in seg.events]
    if events:
        first = segments[0].key
        start = events[0].ts
        for origin_session, kind, evidence in _cross_session_evidence(conn, session_id, events):
            if origin_session == session_id:
                continue
            links.append((_segment_at(conn, origin_session, start), first, kind, evidence))
    added = store.add_links(conn, links)
    conn.commit()
    return added


def _cross_session_evidence(
    conn: Connection, session_id: str, events: list[SessionEvent]
) -> Iterator[tuple[str, str, str]]:
    for row in store.link_evidence(conn, session_id):
        yield row["from_session"], row["kind"], row["evidence"]
    found_hook_kinds: set[str] = set()
    seen_conversation = False
    for e in events:
        if e.kind in CONVERSATION_KINDS:
            seen_conversation = True
        data = e.data()
        if not isinstance(data, dict):
            continue
        forked = data.get("forkedFrom")
        if isinstance(forked, dict) and isinstance(forked.get("sessionId"), str):
            yield forked["sessionId"], "forked", "forkedFrom in the transcript"
        if e.kind == "session_meta":
            payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
            assert isinstance(payload, dict)
            if isinstance(payload.get("forked_from_id"), str):
                yield payload["forked_from_id"], "forked", "session_meta.forked_from_id"
            parent = _dig(payload, "source", "subagent", "thread_spawn", "parent_thread_id")
            if isinstance(parent, str):
                yield parent, "forked", "Codex subagent spawned by the parent thread"
        # Only a start that opens the session points elsewhere; a resume later in the same id is a segment.
        if e.kind == "hook:SessionStart" and data.get("source") in _SOURCE_KIND and not seen_conversation:
            kind = _SOURCE_KIND[str(data["source"])]
            if kind in found_hook_kinds:
                continue
            found_hook_kinds.add(kind)
            previous = _previous_in_cwd(conn, session_id, e)
            if previous:
                yield (
                    previous,
                    kind,
                    f"SessionStart(source={data['source']}) in the same directory, "
                    "after the most recent earlier session",
                )


def _dig(data: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _previous_in_cwd(conn: Connection, session_id: str, start: SessionEvent) -> str | None:
    if not start.cwd:
        return None
    row = conn.execute(
        "SELECT session_id FROM sessions WHERE cwd = %s AND session_id <> %s AND first_event_at < %s"
        " AND last_event_at >= %s ORDER BY last_event_at DESC LIMIT 1",
        (start.cwd, session_id, start.ts, start.ts - HOOK_LINK_WINDOW),
    ).fetchone()
    return str(row["session_id"]) if row else None


def _segment_at(conn: Connection, session_id: str, when: datetime) -> str:
    """The key of the segment of ``session_id`` that was current at ``when``."""
    segments = segments_of(conn, session_id)
    chosen = segments[0]
    for seg in segments:
        if seg.events and seg.events[0].ts <= when:
            chosen = seg
    return chosen.key


# -- the context pack -----------------------------------------------------------------------------


@dataclass
class ContextPack:
    key: str
    session_id: str
    tool: str | None
    cwd: str | None
    branch: str | None
    started_at: str | None
    last_event_at: str | None
    status: str
    doing: str
    last_messages: list[str] = field(default_factory=list)
    files_touched: list[str] = field(default_factory=list)
    previous: list[dict[str, str]] = field(default_factory=list)
    next: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def as_markdown(self) -> str:
        lines = [f"# Context of session {self.key}", ""]
        lines.append(f"- Tool: {self.tool or '?'} · Directory: {self.cwd or '?'} · Branch: {self.branch or '?'}")
        lines.append(f"- From {self.started_at or '?'} to {self.last_event_at or '?'} · Status: {self.status}")
        for link in self.previous:
            lines.append(f"- Previous: {link['key']} ({link['kind']}; {link['evidence']})")
        for link in self.next:
            lines.append(f"- Next: {link['key']} ({link['kind']}; {link['evidence']})")
        lines += ["", "## What it was doing", self.doing or "(nothing recorded yet)"]
        if self.files_touched:
            lines += ["", "## Files touched", *[f"- {f}" for f in self.files_touched]]
        lines += ["", "## Last messages"]
        for message in self.last_messages:
            lines += ["", message]
        return "\n".join(lines) + "\n"


def resolve_key(conn: Connection, key_or_session: str) -> tuple[str, int]:
    """(session_id, segment number) for a key ``sid#n`` or a bare session id (its latest segment)."""
    session_id, number = parse_key(key_or_session)
    if number is None:
        number = len(segments_of(conn, session_id))
    return session_id, number


def context_pack(conn: Connection, key_or_session: str, *, last: int = 12) -> ContextPack | None:
    """The context pack of one segment (a bare session id means its latest segment); None if unknown."""
    session_id, number = resolve_key(conn, key_or_session)
    row = store.session_row(conn, session_id)
    if row is None:
        return None
    segments = segments_of(conn, session_id)
    if number < 1 or number > len(segments):
        return None
    seg = segments[number - 1]
    events = seg.events
    cov = coverage([e for s in segments for e in s.events])
    conversation = [e for e in events if e.kind in CONVERSATION_KINDS or e.kind == "compact_summary"]
    rendered = [t for t in (render_event(e, cov) for e in conversation[-4 * last :]) if t]
    links = store.links_of(conn, [seg.key])
    conn.commit()
    return ContextPack(
        key=seg.key,
        session_id=session_id,
        tool=row["tool"],
        cwd=row["cwd"],
        branch=row["git_branch"],
        started_at=events[0].ts.isoformat() if events else None,
        last_event_at=events[-1].ts.isoformat() if events else None,
        status=segment_status(
            seg, is_last=number == len(segments), continued_elsewhere=any(lk["from_key"] == seg.key for lk in links)
        ),
        doing=_doing(events, cov),
        last_messages=rendered[-last:],
        files_touched=_files_touched(events),
        previous=[
            {"key": lk["from_key"], "kind": lk["kind"], "evidence": lk["evidence"]}
            for lk in links
            if lk["to_key"] == seg.key
        ],
        next=[
            {"key": lk["to_key"], "kind": lk["kind"], "evidence": lk["evidence"]}
            for lk in links
            if lk["from_key"] == seg.key
        ],
    )


IDLE_AFTER = timedelta(hours=24)  # the same horizon as the live Redis layer


def segment_status(
    seg: Segment, *, is_last: bool, continued_elsewhere: bool = False, now: datetime | None = None
) -> str:
    """``compacted`` (a later segment exists), ``ended`` (SessionEnd seen, continued in another session by
    resume, /clear or fork, or idle for 24 h) or ``active``."""
    if not is_last:
        return "compacted"
    if continued_elsewhere or any(e.kind == "hook:SessionEnd" for e in seg.events):
        return "ended"
    if seg.events and (now or datetime.now(UTC)) - seg.events[-1].ts > IDLE_AFTER:
        return "ended"
    return "active"


def _doing(events: list[SessionEvent], cov: Any) -> str:
    """The latest compaction summary, else the first and latest user requests."""
    for e in reversed(events):
        if e.kind == "compact_summary" or (e.kind == "compact_boundary" and e.tool == "codex"):
            text = render_event(e, cov)
            if text:
                return text
    prompts = [
        t
        for t in (
            render_event(e, cov) for e in events if e.kind in ("prompt", "hook:UserPromptSubmit") and not e.is_sidechain
        )
        if t
    ]
    if not prompts:
        return ""
    return prompts[0] if len(prompts) == 1 else f"{prompts[0]}\n\n…\n\n{prompts[-1]}"


def _files_touched(events: list[SessionEvent]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events:
        if e.kind not in ("tool_use", "hook:PostToolUse"):
            continue
        data = e.data()
        for candidate in _file_paths(data):
            seen.setdefault(candidate, None)
    return list(seen)[:50]


def _file_paths(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("file_path", "notebook_path", "filePath") and isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                yield from _file_paths(value)
    elif isinstance(data, list):
        for item in data:
            yield from _file_paths(item)


def hook_context(event: dict[str, Any], *, budget_seconds: float = 2.0) -> str:
    """The bridged context printed by ``ssot-hook`` on SessionStart(compact|resume|clear|fork).

    Reads the ledger (``POSTGRES_URL``) with a short timeout; returns "" when it is not configured or slow.
    """
    import os

    import psycopg
    from psycopg.rows import dict_row

    url = os.environ.get("SSOT_HOOK_POSTGRES_URL") or os.environ.get("POSTGRES_URL")
    session_id = event.get("session_id")
    if not url or not isinstance(session_id, str):
        return ""
    timeout_ms = int(budget_seconds * 1000)
    with psycopg.connect(
        url,
        connect_timeout=max(1, int(budget_seconds)),
        row_factory=dict_row,
        options=f"-c statement_timeout={timeout_ms}",
    ) as conn:
        conn.execute("SET search_path TO ssot, public")
        source = event.get("source")
        target = session_id
        if (source != "compact" and source != "resume") or store.session_row(conn, session_id) is None:
            cwd = event.get("cwd")
            row = conn.execute(
                "SELECT session_id FROM sessions WHERE cwd = %s AND session_id <> %s"
                " ORDER BY last_event_at DESC LIMIT 1",
                (cwd, session_id),
            ).fetchone()
            if row is None:
                return ""
            target = str(row["session_id"])
        pack = context_pack(conn, target, last=8)
        from ssot_pipelines.slack.bridge import session_start_note

        note = session_start_note(conn, target) if pack is not None else ""
    if pack is None:
        return ""
    return (
        "Context carried over from the previous session segment (ssot):\n\n"
        + pack.as_markdown()
        + ("\n" + note if note else "")
    )
