"""The bridged context read straight from the local journal: what ``ssot-hook`` prints on SessionStart
when the ledger is not configured or does not answer in time. Stdlib only (runs inside the hook).

It looks at the journal's tail (today's and the previous segment, at most ``TAIL_BYTES`` each) for the
session being continued: the same session id after a compaction or resume, else the most recent other
session in the same directory (``/clear``, fork).
"""

from __future__ import annotations

import json
import os
from typing import Any

TAIL_BYTES = 512 * 1024
LAST_PROMPTS = 5
MAX_FILES = 15


def _tail_payloads(directory: str) -> list[dict[str, Any]]:
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".jsonl"))[-2:]
    except OSError:
        return []
    payloads: list[dict[str, Any]] = []
    for name in names:
        path = os.path.join(directory, name)
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - TAIL_BYTES))
            chunk = fh.read()
        lines = chunk.split(b"\n")
        if size > TAIL_BYTES:
            lines = lines[1:]  # the first line is cut by the seek
        for line in lines:
            try:
                record = json.loads(line)
                payload = json.loads(record["stdin"])
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            if isinstance(payload, dict):
                payloads.append(payload)
    return payloads


def journal_context(event: dict[str, Any], directory: str) -> str:
    """Markdown for ``additionalContext``, or "" when the journal knows nothing useful."""
    payloads = _tail_payloads(directory)
    session_id = event.get("session_id")
    if event.get("source") in ("compact", "resume") and any(
        p.get("session_id") == session_id and p.get("hook_event_name") == "UserPromptSubmit" for p in payloads
    ):
        target = session_id
    else:
        others = [
            p.get("session_id")
            for p in payloads
            if p.get("session_id") != session_id and p.get("cwd") == event.get("cwd")
        ]
        target = others[-1] if others else None
    if not isinstance(target, str):
        return ""
    mine = [p for p in payloads if p.get("session_id") == target]
    prompts = [str(p.get("prompt", "")) for p in mine if p.get("hook_event_name") == "UserPromptSubmit"]
    answers = [str(p.get("last_assistant_message") or "") for p in mine if p.get("hook_event_name") == "Stop"]
    summaries = [str(p.get("compact_summary") or "") for p in mine if p.get("hook_event_name") == "PostCompact"]
    files: dict[str, None] = {}
    for p in mine:
        tool_input = p.get("tool_input")
        if p.get("hook_event_name") == "PostToolUse" and isinstance(tool_input, dict):
            path = tool_input.get("file_path") or tool_input.get("notebook_path")
            if isinstance(path, str):
                files.pop(path, None)
                files[path] = None
    if not prompts and not answers:
        return ""
    out = [f"# Context carried over by ssot (local journal) from session {target}", ""]
    if summaries and summaries[-1]:
        out += ["## Summary at the last compaction", summaries[-1], ""]
    out += ["## Last requests", *[f"- {p}" for p in prompts[-LAST_PROMPTS:]], ""]
    if answers and answers[-1]:
        out += ["## Last answer", answers[-1], ""]
    if files:
        out += ["## Files touched", *[f"- {f}" for f in list(files)[-MAX_FILES:]], ""]
    return "\n".join(out)
