"""The Views API (``/v1/views``): database tabs, dashboards and their widgets, and cached view queries.

Shapes and rules follow notion-2026.md §3 (types from notion-sdk-js 5.26.0 ``views.ts``): group-by and chart
axes name a property by **id** and must fit its type; ``configuration.type`` equals the view's ``type``; a
view is added to exactly one of a database (a tab), a dashboard (a widget, ``view_id``) or a page
(``create_database``); the last tab of a database cannot be deleted, and deleting a dashboard archives its
widgets. A database gets a default table view when it is created, as in Notion. Views need Notion-Version
2025-09-03 or later. A view query caches its result for 15 minutes (``view_query_ttl_seconds``), then 404s.

Where Notion's exact message is not documented the sandbox uses Notion's envelope (``validation_error``,
``object_not_found``) with a message that names the field, the way its documented messages do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from . import query as query_mod
from .api_base import Query, first_param, list_response
from .errors import body_validation, not_found, validation
from .ids import iso_minute, new_id, parse_id, try_parse_id
from .render import Renderer, notion_url
from .store import Record, Store
from .validation import check_array, check_object, check_page_size, check_text, reject_unknown_keys

VIEW_TYPES = ("table", "board", "list", "calendar", "timeline", "gallery", "form", "chart", "map", "dashboard")
MIN_VERSION = "2025-09-03"
VIEW_QUERY_TTL_SECONDS = 15 * 60
DEFAULT_VIEW_NAME = "Default view"

# The group-by ``type`` each property type takes (views.ts GroupByConfig variants).
GROUP_TYPE_OF_PROPERTY = {
    "select": "select",
    "multi_select": "multi_select",
    "status": "status",
    "date": "date",
    "created_time": "created_time",
    "last_edited_time": "last_edited_time",
    "title": "title",
    "rich_text": "text",
    "url": "url",
    "email": "email",
    "phone_number": "phone_number",
    "number": "number",
    "people": "person",
    "created_by": "created_by",
    "last_edited_by": "last_edited_by",
    "relation": "relation",
    "checkbox": "checkbox",
    "formula": "formula",
}
DATE_PROPERTY_TYPES = ("date", "created_time", "last_edited_time")
AGGREGATORS = (
    "count",
    "count_values",
    "sum",
    "average",
    "median",
    "min",
    "max",
    "range",
    "unique",
    "empty",
    "not_empty",
    "percent_empty",
    "percent_not_empty",
    "checked",
    "unchecked",
    "percent_checked",
    "percent_unchecked",
    "earliest_date",
    "latest_date",
    "date_range",
)
CHART_TYPES = ("column", "bar", "line", "donut", "number")
GROUP_SORTS = ("manual", "ascending", "descending")
_CREATE_KEYS = {
    "data_source_id",
    "name",
    "type",
    "database_id",
    "view_id",
    "filter",
    "sorts",
    "quick_filters",
    "create_database",
    "configuration",
    "position",
    "placement",
}
_UPDATE_KEYS = {"name", "filter", "sorts", "quick_filters", "configuration"}


def check_views_version(version: str | None) -> None:
    """Views exist from Notion-Version 2025-09-03 on (dated versions compare as strings)."""
    if version is not None and version < MIN_VERSION:
        raise validation(f"The views API requires Notion-Version {MIN_VERSION} or later; this request sent {version}.")


def insert_view(
    store: Store, db_id: str, ds_id: str, name: str, view_type: str, config: Record | None, actor: str, body: Record
) -> Record:
    """Store a new view (inside the caller's transaction); the caller places it as a tab or a widget."""
    now = time.time()
    return store.insert(
        {
            "id": new_id(),
            "kind": "view",
            "database_id": db_id,
            "data_source_id": ds_id,
            "name": name,
            "type": view_type,
            "filter": body.get("filter"),
            "sorts": body.get("sorts"),
            "quick_filters": body.get("quick_filters"),
            "configuration": config,
            "widgets": [],
            "rows": [],
            "created": now,
            "edited": now,
            "created_by": actor,
            "last_edited_by": actor,
            "in_trash": False,
        }
    )


def add_default_view(store: Store, db: Record, ds: Record) -> None:
    """Notion gives every new database one table view, made by whoever made the database (here the
    integration); call it inside the creating transaction."""
    view = insert_view(store, db["id"], ds["id"], DEFAULT_VIEW_NAME, "table", {"type": "table"}, store.bot_user_id, {})
    db.setdefault("views", []).append(view["id"])
    store.touch(db)


@dataclass
class ViewQuery:
    id: str
    view_id: str
    page_ids: list[str]
    capped: bool
    expires: float


class ViewEndpoints(Renderer):
    """``/v1/views`` and ``/v1/views/{id}/queries``; every mutation runs in a store transaction."""

    acting_as_person = False  # set by the HTTP layer per request: an edit made through the person prefix
    view_query_ttl_seconds: float = VIEW_QUERY_TTL_SECONDS

    # -- list, create, retrieve, update, delete ----------------------------------------------------

    def list_views(self, params: Query) -> Record:
        db_raw, ds_raw = first_param(params, "database_id"), first_param(params, "data_source_id")
        if db_raw is None and ds_raw is None:
            raise validation("query failed validation: one of database_id or data_source_id should be defined.")
        page_size = check_page_size("query.page_size", first_param(params, "page_size"))
        with self.store.lock:
            views: list[Record]
            if db_raw is not None:
                db = self._get("database", db_raw)
                views = self._tabs(db)
                if ds_raw is not None:
                    ds_id = parse_id(ds_raw, "query.data_source_id")
                    views = [v for v in views if v["data_source_id"] == ds_id]
            else:
                ds = self._get("data_source", str(ds_raw))
                views = sorted(
                    (
                        v
                        for v in self.store.objects.values()
                        if v["kind"] == "view"
                        and not v["in_trash"]
                        and v["type"] != "dashboard"
                        and v["data_source_id"] == ds["id"]
                    ),
                    key=lambda v: int(v["seq"]),
                )
            window = query_mod.paginate(views, [v["id"] for v in views], page_size, first_param(params, "start_cursor"))
            return list_response([{"object": "view", "id": v["id"]} for v in window.items], window, "view")

    def create_view(self, body: Record) -> Record:
        reject_unknown_keys("body", body, _CREATE_KEYS)
        name = check_text("body.name", body.get("name"), 2000) if "name" in body else None
        if name is None:
            raise body_validation("body.name", "should be defined")
        view_type = body.get("type")
        if view_type not in VIEW_TYPES:
            raise body_validation(
                "body.type", f"should be one of {_choices(VIEW_TYPES)}, instead was `{_js(view_type)}`"
            )
        targets = [k for k in ("database_id", "view_id", "create_database") if body.get(k) is not None]
        if len(targets) != 1:
            raise validation(
                "body failed validation: exactly one of body.database_id, body.view_id or body.create_database "
                f"should be defined, instead {len(targets)} were."
            )
        ds_id = try_parse_id(body.get("data_source_id"))
        if ds_id is None:
            raise body_validation("body.data_source_id", "should be a valid uuid")
        with self.store.transaction():
            ds = self._get("data_source", ds_id)
            config = self._check_configuration("body.configuration", body.get("configuration"), view_type, ds)
            self._check_query_parts(body, ds, allow_timestamp_sorts=True)
            if targets[0] == "create_database":
                # A linked database block on a page: outside what this sandbox models (it says so, not silently).
                raise validation("body.create_database: linked database blocks are not supported by this sandbox.")
            if targets[0] == "database_id":
                db = self._get("database", str(body["database_id"]))
                if db["in_trash"]:
                    raise validation("Can't edit block that is archived. You must unarchive the block before editing.")
                if ds["id"] not in db["data_sources"]:
                    raise validation(f"Data source {ds['id']} does not belong to database {db['id']}.")
                if body.get("placement") is not None:
                    raise body_validation("body.placement", "should be not present unless body.view_id is given")
                view = self._new_view(db["id"], ds["id"], name, view_type, config, body)
                self._place_tab(db, view["id"], body.get("position"))
            else:
                if body.get("position") is not None:
                    raise body_validation("body.position", "should be not present unless body.database_id is given")
                if view_type == "dashboard":
                    raise validation("A dashboard cannot be added to a dashboard.")
                dashboard = self._live_view(str(body["view_id"]), "body.view_id")
                if dashboard["type"] != "dashboard":
                    raise validation(f"View {dashboard['id']} is a {dashboard['type']} view, not a dashboard.")
                view = self._new_view(dashboard["database_id"], ds["id"], name, view_type, config, body)
                view["dashboard_view_id"] = dashboard["id"]
                self._place_widget(dashboard, view["id"], body.get("placement"))
            return self.render_view(view)

    def get_view(self, view_id: str) -> Record:
        return self.render_view(self._live_view(view_id))

    def update_view(self, view_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, _UPDATE_KEYS)
        with self.store.transaction():
            view = self._live_view(view_id)
            ds = self.store.get(view["data_source_id"], "data_source")
            if ds is None:
                raise not_found("data_source", view["data_source_id"])
            if "name" in body:
                view["name"] = check_text("body.name", body["name"], 2000)
            if "configuration" in body:
                given = check_object("body.configuration", body["configuration"])
                merged = {k: v for k, v in {**(view["configuration"] or {}), **given}.items() if v is not None}
                view["configuration"] = self._check_configuration("body.configuration", merged, view["type"], ds)
            self._check_query_parts(body, ds, allow_timestamp_sorts=False)
            for key in ("filter", "sorts"):
                if key in body:
                    view[key] = body[key]
            if "quick_filters" in body:
                if body["quick_filters"] is None:
                    view["quick_filters"] = None
                else:
                    kept = {**(view["quick_filters"] or {}), **body["quick_filters"]}
                    view["quick_filters"] = {k: v for k, v in kept.items() if v is not None} or None
            self._edited(view)
            return self.render_view(view)

    def delete_view(self, view_id: str) -> Record:
        with self.store.transaction():
            view = self._live_view(view_id)
            db = self.store.get(view["database_id"], "database")
            if db is not None and not view.get("dashboard_view_id"):
                if len(self._tabs(db)) <= 1:
                    raise validation("Cannot delete the last view of a database. A database needs at least one view.")
                db["views"] = [v for v in db.get("views", []) if v != view["id"]]
                self.store.touch(db)
            for widget_id in view.get("widgets", []):  # a dashboard's widgets go with it (archived)
                widget = self.store.get(widget_id, "view")
                if widget is not None and not widget["in_trash"]:
                    self._trash_view(widget)
            parent_id = view.get("dashboard_view_id")
            parent = self.store.get(parent_id, "view") if parent_id else None
            if parent is not None:
                parent["widgets"] = [w for w in parent.get("widgets", []) if w != view["id"]]
                parent["rows"] = [[w for w in row if w != view["id"]] for row in parent.get("rows", [])]
                parent["rows"] = [row for row in parent["rows"] if row]
                self.store.touch(parent)
            self._trash_view(view)
            return {"object": "view", "id": view["id"], "parent": self._view_parent(view), "type": view["type"]}

    # -- view queries --------------------------------------------------------------------------------

    def create_view_query(self, view_id: str, body: Record) -> Record:
        reject_unknown_keys("body", body, {"page_size"})
        page_size = check_page_size("body.page_size", body.get("page_size"))
        with self.store.lock:
            view = self._live_view(view_id)
            if view["type"] == "dashboard":
                raise validation("A dashboard view has no rows to query; query one of its widgets.")
            ds = self._get("data_source", view["data_source_id"])
            rows = (self.store.objects[i] for i in self.store.rows.get(ds["id"], []))
            pages = [p for p in rows if not p["in_trash"]]
            if view.get("filter"):
                predicate = _compile_view_filter("view.filter", view["filter"], ds, 0)
                pages = [p for p in pages if predicate(p)]
            if view.get("sorts"):
                pages = query_mod.sort_pages("view.sorts", view["sorts"], ds, pages)
            capped = len(pages) > self.query_result_limit
            ids = [p["id"] for p in pages[: self.query_result_limit]]
            cached = ViewQuery(new_id(), view["id"], ids, capped, self._now() + self.view_query_ttl_seconds)
            self._view_queries()[cached.id] = cached
            out = self._query_page(cached, page_size, None)
            return {
                "object": "view_query",
                "id": cached.id,
                "view_id": view["id"],
                "expires_at": _iso_exact(cached.expires),
                "total_count": len(ids),
                **{k: out[k] for k in ("results", "next_cursor", "has_more")},
                **({"request_status": out["request_status"]} if "request_status" in out else {}),
            }

    def get_view_query_results(self, view_id: str, query_id: str, params: Query) -> Record:
        page_size = check_page_size("query.page_size", first_param(params, "page_size"))
        cached = self._cached_query(view_id, query_id)
        return self._query_page(cached, page_size, first_param(params, "start_cursor"))

    def delete_view_query(self, view_id: str, query_id: str) -> Record:
        """Idempotent: deleting an unknown or expired query succeeds too."""
        parse_id(view_id, "path.view_id")
        qid = parse_id(query_id, "path.query_id")
        self._view_queries().pop(qid, None)
        return {"object": "view_query", "id": qid, "deleted": True}

    # -- rendering -----------------------------------------------------------------------------------

    def render_view(self, view: Record) -> Record:
        out: Record = {
            "object": "view",
            "id": view["id"],
            "parent": self._view_parent(view),
            "name": view["name"],
            "type": view["type"],
            "created_time": iso_minute(view["created"]),
            "last_edited_time": iso_minute(view["edited"]),
            "url": f"{notion_url(view['database_id'])}?v={view['id'].replace('-', '')}",
            "data_source_id": None if view["type"] == "dashboard" else view["data_source_id"],
            "created_by": {"object": "user", "id": view["created_by"]},
            "last_edited_by": {"object": "user", "id": view["last_edited_by"]},
            "filter": view.get("filter"),
            "sorts": view.get("sorts"),
            "quick_filters": view.get("quick_filters"),
            "configuration": self._render_configuration(view),
        }
        if view.get("dashboard_view_id"):
            out["dashboard_view_id"] = view["dashboard_view_id"]
        return out

    def views_of(self, db: Record) -> list[Record]:
        """The live tabs of a database, in tab order."""
        return self._tabs(db)

    def widgets_of(self, dashboard: Record) -> list[Record]:
        found = (self.store.get(w, "view") for w in dashboard.get("widgets", []))
        return [w for w in found if w is not None and not w["in_trash"]]

    # -- internals -----------------------------------------------------------------------------------

    def _new_view(
        self, db_id: str, ds_id: str, name: str, view_type: str, config: Record | None, body: Record | None = None
    ) -> Record:
        actor = self.store.person_user_id if self.acting_as_person else self.store.bot_user_id
        return insert_view(self.store, db_id, ds_id, name, view_type, config, actor, body or {})

    def _edited(self, view: Record) -> None:
        view["edited"] = self._now()
        view["last_edited_by"] = self.store.person_user_id if self.acting_as_person else self.store.bot_user_id
        self.store.touch(view)

    def _trash_view(self, view: Record) -> None:
        view["in_trash"] = True
        self._edited(view)

    def _live_view(self, raw_id: str, where: str = "path.view_id") -> Record:
        view_id = parse_id(raw_id, where)
        view = self.store.get(view_id, "view")
        if view is None or view["in_trash"]:
            raise not_found("view", view_id)
        return view

    def _tabs(self, db: Record) -> list[Record]:
        found = (self.store.get(v, "view") for v in db.get("views", []))
        return [v for v in found if v is not None and not v["in_trash"]]

    def _view_parent(self, view: Record) -> Record:
        return {"type": "database_id", "database_id": view["database_id"]}

    def _place_tab(self, db: Record, view_id: str, raw: Any) -> None:
        tabs: list[str] = db.setdefault("views", [])
        position = check_object("body.position", raw) if raw is not None else {"type": "end"}
        kind = position.get("type")
        if kind == "start":
            tabs.insert(0, view_id)
        elif kind == "end":
            tabs.append(view_id)
        elif kind == "after_view":
            after = try_parse_id(position.get("view_id"))
            if after is None:
                raise body_validation("body.position.view_id", "should be a valid uuid")
            if after not in [v["id"] for v in self._tabs(db)]:
                raise validation(f"View {after} is not a view of database {db['id']}.")
            tabs.insert(tabs.index(after) + 1, view_id)
        else:
            raise body_validation(
                "body.position.type", f"should be `start`, `end` or `after_view`, instead was `{_js(kind)}`"
            )
        self.store.touch(db)

    def _place_widget(self, dashboard: Record, view_id: str, raw: Any) -> None:
        rows: list[list[str]] = dashboard.setdefault("rows", [])
        placement = check_object("body.placement", raw) if raw is not None else {"type": "new_row"}
        kind = placement.get("type")
        index = placement.get("row_index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise body_validation(
                "body.placement.row_index", f"should be a non-negative integer, instead was `{_js(index)}`"
            )
        if kind == "new_row":
            rows.insert(len(rows) if index is None else min(index, len(rows)), [view_id])
        elif kind == "existing_row":
            if index is None or index >= len(rows):
                raise body_validation("body.placement.row_index", f"should name an existing row (0 to {len(rows) - 1})")
            rows[index].append(view_id)
        else:
            raise body_validation(
                "body.placement.type", f"should be `new_row` or `existing_row`, instead was `{_js(kind)}`"
            )
        dashboard.setdefault("widgets", []).append(view_id)
        self.store.touch(dashboard)

    def _render_configuration(self, view: Record) -> Record | None:
        if view["type"] == "dashboard":
            rows = []
            for index, row in enumerate(view.get("rows", [])):
                widgets = [
                    {"id": f"{w}-widget", "view_id": w, "width": 12 // max(1, len(row)), "row_index": index}
                    for w in row
                ]
                rows.append({"id": f"{view['id']}-row-{index}", "widgets": widgets})
            return {"type": "dashboard", "rows": rows}
        config = view.get("configuration")
        return dict(config) if config else None

    def _view_queries(self) -> dict[str, ViewQuery]:
        # A cache, like Notion's: kept in memory only, lost on restart (a lost query is an expired one).
        queries: dict[str, ViewQuery] | None = getattr(self, "_view_query_cache", None)
        if queries is None:
            queries = {}
            self._view_query_cache = queries
        return queries

    def _cached_query(self, view_id: str, query_id: str) -> ViewQuery:
        vid = parse_id(view_id, "path.view_id")
        qid = parse_id(query_id, "path.query_id")
        cached = self._view_queries().get(qid)
        if cached is None or cached.view_id != vid or cached.expires <= self._now():
            self._view_queries().pop(qid, None)
            raise not_found("view_query", qid)
        return cached

    def _query_page(self, cached: ViewQuery, page_size: int, cursor: str | None) -> Record:
        window = query_mod.paginate(cached.page_ids, cached.page_ids, page_size, cursor)
        out = list_response([{"object": "page", "id": i} for i in window.items], window, "page")
        if cached.capped:
            out["request_status"] = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        return out

    # -- validation ------------------------------------------------------------------------------------

    def _check_query_parts(self, body: Record, ds: Record, *, allow_timestamp_sorts: bool) -> None:
        if body.get("filter") is not None:
            _compile_view_filter("body.filter", body["filter"], ds, 0)
        if body.get("sorts") is not None:
            sorts = check_array("body.sorts", body["sorts"])
            if not allow_timestamp_sorts:
                for i, spec in enumerate(sorts):
                    if isinstance(spec, dict) and "timestamp" in spec:
                        raise body_validation(
                            f"body.sorts[{i}]", "should be a property sort; timestamp sorts cannot be set on update"
                        )
            query_mod.sort_pages("body.sorts", sorts, ds, [])
        quick = body.get("quick_filters")
        if quick is not None:
            for key, condition in check_object("body.quick_filters", quick).items():
                if condition is None:
                    continue
                _compile_view_filter(
                    f"body.quick_filters.{key}",
                    {"property": key, **check_object(f"body.quick_filters.{key}", condition)},
                    ds,
                    0,
                )

    def _check_configuration(self, path: str, raw: Any, view_type: str, ds: Record) -> Record | None:
        if raw is None:
            if view_type == "board":
                raise body_validation(f"{path}", "should be defined for a board view (it needs `group_by`)")
            if view_type in ("calendar", "timeline"):
                raise body_validation(
                    f"{path}", f"should be defined for a {view_type} view (it needs `date_property_id`)"
                )
            return None if view_type == "dashboard" else {"type": view_type}
        config = check_object(path, raw)
        if view_type == "dashboard":
            raise body_validation(path, "should be not present for a dashboard view; add widgets with `view_id`")
        if config.get("type") != view_type:
            raise body_validation(
                f"{path}.type", f"should be `{view_type}` (the view's type), instead was `{_js(config.get('type'))}`"
            )
        checker = _ConfigChecker(path, ds)
        if view_type in ("table", "board"):
            if view_type == "board" and config.get("group_by") is None:
                raise body_validation(f"{path}.group_by", "should be defined for a board view")
            for key in ("group_by", "sub_group_by"):
                if config.get(key) is not None:
                    if key == "sub_group_by" and view_type != "board":
                        raise body_validation(f"{path}.{key}", "should be not present")
                    checker.group_by(key, config[key])
        elif view_type in ("calendar", "timeline"):
            checker.date_property("date_property_id", config.get("date_property_id"), required=True)
            if view_type == "timeline" and config.get("end_date_property_id") is not None:
                checker.date_property("end_date_property_id", config["end_date_property_id"], required=False)
        elif view_type == "chart":
            chart_type = config.get("chart_type")
            if chart_type not in CHART_TYPES:
                raise body_validation(
                    f"{path}.chart_type", f"should be one of {_choices(CHART_TYPES)}, instead was `{_js(chart_type)}`"
                )
            for key in ("x_axis", "stack_by"):
                if config.get(key) is not None:
                    checker.group_by(key, config[key])
            for key in ("y_axis", "value"):
                if config.get(key) is not None:
                    checker.aggregation(key, config[key])
            for key in ("x_axis_property_id", "y_axis_property_id"):
                if config.get(key) is not None:
                    checker.property(key, config[key])
        for i, item in enumerate(check_array(f"{path}.properties", config.get("properties") or [])):
            checker.property(
                f"properties[{i}].property_id", check_object(f"{path}.properties[{i}]", item).get("property_id")
            )
        return dict(config)


class _ConfigChecker:
    """Checks the property references of one view configuration against its data source."""

    def __init__(self, path: str, ds: Record) -> None:
        self.path = path
        self.ds = ds

    def property(self, key: str, raw: Any) -> Record:
        if not isinstance(raw, str) or not raw:
            raise body_validation(f"{self.path}.{key}", f"should be a property id, instead was `{_js(raw)}`")
        props: dict[str, Record] = self.ds["props"]
        prop = props.get(raw) or props.get(quote(raw, safe=""))
        if prop is None:
            # Views take ids only: a property *name* is refused too, as in Notion.
            raise validation(f"Could not find property with id: {raw} ({self.path}.{key}).")
        return prop

    def group_by(self, key: str, raw: Any) -> None:
        spec = check_object(f"{self.path}.{key}", raw)
        prop = self.property(f"{key}.property_id", spec.get("property_id"))
        wanted = GROUP_TYPE_OF_PROPERTY.get(prop["type"])
        if wanted is None:
            raise validation(f"Property `{prop['name']}` of type `{prop['type']}` cannot be used to group a view.")
        if spec.get("type") != wanted:
            raise validation(
                f"{self.path}.{key}.type `{spec.get('type')}` does not match property `{prop['name']}` "
                f"({prop['id']}) of type `{prop['type']}`: use `{wanted}`."
            )
        sort = check_object(f"{self.path}.{key}.sort", spec.get("sort"))
        if sort.get("type") not in GROUP_SORTS:
            raise body_validation(f"{self.path}.{key}.sort.type", f"should be one of {_choices(GROUP_SORTS)}")
        granularity = spec.get("group_by")
        if wanted == "status" and granularity not in ("group", "option"):
            raise body_validation(f"{self.path}.{key}.group_by", "should be `group` or `option`")
        if wanted in DATE_PROPERTY_TYPES and granularity not in ("relative", "day", "week", "month", "year"):
            raise body_validation(
                f"{self.path}.{key}.group_by", "should be `relative`, `day`, `week`, `month` or `year`"
            )
        if wanted in ("title", "text", "url", "email", "phone_number") and granularity not in (
            "exact",
            "alphabet_prefix",
        ):
            raise body_validation(f"{self.path}.{key}.group_by", "should be `exact` or `alphabet_prefix`")

    def date_property(self, key: str, raw: Any, *, required: bool) -> None:
        if raw is None and required:
            raise body_validation(f"{self.path}.{key}", "should be defined")
        prop = self.property(key, raw)
        if prop["type"] not in DATE_PROPERTY_TYPES:
            raise validation(
                f"{self.path}.{key}: property `{prop['name']}` of type `{prop['type']}` is not a date property."
            )

    def aggregation(self, key: str, raw: Any) -> None:
        spec = check_object(f"{self.path}.{key}", raw)
        aggregator = spec.get("aggregator")
        if aggregator not in AGGREGATORS:
            raise body_validation(
                f"{self.path}.{key}.aggregator",
                f"should be one of {_choices(AGGREGATORS)}, instead was `{_js(aggregator)}`",
            )
        if aggregator == "count":
            if spec.get("property_id") is not None:
                self.property(f"{key}.property_id", spec["property_id"])
            return
        if spec.get("property_id") is None:
            raise body_validation(
                f"{self.path}.{key}.property_id", f"should be defined for the `{aggregator}` aggregator"
            )
        self.property(f"{key}.property_id", spec["property_id"])


def _compile_view_filter(path: str, raw: Any, ds: Record, depth: int) -> query_mod.Predicate:
    """A data-source filter, where select/status/multi_select operators may also take an array of values."""
    spec = check_object(path, raw)
    for compound in ("and", "or"):
        if compound in spec:
            if depth >= query_mod.MAX_FILTER_DEPTH:
                return query_mod.compile_filter(path, spec, ds, depth)  # the query's own error
            parts = [
                _compile_view_filter(f"{path}.{compound}[{i}]", item, ds, depth + 1)
                for i, item in enumerate(check_array(f"{path}.{compound}", spec[compound]))
            ]
            return _all(parts) if compound == "and" else _any(parts)
    for kind in ("select", "status", "multi_select"):
        condition = spec.get(kind)
        if isinstance(condition, dict) and len(condition) == 1:
            operator, value = next(iter(condition.items()))
            if isinstance(value, list):
                leaves = [
                    query_mod.compile_filter(
                        f"{path}.{kind}.{operator}[{i}]", {**spec, kind: {operator: item}}, ds, depth
                    )
                    for i, item in enumerate(value)
                ]
                negative = operator.startswith("does_not")
                return _all(leaves) if negative else _any(leaves)
    return query_mod.compile_filter(path, spec, ds, depth)


def _all(parts: list[query_mod.Predicate]) -> query_mod.Predicate:
    return lambda page: all(p(page) for p in parts)


def _any(parts: list[query_mod.Predicate]) -> query_mod.Predicate:
    return lambda page: any(p(page) for p in parts)


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _js(value: Any) -> str:
    return json.dumps(value)[:100]


def _iso_exact(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
