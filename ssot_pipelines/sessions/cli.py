"""``ssot`` sub-commands for CLI sessions: hooks, import, worker, context (``ssot search`` is in
``ssot_pipelines.search``; ``--in sessions`` gives sessions only)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import ConfigurationError


def register(subparsers: Any) -> None:
    """Add ``hooks``, ``import``, ``worker`` and ``context`` to the ``ssot`` parser."""
    hooks = subparsers.add_parser("hooks", help="the Claude Code hook configuration for ssot-hook")
    hook_commands = hooks.add_subparsers(dest="hooks_command", required=True)
    show = hook_commands.add_parser("print", help="print the hooks block for ~/.claude/settings.json")
    show.add_argument("--ssot-home", type=Path, help="where the journal lives (default: SSOT_HOME or ./.ssot)")
    show.add_argument(
        "--console-script",
        action="store_true",
        help="use <venv>/bin/ssot-hook instead of the faster `python -S` command",
    )
    show.set_defaults(func=_hooks_print)
    inst = hook_commands.add_parser("install", help="merge the hooks into a Claude Code settings.json")
    claude_dir = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    inst.add_argument(
        "--settings",
        type=Path,
        default=claude_dir / "settings.json",
        help="the settings.json to merge into (default: $CLAUDE_CONFIG_DIR or ~/.claude)",
    )
    inst.add_argument("--ssot-home", type=Path, help="where the journal lives (default: SSOT_HOME or ./.ssot)")
    inst.add_argument(
        "--console-script",
        action="store_true",
        help="use <venv>/bin/ssot-hook instead of the faster `python -S` command",
    )
    inst.set_defaults(func=_hooks_install)

    imp = subparsers.add_parser("import", help="import Claude Code transcripts and Codex rollouts into the ledger")
    imp.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or directories (default: ~/.claude/projects, ~/.codex/sessions, archived_sessions "
        "and SSOT_TRANSCRIPT_ROOTS)",
    )
    imp.add_argument(
        "--allow-outside-roots",
        action="store_true",
        help="also read the named files outside the transcript roots (regular files only)",
    )
    imp.set_defaults(func=_import)

    worker = subparsers.add_parser("worker", help="drain the hook journal into PostgreSQL, Redis and vectors")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument("--interval", type=float, default=2.0, help="seconds between passes")
    worker.add_argument("--no-recall", action="store_true", help="skip embedding chunks for semantic search")
    worker.add_argument(
        "--no-tail",
        action="store_true",
        help="do not check ~/.claude/projects and ~/.codex/sessions for grown transcripts",
    )
    held = worker.add_mutually_exclusive_group()
    held.add_argument(
        "--redrive-quarantine",
        action="store_true",
        help="read the quarantined events again and store those the ledger now accepts, then exit",
    )
    held.add_argument(
        "--show-quarantine",
        action="store_true",
        help="list the quarantined events (id, origin, reason, size), then exit",
    )
    worker.set_defaults(func=_worker)

    ctx = subparsers.add_parser("context", help="the context pack of a session (for a next session or agent)")
    ctx.add_argument(
        "session",
        nargs="?",
        help="a session id (its latest segment) or a segment key <session_id>#<n>; "
        "omitted: list the sessions active in the last 24 h (from Redis)",
    )
    ctx.add_argument(
        "--task",
        type=int,
        metavar="ID",
        help="print an agent task's handover pack instead (task, dependencies' notes, activity, sessions)",
    )
    ctx.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ctx.set_defaults(func=_context)


def _hooks_print(args: argparse.Namespace) -> int:
    from ssot_pipelines.sessions.hooks_config import hook_command, hook_settings

    print(json.dumps(hook_settings(hook_command(args.ssot_home, console_script=args.console_script)), indent=2))
    return 0


def _hooks_install(args: argparse.Namespace) -> int:
    from ssot_pipelines.sessions.hooks_config import SettingsError, hook_command, install

    try:
        changes = install(args.settings, hook_command(args.ssot_home, console_script=args.console_script))
    except SettingsError as exc:
        print(f"ssot hooks install: {exc}", file=sys.stderr)
        return 2
    print(f"{args.settings}: {'hooks updated for ' + str(changes) + ' events' if changes else 'already up to date'}")
    return 0


def _ledger() -> tuple[Any, str]:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    url = resolve_postgres_url()
    conn = connect(url)
    migrate(conn)
    conn.commit()
    return conn, url


def _import(args: argparse.Namespace) -> int:
    from ssot_pipelines.sessions.transcripts import default_roots, idle_seconds, import_paths

    paths = args.paths or default_roots()
    try:
        idle_seconds()  # a bad SSOT_TRANSCRIPT_IDLE_SECONDS is named before anything is read
        conn, _ = _ledger()
    except ConfigurationError as exc:
        print(f"ssot import: {exc}", file=sys.stderr)
        return 2
    with conn:
        report = import_paths(conn, paths, allow_outside_roots=args.allow_outside_roots)
    print(report.summary())
    if report.refused and args.paths:
        print(
            f"ssot import: {len(report.refused)} paths refused unread (see above); add their folder to "
            "SSOT_TRANSCRIPT_ROOTS or pass --allow-outside-roots",
            file=sys.stderr,
        )
        return 1
    return 0


def recall_layer(conn: Any, postgres_url: str) -> tuple[Any, Any]:
    """The vector store (Pinecone when PINECONE_API_KEY is set, else pgvector) and the cached embedder."""
    from ssot_pipelines.settings import env
    from ssot_pipelines.vectors import CachedEmbedder, embedder_from_env

    api_key = env("PINECONE_API_KEY")
    if api_key:
        from ssot_pipelines.vectors.pinecone_store import PineconeStore

        store: Any = PineconeStore(api_key, env("PINECONE_INDEX", "ssot") or "ssot", env("PINECONE_HOST"))
    else:
        from ssot_pipelines.vectors.pgvector_store import PgVectorStore

        store = PgVectorStore(postgres_url)
    return store, CachedEmbedder(embedder_from_env(), conn)


def _worker(args: argparse.Namespace) -> int:
    from ssot_pipelines.ledger import connect
    from ssot_pipelines.services.redis_url import resolve_redis_url
    from ssot_pipelines.sessions.transcripts import idle_seconds
    from ssot_pipelines.sessions.worker import WorkerConfig, run_forever

    try:
        idle_seconds()
        conn, url = _ledger()
        redis_url = resolve_redis_url()
    except ConfigurationError as exc:
        print(f"ssot worker: {exc}", file=sys.stderr)
        return 2
    if args.redrive_quarantine or args.show_quarantine:
        with conn:
            return _quarantine(conn, redrive=args.redrive_quarantine)
    conn.close()
    from ssot_pipelines.sessions.transcripts import default_roots

    cfg = WorkerConfig(
        postgres_url=url,
        redis_url=redis_url,
        recall=not args.no_recall,
        interval_seconds=args.interval,
        tail_roots=[] if args.no_tail else default_roots(),
    )

    layer: list[tuple[Any, Any]] = []

    def vectors() -> tuple[Any, Any]:
        if not layer:  # built once, on first use, and reused by every pass
            layer.append(recall_layer(connect(url, autocommit=True), url))
        return layer[0]

    return run_forever(cfg, vectors=vectors, passes=1 if args.once else None)


def _quarantine(conn: Any, *, redrive: bool) -> int:
    from ssot_pipelines.sessions import store
    from ssot_pipelines.sessions.worker import redrive_quarantine

    if redrive:
        print(redrive_quarantine(conn).summary())
        return 0
    rows = store.quarantined_events(conn)
    for row in rows:
        print(
            f"#{row['quarantine_id']}  {row['quarantined_at']:%Y-%m-%d %H:%M:%S}  {row['source']}  {row['origin']}"
            f"  {len(row['raw'])} bytes  attempts {row['attempts']}: {row['reason']}"
        )
    print(f"{len(rows)} events in quarantine")
    return 0


def _active(as_json: bool) -> int:
    from datetime import UTC, datetime

    import redis

    from ssot_pipelines.services.redis_url import resolve_redis_url
    from ssot_pipelines.sessions.live import active_sessions

    try:
        found = active_sessions(redis.Redis.from_url(resolve_redis_url(), socket_timeout=5))
    except (ConfigurationError, redis.RedisError) as exc:
        print(
            f"ssot context: Redis is not available ({type(exc).__name__}); give a session id instead", file=sys.stderr
        )
        return 2
    rows = [{"session_id": sid, "last_event_at": datetime.fromtimestamp(ts, UTC).isoformat()} for sid, ts in found]
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no session had an event in the last 24 hours")
    for row in rows if not as_json else []:
        print(f"{row['session_id']}  last event {row['last_event_at']}")
    return 0


def _context(args: argparse.Namespace) -> int:
    from ssot_pipelines.sessions.bridge import context_pack

    if args.task is not None:
        from ssot_pipelines.tasks.cli import print_task_context

        return print_task_context(args.task, as_json=args.json)
    if not args.session:
        return _active(args.json)

    from ssot_pipelines.slack.bridge import linked_conversations

    conn, _ = _ledger()
    with conn:
        pack = context_pack(conn, args.session)
        slack = linked_conversations(conn, pack.session_id) if pack else ""
    if pack is None:
        print(
            f"ssot context: no session {args.session!r} in the ledger (run `ssot worker --once` or "
            "`ssot import` first)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps({**json.loads(pack.as_json()), "slack_conversations": slack}, ensure_ascii=False, indent=2))
    else:
        print(pack.as_markdown() + ("\n" + slack if slack else ""), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m ssot_pipelines.sessions.cli``) until the ``ssot`` command wires these in."""
    parser = argparse.ArgumentParser(prog="ssot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
