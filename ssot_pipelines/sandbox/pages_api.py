"""Page endpoints: data source query, create, retrieve, update (properties and trash), property items."""

from __future__ import annotations

from typing import Any

from . import query as query_mod
from .api_base import Query, first_param, list_response, trash_flag
from .blocks import parse_children
from .blocks_api import BlockEndpoints
from .errors import not_found, validation
from .ids import new_id
from .properties import add_option, find_property, normalize_value, render_value
from .store import Record
from .validation import check_object, check_page_size, reject_unknown_keys


class PageEndpoints(BlockEndpoints):
    """``/v1/pages`` and ``/v1/data_sources/{id}/query``; a new page's content is created as blocks."""

    # -- query ------------------------------------------------------------------------------------

    def query_data_source(self, ds_id: str, params: Query, body: Record) -> Record:
        reject_unknown_keys(
            "body",
            body,
            {
                "filter",
                "sorts",
                "start_cursor",
                "page_size",
                "archived",
                "in_trash",
                "is_archived",
                "result_type",
                "filter_properties",
            },
        )
        page_size = check_page_size("body.page_size", body.get("page_size"))
        with self.store.lock:
            ds = self._data_source(ds_id)
            only = params.get("filter_properties") or params.get("filter_properties[]")
            if only is not None:
                self._resolve_filter_properties(ds, only)
            trashed = bool(body.get("in_trash") or body.get("archived"))
            rows = (self.store.objects[i] for i in self.store.rows.get(ds["id"], []))
            pages = [p for p in rows if p["in_trash"] == trashed]
            if body.get("filter") is not None:
                predicate = query_mod.compile_filter("body.filter", body["filter"], ds)
                pages = [p for p in pages if predicate(p)]
            if body.get("sorts"):
                pages = query_mod.sort_pages("body.sorts", body["sorts"], ds, pages)
            window = query_mod.paginate(
                pages, [p["id"] for p in pages], page_size, body.get("start_cursor"), self.query_result_limit
            )
            out = list_response([self.render_page(p, only) for p in window.items], window, "page_or_data_source")
        if window.capped:
            out["request_status"] = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        return out

    # -- pages ------------------------------------------------------------------------------------

    def create_page(self, body: Record) -> Record:
        reject_unknown_keys(
            "body",
            body,
            {"parent", "properties", "icon", "cover", "content", "children", "markdown", "template", "position"},
        )
        parent_raw = check_object("body.parent", body.get("parent"))
        children_raw = body.get("children", body.get("content"))
        specs = parse_children("body.children", children_raw) if children_raw is not None else []
        props_raw = check_object("body.properties", body.get("properties", {}))
        with self.store.transaction():
            parent, ds = self._page_parent_for_create(parent_raw)
            now = self._now()
            page: Record = {
                "id": new_id(),
                "kind": "page",
                "parent": parent,
                "props": {},
                "children": [],
                "created": now,
                "edited": now,
                "edited_by": self._editor_id(),
                "in_trash": False,
                "icon": body.get("icon"),
                "cover": body.get("cover"),
            }
            values = self._normalize_properties(ds, props_raw)
            self.store.insert(page)
            self._write_values(ds, page, values)
            if ds is None:
                self._attach_to_parent(parent, page["id"])
            self._create_blocks(page, specs, 0)
            return self.render_page(page)

    def _page_parent_for_create(self, raw: Record) -> tuple[Record, Record | None]:
        if "data_source_id" in raw or raw.get("type") == "data_source_id":
            ds = self._data_source(str(raw.get("data_source_id")))
            return {"type": "data_source_id", "data_source_id": ds["id"]}, ds
        if "database_id" in raw or raw.get("type") == "database_id":
            db = self._get("database", str(raw.get("database_id")))
            if len(db["data_sources"]) != 1:
                raise validation("Databases with multiple data sources are not supported in this API version.")
            only_ds = self.store.get(db["data_sources"][0], "data_source")
            assert only_ds is not None
            return {"type": "data_source_id", "data_source_id": only_ds["id"]}, only_ds
        return self._container_parent(raw), None

    def _normalize_properties(self, ds: Record | None, raw: Record) -> list[tuple[Record, Any]]:
        """Validate every value before anything is written (a rejected request changes nothing)."""
        out: list[tuple[Record, Any]] = []
        for key, value in raw.items():
            path = f"body.properties.{key}"
            if ds is None:
                if key != "title" and not (isinstance(value, dict) and "title" in value):
                    raise validation(f"{key} is not a property that exists.")
                prop = {"id": "title", "name": "title", "type": "title", "config": {}}
            else:
                found = find_property(ds, key)
                if found is None:
                    raise validation(f"{key} is not a property that exists.")
                prop = found
            if value is None:
                if prop["type"] in ("title", "rich_text", "multi_select", "relation", "people", "checkbox"):
                    raise validation(f"{prop['name']} is expected to be {prop['type']}.")
                out.append((prop, None))
                continue
            out.append((prop, normalize_value(path, prop, value, self._values)))
        return out

    def _write_values(self, ds: Record | None, page: Record, values: list[tuple[Record, Any]]) -> None:
        for prop, value in values:
            if prop["type"] == "relation":
                self._set_relation(page, prop, value or [])
                continue
            if prop["type"] in ("select", "multi_select") and ds is not None and value is not None:
                for name in [value] if isinstance(value, str) else value:
                    add_option(ds["props"][prop["id"]], name)
                self.store.touch(ds)
            page["props"][prop["id"]] = value
        self.store.touch(page)

    def _set_relation(self, page: Record, prop: Record, new_ids: list[str]) -> None:
        old_ids: list[str] = page["props"].get(prop["id"], [])
        page["props"][prop["id"]] = list(new_ids)
        config = prop["config"]
        if config.get("type") != "dual_property":
            return
        mirror = config["dual_property"]["synced_property_id"]
        now = self._now()
        for target_id in set(new_ids) - set(old_ids):
            target = self.store.objects[target_id]
            refs = target["props"].setdefault(mirror, [])
            if page["id"] not in refs:
                refs.append(page["id"])
                target["edited"] = now
                target["edited_by"] = self._editor_id()
                self.store.touch(target)
        for target_id in set(old_ids) - set(new_ids):
            old_target = self.store.get(target_id, "page")
            if old_target is not None and page["id"] in old_target["props"].get(mirror, []):
                old_target["props"][mirror].remove(page["id"])
                old_target["edited"] = now
                old_target["edited_by"] = self._editor_id()
                self.store.touch(old_target)

    def get_page(self, page_id: str, params: Query) -> Record:
        with self.store.lock:
            page = self._get("page", page_id)
            only = params.get("filter_properties") or params.get("filter_properties[]")
            return self.render_page(page, only)

    def update_page(self, page_id: str, body: Record) -> Record:
        reject_unknown_keys(
            "body",
            body,
            {
                "properties",
                "icon",
                "cover",
                "is_locked",
                "template",
                "erase_content",
                "archived",
                "in_trash",
                "is_archived",
            },
        )
        with self.store.transaction():
            page = self._get("page", page_id)
            trash = trash_flag(body)
            edits = any(k in body for k in ("properties", "icon", "cover", "erase_content", "is_locked"))
            if page["in_trash"] and trash is not False and edits:
                raise validation("Can't edit block that is archived. You must unarchive the block before editing.")
            ds = self.page_data_source(page)
            values = self._normalize_properties(ds, check_object("body.properties", body.get("properties", {})))
            self._write_values(ds, page, values)
            for key in ("icon", "cover", "is_locked"):
                if key in body:
                    page[key] = body[key]
            if body.get("erase_content") is True:
                for child_id in page["children"]:
                    self._trash(self.store.objects[child_id], True)
                page["children"] = []
            if trash is not None:
                page["in_trash"] = trash
            page["edited"] = self._now()
            page["edited_by"] = self._editor_id()
            self.store.touch(page)
            return self.render_page(page)

    def get_page_property(self, page_id: str, property_id: str, params: Query) -> Record:
        with self.store.lock:
            page = self._get("page", page_id)
            ds = self.page_data_source(page)
            if ds is None:
                prop: Record | None = {"id": "title", "name": "title", "type": "title", "config": {}}
            else:
                prop = find_property(ds, property_id)
            if prop is None:
                raise not_found("property", property_id)
            value = render_value(page, prop, self.store.bot_user_id)
            kind = prop["type"]
            if kind not in ("relation", "people", "title", "rich_text"):
                return {"object": "property_item", **value}
            items = [
                {"object": "property_item", "id": prop["id"], "type": kind, kind: v}
                for v in self._full_list(page, prop)
            ]
            page_size = check_page_size("query.page_size", first_param(params, "page_size"))
            window = query_mod.paginate(
                items, [str(i) for i in range(len(items))], page_size, first_param(params, "start_cursor")
            )
            out = list_response(window.items, window, "property_item")
            out["property_item"] = {"id": prop["id"], "next_url": None, "type": kind, kind: {}}
            return out

    def _full_list(self, page: Record, prop: Record) -> list[Any]:
        value = page["props"].get(prop["id"], [])
        if prop["type"] == "relation":
            return [{"id": v} for v in value]
        if prop["type"] == "people":
            return [{"object": "user", "id": v} for v in value]
        return list(value)
