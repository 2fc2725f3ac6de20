"""Provision the seven databases under the parent page, idempotently.

Creates what is missing, adds missing properties, never deletes or retypes a property a person added
(a conflicting type is a clear error), and records database and data source ids in the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import Call, NotionError, NotionGateway
from ssot_pipelines.schemas import ALL_DATABASES, DatabaseSchema, Owner, PropType
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

    def summary(self) -> str:
        added = sum(len(v) for v in self.properties_added.values())
        return f"{len(self.created)} created, {len(self.found)} already there, {added} properties added"


def load_ids(conn: psycopg.Connection[Any], target: str) -> dict[str, DatabaseIds]:
    rows = conn.execute(
        "SELECT name, database_id, data_source_id, property_ids FROM notion_databases WHERE target = %s", (target,)
    ).fetchall()
    return {
        r["name"]: DatabaseIds(r["name"], r["database_id"], r["data_source_id"], dict(r["property_ids"])) for r in rows
    }


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
    try:
        return _provision(gateway, conn, target, parent_page_id, schemas)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", ("ssot-provision:" + target,))
        conn.commit()


def _provision(
    gateway: NotionGateway,
    conn: psycopg.Connection[Any],
    target: str,
    parent_page_id: str,
    schemas: Sequence[DatabaseSchema],
) -> tuple[dict[str, DatabaseIds], ProvisionReport]:
    report = ProvisionReport()
    _check_parent(gateway, parent_page_id)
    known = load_ids(conn, target)
    ds_ids: dict[str, str] = {}
    for schema in schemas:
        ids = known.get(schema.name)
        if ids is not None and _still_there(gateway, ids.data_source_id):
            ds_ids[schema.name] = ids.data_source_id
            report.found.append(schema.name)
            continue
        found = _find_existing(gateway, schema, parent_page_id)
        if found is not None:
            ds_ids[schema.name] = found
            report.found.append(schema.name)
            continue
        ds_ids[schema.name] = _create(gateway, schema, parent_page_id)
        report.created.append(schema.name)

    result: dict[str, DatabaseIds] = {}
    for schema in schemas:
        ds = gateway.call("GET", f"data_sources/{ds_ids[schema.name]}")
        added = _add_missing_properties(gateway, schema, ds, ds_ids)
        if added:
            report.properties_added[schema.name] = added
            ds = gateway.call("GET", f"data_sources/{ds_ids[schema.name]}")
        database_id = str((ds.get("parent") or {}).get("database_id") or ds.get("database_id") or "")
        prop_ids = {name: str(p.get("id", name)) for name, p in ds.get("properties", {}).items()}
        result[schema.name] = DatabaseIds(schema.name, database_id, ds["id"], prop_ids)
        conn.execute(
            "INSERT INTO notion_databases (target, name, database_id, data_source_id, property_ids)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (target, name) DO UPDATE SET database_id = EXCLUDED."
            "database_id, data_source_id = EXCLUDED.data_source_id, property_ids = EXCLUDED.property_ids,"
            " provisioned_at = now()",
            (target, schema.name, database_id, ds["id"], json.dumps(prop_ids)),
        )
    conn.commit()
    return result, report


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


def _still_there(gateway: NotionGateway, data_source_id: str) -> bool:
    try:
        ds = gateway.call("GET", f"data_sources/{data_source_id}")
    except NotionError as exc:
        if exc.status == 404:
            return False
        raise
    return not (ds.get("in_trash") or ds.get("archived"))


def _find_existing(gateway: NotionGateway, schema: DatabaseSchema, parent_page_id: str) -> str | None:
    """A data source with this title under the parent (the ledger may have been reset)."""
    res = gateway.call(
        "POST",
        "search",
        body={"query": schema.title, "filter": {"property": "object", "value": "data_source"}, "page_size": 100},
    )
    for item in res.get("results", []):
        title = "".join(t.get("plain_text", "") for t in item.get("title", []))
        parent = item.get("database_parent") or {}
        same_parent = normalize_id(str(parent.get("page_id", ""))) == normalize_id(parent_page_id)
        if title == schema.title and same_parent and not (item.get("in_trash") or item.get("archived")):
            return str(item["id"])
    return None


def _create(gateway: NotionGateway, schema: DatabaseSchema, parent_page_id: str) -> str:
    # Relations need their targets' data source ids, so they are added once every database exists.
    properties = {p.name: p.notion_config({}) for p in schema.properties if p.type is not PropType.RELATION}
    res = gateway.call(
        "POST",
        "databases",
        body={
            "parent": {"type": "page_id", "page_id": parent_page_id},
            "title": [{"type": "text", "text": {"content": schema.title}}],
            "description": [{"type": "text", "text": {"content": schema.description}}],
            "is_inline": False,
            "initial_data_source": {"properties": properties},
        },
        kind=Call.UPDATE,  # a duplicate database is found by title on the next run, never a silent twin
    )
    return str(res["data_sources"][0]["id"])


def _add_missing_properties(
    gateway: NotionGateway, schema: DatabaseSchema, ds: dict[str, Any], ds_ids: dict[str, str]
) -> list[str]:
    existing: dict[str, Any] = ds.get("properties", {})
    missing: dict[str, Any] = {}
    for spec in schema.properties:
        have = existing.get(spec.name)
        if have is None:
            if spec.owner is Owner.MIRROR:
                continue  # created by Notion with its dual
            missing[spec.name] = spec.notion_config(ds_ids)
            continue
        if have.get("type") != spec.type.value:
            raise ConfigurationError(
                f"the Notion database {schema.title!r} has a property {spec.name!r} of type {have.get('type')!r}, "
                f"but ssot_pipelines needs it to be {spec.type.value!r}. Rename that property in Notion (the "
                "next setup adds the right one) — ssot never retypes or deletes a property someone added."
            )
    if not missing:
        return []
    gateway.call("PATCH", f"data_sources/{ds['id']}", body={"properties": missing}, kind=Call.UPDATE)
    return sorted(missing)
