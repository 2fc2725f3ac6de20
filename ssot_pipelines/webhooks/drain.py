"""The drain: journalled Notion events into ``notion_webhook_events``, and each one about a page of the seven
databases into a pull of that page's human-owned and shared values through the sync engine.

Events are hints (notion-2026.md §4.6): they carry ids only, may be aggregated, late, out of order or lost.
So the drain re-reads the page's current state, whatever the event says, and the daily reconcile
(``pull_human`` over the whole database) stays the backstop for anything a lost event would have said.
Events whose only author is our own integration are dropped (our writes would otherwise echo back), except
deletes, moves and restores.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)

ALWAYS_PULLED = ("page.deleted", "page.undeleted", "page.moved")


class PagePuller(Protocol):
    """What the drain needs of the sync engine (``NotionSyncManager``)."""

    def database_of(self, data_source_or_database_id: str) -> str | None: ...

    def pull_page(self, database_name: str, page_id: str) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    text: str
    database: str | None = None
    page_id: str | None = None


def decide(event: dict[str, Any], puller: PagePuller, bot_id: str | None) -> Outcome:
    """What to do with one event; pulls the page when it names one of the seven databases."""
    entity = event.get("entity") or {}
    if entity.get("type") != "page" or not entity.get("id"):
        return Outcome(f"ignored: {entity.get('type') or 'no'} entity")
    etype = str(event.get("type") or "")
    authors = event.get("authors") or []
    if bot_id and authors and all(a.get("id") == bot_id for a in authors) and etype not in ALWAYS_PULLED:
        return Outcome("ignored: our own write")
    parent = (event.get("data") or {}).get("parent") or {}
    name = None
    for candidate in (parent.get("data_source_id"), parent.get("id")):
        if candidate:
            name = puller.database_of(str(candidate))
            if name:
                break
    if name is None:
        return Outcome("ignored: not a page of the seven databases")
    changed = puller.pull_page(name, str(entity["id"]))
    return Outcome("pulled" if changed else "unchanged", name, str(entity["id"]))


class WebhookDrain:
    """Applies events on one thread, in arrival order; ``submit`` never blocks the receiver."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        puller: PagePuller,
        bot_id: str | None,
        on_applied: Callable[[str, Outcome], None] | None = None,
    ) -> None:
        self.conn = conn
        self.puller = puller
        self.bot_id = bot_id
        self.on_applied = on_applied
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="notion-webhook-drain", daemon=True)

    def start(self) -> WebhookDrain:
        self._thread.start()
        return self

    def submit(self, received_at: float, body: str) -> None:
        self._queue.put((received_at, body))

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    def replay(self, entries: list[tuple[float, str]]) -> int:
        """Record journal entries the ledger lacks (a crash after the ack) and apply every event not yet
        applied; returns how many were applied."""
        for received_at, body in entries:
            self._record(received_at, body)
        rows = self.conn.execute(
            "SELECT event_id, body FROM notion_webhook_events WHERE applied_at IS NULL ORDER BY received_at"
        ).fetchall()
        self.conn.commit()
        for row in rows:
            self._apply(str(row["event_id"]), str(row["body"]))
        return len(rows)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            received_at, body = item
            try:
                event_id = self._record(received_at, body)
                if event_id:
                    self._apply(event_id, body)
            except Exception:  # the reconcile is the backstop; the drain must keep going
                log.exception("a Notion webhook event could not be applied")
                if not self.conn.closed:
                    self.conn.rollback()

    def _record(self, received_at: float, body: str) -> str | None:
        """Insert the event (ON CONFLICT DO NOTHING); its id when it still needs applying."""
        event = json.loads(body)
        event_id = str(event.get("id") or "")
        if not event_id:
            return None
        entity = event.get("entity") or {}
        self.conn.execute(
            "INSERT INTO notion_webhook_events (event_id, received_at, type, entity_id, body)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (event_id, datetime.fromtimestamp(received_at, UTC), str(event.get("type") or ""), entity.get("id"), body),
        )
        row = self.conn.execute(
            "SELECT applied_at FROM notion_webhook_events WHERE event_id = %s", (event_id,)
        ).fetchone()
        self.conn.commit()
        return event_id if row is not None and row["applied_at"] is None else None

    def _apply(self, event_id: str, body: str) -> None:
        try:
            outcome = decide(json.loads(body), self.puller, self.bot_id)
        except Exception as exc:  # recorded; the reconcile covers what this event meant
            outcome = Outcome(f"failed: {type(exc).__name__}: {str(exc)[:300]}")
            log.warning("Notion webhook event %s: %s", event_id, outcome.text)
        self.conn.execute(
            "UPDATE notion_webhook_events SET outcome = %s, applied_at = now() WHERE event_id = %s",
            (outcome.text, event_id),
        )
        self.conn.commit()
        if outcome.database:
            log.info("Notion webhook %s: %s page %s (%s)", event_id, outcome.database, outcome.page_id, outcome.text)
        if self.on_applied is not None:
            self.on_applied(event_id, outcome)
