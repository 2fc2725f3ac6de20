"""Notion's JSON shape for pages, databases, data sources and blocks."""

from __future__ import annotations

from .api_base import ApiBase
from .blocks import render_block
from .errors import validation
from .ids import iso_minute
from .properties import find_property, render_schema, render_value, title_property
from .richtext import plain_text
from .store import Record


class Renderer(ApiBase):
    """Turns stored records into the objects the endpoints return."""

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
        return {
            "object": "page",
            "id": page["id"],
            "created_time": iso_minute(page["created"]),
            "last_edited_time": iso_minute(page["edited"]),
            "created_by": self._user_ref(),
            "last_edited_by": self._user_ref(page.get("edited_by")),
            "cover": page.get("cover"),
            "icon": page.get("icon"),
            "parent": self._page_parent(page),
            "archived": page["in_trash"],
            "in_trash": page["in_trash"],
            "is_archived": False,
            "is_locked": page.get("is_locked", False),
            "properties": props,
            "url": notion_url(page["id"]),
            "public_url": None,
        }

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
        return {
            "object": "database",
            "id": db["id"],
            "title": db["title"],
            "description": db["description"],
            "parent": db["parent"],
            "is_inline": db["is_inline"],
            "in_trash": db["in_trash"],
            "archived": db["in_trash"],
            "is_locked": db.get("is_locked", False),
            "created_time": iso_minute(db["created"]),
            "last_edited_time": iso_minute(db["edited"]),
            "created_by": self._user_ref(),
            "last_edited_by": self._user_ref(),
            "data_sources": [{"id": s["id"], "name": plain_text(s["title"])} for s in sources if s],
            "icon": db.get("icon"),
            "cover": db.get("cover"),
            "url": notion_url(db["id"]),
            "public_url": None,
        }

    def render_data_source(self, ds: Record) -> Record:
        db = self.store.get(ds["database_id"], "database")
        props = {p["name"]: self._render_schema(p) for p in ds["props"].values()}
        return {
            "object": "data_source",
            "id": ds["id"],
            "created_time": iso_minute(ds["created"]),
            "last_edited_time": iso_minute(ds["edited"]),
            "created_by": self._user_ref(),
            "last_edited_by": self._user_ref(),
            "title": ds["title"],
            "description": [],
            "icon": db.get("icon") if db else None,
            "properties": props,
            "parent": {"type": "database_id", "database_id": ds["database_id"]},
            "database_parent": db["parent"] if db else None,
            "is_inline": bool(db and db["is_inline"]),
            "archived": ds["in_trash"],
            "in_trash": ds["in_trash"],
            "url": notion_url(ds["id"]),
            "public_url": None,
        }

    def _render_schema(self, prop: Record) -> Record:
        out = render_schema(prop)
        if prop["type"] == "relation":
            config = dict(prop["config"])
            target = self.store.get(config["data_source_id"], "data_source")
            config["database_id"] = target["database_id"] if target else None
            if config["type"] == "dual_property":
                synced_id = config["dual_property"]["synced_property_id"]
                partner = target["props"].get(synced_id) if target else None
                config["dual_property"] = {
                    "synced_property_id": synced_id,
                    "synced_property_name": partner["name"] if partner else None,
                }
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
        shell = {
            "id": rec["id"],
            "type": kind,
            "content": {"title": plain_text(title)},
            "parent": self._block_parent_of(rec),
            "created": rec["created"],
            "edited": rec["edited"],
            "in_trash": rec["in_trash"],
        }
        return render_block(shell, has_children, self.store.bot_user_id)

    def _block_parent_of(self, rec: Record) -> Record:
        parent = rec["parent"]
        if parent["type"] == "data_source_id":
            return {"type": "database_id", "database_id": self._page_parent(rec)["database_id"]}
        return dict(parent)


def notion_url(object_id: str) -> str:
    return f"https://www.notion.so/{object_id.replace('-', '')}"
