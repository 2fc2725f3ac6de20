"""Object ids and timestamps in the forms Notion uses."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

from .errors import validation

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return str(uuid.uuid4())


def parse_id(raw: str, where: str = "path.id") -> str:
    """Accept dashed or dashless UUIDs (as Notion does) and return the dashed form."""
    compact = raw.replace("-", "").lower()
    if not _HEX32.match(compact):
        raise validation(f"path failed validation: {where} should be a valid uuid, instead was `{json.dumps(raw)}`.")
    return str(uuid.UUID(compact))


def try_parse_id(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    compact = raw.replace("-", "").lower()
    return str(uuid.UUID(compact)) if _HEX32.match(compact) else None


def iso_minute(ts: float) -> str:
    """Notion exposes page/database/block timestamps truncated to the minute."""
    dt = datetime.fromtimestamp(ts, UTC).replace(second=0, microsecond=0)
    return dt.strftime("%Y-%m-%dT%H:%M:00.000Z")


def minute_floor(ts: float) -> float:
    return float(int(ts) // 60 * 60)
