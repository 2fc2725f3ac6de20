"""The normalized session event: one row of ``session_events``, whatever it came from.

Every event keeps ``raw``, the exact original JSON text; the other fields are extracted for ordering,
merging and linking. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CLAUDE = "claude-code"
CODEX = "codex"
TOOLS = (CLAUDE, CODEX)

UNKNOWN_SESSION = "unknown"

# Kinds a reader sees as the conversation itself (the rest are markers and side records).
CONVERSATION_KINDS = frozenset(
    {
        "prompt",
        "assistant",
        "thinking",
        "tool_use",
        "tool_result",
        "hook:UserPromptSubmit",
        "hook:PreToolUse",
        "hook:PostToolUse",
        "hook:Stop",
    }
)


@dataclass(frozen=True)
class SessionEvent:
    event_id: str
    session_id: str
    tool: str
    source: str  # hook | transcript | rollout
    kind: str
    ts: datetime
    raw: str
    origin: str
    message_uuid: str | None = None
    parent_uuid: str | None = None
    logical_parent_uuid: str | None = None
    tool_use_id: str | None = None
    prompt_id: str | None = None
    is_sidechain: bool = False
    agent_id: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    version_of: str | None = None  # set by the ledger on a different content seen under a stored id
    seq: int = 0  # assigned by the ledger

    def data(self) -> Any:
        """The parsed original JSON (None when it never was JSON)."""
        try:
            return json.loads(self.raw)
        except (ValueError, RecursionError):  # hostile nesting is kept raw, never a crash
            return None


def parse_time(value: Any, fallback: datetime) -> datetime:
    """An ISO-8601 string or epoch (s or ms) as an aware datetime; ``fallback`` when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return fallback
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback


def load_line(line: str) -> Any:
    """``json.loads``, with JSON nested too deeply for Python's recursion limit as a ValueError (malformed)."""
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


def line_digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def hook_event(record: dict[str, Any], origin: str) -> SessionEvent:
    """The event for one journal record (a hook input); garbage input is kept raw as ``hook:unparseable``."""
    received = parse_time(record.get("received_at"), datetime.now(UTC))
    tool = str(record.get("tool") or CLAUDE)
    if "stdin" in record:
        raw = str(record["stdin"])
    else:
        # Input that was not UTF-8: its bytes are read with surrogateescape, so a JSON event is still read
        # as one (and quarantined with its exact bytes, since PostgreSQL text cannot hold them).
        import base64

        raw = base64.b64decode(str(record.get("stdin_b64", ""))).decode("utf-8", "surrogateescape")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) and "stdin" not in record:
        # Garbage that is not UTF-8 either: kept as its base64, which the ledger can hold.
        raw = json.dumps({"stdin_b64": record.get("stdin_b64", "")})
    if not isinstance(data, dict):
        return SessionEvent(str(record["id"]), UNKNOWN_SESSION, tool, "hook", "hook:unparseable", received, raw, origin)
    name = text_or_none(data.get("hook_event_name")) or "unknown"
    return SessionEvent(
        event_id=str(record["id"]),
        session_id=text_or_none(data.get("session_id")) or UNKNOWN_SESSION,
        tool=tool,
        source="hook",
        kind=f"hook:{name}",
        ts=received,
        raw=raw,
        origin=origin,
        tool_use_id=text_or_none(data.get("tool_use_id")),
        prompt_id=text_or_none(data.get("prompt_id")),
        is_sidechain=bool(data.get("agent_id")),
        agent_id=text_or_none(data.get("agent_id")),
        cwd=text_or_none(data.get("cwd")),
    )
