"""Rich text objects: validated on write, stored and returned in Notion's full shape."""

from __future__ import annotations

from typing import Any

from .errors import body_validation
from .validation import MAX_URL, check_array, check_object, check_text

DEFAULT_ANNOTATIONS: dict[str, Any] = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}


def text_item(content: str, link: str | None = None) -> dict[str, Any]:
    return {
        "type": "text",
        "text": {"content": content, "link": {"url": link} if link else None},
        "annotations": dict(DEFAULT_ANNOTATIONS),
        "plain_text": content,
        "href": link,
    }


def normalize_rich_text(path: str, value: Any) -> list[dict[str, Any]]:
    """Validate a request's rich text array (limits included) and return the stored/response form."""
    items = check_array(path, value)
    return [_normalize_item(f"{path}[{i}]", item) for i, item in enumerate(items)]


def _normalize_item(path: str, raw: Any) -> dict[str, Any]:
    item = check_object(path, raw)
    kind = item.get("type") or next((k for k in ("text", "equation", "mention") if k in item), None)
    annotations = dict(DEFAULT_ANNOTATIONS)
    if "annotations" in item:
        annotations.update(check_object(f"{path}.annotations", item["annotations"]))
    if kind == "text":
        text = check_object(f"{path}.text", item.get("text"))
        content = check_text(f"{path}.text.content", text.get("content"))
        link_url: str | None = None
        if text.get("link") is not None:
            link = check_object(f"{path}.text.link", text["link"])
            link_url = check_text(f"{path}.text.link.url", link.get("url"), MAX_URL)
        out = text_item(content, link_url)
        out["annotations"] = annotations
        return out
    if kind == "equation":
        eq = check_object(f"{path}.equation", item.get("equation"))
        expression = check_text(f"{path}.equation.expression", eq.get("expression"), 1000)
        return {
            "type": "equation",
            "equation": {"expression": expression},
            "annotations": annotations,
            "plain_text": expression,
            "href": None,
        }
    if kind == "mention":
        mention = check_object(f"{path}.mention", item.get("mention"))
        return {
            "type": "mention",
            "mention": mention,
            "annotations": annotations,
            "plain_text": str(item.get("plain_text", "")),
            "href": None,
        }
    raise body_validation(f"{path}.type", "should be `text`, `mention` or `equation`")


def plain_text(items: list[dict[str, Any]]) -> str:
    return "".join(str(i.get("plain_text", "")) for i in items)
