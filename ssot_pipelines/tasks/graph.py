"""The work graph in PostgreSQL: tasks, dependencies, atomic leased claims and the append-only activity log.

Every operation is one transaction that changes the task and appends its activity together, committed
before the function returns, so an acknowledged action is durable and the log never disagrees with the
graph. Atomicity comes from the database, never from the caller's sequencing (the race that made two
agents do the same work in other tools):

- a claim selects the best ready task ``FOR UPDATE SKIP LOCKED`` and takes it in the same transaction,
  so concurrent claimers each get a different task or none;
- a lease that runs out is returned to the queue (and logged) by the next operation that looks at the
  queue, and the old holder's heartbeat, release or completion is refused from then on;
- heartbeat, release and done are fenced on the holder (``claimed_by``) and the ``in_progress`` state;
- dependency edges are added under one transaction-scoped advisory lock, with the cycle check inside it,
  so two concurrent ``depend`` calls can never close a cycle between them.

Functions take a ledger connection (dict rows) that holds no open transaction of the caller's.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from ssot_pipelines.tasks.model import (
    Activity,
    CycleError,
    NotHolderError,
    Role,
    Status,
    Task,
    TaskError,
    TaskInputError,
    TaskNotFoundError,
    parse_priority,
)

Connection = psycopg.Connection[dict[str, Any]]

DEFAULT_LEASE_SECONDS = 600
DEFAULT_MAX_ATTEMPTS = 5
MAX_LEASE_SECONDS = 24 * 3600
_GRAPH_EDGE_LOCK = 0x7A5C_6E01  # advisory lock id: one dependency insert at a time

# The ready queue: todo, approved when approval is required, every dependency done. A person's or an
# agent's block sets status 'blocked', so blocked tasks are excluded by the status test.
_READY_WHERE = """
    t.status = 'todo'
    AND (NOT t.requires_approval OR t.approved_at IS NOT NULL)
    AND (%(role)s::text IS NULL OR t.role IS NULL OR t.role = %(role)s::text)
    AND NOT EXISTS (
        SELECT 1 FROM task_deps d JOIN tasks b ON b.id = d.dep_id
        WHERE d.task_id = t.id AND b.status <> 'done')
"""
_READY_ORDER = "ORDER BY t.priority, t.created_at, t.id"


@contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """A top-level transaction (so it commits here), refusing to run inside the caller's open one."""
    if not conn.autocommit and conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("the work graph needs a connection with no open transaction: commit or roll back first")
    with conn.transaction():
        yield


def _log(
    conn: Connection,
    task_id: int,
    agent: str,
    kind: str,
    note: str | None = None,
    *,
    role: str | None = None,
    session_id: str | None = None,
    source: str = "api",
) -> int:
    row = conn.execute(
        "INSERT INTO task_activity (task_id, agent, role, kind, note, session_id, source)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (task_id, agent, role, kind, note, session_id, source),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def _row(conn: Connection, task_id: int, *, lock: bool = False) -> dict[str, Any]:
    query = "SELECT * FROM tasks WHERE id = %s" + (" FOR UPDATE" if lock else "")
    row = conn.execute(query, (task_id,)).fetchone()  # type: ignore[arg-type]  # constant SQL
    if row is None:
        raise TaskNotFoundError(task_id)
    return row


def max_attempts() -> int:
    """``SSOT_TASK_MAX_ATTEMPTS`` (default 5): leases a task may lose before it is blocked as a poison task."""
    try:
        return max(1, int(os.environ.get("SSOT_TASK_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS))
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


def expire_leases(conn: Connection, *, source: str = "lease") -> list[int]:
    """Return tasks whose lease ran out to the queue, logging each; inside the caller's transaction.

    A task whose lease ran out ``max_attempts()`` times is blocked instead (by "lease"), so a task that
    kills its agents does not cycle through them forever; unblocking it returns it to the queue.
    """
    rows = conn.execute(
        """
        WITH old AS (
            SELECT id, claimed_by, role, attempts >= %(max)s AS poison FROM tasks
            WHERE status = 'in_progress' AND lease_until < now()
            FOR UPDATE SKIP LOCKED),
        freed AS (
            UPDATE tasks t SET status = CASE WHEN old.poison THEN 'blocked' ELSE 'todo' END,
                               blocked_by = CASE WHEN old.poison THEN 'lease' END,
                               block_reason = CASE WHEN old.poison THEN
                                   'its lease ran out ' || t.attempts || ' times without completion' END,
                               claimed_by = NULL, claimed_at = NULL, lease_until = NULL,
                               lease_seconds = NULL, updated_at = now()
            FROM old WHERE t.id = old.id RETURNING t.id)
        INSERT INTO task_activity (task_id, agent, role, kind, note, source)
        SELECT old.id, old.claimed_by, old.role, 'lease_expired',
               'the lease of ' || old.claimed_by || ' ran out without a heartbeat; '
               || CASE WHEN old.poison THEN 'blocked: it ran out ' || %(max)s || ' times'
                       ELSE 'back in the ready queue' END,
               %(source)s
        FROM old JOIN freed ON freed.id = old.id
        RETURNING task_id
        """,
        {"max": max_attempts(), "source": source},
    ).fetchall()
    return [int(r["task_id"]) for r in rows]


def sweep_leases(conn: Connection) -> list[int]:
    """Expire run-out leases in a transaction of their own; the ids returned to the queue."""
    with _transaction(conn):
        return expire_leases(conn)


# -- adding ------------------------------------------------------------------------------------------


def add_task(
    conn: Connection,
    title: str,
    *,
    agent: str,
    role: str | None = None,
    priority: str | int = "P2",
    depends_on: Sequence[int] = (),
    body: str = "",
    parent: int | None = None,
    implements: str | None = None,
    requires_approval: bool = False,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """Create a task (with its dependencies, each cycle-checked) and log it; return it."""
    title = title.strip()
    if not title:
        raise TaskInputError("a task needs a non-empty title")
    role_value = Role.parse(role).value if role else None
    prio = parse_priority(priority)
    with _transaction(conn):
        if parent is not None:
            _row(conn, parent)
        row = conn.execute(
            "INSERT INTO tasks (title, body, role, priority, parent_id, implements, requires_approval)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (title, body, role_value, prio, parent, implements, requires_approval),
        ).fetchone()
        assert row is not None
        task_id = int(row["id"])
        note = "needs approval before it is ready" if requires_approval else None
        _log(conn, task_id, agent, "added", note, role=role_value, session_id=session_id, source=source)
        for dep in dict.fromkeys(depends_on):
            _add_edge(conn, task_id, dep, agent=agent, session_id=session_id, source=source)
    return show(conn, task_id)


def depend(
    conn: Connection, task_id: int, on: int, *, agent: str, session_id: str | None = None, source: str = "api"
) -> Task:
    """Make ``task_id`` wait for ``on``; refuse (CycleError, naming the cycle) an edge that closes a cycle."""
    with _transaction(conn):
        _add_edge(conn, task_id, on, agent=agent, session_id=session_id, source=source)
    return show(conn, task_id)


def _add_edge(conn: Connection, task_id: int, on: int, *, agent: str, session_id: str | None, source: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_GRAPH_EDGE_LOCK,))
    _row(conn, task_id)
    _row(conn, on)
    cycle = _cycle_through(conn, task_id, on)
    if cycle:
        raise CycleError(cycle)
    inserted = conn.execute(
        "INSERT INTO task_deps (task_id, dep_id) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING task_id",
        (task_id, on),
    ).fetchone()
    if inserted:
        _log(conn, task_id, agent, "dependency_added", f"waits for task {on}", session_id=session_id, source=source)


def _cycle_through(conn: Connection, task_id: int, on: int) -> list[int] | None:
    """The cycle ``task_id → on → … → task_id`` the new edge would close, or None.

    Reads the edges reachable from ``on`` (UNION stops at nodes already seen, so this is linear in the
    reachable subgraph), then finds the path back to ``task_id`` breadth-first.
    """
    if task_id == on:
        return [task_id, task_id]
    edges = conn.execute(
        """
        WITH RECURSIVE reach(id) AS (
            SELECT %(on)s::bigint
            UNION
            SELECT d.dep_id FROM task_deps d JOIN reach r ON d.task_id = r.id)
        SELECT d.task_id, d.dep_id FROM task_deps d JOIN reach r ON d.task_id = r.id
        """,
        {"on": on},
    ).fetchall()
    waits: dict[int, list[int]] = {}
    for e in edges:
        waits.setdefault(int(e["task_id"]), []).append(int(e["dep_id"]))
    parent: dict[int, int] = {on: on}
    queue = deque([on])
    while queue:
        node = queue.popleft()
        for nxt in waits.get(node, []):
            if nxt in parent:
                continue
            parent[nxt] = node
            if nxt == task_id:
                path = [task_id]
                while path[-1] != on:
                    path.append(parent[path[-1]])
                return [task_id, *reversed(path)]
            queue.append(nxt)
    return None


# -- the queue ---------------------------------------------------------------------------------------


def ready(conn: Connection, *, role: str | None = None, limit: int | None = None) -> list[Task]:
    """The tasks that can start now (expired leases returned first), by priority then age."""
    role_value = Role.parse(role).value if role else None
    with _transaction(conn):
        expire_leases(conn)
        rows = conn.execute(
            sql.SQL("SELECT t.* FROM tasks t WHERE {} {} {}").format(
                sql.SQL(_READY_WHERE), sql.SQL(_READY_ORDER), sql.SQL("LIMIT %(limit)s" if limit else "")
            ),
            {"role": role_value, "limit": limit},
        ).fetchall()
    return [Task.from_row(r) for r in rows]


def claim(
    conn: Connection,
    agent: str,
    *,
    role: str | None = None,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    session_id: str | None = None,
    source: str = "api",
) -> Task | None:
    """Atomically claim the best ready task for ``agent`` under a lease; None when nothing is ready."""
    agent = _agent(agent)
    role_value = Role.parse(role).value if role else None
    if not 1 <= lease_seconds <= MAX_LEASE_SECONDS:
        raise TaskInputError(f"--lease must be between 1 and {MAX_LEASE_SECONDS} seconds, not {lease_seconds}")
    with _transaction(conn):
        expire_leases(conn)
        picked = conn.execute(
            sql.SQL("SELECT t.id, t.role FROM tasks t WHERE {} {} FOR UPDATE OF t SKIP LOCKED LIMIT 1").format(
                sql.SQL(_READY_WHERE), sql.SQL(_READY_ORDER)
            ),
            {"role": role_value},
        ).fetchone()
        if picked is None:
            return None
        task_id = int(picked["id"])
        conn.execute(
            "UPDATE tasks SET status = 'in_progress', claimed_by = %s, claimed_at = now(),"
            " lease_until = now() + make_interval(secs => %s), lease_seconds = %s, attempts = attempts + 1,"
            " updated_at = now() WHERE id = %s AND status = 'todo'",
            (agent, lease_seconds, lease_seconds, task_id),
        )
        _log(
            conn,
            task_id,
            agent,
            "claimed",
            f"lease of {lease_seconds}s",
            role=role_value or picked["role"],
            session_id=session_id,
            source=source,
        )
    return show(conn, task_id)


def _held(conn: Connection, task_id: int, agent: str, action: str) -> dict[str, Any]:
    """The locked row of a task ``agent`` holds, or the error that says who holds it and what to do."""
    expire_leases(conn)
    row = _row(conn, task_id, lock=True)
    if row["status"] == Status.IN_PROGRESS and row["claimed_by"] == agent:
        return row
    if row["status"] == Status.IN_PROGRESS:
        raise NotHolderError(
            f"cannot {action} task {task_id}: it is held by {row['claimed_by']}, not {agent}; "
            "only the holder of the lease may"
        )
    lost = conn.execute(
        "SELECT 1 FROM task_activity WHERE task_id = %s AND kind = 'lease_expired' AND agent = %s LIMIT 1",
        (task_id, agent),
    ).fetchone()
    hint = " (its lease ran out and it went back to the queue; claim it again)" if lost else ""
    raise NotHolderError(
        f"cannot {action} task {task_id}: {agent} does not hold it, its status is {row['status']}{hint}"
    )


def heartbeat(
    conn: Connection,
    task_id: int,
    agent: str,
    *,
    lease_seconds: int | None = None,
    note: str | None = None,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """Extend the holder's lease (by its claim's length unless given); a note is logged as progress."""
    agent = _agent(agent)
    with _transaction(conn):
        row = _held(conn, task_id, agent, "heartbeat")
        seconds = lease_seconds or row["lease_seconds"] or DEFAULT_LEASE_SECONDS
        conn.execute(
            "UPDATE tasks SET lease_until = now() + make_interval(secs => %s), lease_seconds = %s,"
            " updated_at = now() WHERE id = %s",
            (seconds, seconds, task_id),
        )
        _log(
            conn,
            task_id,
            agent,
            "progress" if note else "heartbeat",
            note,
            role=row["role"],
            session_id=session_id,
            source=source,
        )
    return show(conn, task_id)


def release(
    conn: Connection,
    task_id: int,
    agent: str,
    *,
    note: str | None = None,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """The holder gives the task back to the ready queue."""
    agent = _agent(agent)
    with _transaction(conn):
        row = _held(conn, task_id, agent, "release")
        _set_free(conn, task_id, Status.TODO)
        _log(conn, task_id, agent, "released", note, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def done(
    conn: Connection,
    task_id: int,
    agent: str,
    *,
    note: str | None = None,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """The holder completes the task; its note is what dependants' agents receive in their handover."""
    agent = _agent(agent)
    with _transaction(conn):
        row = _held(conn, task_id, agent, "complete")
        _set_free(conn, task_id, Status.DONE)
        conn.execute("UPDATE tasks SET done_note = %s, done_at = now() WHERE id = %s", (note, task_id))
        _log(conn, task_id, agent, "done", note, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def note(
    conn: Connection,
    task_id: int,
    agent: str,
    text: str,
    *,
    kind: str = "progress",
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """Log a note (``progress`` or ``review_requested``) without changing the task."""
    if kind not in ("progress", "review_requested", "comment"):
        raise TaskInputError(f"unknown note kind {kind!r}; use progress or review_requested")
    with _transaction(conn):
        row = _row(conn, task_id)
        _log(conn, task_id, _agent(agent), kind, text, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def block(
    conn: Connection,
    task_id: int,
    reason: str,
    *,
    agent: str,
    by_person: bool = False,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """Block a task (releasing any claim). A person's block holds until a person unblocks it."""
    if not reason.strip():
        raise TaskInputError("--reason must say why the task is blocked")
    with _transaction(conn):
        row = _row(conn, task_id, lock=True)
        if row["status"] in (Status.DONE, Status.CANCELLED):
            raise TaskError(f"task {task_id} is {row['status']}; there is nothing to block")
        _set_free(conn, task_id, Status.BLOCKED)
        conn.execute(
            "UPDATE tasks SET blocked_by = %s, block_reason = %s, person_blocked = person_blocked OR %s WHERE id = %s",
            (f"person:{agent}" if by_person else agent, reason, by_person, task_id),
        )
        _log(conn, task_id, agent, "blocked", reason, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def unblock(
    conn: Connection,
    task_id: int,
    *,
    agent: str,
    by_person: bool = False,
    note: str | None = None,
    session_id: str | None = None,
    source: str = "api",
) -> Task:
    """Return a blocked task to the queue; an agent cannot lift a person's block."""
    with _transaction(conn):
        row = _row(conn, task_id, lock=True)
        if row["status"] != Status.BLOCKED:
            raise TaskError(f"task {task_id} is not blocked (its status is {row['status']})")
        if row["person_blocked"] and not by_person:
            raise TaskError(
                f"task {task_id} was blocked by a person ({row['block_reason']}); only a person can unblock it: "
                "set its Status in Notion, or reply `unblock` in its Slack thread"
            )
        conn.execute(
            "UPDATE tasks SET status = 'todo', blocked_by = NULL, block_reason = NULL, person_blocked = false,"
            " attempts = CASE WHEN blocked_by = 'lease' THEN 0 ELSE attempts END, updated_at = now()"
            " WHERE id = %s",
            (task_id,),
        )
        _log(conn, task_id, agent, "unblocked", note, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def approve(conn: Connection, task_id: int, *, by: str, session_id: str | None = None, source: str = "api") -> Task:
    """Give a task the approval it waits for (idempotent: a second approval changes nothing)."""
    with _transaction(conn):
        row = _row(conn, task_id, lock=True)
        if row["approved_at"] is None:
            conn.execute(
                "UPDATE tasks SET approved_at = now(), approved_by = %s, updated_at = now() WHERE id = %s",
                (by, task_id),
            )
            _log(conn, task_id, by, "approved", None, role=row["role"], session_id=session_id, source=source)
    return show(conn, task_id)


def update_fields(
    conn: Connection,
    task_id: int,
    *,
    by: str,
    role: str | None = None,
    priority: str | None = None,
    source: str = "api",
    session_id: str | None = None,
) -> Task:
    """A person reassigns a task's role or changes its priority (logged)."""
    changes: list[str] = []
    with _transaction(conn):
        row = _row(conn, task_id, lock=True)
        if role is not None:
            new_role = Role.parse(role).value
            if new_role != row["role"]:
                conn.execute("UPDATE tasks SET role = %s, updated_at = now() WHERE id = %s", (new_role, task_id))
                changes.append(f"assigned to {new_role}")
        if priority is not None:
            prio = parse_priority(priority)
            if prio != row["priority"]:
                conn.execute("UPDATE tasks SET priority = %s, updated_at = now() WHERE id = %s", (prio, task_id))
                changes.append(f"priority P{prio}")
        if changes:
            _log(conn, task_id, by, "reassigned", ", ".join(changes), session_id=session_id, source=source)
    return show(conn, task_id)


def set_status_by_person(conn: Connection, task_id: int, status: Status, *, by: str, source: str) -> None:
    """Apply a Status a person chose (in Notion): blocked holds until a person changes it again."""
    if status is Status.BLOCKED:
        block(conn, task_id, f"set to blocked by a person in {source}", agent=by, by_person=True, source=source)
        return
    with _transaction(conn):
        row = _row(conn, task_id, lock=True)
        current = Status(row["status"])
        if status is Status.DONE and current is not Status.DONE:
            _set_free(conn, task_id, Status.DONE)
            conn.execute("UPDATE tasks SET done_at = now() WHERE id = %s", (task_id,))
            _log(conn, task_id, by, "done", f"marked done by a person in {source}", source=source)
        elif status in (Status.TODO, Status.IN_PROGRESS) and current in (Status.BLOCKED, Status.DONE):
            # A person reopening or unblocking: it goes back to the queue (agents hold "in progress").
            _set_free(conn, task_id, Status.TODO)
            _log(
                conn,
                task_id,
                by,
                "unblocked" if current is Status.BLOCKED else "reopened",
                f"status set to {status.notion} by a person in {source}",
                source=source,
            )
        elif status is Status.TODO and current is Status.IN_PROGRESS:
            _log(
                conn,
                task_id,
                by,
                "released",
                f"claim of {row['claimed_by']} revoked by a person in {source}",
                source=source,
            )
            _set_free(conn, task_id, Status.TODO)


def _set_free(conn: Connection, task_id: int, status: Status) -> None:
    """Move to a status that holds no claim (clearing the block unless blocking)."""
    clear_block = "" if status is Status.BLOCKED else ", blocked_by = NULL, block_reason = NULL, person_blocked = false"
    conn.execute(
        sql.SQL(
            "UPDATE tasks SET status = %s, claimed_by = NULL, claimed_at = NULL, lease_until = NULL,"
            " lease_seconds = NULL, updated_at = now(){} WHERE id = %s"
        ).format(sql.SQL(clear_block)),
        (status.value, task_id),
    )


def _agent(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise TaskInputError("--agent must name the agent (e.g. executor-1)")
    return name


# -- reading -----------------------------------------------------------------------------------------


def show(conn: Connection, task_id: int) -> Task:
    """The task with its dependencies, dependants and activity log."""
    try:
        row = _row(conn, task_id)
        task = Task.from_row(row)
        task.depends_on = [
            dict(r)
            for r in conn.execute(
                "SELECT t.id, t.title, t.status, t.done_note FROM task_deps d JOIN tasks t ON t.id = d.dep_id"
                " WHERE d.task_id = %s ORDER BY t.id",
                (task_id,),
            ).fetchall()
        ]
        task.dependants = [
            dict(r)
            for r in conn.execute(
                "SELECT t.id, t.title, t.status FROM task_deps d JOIN tasks t ON t.id = d.task_id"
                " WHERE d.dep_id = %s ORDER BY t.id",
                (task_id,),
            ).fetchall()
        ]
        task.activity = activity(conn, task_id)
    finally:
        _end_read(conn)
    return task


def activity(conn: Connection, task_id: int) -> list[Activity]:
    """The task's activity log, oldest first."""
    try:
        rows = conn.execute(
            "SELECT id, task_id, at, agent, role, kind, note, session_id, source FROM task_activity"
            " WHERE task_id = %s ORDER BY id",
            (task_id,),
        ).fetchall()
    finally:
        _end_read(conn)
    return [Activity(**r) for r in rows]


def _end_read(conn: Connection) -> None:
    """End the read's implicit transaction (a failed read included), leaving the connection idle."""
    if conn.autocommit:
        return
    if conn.info.transaction_status == TransactionStatus.INERROR:
        conn.rollback()
    elif conn.info.transaction_status == TransactionStatus.INTRANS:
        conn.commit()


def list_tasks(conn: Connection, *, status: str | None = None) -> list[Task]:
    """Every task (or those in one status), oldest first."""
    status_value = Status.parse(status).value if status else None
    with _transaction(conn):
        expire_leases(conn)
        rows = conn.execute(
            "SELECT * FROM tasks WHERE %(s)s::text IS NULL OR status = %(s)s::text ORDER BY id",
            {"s": status_value},
        ).fetchall()
    return [Task.from_row(r) for r in rows]


def change_signature(conn: Connection) -> str:
    """A fingerprint of the graph's state for Notion: the newest activity and any lease that ran out."""
    row = conn.execute(
        "SELECT (SELECT max(id) FROM task_activity) AS last,"
        " (SELECT max(updated_at) FROM tasks) AS updated,"
        " (SELECT count(*) FROM tasks WHERE status = 'in_progress' AND lease_until < now()) AS expired"
    ).fetchone()
    if not conn.autocommit:
        conn.commit()
    assert row is not None
    return f"{row['last']}:{row['updated']}:{row['expired']}"
