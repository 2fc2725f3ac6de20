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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import redis

from ssot_pipelines.notion.block_limit import BlockLimitGate, is_block_limit_refusal
from ssot_pipelines.notion.bodies import first_children, read_body, text_digest, write_body
from ssot_pipelines.notion.checkpoints import SyncLedger, sync_lock, sync_unlock, try_sync_lock
from ssot_pipelines.notion.codec import (
    ValueTypeError,
    canonical,
    decode,
    encode,
    normalize_id,
    selectable,
)
from ssot_pipelines.notion.desired import (
    MAX_KEY_CHARS,
    RESERVED_COLUMNS,
    SyncRecord,
    keys_not_synced,
    records_from_frame,
)
from ssot_pipelines.notion.edits_gate import PULL_MARGIN, GateAnswer, edited_since
from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway
from ssot_pipelines.notion.progress import PROGRESS_INTERVAL_SECONDS, ProgressCallback, SyncProgress
from ssot_pipelines.notion.provision import DatabaseIds, ProvisionReport, provision, schema_changed
from ssot_pipelines.notion.text import OversizedValueError, block_text
from ssot_pipelines.schemas import KEY_PROPERTY, DatabaseSchema, Owner, PropType, database

log = logging.getLogger(__name__)

MASS_ARCHIVE_RATIO = 0.5
MAX_AMBIGUOUS_CREATES = 5

__all__ = ["RESERVED_COLUMNS", "NotionSyncManager", "SyncRecord", "SyncReport", "records_from_frame"]


class RefusedRecordError(ValueError):
    """A record Notion cannot take as it is (e.g. a key too long to look up); it fails alone."""


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
    bodies_held: int = 0  # page bodies left pending in the ledger: the workspace's block limit
    block_limit: str = "ok"  # "ok", or "held: <what to do>" while Notion refuses new blocks
    duplicates: int = 0  # extra pages of one key found when reading back (trashed by this run)
    read_back_rows: int = -1  # pages read back from Notion by a reconcile (-1: Notion was not read)
    requests_per_minute: float = 0.0  # the pacer's budget when the sync ended
    pacer_learned: bool = False  # that budget was learned from Notion's 429s
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


def _pages_by_id(pages: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {normalize_id(p["id"]): p for group in pages.values() for p in group}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class NotionSyncManager:
    """Sync records into the provisioned databases of one Notion target.

    ``close()`` closes the gateway, the ledger connection and the Redis client the manager was given.
    One sync per (target, database) runs at a time: ``serialized`` (also taken by ``sync``) holds a
    PostgreSQL advisory lock; a second run waits for the first, then finds its work done.
    """

    def __init__(
        self,
        gateway: NotionGateway,
        conn: psycopg.Connection[Any],
        target: str,
        ids: Mapping[str, DatabaseIds],
        *,
        redis_client: redis.Redis | None = None,
        parent_page_id: str | None = None,
    ) -> None:
        self.gateway = gateway
        # the page the databases (and the status page) live under; known: a schema changed behind our back is
        # provisioned again
        self.parent_page_id = parent_page_id
        self.conn = conn
        self.target = target
        self.ledger = SyncLedger(conn, target)
        self.ids = dict(ids)
        self.provisioned = ProvisionReport()
        self.redis_client = redis_client
        self.on_progress: ProgressCallback | None = None
        self.progress_interval = PROGRESS_INTERVAL_SECONDS
        self._held: dict[str, int] = {}
        self.blocks = BlockLimitGate(conn, target)
        self._schema_repaired = False
        # this integration's user (users/me): pages it edited last are its own writes, not people's edits
        self.bot_user_id: str | None = None
        self.last_gate: GateAnswer | None = None  # what the last pull_human_many's edits gate answered
        self._shared_known = True  # this sync knows Notion's current shared values (pulled, or nothing to write)

    def close(self) -> None:
        """Close the gateway, the ledger connection and the Redis client (idempotent)."""
        self.gateway.close()
        if not self.conn.closed:
            self.conn.close()
        self._held.clear()
        if self.redis_client is not None:
            self.redis_client.close()

    def __enter__(self) -> NotionSyncManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def serialized(self, database_name: str, log_line: ProgressCallback | None = None) -> Iterator[bool]:
        """Hold the sync lock of (this target, ``database_name``) for the block; yields whether it had to
        wait for another run. Re-entrant within one manager."""
        name = database(database_name).name
        waited = False
        if not self._held.get(name) and not try_sync_lock(self.conn, self.target, name):
            waited = True
            text = (
                f"{name}: another sync of this database to this Notion target is running; "
                "waiting for it to finish (one sync per target and database at a time)"
            )
            log.info(text)
            if log_line is not None:
                log_line(text)
            sync_lock(self.conn, self.target, name)
        self._held[name] = self._held.get(name, 0) + 1
        try:
            yield waited
        finally:
            self._held[name] -= 1
            if not self._held[name]:
                del self._held[name]
                sync_unlock(self.conn, self.target, name)

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
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Make the database equal the records. ``mode`` defaults to ``frame.attrs["sync_mode"]``.

        full: the records are the complete desired state. incremental: the records plus everything still
        pending for this target in the ledger (records it has not received completely, whatever run
        staged them, and live rows whose record is gone) -- so a crash, a failed record or a switch of
        target is made good by the next ordinary run.
        """
        schema = database(database_name)
        with self.serialized(schema.name, progress or self.on_progress):
            return self._sync(schema, frame, mode, vanished, force_archive, reconcile, progress or self.on_progress)

    def _sync(
        self,
        schema: DatabaseSchema,
        frame: pd.DataFrame | Iterable[SyncRecord],
        mode: str | None,
        vanished: Sequence[str] | None,
        force_archive: bool,
        reconcile: bool,
        progress_line: ProgressCallback | None,
    ) -> SyncReport:
        attrs = frame.attrs if isinstance(frame, pd.DataFrame) else {}
        mode = mode or str(attrs.get("sync_mode", "full"))
        if mode not in ("full", "incremental"):
            raise ValueError(f"sync mode must be 'full' or 'incremental', not {mode!r}")
        vanished = list(vanished if vanished is not None else attrs.get("vanished", []))
        records = records_from_frame(frame)
        self._check_unique(records)
        started = time.monotonic()
        self._schema_repaired = False
        before = self.gateway.stats.snapshot()
        fallbacks_before = self.gateway.pacer.fallbacks
        report = SyncReport(database=schema.name, mode=mode + ("+reconcile" if reconcile else ""))
        run_id = self.ledger.start_run(schema.name, report.mode)
        self.blocks.start_sync()

        self.ledger.store_desired(schema.name, records, vanished, complete=mode == "full")
        self.ledger.apply_renames(schema.name)
        self.ledger.refresh_statistics()  # a first import's thousands of rows: plan the pending join well
        if mode == "incremental":
            records += self.ledger.pending_records(schema.name, {r.key for r in records})
        notion_pages: dict[str, list[dict[str, Any]]] | None = None
        self._shared_known = True
        if reconcile:
            reading = SyncProgress(
                f"{schema.name} (reading Notion back)", 0, progress_line, interval=self.progress_interval
            )
            notion_pages = self.read_pages(schema, on_batch=reading.read_so_far)
            report.read_back_rows = sum(len(group) for group in notion_pages.values())
            self._pull_human_from(schema, notion_pages, report)

        elif schema.owned(Owner.SHARED):
            # Shared values may only be written while nobody changed them: know Notion's current ones before
            # the first write. A run with nothing pending writes nothing and skips the pull (issue 14: a run
            # with nothing to do makes at most 3 requests); should a record still need a write, _sync_one
            # pulls right before it (_know_shared).
            self._shared_known = False
            if keys_not_synced(self.conn, self.target, schema.name):
                self._know_shared(schema)

        progress = SyncProgress(schema.name, len(records), progress_line, interval=self.progress_interval)
        by_page = _pages_by_id(notion_pages) if notion_pages is not None else None
        deferred: list[SyncRecord] = []
        for record in sorted(records, key=lambda r: (-r.priority, r.key)):
            self._sync_guarded(schema, record, report, deferred, by_page)
            progress.step()
        # Relations to rows created later in this same run (self relations) resolve on a second pass.
        progress.add(len(deferred))
        for record in deferred:
            self._sync_guarded(schema, record, report, None, None)
            progress.step()

        desired_keys = {r.key for r in records}
        to_archive = self._archive_candidates(schema, desired_keys, mode, notion_pages)
        progress.add(len(to_archive))
        self._archive(schema, to_archive, report, force_archive, progress)
        if notion_pages is not None:
            self._archive_duplicates(schema, notion_pages, report)

        self._shared_known = True
        after = self.gateway.stats.snapshot()
        report.requests = after["requests"] - before["requests"]
        report.rate_limited = after["rate_limited"] - before["rate_limited"]
        report.retries = after["retries"] - before["retries"]
        report.pacer_fallbacks = self.gateway.pacer.fallbacks - fallbacks_before
        pacing = self.gateway.pacer.describe()
        report.requests_per_minute = float(pacing["requests_per_minute"])
        report.pacer_learned = bool(pacing["learned"])
        report.seconds = time.monotonic() - started
        limit = self.blocks.state()
        if limit and limit["held"]:
            report.block_limit = f"held since {limit['held_since']:%Y-%m-%d %H:%M}Z: {limit['what_to_do']}"
        self.ledger.finish_run(run_id, report.as_metadata())
        self.ledger.refresh_statistics()  # thousands of rows just pushed: the next run's pending join plans well
        return report

    def _know_shared(self, schema: DatabaseSchema) -> None:
        """Pull Notion's current human-owned and shared values once in this sync (before its first write)."""
        if not self._shared_known:
            self.pull_human(schema.name)
            self._shared_known = True

    @staticmethod
    def _hash_differs(row: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
        """Whether ``desired`` (complete) would be written over the row: its hash is not the one last written.
        A partial write (relations unresolved) hashes differently, so it counts as a write too."""
        return bool(row["machine_hash"] != _digest(desired))

    def human_values(self, database_name: str, key: str) -> dict[str, Any]:
        """The human-owned values last pulled from Notion for one record."""
        return self.ledger.human(database_name, key)

    def human_values_all(self, database_name: str) -> dict[str, dict[str, Any]]:
        """The human-owned values last pulled from Notion for every record of a database."""
        return self.ledger.human_all(database_name)

    def pull_human(self, database_name: str, *, since: datetime | None = None) -> int:
        """Pull human-owned values of rows edited in Notion since the last pull; return rows changed."""
        schema = database(database_name)
        if not (schema.owned(Owner.HUMAN) or schema.owned(Owner.SHARED)):
            return 0
        start = since or self.ledger.pulled_until(schema.name)
        now = datetime.now(UTC)
        flt = None
        if start is not None:
            # Notion's timestamps are minute-granular: look back two minutes to miss nothing.
            iso = (start - PULL_MARGIN).isoformat()
            flt = {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": iso}}
        pages = self._query(
            schema,
            [KEY_PROPERTY] + [s.name for s in schema.owned(Owner.HUMAN) + schema.owned(Owner.SHARED)],
            filter=flt,
        )
        grouped = self._group_by_key(schema, pages)
        report = SyncReport(database=schema.name, mode="pull")
        self._pull_human_from(schema, grouped, report)
        self.ledger.set_pulled_until(schema.name, now)
        return report.human_pulled

    def pull_human_many(self, database_names: Sequence[str]) -> dict[str, int]:
        """Pull people's edits of several databases (``pull_human`` each), asking Notion first with one search
        which of them a person edited since their last pull (``edits_gate``): a database with no such page is
        not queried and keeps its watermark. A single database, or one never pulled, is pulled directly (one
        query costs what the search does). Returns rows changed per database; ``last_gate`` says what the
        gate answered."""
        names = [database(n).name for n in database_names]
        pulled = dict.fromkeys(names, 0)
        wanted = [
            n for n in names if n in self.ids and (database(n).owned(Owner.HUMAN) or database(n).owned(Owner.SHARED))
        ]
        watermarks = {n: self.ledger.pulled_until(n) for n in wanted}
        self.last_gate = None
        to_pull = wanted
        if sum(1 for w in watermarks.values() if w is not None) >= 2:
            parents = {
                n: {normalize_id(self.ids[n].data_source_id), normalize_id(self.ids[n].database_id)} for n in wanted
            }
            self.last_gate = edited_since(self.gateway, watermarks, parents, self.bot_user_id)
            to_pull = self.last_gate.pull
            if self.last_gate.skip:
                log.info(
                    "no page of %s edited by a person since the last pull: not queried",
                    ", ".join(self.last_gate.skip),
                )
        for name in to_pull:
            pulled[name] = self.pull_human(name)
        return pulled

    def database_of(self, data_source_or_database_id: str) -> str | None:
        """The name of the provisioned database with that data source (or database) id, if any."""
        wanted = data_source_or_database_id.replace("-", "")
        for name, ids in self.ids.items():
            if wanted in (ids.data_source_id.replace("-", ""), ids.database_id.replace("-", "")):
                return name
        return None

    def pull_page(self, database_name: str, page_id: str) -> bool:
        """Re-read one page and store its human-owned and shared values (a webhook's hint); True when they
        changed. A page in the trash, without a key, or whose key the ledger has no record of changes nothing."""
        schema = database(database_name)
        if not (schema.owned(Owner.HUMAN) or schema.owned(Owner.SHARED)):
            return False
        page = self.gateway.call("GET", f"pages/{page_id}", kind=Call.READ)
        grouped = self._group_by_key(schema, [page])
        report = SyncReport(database=schema.name, mode="pull")
        self._pull_human_from(schema, grouped, report)
        return report.human_pulled > 0

    def page_id(self, database_name: str, key: str) -> str | None:
        """The live Notion page of a record, if it has one."""
        return self.ledger.page_id(database_name, key)

    def read_body(self, page_id: str) -> str:
        """The exact text of a page body (all blocks' rich text, in order)."""
        return read_body(self.gateway, page_id)

    # -- one record ---------------------------------------------------------------------------------

    def _sync_guarded(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        report: SyncReport,
        deferred: list[SyncRecord] | None,
        by_page: dict[str, dict[str, Any]] | None,
    ) -> None:
        """Sync one record; a failure is counted and reported, and the run goes on with the next.

        A failed record stays pending (its pushed digest is not its digest): the next run tries it again,
        and it never holds back the others.
        """
        try:
            if len(record.key) > MAX_KEY_CHARS:
                raise RefusedRecordError(
                    f"its key has {len(record.key):,} characters; Notion can only find a row by a key of at most "
                    f"{MAX_KEY_CHARS:,}: shorten the key at the source"
                )
            try:
                self._sync_one(schema, record, report, deferred, by_page)
            except NotionError as exc:
                if not self._repair_schema(schema, exc):
                    raise
                self._sync_one(schema, record, report, deferred, by_page)  # once, against the repaired schema
        except (NotionError, OversizedValueError, ValueTypeError, RefusedRecordError) as exc:
            report.failed += 1
            shown = record.key if len(record.key) <= 120 else record.key[:117] + "..."
            report.errors.append(f"{shown}: {exc}")
            log.warning("sync of %s %r failed: %s", schema.name, shown, exc)

    def _repair_schema(self, schema: DatabaseSchema, exc: NotionError) -> bool:
        """A write refused because a schema changed behind our back (a person deleted one of our properties,
        or the database): provision again, once per sync; True when the write is worth one more try."""
        if self._schema_repaired or self.parent_page_id is None or not schema_changed(schema, self._ds(schema), exc):
            return False
        self._schema_repaired = True
        log.warning("%s: Notion refused a write (%s); reading the schemas again and repairing them", schema.name, exc)
        ids, report = provision(self.gateway, self.conn, self.target, self.parent_page_id)
        self.ids = dict(ids)
        self.provisioned.merge(report)
        return True

    def _sync_one(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        report: SyncReport,
        deferred: list[SyncRecord] | None,
        by_page: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        desired = self.canonical_values(schema, record)
        row = self.ledger.row(schema.name, record.key)
        to_share = self._shared_to_write(schema, record, row)
        if (
            to_share
            and not self._shared_known
            and (row is None or row["state"] != "synced" or self._hash_differs(row, {**desired, **to_share}))
        ):
            # about to write shared values without having read Notion's: read them first
            self._know_shared(schema)
            to_share = self._shared_to_write(schema, record, row)
        desired.update(to_share)
        relation_ids, unresolved = self.resolve_relations(schema, desired)
        if unresolved and deferred is not None and self._self_relation_pending(schema, unresolved):
            deferred.append(record)
        # With relation targets still missing, what was written is a partial state: its hash differs from
        # the complete one, so the row is written again once the targets exist.
        machine_hash = _digest(desired) if not unresolved else "partial:" + _digest([desired, relation_ids])
        body_hash = text_digest(record.body) if record.body is not None else None
        # the record's digest once this target has it completely; a partial write leaves it pending
        pushed = record.digest if not unresolved else None

        if by_page is not None and row is not None and row["state"] != "archived":
            # Reconcile: the ledger says the page exists; trust Notion for whether it still does. Found by
            # its id, not its Key: a renamed record's page still shows the old key until it is rewritten.
            page = by_page.get(normalize_id(row["page_id"] or ""))
            if page is None and row["state"] == "synced":
                report.recreated += 1
                self.ledger.forget(schema.name, record.key)
                row = None
            elif page is not None and row["state"] == "synced":
                actual = self.decoded_values(schema, page)
                expected = self.expected_values(schema, desired, relation_ids)
                if actual != {name: expected[name] for name in actual}:
                    report.repaired += 1
                    self.ledger.set_row(schema.name, record.key, machine_hash="repair")
                    row = self.ledger.row(schema.name, record.key)

        if row is None or row["state"] == "creating" or (row["state"] == "archived" and not row["page_id"]):
            self._create(schema, record, desired, relation_ids, machine_hash, report, pushed)
            return

        if row["state"] == "archived":
            self._restore(row["page_id"])
        page_id = str(row["page_id"])
        changed = False
        if row["state"] == "archived" or row["machine_hash"] != machine_hash:
            self.ledger.set_row(schema.name, record.key, state="writing", pushed_digest=None)
            self.gateway.call(
                "PATCH",
                f"pages/{page_id}",
                body={"properties": self._payload(schema, desired, relation_ids)},
                kind=Call.UPDATE,
            )
            shared = self._shared_json(schema, desired, row)
            done = {"pushed_digest": pushed} if record.body is None or row["body_hash"] == body_hash else {}
            self.ledger.set_row(
                schema.name, record.key, state="synced", machine_hash=machine_hash, shared=shared, **done
            )
            changed = True
        if record.body is not None and row["body_hash"] != body_hash:
            if self._write_body(schema, record, page_id, row, report):
                self.ledger.set_row(schema.name, record.key, pushed_digest=pushed)
                report.body_writes += 1
                changed = True
        elif row["state"] == "writing":
            self.ledger.set_row(schema.name, record.key, state="synced", pushed_digest=pushed)
        elif not changed and row.get("pushed_digest") != pushed:
            self.ledger.set_row(schema.name, record.key, pushed_digest=pushed)
        if changed:
            report.updated += 1
            report.changed_keys.append(record.key)
        else:
            report.unchanged += 1

    def _create(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        desired: dict[str, Any],
        relation_ids: dict[str, list[str]],
        machine_hash: str | None,
        report: SyncReport,
        pushed: str | None = None,
    ) -> str:
        row = self.ledger.row(schema.name, record.key)
        if row is not None and row["state"] == "creating":
            # A previous attempt may have landed: look the key up before creating again.
            existing = self._find_by_key(schema, record.key)
            if existing is not None:
                report.adopted += 1
                self._adopt(schema, record, existing, desired, relation_ids, machine_hash, report, pushed)
                return existing
        if self.blocks.creates_refused:
            raise RefusedRecordError(
                "not created: Notion refused new blocks in this run (the workspace's block limit); "
                "it stays pending and is created once the workspace takes blocks again"
            )
        self.ledger.intend_create(schema.name, record.key)
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": self._ds(schema)},
            "properties": self._payload(schema, desired, relation_ids),
        }
        first: list[dict[str, Any]] = []
        held = self.blocks.held()
        if record.body and not held:
            first = first_children(record.body, len(json.dumps(body, ensure_ascii=False).encode()))
            if first:
                body["children"] = first
        page_id = ""
        for attempt in range(1, MAX_AMBIGUOUS_CREATES + 1):
            try:
                page = self.gateway.call("POST", "pages", body=body, kind=Call.CREATE)
                page_id = str(page["id"])
                if held:
                    self.blocks.release()  # a page is a block: the workspace takes blocks again
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
            except NotionError as exc:
                if not is_block_limit_refusal(exc):
                    raise
                self.blocks.trip(str(exc))
                self.blocks.creates_refused = True
                raise RefusedRecordError(
                    "not created: Notion refused new blocks (the workspace's block limit); it stays pending "
                    "and is created once the workspace takes blocks again"
                ) from None
        pushed_text = "".join(block_text(b) for b in first)
        done = record.body is None or len(pushed_text) == len(record.body)
        self.ledger.set_row(
            schema.name,
            record.key,
            state="synced" if done else "writing",
            page_id=page_id,
            machine_hash=machine_hash,
            shared=self._shared_json(schema, desired),
            body_hash=text_digest(pushed_text) if record.body is not None else None,
            body_length=len(pushed_text) if record.body is not None else None,
            pushed_digest=pushed if done else None,
        )
        if not done:
            row_now = self.ledger.row(schema.name, record.key)
            if row_now is None or record.body is None:
                raise RuntimeError(f"the ledger lost the row of {record.key!r} while it was created")
            if self._write_body(schema, record, page_id, row_now, report):
                self.ledger.set_row(schema.name, record.key, pushed_digest=pushed)
        report.created += 1
        report.changed_keys.append(record.key)
        return page_id

    def _write_body(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        page_id: str,
        row: Mapping[str, Any],
        report: SyncReport,
        *,
        verify: bool = False,
    ) -> bool:
        """Write the record's body unless the workspace's block limit holds bodies back; True when written.

        A held body stays pending in the ledger (its row's body hash is not the record's), so nothing is lost:
        the first sync after the workspace takes blocks again writes it."""
        assert record.body is not None
        if not self.blocks.may_create_blocks():
            report.bodies_held += 1
            return False
        was_held = self.blocks.held()
        try:
            created = write_body(
                self.gateway,
                self.ledger,
                schema.name,
                record.key,
                page_id,
                record.body,
                row,
                verify=verify,
                spare_blocks=self.blocks.known_limited(),
            )
        except NotionError as exc:
            if not is_block_limit_refusal(exc) or isinstance(exc, AmbiguousWriteError):
                raise
            self.blocks.trip(str(exc))
            report.bodies_held += 1
            return False
        if was_held:
            if created:
                self.blocks.release()
            else:
                self.blocks.probe_left = True  # an edit in place proves nothing about new blocks
        return True

    def _adopt(
        self,
        schema: DatabaseSchema,
        record: SyncRecord,
        page_id: str,
        desired: dict[str, Any],
        relation_ids: dict[str, list[str]],
        machine_hash: str | None,
        report: SyncReport,
        pushed: str | None = None,
    ) -> None:
        """Take over a page an earlier, interrupted attempt created: make its values and body right."""
        self.ledger.set_row(
            schema.name,
            record.key,
            state="writing",
            page_id=page_id,
            machine_hash=None,
            body_hash=None,
            body_length=None,
        )
        self.gateway.call(
            "PATCH",
            f"pages/{page_id}",
            body={"properties": self._payload(schema, desired, relation_ids)},
            kind=Call.UPDATE,
        )
        shared = self._shared_json(schema, desired)
        self.ledger.set_row(schema.name, record.key, machine_hash=machine_hash, shared=shared)
        if record.body is not None:
            row = self.ledger.row(schema.name, record.key)
            assert row is not None
            if not self._write_body(schema, record, page_id, row, report, verify=True):
                report.created += 1
                report.changed_keys.append(record.key)
                return  # the body waits for the workspace's block limit; the row stays pending
        self.ledger.set_row(schema.name, record.key, state="synced", pushed_digest=pushed)
        report.created += 1
        report.changed_keys.append(record.key)

    # -- archiving ----------------------------------------------------------------------------------

    def _archive_candidates(
        self,
        schema: DatabaseSchema,
        desired_keys: set[str],
        mode: str,
        notion_pages: dict[str, list[dict[str, Any]]] | None,
    ) -> list[str]:
        """Live rows of this target whose record the source no longer wants (absent, or never staged)."""
        gone = set(self.ledger.absent_live_keys(schema.name)) - desired_keys
        if mode == "full":
            gone |= self.ledger.live_keys(schema.name) - desired_keys
            if notion_pages is not None:
                # Rows of ours that the ledger lost track of (a reset ledger) but Notion still shows; never
                # a page the ledger holds under another key (a renamed record whose Key is not rewritten yet).
                ours = {normalize_id(p) for p in self.ledger.page_ids(schema.name, sorted(desired_keys)).values()}
                gone |= {
                    k
                    for k, pages in notion_pages.items()
                    if k not in desired_keys
                    and self.ledger.has_record(schema.name, k)
                    and not any(normalize_id(p["id"]) in ours for p in pages)
                }
        return sorted(gone)

    def _archive(
        self, schema: DatabaseSchema, keys: list[str], report: SyncReport, force: bool, progress: SyncProgress
    ) -> None:
        if not keys:
            return
        live = len(self.ledger.live_keys(schema.name))
        if not force and live and len(keys) > MASS_ARCHIVE_RATIO * live:
            report.archive_refused = len(keys)
            report.errors.append(
                f"refused to archive {len(keys)} of {live} rows (more than half the database) in one run; "
                "if the source really lost them, re-run with force_archive=true (CLI: --force-archive)"
            )
            return
        for key in keys:
            row = self.ledger.row(schema.name, key)
            try:
                if row is not None and row["page_id"]:
                    self.gateway.call("PATCH", f"pages/{row['page_id']}", body={"in_trash": True}, kind=Call.UPDATE)
                    self.ledger.set_row(schema.name, key, state="archived", pushed_digest=None)
                else:
                    page_id = self._find_by_key(schema, key) if len(key) <= MAX_KEY_CHARS else None
                    if page_id:
                        self.gateway.call("PATCH", f"pages/{page_id}", body={"in_trash": True}, kind=Call.UPDATE)
                    if row is not None:
                        self.ledger.set_row(schema.name, key, state="archived", pushed_digest=None)
                self.ledger.mark_absent(schema.name, key)
                report.archived += 1
            except NotionError as exc:
                report.failed += 1
                report.errors.append(f"archive {key}: {exc}")
            progress.step()

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
                    report.duplicates += 1

    def _restore(self, page_id: str) -> None:
        self.gateway.call("PATCH", f"pages/{page_id}", body={"in_trash": False}, kind=Call.UPDATE)

    # -- reading Notion back ------------------------------------------------------------------------

    def read_pages(
        self, schema: DatabaseSchema, *, on_batch: Callable[[int], None] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        pages = self._query(schema, [p.name for p in schema.properties], on_batch=on_batch)
        return self._group_by_key(schema, pages)

    def _query(
        self,
        schema: DatabaseSchema,
        names: Sequence[str],
        *,
        filter: dict[str, Any] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every page of ``schema``'s data source matching ``filter``, with the properties ``names``.

        A person may have deleted one of those properties since provisioning recorded its id: Notion then
        refuses the whole query (400 naming the property). The schema is read again (a read, nothing is
        repaired here: provisioning puts the property back on the next full sync or refused write) and the
        query asked once more with the properties that still exist."""
        wanted = self.property_ids(schema, names)
        try:
            return self.gateway.query_all(self._ds(schema), filter=filter, filter_properties=wanted, on_batch=on_batch)
        except NotionError as exc:
            if exc.status != 400 or exc.code != "validation_error" or not any(w in str(exc) for w in wanted):
                raise
        ds = self.gateway.call("GET", f"data_sources/{self._ds(schema)}")
        fresh = {name: str(p.get("id", name)) for name, p in (ds.get("properties") or {}).items()}
        log.warning(
            "%s: Notion no longer has %s; reading without %s until provisioning adds them back",
            schema.name,
            ", ".join(sorted(set(names) - set(fresh))) or "a property it had",
            "them",
        )
        self.ids[schema.name] = replace(self.ids[schema.name], property_ids=fresh)
        wanted = self.property_ids(schema, [n for n in names if n in fresh]) or self.property_ids(
            schema, [KEY_PROPERTY]
        )
        return self.gateway.query_all(self._ds(schema), filter=filter, filter_properties=wanted, on_batch=on_batch)

    def property_ids(self, schema: DatabaseSchema, names: Sequence[str]) -> list[str]:
        """The Notion property ids of ``names`` (a query's ``filter_properties``), as provisioning recorded
        them; a property Notion did not have then is left out (asking for it would fail the query)."""
        known = self.ids[schema.name].property_ids if schema.name in self.ids else {}
        if not known:
            return list(dict.fromkeys(names))  # Notion also accepts names
        return list(dict.fromkeys(known[n] for n in names if n in known))

    def _group_by_key(self, schema: DatabaseSchema, pages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        key_spec = schema.prop(KEY_PROPERTY)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for page in pages:
            if page.get("in_trash"):  # every version has in_trash; 2026-03-11 dropped archived
                continue
            key = decode(key_spec, page.get("properties", {}).get(KEY_PROPERTY))
            if key:
                grouped.setdefault(str(key), []).append(page)
        return grouped

    def _pull_human_from(
        self, schema: DatabaseSchema, pages: Mapping[str, list[dict[str, Any]]], report: SyncReport
    ) -> None:
        human_specs = schema.owned(Owner.HUMAN) + schema.owned(Owner.SHARED)
        if not human_specs:
            return
        for key, group in pages.items():
            props = group[0].get("properties", {})
            # a property missing from the response was not fetched: keep what the ledger knows of it
            fetched = {s.name: decode(s, props[s.name]) for s in human_specs if s.name in props}
            if len(fetched) < len(human_specs):
                fetched = {**self.ledger.human(schema.name, key), **fetched}
            report.human_pulled += self.ledger.set_human(schema.name, key, fetched)

    def _find_by_key(self, schema: DatabaseSchema, key: str) -> str | None:
        pages = self._query(schema, [KEY_PROPERTY], filter={"property": KEY_PROPERTY, "rich_text": {"equals": key}})
        live = [p for p in pages if not p.get("in_trash")]
        if not live:
            return None
        live.sort(key=lambda p: (p.get("created_time", ""), p["id"]))
        return str(live[0]["id"])

    def decoded_values(self, schema: DatabaseSchema, page: Mapping[str, Any]) -> dict[str, Any]:
        """The machine-owned values the page shows; a property absent from ``page`` was not fetched (a
        2026-12-01 list response without it), so it is left out, never taken as empty."""
        props = page.get("properties", {})
        return {s.name: decode(s, props[s.name]) for s in schema.owned(Owner.MACHINE) if s.name in props}

    def expected_values(
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

    def canonical_values(self, schema: DatabaseSchema, record: SyncRecord) -> dict[str, Any]:
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
        payload = {
            spec.name: encode(spec, desired.get(spec.name), relation_ids.get(spec.name))
            for spec in schema.owned(Owner.MACHINE)
        }
        payload.update(
            {spec.name: encode(spec, desired[spec.name]) for spec in schema.owned(Owner.SHARED) if spec.name in desired}
        )
        return payload

    def _shared_to_write(
        self, schema: DatabaseSchema, record: SyncRecord, row: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Shared values the machine may still write: those no person has changed since it last wrote them,
        or whose person's value a capability accepted (``desired.accept_human``)."""
        specs = [s for s in schema.owned(Owner.SHARED) if s.name in record.values]
        if not specs:
            return {}
        written = dict(row["shared"]) if row and row.get("shared") else {}
        in_notion = self.ledger.human(schema.name, record.key) if row else {}
        out = {}
        for spec in specs:
            now = in_notion.get(spec.name)
            if now is not None and spec.name in written and now != written[spec.name]:
                continue  # a person changed it: theirs now
            out[spec.name] = canonical(spec, record.values[spec.name])
        return out

    @staticmethod
    def _shared_json(schema: DatabaseSchema, desired: Mapping[str, Any], row: Mapping[str, Any] | None = None) -> str:
        """The shared values as written now; a value left to a person keeps what the machine last wrote, so it
        stays the person's on later syncs (until a capability accepts it)."""
        written = dict(row["shared"]) if row and row.get("shared") else {}
        return json.dumps(
            {
                s.name: desired[s.name] if s.name in desired else written[s.name]
                for s in schema.owned(Owner.SHARED)
                if s.name in desired or s.name in written
            }
        )

    def resolve_relations(
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
            found = self.ledger.page_ids(spec.relation_to, keys)
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

    def _ds(self, schema: DatabaseSchema) -> str:
        try:
            return self.ids[schema.name].data_source_id
        except KeyError:
            raise RuntimeError(f"database {schema.name} is not provisioned; run `ssot setup`") from None
