"""Provision the seven databases under the parent page, idempotently, in as few requests as Notion allows.

Creates what is missing, adds missing properties, never deletes or retypes a property a person added
(a conflicting type is a clear error), and records database and data source ids in the ledger.

What it costs: one ``search`` lists every data source we can see (with its schema), so a workspace that
already has the seven databases is verified in one request. A fresh one takes one create per database, in
dependency order with its relations to databases that already exist included, a PATCH for each self
relation, and one read of each schema the responses did not give us: 15 requests for the seven.

What was verified is kept as a fingerprint (``schema_fingerprint``): the declared schemas hashed with the
ids they were provisioned under. An incremental run that finds the same fingerprint trusts the ledger and
reads no schema; a full sync, ``ssot setup``, a changed declaration or a write refused because a schema
changed behind our back provisions again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import Call, NotionError, NotionGateway
from ssot_pipelines.schemas import ALL_DATABASES, DatabaseSchema, Owner, PropertySpec, PropType
from ssot_pipelines.settings import ConfigurationError


@dataclass(frozen=True)
class DatabaseIds:
    name: str
    database_id: str
    data_source_id: str
    property_ids: dict[str, str]


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    properties_added: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0  # Notion requests this provisioning made

    def summary(self) -> str:
        added = sum(len(v) for v in self.properties_added.values())
        return (
            f"{len(self.created)} created, {len(self.found)} already there, {added} properties added "
            f"({self.requests} requests)"
        )

    def merge(self, other: ProvisionReport) -> None:
        """Add what a later provisioning of the same target did (a repair during a sync)."""
        self.created += [n for n in other.created if n not in self.created]
        self.found += [n for n in other.found if n not in self.found and n not in self.created]
        for name, added in other.properties_added.items():
            self.properties_added.setdefault(name, []).extend(added)
        self.requests += other.requests


def load_ids(conn: psycopg.Connection[Any], target: str) -> dict[str, DatabaseIds]:
    rows = conn.execute(
        "SELECT name, database_id, data_source_id, property_ids FROM notion_databases WHERE target = %s", (target,)
    ).fetchall()
    return {
        r["name"]: DatabaseIds(r["name"], r["database_id"], r["data_source_id"], dict(r["property_ids"])) for r in rows
    }


# -- the fingerprint ------------------------------------------------------------------------------


def _declared(spec: PropertySpec) -> dict[str, Any]:
    """What provisioning makes of a property (its description is documentation, not schema)."""
    return {
        "name": spec.name,
        "type": spec.type.value,
        "owner": spec.owner.value,
        "relation_to": spec.relation_to,
        "dual": spec.dual,
        "options": list(spec.options),
        "number_format": spec.number_format,
    }


def schema_fingerprint(ids: Mapping[str, DatabaseIds], schemas: Sequence[DatabaseSchema] = ALL_DATABASES) -> str:
    """The declared schemas hashed with the ids they were provisioned under ("" when one has no ids)."""
    if any(s.name not in ids for s in schemas):
        return ""
    document = [
        {
            "name": s.name,
            "title": s.title,
            "properties": [_declared(p) for p in s.properties],
            "database_id": normalize_id(ids[s.name].database_id),
            "data_source_id": normalize_id(ids[s.name].data_source_id),
        }
        for s in sorted(schemas, key=lambda s: s.name)
    ]
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def trusted_ids(
    conn: psycopg.Connection[Any], target: str, schemas: Sequence[DatabaseSchema] = ALL_DATABASES
) -> dict[str, DatabaseIds] | None:
    """The ledger's ids when provisioning last verified exactly these schemas under exactly these ids;
    None when Notion must be read again (never provisioned, a schema declared differently, ids changed)."""
    ids = load_ids(conn, target)
    row = conn.execute("SELECT fingerprint FROM notion_schema_fingerprints WHERE target = %s", (target,)).fetchone()
    conn.commit()
    expected = schema_fingerprint(ids, schemas)
    if row is None or not expected or row["fingerprint"] != expected:
        return None
    return ids


def _record_fingerprint(
    conn: psycopg.Connection[Any], target: str, ids: Mapping[str, DatabaseIds], schemas: Sequence[DatabaseSchema]
) -> None:
    known = {**load_ids(conn, target), **ids}
    fingerprint = schema_fingerprint(known, ALL_DATABASES if set(known) >= {s.name for s in ALL_DATABASES} else schemas)
    conn.execute(
        "INSERT INTO notion_schema_fingerprints (target, fingerprint) VALUES (%s, %s)"
        " ON CONFLICT (target) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, verified_at = now()",
        (target, fingerprint),
    )


# -- provisioning ---------------------------------------------------------------------------------


def provision(
    gateway: NotionGateway,
    conn: psycopg.Connection[Any],
    target: str,
    parent_page_id: str,
    schemas: Sequence[DatabaseSchema] = ALL_DATABASES,
) -> tuple[dict[str, DatabaseIds], ProvisionReport]:
    """Make the databases exist with every declared property; return their ids.

    Concurrent provisioners of one target (parallel Dagster steps, two CLIs) take turns on a PostgreSQL
    advisory lock, so a database is never created twice.
    """
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", ("ssot-provision:" + target,))
    before = gateway.stats.requests
    try:
        ids, report = _Provisioning(gateway, conn, target, parent_page_id).run(schemas)
        report.requests = gateway.stats.requests - before
        return ids, report
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", ("ssot-provision:" + target,))
        conn.commit()


def creation_order(schemas: Sequence[DatabaseSchema]) -> list[DatabaseSchema]:
    """The schemas with every relation target before the database that points at it (self relations aside),
    so a database is created with its relations in one request; the declared order breaks ties."""
    names = {s.name for s in schemas}
    pending = list(schemas)
    ordered: list[DatabaseSchema] = []
    while pending:
        placed = {s.name for s in ordered}
        ready = next(
            (
                s
                for s in pending
                if all(
                    r.relation_to in placed or r.relation_to == s.name or r.relation_to not in names
                    for r in s.relations
                )
            ),
            pending[0],  # a cycle: its remaining relations are added by PATCH once both ends exist
        )
        ordered.append(ready)
        pending.remove(ready)
    return ordered


class _Provisioning:
    """One provisioning pass over a target: what Notion has, what we create, what we still need to read."""

    def __init__(self, gateway: NotionGateway, conn: psycopg.Connection[Any], target: str, parent: str) -> None:
        self.gateway = gateway
        self.conn = conn
        self.target = target
        self.parent = parent
        self.report = ProvisionReport()
        self.ds_ids: dict[str, str] = {}
        # the latest schema Notion gave us per database; None: unknown or changed since (a dual relation
        # added a mirror to it), so it is read once at the end
        self.latest: dict[str, dict[str, Any] | None] = {}
        # relations that could not be sent yet (to the database itself, or to one not there yet)
        self.deferred: dict[str, list[str]] = {}

    def run(self, schemas: Sequence[DatabaseSchema]) -> tuple[dict[str, DatabaseIds], ProvisionReport]:
        known = load_ids(self.conn, self.target)
        self.conn.commit()
        listed = self._list_ours()
        for schema in creation_order(schemas):
            ds = self._existing(schema, known.get(schema.name), listed)
            if ds is None:
                self._create(schema)
                self.report.created.append(schema.name)
            else:
                self.ds_ids[schema.name] = str(ds["id"])
                self.report.found.append(schema.name)
                self._complete(schema, ds)
        for schema in schemas:
            if self.deferred.get(schema.name):
                names = self.deferred.pop(schema.name)
                self._patch(schema, {n: schema.prop(n).notion_config(self.ds_ids) for n in names})

        result: dict[str, DatabaseIds] = {}
        for schema in schemas:
            ds = self.latest.get(schema.name) or self._read(self.ds_ids[schema.name])
            database_id = str((ds.get("parent") or {}).get("database_id") or ds.get("database_id") or "")
            prop_ids = {name: str(p.get("id", name)) for name, p in ds.get("properties", {}).items()}
            result[schema.name] = DatabaseIds(schema.name, database_id, str(ds["id"]), prop_ids)
            self.conn.execute(
                "INSERT INTO notion_databases (target, name, database_id, data_source_id, property_ids)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (target, name) DO UPDATE SET database_id = EXCLUDED."
                "database_id, data_source_id = EXCLUDED.data_source_id, property_ids = EXCLUDED.property_ids,"
                " provisioned_at = now()",
                (self.target, schema.name, database_id, ds["id"], json.dumps(prop_ids)),
            )
        _record_fingerprint(self.conn, self.target, result, schemas)
        self.conn.commit()
        return result, self.report

    # -- what is there ----------------------------------------------------------------------------

    def _list_ours(self) -> dict[str, list[dict[str, Any]]]:
        """Every live data source under the parent page, by id and by title: one search (paged past 100)."""
        by_key: dict[str, list[dict[str, Any]]] = {}
        body: dict[str, Any] = {"filter": {"property": "object", "value": "data_source"}, "page_size": 100}
        while True:
            res = self.gateway.call("POST", "search", body=body)
            for item in res.get("results", []):
                parent = item.get("database_parent") or {}
                if normalize_id(str(parent.get("page_id", ""))) != normalize_id(self.parent):
                    continue
                if item.get("in_trash") or item.get("archived"):
                    continue
                title = "".join(t.get("plain_text", "") for t in item.get("title", []))
                by_key.setdefault("id:" + normalize_id(str(item["id"])), []).append(item)
                by_key.setdefault("title:" + title, []).append(item)
            if not res.get("has_more") or not res.get("next_cursor"):
                return by_key
            body["start_cursor"] = res["next_cursor"]

    def _existing(
        self, schema: DatabaseSchema, ids: DatabaseIds | None, listed: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """The data source of this database: the ledger's if it is still live, else one with its title under
        the parent (the ledger may have been reset), else None."""
        if ids is not None:
            hit = listed.get("id:" + normalize_id(ids.data_source_id))
            if hit:
                return hit[0]
            # Not listed: gone, or too new for Notion's search index to show yet. Asking settles it.
            try:
                ds = self._read(ids.data_source_id)
            except NotionError as exc:
                if exc.status != 404:
                    raise
            else:
                if not (ds.get("in_trash") or ds.get("archived")):
                    return ds
        titled = listed.get("title:" + schema.title)
        return titled[0] if titled else None

    def _read(self, data_source_id: str) -> dict[str, Any]:
        ds: dict[str, Any] = self.gateway.call("GET", f"data_sources/{data_source_id}")
        return ds

    # -- what we change ---------------------------------------------------------------------------

    def _sendable(self, schema: DatabaseSchema, spec: PropertySpec) -> bool:
        """A relation can be sent once its target exists under another name than this database's."""
        if spec.type is not PropType.RELATION:
            return True
        if spec.relation_to in self.ds_ids and spec.relation_to != schema.name:
            return True
        self.deferred.setdefault(schema.name, []).append(spec.name)
        return False

    def _create(self, schema: DatabaseSchema) -> None:
        properties = {
            spec.name: spec.notion_config(self.ds_ids)
            for spec in schema.properties
            # a mirror is created by Notion with its dual
            if spec.owner is not Owner.MIRROR and self._sendable(schema, spec)
        }
        body = {
            "parent": {"type": "page_id", "page_id": self.parent},
            "title": [{"type": "text", "text": {"content": schema.title}}],
            "description": [{"type": "text", "text": {"content": schema.description}}],
            "is_inline": False,
            "initial_data_source": {"properties": properties},
        }
        try:
            # a duplicate database is found by title on the next run, never a silent twin
            res = self.gateway.call("POST", "databases", body=body, kind=Call.UPDATE)
        except NotionError as exc:
            if exc.status in (400, 404):
                _check_parent(self.gateway, self.parent)  # the usual cause, said with its fix
            raise
        self.ds_ids[schema.name] = str(res["data_sources"][0]["id"])
        self.latest[schema.name] = None  # the create's answer names the data source, not its properties
        self._mark_duals(schema, properties)

    def _complete(self, schema: DatabaseSchema, ds: dict[str, Any]) -> None:
        """Add the declared properties a data source we found lacks (one PATCH, answered with the schema)."""
        missing = self._missing(schema, ds)
        if missing:
            # A listing may lag behind Notion (or name only some properties): confirm before adding.
            ds = self._read(str(ds["id"]))
            missing = self._missing(schema, ds)
        self.latest[schema.name] = ds
        if missing:
            self.report.properties_added[schema.name] = sorted(missing)
            self._patch(schema, missing)

    def _patch(self, schema: DatabaseSchema, properties: dict[str, Any]) -> None:
        ds = self.gateway.call(
            "PATCH", f"data_sources/{self.ds_ids[schema.name]}", body={"properties": properties}, kind=Call.UPDATE
        )
        self.latest[schema.name] = ds
        self._mark_duals(schema, properties)

    def _missing(self, schema: DatabaseSchema, ds: dict[str, Any]) -> dict[str, Any]:
        self.deferred.pop(schema.name, None)
        existing: dict[str, Any] = ds.get("properties", {})
        missing: dict[str, Any] = {}
        for spec in schema.properties:
            have = existing.get(spec.name)
            if have is None:
                if spec.owner is not Owner.MIRROR and (spec.relation_to == schema.name or self._sendable(schema, spec)):
                    missing[spec.name] = spec.notion_config({**self.ds_ids})
                continue
            if have.get("type") != spec.type.value:
                raise ConfigurationError(
                    f"the Notion database {schema.title!r} has a property {spec.name!r} of type "
                    f"{have.get('type')!r}, but ssot_pipelines needs it to be {spec.type.value!r}. Rename that "
                    "property in Notion (the next setup adds the right one) — ssot never retypes or deletes a "
                    "property someone added."
                )
        return missing

    def _mark_duals(self, schema: DatabaseSchema, sent: Mapping[str, Any]) -> None:
        """A two-way relation gave its target a new property: what we knew of that target is stale."""
        for name in sent:
            spec = schema.prop(name)
            if spec.dual and spec.relation_to and spec.relation_to != schema.name:
                self.latest[spec.relation_to] = None


def schema_changed(schema: DatabaseSchema, data_source_id: str, exc: NotionError) -> bool:
    """Whether Notion refused a request to this database in a way that says its schema changed behind our
    back: a validation error naming one of its properties (deleted, renamed, retyped), or its data source
    not found."""
    message = str(exc)
    if exc.status == 404 and exc.code == "object_not_found":
        return normalize_id(data_source_id) in message.replace("-", "")
    if exc.status == 400 and exc.code == "validation_error":
        return any(spec.name in message for spec in schema.properties)
    return False


def _check_parent(gateway: NotionGateway, parent_page_id: str) -> None:
    try:
        gateway.call("GET", f"pages/{parent_page_id}")
    except NotionError as exc:
        if exc.status in (400, 404):
            raise ConfigurationError(
                f"NOTION_PARENT_PAGE_ID {parent_page_id} is not visible to the integration ({exc.code}). "
                "Open that page in Notion, choose ••• → Connections, and add your integration; "
                "check the id is the page's 32-character id."
            ) from None
        raise
