"""Which assistant session a task command runs in: ``SSOT_SESSION_ID``, else what ``ssot-hook`` journalled.

Claude Code runs the hook (PreToolUse) before it runs a tool, and the hook appends the event, with its
``session_id``, to the local journal with fsync. So when ``ssot task …`` runs from the Bash tool, or a
``task_*`` tool of ``ssot mcp`` is called, the journal's newest matching PreToolUse event names the
session. Stdlib only, and bounded: it reads at most the journal's last 256 KB.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime

from ssot_pipelines.sessions.journal import journal_dir

TAIL_BYTES = 256 * 1024
RECENT_SECONDS = 120.0  # a PreToolUse older than this is not the one that started this command


def current_session(tool_hint: str | None = None) -> str | None:
    """``SSOT_SESSION_ID``, else the session of the newest recent PreToolUse that ran ``ssot`` (or the MCP
    tool ``tool_hint``) from this directory, else None."""
    explicit = os.environ.get("SSOT_SESSION_ID")
    if explicit:
        return explicit
    try:
        return _from_journal(journal_dir(), tool_hint, os.getcwd())
    except OSError:
        return None


def _from_journal(directory: str, tool_hint: str | None, cwd: str) -> str | None:
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".jsonl"))[-1:]
    except OSError:
        return None
    if not names:
        return None
    path = os.path.join(directory, names[0])
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - TAIL_BYTES))
        lines = fh.read().split(b"\n")
    now = time.time()
    for line in reversed(lines):
        try:
            record = json.loads(line)
            payload = json.loads(record["stdin"])
            received = datetime.fromisoformat(record["received_at"].replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            continue
        if now - received > RECENT_SECONDS:
            return None  # older lines are older still
        if not isinstance(payload, dict) or payload.get("hook_event_name") != "PreToolUse":
            continue
        if _matches(payload, tool_hint, cwd) and isinstance(payload.get("session_id"), str):
            return str(payload["session_id"])
    return None


def _matches(payload: dict[str, object], tool_hint: str | None, cwd: str) -> bool:
    tool = str(payload.get("tool_name") or "")
    tool_input = payload.get("tool_input")
    if tool_hint and tool.startswith("mcp__") and tool.endswith(tool_hint):
        return True
    if tool == "Bash" and isinstance(tool_input, dict):
        command = str(tool_input.get("command") or "")
        return "ssot" in command and "task" in command and payload.get("cwd") in (cwd, None)
    return False
