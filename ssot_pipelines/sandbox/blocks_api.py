"""Block endpoints: list and append children, retrieve, update and delete blocks."""

from __future__ import annotations

from . import query as query_mod
from .api_base import Query, first_param, list_response, trash_flag
from .blocks import BlockSpec, normalize_content, parse_children
from .errors import body_validation, not_found, validation
from .ids import new_id, parse_id, try_parse_id
from .render import Renderer
from .store import Record
from .validation import check_object, check_page_size, reject_unknown_keys


class BlockEndpoints(Renderer):
    """``/v1/blocks``; every mutation runs in a transaction."""

    def _create_blocks(self, parent: Record, specs: list[BlockSpec], index: int) -> list[Record]:
        created: list[Record] = []
        parent_ref = (
            {"type": "page_id", "page_id": parent["id"]}
            if parent["kind"] == "page"
            else {"type": "block_id", "block_id": parent["id"]}
        )
        now = self._now()
        for spec in specs:
            block = self.store.insert(
                {
                    "id": new_id(),
                    "kind": "block",
                    "parent": parent_ref,
                    "type": spec.type,
                    "content": spec.content,
                    "children": [],
                    "created": now,
                    "edited": now,
                    "in_trash": False,
                }
            )
            self._create_blocks(block, spec.children, 0)
            created.append(block)
        ids = [b["id"] for b in created]
        parent["children"][index:index] = ids
        self.store.touch(parent)
        return created

    def list_children(self, block_id: str, params: Query) -> Record:
        page_size = check_page_size("query.page_size", first_param(params, "page_size"))
        with self.store.lock:
            container = self._container(block_id)
            children = [c for i in container["children"] if (c := self.store.objects.get(i)) and not c["in_trash"]]
            window = query_mod.paginate(
                children, [c["id"] for c in children], page_size, first_param(params, "start_cursor")
            )
            return list_response([self.render_block_like(c) for c in window.items], window, "block")

    def append_children(self, block_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, {"children", "after", "position"})
        specs = parse_children("body.children", body.get("children"))
        with self.store.transaction():
            container = self._container(block_id)
            if container["in_trash"]:
                raise validation("Can't edit block that is archived. You must unarchive the block before editing.")
            index = self._insert_index(container, body)
            created = self._create_blocks(container, specs, index)
            self._touch_page_of(container)
            window = query_mod.PageOfResults(created, None, False, False)
            return list_response([self.render_block_like(b) for b in created], window, "block")

    def _insert_index(self, container: Record, body: Record) -> int:
        position = body.get("position")
        after = body.get("after")
        if position is not None:
            pos = check_object("body.position", position)
            kind = pos.get("type")
            if kind == "start":
                return 0
            if kind == "end":
                return len(container["children"])
            if kind != "after_block":
                raise body_validation("body.position.type", "should be `end`, `start` or `after_block`")
            after = check_object("body.position.after_block", pos.get("after_block")).get("id")
        if after is None:
            return len(container["children"])
        after_id = try_parse_id(after)
        if after_id is None or after_id not in container["children"]:
            raise validation(f"Block {after} is not a child of {container['id']}.")
        return int(container["children"].index(after_id)) + 1

    def _touch_page_of(self, rec: Record) -> None:
        now = self._now()
        while rec is not None:
            rec["edited"] = now
            self.store.touch(rec)
            if rec["kind"] == "page":
                return
            parent = rec["parent"]
            rec = self.store.get(parent.get("block_id") or parent.get("page_id") or "")  # type: ignore[assignment]

    def get_block(self, block_id: str) -> Record:
        with self.store.lock:
            return self.render_block_like(self._container(block_id))

    def update_block(self, block_id: str, body: Record) -> Record:
        with self.store.transaction():
            rec = self._container(block_id)
            trash = trash_flag(body)
            if rec["kind"] == "page":
                if trash is not None:
                    self._trash(rec, trash)
                return self.render_block_like(rec)
            if rec["in_trash"] and trash is not False:
                raise validation("Can't edit block that is archived. You must unarchive the block before editing.")
            content_keys = [k for k in body if k not in ("archived", "in_trash", "type")]
            self.store.touch(rec)
            for key in content_keys:
                if key != rec["type"]:
                    raise validation(f"Block type {key} does not match the existing block type {rec['type']}.")
                merged = {**rec["content"], **check_object(f"body.{key}", body[key])}
                merged.pop("children", None)
                rec["content"] = normalize_content(f"body.{key}", key, merged)
            if trash is not None:
                self._trash(rec, trash)
            self._touch_page_of(rec)
            return self.render_block_like(rec)

    def delete_block(self, block_id: str) -> Record:
        with self.store.transaction():
            object_id = parse_id(block_id, "path.block_id")
            rec = self.store.get(object_id)
            if rec is None or rec["kind"] not in ("page", "block", "database"):
                raise not_found("block", object_id)
            self._trash(rec, True)
            if rec["kind"] == "page":
                return self.render_page(rec)
            if rec["kind"] == "database":
                return self.render_database(rec)
            return self.render_block_like(rec)
