"""The work graph in Task Tracking, both ways.

Out: one record per task (cancelled tasks are left out, so the sync archives them) with Status,
Assigned Agent and Priority as shared values, the dependencies as a self relation, the SecondBrain Task
it implements, the CLI Sessions that logged activity on it, its Slack thread, and a body that holds the
task's description followed by its activity log.

In: the engine pulls what people changed in Notion; ``apply_people_edits`` turns a shared value that a
person changed (it differs both from what the machine last proposed and from what was last seen in
Notion) into a graph change exactly once: Status (blocked holds until a person unblocks; todo unblocks
or reopens; done completes), Assigned Agent (the role that may claim it) and Priority. Once applied, the
person's value is accepted by the engine, so the graph's later values (an agent's done) reach Notion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssot_pipelines.tasks import graph
from ssot_pipelines.tasks.graph import Connection
from ssot_pipelines.tasks.model import PRIORITIES, Role, Status, TaskError, notion_key

DATABASE = "task_tracking"
SHARED = ("Status", "Assigned Agent", "Priority")
PERSON = "notion"  # the agent name recorded for changes people made in Notion


@dataclass
class PeopleEdits:
    status: int = 0
    role: int = 0
    priority: int = 0
    refused: int = 0

    def as_dict(self) -> dict[str, int]:
        return vars(self)


def _activity_body(conn: Connection, task_ids: list[int]) -> dict[int, list[str]]:
    rows = conn.execute(
        "SELECT id, task_id, at, agent, role, kind, note, session_id, source FROM task_activity"
        " WHERE task_id = ANY(%s) AND NOT (kind = 'heartbeat' AND note IS NULL) ORDER BY task_id, id",
        (task_ids,),
    ).fetchall()
    from ssot_pipelines.tasks.model import Activity

    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(int(r["task_id"]), []).append(Activity(**r).line())
    return out


def task_records(conn: Connection) -> list[dict[str, Any]]:
    """The desired Task Tracking rows (DataFrame-contract dicts: ``key``, properties, ``body``)."""
    graph.sweep_leases(conn)
    tasks = conn.execute("SELECT * FROM tasks WHERE status <> 'cancelled' ORDER BY id").fetchall()
    keys = {int(t["id"]): notion_key(int(t["id"]), t["external_key"]) for t in tasks}
    deps: dict[int, list[str]] = {}
    for e in conn.execute("SELECT task_id, dep_id FROM task_deps ORDER BY task_id, dep_id").fetchall():
        if int(e["dep_id"]) in keys:
            deps.setdefault(int(e["task_id"]), []).append(keys[int(e["dep_id"])])
    ids = list(keys)
    logs = _activity_body(conn, ids)
    sessions = _session_keys(conn, ids)
    threads = thread_conversations(conn)
    conn.commit()
    records = []
    for t in tasks:
        task_id = int(t["id"])
        body = t["body"] or ""
        log_lines = logs.get(task_id, [])
        text = (body.rstrip() + "\n\n" if body.strip() else "") + "Activity\n" + "\n".join(log_lines)
        records.append(
            {
                "key": keys[task_id],
                "Name": t["title"],
                "Task ID": str(task_id),
                "Status": Status(t["status"]).notion,
                "Assigned Agent": Role(t["role"]).notion if t["role"] else None,
                "Priority": PRIORITIES[t["priority"]],
                "Claimed By": t["claimed_by"],
                "Dependencies": deps.get(task_id, []),
                "SecondBrain Task": [t["implements"]] if t["implements"] else [],
                "CLI Sessions": sessions.get(task_id, []),
                "Slack Conversation": [threads[task_id]] if task_id in threads else [],
                "body": text,
            }
        )
    return records


def thread_conversations(conn: Connection) -> dict[int, str]:
    """Each task's Slack Conversations key: the conversation its thread's root message belongs to in the
    Slack capability (``<channel>/thread/<ts>`` once the thread has a reply)."""
    from ssot_pipelines.slack.own_posts import conversations_of

    roots = {
        int(r["task_id"]): (str(r["channel"]), str(r["thread_ts"]))
        for r in conn.execute("SELECT task_id, channel, thread_ts FROM task_slack_threads WHERE thread_ts IS NOT NULL")
    }
    found = conversations_of(conn, list(roots.values()))
    return {task_id: found[root] for task_id, root in roots.items() if root in found}


def _session_keys(conn: Connection, task_ids: list[int]) -> dict[int, list[str]]:
    from ssot_pipelines.sessions.segments import segment_key

    rows = conn.execute(
        "SELECT task_id, session_id, max(id) AS last FROM task_activity"
        " WHERE task_id = ANY(%s) AND session_id IS NOT NULL GROUP BY task_id, session_id ORDER BY task_id, last",
        (task_ids,),
    ).fetchall()
    latest = _latest_segments(conn, sorted({r["session_id"] for r in rows}))
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(int(r["task_id"]), []).append(segment_key(r["session_id"], latest.get(r["session_id"], 1)))
    return out


def _latest_segments(conn: Connection, session_ids: list[str]) -> dict[str, int]:
    """Each session's latest segment number (the CLI Sessions row a task links to)."""
    from ssot_pipelines.sessions.bridge import resolve_key

    out = {}
    for sid in session_ids:
        _, number = resolve_key(conn, sid)
        out[sid] = max(number, 1)
    return out


def record_proposed(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Remember the shared values proposed to Notion, to tell a person's later change from ours."""
    by_key = {r["key"]: {name: r[name] for name in SHARED} for r in records}
    rows = conn.execute("SELECT id, external_key FROM tasks").fetchall()
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO task_notion_state (task_id, pushed) VALUES (%s, %s)"
            " ON CONFLICT (task_id) DO UPDATE SET pushed = EXCLUDED.pushed",
            [(r["id"], json.dumps(by_key[k])) for r in rows if (k := notion_key(r["id"], r["external_key"])) in by_key],
        )
    conn.commit()


def apply_people_edits(
    conn: Connection, in_notion: Mapping[str, Mapping[str, Any]], target: str | None = None
) -> PeopleEdits:
    """Apply what people changed in Notion (``in_notion``: key → pulled shared/human values) to the graph.

    With ``target`` (the Notion target the values were pulled from), a change applied to the graph is
    accepted there (``desired.accept_human``): the graph holds the person's value now, so the sync may write
    the property again when agents move the task on. A refused change stays the person's in Notion.
    """
    from ssot_pipelines.notion.desired import accept_human

    edits = PeopleEdits()
    rows = conn.execute(
        "SELECT t.id, t.external_key, s.pushed, s.seen FROM tasks t JOIN task_notion_state s ON s.task_id = t.id"
    ).fetchall()
    conn.commit()
    for row in rows:
        key = notion_key(row["id"], row["external_key"])
        now = in_notion.get(key)
        if not now:
            continue
        pushed, seen = dict(row["pushed"]), dict(row["seen"])
        changed = {
            name: now.get(name)
            for name in SHARED
            if now.get(name) is not None and now.get(name) != seen.get(name) and now.get(name) != pushed.get(name)
        }
        try:
            _apply(conn, int(row["id"]), changed, edits)
        except TaskError:
            edits.refused += 1
        else:
            for name in changed if target else ():
                accept_human(conn, str(target), DATABASE, key, name)
        conn.execute(
            "UPDATE task_notion_state SET seen = %s WHERE task_id = %s",
            (json.dumps({name: now.get(name) for name in SHARED}), row["id"]),
        )
        conn.commit()
    return edits


def _apply(conn: Connection, task_id: int, changed: Mapping[str, Any], edits: PeopleEdits) -> None:
    if "Status" in changed:
        graph.set_status_by_person(conn, task_id, Status.parse(str(changed["Status"])), by=PERSON, source="notion")
        edits.status += 1
    if "Assigned Agent" in changed or "Priority" in changed:
        graph.update_fields(
            conn,
            task_id,
            by=PERSON,
            role=changed.get("Assigned Agent"),
            priority=changed.get("Priority"),
            source="notion",
        )
        edits.role += "Assigned Agent" in changed
        edits.priority += "Priority" in changed
