"""Property schemas and property values: validated on write, returned in Notion's exact shapes."""

from __future__ import annotations

import itertools
import json
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .errors import body_validation, validation
from .ids import iso_minute, try_parse_id
from .richtext import normalize_rich_text, plain_text
from .store import Record
from .validation import MAX_EMAIL_PHONE, MAX_URL, check_array, check_object, check_text

COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")
TEXT_TYPES = ("title", "rich_text")
STRING_TYPES = ("url", "email", "phone_number")
READ_ONLY_TYPES = ("created_time", "last_edited_time", "created_by", "last_edited_by")
SCHEMA_TYPES = (
    "title",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "people",
    "relation",
    "files",
    *READ_ONLY_TYPES,
)
PAGE_REFERENCE_LIMIT = 25
_STRING_LIMITS = {"url": MAX_URL, "email": MAX_EMAIL_PHONE, "phone_number": MAX_EMAIL_PHONE}


def new_property_id() -> str:
    raw = "".join(secrets.choice(string.ascii_letters + string.digits + ";:=<>[]") for _ in range(4))
    return quote(raw, safe="")


def find_property(ds: Record, key: str) -> Record | None:
    """Properties are addressed by name or by id, as in Notion."""
    props: dict[str, Record] = ds["props"]
    for prop in props.values():
        if prop["name"] == key:
            return prop
    return props.get(key) or props.get(quote(key, safe=""))


def title_property(ds: Record) -> Record:
    return next(p for p in ds["props"].values() if p["type"] == "title")


# -- schema ---------------------------------------------------------------------------------------


def config_type(path: str, raw: Any) -> tuple[str, Any]:
    """The property type and its configuration object from a schema request fragment."""
    body = check_object(path, raw)
    declared = body.get("type")
    keys = [k for k in body if k in SCHEMA_TYPES or k in ("formula", "rollup", "unique_id", "button")]
    kind = declared if isinstance(declared, str) else (keys[0] if keys else None)
    if kind is None:
        raise body_validation(path, "should define a property type")
    if kind not in SCHEMA_TYPES:
        raise validation(f"The sandbox does not support property type `{kind}` (at {path}).")
    return kind, body.get(kind, {})


def normalize_options(path: str, raw: Any, existing: list[Record] | None = None) -> list[Record]:
    existing = existing or []
    by_id = {o["id"]: o for o in existing}
    by_name = {o["name"]: o for o in existing}
    out: list[Record] = []
    colors = itertools.cycle(COLORS[1:])
    for i, entry in enumerate(check_array(path, raw, 1000)):
        opt = check_object(f"{path}[{i}]", entry)
        old = by_id.get(str(opt.get("id"))) or by_name.get(str(opt.get("name")))
        if old is None and "name" not in opt:
            raise body_validation(f"{path}[{i}]", "should have a name or an existing id")
        name = check_option_name(f"{path}[{i}].name", opt.get("name", old["name"] if old else ""))
        color = opt.get("color") or (old["color"] if old else next(colors))
        if color not in COLORS:
            raise body_validation(f"{path}[{i}].color", f"should be one of {', '.join(COLORS)}")
        out.append(
            {
                "id": old["id"] if old else _option_id(),
                "name": name,
                "color": color,
                "description": opt.get("description"),
            }
        )
    return out


def check_option_name(path: str, value: Any) -> str:
    name = check_text(path, value, 100)
    if "," in name:
        raise validation(f"Invalid select option, commas not allowed: {name}")
    return name


def _option_id() -> str:
    return secrets.token_hex(2)


def add_option(prop: Record, name: str) -> None:
    """Select and multi-select options are created on write when missing."""
    options: list[Record] = prop["config"].setdefault("options", [])
    if any(o["name"] == name for o in options):
        return
    options.append(
        {"id": _option_id(), "name": name, "color": COLORS[1 + len(options) % (len(COLORS) - 1)], "description": None}
    )


def render_schema(prop: Record) -> Record:
    kind = prop["type"]
    config = dict(prop["config"])
    if kind in ("select", "multi_select", "status"):
        config["options"] = [dict(o) for o in config.get("options", [])]
        if kind == "status":
            config.setdefault("groups", [])
    return {"id": prop["id"], "name": prop["name"], "type": kind, "description": prop.get("description"), kind: config}


# -- values ---------------------------------------------------------------------------------------

PageLookup = Callable[[str], Record | None]


class ValueContext:
    """What value validation needs to know about the rest of the workspace."""

    def __init__(self, page: PageLookup, user_exists: Callable[[str], bool]) -> None:
        self.page = page
        self.user_exists = user_exists


def normalize_value(path: str, prop: Record, raw: Any, ctx: ValueContext) -> Any:
    """Validate one property value from a request and return its stored form."""
    kind = prop["type"]
    name = prop["name"]
    body = check_object(path, raw)
    if kind in READ_ONLY_TYPES:
        raise validation(f"{name} is a {kind} property and cannot be written.")
    value_key = kind if kind in body else next((k for k in body if k in SCHEMA_TYPES), None)
    if value_key != kind or body.get("type", kind) != kind:
        raise validation(f"{name} is expected to be {kind}.")
    value = body[kind]
    vpath = f"{path}.{kind}"
    if kind in TEXT_TYPES:
        return normalize_rich_text(vpath, value)
    if kind == "number":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise body_validation(vpath, f"should be a number or `null`, instead was `{json.dumps(value)}`")
        return value
    if kind in ("select", "status"):
        return None if value is None else _option_name(vpath, prop, value, create=kind == "select")
    if kind == "multi_select":
        names = [_option_name(f"{vpath}[{i}]", prop, v, create=True) for i, v in enumerate(check_array(vpath, value))]
        return list(dict.fromkeys(names))
    if kind == "date":
        return None if value is None else _date_value(vpath, value)
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise body_validation(vpath, f"should be a boolean, instead was `{json.dumps(value)}`")
        return value
    if kind in STRING_TYPES:
        return None if value is None else check_text(vpath, value, _STRING_LIMITS[kind])
    if kind == "people":
        ids = _reference_ids(vpath, value)
        for i, uid in enumerate(ids):
            if not ctx.user_exists(uid):
                raise validation(f"{vpath}[{i}].id: user {uid} does not exist in this workspace.")
        return ids
    if kind == "relation":
        ids = _reference_ids(vpath, value)
        target = prop["config"]["data_source_id"]
        for uid in ids:
            page = ctx.page(uid)
            if page is None or page["parent"].get("data_source_id") != target:
                raise validation(f"Relation target {uid} for {name} is not a page in data source {target}.")
        return ids
    return check_array(vpath, value)  # files: stored as given


def _option_name(path: str, prop: Record, raw: Any, *, create: bool) -> str:
    opt = check_object(path, raw)
    options: list[Record] = prop["config"].get("options", [])
    if "id" in opt and "name" not in opt:
        match = next((o for o in options if o["id"] == opt["id"]), None)
        if match is None:
            raise validation(f"Invalid option id for {prop['name']}: {opt['id']}")
        return str(match["name"])
    name = check_option_name(f"{path}.name", opt.get("name"))
    if not create and not any(o["name"] == name for o in options):
        raise validation(f"Invalid status option for {prop['name']}: {name}")
    return name


def _reference_ids(path: str, value: Any) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(check_array(path, value)):
        ref = try_parse_id(check_object(f"{path}[{i}]", item).get("id"))
        if ref is None:
            raise body_validation(f"{path}[{i}].id", "should be a valid uuid")
        out.append(ref)
    return list(dict.fromkeys(out))


def _date_value(path: str, raw: Any) -> Record:
    value = check_object(path, raw)
    start = value.get("start")
    if not isinstance(start, str) or parse_date(start) is None:
        raise body_validation(f"{path}.start", f"should be an ISO 8601 date, instead was `{json.dumps(start)}`")
    end = value.get("end")
    if end is not None and (not isinstance(end, str) or parse_date(end) is None):
        raise body_validation(f"{path}.end", f"should be an ISO 8601 date, instead was `{json.dumps(end)}`")
    return {"start": start, "end": end, "time_zone": value.get("time_zone")}


def parse_date(text: str) -> datetime | None:
    """ISO dates and datetimes; a date alone means midnight UTC, as Notion compares them."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def empty_value(kind: str) -> Any:
    if kind in (*TEXT_TYPES, "multi_select", "people", "relation", "files"):
        return []
    return False if kind == "checkbox" else None


def stored_value(page: Record, prop: Record) -> Any:
    """The value a page holds for a property, derived for the read-only timestamp types."""
    kind = prop["type"]
    if kind == "created_time":
        return iso_minute(page["created"])
    if kind == "last_edited_time":
        return iso_minute(page["edited"])
    if kind in ("created_by", "last_edited_by"):
        return None
    return page["props"].get(prop["id"], empty_value(kind))


def render_value(page: Record, prop: Record, bot_user_id: str) -> Record:
    kind = prop["type"]
    value = stored_value(page, prop)
    out: Record = {"id": prop["id"], "type": kind}
    if kind in ("select", "status"):
        out[kind] = None if value is None else _render_option(prop, value)
    elif kind == "multi_select":
        out[kind] = [_render_option(prop, v) for v in value]
    elif kind == "relation":
        out[kind] = [{"id": v} for v in value[:PAGE_REFERENCE_LIMIT]]
        out["has_more"] = len(value) > PAGE_REFERENCE_LIMIT
    elif kind == "people":
        out[kind] = [{"object": "user", "id": v} for v in value[:PAGE_REFERENCE_LIMIT]]
    elif kind in ("created_by", "last_edited_by"):
        out[kind] = {"object": "user", "id": bot_user_id}
    else:
        out[kind] = value
    return out


def _render_option(prop: Record, name: str) -> Record:
    for o in prop["config"].get("options", []):
        if o["name"] == name:
            return {"id": o["id"], "name": name, "color": o["color"]}
    return {"id": "", "name": name, "color": "default"}


def value_text(page: Record, prop: Record) -> str:
    """A property value as plain text (HTML view, text filters, sorting)."""
    kind = prop["type"]
    value = stored_value(page, prop)
    if kind in TEXT_TYPES:
        return plain_text(value)
    if value is None:
        return ""
    if kind == "multi_select":
        return ", ".join(value)
    if kind in ("relation", "people", "files"):
        return ", ".join(str(v) for v in value)
    if kind == "date":
        return str(value["start"]) + (f" → {value['end']}" if value.get("end") else "")
    if kind == "checkbox":
        return "Yes" if value else "No"
    return str(value)
