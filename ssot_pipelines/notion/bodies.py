"""Page bodies: packed into few blocks, written in Notion-sized appends, checkpointed, read back exactly.

Blocks are a budget: a Free multi-member workspace takes 1,000 in its lifetime and deleting one gives
nothing back (reference/notion-2026.md §5). So a body is packed into as few paragraphs as Notion allows
(100 rich-text pieces of 2,000 characters each, within the request size), a body that only grew gets its
new tail appended, and any other change edits the page's blocks in place (update, delete, append the
extra) instead of erasing and re-appending them, unless that would cost more requests than the blocks it
saves. For a workspace known to be block-limited, edits are always made in place, and a growing body
fills its last block before a new one is added.

``body_hash`` in the ledger is the digest of the body's *text*, not of its blocks: changing how text is
packed rewrites nothing; a page keeps its older, smaller blocks until its text changes.

An append is not idempotent, so after an ambiguous failure the body is read back before anything is sent
again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssot_pipelines.notion.checkpoints import SyncLedger
from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway
from ssot_pipelines.notion.text import MAX_ARRAY, MAX_REQUEST_BYTES, batch_blocks, block_text, split_text

# Two full blocks fit in one request (Notion: 500 KB); text that is not ASCII gets fewer pieces per block.
MAX_BLOCK_BYTES = (MAX_REQUEST_BYTES - 10_000) // 2
BODY_BLOCK_TYPE = "paragraph"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _piece(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"content": text}}


def _paragraph(pieces: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "block", "type": BODY_BLOCK_TYPE, BODY_BLOCK_TYPE: {"rich_text": list(pieces)}}


def packed_blocks(text: str) -> list[dict[str, Any]]:
    """Paragraph blocks whose rich text, concatenated in order, is exactly ``text``, in as few blocks as
    Notion's limits allow (100 pieces of 2,000 UTF-16 units per block, each block within half a request)."""
    blocks: list[dict[str, Any]] = []
    pieces: list[dict[str, Any]] = []
    size = 0
    for chunk in split_text(text):
        item = _piece(chunk)
        item_size = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 1
        if pieces and (len(pieces) >= MAX_ARRAY or size + item_size > MAX_BLOCK_BYTES):
            blocks.append(_paragraph(pieces))
            pieces, size = [], 0
        pieces.append(item)
        size += item_size
    if pieces:
        blocks.append(_paragraph(pieces))
    return blocks


def first_children(text: str | None, overhead: int) -> list[dict[str, Any]]:
    """The blocks a page create can carry for ``text`` alongside ``overhead`` bytes of properties (maybe
    none: the rest of the body is appended after the create)."""
    if not text:
        return []
    first = next(batch_blocks(packed_blocks(text), first_overhead=overhead))
    size = overhead + sum(len(json.dumps(b, ensure_ascii=False).encode("utf-8")) for b in first)
    return first if size <= MAX_REQUEST_BYTES else []


def read_blocks(gateway: NotionGateway, page_id: str) -> list[dict[str, Any]]:
    """The page's top-level blocks, in order."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"page_size": 100}
        if cursor:
            query["start_cursor"] = cursor
        res = gateway.call("GET", f"blocks/{page_id}/children", query=query)
        out.extend(res.get("results", []))
        if not res.get("has_more"):
            return out
        cursor = res["next_cursor"]


# Meeting notes are a person's recording, never text of ours: 2026-03-11 renamed their block type.
MEETING_NOTES_TYPES = frozenset({"transcription", "meeting_notes"})


def _body_text(blocks: Sequence[dict[str, Any]]) -> str:
    return "".join(block_text(b) for b in blocks if b.get("type") not in MEETING_NOTES_TYPES)


def read_body(gateway: NotionGateway, page_id: str) -> str:
    """The exact text of a page body (all blocks' rich text, in order)."""
    return _body_text(read_blocks(gateway, page_id))


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
            gateway.call("PATCH", f"blocks/{page_id}/children", body=gateway.append_body(batch), kind=Call.CREATE)
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


def _append_text(
    gateway: NotionGateway,
    ledger: SyncLedger,
    where: tuple[str, str, str],
    body: str,
    pushed_len: int,
    blocks: Sequence[dict[str, Any]],
) -> int:
    """Append ``blocks`` (the text after ``pushed_len``) in batches, checkpointing after each."""
    database, key, page_id = where
    for batch in batch_blocks(blocks):
        expected_after = pushed_len + sum(len(block_text(b)) for b in batch)
        _append(gateway, page_id, key, batch, body, pushed_len, expected_after)
        pushed_len = expected_after
        ledger.set_row(database, key, body_hash=text_digest(body[:pushed_len]), body_length=pushed_len)
    return pushed_len


@dataclass
class InPlacePlan:
    """How to turn the page's blocks into the body's without erasing them."""

    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (block id, new block)
    deletes: list[str] = field(default_factory=list)
    appends: list[dict[str, Any]] = field(default_factory=list)

    def requests(self) -> int:
        return len(self.updates) + len(self.deletes) + sum(1 for _ in batch_blocks(self.appends))


def plan_in_place(blocks: Sequence[dict[str, Any]], body: str, *, fill_last: bool = False) -> InPlacePlan:
    """Keep the leading blocks whose text the body still starts with; rewrite the rest in place.

    ``fill_last``: when the body only grew, reopen the last kept block so the new text fills it first.
    Meeting notes are left where they are."""
    blocks = [b for b in blocks if b.get("type") not in MEETING_NOTES_TYPES]
    offset, kept = 0, 0
    for block in blocks:
        text = block_text(block)
        if block.get("type") != BODY_BLOCK_TYPE or not body.startswith(text, offset):
            break
        offset += len(text)
        kept += 1
    last_pieces = len((blocks[-1].get(BODY_BLOCK_TYPE) or {}).get("rich_text") or []) if blocks else MAX_ARRAY
    if fill_last and kept == len(blocks) and kept and last_pieces < MAX_ARRAY:
        kept -= 1
        offset -= len(block_text(blocks[kept]))
    plan = InPlacePlan()
    rest = list(blocks[kept:])
    for new in packed_blocks(body[offset:]):
        while rest and rest[0].get("type") != BODY_BLOCK_TYPE:
            plan.deletes.append(str(rest.pop(0)["id"]))  # only a paragraph can become a paragraph
        if rest:
            old = rest.pop(0)
            if block_text(old) != block_text(new):
                plan.updates.append((str(old["id"]), new))
        else:
            plan.appends.append(new)
    plan.deletes.extend(str(b["id"]) for b in rest)
    return plan


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
    spare_blocks: bool = False,
) -> int:
    """Make the page body equal ``body``, checkpointing the pushed prefix after every append; return the
    number of blocks created.

    ``spare_blocks``: the workspace is known to be block-limited; never spend a block an edit can avoid."""
    pushed_len = row.get("body_length")
    pushed_hash = row.get("body_hash")
    blocks: list[dict[str, Any]] | None = None
    if verify or row.get("state") == "writing" or pushed_len is None:
        # The ledger cannot vouch for what is on the page (an interrupted write): read it back.
        blocks = read_blocks(gateway, page_id)
        current = _body_text(blocks)
        pushed_len, pushed_hash = len(current), text_digest(current)
    assert pushed_len is not None
    grew = len(body) >= pushed_len and text_digest(body[:pushed_len]) == pushed_hash
    where = (database, key, page_id)
    if body[pushed_len:] or not grew:
        ledger.set_row(database, key, state="writing")
    created = 0
    if grew and not body[pushed_len:]:
        pass  # nothing new (a verified body that was complete)
    elif grew and (not pushed_len or not spare_blocks):
        tail = packed_blocks(body[pushed_len:])
        _append_text(gateway, ledger, where, body, pushed_len, tail)
        created = len(tail)
    else:
        if blocks is None:
            blocks = read_blocks(gateway, page_id)
        plan = plan_in_place(blocks, body, fill_last=grew)
        rewrite = packed_blocks(body)
        # Every block created is spent for good on a limited workspace: weigh it like a request.
        rewrite_cost = 1 + sum(1 for _ in batch_blocks(rewrite)) + len(rewrite)
        people_s = any(b.get("type") in MEETING_NOTES_TYPES for b in blocks)  # erasing would take them too
        if spare_blocks or people_s or plan.requests() + len(plan.appends) <= rewrite_cost:
            _apply_in_place(gateway, ledger, where, body, plan)
            created = len(plan.appends)
        else:
            gateway.call("PATCH", f"pages/{page_id}", body={"erase_content": True}, kind=Call.UPDATE)
            ledger.set_row(database, key, body_hash=text_digest(""), body_length=0)
            _append_text(gateway, ledger, where, body, 0, rewrite)
            created = len(rewrite)
    ledger.set_row(database, key, state="synced", body_hash=text_digest(body), body_length=len(body))
    return created


def _apply_in_place(
    gateway: NotionGateway, ledger: SyncLedger, where: tuple[str, str, str], body: str, plan: InPlacePlan
) -> None:
    database, key, _ = where
    for block_id, new in plan.updates:
        gateway.call("PATCH", f"blocks/{block_id}", body={new["type"]: new[new["type"]]}, kind=Call.UPDATE)
    for block_id in plan.deletes:
        gateway.call("DELETE", f"blocks/{block_id}", kind=Call.UPDATE)
    if plan.appends:
        tail = sum(len(block_text(b)) for b in plan.appends)
        done = len(body) - tail
        ledger.set_row(database, key, body_hash=text_digest(body[:done]), body_length=done)
        _append_text(gateway, ledger, where, body, done, plan.appends)
