"""The event ids a receiver journalled lately, so a sender's retry is acknowledged without a second line.

Shared by the Slack Events receiver and the Notion webhook receiver. Bounded: the drains de-duplicate by
event id too, so an id forgotten here (or across a restart) is still stored once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

REMEMBERED_EVENTS = 100_000


class SeenEvents:
    """The last ``limit`` event ids, thread-safe."""

    def __init__(self, limit: int = REMEMBERED_EVENTS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def add(self, event_id: str) -> bool:
        """Remember ``event_id``; False when it was already there."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.limit:
                self._ids.popitem(last=False)
            return True

    def forget(self, event_id: str) -> None:
        """Drop ``event_id`` (its journalling failed, so a retry must be taken)."""
        with self._lock:
            self._ids.pop(event_id, None)
