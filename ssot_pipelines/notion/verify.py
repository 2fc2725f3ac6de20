"""Audit one database: does Notion hold exactly the ledger's records, once each, with current values?"""

from __future__ import annotations

from dataclasses import dataclass, field

from ssot_pipelines.notion.codec import ValueTypeError
from ssot_pipelines.notion.sync import NotionSyncManager, SyncRecord
from ssot_pipelines.schemas import database


@dataclass
class VerifyResult:
    database: str
    expected: int = 0
    in_notion: int = 0
    missing: int = 0
    duplicates: int = 0
    stale: int = 0
    unexpected: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.stale or self.unexpected)

    def summary(self) -> str:
        verdict = "OK " if self.ok else "BAD"
        return (
            f"{verdict} {self.database:22} {self.expected} expected, {self.in_notion} in Notion: "
            f"{self.missing} missing, {self.duplicates} duplicated, {self.stale} stale, "
            f"{self.unexpected} unexpected ({self.requests} requests)"
        )


def verify_database(manager: NotionSyncManager, database_name: str) -> VerifyResult:
    """Compare the ledger's present records with the live pages of the database (reads only)."""
    schema = database(database_name)
    result = VerifyResult(database=schema.name)
    if schema.name not in manager.ids:
        result.problems.append("not provisioned: run `ssot setup`")
        result.missing = 1
        return result
    before = manager.gateway.stats.requests
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
        if actual != expected and not unresolved:
            diff = sorted(k for k in expected if expected[k] != actual.get(k))
            result.stale += 1
            result.problems.append(f"stale {key}: {', '.join(diff)}")
    for key in sorted(set(pages) & gone):
        result.unexpected += 1
        result.problems.append(f"still live although its source vanished: {key}")
    result.requests = manager.gateway.stats.requests - before
    return result
