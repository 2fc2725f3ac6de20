"""Splitting text to Notion's limits without ever cutting it, and reading it back exactly.

Notion counts ``text.content`` length in UTF-16 code units (JavaScript string length): an emoji outside
the Basic Multilingual Plane counts 2. Splitting by code points never separates a surrogate pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

MAX_TEXT = 2000  # UTF-16 units per rich-text content
MAX_ARRAY = 100  # rich-text pieces per property / blocks per append
MAX_ELEMENTS_PER_REQUEST = 900  # Notion allows 1,000 block elements; leave room for the envelope
MAX_REQUEST_BYTES = 450_000  # Notion allows 500 KB per request


class OversizedValueError(ValueError):
    """A property value that no Notion property can hold; its text belongs in the page body."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-16 units whose concatenation is ``text``.

    A piece ends after a newline when one falls in its last quarter, so pieces read naturally.
    """
    if not text:
        return []
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + limit, n)
        # astral characters count twice: shrink until the window fits
        window = text[start:end]
        over = utf16_len(window) - limit
        while over > 0:
            cut = max(1, over // 2)
            end -= cut
            window = text[start:end]
            over = utf16_len(window) - limit
        if end < n:
            nl = window.rfind("\n", len(window) * 3 // 4)
            if nl >= 0:
                end = start + nl + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def rich_text(text: str | None, *, prop: str = "value") -> list[dict[str, Any]]:
    """A rich-text array for a property; raises OversizedValueError past 100 pieces."""
    if not text:
        return []
    pieces = split_text(text)
    if len(pieces) > MAX_ARRAY:
        raise OversizedValueError(
            f"{prop} is {utf16_len(text):,} characters: a Notion property holds at most "
            f"{MAX_ARRAY * MAX_TEXT:,}. Put long text in the record's body, which has no limit."
        )
    return [{"type": "text", "text": {"content": p}} for p in pieces]


def plain_text(items: Sequence[dict[str, Any]] | None) -> str:
    """The exact text of a rich-text array as returned by Notion."""
    if not items:
        return ""
    out = []
    for item in items:
        text = item.get("text")
        if isinstance(text, dict) and "content" in text:
            out.append(str(text["content"]))
        else:
            out.append(str(item.get("plain_text", "")))
    return "".join(out)


def block_text(block: dict[str, Any]) -> str:
    """The text a body block holds (any block type that carries rich_text)."""
    content = block.get(block.get("type", ""), {})
    if isinstance(content, dict):
        return plain_text(content.get("rich_text"))
    return ""


def batch_blocks(blocks: Sequence[dict[str, Any]], *, first_overhead: int = 0) -> Iterator[list[dict[str, Any]]]:
    """Group blocks into requests within Notion's per-request limits (count, elements, bytes)."""
    batch: list[dict[str, Any]] = []
    elements = size = 0
    overhead = first_overhead
    for block in blocks:
        b_elements = 1 + len(block[block["type"]].get("rich_text", []))
        b_size = len(json.dumps(block, ensure_ascii=False).encode("utf-8"))
        if batch and (
            len(batch) >= MAX_ARRAY
            or elements + b_elements > MAX_ELEMENTS_PER_REQUEST
            or overhead + size + b_size > MAX_REQUEST_BYTES
        ):
            yield batch
            batch, elements, size, overhead = [], 0, 0, 0
        batch.append(block)
        elements += b_elements
        size += b_size
    if batch:
        yield batch
