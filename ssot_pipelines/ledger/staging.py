"""Stage records for a database from a file (JSON lines, a JSON array, or CSV), for sources that have no
extractor of their own (a Slack export turned into conversations, an agent task API's dump).

The whole file is validated against the database's schema before anything is written, in one
transaction: a bad file changes nothing already staged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from ssot_pipelines.notion.codec import ValueTypeError, canonical
from ssot_pipelines.schemas import KEY_PROPERTY, Owner, database


class StagingError(ValueError):
    """The file cannot be staged; the message names the record and what to fix."""


@dataclass(frozen=True)
class StagingResult:
    database: str
    staged: int
    withdrawn: int


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records from ``.jsonl``/``.ndjson`` (one object a line), ``.json`` (an array) or ``.csv``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StagingError(f"cannot read {path}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=object, keep_default_na=False)
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


def stage_records(
    conn: psycopg.Connection[Any], database_name: str, records: Iterable[dict[str, Any]], *, replace: bool = False
) -> StagingResult:
    """Validate every record, then upsert them into the ledger; ``replace`` withdraws records not given."""
    schema = database(database_name)
    writable = {
        p.name: p for p in schema.owned(Owner.MACHINE) + schema.owned(Owner.SHARED) if p.name != KEY_PROPERTY
    }
    rows: list[tuple[str, str, str | None, int]] = []
    seen: set[str] = set()
    for index, record in enumerate(records, 1):
        key = record.get("key")
        if not isinstance(key, str) or not key:
            raise StagingError(f"record {index} has no 'key' (a non-empty string); nothing was staged")
        if key in seen:
            raise StagingError(f"key {key!r} appears twice; nothing was staged")
        seen.add(key)
        values = {k: v for k, v in record.items() if k not in ("key", "body", "priority")}
        unknown = sorted(set(values) - set(writable))
        if unknown:
            raise StagingError(
                f"record {key!r}: {unknown} are not properties the machine writes in {schema.title}; "
                f"known: {sorted(writable)}. Nothing was staged."
            )
        try:
            for name, value in values.items():
                canonical(writable[name], value)
            priority = int(record.get("priority") or 0)
        except (ValueTypeError, ValueError) as exc:
            raise StagingError(f"record {key!r}: {exc}; nothing was staged") from None
        body = record.get("body")
        rows.append((key, json.dumps(values, ensure_ascii=False, default=str), None if body is None else str(body),
                     priority))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            'INSERT INTO records (database, key, "values", body, priority, present, updated_at)'
            " VALUES (%s, %s, %s, %s, %s, true, now())"
            ' ON CONFLICT (database, key) DO UPDATE SET "values" = EXCLUDED."values", body = EXCLUDED.body,'
            " priority = EXCLUDED.priority, present = true, updated_at = now()",
            [(schema.name, *row) for row in rows],
        )
        withdrawn = 0
        if replace:
            cur.execute(
                "UPDATE records SET present = false, updated_at = now()"
                " WHERE database = %s AND present AND NOT (key = ANY(%s))",
                (schema.name, [r[0] for r in rows]),
            )
            withdrawn = cur.rowcount
    return StagingResult(schema.name, len(rows), withdrawn)
