"""Database and data source endpoints: create, retrieve, update, property configuration, dual relations."""

from __future__ import annotations

from typing import Any

from .api_base import trash_flag
from .errors import body_validation, not_found, validation
from .ids import new_id, try_parse_id
from .properties import config_type, find_property, new_property_id, normalize_options
from .render import Renderer
from .richtext import normalize_rich_text, plain_text
from .store import Record
from .validation import check_object, check_text, reject_unknown_keys
from .views_api import add_default_view


class SchemaEndpoints(Renderer):
    """``/v1/databases`` and ``/v1/data_sources`` (except query); every mutation runs in a transaction."""

    def create_database(self, body: Record) -> Record:
        if "properties" in body:
            # The 2025-09-03 API keeps the schema on the data source; a top-level schema would be lost.
            raise body_validation(
                "body.properties", "should be not present; put the schema in `initial_data_source.properties`"
            )
        reject_unknown_keys(
            "body", body, {"parent", "title", "description", "is_inline", "initial_data_source", "icon", "cover"}
        )
        parent = self._container_parent(check_object("body.parent", body.get("parent")))
        title = normalize_rich_text("body.title", body.get("title", []))
        description = normalize_rich_text("body.description", body.get("description", []))
        initial = check_object("body.initial_data_source", body.get("initial_data_source", {}))
        with self.store.transaction():
            now = self._now()
            db = self.store.insert(
                {
                    "id": new_id(),
                    "kind": "database",
                    "parent": parent,
                    "title": title,
                    "description": description,
                    "is_inline": bool(body.get("is_inline", False)),
                    "data_sources": [],
                    "created": now,
                    "edited": now,
                    "in_trash": False,
                    "is_locked": False,
                    "icon": body.get("icon"),
                    "cover": body.get("cover"),
                }
            )
            ds = self._new_data_source(db, title, initial.get("properties", {}), "body.initial_data_source")
            add_default_view(self.store, db, ds)  # Notion gives a new database one table view
            self._attach_to_parent(parent, db["id"])
            self.store.touch(ds)
            return self.render_database(db)

    def _new_data_source(self, db: Record, title: list[Record], properties: Any, path: str) -> Record:
        now = self._now()
        ds = self.store.insert(
            {
                "id": new_id(),
                "kind": "data_source",
                "database_id": db["id"],
                "title": title,
                "props": {},
                "created": now,
                "edited": now,
                "in_trash": False,
            }
        )
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
        reject_unknown_keys(
            "body",
            body,
            {"parent", "title", "description", "is_inline", "icon", "cover", "in_trash", "archived", "is_locked"},
        )
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
            trash = trash_flag(body)
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
        reject_unknown_keys(
            "body", body, {"title", "icon", "properties", "in_trash", "archived", "parent", "description"}
        )
        with self.store.transaction():
            ds = self._data_source(ds_id)
            self.store.touch(ds)
            if "title" in body:
                ds["title"] = normalize_rich_text("body.title", body["title"])
            if "properties" in body:
                self._apply_schema(ds, check_object("body.properties", body["properties"]), "body.properties")
            trash = trash_flag(body)
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
            prop["config"] = {
                "options": normalize_options(
                    f"{path}.options", config.get("options", []), prop["config"].get("options")
                )
            }
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
        target["props"][mirror_id] = {
            "id": mirror_id,
            "name": mirror_name,
            "type": "relation",
            "config": {
                "data_source_id": ds["id"],
                "type": "dual_property",
                "dual_property": {"synced_property_id": prop["id"]},
            },
        }
        prop["config"] = {"data_source_id": target_id, "type": mode, "dual_property": {"synced_property_id": mirror_id}}
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
