"""The ``ssot`` command: what Dagster does not cover (setup, verify, schemas, status, and each capability's own).

Agents call this command often, so building the parser imports neither Dagster nor pandas: every command
imports what it needs when it runs, and the capability modules keep their top-level imports light.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import ConfigurationError, load_env_file

# Capability commands: the module whose register(subparsers) adds them, and their one-line help. Only the
# module of the command being run is imported, so `ssot --help` and every command stay fast; a test checks
# that this table matches what the modules register.
CAPABILITY_COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("ssot_pipelines.sandbox.cli", "run the local Notion sandbox (Notion-API compatible)"),
    "catalog": ("ssot_pipelines.catalog.cli", "the File Catalog: scan repositories, sync them to Notion"),
    "hooks": ("ssot_pipelines.sessions.cli", "the Claude Code hook configuration for ssot-hook"),
    "import": ("ssot_pipelines.sessions.cli", "import Claude Code transcripts and Codex rollouts into the ledger"),
    "worker": ("ssot_pipelines.sessions.cli", "drain the hook journal into PostgreSQL, Redis and vectors"),
    "context": ("ssot_pipelines.sessions.cli", "the context pack of a session (for a next session or agent)"),
    "search": ("ssot_pipelines.search.cli", "search sessions, Slack, files, findings and tasks at once"),
    "analyze": ("ssot_pipelines.analysis.cli", "static-analysis findings into Tech-Debt"),
    "drift": ("ssot_pipelines.drift.cli", "drift of files from their baseline and spec"),
    "slack": ("ssot_pipelines.slack.cli", "Slack conversations: import, live events, bridge to CLI sessions"),
    "celery": ("ssot_pipelines.deploy.cli", "run steps on Celery workers (with SSOT_EXECUTOR=celery)"),
    "task": ("ssot_pipelines.tasks.cli", "the agents' work graph: add, claim, complete tasks"),
    "mcp": ("ssot_pipelines.tasks.cli", "run the stdio MCP server (search, context, task_* tools)"),
    "statuspage": ("ssot_pipelines.statuspage.cli", "refresh the SSoT Status page in Notion (read back, repaired)"),
    "notion": ("ssot_pipelines.webhooks.cli", "Notion webhooks: people's edits reach the ledger in seconds"),
}


def _setup(args: argparse.Namespace) -> int:
    from ssot_pipelines.dashboards.provision import provision_views
    from ssot_pipelines.notion.setup import open_sync_manager

    manager = open_sync_manager(provision_databases=True)
    try:
        print(f"Notion at {manager.gateway.base_url}: {manager.provisioned.summary()}")
        for name, ids in sorted(manager.ids.items()):
            print(f"  {name:22} database {ids.database_id}  data source {ids.data_source_id}")
        views = provision_views(
            manager.gateway, manager.conn, manager.target, manager.ids, fresh_databases=manager.provisioned.created
        )
        print(views.summary())
        for title in views.restored:
            print(f"  restored {title} (it had been deleted in Notion)")
        for title, error in views.failed.items():
            print(f"  FAILED {title}: {error}")
        if args.schemas:
            _write_schemas(Path(args.schemas))
    finally:
        manager.close()
    return 1 if views.failed else 0


def _write_schemas(out: Path) -> None:
    from ssot_pipelines.schemas import ALL_DATABASES

    out.mkdir(parents=True, exist_ok=True)
    changed = 0
    for schema in ALL_DATABASES:
        path = out / f"{schema.name}.json"
        text = json.dumps(schema.to_json(), indent=2) + "\n"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed += 1
    print(f"wrote {len(ALL_DATABASES)} schema files to {out} ({changed} changed)")


def _schemas(args: argparse.Namespace) -> int:
    _write_schemas(Path(args.out))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ssot_pipelines.dashboards.verify import check_views
    from ssot_pipelines.notion.audits import record_audit
    from ssot_pipelines.notion.setup import open_sync_manager
    from ssot_pipelines.notion.verify import verify_database
    from ssot_pipelines.schemas import DATABASES

    names = args.database or sorted(DATABASES)
    unknown = sorted(set(names) - set(DATABASES))
    if unknown:
        print(f"ssot verify: unknown database(s) {unknown}; known: {sorted(DATABASES)}", file=sys.stderr)
        return 2
    manager = open_sync_manager()
    failures = 0
    try:
        results = {name: verify_database(manager, name) for name in names}
        live = {name: r.property_ids for name, r in results.items() if r.property_ids}
        views = check_views(manager.gateway, manager.conn, manager.target, manager.ids, names, live)
        manager.conn.commit()
        for name, result in results.items():
            result.add_view_problems(views.get(name, []))
            failures += 0 if result.ok else 1
            record_audit(manager.conn, manager.target, name, ok=result.ok, summary=result.summary().strip())
            manager.conn.commit()
            print(result.summary())
            for problem in result.problems[: args.show]:
                print(f"    {problem}")
            if len(result.problems) > args.show:
                print(f"    ... and {len(result.problems) - args.show} more (--show N lists more)")
    finally:
        manager.close()
    return 1 if failures else 0


def _stage(args: argparse.Namespace) -> int:
    import psycopg

    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url
    from ssot_pipelines.ledger.staging import StagingError, read_records, stage_records, stageable_database

    try:
        stageable_database(args.database)  # before the ledger starts: a typo is told at once
        records = read_records(Path(args.file))
        with connect(resolve_postgres_url()) as conn:
            migrate(conn)
            conn.commit()
            result = stage_records(conn, args.database, records, replace=args.replace)
    except StagingError as exc:
        print(f"ssot stage: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:  # validation should have caught it; the transaction rolled back
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"ssot stage: the ledger refused {args.file} ({first}); nothing was staged", file=sys.stderr)
        return 1
    print(
        f"staged {result.staged} {result.database} records"
        + (f", withdrew {result.withdrawn}" if args.replace else "")
        + (f"; refused {len(result.refused)}: {'; '.join(result.refused[:3])}" if result.refused else "")
        + f"; run `dagster asset materialize -m ssot_pipelines.definitions --select {result.database}` to sync"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from ssot_pipelines.services.status import service_status

    parts = service_status()
    if args.json:
        print(json.dumps([p.as_dict() for p in parts], indent=2))
        return 0
    for part in parts:
        print(part.line())
    return 0


def _stop(args: argparse.Namespace) -> int:
    from ssot_pipelines.services.embedded import stop_embedded_postgres, stop_embedded_redis, stop_embedded_sandbox
    from ssot_pipelines.settings import ssot_home

    home = ssot_home()
    print(f"stopping the embedded services of SSOT_HOME={home} (their data is kept)")
    pg = stop_embedded_postgres(home / "postgres")
    print(f"  PostgreSQL      {f'stopped (pid {pg})' if pg else 'was not running'}")
    rd = stop_embedded_redis(home / "redis")
    print(f"  Redis           {f'stopped (pid {rd})' if rd else 'was not running'}")
    sandboxes = stop_embedded_sandbox(home)
    shown = ", ".join(str(p) for p in sandboxes)
    print(f"  Notion sandbox  {f'stopped (pid {shown})' if sandboxes else 'was not running'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ssot_pipelines.run_console import run_job

    config = json.loads(args.config_json) if args.config_json else None
    return run_job(args.job, run_config=config, show_debug=args.debug)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``ssot`` parser; only ``command``'s capability module is imported (all of them for an unknown one)."""
    parser = argparse.ArgumentParser(prog="ssot", description="Notion as the single source of truth: setup and tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    setup = sub.add_parser("setup", help="provision the seven Notion databases (idempotent)")
    setup.add_argument("--schemas", metavar="DIR", help="also export the schemas as JSON into DIR")
    setup.set_defaults(func=_setup)
    schemas = sub.add_parser("schemas", help="export the database schemas as JSON (documentation)")
    schemas.add_argument("--out", default="docs/schemas", help="output directory (default: docs/schemas)")
    schemas.set_defaults(func=_schemas)
    verify = sub.add_parser(
        "verify",
        help="check Notion against the ledger, database by database: records, schema, the project's views; "
        "exits 1 on any difference",
    )
    verify.add_argument("database", nargs="*", help="databases to check (default: all seven)")
    verify.add_argument("--show", type=int, default=10, help="problems to print per database (default 10)")
    verify.set_defaults(func=_verify)
    stage = sub.add_parser("stage", help="stage records for a database from a .jsonl, .json or .csv file")
    stage.add_argument("database", help="e.g. task_tracking or file_catalog")
    stage.add_argument("file", help="records: 'key', property values by Notion name, optional 'body', 'priority'")
    stage.add_argument("--replace", action="store_true", help="withdraw staged records missing from the file")
    stage.set_defaults(func=_stage)
    status = sub.add_parser(
        "status", help="each service: embedded or configured, where, running or not (pid), the sandbox view's URL"
    )
    status.add_argument("--json", action="store_true", help="print the same as JSON")
    status.set_defaults(func=_status)
    stop = sub.add_parser("stop", help="stop the embedded PostgreSQL, Redis and Notion sandbox of this SSOT_HOME")
    stop.set_defaults(func=_stop)
    run = sub.add_parser(
        "run", help="run a Dagster job on the persistent instance, showing progress and failures as they happen"
    )
    run.add_argument("job", help="e.g. full_sync_job or incremental_sync_job")
    run.add_argument("--config-json", default=None, help="run config as JSON, as for `dagster job execute`")
    run.add_argument("--debug", action="store_true", help="show Dagster's DEBUG event stream too")
    run.set_defaults(func=_run)
    builtin = set(sub.choices)
    if command in builtin or command is None:
        wanted: list[str] = []
    elif command in CAPABILITY_COMMANDS:
        wanted = [CAPABILITY_COMMANDS[command][0]]
    else:  # not in the table: load every module, so a command added to one is never refused
        wanted = list(dict.fromkeys(module for module, _ in CAPABILITY_COMMANDS.values()))
    for module_name in wanted:
        module: Any = importlib.import_module(module_name)
        module.register(sub)
    for name, (_, help_text) in CAPABILITY_COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    load_env_file()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_word(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"ssot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
