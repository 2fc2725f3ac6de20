"""The Free-workspace block limit: recognising Notion's refusal, and the per-target circuit breaker.

A multi-member Free workspace takes 1,000 blocks in its lifetime (pages and rows count; deleting gives
nothing back). Past the limit and its grace period Notion refuses every request that creates blocks,
while reads, edits and deletes keep working (reference/notion-2026.md §5). The engine then holds page
bodies in the ledger (they stay pending, nothing is lost), keeps syncing properties, and tries one body
write per sync of a database to learn whether the workspace takes blocks again.

The refusal's status and code are not documented: it is recognised by its message, never by its code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from ssot_pipelines.settings import notion_spare_blocks

log = logging.getLogger(__name__)

# Words the refusal's message names (the documented concept: "workspace block limit").
_REFUSAL_MARKERS = ("block limit", "block_limit")

WHAT_TO_DO = (
    "the Notion workspace reached the Free plan's block limit (multi-member Free workspaces take 1,000 "
    "blocks in their lifetime): page bodies are held in the ledger and written once the workspace takes "
    "blocks again; properties keep syncing. Upgrade the workspace to a paid plan, or use a single-member "
    "workspace"
)


def is_block_limit_refusal(exc: BaseException) -> bool:
    """True when Notion refused a write because the workspace cannot take more blocks."""
    text = str(exc).lower()
    return any(marker in text for marker in _REFUSAL_MARKERS)


@dataclass
class BlockLimitGate:
    """The breaker of one target, kept in the ledger (``notion_block_limit``), plus this sync's probe."""

    conn: psycopg.Connection[Any]
    target: str
    probe_left: bool = True
    creates_refused: bool = False  # this sync saw a page create refused: the others wait without asking
    spare_configured: bool = False  # NOTION_SPARE_BLOCKS, read at the start of each sync
    _state: dict[str, Any] | None = None
    _loaded: bool = False

    def start_sync(self) -> None:
        """A new sync of one database: it reads the breaker once and may try one body write while held."""
        self.probe_left = True
        self.creates_refused = False
        self._loaded = False
        self.spare_configured = notion_spare_blocks()

    def state(self) -> dict[str, Any] | None:
        if not self._loaded:
            self._state = block_limit_state(self.conn, self.target)
            self._loaded = True
        return self._state

    def held(self) -> bool:
        state = self.state()
        return bool(state and state["held"])

    def known_limited(self) -> bool:
        """The workspace refused blocks at least once, or NOTION_SPARE_BLOCKS says it is a Free multi-member
        one: every block counts, so spend them sparingly."""
        return self.spare_configured or self.state() is not None

    def may_create_blocks(self) -> bool:
        """Whether a body write may be sent now: always when not held, else once per sync (the probe)."""
        if not self.held():
            return True
        if self.probe_left:
            self.probe_left = False
            return True
        return False

    def trip(self, message: str) -> None:
        was_held = self.held()
        self.conn.execute(
            "INSERT INTO notion_block_limit (target, message) VALUES (%s, %s) ON CONFLICT (target) DO UPDATE"
            " SET held = true, message = EXCLUDED.message, refusals = notion_block_limit.refusals + 1,"
            " last_refused_at = now(), held_since = CASE WHEN notion_block_limit.held"
            " THEN notion_block_limit.held_since ELSE now() END, released_at = NULL",
            (self.target, message[:500]),
        )
        self.conn.commit()
        self.probe_left = False
        self._loaded = False
        if not was_held:
            log.warning("%s (Notion said: %s)", WHAT_TO_DO, message[:300])

    def release(self) -> None:
        """A block-creating write succeeded: the workspace takes blocks again."""
        cur = self.conn.execute(
            "UPDATE notion_block_limit SET held = false, released_at = now() WHERE target = %s AND held",
            (self.target,),
        )
        self.conn.commit()
        self._loaded = False
        if cur.rowcount:
            log.warning("the Notion workspace takes blocks again: writing the page bodies held in the ledger")


def block_limit_state(conn: psycopg.Connection[Any], target: str) -> dict[str, Any] | None:
    """The block-limit breaker of ``target``: None when Notion never refused blocks, else ``held``,
    ``held_since``, ``message`` (Notion's), ``refusals``, ``last_refused_at``, ``released_at`` and
    ``what_to_do``."""
    row = conn.execute(
        "SELECT held, held_since, message, refusals, last_refused_at, released_at FROM notion_block_limit"
        " WHERE target = %s",
        (target,),
    ).fetchone()
    conn.commit()
    if row is None:
        return None
    keys = ("held", "held_since", "message", "refusals", "last_refused_at", "released_at")
    state = dict(row) if isinstance(row, dict) else dict(zip(keys, row, strict=True))
    state["what_to_do"] = WHAT_TO_DO if state["held"] else ""
    return state
