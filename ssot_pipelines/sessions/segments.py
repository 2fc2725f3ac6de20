"""Where a session's segments begin: a compaction (or a resume of the same id) starts a new segment.

Segment keys are ``<session_id>#<n>``, n from 1. A compaction shows up several times (PreCompact hook,
the transcript's ``compact_boundary``, PostCompact, SessionStart(source=compact)); a marker opens a new
segment only when the current one already holds conversation, so one compaction opens one segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ssot_pipelines.sessions.events import CONVERSATION_KINDS, SessionEvent


@dataclass
class Segment:
    session_id: str
    number: int
    opened_by: str | None = None  # None for the first segment, else "compacted" or "resumed"
    events: list[SessionEvent] = field(default_factory=list)

    @property
    def key(self) -> str:
        return segment_key(self.session_id, self.number)


def segment_key(session_id: str, number: int) -> str:
    return f"{session_id}#{number}"


def parse_key(key: str) -> tuple[str, int | None]:
    """(session_id, segment number or None when ``key`` is a bare session id)."""
    session_id, sep, number = key.rpartition("#")
    if sep and number.isdigit():
        return session_id, int(number)
    return key, None


def _opens_segment(event: SessionEvent) -> str | None:
    if event.kind == "compact_boundary":
        return "compacted"
    if event.kind == "hook:SessionStart":
        data = event.data()
        source = data.get("source") if isinstance(data, dict) else None
        if source == "compact":
            return "compacted"
        if source == "resume":
            return "resumed"
    return None


def split_segments(session_id: str, events: Sequence[SessionEvent]) -> list[Segment]:
    """The segments of one session's events (already in order)."""
    current = Segment(session_id, 1)
    segments = [current]
    has_conversation = False
    for event in events:
        reason = _opens_segment(event)
        if reason and has_conversation and not event.is_sidechain:
            current = Segment(session_id, current.number + 1, reason)
            segments.append(current)
            has_conversation = False
        current.events.append(event)
        if event.kind in CONVERSATION_KINDS and not event.is_sidechain:
            has_conversation = True
    return segments
