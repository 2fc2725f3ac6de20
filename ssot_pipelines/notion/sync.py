"""NotionSyncManager: make a Notion database equal the desired records.

Desired-state upserts keyed by the ``Key`` property: create what is missing, update only rows whose
machine-owned values changed (hash kept in the ledger), archive rows whose key vanished (refusing to
archive more than half the database unless forced), pull human-owned values back and never overwrite
them. Every committed write is checkpointed in the ledger before the next one, so a run killed at any
point resumes with no duplicate and no loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from ssot_pipelines.notion.codec import (
    ValueTypeError,
    canonical,
    decode,
    encode,
    is_missing,
    normalize_id,
    selectable,
)
from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway
from ssot_pipelines.notion.provision import DatabaseIds, ProvisionReport
from ssot_pipelines.notion.text import (
    OversizedValueError,
    batch_blocks,
    block_text,
    body_blocks,
)
from ssot_pipelines.schemas import KEY_PROPERTY, DatabaseSchema, Owner, PropType, database

log = logging.getLogger(__name__)

MASS_ARCHIVE_RATIO = 0.5
MAX_AMBIGUOUS_CREATES = 5
RESERVED_COLUMNS = frozenset({"key", "body", "priority"})


@dataclass
class SyncRecord:
    """One desired row: its key, machine-owned values by property name, and an optional page body."""

    key: str
    values: dict[str, Any]
    body: str | None = None
    priority: int = 0


@dataclass
class SyncReport:
    database: str
    mode: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    failed: int = 0
    recreated: int = 0
    repaired: int = 0
    adopted: int = 0
    human_pulled: int = 0
    body_writes: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    seconds: float = 0.0
    archive_refused: int = 0
    pacer_fallbacks: int = 0
    errors: list[str] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = "\n".join(self.errors[:20]) or "none"
        data["changed_keys"] = len(self.changed_keys)
        data["seconds"] = round(self.seconds, 3)
        return data

    def summary(self) -> str:
        return (
            f"{self.database}: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.archived} archived, {self.failed} failed; {self.requests} requests, "
            f"{self.rate_limited} rate-limited, {self.retries} retries in {self.seconds:.1f}s"
        )


class MassArchiveRefused(RuntimeError):
    pass


def records_from_frame(frame: pd.DataFrame | Iterable[SyncRecord]) -> list[SyncRecord]:
    """Records from the DataFrame contract (``key``, property columns, optional ``body``/``priority``)."""
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


def rekey(conn: psycopg.Connection[Any], database_name: str, old_key: str, new_key: str) -> bool:
    """Give a record a new key and keep its Notion page (a renamed file keeps its page, Notes and links).

    The next sync writes the new Key onto the page. Returns False, moving nothing, when the old key has
    no live page or the new key already has a row of its own (then the old page is archived as usual).
    """
    with conn.transaction():
        taken = conn.execute(
            "SELECT 1 FROM notion_rows WHERE database = %s AND key = %s LIMIT 1", (database_name, new_key)
        ).fetchone()
        had = conn.execute(
            "SELECT 1 FROM notion_rows WHERE database = %s AND key = %s AND state <> 'archived' LIMIT 1",
            (database_name, old_key),
        ).fetchone()
        if taken or not had:
            return False
        conn.execute("DELETE FROM records WHERE database = %s AND key = %s", (database_name, new_key))
        for table in ("records", "notion_rows"):
            conn.execute(
                f"UPDATE {table} SET key = %s WHERE database = %s AND key = %s", (new_key, database_name, old_key)
            )
    return True


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NotionSyncManager:
    """Sync records into the provisioned databases of one Notion target."""

    def __init__(
        self,
        gateway: NotionGateway,
        conn: psycopg.Connection[Any],
        target: str,
        ids: Mapping[str, DatabaseIds],
    ) -> None:
        self.gateway = gateway
        self.conn = conn
        self.target = target
        self.ids = dict(ids)
        self.provisioned = ProvisionReport()

    def close(self) -> None:
        self.gateway.close()

    # -- public API ---------------------------------------------------------------------------------

    def sync(
        self,
        database_name: str,
        frame: pd.DataFrame | Iterable[SyncRecord],
        *,
        mode: str | None = None,
        vanished: Sequence[str] | None = None,
        force_archive: bool = False,
        reconcile: bool = False,
    ) -> SyncReport:
        """Make the database equal the records. ``mode`` defaults to ``frame.attrs["sync_mode"]``."""
        schema = database(database_name)
        attrs = frame.attrs if isinstance(frame, pd.DataFrame) else {}
        mode = mode or str(attrs.get("sync_mode", "full"))
        if mode not in ("full", "incremental"):
            raise ValueError(f"sync mode must be 'full' or 'incremental', not {mode!r}")
        vanished = list(vanished if vanished is not None else attrs.get("vanished", []))
        records = records_from_frame(frame)
        self._check_unique(records)
        started = time.monotonic()
        before = self.gateway.stats.snapshot()
        fallbacks_before = self.gateway.pacer.fallbacks
        report = SyncReport(database=schema.name, mode=mode + ("+reconcile" if reconcile else ""))
        run_id = self._start_run(schema.name, report.mode)

        self._store_desired(schema, records, mode=mode, vanished=vanished)
        notion_pages: dict[str, list[dict[str, Any]]] | None = None
        if reconcile:
            notion_pages = self._read_all(schema)
            self._pull_human_from(schema, notion_pages, report)

        ordered = sorted(records, key=lambda r: (-r.priority, r.key))
        deferred: list[SyncRecord] = []
        for record in ordered:
            try:
                if not self._sync_one(schema, record, report, notion_pages, deferred):
                    continue
            except (NotionError, OversizedValueError, ValueTypeError) as exc:
                report.failed += 1
                report.errors.append(f"{record.key}: {exc}")
                log.warning("sync of %s %r failed: %s", schema.name, record.key, exc)
        # Relations to rows created later in this same run (self relations) resolve on a second pass.
        for record in deferred:
            try:
                self._sync_one(schema, record, report, None, None)
            except (NotionError, OversizedValueError, ValueTypeError) as exc:
                report.failed += 1
                report.errors.append(f"{record.key}: {exc}")

        desired_keys = {r.key for r in records}
        to_archive = self._archive_candidates(schema, desired_keys, mode, vanished, notion_pages)
        self._archive(schema, to_archive, report, force_archive)
        if notion_pages is not None:
            self._archive_duplicates(schema, notion_pages, report)

        after = self.gateway.stats.snapshot()
        report.requests = after["requests"] - before["requests"]
        report.rate_limited = after["rate_limited"] - before["rate_limited"]
        report.retries = after["retries"] - before["retries"]
        report.pacer_fallbacks = self.gateway.pacer.fallbacks - fallbacks_before
        report.seconds = time.monotonic() - started
        self._finish_run(run_id, report)
        return report

    def human_values(self, database_name: str, key: str) -> dict[str, Any]:
        """The human-owned values last pulled from Notion for one record."""
        row = self.conn.execute(
            "SELECT human FROM records WHERE database = %s AND key = %s", (database_name, key)
        ).fetchone()
        self.conn.commit()
        return dict(row["human"]) if row else {}

    def human_values_all(self, database_name: str) -> dict[str, dict[str, Any]]:
        """The human-owned values last pulled from Notion for every record of a database."""
        rows = self.conn.execute(
            "SELECT key, human FROM records WHERE database = %s AND human <> '{}'::jsonb", (database_name,)
        ).fetchall()
        self.conn.commit()
        return {r["key"]: dict(r["human"]) for r in rows}

    def pull_human(self, database_name: str, *, since: datetime | None = None) -> int:
        """Pull human-owned values of rows edited in Notion since the last pull; return rows seen."""
        schema = database(database_name)
        if not schema.owned(Owner.HUMAN):
            return 0
        mark = self.conn.execute(
            "SELECT pulled_until FROM sync_watermarks WHERE target = %s AND database = %s",
            (self.target, schema.name),
        ).fetchone()
        start = since or (mark["pulled_until"] if mark else None)
        now = datetime.now(UTC)
        flt = None
        if start is not None:
            # Notion's timestamps are minute-granular: look back two minutes to miss nothing.
            iso = (start - timedelta(minutes=2)).isoformat()
            flt = {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": iso}}
        pages = self.gateway.query_all(self._ds(schema), filter=flt)
        grouped = self._group_by_key(schema, pages)
        report = SyncReport(database=schema.name, mode="pull")
        self._pull_human_from(schema, grouped, report)
        self.conn.execute(
            "INSERT INTO sync_watermarks (target, database, pulled_until) VALUES (%s, %s, %s)"
            " ON CONFLICT (target, database) DO UPDATE SET pulled_until = EXCLUDED.pulled_until",
            (self.target, schema.name, now),
        )
        self.conn.commit()
        return report.human_pulled

    def page_id(self, database_name: str, key: str) -> str | None:
        row = self.conn.execute(
            "SELECT page_id FROM notion_rows WHERE target = %s AND database = %s AND key = %s AND state <> 'archived'",
            (self.target, database_name, key),
        ).fetchone()
        self.conn.commit()
        return str(row["page_id"]) if row and row["page_id"] else None

    def read_body(self, page_id: str) -> str:
        """The exact text of a page body (all blocks' rich text, in order)."""
        out: list[str] = []
        cursor: str | None = None
        while True:
            query: dict[str, Any] = {"page_size": 100}
            if cursor:
                query["start_cursor"] = cursor
            res = self.gateway.call("GET", f"blocks/{page_id}/children", query=query)
            out.extend(block_text(b) for b in res.get("results", []))
            if not res.get("has_more"):
                return "".join(out)
            cursor = res["next_cursor"]

    # -- one record ---------------------------------------------------------------------------------

    def _sync_one(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        report: SyncReport,
        notion_pages: dict[str, list[dict[str, Any]]] | None,
        deferred: list[SyncRecord] | None,
    ) -> bool:
        desired = self._canonical_values(schema, record)
        relation_ids, unresolved = self._resolve_relations(schema, desired)
        if unresolved and deferred is not None and self._self_relation_pending(schema, unresolved):
            deferred.append(record)
        # With relation targets still missing, what was written is a partial state: its hash differs from
        # the complete one, so the row is written again once the targets exist.
        machine_hash = _digest(desired) if not unresolved else "partial:" + _digest([desired, relation_ids])
        body_hash = _text_digest(record.body) if record.body is not None else None
        row = self._row(schema.name, record.key)

        if notion_pages is not None and row is not None and row["state"] != "archived":
            # Reconcile: the ledger says the page exists; trust Notion for whether it still does.
            pages = notion_pages.get(record.key, [])
            live = [p for p in pages if normalize_id(p["id"]) == normalize_id(row["page_id"] or "")]
            if not live and row["state"] == "synced":
                report.recreated += 1
                self._forget(schema.name, record.key)
                row = None
            elif live and row["state"] == "synced":
                actual = self._decoded_machine(schema, live[0])
                if actual != self._expected_decoded(schema, desired, relation_ids):
                    report.repaired += 1
                    self._set_row(schema.name, record.key, machine_hash="repair")
                    row = self._row(schema.name, record.key)

        if row is None or row["state"] == "creating" or (row["state"] == "archived" and not row["page_id"]):
            page_id = self._create(schema, record, desired, relation_ids, machine_hash, body_hash, row, report)
            return page_id is not None

        if row["state"] == "archived":
            self._restore(row["page_id"])
        page_id = str(row["page_id"])
        changed = False
        if row["state"] == "archived" or row["machine_hash"] != machine_hash:
            self._set_row(schema.name, record.key, state="writing")
            self.gateway.call(
                "PATCH",
                f"pages/{page_id}",
                body={"properties": self._payload(schema, desired, relation_ids)},
                kind=Call.UPDATE,
            )
            self._set_row(schema.name, record.key, state="synced", machine_hash=machine_hash)
            changed = True
        if record.body is not None and row["body_hash"] != body_hash:
            self._write_body(schema, record.key, page_id, record.body, row)
            report.body_writes += 1
            changed = True
        elif row["state"] == "writing":
            self._set_row(schema.name, record.key, state="synced")
        if changed:
            report.updated += 1
            report.changed_keys.append(record.key)
        else:
            report.unchanged += 1
        return True

    def _create(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        desired: dict[str, Any],
        relation_ids: dict[str, list[str]],
        machine_hash: str | None,
        body_hash: str | None,
        row: dict[str, Any] | None,
        report: SyncReport,
    ) -> str | None:
        if row is not None and row["state"] == "creating":
            # A previous attempt may have landed: look the key up before creating again.
            existing = self._find_by_key(schema, record.key)
            if existing is not None:
                report.adopted += 1
                self._adopt(schema, record, existing, desired, relation_ids, machine_hash, report)
                return existing
        self._upsert_row(schema.name, record.key, state="creating", page_id=None)
        blocks = body_blocks(record.body) if record.body else []
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": self._ds(schema)},
            "properties": self._payload(schema, desired, relation_ids),
        }
        first: list[dict[str, Any]] = []
        if blocks:
            overhead = len(json.dumps(body, ensure_ascii=False).encode())
            first = next(batch_blocks(blocks, first_overhead=overhead))
            body["children"] = first
        page_id = ""
        for attempt in range(1, MAX_AMBIGUOUS_CREATES + 1):
            try:
                page = self.gateway.call("POST", "pages", body=body, kind=Call.CREATE)
                page_id = str(page["id"])
                break
            except AmbiguousWriteError:
                # Never create blindly again: the page may exist although the answer was an error.
                existing = self._find_by_key(schema, record.key)
                if existing is not None:
                    report.adopted += 1
                    self._adopt(schema, record, existing, desired, relation_ids, machine_hash, report)
                    return existing
                if attempt == MAX_AMBIGUOUS_CREATES:
                    raise
        pushed = "".join(block_text(b) for b in first)
        done = record.body is None or len(pushed) == len(record.body)
        self._set_row(
            schema.name,
            record.key,
            state="synced" if done else "writing",
            page_id=page_id,
            machine_hash=machine_hash,
            body_hash=_text_digest(pushed) if record.body is not None else None,
            body_length=len(pushed) if record.body is not None else None,
        )
        if not done:
            row_now = self._row(schema.name, record.key)
            assert row_now is not None and record.body is not None
            self._write_body(schema, record.key, page_id, record.body, row_now)
        report.created += 1
        report.changed_keys.append(record.key)
        return page_id

    def _adopt(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        page_id: str,
        desired: dict[str, Any],
        relation_ids: dict[str, list[str]],
        machine_hash: str | None,
        report: SyncReport,
    ) -> None:
        """Take over a page an earlier, interrupted attempt created: make its values and body right."""
        self._set_row(schema.name, record.key, state="writing", page_id=page_id, machine_hash=None,
                      body_hash=None, body_length=None)
        self.gateway.call(
            "PATCH", f"pages/{page_id}", body={"properties": self._payload(schema, desired, relation_ids)},
            kind=Call.UPDATE,
        )
        self._set_row(schema.name, record.key, machine_hash=machine_hash)
        if record.body is not None:
            row = self._row(schema.name, record.key)
            assert row is not None
            self._write_body(schema, record.key, page_id, record.body, row, verify=True)
        self._set_row(schema.name, record.key, state="synced")
        report.created += 1
        report.changed_keys.append(record.key)

    # -- bodies -------------------------------------------------------------------------------------

    def _write_body(
        self, schema: DatabaseSchema, key: str, page_id: str, body: str, row: Mapping[str, Any],
        *, verify: bool = False,
    ) -> None:
        """Make the page body equal ``body``: append when it only grew, rewrite otherwise."""
        pushed_len = row.get("body_length")
        pushed_hash = row.get("body_hash")
        if verify or row.get("state") == "writing" or pushed_len is None:
            # The ledger cannot vouch for what is on the page (an interrupted write): read it back.
            current = self.read_body(page_id)
            pushed_len, pushed_hash = len(current), _text_digest(current)
        assert pushed_len is not None
        if pushed_len and not (len(body) >= pushed_len and _text_digest(body[:pushed_len]) == pushed_hash):
            self._set_row(schema.name, key, state="writing")
            self.gateway.call("PATCH", f"pages/{page_id}", body={"erase_content": True}, kind=Call.UPDATE)
            pushed_len = 0
            self._set_row(schema.name, key, body_hash=_text_digest(""), body_length=0)
        rest = body[pushed_len:]
        if rest:
            self._set_row(schema.name, key, state="writing")
        for batch in batch_blocks(body_blocks(rest)):
            try:
                self.gateway.call(
                    "PATCH", f"blocks/{page_id}/children", body={"children": batch}, kind=Call.CREATE
                )
                pushed_len += sum(len(block_text(b)) for b in batch)
            except AmbiguousWriteError:
                current = self.read_body(page_id)
                expected_after = pushed_len + sum(len(block_text(b)) for b in batch)
                if len(current) == expected_after and body.startswith(current):
                    pushed_len = expected_after
                elif len(current) == pushed_len:
                    self.gateway.call("PATCH", f"blocks/{page_id}/children", body={"children": batch},
                                      kind=Call.UPDATE)
                    pushed_len = expected_after
                else:
                    raise NotionError(f"the body of {key!r} changed in Notion while it was written; "
                                      "the next sync rewrites it") from None
            self._set_row(schema.name, key, body_hash=_text_digest(body[:pushed_len]), body_length=pushed_len)
        self._set_row(schema.name, key, state="synced")

    # -- archiving ----------------------------------------------------------------------------------

    def _archive_candidates(
        self,
        schema: DatabaseSchema,
        desired_keys: set[str],
        mode: str,
        vanished: Sequence[str],
        notion_pages: dict[str, list[dict[str, Any]]] | None,
    ) -> list[str]:
        live = self.conn.execute(
            "SELECT key FROM notion_rows WHERE target = %s AND database = %s AND state <> 'archived'",
            (self.target, schema.name),
        ).fetchall()
        self.conn.commit()
        live_keys = {r["key"] for r in live}
        if mode == "full":
            gone = live_keys - desired_keys
            if notion_pages is not None:
                # Rows of ours that the ledger lost track of (a reset ledger) but Notion still shows.
                gone |= {k for k in notion_pages if k not in desired_keys and self._is_ours(schema, k)}
            return sorted(gone)
        return sorted(k for k in set(vanished) if k in live_keys and k not in desired_keys)

    def _is_ours(self, schema: DatabaseSchema, key: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM records WHERE database = %s AND key = %s", (schema.name, key)
        ).fetchone()
        self.conn.commit()
        return row is not None

    def _archive(self, schema: DatabaseSchema, keys: list[str], report: SyncReport, force: bool) -> None:
        if not keys:
            return
        total = self.conn.execute(
            "SELECT count(*) AS n FROM notion_rows WHERE target = %s AND database = %s AND state <> 'archived'",
            (self.target, schema.name),
        ).fetchone()
        self.conn.commit()
        live = int(total["n"]) if total else 0
        if not force and live and len(keys) > MASS_ARCHIVE_RATIO * live:
            report.archive_refused = len(keys)
            report.errors.append(
                f"refused to archive {len(keys)} of {live} rows (more than half the database) in one run; "
                "if the source really lost them, re-run with force_archive=true (CLI: --force-archive)"
            )
            return
        for key in keys:
            row = self._row(schema.name, key)
            try:
                if row is not None and row["page_id"]:
                    self.gateway.call("PATCH", f"pages/{row['page_id']}", body={"in_trash": True}, kind=Call.UPDATE)
                    self._set_row(schema.name, key, state="archived")
                else:
                    page_id = self._find_by_key(schema, key)
                    if page_id:
                        self.gateway.call("PATCH", f"pages/{page_id}", body={"in_trash": True}, kind=Call.UPDATE)
                self.conn.execute(
                    "UPDATE records SET present = false, updated_at = now() WHERE database = %s AND key = %s",
                    (schema.name, key),
                )
                self.conn.commit()
                report.archived += 1
            except NotionError as exc:
                report.failed += 1
                report.errors.append(f"archive {key}: {exc}")

    def _archive_duplicates(
        self, schema: DatabaseSchema, notion_pages: dict[str, list[dict[str, Any]]], report: SyncReport
    ) -> None:
        """Two pages with one key (left by a tool or a person): keep the ledger's page, trash the others."""
        for key, pages in notion_pages.items():
            if len(pages) < 2:
                continue
            keep = self.page_id(schema.name, key)
            keep_id = normalize_id(keep) if keep else normalize_id(pages[0]["id"])
            for page in pages:
                if normalize_id(page["id"]) != keep_id:
                    self.gateway.call("PATCH", f"pages/{page['id']}", body={"in_trash": True}, kind=Call.UPDATE)
                    report.archived += 1

    def _restore(self, page_id: str) -> None:
        self.gateway.call("PATCH", f"pages/{page_id}", body={"in_trash": False}, kind=Call.UPDATE)

    # -- reading Notion back ------------------------------------------------------------------------

    def _read_all(self, schema: DatabaseSchema) -> dict[str, list[dict[str, Any]]]:
        pages = self.gateway.query_all(self._ds(schema))
        return self._group_by_key(schema, pages)

    def _group_by_key(self, schema: DatabaseSchema, pages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        key_spec = schema.prop(KEY_PROPERTY)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for page in pages:
            if page.get("in_trash") or page.get("archived"):
                continue
            key = decode(key_spec, page.get("properties", {}).get(KEY_PROPERTY))
            if key:
                grouped.setdefault(str(key), []).append(page)
        return grouped

    def _pull_human_from(
        self, schema: DatabaseSchema, pages: Mapping[str, list[dict[str, Any]]], report: SyncReport
    ) -> None:
        human_specs = schema.owned(Owner.HUMAN)
        if not human_specs:
            return
        for key, group in pages.items():
            page = group[0]
            values = {s.name: decode(s, page.get("properties", {}).get(s.name)) for s in human_specs}
            updated = self.conn.execute(
                "UPDATE records SET human = %s WHERE database = %s AND key = %s AND human IS DISTINCT FROM %s",
                (json.dumps(values), schema.name, key, json.dumps(values)),
            )
            report.human_pulled += updated.rowcount or 0
        self.conn.commit()

    def _find_by_key(self, schema: DatabaseSchema, key: str) -> str | None:
        pages = self.gateway.query_all(
            self._ds(schema), filter={"property": KEY_PROPERTY, "rich_text": {"equals": key}}
        )
        live = [p for p in pages if not (p.get("in_trash") or p.get("archived"))]
        if not live:
            return None
        live.sort(key=lambda p: (p.get("created_time", ""), p["id"]))
        return str(live[0]["id"])

    def _decoded_machine(self, schema: DatabaseSchema, page: Mapping[str, Any]) -> dict[str, Any]:
        props = page.get("properties", {})
        return {
            s.name: decode(s, props.get(s.name))
            for s in schema.owned(Owner.MACHINE)
        }

    def _expected_decoded(
        self, schema: DatabaseSchema, desired: Mapping[str, Any], relation_ids: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in schema.owned(Owner.MACHINE):
            if spec.type is PropType.RELATION:
                out[spec.name] = sorted(normalize_id(i) for i in relation_ids.get(spec.name, []))
            else:
                out[spec.name] = selectable(spec, desired.get(spec.name))
        return out

    # -- values -------------------------------------------------------------------------------------

    def _canonical_values(self, schema: DatabaseSchema, record: SyncRecord) -> dict[str, Any]:
        unknown = [k for k in record.values if k not in {p.name for p in schema.properties}]
        if unknown:
            raise ValueTypeError(f"{schema.name} has no properties {unknown}; see ssot_pipelines/schemas")
        values = {}
        for spec in schema.owned(Owner.MACHINE):
            if spec.name == KEY_PROPERTY:
                values[spec.name] = record.key
            else:
                values[spec.name] = canonical(spec, record.values.get(spec.name))
        return values

    def _payload(
        self, schema: DatabaseSchema, desired: Mapping[str, Any], relation_ids: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        return {
            spec.name: encode(spec, desired.get(spec.name), relation_ids.get(spec.name))
            for spec in schema.owned(Owner.MACHINE)
        }

    def _resolve_relations(
        self, schema: DatabaseSchema, desired: Mapping[str, Any]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        resolved: dict[str, list[str]] = {}
        unresolved: dict[str, list[str]] = {}
        for spec in schema.relations:
            keys = desired.get(spec.name) or []
            if not keys:
                resolved[spec.name] = []
                continue
            assert spec.relation_to is not None
            rows = self.conn.execute(
                "SELECT key, page_id FROM notion_rows WHERE target = %s AND database = %s AND key = ANY(%s)"
                " AND page_id IS NOT NULL AND state <> 'archived'",
                (self.target, spec.relation_to, list(keys)),
            ).fetchall()
            self.conn.commit()
            found = {r["key"]: r["page_id"] for r in rows}
            resolved[spec.name] = [found[k] for k in keys if k in found]
            missing = [k for k in keys if k not in found]
            if missing:
                unresolved[spec.name] = missing
        return resolved, unresolved

    def _self_relation_pending(self, schema: DatabaseSchema, unresolved: Mapping[str, list[str]]) -> bool:
        return any(schema.prop(name).relation_to == schema.name for name in unresolved)

    def _check_unique(self, records: Sequence[SyncRecord]) -> None:
        counts: dict[str, int] = {}
        for r in records:
            counts[r.key] = counts.get(r.key, 0) + 1
        dupes = [k for k, n in counts.items() if n > 1]
        if dupes:
            raise ValueError(f"records repeat keys {sorted(dupes)[:5]}; each key must appear once")
        long_keys = [r.key for r in records if len(r.key) > 2000]
        if long_keys:
            raise ValueError(f"keys longer than 2,000 characters cannot be matched in Notion: {long_keys[0][:80]}…")

    def _ds(self, schema: DatabaseSchema) -> str:
        try:
            return self.ids[schema.name].data_source_id
        except KeyError:
            raise RuntimeError(f"database {schema.name} is not provisioned; run `ssot setup`") from None

    # -- ledger -------------------------------------------------------------------------------------

    def _store_desired(
        self, schema: DatabaseSchema, records: Sequence[SyncRecord], *, mode: str, vanished: Sequence[str]
    ) -> None:
        """Write the desired state to the ledger first: it is the durable record, Notion follows it."""
        with self.conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO records (database, key, "values", body, priority, present, updated_at)'
                " VALUES (%s, %s, %s, %s, %s, true, now())"
                ' ON CONFLICT (database, key) DO UPDATE SET "values" = EXCLUDED."values", body = EXCLUDED.body,'
                " priority = EXCLUDED.priority, present = true, updated_at = now()"
                ' WHERE records."values" IS DISTINCT FROM EXCLUDED."values"'
                " OR records.body IS DISTINCT FROM EXCLUDED.body OR NOT records.present",
                [
                    (schema.name, r.key, json.dumps(r.values, default=str, ensure_ascii=False), r.body, r.priority)
                    for r in records
                ],
            )
            if vanished:
                cur.execute(
                    "UPDATE records SET present = false, updated_at = now() WHERE database = %s AND key = ANY(%s)",
                    (schema.name, list(vanished)),
                )
        self.conn.commit()

    def _row(self, database_name: str, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM notion_rows WHERE target = %s AND database = %s AND key = %s",
            (self.target, database_name, key),
        ).fetchone()
        self.conn.commit()
        return dict(row) if row else None

    def _upsert_row(self, database_name: str, key: str, *, state: str, page_id: str | None) -> None:
        self.conn.execute(
            "INSERT INTO notion_rows (target, database, key, page_id, state, intent_at)"
            " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (target, database, key) DO UPDATE"
            " SET state = EXCLUDED.state, page_id = EXCLUDED.page_id, intent_at = now(),"
            " machine_hash = NULL, body_hash = NULL, body_length = NULL",
            (self.target, database_name, key, page_id, state),
        )
        self.conn.commit()

    _ROW_FIELDS = ("state", "page_id", "machine_hash", "body_hash", "body_length")

    def _set_row(self, database_name: str, key: str, **fields: Any) -> None:
        assert set(fields) <= set(self._ROW_FIELDS)
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.conn.execute(
            f"UPDATE notion_rows SET {sets}, synced_at = now() WHERE target = %s AND database = %s AND key = %s",
            (*fields.values(), self.target, database_name, key),
        )
        self.conn.commit()

    def _forget(self, database_name: str, key: str) -> None:
        self.conn.execute(
            "DELETE FROM notion_rows WHERE target = %s AND database = %s AND key = %s",
            (self.target, database_name, key),
        )
        self.conn.commit()

    def _start_run(self, database_name: str, mode: str) -> int:
        row = self.conn.execute(
            "INSERT INTO sync_runs (target, database, mode) VALUES (%s, %s, %s) RETURNING id",
            (self.target, database_name, mode),
        ).fetchone()
        self.conn.commit()
        assert row is not None
        return int(row["id"])

    def _finish_run(self, run_id: int, report: SyncReport) -> None:
        self.conn.execute(
            "UPDATE sync_runs SET finished_at = now(), report = %s WHERE id = %s",
            (json.dumps(report.as_metadata(), default=str), run_id),
        )
        self.conn.commit()
