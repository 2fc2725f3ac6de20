"""What every endpoint group shares: id lookups, parent links, trash and the list response shape."""

from __future__ import annotations

import time
from typing import Any

from . import query as query_mod
from .errors import body_validation, not_found, validation
from .ids import parse_id, try_parse_id
from .properties import ValueContext
from .store import Record, Store

Query = dict[str, list[str]]


def list_response(results: list[Any], page: query_mod.PageOfResults, kind: str) -> Record:
    return {
        "object": "list",
        "results": results,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "type": kind,
        kind: {},
    }


class ApiBase:
    """The store plus the lookups and tree edits that several endpoint groups need."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.query_result_limit = query_mod.QUERY_RESULT_LIMIT
        self._values = ValueContext(lambda i: self.store.get(i, "page"), self._user_exists)

    # -- lookups ----------------------------------------------------------------------------------

    def _get(self, kind: str, raw_id: str, label: str | None = None) -> Record:
        object_id = parse_id(raw_id, f"path.{kind}_id")
        rec = self.store.get(object_id, kind)
        if rec is None:
            raise not_found(label or kind, object_id)
        return rec

    def _data_source(self, raw_id: str) -> Record:
        return self._get("data_source", raw_id)

    def _container(self, raw_id: str) -> Record:
        """A page or block that can hold child blocks."""
        object_id = parse_id(raw_id, "path.block_id")
        rec = self.store.get(object_id)
        if rec is None or rec["kind"] not in ("page", "block"):
            raise not_found("block", object_id)
        return rec

    def _user_exists(self, user_id: str) -> bool:
        return user_id in (self.store.bot_user_id, self.store.person_user_id)

    def _now(self) -> float:
        return time.time()

    def _user_ref(self, user_id: str | None = None) -> Record:
        return {"object": "user", "id": user_id or self.store.bot_user_id}

    def _editor_id(self) -> str:
        """Who this request edits as: the person of the person prefix (the Notion UI), else the integration;
        shown as a page's ``last_edited_by``."""
        return self.store.person_user_id if getattr(self, "acting_as_person", False) else self.store.bot_user_id

    def _visible(self, object_id: str) -> bool:
        rec = self.store.get(object_id)
        return rec is not None and not rec["in_trash"]

    # -- parents and trash ------------------------------------------------------------------------

    def _container_parent(self, parent: Record) -> Record:
        if parent.get("type") == "workspace" or parent.get("workspace") is True:
            raise validation(
                "Creating objects at the workspace level is not supported for internal integrations; use a page parent."
            )
        page_id = try_parse_id(parent.get("page_id"))
        if page_id is None:
            raise body_validation("body.parent.page_id", "should be defined")
        page = self.store.get(page_id, "page")
        if page is None:
            raise not_found("page", page_id)
        if page["in_trash"]:
            raise validation("Can't edit block that is archived. You must unarchive the block before editing.")
        return {"type": "page_id", "page_id": page_id}

    def _attach_to_parent(self, parent: Record, child_id: str) -> None:
        if parent["type"] in ("page_id", "block_id"):
            container = self.store.get(parent[parent["type"]])
            if container is not None:
                container["children"].append(child_id)
                self.store.touch(container)

    def _trash(self, rec: Record, value: bool) -> None:
        rec["in_trash"] = value
        rec["edited"] = self._now()
        rec["edited_by"] = self._editor_id()
        self.store.touch(rec)


def trash_flag(body: Record) -> bool | None:
    for key in ("in_trash", "archived"):
        if key in body:
            value = body[key]
            if not isinstance(value, bool):
                raise body_validation(f"body.{key}", "should be a boolean")
            return value
    return None


def first_param(params: Query, key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None
