"""Stage records for a database from a file (JSON lines, a JSON array, or CSV), for sources that have no
extractor of their own (a Slack export turned into conversations, an agent task API's dump).

The whole file is validated against the database's schema before anything is written, in one
transaction: a bad file changes nothing already staged. Validation also refuses up front what Notion or
PostgreSQL would refuse later, where one bad record would fail every sync of its database:

- a key must fit one Notion rich-text piece (``MAX_KEY_UTF16`` UTF-16 units), the unit the engine
  matches with a ``rich_text`` ``equals`` filter, and holds no control character;
- no text anywhere (key, values, body) may hold NUL (PostgreSQL text and jsonb cannot store it) or a
  lone UTF-16 surrogate (not Unicode text: neither UTF-8 nor PostgreSQL can encode it), nor another C0/C1
  control character except tab, line feed and carriage return;
- a title or rich-text value fits a Notion property (100 pieces of 2,000 UTF-16 units), a URL 2,000
  characters, and a select option has no comma.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from ssot_pipelines.notion.codec import ValueTypeError, canonical
from ssot_pipelines.notion.desired import SyncRecord, stage
from ssot_pipelines.schemas import DATABASES, KEY_PROPERTY, DatabaseSchema, Owner, PropertySpec, PropType, database

MAX_KEY_UTF16 = 2000  # one Notion rich-text piece (notion/text.py MAX_TEXT)
MAX_PROPERTY_TEXT_UTF16 = 100 * 2000  # 100 rich-text pieces of 2,000 units
MAX_URL = 2000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_IN_KEY = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class StagingError(ValueError):
    """The file cannot be staged; the message names the record and what to fix."""


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted with every unprintable character escaped, so the message itself always prints."""
    return json.dumps(text[:limit]) + ("…" if len(text) > limit else "")


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def check_text(text: str, where: str, *, is_key: bool = False) -> None:
    """Raise StagingError when ``text`` cannot travel to PostgreSQL and Notion as it is."""
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate:
        raise StagingError(
            f"{where} holds a lone UTF-16 surrogate (U+{ord(surrogate.group()):04X}) at character "
            f"{surrogate.start() + 1}, which is not text PostgreSQL or Notion can store; write the file as "
            "UTF-8 (in JSON, a \\ud83d-style escape needs its pair). Nothing was staged"
        )
    control = (_CONTROL_IN_KEY if is_key else _CONTROL_IN_TEXT).search(text)
    if control:
        what = "NUL" if control.group() == "\0" else f"control character U+{ord(control.group()):04X}"
        raise StagingError(
            f"{where} holds {what} at character {control.start() + 1}; PostgreSQL cannot store NUL and "
            f"Notion {'matches keys' if is_key else 'shows text'} without control characters: remove it. "
            "Nothing was staged"
        )
    if is_key and _utf16_len(text) > MAX_KEY_UTF16:
        raise StagingError(
            f"{where} is {_utf16_len(text):,} characters long; a key holds at most {MAX_KEY_UTF16:,} (UTF-16 "
            "units, one Notion rich-text piece, which is what a sync matches keys against): use a shorter key "
            "and put long text in a property or the body. Nothing was staged"
        )


def _check_value(spec: PropertySpec, value: Any, where: str) -> None:
    """Text checks on every string of a value, then the Notion limit of its property type."""
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, str):
            check_text(item, where)
    if not isinstance(value, str):
        return
    if spec.type in (PropType.TITLE, PropType.RICH_TEXT) and _utf16_len(value) > MAX_PROPERTY_TEXT_UTF16:
        raise StagingError(
            f"{where} is {_utf16_len(value):,} characters; a Notion property holds at most "
            f"{MAX_PROPERTY_TEXT_UTF16:,}: put long text in the record's 'body'. Nothing was staged"
        )
    if spec.type is PropType.URL and len(value) > MAX_URL:
        raise StagingError(
            f"{where} is a URL of {len(value):,} characters; Notion takes at most {MAX_URL:,}. Nothing was staged"
        )
    if spec.type in (PropType.SELECT, PropType.MULTI_SELECT) and "," in value:
        raise StagingError(
            f"{where} {_shown(value)} has a comma, which Notion refuses in a select option. Nothing was staged"
        )


@dataclass(frozen=True)
class StagingResult:
    database: str
    staged: int
    withdrawn: int
    refused: tuple[str, ...] = ()  # task dependencies on unknown tasks (the tasks themselves are imported)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records from ``.jsonl``/``.ndjson`` (one object a line), ``.json`` (an array) or ``.csv``."""
    try:
        return _read_records(path)
    except RecursionError:
        raise StagingError(f"{path} nests JSON too deeply to hold records; nothing was staged") from None


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StagingError(f"cannot read {path}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype=object, keep_default_na=False)
        except ValueError as exc:  # pandas' ParserError and EmptyDataError
            raise StagingError(f"{path} is not a CSV file with a header row ({exc}); nothing was staged") from None
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StagingError(f"{path} is not valid JSON ({exc}); expected an array of objects") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise StagingError(f"{path} must hold a JSON array of objects")
        return data
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StagingError(f"{path}:{number} is not valid JSON ({exc.msg}); nothing was staged") from None
        if not isinstance(record, dict):
            raise StagingError(f"{path}:{number} must be a JSON object")
        records.append(record)
    return records


def stageable_database(database_name: str) -> DatabaseSchema:
    """The schema of ``database_name``, or a StagingError that lists the databases there are."""
    if database_name not in DATABASES:
        raise StagingError(
            f"unknown database {_shown(database_name)}; stage into one of {', '.join(sorted(DATABASES))} "
            "(e.g. task_tracking, file_catalog). Nothing was staged"
        )
    if database_name in _FED_BY_CAPABILITY:
        raise StagingError(_FED_BY_CAPABILITY[database_name])
    return database(database_name)


# Databases whose whole desired state a capability builds from its own tables: a staged record would be
# withdrawn (archived) by the next full sync, so staging refuses and says where the data goes in.
_FED_BY_CAPABILITY = {
    "slack_conversations": "slack_conversations is built from the Slack capability's own tables, so a staged "
    "record would be archived by its next full sync; bring conversations in with `ssot slack import EXPORT` "
    "(a Slack export) or the Events API receiver (`ssot slack serve`). Nothing was staged",
}


def stage_records(
    conn: psycopg.Connection[Any], database_name: str, records: Iterable[dict[str, Any]], *, replace: bool = False
) -> StagingResult:
    """Validate every record, then upsert them into the ledger; ``replace`` withdraws records not given."""
    given = list(records)
    rows = validated_records(database_name, given)
    if database_name == "task_tracking":
        # Task Tracking is the agents' work graph: a staged task is a bulk import into it. (Staging it as the
        # engine's desired record would let the graph's own rows overwrite what was staged, and the next
        # import would see a change that never happened.)
        from ssot_pipelines.tasks.staged import import_records

        conn.commit()  # the graph runs its own transaction
        imported = import_records(conn, given, agent="stage", origin="stage", withdraw_missing=replace)
        return StagingResult(database_name, len(rows), imported.cancelled, tuple(map(str, imported.refused)))
    with conn.transaction():
        result = stage(conn, database_name, rows, withdraw_others=replace)
    return StagingResult(database_name, len(rows), result.withdrawn)


def validated_records(database_name: str, records: Iterable[dict[str, Any]]) -> list[SyncRecord]:
    """Every record checked against what Notion and PostgreSQL accept; the first refusal is a StagingError."""
    schema = stageable_database(database_name)
    writable = {p.name: p for p in schema.owned(Owner.MACHINE) + schema.owned(Owner.SHARED) if p.name != KEY_PROPERTY}
    rows: list[SyncRecord] = []
    seen: set[str] = set()
    for index, record in enumerate(records, 1):
        key = record.get("key")
        if not isinstance(key, str) or not key.strip():
            raise StagingError(f"record {index} has no 'key' (a non-empty string); nothing was staged")
        check_text(key, f"record {index}: key {_shown(key)}", is_key=True)
        if key in seen:
            raise StagingError(f"key {_shown(key)} appears twice; nothing was staged")
        seen.add(key)
        label = f"record {_shown(key)}"
        values = {k: v for k, v in record.items() if k not in ("key", "body", "priority")}
        unknown = sorted(set(values) - set(writable))
        if unknown:
            raise StagingError(
                f"{label}: {[_shown(str(u)) for u in unknown]} are not properties the machine writes in "
                f"{schema.title}; known: {sorted(writable)}. Nothing was staged."
            )
        try:
            for name, value in values.items():
                canonical(writable[name], value)
                _check_value(writable[name], value, f"{label}: {name}")
            priority = int(record.get("priority") or 0)
        except (ValueTypeError, ValueError, TypeError, OverflowError) as exc:
            if isinstance(exc, StagingError):
                raise
            raise StagingError(f"{label}: {exc}; nothing was staged") from None
        if not -(2**31) <= priority < 2**31:
            raise StagingError(f"{label}: priority {priority} is out of range (a 32-bit integer); nothing was staged")
        body = record.get("body")
        if body is not None:
            check_text(str(body), f"{label}: body")
        rows.append(SyncRecord(key=key, values=values, body=None if body is None else str(body), priority=priority))
    return rows
