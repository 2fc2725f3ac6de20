"""The questions unified search asks of the work graph (``ssot_pipelines.search``): tasks and their activity,
full-text or by exact task id or key, described with the activity around what matched."""

from __future__ import annotations

import re
from typing import Any

from ssot_pipelines.search.model import CONTEXT, Doc
from ssot_pipelines.tasks.model import notion_key

Connection = Any
DATABASE = "task_tracking"  # tasks.notion_records.DATABASE
_TASK_TSV = "to_tsvector('english', t.title || ' ' || t.body)"
_NOTE_TSV = "to_tsvector('english', coalesce(a.note, '') || ' ' || a.kind)"
_TASK_ID = re.compile(r"^(?:#|task-)?(\d{1,18})$", re.IGNORECASE)


def fulltext_refs(conn: Connection, tsquery: str, limit: int) -> list[str]:
    """``<task id>`` (title/body) or ``<task id>:<activity id>`` (an activity note) refs, best first."""
    rows = conn.execute(
        f"SELECT t.id::text AS ref, ts_rank_cd({_TASK_TSV}, q) * 2 AS rank FROM tasks t"
        f" CROSS JOIN to_tsquery('english', %s) q WHERE {_TASK_TSV} @@ q"
        f" UNION ALL SELECT a.task_id || ':' || a.id, ts_rank_cd({_NOTE_TSV}, q) FROM task_activity a"
        f" CROSS JOIN to_tsquery('english', %s) q WHERE a.note IS NOT NULL AND {_NOTE_TSV} @@ q"
        " ORDER BY rank DESC, ref LIMIT %s",
        (tsquery, tsquery, limit),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def exact_refs(conn: Connection, text: str) -> list[str]:
    """The task whose id (``12``, ``#12``, ``task-12``) or external key is ``text``."""
    m = _TASK_ID.match(text.strip())
    rows = conn.execute(
        "SELECT id::text AS ref FROM tasks WHERE id = %s OR external_key = %s LIMIT 2",
        (int(m.group(1)) if m else -1, text),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def describe(conn: Connection, ref: str, around: int = CONTEXT) -> Doc | None:
    """The task (title, status, body) and ``around`` activity entries either side of the matched one (the
    latest ``2 * around`` when the task itself matched)."""
    from ssot_pipelines.tasks.model import Activity

    task_id, _, activity = ref.partition(":")
    row = conn.execute("SELECT * FROM tasks WHERE id = %s", (int(task_id),)).fetchone()
    if row is None:
        conn.commit()
        return None
    log = conn.execute(
        "SELECT id, task_id, at, agent, role, kind, note, session_id, source FROM task_activity"
        " WHERE task_id = %s ORDER BY id",
        (int(task_id),),
    ).fetchall()
    conn.commit()
    lines = [Activity(**r).line() for r in log]
    head = f"task {row['id']} · {row['status']} · {row['title']}" + (f"\n\n{row['body']}" if row["body"] else "")
    title = f"#{row['id']} {row['title']}"
    key = notion_key(int(row["id"]), row["external_key"])
    if activity:
        at = next((i for i, r in enumerate(log) if str(r["id"]) == activity), None)
        if at is not None:
            return Doc(
                "tasks",
                ref,
                title,
                DATABASE,
                key,
                [lines[at]],
                [head, *lines[max(0, at - around) : at]],
                lines[at + 1 : at + 1 + around],
            )
    return Doc("tasks", ref, title, DATABASE, key, [head], [], lines[-2 * around :])
