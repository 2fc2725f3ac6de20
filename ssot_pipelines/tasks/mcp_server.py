"""``ssot mcp``: the SecondBrain as a stdio MCP server (official ``mcp`` SDK) for Claude Code and other agents.

Tools: ``search`` and ``session_context`` (the sessions capability's recall and context pack), and the
work graph's ``task_add``, ``task_ready``, ``task_claim``, ``task_heartbeat``, ``task_done``,
``task_block``, ``task_show`` and ``task_context`` (the handover pack). Every input is typed (the SDK
derives the JSON schema from the annotations); a refused operation is an error result whose text says
why and what to do. stdout carries the protocol, so logs go to stderr. Nothing here imports Dagster.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.tasks import graph
from ssot_pipelines.tasks.model import TaskError
from ssot_pipelines.tasks.session import current_session

log = logging.getLogger("ssot.mcp")

RoleName = Literal["planner", "executor", "reviewer"]
PriorityName = Literal["P0", "P1", "P2", "P3"]
Agent = Annotated[str, Field(min_length=1, description="your agent name, e.g. executor-1")]
TaskId = Annotated[int, Field(ge=1, description="the task's id")]

server = MCPServer(
    "ssot",
    instructions=(
        "Engineering SecondBrain: a work graph of agent tasks (claim one with task_claim, keep its lease with "
        "task_heartbeat, finish with task_done and a note for the next agent), past CLI sessions (search, "
        "session_context) and a task's handover pack (task_context)."
    ),
)

_lock = threading.Lock()
_conn: list[Any] = []
T = TypeVar("T")


def _ledger(func: Callable[[Any], T]) -> T:
    """Run ``func`` with the server's ledger connection (opened on first use, reopened if it broke)."""
    import psycopg

    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    with _lock:
        try:
            if not _conn or _conn[0].closed:
                conn = connect(resolve_postgres_url())
                migrate(conn)
                conn.commit()
                _conn[:] = [conn]
            return func(_conn[0])
        except TaskError as exc:
            raise ToolError(str(exc)) from None
        except ConfigurationError as exc:
            raise ToolError(f"configuration error: {exc}") from None
        except psycopg.OperationalError as exc:
            if _conn:
                _conn[0].close()
            raise ToolError(f"the ledger did not answer ({type(exc).__name__}); try again") from None
        finally:
            # whatever a tool left open (a failed read) must not poison the next call's transaction
            if _conn and not _conn[0].closed and _conn[0].info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                _conn[0].rollback()


def _post_to_slack(conn: Any) -> None:
    """Post new activity to the tasks' Slack threads when configured; never fails the tool call."""
    from ssot_pipelines.tasks.slack import SlackSettings, post_pending

    settings = SlackSettings.from_env()
    if settings is None:
        return
    try:
        post_pending(conn, settings, limit=50, wait=False)
    except Exception as exc:  # the activity is durable; the next pass posts it
        log.warning("Slack post deferred: %s: %s", type(exc).__name__, exc)


def _changing(func: Callable[[Any], T]) -> Callable[[Any], T]:
    """``func`` followed by posting its activity to Slack."""

    def run(conn: Any) -> T:
        result = func(conn)
        _post_to_slack(conn)
        return result

    return run


def _session(tool: str) -> str | None:
    return current_session(tool_hint=tool)


@server.tool()
def task_add(
    title: Annotated[str, Field(min_length=1, description="what the task is, in a line")],
    agent: Agent,
    role: RoleName | None = None,
    priority: PriorityName = "P2",
    depends_on: Annotated[list[int], Field(description="ids of tasks this one waits for")] = [],  # noqa: B006
    body: Annotated[str, Field(description="what to do, in full")] = "",
    parent: Annotated[int | None, Field(description="the task this one is part of")] = None,
    needs_approval: Annotated[bool, Field(description="not ready until a person approves it")] = False,
) -> dict[str, Any]:
    """Add a task to the work graph (a dependency that would close a cycle is refused); returns the task."""
    sid = _session("task_add")
    return _ledger(
        _changing(
            lambda c: graph.add_task(
                c,
                title,
                agent=agent,
                role=role,
                priority=priority,
                depends_on=depends_on,
                body=body,
                parent=parent,
                requires_approval=needs_approval,
                session_id=sid,
                source="mcp",
            ).as_dict()
        )
    )


@server.tool()
def task_ready(role: RoleName | None = None, limit: Annotated[int, Field(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """The tasks that can start now (dependencies done, not blocked, not claimed), by priority then age."""
    return _ledger(lambda c: [_brief(t.as_dict()) for t in graph.ready(c, role=role, limit=limit)])


@server.tool()
def task_claim(
    agent: Agent,
    role: RoleName | None = None,
    lease_seconds: Annotated[int, Field(ge=1, le=graph.MAX_LEASE_SECONDS)] = graph.DEFAULT_LEASE_SECONDS,
) -> dict[str, Any]:
    """Atomically claim the best ready task under a lease. ``claimed`` is false when nothing is ready."""
    sid = _session("task_claim")
    task = _ledger(
        _changing(lambda c: graph.claim(c, agent, role=role, lease_seconds=lease_seconds, session_id=sid, source="mcp"))
    )
    if task is None:
        return {"claimed": False, "reason": "no task is ready"}
    return {"claimed": True, "task": task.as_dict()}


@server.tool()
def task_heartbeat(
    task_id: TaskId,
    agent: Agent,
    lease_seconds: Annotated[int | None, Field(ge=1, le=graph.MAX_LEASE_SECONDS)] = None,
    note: Annotated[str | None, Field(description="a progress note to log")] = None,
) -> dict[str, Any]:
    """Extend the lease of a task you hold (refused if you no longer hold it: stop working on it then)."""
    sid = _session("task_heartbeat")
    return _ledger(
        _changing(
            lambda c: graph.heartbeat(
                c, task_id, agent, lease_seconds=lease_seconds, note=note, session_id=sid, source="mcp"
            ).as_dict()
        )
    )


@server.tool()
def task_done(
    task_id: TaskId,
    agent: Agent,
    note: Annotated[str | None, Field(description="what it produced, for the agents of dependent tasks")] = None,
) -> dict[str, Any]:
    """Complete a task you hold."""
    sid = _session("task_done")
    return _ledger(
        _changing(lambda c: graph.done(c, task_id, agent, note=note, session_id=sid, source="mcp").as_dict())
    )


@server.tool()
def task_block(
    task_id: TaskId,
    reason: Annotated[str, Field(min_length=1)],
    agent: Agent,
) -> dict[str, Any]:
    """Block a task (it leaves the ready queue until unblocked), saying why."""
    sid = _session("task_block")
    return _ledger(
        _changing(lambda c: graph.block(c, task_id, reason, agent=agent, session_id=sid, source="mcp").as_dict())
    )


@server.tool()
def task_show(task_id: TaskId) -> dict[str, Any]:
    """The task with its dependencies, dependants and activity log."""
    return _ledger(lambda c: graph.show(c, task_id).as_dict())


@server.tool()
def task_context(task_id: TaskId) -> str:
    """The handover pack of a task: body, dependencies' done notes, activity, sessions' last messages."""
    from ssot_pipelines.tasks.handover import handover_pack

    return _ledger(lambda c: handover_pack(c, task_id).as_markdown())


@server.tool()
def session_context(
    session: Annotated[str, Field(min_length=1, description="a session id, or a segment key <session_id>#<n>")],
) -> str:
    """The context pack of a CLI session: what it was doing, its last messages, linked sessions."""
    from ssot_pipelines.sessions.bridge import context_pack

    pack = _ledger(lambda c: context_pack(c, session))
    if pack is None:
        raise ToolError(f"no session {session!r} in the ledger (run `ssot worker --once` or `ssot import` first)")
    return pack.as_markdown()


@server.tool()
def search(
    query: Annotated[str, Field(min_length=1, description="what to look for: words, or an exact id, path or rule")],
    kinds: Annotated[
        list[str] | None, Field(description="any of sessions, slack, files, tech_debt, tasks (default all)")
    ] = None,
    top_k: Annotated[int, Field(ge=1, le=50, description="hits to return")] = 5,
) -> list[dict[str, Any]]:
    """Search sessions, Slack conversations, files, findings and tasks at once (``ssot search``): hybrid
    vector + full-text ranking, exact identifiers first; each hit with its kind, title, Notion URL and the
    paragraphs or messages around it."""
    from ssot_pipelines.search.cli import open_search
    from ssot_pipelines.search.engine import parse_kinds
    from ssot_pipelines.settings import env

    try:
        wanted = parse_kinds(",".join(kinds) if kinds else None)
    except ValueError as exc:
        raise ToolError(str(exc)) from None

    def run(conn: Any) -> list[dict[str, Any]]:
        from ssot_pipelines.ledger import resolve_postgres_url

        engine = open_search(
            conn,
            env("POSTGRES_URL") or resolve_postgres_url(),
            on_note=lambda text: print(f"ssot mcp search: {text}", file=sys.stderr),
        )
        try:
            return [h.as_dict() for h in engine.search(query, wanted, limit=top_k).hits]
        finally:
            close = getattr(engine.store, "close", None)
            if close is not None:
                close()

    return _ledger(run)


def _brief(task: dict[str, Any]) -> dict[str, Any]:
    return {k: task[k] for k in ("id", "title", "role", "priority", "status", "requires_approval", "created_at")}


def main() -> None:
    """Serve over stdio until the client closes the stream."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server.run()


if __name__ == "__main__":
    main()
