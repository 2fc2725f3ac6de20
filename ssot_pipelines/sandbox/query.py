"""Data source query semantics: filters, sorts, and cursor pagination with the result cap."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import body_validation, validation
from .ids import minute_floor, try_parse_id
from .properties import find_property, parse_date, stored_value, value_text
from .store import Record
from .validation import check_array, check_object

QUERY_RESULT_LIMIT = 10_000
MAX_FILTER_DEPTH = 2

Predicate = Callable[[Record], bool]
_TEXT_FAMILY = ("title", "rich_text", "url", "email", "phone_number")
_DATE_OPS = ("equals", "before", "after", "on_or_before", "on_or_after", "is_empty", "is_not_empty")


def compile_filter(path: str, raw: Any, ds: Record, depth: int = 0) -> Predicate:
    """Validate a filter object up front and return a predicate over pages."""
    spec = check_object(path, raw)
    for compound in ("and", "or"):
        if compound in spec:
            if depth >= MAX_FILTER_DEPTH:
                raise body_validation(
                    path,
                    "should be a property or timestamp filter; compound filters can be nested at most 2 levels deep",
                )
            parts = [
                compile_filter(f"{path}.{compound}[{i}]", item, ds, depth + 1)
                for i, item in enumerate(check_array(f"{path}.{compound}", spec[compound]))
            ]
            if compound == "and":
                return lambda page: all(p(page) for p in parts)
            return lambda page: any(p(page) for p in parts)
    if "timestamp" in spec:
        kind = spec["timestamp"]
        if kind not in ("created_time", "last_edited_time"):
            raise body_validation(f"{path}.timestamp", "should be `created_time` or `last_edited_time`")
        field_name = "created" if kind == "created_time" else "edited"
        condition = check_object(f"{path}.{kind}", spec.get(kind))
        test = _date_test(f"{path}.{kind}", condition)
        return lambda page: test(_epoch_dt(page[field_name]))
    key = spec.get("property")
    if not isinstance(key, str):
        raise body_validation(path, "should have a `property`, `timestamp`, `and` or `or` key")
    prop = find_property(ds, key)
    if prop is None:
        raise validation(f"Could not find property with name or id: {key}")
    kind = prop["type"]
    filter_keys = [k for k in spec if k != "property" and k != "type"]
    if len(filter_keys) != 1:
        raise body_validation(path, f"should have exactly one filter type for property {key}")
    fkind = filter_keys[0]
    if fkind != kind and not (fkind in _TEXT_FAMILY and kind in _TEXT_FAMILY):
        raise validation(f"Filter type `{fkind}` does not match property `{prop['name']}` of type `{kind}`.")
    fpath = f"{path}.{fkind}"
    condition = check_object(fpath, spec[fkind])
    if len(condition) != 1:
        raise body_validation(fpath, "should have exactly one condition")
    if kind in _TEXT_FAMILY:
        text_test = _text_test(fpath, condition)
        return lambda page: text_test(value_text(page, prop))
    if kind in ("created_time", "last_edited_time", "date"):
        test = _date_test(fpath, condition)
        if kind == "date":
            return lambda page: test(_date_start(stored_value(page, prop)))
        field_name = "created" if kind == "created_time" else "edited"
        return lambda page: test(_epoch_dt(page[field_name]))
    return _value_test(fpath, kind, condition, lambda page: stored_value(page, prop))


def _text_test(path: str, condition: Record) -> Callable[[str], bool]:
    op, arg = next(iter(condition.items()))
    if op in ("is_empty", "is_not_empty"):
        want_empty = op == "is_empty"
        return lambda s: (s == "") == want_empty
    if not isinstance(arg, str):
        raise body_validation(f"{path}.{op}", "should be a string")
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda s: s == arg,
        "does_not_equal": lambda s: s != arg,
        "contains": lambda s: arg.lower() in s.lower(),
        "does_not_contain": lambda s: arg.lower() not in s.lower(),
        "starts_with": lambda s: s.lower().startswith(arg.lower()),
        "ends_with": lambda s: s.lower().endswith(arg.lower()),
    }
    if op not in tests:
        raise body_validation(f"{path}.{op}", "is not a valid text filter condition")
    return tests[op]


def _date_test(path: str, condition: Record) -> Callable[[datetime | None], bool]:
    if len(condition) != 1:
        raise body_validation(path, "should have exactly one condition")
    op, arg = next(iter(condition.items()))
    if op not in _DATE_OPS:
        raise body_validation(f"{path}.{op}", "is not a valid date filter condition")
    if op in ("is_empty", "is_not_empty"):
        want_empty = op == "is_empty"
        return lambda d: (d is None) == want_empty
    when = parse_date(arg) if isinstance(arg, str) else None
    if when is None:
        raise body_validation(f"{path}.{op}", f"should be an ISO 8601 date, instead was `{json.dumps(arg)}`")
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "equals": lambda a, b: a == b,
        "before": lambda a, b: a < b,
        "after": lambda a, b: a > b,
        "on_or_before": lambda a, b: a <= b,
        "on_or_after": lambda a, b: a >= b,
    }
    compare = ops[op]
    if len(arg) == 10:
        # A date without a time compares calendar days, so `equals: "2026-07-01"` matches any time that day.
        day = when.date()
        return lambda d: d is not None and compare(d.astimezone(UTC).date(), day)
    return lambda d: d is not None and compare(d, when)


def _value_test(path: str, kind: str, condition: Record, get: Callable[[Record], Any]) -> Predicate:
    op, arg = next(iter(condition.items()))
    if op in ("is_empty", "is_not_empty") and kind != "checkbox":
        want_empty = op == "is_empty"
        return lambda page: (get(page) in (None, [])) == want_empty
    if kind == "number":
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            raise body_validation(f"{path}.{op}", "should be a number")
        nops: dict[str, Callable[[float], bool]] = {
            "equals": lambda v: v == arg,
            "does_not_equal": lambda v: v != arg,
            "greater_than": lambda v: v > arg,
            "less_than": lambda v: v < arg,
            "greater_than_or_equal_to": lambda v: v >= arg,
            "less_than_or_equal_to": lambda v: v <= arg,
        }
        if op not in nops:
            raise body_validation(f"{path}.{op}", "is not a valid number filter condition")
        ntest = nops[op]
        if op == "does_not_equal":
            return lambda page: get(page) is None or ntest(get(page))
        return lambda page: get(page) is not None and ntest(get(page))
    if kind == "checkbox":
        if op not in ("equals", "does_not_equal") or not isinstance(arg, bool):
            raise body_validation(f"{path}.{op}", "should be `equals` or `does_not_equal` with a boolean")
        return lambda page: (get(page) == arg) == (op == "equals")
    if kind in ("select", "status"):
        if op not in ("equals", "does_not_equal") or not isinstance(arg, str):
            raise body_validation(f"{path}.{op}", "should be `equals` or `does_not_equal` with a string")
        return lambda page: (get(page) == arg) == (op == "equals")
    if kind in ("multi_select", "relation", "people"):
        if op not in ("contains", "does_not_contain") or not isinstance(arg, str):
            raise body_validation(f"{path}.{op}", "should be `contains` or `does_not_contain` with a string")
        if kind != "multi_select":
            arg = try_parse_id(arg) or arg
        return lambda page: (arg in get(page)) == (op == "contains")
    raise validation(f"Filtering on {kind} properties is not supported by the sandbox.")


def _epoch_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(minute_floor(ts), UTC)


def _date_start(value: Any) -> datetime | None:
    return parse_date(value["start"]) if value else None


# -- sorting ----------------------------------------------------------------------------------------


def sort_pages(path: str, raw: Any, ds: Record, pages: list[Record]) -> list[Record]:
    """Stable multi-key sort; empty values always last, like Notion."""
    specs = check_array(path, raw)
    keys: list[tuple[Callable[[Record], Any], bool]] = []
    for i, item in enumerate(specs):
        spec = check_object(f"{path}[{i}]", item)
        direction = spec.get("direction", "ascending")
        if direction not in ("ascending", "descending"):
            raise body_validation(f"{path}[{i}].direction", "should be `ascending` or `descending`")
        keys.append((_sort_key(f"{path}[{i}]", spec, ds), direction == "descending"))
    out = list(pages)
    for key, descending in reversed(keys):
        valued = [(key(p), p) for p in out]
        present = sorted((kv for kv in valued if kv[0] is not None), key=lambda kv: kv[0], reverse=descending)
        out = [p for _, p in present] + [p for k, p in valued if k is None]
    return out


def _sort_key(path: str, spec: Record, ds: Record) -> Callable[[Record], Any]:
    if "timestamp" in spec:
        field_name = {"created_time": "created", "last_edited_time": "edited"}.get(spec["timestamp"])
        if field_name is None:
            raise body_validation(f"{path}.timestamp", "should be `created_time` or `last_edited_time`")
        return lambda page: minute_floor(page[field_name])
    key = spec.get("property")
    prop = find_property(ds, key) if isinstance(key, str) else None
    if prop is None:
        raise validation(f"Could not find sort property with name or id: {key}")
    kind = prop["type"]

    def sort_value(page: Record) -> Any:
        value = stored_value(page, prop)
        if value in (None, []):
            return None
        if kind == "number" or kind == "checkbox":
            return value
        if kind == "date":
            return _date_start(value)
        return value_text(page, prop).lower() or None

    return sort_value


# -- pagination -------------------------------------------------------------------------------------


@dataclass
class PageOfResults:
    items: list[Any]
    next_cursor: str | None
    has_more: bool
    capped: bool


def paginate(
    items: Sequence[Any], ids: Sequence[str], page_size: int, start_cursor: Any, limit: int | None = None
) -> PageOfResults:
    """Slice ``items`` from an opaque cursor; ``limit`` caps the results of one logical query."""
    delivered, start = 0, 0
    if start_cursor is not None:
        delivered, resume_id = _decode_cursor(start_cursor)
        start = delivered
        if resume_id is not None:
            # Resume at the item itself so rows inserted or trashed while paging do not shift the window.
            try:
                start = list(ids).index(resume_id)
            except ValueError:
                start = min(delivered, len(items))
    size = page_size if limit is None else max(0, min(page_size, limit - delivered))
    chunk = list(items[start : start + size])
    end = start + len(chunk)
    more_exist = end < len(items)
    capped = limit is not None and more_exist and delivered + len(chunk) >= limit
    has_more = more_exist and not capped
    cursor = _encode_cursor(delivered + len(chunk), ids[end]) if has_more else None
    return PageOfResults(chunk, cursor, has_more, capped)


def _encode_cursor(delivered: int, next_id: str) -> str:
    raw = json.dumps({"n": delivered, "id": next_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> tuple[int, str | None]:
    try:
        if not isinstance(cursor, str):
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(data["n"]), data.get("id")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise validation(f"The start_cursor provided is invalid: {cursor}") from None
