"""Page bodies: written in Notion-sized appends, checkpointed after each, and read back exactly.

A body that only grew gets its new tail appended; any other change erases and rewrites it. An append is
not idempotent, so after an ambiguous failure the body is read back before anything is sent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ssot_pipelines.notion.checkpoints import SyncLedger
from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway
from ssot_pipelines.notion.text import batch_blocks, block_text, body_blocks


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_body(gateway: NotionGateway, page_id: str) -> str:
    """The exact text of a page body (all blocks' rich text, in order)."""
    out: list[str] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"page_size": 100}
        if cursor:
            query["start_cursor"] = cursor
        res = gateway.call("GET", f"blocks/{page_id}/children", query=query)
        out.extend(block_text(b) for b in res.get("results", []))
        if not res.get("has_more"):
            return "".join(out)
        cursor = res["next_cursor"]


MAX_AMBIGUOUS_APPENDS = 5


def _append(
    gateway: NotionGateway,
    page_id: str,
    key: str,
    batch: list[dict[str, Any]],
    body: str,
    pushed_len: int,
    expected_after: int,
) -> None:
    """Append one batch exactly once, reading the body back after every ambiguous failure."""
    for attempt in range(1, MAX_AMBIGUOUS_APPENDS + 1):
        try:
            gateway.call("PATCH", f"blocks/{page_id}/children", body={"children": batch}, kind=Call.CREATE)
            return
        except AmbiguousWriteError:
            current = read_body(gateway, page_id)
            if len(current) == expected_after and body.startswith(current):
                return  # it landed although the answer was an error
            if len(current) != pushed_len:
                raise NotionError(
                    f"the body of {key!r} changed in Notion while it was written; the next sync rewrites it"
                ) from None
            if attempt == MAX_AMBIGUOUS_APPENDS:
                raise


def write_body(
    gateway: NotionGateway,
    ledger: SyncLedger,
    database: str,
    key: str,
    page_id: str,
    body: str,
    row: Mapping[str, Any],
    *,
    verify: bool = False,
) -> None:
    """Make the page body equal ``body``, checkpointing the pushed prefix after every append."""
    pushed_len = row.get("body_length")
    pushed_hash = row.get("body_hash")
    if verify or row.get("state") == "writing" or pushed_len is None:
        # The ledger cannot vouch for what is on the page (an interrupted write): read it back.
        current = read_body(gateway, page_id)
        pushed_len, pushed_hash = len(current), text_digest(current)
    assert pushed_len is not None
    if pushed_len and not (len(body) >= pushed_len and text_digest(body[:pushed_len]) == pushed_hash):
        ledger.set_row(database, key, state="writing")
        gateway.call("PATCH", f"pages/{page_id}", body={"erase_content": True}, kind=Call.UPDATE)
        pushed_len = 0
        ledger.set_row(database, key, body_hash=text_digest(""), body_length=0)
    rest = body[pushed_len:]
    if rest:
        ledger.set_row(database, key, state="writing")
    for batch in batch_blocks(body_blocks(rest)):
        expected_after = pushed_len + sum(len(block_text(b)) for b in batch)
        _append(gateway, page_id, key, batch, body, pushed_len, expected_after)
        pushed_len = expected_after
        ledger.set_row(database, key, body_hash=text_digest(body[:pushed_len]), body_length=pushed_len)
    ledger.set_row(database, key, state="synced")
