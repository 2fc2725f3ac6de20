"""The handover pack of a task: everything the next agent (say, a Reviewer after an Executor) needs in one call.

The task and its body, what its dependencies produced (their done notes), its activity log, and the
assistant sessions that worked on it with their last messages (from the sessions capability's context
packs, so a session's last words come from its captured transcript).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssot_pipelines.tasks import graph
from ssot_pipelines.tasks.graph import Connection
from ssot_pipelines.tasks.model import Task

LAST_MESSAGES = 6


@dataclass
class SessionSummary:
    session_id: str
    key: str | None
    status: str | None
    doing: str | None
    last_messages: list[str] = field(default_factory=list)


@dataclass
class HandoverPack:
    task: Task
    dependencies: list[dict[str, Any]]
    sessions: list[SessionSummary]

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task.as_dict(),
            "dependencies": self.dependencies,
            "sessions": [vars(s) for s in self.sessions],
        }

    def as_markdown(self) -> str:
        t = self.task
        lines = [f"# Handover: task {t.id} — {t.title}", ""]
        lines.append(
            f"- Status: {t.status} · Priority: {t.priority} · Role: {t.role or 'any'}"
            + (f" · Held by: {t.claimed_by}" if t.claimed_by else "")
        )
        if t.block_reason:
            lines.append(f"- Blocked: {t.block_reason}")
        if t.implements:
            lines.append(f"- Implements SecondBrain Task: {t.implements}")
        lines += ["", "## What to do", t.body or "(no body)", "", "## What its dependencies produced"]
        if not self.dependencies:
            lines.append("(no dependencies)")
        for dep in self.dependencies:
            lines.append(f"### Task {dep['id']} — {dep['title']} [{dep['status']}]")
            lines.append(dep.get("done_note") or "(no done note)")
        lines += ["", "## Activity"]
        lines += [f"- {a.line()}" for a in t.activity] or ["(none)"]
        lines += ["", "## Sessions that worked on it"]
        if not self.sessions:
            lines.append("(none recorded)")
        for s in self.sessions:
            lines.append(f"### Session {s.key or s.session_id}" + (f" ({s.status})" if s.status else ""))
            if s.doing:
                lines.append(f"What it was doing: {s.doing}")
            if not s.last_messages:
                lines.append("(its transcript is not in the ledger yet: run `ssot worker --once` or `ssot import`)")
            for message in s.last_messages:
                lines += ["", message]
        return "\n".join(lines) + "\n"


def handover_pack(conn: Connection, task_id: int, *, last: int = LAST_MESSAGES) -> HandoverPack:
    """The handover pack of ``task_id`` (TaskNotFoundError when there is no such task)."""
    from ssot_pipelines.sessions.bridge import context_pack

    task = graph.show(conn, task_id)
    sessions: list[SessionSummary] = []
    seen: set[str] = set()
    for entry in reversed(task.activity):  # most recent session first
        sid = entry.session_id
        if not sid or sid in seen:
            continue
        seen.add(sid)
        pack = context_pack(conn, sid, last=last)
        if pack is None:
            sessions.append(SessionSummary(sid, None, None, None))
            continue
        sessions.append(SessionSummary(sid, pack.key, pack.status, pack.doing, pack.last_messages[-last:]))
    return HandoverPack(task=task, dependencies=task.depends_on, sessions=sessions)


def session_keys(conn: Connection, task_id: int) -> list[str]:
    """The CLI Sessions keys (segment keys) of the sessions that logged activity on a task."""
    from ssot_pipelines.sessions.bridge import resolve_key
    from ssot_pipelines.sessions.segments import segment_key

    rows = conn.execute(
        "SELECT session_id, max(id) AS last FROM task_activity WHERE task_id = %s AND session_id IS NOT NULL"
        " GROUP BY session_id ORDER BY last",
        (task_id,),
    ).fetchall()
    keys = []
    for row in rows:
        sid, number = resolve_key(conn, row["session_id"])
        keys.append(segment_key(sid, max(number, 1)))
    conn.commit()
    return keys
