"""The Notion API versions the sandbox speaks, chosen per request by its ``Notion-Version`` header.

Endpoints produce 2025-09-03 shapes; this module checks what a newer version forbids in a request and
reshapes the response the way that version documents it (reference/notion-2026.md §2):

- 2026-03-11: ``archived`` is gone from requests (400) and responses (only ``in_trash``); append-children
  takes ``position`` and refuses ``after``.
- 2026-12-01: data-source queries and search return only the title property of each page unless
  ``filter_properties`` names the properties wanted; a user's ``name`` may be null.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, body_validation
from .store import Record

V2022_06_28 = "2022-06-28"  # only as far as a peer sync tool needs it (v2022.py)
V2025_09_03 = "2025-09-03"
V2026_03_11 = "2026-03-11"
V2026_12_01 = "2026-12-01"
SUPPORTED = (V2022_06_28, V2025_09_03, V2026_03_11, V2026_12_01)

# Objects that carried the ``archived`` alias before 2026-03-11.
_TRASHABLE = frozenset({"page", "block", "database", "data_source"})
_LISTS_WITH_PAGES = frozenset({"data_sources.query", "search"})


def check_version(header: str) -> str:
    """The version a request asks for; an unsupported one is refused like a malformed header.

    Notion documents ``missing_version`` for an absent header; for a value it does not know, the status
    and code are not in the stored docs (reference/notion-api.md §6): a 400 ``validation_error`` worded like
    the missing-header message is the plausible reading."""
    version = header.strip()
    if version not in SUPPORTED:
        raise ApiError(
            400,
            "validation_error",
            "Notion-Version header failed validation: Notion-Version header should be one of "
            f"{', '.join(SUPPORTED)}, instead was `{version}`.",
        )
    return version


def check_request(version: str, kind: str, body: Record) -> None:
    """Refuse what ``version`` no longer accepts in a request body."""
    if version < V2026_03_11:
        return
    if "archived" in body:
        raise body_validation("body.archived", f"should be not present, instead was `{_js(body['archived'])}`")
    if kind == "blocks.children.append" and "after" in body:
        raise body_validation("body.after", f'should be not present, instead was `"{body["after"]}"`')


def shape_response(version: str, kind: str, result: Record, params: dict[str, list[str]]) -> Record:
    """The endpoint's 2025-09-03 result as ``version`` returns it."""
    if version >= V2026_03_11:
        _drop_archived(result)
    if version >= V2026_12_01:
        wanted = params.get("filter_properties") or params.get("filter_properties[]")
        if kind in _LISTS_WITH_PAGES:
            for page in result.get("results", []):
                if page.get("object") == "page":
                    page["properties"] = _only(page.get("properties", {}), wanted)
        if kind.startswith("users.") or kind == "users":
            for user in result.get("results", [result]):
                if user.get("object") == "user" and user.get("type") == "person":
                    user["name"] = None  # 2026-12-01: a person's name is optional (the sandbox's person has none)
    return result


def _only(properties: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    if wanted is None:
        return {name: p for name, p in properties.items() if p.get("type") == "title"}
    return {name: p for name, p in properties.items() if name in wanted or p.get("id") in wanted}


def _drop_archived(value: Any) -> None:
    if isinstance(value, dict):
        if value.get("object") in _TRASHABLE:
            value.pop("archived", None)
        for item in value.values():
            _drop_archived(item)
    elif isinstance(value, list):
        for item in value:
            _drop_archived(item)


def _js(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)
