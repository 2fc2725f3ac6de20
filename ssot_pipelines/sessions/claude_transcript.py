"""Claude Code transcript lines (``~/.claude/projects/<cwd>/<session>.jsonl``) as session events.

Parsed permissively: the format is undocumented and drifts, so a line of an unknown type is kept raw
with its type as the kind. Stdlib only.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ssot_pipelines.sessions.events import CLAUDE, SessionEvent, line_digest, load_line, parse_time, text_or_none

SCAN_LINES = 1000  # how far the first session id of a file is looked for


def file_session_id(path: Path) -> str:
    """The session a transcript file's name suggests: its stem, or for ``<sid>/subagents/agent-*.jsonl``
    the ``<sid>``. Only a suggestion: see ``names_its_session``."""
    if path.parent.name == "subagents":
        return path.parent.parent.name
    return path.stem


def names_its_session(conn: Any, path: Path, stem: str, origin: str) -> bool:
    """Whether the file's content confirms that ``stem`` is a session id: a line of it says ``sessionId``.

    Files renamed, exported or written by other tools have names that are not session ids; taking the
    name for one created sessions out of side records and "resumed" links between unrelated sessions.
    """
    if not stem:
        return False
    row = conn.execute(
        "SELECT 1 FROM session_events WHERE session_id = %s AND origin = %s LIMIT 1", (stem, origin)
    ).fetchone()
    conn.commit()
    if row is not None:
        return True
    # Read, not mmap'ed: a transcript rewritten (shortened) meanwhile must not kill the worker with SIGBUS.
    needle = json.dumps(stem, ensure_ascii=False).encode("utf-8", "surrogatepass")
    with path.open("rb") as fh:
        for line in fh:
            if needle not in line:
                continue
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(data, dict) and data.get("sessionId") == stem:
                return True
    return False


def first_session_id(path: Path) -> str | None:
    """The first ``sessionId`` in the file (within its first ``SCAN_LINES`` lines)."""
    with path.open("rb") as fh:
        for _, line in zip(range(SCAN_LINES), fh, strict=False):
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(data, dict) and isinstance(data.get("sessionId"), str) and data["sessionId"]:
                return str(data["sessionId"])
    return None


def parse_line(line: str, origin: str, file_session: str, fallback_ts: datetime) -> SessionEvent:
    """One transcript line as an event; ValueError when it is not a JSON object."""
    data = load_line(line)
    if not isinstance(data, dict):
        raise ValueError(f"a transcript line must be a JSON object, not {type(data).__name__}")
    line_type = text_or_none(data.get("type")) or "unknown"
    session_id = text_or_none(data.get("sessionId")) or file_session
    uuid = text_or_none(data.get("uuid"))
    kind, tool_use_id = classify(data, line_type)
    event_id = f"cc:{session_id}:{uuid}" if uuid else f"cc:{session_id}:{line_type}:{line_digest(line)}"
    return SessionEvent(
        event_id=event_id,
        session_id=session_id,
        tool=CLAUDE,
        source="transcript",
        kind=kind,
        ts=parse_time(data.get("timestamp"), fallback_ts),
        raw=line,
        origin=origin,
        message_uuid=uuid,
        parent_uuid=text_or_none(data.get("parentUuid")),
        logical_parent_uuid=text_or_none(data.get("logicalParentUuid")) or text_or_none(data.get("leafUuid")),
        tool_use_id=tool_use_id,
        prompt_id=text_or_none(data.get("promptId")),
        is_sidechain=bool(data.get("isSidechain")),
        agent_id=text_or_none(data.get("agentId")),
        cwd=text_or_none(data.get("cwd")),
        git_branch=text_or_none(data.get("gitBranch")),
    )


def classify(data: dict[str, Any], line_type: str) -> tuple[str, str | None]:
    """(kind, tool_use_id) of a line; the four "type" levels are line, content block, system subtype."""
    if line_type == "system":
        subtype = text_or_none(data.get("subtype")) or "message"
        return ("compact_boundary" if subtype == "compact_boundary" else f"system:{subtype}"), None
    if line_type not in ("user", "assistant"):
        return line_type, None
    blocks = content_blocks(data)
    if line_type == "user":
        if data.get("isCompactSummary"):
            return "compact_summary", None
        for block in blocks:
            if block.get("type") == "tool_result":
                return "tool_result", text_or_none(block.get("tool_use_id"))
        return ("meta" if data.get("isMeta") else "prompt"), None
    for block in blocks:
        if block.get("type") == "tool_use":
            return "tool_use", text_or_none(block.get("id"))
    if blocks and all(b.get("type") in ("thinking", "redacted_thinking") for b in blocks):
        return "thinking", None
    return "assistant", None


def content_blocks(data: dict[str, Any]) -> list[dict[str, Any]]:
    """``message.content`` as a list of blocks (a plain string becomes one text block)."""
    message = data.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []
