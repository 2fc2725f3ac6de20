"""The desired state in the ledger, and the named questions capabilities may ask about the sync.

The engine's tables (``records``, ``notion_rows``, ``record_renames``, ``sync_runs``, ``sync_watermarks``)
are private to ``ssot_pipelines/notion/``; a capability stages its records and asks about them only
through the functions here. Every question about what reached Notion names the target.

``stage`` and ``stage_rename`` do not commit: a capability calls them inside the transaction that commits
its own state, so what a scan found becomes durable pending work in the same commit (or not at all). A
record then stays pending for a target until that target has received its exact content (``pushed_digest``
equal to the record's ``digest``), whichever run (incremental, sensor, hourly, after a crash or a target
switch) gets there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from ssot_pipelines.notion.codec import is_missing

if TYPE_CHECKING:  # pandas loads only for frames, so asking questions here (e.g. `ssot search`) stays light
    import pandas as pd

RESERVED_COLUMNS = frozenset({"key", "body", "priority"})
MAX_KEY_CHARS = 2000  # a rich_text equals filter longer than this is refused by Notion: the key could not be found


@dataclass
class SyncRecord:
    """One desired row: its key, machine-owned values by property name, and an optional page body.

    ``values`` are kept in their JSON form (what the ledger stores), so a record read back from the ledger
    and the same record built from a frame sync from one canonical form. ``digest`` is the ledger's digest
    of the record's content once it is stored (None before).
    """

    key: str
    values: dict[str, Any]
    body: str | None = None
    priority: int = 0
    digest: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.values = as_json(self.values)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):  # pandas.Timestamp is a datetime
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def as_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as they read back from the ledger's JSON column (one canonical form for syncing)."""
    out: dict[str, Any] = json.loads(json.dumps(dict(values), default=_json_default, ensure_ascii=False))
    return out


def records_from_frame(frame: pd.DataFrame | Iterable[SyncRecord]) -> list[SyncRecord]:
    """Records from the DataFrame contract (``key``, property columns, optional ``body``/``priority``)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        return list(frame)
    if "key" not in frame.columns:
        raise ValueError("a records frame needs a 'key' column")
    columns = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    out: list[SyncRecord] = []
    for row in frame.to_dict(orient="records"):
        body = row.get("body")
        priority = row.get("priority", 0)
        out.append(
            SyncRecord(
                key=str(row["key"]),
                # pandas marks a missing value NaN/NaT whatever the column's type: it means "no value"
                values={c: None if is_missing(row[c]) else row[c] for c in columns},
                body=None if body is None or (isinstance(body, float) and body != body) else str(body),
                priority=0 if priority is None or priority != priority else int(priority),
            )
        )
    return out


def from_row(row: Mapping[str, Any]) -> SyncRecord:
    """A record as the ledger holds it (``key``, ``values``, ``body``, ``priority``, optional ``digest``)."""
    return SyncRecord(
        key=row["key"],
        values=dict(row["values"]),
        body=row["body"],
        priority=int(row["priority"]),
        digest=row.get("digest"),
    )


# -- staging (the caller commits) -------------------------------------------------------------------


@dataclass(frozen=True)
class StageResult:
    changed: int  # records whose desired content changed (or that came back)
    withdrawn: int  # present records marked absent (vanished, or not given with ``withdraw_others``)


def stage(
    conn: psycopg.Connection[Any],
    database: str,
    records: Iterable[SyncRecord],
    vanished: Sequence[str] = (),
    *,
    withdraw_others: bool = False,
) -> StageResult:
    """Make ``records`` the desired state of their keys and mark ``vanished`` keys absent; no commit.

    ``withdraw_others``: the records are the database's complete desired state, every other key is
    absent. Importers (``ledger/staging.py``) call it with ``SyncRecord(key, values, body, priority)``.
    """
    rows = [(database, r.key, json.dumps(r.values, ensure_ascii=False), r.body, r.priority) for r in records]
    changed = withdrawn = 0
    with conn.cursor() as cur:
        if rows:
            cur.executemany(
                'INSERT INTO records (database, key, "values", body, priority, present, updated_at)'
                " VALUES (%s, %s, %s, %s, %s, true, now())"
                ' ON CONFLICT (database, key) DO UPDATE SET "values" = EXCLUDED."values", body = EXCLUDED.body,'
                " priority = EXCLUDED.priority, present = true, updated_at = now()"
                ' WHERE records."values" IS DISTINCT FROM EXCLUDED."values" OR records.body IS DISTINCT FROM'
                " EXCLUDED.body OR records.priority IS DISTINCT FROM EXCLUDED.priority OR NOT records.present",
                rows,
            )
            changed = cur.rowcount if cur.rowcount and cur.rowcount > 0 else 0
        if vanished:
            cur.execute(
                "UPDATE records SET present = false, updated_at = now()"
                " WHERE database = %s AND present AND key = ANY(%s)",
                (database, list(vanished)),
            )
            withdrawn += max(cur.rowcount, 0)
        if withdraw_others:
            cur.execute(
                "UPDATE records SET present = false, updated_at = now()"
                " WHERE database = %s AND present AND NOT (key = ANY(%s))",
                (database, [r[1] for r in rows]),
            )
            withdrawn += max(cur.rowcount, 0)
    return StageResult(changed=changed, withdrawn=withdrawn)


def stage_rename(conn: psycopg.Connection[Any], database: str, old_key: str, new_key: str) -> None:
    """A record's key changed at its source (a renamed file); no commit.

    The record (and the human-owned values pulled for it) moves to the new key now; each target moves its
    page to the new key at its next sync, when it holds a live page for the old key and none for the new
    one, so the page and what people wrote on it stay. Stage the new key's content after this call.
    """
    if old_key == new_key:
        return
    conn.execute(
        "DELETE FROM records WHERE database = %s AND key = %s AND EXISTS ("
        " SELECT 1 FROM records o WHERE o.database = %s AND o.key = %s)",
        (database, new_key, database, old_key),
    )
    conn.execute(
        "UPDATE records SET key = %s, updated_at = now() WHERE database = %s AND key = %s", (new_key, database, old_key)
    )
    # a chain (a -> b, then b -> c) points every earlier name at the final one
    conn.execute(
        "UPDATE record_renames SET new_key = %s WHERE database = %s AND new_key = %s", (new_key, database, old_key)
    )
    conn.execute(
        "INSERT INTO record_renames (database, old_key, new_key) VALUES (%s, %s, %s)", (database, old_key, new_key)
    )


# -- questions (read only) --------------------------------------------------------------------------


def present_records(conn: psycopg.Connection[Any], database: str) -> list[SyncRecord]:
    """Every record the source currently wants in ``database``, ordered by key."""
    rows = conn.execute(
        'SELECT key, "values", body, priority FROM records WHERE database = %s AND present ORDER BY key',
        (database,),
    ).fetchall()
    return [from_row(r) for r in rows]


def keys_not_synced(
    conn: psycopg.Connection[Any], target: str, database: str, keys: Sequence[str] | None = None
) -> list[str]:
    """Those of ``keys`` (default: every present record) whose current desired content has not reached
    ``target`` completely: no page there, a write left unfinished, or older content pushed."""
    sql = (
        "SELECT r.key FROM records r LEFT JOIN notion_rows n"
        " ON n.target = %s AND n.database = r.database AND n.key = r.key"
        " WHERE r.database = %s AND r.present"
        " AND (n.key IS NULL OR n.state <> 'synced' OR n.pushed_digest IS DISTINCT FROM r.digest)"
    )
    params: tuple[Any, ...] = (target, database)
    if keys is not None:
        sql += " AND r.key = ANY(%s)"
        params = (*params, list(keys))
    return [r["key"] for r in conn.execute(sql + " ORDER BY r.key", params).fetchall()]  # type: ignore[arg-type]


def synced_body_hashes(
    conn: psycopg.Connection[Any], target: str, database: str, keys: Sequence[str]
) -> dict[str, str]:
    """For those of ``keys`` whose row in ``target`` is completely written: the digest of the page body
    there (``bodies.text_digest``, the SHA-256 of its UTF-8 text)."""
    rows = conn.execute(
        "SELECT key, body_hash FROM notion_rows WHERE target = %s AND database = %s AND key = ANY(%s)"
        " AND state = 'synced' AND machine_hash IS NOT NULL AND body_hash IS NOT NULL",
        (target, database, list(keys)),
    ).fetchall()
    return {r["key"]: r["body_hash"] for r in rows}


def last_target(conn: psycopg.Connection[Any], database: str) -> str | None:
    """The target the most recent sync of ``database`` wrote to (None before the first sync)."""
    row = conn.execute(
        "SELECT target FROM sync_runs WHERE database = %s ORDER BY id DESC LIMIT 1", (database,)
    ).fetchone()
    return str(row["target"]) if row else None


def human_values_all(
    conn: psycopg.Connection[Any], database: str, *, present_only: bool = False
) -> dict[str, dict[str, Any]]:
    """The human-owned values last pulled from Notion for every record of ``database`` that has any."""
    sql = "SELECT key, human FROM records WHERE database = %s AND human <> '{}'::jsonb"
    if present_only:
        sql += " AND present"
    return {r["key"]: dict(r["human"]) for r in conn.execute(sql, (database,)).fetchall()}  # type: ignore[arg-type]


def page_urls(conn: psycopg.Connection[Any], target: str, database: str, keys: Sequence[str]) -> dict[str, str]:
    """The Notion URL (``https://www.notion.so/<page id without dashes>``) of each of ``keys`` that has a
    live page in ``target``; keys without one are absent."""
    rows = conn.execute(
        "SELECT key, page_id FROM notion_rows WHERE target = %s AND database = %s AND key = ANY(%s)"
        " AND page_id IS NOT NULL AND state <> 'archived'",
        (target, database, list(keys)),
    ).fetchall()
    return {r["key"]: "https://www.notion.so/" + str(r["page_id"]).replace("-", "") for r in rows}


def accept_human(conn: psycopg.Connection[Any], target: str, database: str, key: str, prop: str) -> bool:
    """A capability applied a person's value of shared property ``prop`` to its own state: from now on the
    machine may write ``prop`` of ``key`` on ``target`` again (until a person changes it anew).

    Sets the value the engine remembers as written to the person's value last pulled from Notion. Returns
    False when there is nothing to accept (no pulled value, no page on this target). Does not commit.
    """
    row = conn.execute(
        "UPDATE notion_rows n SET shared = n.shared || jsonb_build_object(%(prop)s::text, r.human -> %(prop)s::text)"
        " FROM records r WHERE r.database = n.database AND r.key = n.key AND r.human ? %(prop)s::text"
        " AND n.target = %(target)s AND n.database = %(database)s AND n.key = %(key)s RETURNING n.key",
        {"prop": prop, "target": target, "database": database, "key": key},
    ).fetchone()
    return row is not None


def block_limit_state(conn: psycopg.Connection[Any], target: str) -> dict[str, Any] | None:
    """Whether ``target``'s workspace refused new blocks (the Free plan's block limit): None when it never
    did; else ``held`` (page bodies wait in the ledger), ``held_since``, ``message``, ``refusals``,
    ``released_at`` and ``what_to_do`` (see ``notion.block_limit``)."""
    from ssot_pipelines.notion.block_limit import block_limit_state as state

    return state(conn, target)
