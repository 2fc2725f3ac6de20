"""What the Slack bridge needs to know about CLI sessions, asked through the sessions package's own
functions (never with SQL on its tables): which sessions exist, when and where they ran, their text,
their segment keys (the CLI Sessions rows) and their context pack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ssot_pipelines.sessions import bridge as session_bridge
from ssot_pipelines.sessions import store as session_store
from ssot_pipelines.sessions.events import UNKNOWN_SESSION
from ssot_pipelines.slack.store import Connection

_HOME_USER = re.compile(r"^(?:/home|/Users|/usr/home)/([^/]+)")
SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    first_event_at: datetime
    last_event_at: datetime
    cwd: str | None
    changed_at: datetime

    @property
    def cli_user(self) -> str | None:
        """The person who ran it, as the machine account owning its directory (``/home/<user>/…``)."""
        match = _HOME_USER.match(self.cwd or "")
        return match.group(1) if match else None


def session(conn: Connection, session_id: str) -> SessionInfo | None:
    row = session_store.session_row(conn, session_id)
    if row is None or session_id == UNKNOWN_SESSION:
        return None
    return SessionInfo(session_id, row["first_event_at"], row["last_event_at"], row["cwd"], row["changed_at"])


def sessions_changed_since(conn: Connection, since: datetime | None) -> Iterator[SessionInfo]:
    for session_id in session_store.sessions_changed_since(conn, since, limit=SCAN_LIMIT):
        info = session(conn, session_id)
        if info is not None:
            yield info


def session_text(conn: Connection, session_id: str) -> Iterator[str]:
    """The original JSON of every event of a session (what was said, typed and run)."""
    for event in session_store.session_events(conn, session_id):
        yield event.raw


def segment_key_at(conn: Connection, session_id: str, when: datetime | None) -> str:
    """The CLI Sessions row (segment key) of ``session_id`` that was current at ``when`` (else its last)."""
    segments = session_bridge.segments_of(conn, session_id)
    if not segments:
        return f"{session_id}#1"
    chosen = segments[0] if when is not None else segments[-1]
    for seg in segments:
        if when is not None and seg.events and seg.events[0].ts <= when:
            chosen = seg
    return chosen.key


def handover_pack(conn: Connection, session: str) -> Any:
    """The session's context pack (what it was doing, its last messages, links), or None if unknown."""
    return session_bridge.context_pack(conn, session)
