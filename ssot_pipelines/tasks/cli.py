"""``ssot task …`` (the agents' work graph) and ``ssot mcp`` (the same operations as an MCP server).

Exit codes: 0 done; 1 refused (unknown task, not the holder, a cycle, bad input: one line on stderr
saying why); 2 configuration; 3 ``claim`` found no ready task (nothing on stdout). Imports stay light:
no Dagster, no pandas, so an agent can call these many times a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

NO_TASK_READY = 3


def register(subparsers: Any) -> None:
    """Add ``task`` (with its sub-commands) and ``mcp`` to the ``ssot`` parser."""
    task = subparsers.add_parser("task", help="the agents' work graph: add, claim, complete tasks")
    sub = task.add_subparsers(dest="task_command", required=True, metavar="SUBCOMMAND")

    add = _cmd(sub, "add", "add a task; prints it, including its id", _add)
    add.add_argument("title", help="what the task is, in one line")
    add.add_argument("--role", choices=("planner", "executor", "reviewer"), help="which kind of agent may claim it")
    add.add_argument("--priority", default="P2", help="P0 (most urgent) .. P3; default P2")
    add.add_argument(
        "--depends-on",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="a task this one waits for (repeatable)",
    )
    add.add_argument("--body", default="", help="what to do, in full")
    add.add_argument("--parent", type=int, metavar="ID", help="the task this one is part of (organisational)")
    add.add_argument("--implements", metavar="KEY", help="the Key of the SecondBrain Task this implements")
    add.add_argument("--needs-approval", action="store_true", help="not ready until a person approves it")
    _agent_opt(add, required=False)

    dep = _cmd(sub, "depend", "make a task wait for another; a cycle is refused (exit 1)", _depend)
    dep.add_argument("id", type=int, help="the task id")
    dep.add_argument("--on", type=int, required=True, metavar="OTHER", help="the task it waits for")
    _agent_opt(dep, required=False)

    rdy = _cmd(sub, "ready", "the tasks that can start now, by priority then age", _ready)
    rdy.add_argument("--role", choices=("planner", "executor", "reviewer"), help="only tasks for this role")
    rdy.add_argument("--limit", type=int, help="at most this many tasks")

    clm = _cmd(sub, "claim", "claim the best ready task atomically (exit 3 when none is ready)", _claim)
    _agent_opt(clm, required=True)
    clm.add_argument("--role", choices=("planner", "executor", "reviewer"), help="claim only a task for this role")
    clm.add_argument("--lease", type=int, default=None, help="lease in seconds (default 600)")

    hb = _cmd(sub, "heartbeat", "extend the lease of a task you hold", _heartbeat)
    hb.add_argument("id", type=int, help="the task id")
    _agent_opt(hb, required=True)
    hb.add_argument("--lease", type=int, help="new lease length in seconds (default: the claim's)")
    hb.add_argument("--note", help="a progress note to log with the heartbeat")

    rel = _cmd(sub, "release", "give a task you hold back to the queue", _release)
    rel.add_argument("id", type=int, help="the task id")
    _agent_opt(rel, required=True)
    rel.add_argument("--note", help="why it goes back, for the next agent")

    dn = _cmd(sub, "done", "complete a task you hold", _done)
    dn.add_argument("id", type=int, help="the task id")
    _agent_opt(dn, required=True)
    dn.add_argument("--note", help="what it produced: dependants' agents receive this in their handover")

    blk = _cmd(sub, "block", "block a task (it leaves the queue until unblocked)", _block)
    blk.add_argument("id", type=int, help="the task id")
    blk.add_argument("--reason", required=True, help="what blocks it")
    _agent_opt(blk, required=False)

    ublk = _cmd(sub, "unblock", "return a task an agent blocked to the queue", _unblock)
    ublk.add_argument("id", type=int, help="the task id")
    _agent_opt(ublk, required=False)
    ublk.add_argument("--note", help="what changed, for the next agent")

    apv = _cmd(sub, "approve", "approve a task that needs approval", _approve)
    apv.add_argument("id", type=int, help="the task id")
    apv.add_argument("--by", required=True, help="who approves")

    nte = _cmd(sub, "note", "log a progress note (or a review request) on a task", _note)
    nte.add_argument("id", type=int, help="the task id")
    nte.add_argument("text", help="the note")
    _agent_opt(nte, required=True)
    nte.add_argument("--review", action="store_true", help="log it as a review request")

    shw = _cmd(sub, "show", "the task with its dependencies, dependants and activity log", _show)
    shw.add_argument("id", type=int, help="the task id")

    lst = _cmd(sub, "list", "list tasks", _list)
    lst.add_argument("--status", help="todo, in_progress, blocked, done or cancelled")

    ctx = _cmd(sub, "context", "the handover pack of a task, for the next agent", _context)
    ctx.add_argument("id", type=int, help="the task id")

    imp = _cmd(sub, "import", "bulk-import tasks from a .jsonl/.json/.csv file (the `ssot stage` format)", _import)
    imp.add_argument("file", help="the tasks: .jsonl, .json or .csv")

    slk = _cmd(sub, "slack", "post the activity not yet in Slack to the tasks' threads", _slack)
    slk.add_argument("--limit", type=int, default=200, help="activity entries to post at most (default 200)")

    mcp = subparsers.add_parser("mcp", help="run the stdio MCP server (search, context, task_* tools)")
    mcp.set_defaults(func=_mcp)


def _cmd(sub: Any, name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> Any:
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=lambda args: _run(func, args))
    return parser


def _agent_opt(parser: Any, *, required: bool) -> None:
    default = os.environ.get("SSOT_AGENT") or None
    parser.add_argument(
        "--agent",
        required=required and default is None,
        default=default,
        help="the agent's name" + ("" if required else " (default: SSOT_AGENT, else cli)"),
    )


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks.model import TaskError

    try:
        return func(args)
    except TaskError as exc:
        print(f"ssot task {args.task_command}: {exc}", file=sys.stderr)
        return 1


def _conn() -> Any:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    conn = connect(resolve_postgres_url())
    migrate(conn)
    conn.commit()
    return conn


def _who(args: argparse.Namespace) -> str:
    return str(args.agent or "cli")


def _session() -> str | None:
    from ssot_pipelines.tasks.session import current_session

    return current_session()


def _print_task(task: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(task.as_dict(), ensure_ascii=False, indent=2))
        return
    print(_summary(task))


def _summary(task: Any) -> str:
    who = f" · held by {task.claimed_by} until {task.lease_until:%H:%M:%S}" if task.claimed_by else ""
    role = f" · {task.role}" if task.role else ""
    return f"{task.id}  [{task.status}] {task.priority}{role}  {task.title}{who}"


def _after(conn: Any) -> None:
    """Post the new activity to Slack when it is configured; a Slack failure never fails the command."""
    from ssot_pipelines.tasks.slack import SlackSettings, post_pending

    settings = SlackSettings.from_env()
    if settings is None:
        return
    try:
        post_pending(conn, settings, limit=50, wait=False)
    except Exception as exc:  # the activity is durable; the next pass posts it
        print(f"ssot task: Slack post deferred ({type(exc).__name__}: {exc})", file=sys.stderr)


def _mutating(args: argparse.Namespace, op: Callable[[Any, str | None], Any]) -> int:
    conn = _conn()
    try:
        task = op(conn, _session())
        _print_task(task, args.json)
        _after(conn)
    finally:
        conn.close()
    return 0


def _add(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args,
        lambda conn, sid: graph.add_task(
            conn,
            args.title,
            agent=_who(args),
            role=args.role,
            priority=args.priority,
            depends_on=args.depends_on,
            body=args.body,
            parent=args.parent,
            implements=args.implements,
            requires_approval=args.needs_approval,
            session_id=sid,
            source="cli",
        ),
    )


def _depend(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args, lambda conn, sid: graph.depend(conn, args.id, args.on, agent=_who(args), session_id=sid, source="cli")
    )


def _ready(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    conn = _conn()
    try:
        tasks = graph.ready(conn, role=args.role, limit=args.limit)
    finally:
        conn.close()
    if args.json:
        print(json.dumps([t.as_dict() for t in tasks], ensure_ascii=False, indent=2))
    else:
        for task in tasks:
            print(_summary(task))
    return 0


def _claim(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    conn = _conn()
    try:
        lease = args.lease or graph.DEFAULT_LEASE_SECONDS
        task = graph.claim(conn, args.agent, role=args.role, lease_seconds=lease, session_id=_session(), source="cli")
        if task is None:
            return NO_TASK_READY
        _print_task(task, args.json)
        _after(conn)
    finally:
        conn.close()
    return 0


def _heartbeat(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args,
        lambda conn, sid: graph.heartbeat(
            conn, args.id, args.agent, lease_seconds=args.lease, note=args.note, session_id=sid, source="cli"
        ),
    )


def _release(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args, lambda conn, sid: graph.release(conn, args.id, args.agent, note=args.note, session_id=sid, source="cli")
    )


def _done(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args, lambda conn, sid: graph.done(conn, args.id, args.agent, note=args.note, session_id=sid, source="cli")
    )


def _block(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args, lambda conn, sid: graph.block(conn, args.id, args.reason, agent=_who(args), session_id=sid, source="cli")
    )


def _unblock(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(
        args,
        lambda conn, sid: graph.unblock(conn, args.id, agent=_who(args), note=args.note, session_id=sid, source="cli"),
    )


def _approve(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    return _mutating(args, lambda conn, sid: graph.approve(conn, args.id, by=args.by, session_id=sid, source="cli"))


def _note(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    kind = "review_requested" if args.review else "progress"
    return _mutating(
        args,
        lambda conn, sid: graph.note(conn, args.id, args.agent, args.text, kind=kind, session_id=sid, source="cli"),
    )


def _show(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    conn = _conn()
    try:
        task = graph.show(conn, args.id)
    finally:
        conn.close()
    if args.json:
        _print_task(task, True)
        return 0
    print(_summary(task))
    for dep in task.depends_on:
        print(f"  waits for {dep['id']} [{dep['status']}] {dep['title']}")
    for dep in task.dependants:
        print(f"  needed by {dep['id']} [{dep['status']}] {dep['title']}")
    for entry in task.activity:
        print(f"  {entry.line()}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks import graph

    conn = _conn()
    try:
        tasks = graph.list_tasks(conn, status=args.status)
    finally:
        conn.close()
    if args.json:
        print(json.dumps([t.as_dict() for t in tasks], ensure_ascii=False, indent=2))
    else:
        for task in tasks:
            print(_summary(task))
    return 0


def _context(args: argparse.Namespace) -> int:
    return print_task_context(args.id, as_json=args.json)


def print_task_context(task_id: int, *, as_json: bool = False) -> int:
    """The hook for ``ssot context --task ID``: print the task's handover pack; exit code."""
    from ssot_pipelines.tasks.handover import handover_pack
    from ssot_pipelines.tasks.model import TaskError

    conn = _conn()
    try:
        pack = handover_pack(conn, task_id)
    except TaskError as exc:
        print(f"ssot context: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(json.dumps(pack.as_dict(), ensure_ascii=False, indent=2) if as_json else pack.as_markdown(), end="")
    if as_json:
        print()
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ssot_pipelines.ledger.staging import StagingError, read_records
    from ssot_pipelines.tasks.staged import import_records

    try:
        records = read_records(Path(args.file))
    except StagingError as exc:
        print(f"ssot task import: {exc}", file=sys.stderr)
        return 1
    conn = _conn()
    try:
        result = import_records(conn, records, agent=_who(args) if hasattr(args, "agent") else "import")
    finally:
        conn.close()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.summary())
    return 1 if result.refused else 0


def _slack(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks.slack import SlackSettings, post_pending

    settings = SlackSettings.from_env()
    if settings is None:
        print(
            "ssot task slack: set SLACK_BOT_TOKEN (or a SLACK_<ROLE>_BOT_TOKEN) and SLACK_TASKS_CHANNEL",
            file=sys.stderr,
        )
        return 2
    conn = _conn()
    try:
        report = post_pending(conn, settings, limit=args.limit)
    finally:
        conn.close()
    print(json.dumps(report.as_dict()) if args.json else report.summary())
    return 0 if not report.failed else 1


def _mcp(args: argparse.Namespace) -> int:
    from ssot_pipelines.tasks.mcp_server import main

    main()
    return 0
