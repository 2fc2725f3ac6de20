"""Block content: validated on write (limits, nesting), returned in Notion's block shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import body_validation
from .ids import iso_minute
from .richtext import normalize_rich_text, plain_text
from .store import Record
from .validation import MAX_BLOCKS_PER_REQUEST, check_array, check_object

TEXT_BLOCKS = (
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "quote",
    "callout",
    "toggle",
    "to_do",
    "code",
)
BLOCK_TYPES = (*TEXT_BLOCKS, "divider")
MAX_NESTING = 2


@dataclass
class BlockSpec:
    """A validated block from a request, with its nested children."""

    type: str
    content: Record
    children: list[BlockSpec] = field(default_factory=list)


def parse_children(path: str, raw: Any) -> list[BlockSpec]:
    """Validate a ``children`` array (≤100 per array, ≤2 levels, ≤1000 blocks in all)."""
    specs = _parse(path, raw, 1)
    total = _count(specs)
    if total > MAX_BLOCKS_PER_REQUEST:
        raise body_validation(
            path, f"should contain ≤ {MAX_BLOCKS_PER_REQUEST} block elements in total, instead was {total}"
        )
    return specs


def _count(specs: list[BlockSpec]) -> int:
    return sum(1 + _count(s.children) for s in specs)


def _parse(path: str, raw: Any, depth: int) -> list[BlockSpec]:
    return [parse_block(f"{path}[{i}]", item, depth) for i, item in enumerate(check_array(path, raw))]


def parse_block(path: str, raw: Any, depth: int = 1) -> BlockSpec:
    block = check_object(path, raw)
    kind = block.get("type") or next((k for k in block if k in BLOCK_TYPES), None)
    if kind not in BLOCK_TYPES:
        raise body_validation(path, f"should be a block of type {', '.join(BLOCK_TYPES)}")
    assert isinstance(kind, str)
    if kind not in block and kind != "divider":
        raise body_validation(f"{path}.{kind}", "should be defined")
    content = dict(check_object(f"{path}.{kind}", block.get(kind, {})))
    children_raw = content.pop("children", None)
    children: list[BlockSpec] = []
    if children_raw is not None:
        if depth >= MAX_NESTING:
            raise body_validation(f"{path}.{kind}.children", "should be not present")
        children = _parse(f"{path}.{kind}.children", children_raw, depth + 1)
    return BlockSpec(kind, normalize_content(f"{path}.{kind}", kind, content), children)


def normalize_content(path: str, kind: str, content: Record) -> Record:
    if kind == "divider":
        return {}
    out = dict(content)
    out["rich_text"] = normalize_rich_text(f"{path}.rich_text", content.get("rich_text", []))
    if kind == "code":
        out["language"] = str(content.get("language", "plain text"))
        out["caption"] = normalize_rich_text(f"{path}.caption", content.get("caption", []))
    else:
        out.setdefault("color", "default")
    if kind == "to_do":
        out["checked"] = bool(content.get("checked", False))
    if kind.startswith("heading_"):
        out.setdefault("is_toggleable", False)
    return out


def render_block(block: Record, has_children: bool, bot_user_id: str) -> Record:
    user = {"object": "user", "id": bot_user_id}
    kind = block["type"]
    return {
        "object": "block",
        "id": block["id"],
        "parent": block["parent"],
        "created_time": iso_minute(block["created"]),
        "last_edited_time": iso_minute(block["edited"]),
        "created_by": user,
        "last_edited_by": user,
        "has_children": has_children,
        "archived": block["in_trash"],
        "in_trash": block["in_trash"],
        "type": kind,
        kind: block["content"],
    }


def block_text(block: Record) -> str:
    content = block["content"]
    return plain_text(content.get("rich_text", [])) if block["type"] != "divider" else "———"
