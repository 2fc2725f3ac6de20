"""Codex CLI rollout lines (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``) as session events. Stdlib only."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ssot_pipelines.sessions.events import CODEX, SessionEvent, line_digest, load_line, parse_time, text_or_none

ROLLOUT_TYPES = frozenset({"session_meta", "response_item", "compacted", "turn_context", "event_msg"})
_UUID_AT_END = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.I)


SCAN_LINES = 200  # session_meta is the first line; a few more are read in case something precedes it


def file_session_id(path: Path) -> str:
    """The thread id in ``rollout-<time>-<uuid>.jsonl`` (the whole stem when there is none)."""
    match = _UUID_AT_END.search(path.stem)
    return match.group(1) if match else path.stem


def session_id_of(path: Path) -> str:
    """The rollout's session: the ``id`` of its ``session_meta`` (or of a legacy first line without an
    envelope). Only a rollout with neither falls back to the id in its file name."""
    with path.open("rb") as fh:
        for _, line in zip(range(SCAN_LINES), fh, strict=False):
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(data, dict):
                continue
            payload = data.get("payload")
            if data.get("type") == "session_meta" and isinstance(payload, dict):
                found = text_or_none(payload.get("id"))
                if found:
                    return found
            elif "payload" not in data and "type" not in data and isinstance(data.get("id"), str) and data["id"]:
                return str(data["id"])  # a rollout from before the envelope: {"id", "timestamp", "instructions"}
    return file_session_id(path)


def is_rollout_line(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") in ROLLOUT_TYPES and "payload" in data


def parse_line(line: str, origin: str, file_session: str, fallback_ts: datetime) -> SessionEvent:
    """One rollout line as an event; ValueError when it is not a JSON object."""
    data = load_line(line)
    if not isinstance(data, dict):
        raise ValueError(f"a rollout line must be a JSON object, not {type(data).__name__}")
    line_type, payload = envelope(data)
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


def envelope(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(line type, payload) of a rollout line; lines written before the envelope existed are read as the
    item they are (``{"type": "message", "role": ...}``, ``{"id", "timestamp", "instructions"}``)."""
    if "payload" in data or data.get("type") in ROLLOUT_TYPES:
        payload = data.get("payload")
        return text_or_none(data.get("type")) or "unknown", payload if isinstance(payload, dict) else {}
    if "record_type" in data:
        return f"record:{data.get('record_type')}", data
    if "type" in data or "role" in data:
        return "response_item", data
    if "id" in data and ("instructions" in data or "timestamp" in data):
        return "session_meta", data
    return "unknown", data


def classify(line_type: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    if line_type == "compacted":
        return "compact_boundary", None
    if line_type != "response_item":
        if line_type == "event_msg":
            return f"event:{text_or_none(payload.get('type')) or 'unknown'}", None
        return line_type, None
    # An item without a type that has a role is a message (older rollouts wrote them so).
    item = text_or_none(payload.get("type")) or ("message" if "role" in payload else "unknown")
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
