"""One capture pass after new messages arrived (import or journal drain): people's names through the
Web API (when ``SLACK_BOT_TOKEN`` is set), conversation vectors, then links to CLI sessions (similarity
needs the vectors). Each stage is optional and safe to repeat; a failing one does not stop the others."""

from __future__ import annotations

import logging
from typing import Any

from ssot_pipelines.slack import bridge, recall
from ssot_pipelines.slack.store import Connection
from ssot_pipelines.slack.webapi import PACE_SECONDS, configured_web_client, resolve_names

log = logging.getLogger(__name__)


def capture_pass(
    conn: Connection,
    *,
    names: bool = True,
    vectors: tuple[Any, Any] | None = None,
    client: Any = None,
    pace_seconds: float | None = None,
) -> list[str]:
    """Run the stages; returns one summary line per stage (errors included, never secrets)."""
    lines: list[str] = []
    client = client if client is not None else (configured_web_client() if names else None)
    if client is not None:
        try:
            pace = PACE_SECONDS if pace_seconds is None else pace_seconds
            lines.append(resolve_names(conn, client, pace_seconds=pace).summary())
        except Exception as exc:  # names are a nicety; the next pass asks again
            conn.rollback()
            lines.append(f"names: failed ({type(exc).__name__}); asked again next pass")
    store = embedder = None
    if vectors is not None:
        store, embedder = vectors
        try:
            report = recall.index_conversations(conn, store, embedder)
            lines.append(
                f"vectors: {report.conversations} conversations, {report.chunks_embedded} chunks embedded, "
                f"{report.chunks_deleted} removed"
            )
        except Exception as exc:  # the vector layer is optional for zero loss; retried next pass
            conn.rollback()
            lines.append(f"vectors: failed ({type(exc).__name__}: {exc}); retried next pass")
            store = None
    lines.append(bridge.find_links(conn, vectors=store, embedder=embedder).summary())
    conn.commit()
    return lines
