"""The Notion endpoints' behaviour over the store; HTTP concerns live in ``server``."""

from __future__ import annotations

import time
from typing import Any

from . import query as query_mod
from .blocks import BlockSpec, normalize_content, parse_children, render_block
from .errors import body_validation, not_found, validation
from .ids import iso_minute, new_id, parse_id, try_parse_id
from .properties import (
    ValueContext,
    add_option,
    config_type,
    find_property,
    new_property_id,
    normalize_options,
    normalize_value,
    render_schema,
    render_value,
    title_property,
)
from .richtext import normalize_rich_text, plain_text
from .store import Record, Store
from .validation import check_object, check_page_size, check_text, reject_unknown_keys

Query = dict[str, list[str]]


def _list(results: list[Any], page: query_mod.PageOfResults, kind: str) -> Record:
    return {"object": "list", "results": results, "next_cursor": page.next_cursor, "has_more": page.has_more,
            "type": kind, kind: {}}


class NotionApi:
    """One method per endpoint; every mutation runs inside a store transaction."""

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

    def _user_ref(self) -> Record:
        return {"object": "user", "id": self.store.bot_user_id}

    # -- rendering --------------------------------------------------------------------------------

    def render_page(self, page: Record, only: list[str] | None = None) -> Record:
        props: Record = {}
        ds = self.page_data_source(page)
        if ds is None:
            props["title"] = {"id": "title", "type": "title", "title": page["props"].get("title", [])}
        else:
            wanted = None if only is None else self._resolve_filter_properties(ds, only)
            for prop in ds["props"].values():
                if wanted is None or prop["id"] in wanted:
                    props[prop["name"]] = render_value(page, prop, self.store.bot_user_id)
        return {"object": "page", "id": page["id"], "created_time": iso_minute(page["created"]),
                "last_edited_time": iso_minute(page["edited"]), "created_by": self._user_ref(),
                "last_edited_by": self._user_ref(), "cover": page.get("cover"), "icon": page.get("icon"),
                "parent": self._page_parent(page), "archived": page["in_trash"], "in_trash": page["in_trash"],
                "is_archived": False, "is_locked": page.get("is_locked", False), "properties": props,
                "url": _url(page["id"]), "public_url": None}

    def _resolve_filter_properties(self, ds: Record, keys: list[str]) -> set[str]:
        wanted: set[str] = set()
        for key in keys:
            prop = find_property(ds, key)
            if prop is None:
                raise validation(f"Could not find property with name or id: {key}")
            wanted.add(prop["id"])
        return wanted

    def _page_parent(self, page: Record) -> Record:
        parent = dict(page["parent"])
        if parent["type"] == "data_source_id":
            ds = self.store.get(parent["data_source_id"], "data_source")
            parent["database_id"] = ds["database_id"] if ds else None
        return parent

    def page_data_source(self, page: Record) -> Record | None:
        ds_id = page["parent"].get("data_source_id")
        return self.store.get(ds_id, "data_source") if ds_id else None

    def render_database(self, db: Record) -> Record:
        sources = [self.store.get(i, "data_source") for i in db["data_sources"]]
        return {"object": "database", "id": db["id"], "title": db["title"], "description": db["description"],
                "parent": db["parent"], "is_inline": db["is_inline"], "in_trash": db["in_trash"],
                "archived": db["in_trash"], "is_locked": db.get("is_locked", False),
                "created_time": iso_minute(db["created"]), "last_edited_time": iso_minute(db["edited"]),
                "created_by": self._user_ref(), "last_edited_by": self._user_ref(),
                "data_sources": [{"id": s["id"], "name": plain_text(s["title"])} for s in sources if s],
                "icon": db.get("icon"), "cover": db.get("cover"), "url": _url(db["id"]), "public_url": None}

    def render_data_source(self, ds: Record) -> Record:
        db = self.store.get(ds["database_id"], "database")
        props = {p["name"]: self._render_schema(p) for p in ds["props"].values()}
        return {"object": "data_source", "id": ds["id"], "created_time": iso_minute(ds["created"]),
                "last_edited_time": iso_minute(ds["edited"]), "created_by": self._user_ref(),
                "last_edited_by": self._user_ref(), "title": ds["title"], "description": [],
                "icon": db.get("icon") if db else None, "properties": props,
                "parent": {"type": "database_id", "database_id": ds["database_id"]},
                "database_parent": db["parent"] if db else None, "is_inline": bool(db and db["is_inline"]),
                "archived": ds["in_trash"], "in_trash": ds["in_trash"], "url": _url(ds["id"]), "public_url": None}

    def _render_schema(self, prop: Record) -> Record:
        out = render_schema(prop)
        if prop["type"] == "relation":
            config = dict(prop["config"])
            target = self.store.get(config["data_source_id"], "data_source")
            config["database_id"] = target["database_id"] if target else None
            if config["type"] == "dual_property":
                synced_id = config["dual_property"]["synced_property_id"]
                partner = target["props"].get(synced_id) if target else None
                config["dual_property"] = {"synced_property_id": synced_id,
                                           "synced_property_name": partner["name"] if partner else None}
            out["relation"] = config
        return out

    def render_block_like(self, rec: Record) -> Record:
        """A child in a block list: real blocks, or child_page/child_database stand-ins."""
        has_children = any(self._visible(c) for c in rec.get("children", []))
        if rec["kind"] == "block":
            return render_block(rec, has_children, self.store.bot_user_id)
        kind = "child_page" if rec["kind"] == "page" else "child_database"
        title = rec["props"].get("title", []) if rec["kind"] == "page" else rec["title"]
        if rec["kind"] == "page" and (ds := self.page_data_source(rec)):
            title = rec["props"].get(title_property(ds)["id"], [])
        shell = {"id": rec["id"], "type": kind, "content": {"title": plain_text(title)},
                 "parent": self._block_parent_of(rec), "created": rec["created"], "edited": rec["edited"],
                 "in_trash": rec["in_trash"]}
        return render_block(shell, has_children, self.store.bot_user_id)

    def _block_parent_of(self, rec: Record) -> Record:
        parent = rec["parent"]
        if parent["type"] == "data_source_id":
            return {"type": "database_id", "database_id": self._page_parent(rec)["database_id"]}
        return dict(parent)

    def _visible(self, object_id: str) -> bool:
        rec = self.store.get(object_id)
        return rec is not None and not rec["in_trash"]

    # -- databases and data sources ---------------------------------------------------------------

    def create_database(self, body: Record) -> Record:
        if "properties" in body:
            # The 2025-09-03 API keeps the schema on the data source; a top-level schema would be lost.
            raise body_validation("body.properties", "should be not present; put the schema in "
                                                     "`initial_data_source.properties`")
        reject_unknown_keys("body", body, {"parent", "title", "description", "is_inline", "initial_data_source",
                                           "icon", "cover"})
        parent = self._container_parent(check_object("body.parent", body.get("parent")))
        title = normalize_rich_text("body.title", body.get("title", []))
        description = normalize_rich_text("body.description", body.get("description", []))
        initial = check_object("body.initial_data_source", body.get("initial_data_source", {}))
        with self.store.transaction():
            now = self._now()
            db = self.store.insert({"id": new_id(), "kind": "database", "parent": parent, "title": title,
                                    "description": description, "is_inline": bool(body.get("is_inline", False)),
                                    "data_sources": [], "created": now, "edited": now, "in_trash": False,
                                    "is_locked": False, "icon": body.get("icon"), "cover": body.get("cover")})
            ds = self._new_data_source(db, title, initial.get("properties", {}), "body.initial_data_source")
            self._attach_to_parent(parent, db["id"])
            self.store.touch(ds)
            return self.render_database(db)

    def _container_parent(self, parent: Record) -> Record:
        if parent.get("type") == "workspace" or parent.get("workspace") is True:
            raise validation("Creating objects at the workspace level is not supported for internal "
                             "integrations; use a page parent.")
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

    def _new_data_source(self, db: Record, title: list[Record], properties: Any, path: str) -> Record:
        now = self._now()
        ds = self.store.insert({"id": new_id(), "kind": "data_source", "database_id": db["id"], "title": title,
                                "props": {}, "created": now, "edited": now, "in_trash": False})
        db["data_sources"].append(ds["id"])
        self.store.touch(db)
        props = check_object(f"{path}.properties", properties)
        if not any(config_type(f"{path}.properties.{k}", v)[0] == "title" for k, v in props.items() if v):
            ds["props"]["title"] = {"id": "title", "name": "Name", "type": "title", "config": {}}
        self._apply_schema(ds, props, f"{path}.properties")
        return ds

    def get_database(self, db_id: str) -> Record:
        return self.render_database(self._get("database", db_id))

    def update_database(self, db_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, {"parent", "title", "description", "is_inline", "icon", "cover",
                                           "in_trash", "archived", "is_locked"})
        with self.store.transaction():
            db = self._get("database", db_id)
            self.store.touch(db)
            if "title" in body:
                db["title"] = normalize_rich_text("body.title", body["title"])
            if "description" in body:
                db["description"] = normalize_rich_text("body.description", body["description"])
            for key in ("icon", "cover", "is_locked", "is_inline"):
                if key in body:
                    db[key] = body[key]
            trash = _trash_flag(body)
            if trash is not None:
                db["in_trash"] = trash
                for ds_id in db["data_sources"]:
                    ds = self.store.get(ds_id)
                    if ds:
                        ds["in_trash"] = trash
                        self.store.touch(ds)
            db["edited"] = self._now()
            self.store.touch(db)
            return self.render_database(db)

    def create_data_source(self, body: Record) -> Record:
        parent = check_object("body.parent", body.get("parent"))
        db_id = try_parse_id(parent.get("database_id"))
        if db_id is None:
            raise body_validation("body.parent.database_id", "should be a valid uuid")
        with self.store.transaction():
            db = self._get("database", db_id)
            title = normalize_rich_text("body.title", body.get("title", []))
            ds = self._new_data_source(db, title, body.get("properties", {}), "body")
            return self.render_data_source(ds)

    def get_data_source(self, ds_id: str) -> Record:
        return self.render_data_source(self._data_source(ds_id))

    def update_data_source(self, ds_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, {"title", "icon", "properties", "in_trash", "archived", "parent",
                                           "description"})
        with self.store.transaction():
            ds = self._data_source(ds_id)
            self.store.touch(ds)
            if "title" in body:
                ds["title"] = normalize_rich_text("body.title", body["title"])
            if "properties" in body:
                self._apply_schema(ds, check_object("body.properties", body["properties"]), "body.properties")
            trash = _trash_flag(body)
            if trash is not None:
                ds["in_trash"] = trash
            ds["edited"] = self._now()
            self.store.touch(ds)
            return self.render_data_source(ds)

    def _apply_schema(self, ds: Record, changes: Record, path: str) -> None:
        for key, change in changes.items():
            ppath = f"{path}.{key}"
            prop = find_property(ds, key)
            if change is None:
                if prop is None:
                    raise validation(f"{key} is not a property that exists.")
                self._remove_property(ds, prop)
                continue
            body = check_object(ppath, change)
            new_name = check_text(f"{ppath}.name", body.get("name", key if prop is None else prop["name"]), 100)
            if prop is not None and new_name != prop["name"] and find_property(ds, new_name) not in (None, prop):
                raise validation(f"A property named {new_name} already exists.")
            has_type = any(k != "name" and k != "description" for k in body)
            if prop is None:
                if not has_type:
                    raise validation(f"{key} is not a property that exists.")
                kind, config = config_type(ppath, body)
                if kind == "title" and any(p["type"] == "title" for p in ds["props"].values()):
                    raise validation("A data source can only have one title property.")
                pid = "title" if kind == "title" else new_property_id()
                prop = {"id": pid, "name": new_name, "type": kind, "config": {}}
                ds["props"][pid] = prop
                self._configure(ds, prop, kind, config, f"{ppath}.{kind}")
            else:
                prop["name"] = new_name
                if has_type:
                    kind, config = config_type(ppath, body)
                    if kind != prop["type"]:
                        if prop["type"] == "title" or kind == "title":
                            raise validation("Cannot change the type of the title property.")
                        self._drop_values(ds, prop)
                        if prop["type"] == "relation":
                            self._unlink_partner(prop)
                        prop["type"] = kind
                        prop["config"] = {}
                    self._configure(ds, prop, kind, config, f"{ppath}.{kind}")
            if "description" in body:
                prop["description"] = body["description"]

    def _configure(self, ds: Record, prop: Record, kind: str, raw: Any, path: str) -> None:
        config = check_object(path, raw if raw is not None else {})
        if kind in ("select", "multi_select", "status"):
            prop["config"] = {"options": normalize_options(f"{path}.options", config.get("options", []),
                                                           prop["config"].get("options"))}
        elif kind == "number":
            prop["config"] = {"format": str(config.get("format", prop["config"].get("format", "number")))}
        elif kind == "relation":
            self._configure_relation(ds, prop, config, path)
        else:
            prop["config"] = {}

    def _configure_relation(self, ds: Record, prop: Record, config: Record, path: str) -> None:
        target_id = try_parse_id(config.get("data_source_id"))
        if target_id is None and (db_id := try_parse_id(config.get("database_id"))):
            db = self.store.get(db_id, "database")
            target_id = db["data_sources"][0] if db and db["data_sources"] else None
        if target_id is None:
            raise body_validation(f"{path}.data_source_id", "should be a valid uuid")
        target = self.store.get(target_id, "data_source")
        if target is None:
            raise not_found("data_source", target_id)
        mode = config.get("type", "dual_property" if "dual_property" in config else "single_property")
        if mode not in ("single_property", "dual_property"):
            raise body_validation(f"{path}.type", "should be `single_property` or `dual_property`")
        old = prop["config"]
        if old.get("data_source_id") == target_id and old.get("type") == mode:
            return  # re-provisioning the same relation is a no-op
        if old:
            self._unlink_partner(prop)
        if mode == "single_property":
            prop["config"] = {"data_source_id": target_id, "type": mode, "single_property": {}}
            return
        dual = check_object(f"{path}.dual_property", config.get("dual_property", {}))
        mirror_name = dual.get("synced_property_name") or f"Related to {plain_text(ds['title'])} ({prop['name']})"
        check_text(f"{path}.dual_property.synced_property_name", mirror_name, 100)
        while find_property(target, mirror_name) is not None:
            mirror_name += " (1)"
        mirror_id = new_property_id()
        target["props"][mirror_id] = {"id": mirror_id, "name": mirror_name, "type": "relation",
                                      "config": {"data_source_id": ds["id"], "type": "dual_property",
                                                 "dual_property": {"synced_property_id": prop["id"]}}}
        prop["config"] = {"data_source_id": target_id, "type": mode,
                          "dual_property": {"synced_property_id": mirror_id}}
        self.store.touch(target)

    def _unlink_partner(self, prop: Record) -> None:
        """Removing one side of a two-way relation removes its mirror, as in Notion."""
        config = prop["config"]
        if config.get("type") != "dual_property":
            return
        target = self.store.get(config["data_source_id"], "data_source")
        partner_id = config["dual_property"]["synced_property_id"]
        if target is not None and partner_id in target["props"]:
            self._drop_values(target, target["props"][partner_id])
            del target["props"][partner_id]
            self.store.touch(target)

    def _remove_property(self, ds: Record, prop: Record) -> None:
        if prop["type"] == "title":
            raise validation("Cannot delete the title property.")
        if prop["type"] == "relation":
            self._unlink_partner(prop)
        self._drop_values(ds, prop)
        del ds["props"][prop["id"]]

    def _drop_values(self, ds: Record, prop: Record) -> None:
        for page_id in self.store.rows.get(ds["id"], []):
            page = self.store.objects[page_id]
            if page["props"].pop(prop["id"], None) is not None:
                self.store.touch(page)

    # -- query ------------------------------------------------------------------------------------

    def query_data_source(self, ds_id: str, params: Query, body: Record) -> Record:
        reject_unknown_keys("body", body, {"filter", "sorts", "start_cursor", "page_size", "archived",
                                           "in_trash", "is_archived", "result_type", "filter_properties"})
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
            window = query_mod.paginate(pages, [p["id"] for p in pages], page_size, body.get("start_cursor"),
                                        self.query_result_limit)
            out = _list([self.render_page(p, only) for p in window.items], window, "page_or_data_source")
        if window.capped:
            out["request_status"] = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        return out

    # -- pages ------------------------------------------------------------------------------------

    def create_page(self, body: Record) -> Record:
        reject_unknown_keys("body", body, {"parent", "properties", "icon", "cover", "content", "children",
                                           "markdown", "template", "position"})
        parent_raw = check_object("body.parent", body.get("parent"))
        children_raw = body.get("children", body.get("content"))
        specs = parse_children("body.children", children_raw) if children_raw is not None else []
        props_raw = check_object("body.properties", body.get("properties", {}))
        with self.store.transaction():
            parent, ds = self._page_parent_for_create(parent_raw)
            now = self._now()
            page: Record = {"id": new_id(), "kind": "page", "parent": parent, "props": {}, "children": [],
                    "created": now, "edited": now, "in_trash": False, "icon": body.get("icon"),
                    "cover": body.get("cover")}
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
                self.store.touch(target)
        for target_id in set(old_ids) - set(new_ids):
            old_target = self.store.get(target_id, "page")
            if old_target is not None and page["id"] in old_target["props"].get(mirror, []):
                old_target["props"][mirror].remove(page["id"])
                old_target["edited"] = now
                self.store.touch(old_target)

    def get_page(self, page_id: str, params: Query) -> Record:
        with self.store.lock:
            page = self._get("page", page_id)
            only = params.get("filter_properties") or params.get("filter_properties[]")
            return self.render_page(page, only)

    def update_page(self, page_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, {"properties", "icon", "cover", "is_locked", "template",
                                           "erase_content", "archived", "in_trash", "is_archived"})
        with self.store.transaction():
            page = self._get("page", page_id)
            trash = _trash_flag(body)
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
            items = [{"object": "property_item", "id": prop["id"], "type": kind, kind: v}
                     for v in self._full_list(page, prop)]
            page_size = check_page_size("query.page_size", _first(params, "page_size"))
            window = query_mod.paginate(items, [str(i) for i in range(len(items))], page_size,
                                        _first(params, "start_cursor"))
            out = _list(window.items, window, "property_item")
            out["property_item"] = {"id": prop["id"], "next_url": None, "type": kind, kind: {}}
            return out

    def _full_list(self, page: Record, prop: Record) -> list[Any]:
        value = page["props"].get(prop["id"], [])
        if prop["type"] == "relation":
            return [{"id": v} for v in value]
        if prop["type"] == "people":
            return [{"object": "user", "id": v} for v in value]
        return list(value)

    # -- blocks -----------------------------------------------------------------------------------

    def _create_blocks(self, parent: Record, specs: list[BlockSpec], index: int) -> list[Record]:
        created: list[Record] = []
        parent_ref = ({"type": "page_id", "page_id": parent["id"]} if parent["kind"] == "page"
                      else {"type": "block_id", "block_id": parent["id"]})
        now = self._now()
        for spec in specs:
            block = self.store.insert({"id": new_id(), "kind": "block", "parent": parent_ref, "type": spec.type,
                                       "content": spec.content, "children": [], "created": now, "edited": now,
                                       "in_trash": False})
            self._create_blocks(block, spec.children, 0)
            created.append(block)
        ids = [b["id"] for b in created]
        parent["children"][index:index] = ids
        self.store.touch(parent)
        return created

    def list_children(self, block_id: str, params: Query) -> Record:
        page_size = check_page_size("query.page_size", _first(params, "page_size"))
        with self.store.lock:
            container = self._container(block_id)
            children = [c for i in container["children"] if (c := self.store.objects.get(i)) and not c["in_trash"]]
            window = query_mod.paginate(children, [c["id"] for c in children], page_size,
                                        _first(params, "start_cursor"))
            return _list([self.render_block_like(c) for c in window.items], window, "block")

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
            return _list([self.render_block_like(b) for b in created], window, "block")

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
            trash = _trash_flag(body)
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

    def _trash(self, rec: Record, value: bool) -> None:
        rec["in_trash"] = value
        rec["edited"] = self._now()
        self.store.touch(rec)

    # -- search and users -------------------------------------------------------------------------

    def search(self, body: Record) -> Record:
        reject_unknown_keys("body", body, {"query", "sort", "filter", "start_cursor", "page_size"})
        page_size = check_page_size("body.page_size", body.get("page_size"))
        text = body.get("query") or ""
        if not isinstance(text, str):
            raise body_validation("body.query", "should be a string")
        kinds: tuple[str, ...] = ("page", "data_source")
        if body.get("filter") is not None:
            flt = check_object("body.filter", body["filter"])
            if flt.get("property") != "object" or flt.get("value") not in kinds:
                raise body_validation("body.filter.value", 'should be `"page"` or `"data_source"`, instead was '
                                                           f'`"{flt.get("value")}"`')
            kinds = (flt["value"],)
        with self.store.lock:
            hits = [r for r in self.store.objects.values()
                    if r["kind"] in kinds and not r["in_trash"] and text.lower() in self._title_of(r).lower()]
            if isinstance(body.get("sort"), dict):
                descending = body["sort"].get("direction", "descending") == "descending"
                hits.sort(key=lambda r: (r["edited"], r["seq"]), reverse=descending)
            window = query_mod.paginate(hits, [h["id"] for h in hits], page_size, body.get("start_cursor"))
            results = [self.render_page(r) if r["kind"] == "page" else self.render_data_source(r)
                       for r in window.items]
            return _list(results, window, "page_or_data_source")

    def _title_of(self, rec: Record) -> str:
        if rec["kind"] == "data_source" or rec["kind"] == "database":
            return plain_text(rec["title"])
        ds = self.page_data_source(rec)
        return plain_text(rec["props"].get(title_property(ds)["id"] if ds else "title", []))

    def users(self) -> list[Record]:
        bot = {"object": "user", "id": self.store.bot_user_id, "type": "bot", "name": "SSOT Sandbox",
               "avatar_url": None, "bot": {"owner": {"type": "workspace", "workspace": True},
                                           "workspace_name": "SecondBrain Sandbox"}}
        person = {"object": "user", "id": self.store.person_user_id, "type": "person", "name": "Sandbox Person",
                  "avatar_url": None, "person": {"email": "person@sandbox.invalid"}}
        return [bot, person]

    def list_users(self, params: Query) -> Record:
        page_size = check_page_size("query.page_size", _first(params, "page_size"))
        users = self.users()
        window = query_mod.paginate(users, [u["id"] for u in users], page_size,
                                    _first(params, "start_cursor"))
        return _list(window.items, window, "user")

    def get_user(self, user_id: str) -> Record:
        uid = parse_id(user_id, "path.user_id")
        for user in self.users():
            if user["id"] == uid:
                return user
        raise not_found("user", uid)

    def me(self) -> Record:
        return self.users()[0]


def _trash_flag(body: Record) -> bool | None:
    for key in ("in_trash", "archived"):
        if key in body:
            value = body[key]
            if not isinstance(value, bool):
                raise body_validation(f"body.{key}", "should be a boolean")
            return value
    return None


def _first(params: Query, key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _url(object_id: str) -> str:
    return f"https://www.notion.so/{object_id.replace('-', '')}"

