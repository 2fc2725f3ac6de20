"""Bulk import into the work graph from records in the ``ssot stage`` format.

A record has ``key``, Task Tracking property values by their Notion names (``Name``, ``Assigned Agent``,
``Priority``, ``Dependencies`` as a list of other records' keys, ``SecondBrain Task``) and an optional
``body``. Tasks are matched on their key, so importing the same file twice changes nothing; a changed
record updates its task's title, body, role and priority (logged). Dependencies go through the graph's
cycle check: an edge that would close a cycle, or names an unknown key, is refused and reported, and the
rest is imported.

``origin`` tells the two doors apart: records staged with ``ssot stage task_tracking`` (read by the
``task_tracking`` asset on every run, so a record withdrawn from staging cancels its task) and files
given to ``ssot task import`` (never withdrawn).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ssot_pipelines.tasks import graph
from ssot_pipelines.tasks.graph import Connection, _transaction
from ssot_pipelines.tasks.model import Role, Status, TaskError, TaskInputError, parse_priority

_IGNORED = frozenset(
    {"key", "body", "priority", "Task ID", "Status", "Claimed By", "Notes", "CLI Sessions", "Slack Conversation"}
)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    edges: int = 0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        text = (
            f"imported tasks: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.cancelled} cancelled, {self.edges} dependencies added"
        )
        return "\n".join([text, *[f"  refused: {r}" for r in self.refused]])


def import_records(
    conn: Connection,
    records: Iterable[Mapping[str, Any]],
    *,
    agent: str = "import",
    origin: str = "import",
    withdraw_missing: bool = False,
) -> ImportResult:
    """Upsert tasks by key, then their dependencies; ``withdraw_missing`` cancels this origin's other tasks."""
    result = ImportResult()
    parsed = [_parse(r) for r in records]
    source = "staging" if origin == "stage" else "import"
    ids: dict[str, int] = {}
    with _transaction(conn):
        for rec in parsed:
            ids[rec["key"]] = _upsert(conn, rec, origin, agent, source, result)
        if withdraw_missing:
            gone = conn.execute(
                "SELECT id FROM tasks WHERE origin = %s AND external_key <> ALL(%s) AND status NOT IN"
                " ('done', 'cancelled') FOR UPDATE",
                (origin, list(ids) or [""]),
            ).fetchall()
            for row in gone:
                graph._set_free(conn, row["id"], Status.CANCELLED)
                graph._log(conn, row["id"], agent, "cancelled", "withdrawn from its source", source=source)
                result.cancelled += 1
    for rec in parsed:
        for dep_key in rec["deps"]:
            if dep_key not in ids:
                known = conn.execute("SELECT id FROM tasks WHERE external_key = %s", (dep_key,)).fetchone()
                conn.commit()
                if known is None:
                    result.refused.append(f"{rec['key']} depends on unknown key {dep_key!r}")
                    continue
                ids[dep_key] = int(known["id"])
            try:
                before = len(graph.show(conn, ids[rec["key"]]).depends_on)
                after = len(graph.depend(conn, ids[rec["key"]], ids[dep_key], agent=agent, source=source).depends_on)
                result.edges += after - before
            except TaskError as exc:
                result.refused.append(f"{rec['key']} → {dep_key}: {exc}")
    return result


def _parse(record: Mapping[str, Any]) -> dict[str, Any]:
    key = record.get("key")
    if not isinstance(key, str) or not key:
        raise TaskInputError("every record needs a 'key' (a non-empty string)")
    role = record.get("Assigned Agent")
    priority = record.get("Priority")
    deps = record.get("Dependencies") or []
    if isinstance(deps, str):
        deps = [d.strip() for d in deps.split(",") if d.strip()]
    return {
        "key": key,
        "title": str(record.get("Name") or key),
        "body": "" if record.get("body") is None else str(record["body"]),
        "role": Role.parse(str(role)).value if role else None,
        "priority": parse_priority(str(priority)) if priority else 2,
        "implements": (record.get("SecondBrain Task") or [None])[0]
        if isinstance(record.get("SecondBrain Task"), list)
        else record.get("SecondBrain Task"),
        "deps": [str(d) for d in deps],
        "hash": hashlib.sha256(
            json.dumps(
                {k: v for k, v in record.items() if k not in _IGNORED or k == "body"}, sort_keys=True, default=str
            ).encode()
        ).hexdigest(),
    }


def _upsert(conn: Connection, rec: dict[str, Any], origin: str, agent: str, source: str, result: ImportResult) -> int:
    row = conn.execute(
        "SELECT id, staged_hash, status FROM tasks WHERE external_key = %s FOR UPDATE", (rec["key"],)
    ).fetchone()
    if row is None:
        new = conn.execute(
            "INSERT INTO tasks (external_key, title, body, role, priority, implements, staged_hash, origin)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                rec["key"],
                rec["title"],
                rec["body"],
                rec["role"],
                rec["priority"],
                rec["implements"],
                rec["hash"],
                origin,
            ),
        ).fetchone()
        assert new is not None
        graph._log(
            conn,
            new["id"],
            agent,
            "added",
            f"imported from {origin} record {rec['key']}",
            role=rec["role"],
            source=source,
        )
        result.created += 1
        return int(new["id"])
    task_id = int(row["id"])
    if row["staged_hash"] == rec["hash"] and row["status"] != Status.CANCELLED:
        result.unchanged += 1
        return task_id
    conn.execute(
        "UPDATE tasks SET title = %s, body = %s, role = %s, priority = %s, implements = %s, staged_hash = %s,"
        " updated_at = now() WHERE id = %s",
        (rec["title"], rec["body"], rec["role"], rec["priority"], rec["implements"], rec["hash"], task_id),
    )
    if row["status"] == Status.CANCELLED:
        graph._set_free(conn, task_id, Status.TODO)
    graph._log(conn, task_id, agent, "updated", f"re-imported from {origin} record {rec['key']}", source=source)
    result.updated += 1
    return task_id
