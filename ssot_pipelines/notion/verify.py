"""Audit one database: its schema in Notion has every declared property with its declared type, and
Notion holds exactly the ledger's records, once each, with current values. Reads only.

A person's extra properties are fine; each problem says what to do. The project's views are audited by
``ssot_pipelines.dashboards.verify`` and folded in with ``VerifyResult.add_view_problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ssot_pipelines.notion.codec import ValueTypeError
from ssot_pipelines.notion.gateway import NotionError
from ssot_pipelines.notion.sync import NotionSyncManager, SyncRecord
from ssot_pipelines.schemas import DatabaseSchema, database

SETUP = "run `ssot setup`"


@dataclass
class VerifyResult:
    database: str
    expected: int = 0
    in_notion: int = 0
    missing: int = 0
    duplicates: int = 0
    stale: int = 0
    unexpected: int = 0
    schema: int = 0  # declared properties missing or of another type
    views: int = 0  # the project's views missing or changed
    requests: int = 0
    problems: list[str] = field(default_factory=list)
    property_ids: dict[str, str] = field(default_factory=dict)  # as Notion has them now, by name

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.stale or self.unexpected or self.schema or self.views)

    def add_view_problems(self, problems: list[str]) -> None:
        """Views' problems, listed after the schema's and before the records' (structure first)."""
        self.views += len(problems)
        self.problems[self.schema : self.schema] = problems

    def summary(self) -> str:
        verdict = "OK " if self.ok else "BAD"
        return (
            f"{verdict} {self.database:22} {self.expected} expected, {self.in_notion} in Notion: "
            f"{self.missing} missing, {self.duplicates} duplicated, {self.stale} stale, "
            f"{self.unexpected} unexpected; {self.schema} schema and {self.views} view differences "
            f"({self.requests} requests)"
        )


def schema_problems(manager: NotionSyncManager, schema: DatabaseSchema) -> tuple[list[str], set[str], dict[str, str]]:
    """Declared properties that Notion lacks or types otherwise, each with the fix; the names lacking; and
    the property ids Notion has now, by name."""
    try:
        ds = manager.gateway.call("GET", f"data_sources/{manager.ids[schema.name].data_source_id}")
    except NotionError as exc:
        if exc.status != 404:
            raise
        return [f"the database is gone from Notion: {SETUP} to recreate it (rows follow on the next sync)"], set(), {}
    if ds.get("in_trash") or ds.get("archived"):
        return [f"the database is in Notion's trash: restore it, or {SETUP} to make a new one"], set(), {}
    have = ds.get("properties") or {}
    problems: list[str] = []
    lacking: set[str] = set()
    for spec in schema.properties:
        found = have.get(spec.name)
        if found is None:
            lacking.add(spec.name)
            problems.append(f"property {spec.name!r} ({spec.type.value}) is missing: {SETUP} to add it back")
        elif found.get("type") != spec.type.value:
            lacking.add(spec.name)
            problems.append(
                f"property {spec.name!r} is {found.get('type')}, declared {spec.type.value}: rename it in Notion, "
                f"then {SETUP} to add the declared one"
            )
    return problems, lacking, {name: str(p.get("id", name)) for name, p in have.items()}


def verify_database(manager: NotionSyncManager, database_name: str) -> VerifyResult:
    """Compare the schema, then the ledger's present records with the live pages of the database."""
    schema = database(database_name)
    result = VerifyResult(database=schema.name)
    if schema.name not in manager.ids:
        result.problems.append(f"not provisioned: {SETUP}")
        result.missing = 1
        return result
    before = manager.gateway.stats.requests
    problems, lacking, result.property_ids = schema_problems(manager, schema)
    result.schema = len(problems)
    result.problems.extend(problems)
    if problems and not lacking:  # the database itself is gone or trashed: no rows to compare
        result.requests = manager.gateway.stats.requests - before
        return result
    rows = manager.ledger.all_records(schema.name)
    present = {r["key"]: r for r in rows if r["present"]}
    gone = {r["key"] for r in rows if not r["present"]}
    pages = manager.read_pages(schema)
    result.expected = len(present)
    result.in_notion = sum(len(p) for p in pages.values())
    for key, record in sorted(present.items()):
        found = pages.get(key, [])
        if not found:
            result.missing += 1
            result.problems.append(f"missing: {key}")
            continue
        if len(found) > 1:
            result.duplicates += 1
            result.problems.append(f"{len(found)} pages for {key}")
        try:
            desired = manager.canonical_values(schema, SyncRecord(key, dict(record["values"])))
        except ValueTypeError as exc:
            result.problems.append(f"unreadable ledger values for {key}: {exc}")
            continue
        relation_ids, unresolved = manager.resolve_relations(schema, desired)
        expected = manager.expected_values(schema, desired, relation_ids)
        actual = manager.decoded_values(schema, found[0])
        # A property that is missing is one schema problem, not a stale value on every row.
        diff = sorted(k for k in expected if k not in lacking and expected[k] != actual.get(k))
        if diff and not unresolved:
            result.stale += 1
            result.problems.append(f"stale {key}: {', '.join(diff)}")
    for key in sorted(set(pages) & gone):
        result.unexpected += 1
        result.problems.append(f"still live although its source vanished: {key}")
    result.requests = manager.gateway.stats.requests - before
    return result
