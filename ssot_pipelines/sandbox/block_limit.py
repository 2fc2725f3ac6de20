"""A Free multi-member workspace's lifetime block budget (reference/notion-2026.md §5).

Off by default (a paid or single-member workspace has no limit). When on: every created block counts,
pages and database rows included; deleting gives nothing back; the write that reaches the limit succeeds
and starts a grace period during which creation still works; after it, every request that would create
a block is refused, while reads, edits that create no block, and deletes keep working.

Notion does not document the refusal's status or code (§5: UNKNOWN). The sandbox answers 400
``validation_error`` with a message naming the workspace block limit, the documented style of a request
Notion will not carry out; clients must recognise it by its message, not its code.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .errors import ApiError
from .store import Record

FREE_PLAN_BLOCKS = 1000
GRACE_SECONDS = 3 * 24 * 3600  # Notion: 3 days
REFUSAL_MESSAGE = (
    "This workspace has reached its block limit: Free plan workspaces with more than one member can have "
    "at most {limit} blocks. Upgrade to a paid plan to add more content."
)


def blocks_created(kind: str, body: Record) -> int:
    """How many blocks a request creates if it succeeds (a page is a block, and so is each child)."""
    if kind == "pages.create":
        return 1 + _count(body.get("children", body.get("content")))
    if kind == "blocks.children.append":
        return _count(body.get("children"))
    if kind == "databases.create":
        return 1
    return 0


def _count(children: Any) -> int:
    if not isinstance(children, list):
        return 0
    total = 0
    for child in children:
        total += 1
        if isinstance(child, dict):
            content = child.get(str(child.get("type", "")))
            nested = content.get("children") if isinstance(content, dict) else None
            total += _count(nested if nested is not None else child.get("children"))
    return total


class BlockBudget:
    """The workspace's block budget; thread-safe, configured live by tests and ``/__sandbox/block_limit``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.grace_seconds: float = GRACE_SECONDS
        self.used = 0
        self.grace_until: float | None = None
        self.refused = 0

    def configure(self, limit: int | None, grace_seconds: float | None = None, *, reset: bool = True) -> None:
        """``limit`` None lifts the limit (a paid plan); ``reset`` starts counting from zero again."""
        with self._lock:
            self.limit = None if limit is None else int(limit)
            if grace_seconds is not None:
                self.grace_seconds = float(grace_seconds)
            if reset:
                self.used, self.grace_until, self.refused = 0, None, 0

    def check(self, kind: str, body: Record) -> None:
        """Refuse a block-creating request once the grace period after reaching the limit is over."""
        with self._lock:
            if self.limit is None or self.grace_until is None or time.time() < self.grace_until:
                return
            if blocks_created(kind, body) == 0:
                return
            self.refused += 1
            raise ApiError(400, "validation_error", REFUSAL_MESSAGE.format(limit=self.limit))

    def record(self, kind: str, body: Record) -> None:
        """Count the blocks an applied request created; reaching the limit starts the grace period."""
        with self._lock:
            self.used += blocks_created(kind, body)
            if self.limit is not None and self.used >= self.limit and self.grace_until is None:
                self.grace_until = time.time() + self.grace_seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "limit": self.limit,
                "used": self.used,
                "grace_seconds": self.grace_seconds,
                "grace_until": self.grace_until,
                "refusing": self.limit is not None and self.grace_until is not None and time.time() >= self.grace_until,
                "refused": self.refused,
            }
