"""The readable transcript of a segment: one paragraph per message, tool call or tool result, in order.

Text is never cut: a 10 MB tool output is one 10 MB paragraph. Hook events that repeat what the
transcript already holds (same tool_use_id, same prompt) are not shown twice; hook events the transcript
does not have are shown, so a lagging or deleted transcript loses nothing; a hook event newer than the
transcript waits up to 10 minutes for it, so the body only grows at its end. Side records
(snapshots, titles, unknown line types) stay in the ledger, raw, and are not shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ssot_pipelines.sessions.claude_transcript import content_blocks
from ssot_pipelines.sessions.codex_rollout import envelope
from ssot_pipelines.sessions.events import CODEX, SessionEvent

# How long a hook event may wait for the transcript to show it before it is shown on its own.
TRANSCRIPT_GRACE = timedelta(minutes=10)


@dataclass
class Coverage:
    """What the transcripts of a session already show, so hook events only fill the gaps."""

    tool_use_ids: set[str] = field(default_factory=set)
    prompts: set[str] = field(default_factory=set)
    prompt_ids: set[str] = field(default_factory=set)
    assistant_texts: set[str] = field(default_factory=set)
    reasoning_texts: set[str] = field(default_factory=set)
    has_compact_summary: bool = False
    transcript_until: datetime | None = None  # the newest transcript line imported so far
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def pending(self, e: SessionEvent) -> bool:
        """A hook event newer than the transcript, which will most likely show it soon: held back, so the
        page body only ever grows at its end (Notion appends instead of rewriting the whole body)."""
        return self.transcript_until is not None and e.ts > self.transcript_until and self.now - e.ts < TRANSCRIPT_GRACE


def coverage(events: Iterable[SessionEvent], now: datetime | None = None) -> Coverage:
    cov = Coverage(now=now or datetime.now(UTC))
    for e in events:
        if e.source == "hook":
            continue
        if cov.transcript_until is None or e.ts > cov.transcript_until:
            cov.transcript_until = e.ts
        if e.tool_use_id:
            cov.tool_use_ids.add(e.tool_use_id)
        if e.prompt_id:
            cov.prompt_ids.add(e.prompt_id)
        if e.kind == "prompt":
            cov.prompts.update(_message_pieces(e))
        elif e.kind == "assistant":
            cov.assistant_texts.update(_message_pieces(e))
        elif e.kind == "thinking" and e.tool == CODEX:
            cov.reasoning_texts.update(_message_pieces(e, "summary"))
        elif e.kind == "compact_summary":
            cov.has_compact_summary = True
    return cov


def _message_pieces(e: SessionEvent, key: str = "content") -> set[str]:
    """The whole text of a message and, for Codex, each of its parts (an event_msg repeats one part)."""
    pieces = {_message_text(e).strip()} if key == "content" else set()
    if e.tool == CODEX:
        data = e.data()
        value = envelope(data)[1].get(key) if isinstance(data, dict) else None
        if isinstance(value, list):
            pieces.update(str(p.get("text", "")).strip() for p in value if isinstance(p, dict))
    return pieces


def paragraphs(events: Sequence[SessionEvent], cov: Coverage | None = None) -> list[str]:
    """The segment's transcript as paragraphs (the page body is them joined by blank lines).

    A version of an event (same id, other content) is shown unless it reads exactly like a version
    already shown (the content differed only in fields that are not displayed).
    """
    cov = cov or coverage(events)
    out: list[str] = []
    shown: dict[str, set[str]] = {}
    for e in events:
        text = render_event(e, cov)
        if text is None:
            continue
        seen = shown.setdefault(e.version_of or e.event_id, set())
        if text in seen:
            continue
        seen.add(text)
        out.append(text)
    return out


def body(paragraph_list: Sequence[str]) -> str:
    return "\n\n".join(paragraph_list)


def _when(e: SessionEvent) -> str:
    return e.ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _who(e: SessionEvent, speaker: str) -> str:
    """The entry's heading: ``**Speaker** · time`` (subagent turns name their agent)."""
    if e.is_sidechain:
        speaker = f"Subagent {e.agent_id or ''}".rstrip() + f" · {speaker}"
    return f"**{speaker}** · {_when(e)}"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif isinstance(item, dict) and item.get("type") == "image":
                parts.append(_image_note(item))
            else:
                parts.append(json.dumps(item, ensure_ascii=False))
        return "\n".join(parts)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, indent=1)


def _image_note(block: dict[str, Any]) -> str:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    assert isinstance(source, dict)
    size = len(str(source.get("data", "")))
    return f"[image {source.get('media_type', '')}, {size} base64 characters, kept raw in the ledger]"


def _message_text(e: SessionEvent) -> str:
    data = e.data()
    if not isinstance(data, dict):
        return ""
    if e.tool == CODEX:
        return _as_text(envelope(data)[1].get("content"))
    parts = []
    for block in content_blocks(data):
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in ("thinking", "redacted_thinking"):
            parts.append(str(block.get("thinking", "")))
        elif kind == "image":
            parts.append(_image_note(block))
    return "\n".join(parts)


def render_event(e: SessionEvent, cov: Coverage) -> str | None:
    """One event as a paragraph, or None when it is not part of the readable transcript.

    The paragraph is always storable text: a NUL or a lone surrogate the event holds (escaped in its JSON,
    kept exactly in the ledger) is shown as U+FFFD.
    """
    try:
        text = _render(e, cov)
    except RecursionError:
        return f"[{_when(e)}: an entry nested too deeply to show, {len(e.raw)} characters kept raw in the ledger]"
    return _displayable(text) if text is not None else None


def _displayable(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


def _render(e: SessionEvent, cov: Coverage) -> str | None:
    data = e.data()
    if e.kind == "malformed" or e.kind.endswith("unparseable") or e.kind == "journal:malformed":
        return f"[{_when(e)}: an unreadable line of {len(e.raw)} characters, kept raw in the ledger]"
    if not isinstance(data, dict):
        return None
    if e.source == "hook":
        return _render_hook(e, data, cov)
    if e.tool == CODEX:
        return _render_codex(e, data, cov)
    return _render_claude(e, data)


def _render_claude(e: SessionEvent, data: dict[str, Any]) -> str | None:
    if e.kind == "prompt":
        return f"{_who(e, 'User' if not e.is_sidechain else 'Task')}\n{_message_text(e)}"
    if e.kind == "meta":
        return f"{_who(e, 'User (meta)')}\n{_message_text(e)}"
    if e.kind == "assistant":
        return f"{_who(e, 'Assistant')}\n{_message_text(e)}"
    if e.kind == "thinking":
        return f"{_who(e, 'Assistant (thinking)')}\n{_message_text(e)}"
    if e.kind == "compact_summary":
        return f"**Compaction summary** · {_when(e)}\n{_message_text(e)}"
    if e.kind == "compact_boundary":
        meta = data.get("compactMetadata") if isinstance(data.get("compactMetadata"), dict) else {}
        assert isinstance(meta, dict)
        return (
            f"— Conversation compacted · {_when(e)} (trigger: {meta.get('trigger', '?')}, "
            f"{meta.get('preTokens', '?')} tokens before)"
        )
    if e.kind in ("tool_use", "tool_result"):
        parts = []
        for block in content_blocks(data):
            kind = block.get("type")
            if kind == "tool_use":
                parts.append(
                    f"{_who(e, 'Tool call')} {block.get('name', '')} ({block.get('id', '')})\n"
                    f"{json.dumps(block.get('input'), ensure_ascii=False, indent=1)}"
                )
            elif kind == "tool_result":
                error = " (error)" if block.get("is_error") else ""
                parts.append(
                    f"{_who(e, 'Tool result')}{error} ({block.get('tool_use_id', '')})\n"
                    f"{_as_text(block.get('content'))}"
                )
            elif kind == "text":
                parts.append(f"{_who(e, 'Assistant' if e.kind == 'tool_use' else 'User')}\n{block.get('text', '')}")
        return "\n".join(parts)
    if e.kind.startswith("system:"):
        content = data.get("content")
        if not content:
            return None
        return f"{_who(e, 'System (' + e.kind[7:] + ')')}\n{_as_text(content)}"
    return None


# Codex records that repeat what another record shows, or that no person reads (token counts, deltas).
_CODEX_QUIET = frozenset(
    {
        "session_meta",
        "turn_context",
        "event:token_count",
        "event:task_started",
        "event:task_complete",
        "event:context_compacted",
        "event:exec_command_begin",
        "event:exec_command_end",
        "event:exec_command_output_delta",
        "event:patch_apply_begin",
        "event:patch_apply_end",
        "event:mcp_tool_call_begin",
        "event:mcp_tool_call_end",
        "event:web_search_begin",
        "event:web_search_end",
        "event:agent_message_delta",
        "event:agent_reasoning_delta",
        "event:agent_reasoning_raw_content",
        "event:agent_reasoning_raw_content_delta",
        "event:agent_reasoning_section_break",
        "event:turn_diff",
        "event:get_history_entry_response",
        "event:session_configured",
        "event:mcp_list_tools_response",
        "event:list_custom_prompts_response",
        "event:shutdown_complete",
        "event:background_event",
        "record:state",
        "ghost_snapshot",
        "compaction",
    }
)


def _render_codex(e: SessionEvent, data: dict[str, Any], cov: Coverage) -> str | None:
    """A rollout line as a paragraph: every message a person wrote or saw, including the ``event_msg``
    copies the response items do not have (a typed message, an error) and records of unknown types."""
    payload = envelope(data)[1]
    if e.kind in _CODEX_QUIET:
        return None
    if e.kind == "prompt":
        return f"**User** · {_when(e)}\n{_message_text(e)}"
    if e.kind == "assistant":
        return f"**Assistant** · {_when(e)}\n{_message_text(e)}"
    if e.kind == "system:message":
        return None  # developer and system instructions: nobody wrote or saw them in the conversation
    if e.kind == "thinking":
        text = _as_text(payload.get("summary"))
        return f"**Assistant (reasoning)** · {_when(e)}\n{text}" if text else None
    if e.kind == "tool_use":
        args = payload.get("arguments", payload.get("input", payload.get("action")))
        return (
            f"**Tool call** · {_when(e)} {payload.get('name', payload.get('type', ''))} ({e.tool_use_id or ''})\n"
            f"{_as_text(args)}"
        )
    if e.kind == "tool_result":
        return f"**Tool result** · {_when(e)} ({e.tool_use_id or ''})\n{_as_text(payload.get('output'))}"
    if e.kind == "compact_boundary":
        return f"— Conversation compacted · {_when(e)}\n**Compaction summary**\n{_as_text(payload.get('message'))}"
    if e.kind in ("event:user_message", "event:agent_message", "event:agent_reasoning"):
        text = str(payload.get("message", payload.get("text", "")) or "")
        covered = {
            "event:user_message": cov.prompts,
            "event:agent_message": cov.assistant_texts,
            "event:agent_reasoning": cov.reasoning_texts,
        }[e.kind]
        if not text.strip() or text.strip() in covered:
            return None
        who = {
            "event:user_message": "User",
            "event:agent_message": "Assistant",
            "event:agent_reasoning": "Assistant (reasoning)",
        }[e.kind]
        return f"**{who}** · {_when(e)}\n{text}"
    if e.kind in ("event:error", "event:stream_error", "event:warning"):
        label = "Warning" if e.kind == "event:warning" else "Error"
        return f"**{label}** · {_when(e)}\n{_as_text(payload.get('message', payload))}"
    if e.kind == "event:turn_aborted":
        return f"— Turn aborted · {_when(e)} (reason: {payload.get('reason', '?')})"
    if e.kind == "event:thread_rolled_back":
        return f"— Conversation rolled back · {_when(e)}\n{_as_text(payload)}"
    # Anything else (a record without payload.type, a type this code does not know): shown as it is.
    label = e.kind.removeprefix("event:") if e.kind != "unknown" else "record"
    return f"**Codex {label}** · {_when(e)}\n{json.dumps(payload, ensure_ascii=False, indent=1)}"


def _render_hook(e: SessionEvent, data: dict[str, Any], cov: Coverage) -> str | None:
    if cov.pending(e):
        return None
    name = e.kind[5:]
    if name == "SessionStart":
        return f"— Session started · {_when(e)} (source: {data.get('source', '?')})"
    if name == "SessionEnd":
        return f"— Session ended · {_when(e)} (reason: {data.get('reason', '?')})"
    if name == "UserPromptSubmit":
        prompt = str(data.get("prompt", ""))
        if (e.prompt_id and e.prompt_id in cov.prompt_ids) or prompt.strip() in cov.prompts:
            return None
        return f"{_who(e, 'User')}\n{prompt}"
    if name == "PostToolUse":
        if e.tool_use_id and e.tool_use_id in cov.tool_use_ids:
            return None
        return (
            f"{_who(e, 'Tool call')} {data.get('tool_name', '')} ({e.tool_use_id or ''})\n"
            f"{_as_text(data.get('tool_input'))}\n**Tool result**\n{_as_text(data.get('tool_response'))}"
        )
    if name == "Stop":
        text = str(data.get("last_assistant_message") or "")
        if not text or text.strip() in cov.assistant_texts:
            return None
        return f"{_who(e, 'Assistant')}\n{text}"
    if name == "PostCompact":
        summary = data.get("compact_summary")
        if summary and not cov.has_compact_summary:
            return f"**Compaction summary** · {_when(e)}\n{_as_text(summary)}"
        return None
    if name == "PreCompact":
        return f"— Compaction requested · {_when(e)} (trigger: {data.get('trigger', '?')})"
    return None
