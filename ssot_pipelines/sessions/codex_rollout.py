"""Codex CLI rollout lines (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``) as session events. Stdlib only."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ssot_pipelines.sessions.events import CODEX, SessionEvent, line_digest, parse_time, text_or_none

ROLLOUT_TYPES = frozenset({"session_meta", "response_item", "compacted", "turn_context", "event_msg"})
_UUID_AT_END = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.I)


def file_session_id(path: Path) -> str:
    """The thread id in ``rollout-<time>-<uuid>.jsonl`` (the whole stem when there is none)."""
    match = _UUID_AT_END.search(path.stem)
    return match.group(1) if match else path.stem


def is_rollout_line(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") in ROLLOUT_TYPES and "payload" in data


def parse_line(line: str, origin: str, file_session: str, fallback_ts: datetime) -> SessionEvent:
    """One rollout line as an event; ValueError when it is not a JSON object."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError(f"a rollout line must be a JSON object, not {type(data).__name__}")
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    assert isinstance(payload, dict)
    line_type = text_or_none(data.get("type")) or "unknown"
    kind, call_id = classify(line_type, payload)
    cwd = text_or_none(payload.get("cwd")) if line_type in ("session_meta", "turn_context") else None
    git = payload.get("git") if isinstance(payload.get("git"), dict) else {}
    assert isinstance(git, dict)
    return SessionEvent(
        event_id=f"codex:{file_session}:{line_digest(line)}",
        session_id=file_session,
        tool=CODEX,
        source="rollout",
        kind=kind,
        ts=parse_time(data.get("timestamp"), fallback_ts),
        raw=line,
        origin=origin,
        tool_use_id=call_id,
        cwd=cwd,
        git_branch=text_or_none(git.get("branch")),
    )


def classify(line_type: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    if line_type == "compacted":
        return "compact_boundary", None
    if line_type != "response_item":
        if line_type == "event_msg":
            return f"event:{text_or_none(payload.get('type')) or 'unknown'}", None
        return line_type, None
    item = text_or_none(payload.get("type")) or "unknown"
    call_id = text_or_none(payload.get("call_id"))
    if item == "message":
        role = payload.get("role")
        return {"user": "prompt", "assistant": "assistant"}.get(str(role), "system:message"), None
    if item == "reasoning":
        return "thinking", None
    if item.endswith("_output"):
        return "tool_result", call_id
    if item.endswith("_call"):
        return "tool_use", call_id or text_or_none(payload.get("id"))
    return item, call_id
