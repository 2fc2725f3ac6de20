"""Property values: Python → Notion request payloads, and Notion pages → comparable canonical values.

The canonical form is what the sync hashes and compares: text as one string, numbers as float, dates as
UTC ISO strings to the second, selects as names, relations as sorted page ids (keys before resolution).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from ssot_pipelines.notion.text import plain_text, rich_text
from ssot_pipelines.schemas.model import PropertySpec, PropType


class ValueTypeError(ValueError):
    """A record value does not fit its property's type."""


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NaT or (not isinstance(value, list | tuple | dict | str) and bool(pd.isna(value)))
    except (TypeError, ValueError):
        return False


def canonical_date(value: Any) -> str | None:
    """UTC ISO-8601 to the second (Notion keeps what it is given; we compare at second precision)."""
    if is_missing(value) or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueTypeError(f"{value!r} is not an ISO date or datetime") from exc
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return value.isoformat()
    elif hasattr(value, "to_pydatetime"):
        parsed = value.to_pydatetime()
    else:
        raise ValueTypeError(f"{value!r} is not a date")
    if len(str(value).strip()) == 10 and isinstance(value, str):
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def canonical(spec: PropertySpec, value: Any) -> Any:
    """The comparable form of a source value (relations stay as keys here)."""
    t = spec.type
    if t in (PropType.TITLE, PropType.RICH_TEXT, PropType.SELECT, PropType.URL):
        return None if is_missing(value) or value == "" else str(value)
    if t is PropType.NUMBER:
        if is_missing(value):
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValueTypeError(f"{spec.name}: {value!r} is not a number") from exc
    if t is PropType.CHECKBOX:
        return bool(value) if not is_missing(value) else False
    if t is PropType.DATE:
        return canonical_date(value)
    if t in (PropType.MULTI_SELECT, PropType.RELATION, PropType.PEOPLE):
        if is_missing(value) if not isinstance(value, list | tuple) else False:
            return []
        if isinstance(value, str):
            value = [value]
        items = [str(v) for v in value if not is_missing(v) and str(v) != ""]
        return sorted(set(items)) if t is not PropType.MULTI_SELECT else list(dict.fromkeys(items))
    raise ValueTypeError(f"{spec.name}: unsupported property type {t}")


def encode(spec: PropertySpec, value: Any, relation_ids: list[str] | None = None) -> dict[str, Any]:
    """The Notion property value payload for a canonical value."""
    t = spec.type
    if t is PropType.TITLE:
        return {"title": rich_text(value, prop=spec.name)}
    if t is PropType.RICH_TEXT:
        return {"rich_text": rich_text(value, prop=spec.name)}
    if t is PropType.NUMBER:
        return {"number": value}
    if t is PropType.SELECT:
        return {"select": {"name": _select_name(value)} if value else None}
    if t is PropType.MULTI_SELECT:
        return {"multi_select": [{"name": _select_name(v)} for v in value]}
    if t is PropType.DATE:
        return {"date": {"start": value} if value else None}
    if t is PropType.CHECKBOX:
        return {"checkbox": bool(value)}
    if t is PropType.URL:
        return {"url": value}
    if t is PropType.RELATION:
        ids = relation_ids or []
        if len(ids) > 100:
            raise ValueTypeError(f"{spec.name}: {len(ids)} relation targets; Notion sets at most 100 per request")
        return {"relation": [{"id": i} for i in ids]}
    if t is PropType.PEOPLE:
        return {"people": [{"object": "user", "id": v} for v in value]}
    raise ValueTypeError(f"{spec.name}: unsupported property type {t}")


def _select_name(value: str) -> str:
    # Notion forbids commas in option names; keep the value readable rather than failing the row.
    return str(value).replace(",", ";")[:100]


def decode(spec: PropertySpec, prop: Mapping[str, Any] | None) -> Any:
    """The canonical value of a property as Notion returned it (relations as sorted page ids)."""
    if not prop:
        return canonical(spec, None)
    t = spec.type
    raw = prop.get(t.value)
    if t in (PropType.TITLE, PropType.RICH_TEXT):
        return plain_text(raw) or None
    if t is PropType.NUMBER:
        return None if raw is None else float(raw)
    if t is PropType.SELECT:
        return raw.get("name") if isinstance(raw, dict) else None
    if t is PropType.MULTI_SELECT:
        return [o.get("name") for o in raw or []]
    if t is PropType.DATE:
        return canonical_date(raw.get("start")) if isinstance(raw, dict) else None
    if t is PropType.CHECKBOX:
        return bool(raw)
    if t is PropType.URL:
        return raw or None
    if t is PropType.RELATION:
        return sorted(_normalize_id(r["id"]) for r in raw or [])
    if t is PropType.PEOPLE:
        return sorted(str(p.get("id")) for p in raw or [])
    return None


def selectable(spec: PropertySpec, value: Any) -> Any:
    """The canonical value as Notion will store it (select names lose commas)."""
    if spec.type is PropType.SELECT and value:
        return _select_name(value)
    if spec.type is PropType.MULTI_SELECT:
        return [_select_name(v) for v in value]
    return value


def _normalize_id(value: str) -> str:
    return value.replace("-", "")


def normalize_id(value: str) -> str:
    """Notion ids compare without dashes."""
    return _normalize_id(value)
