"""The ``ssot`` command: what Dagster does not cover (setup, verify, schemas, and each capability's own)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import ConfigurationError, env, load_env_file

# Each module exposes register(subparsers); imported when the command runs, so `ssot --help` stays fast.
CAPABILITY_COMMANDS = (
    "ssot_pipelines.sandbox.cli",
    "ssot_pipelines.catalog.cli",
    "ssot_pipelines.sessions.cli",
    "ssot_pipelines.analysis.cli",
    "ssot_pipelines.drift.cli",
    "ssot_pipelines.slack.cli",
    "ssot_pipelines.deploy.cli",
    "ssot_pipelines.tasks.cli",
)


def _setup(args: argparse.Namespace) -> int:
    from ssot_pipelines.notion.setup import open_sync_manager

    manager = open_sync_manager(provision_databases=True)
    try:
        print(f"Notion at {manager.gateway.base_url}: {manager.provisioned.summary()}")
        for name, ids in sorted(manager.ids.items()):
            print(f"  {name:22} database {ids.database_id}  data source {ids.data_source_id}")
        if args.schemas:
            _write_schemas(Path(args.schemas))
    finally:
        manager.close()
    return 0


def _write_schemas(out: Path) -> None:
    from ssot_pipelines.schemas import ALL_DATABASES

    out.mkdir(parents=True, exist_ok=True)
    for schema in ALL_DATABASES:
        (out / f"{schema.name}.json").write_text(json.dumps(schema.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(ALL_DATABASES)} schema files to {out}")


def _schemas(args: argparse.Namespace) -> int:
    _write_schemas(Path(args.out))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ssot_pipelines.notion.setup import open_sync_manager
    from ssot_pipelines.notion.verify import verify_database
    from ssot_pipelines.schemas import DATABASES

    manager = open_sync_manager()
    failures = 0
    try:
        names = args.database or sorted(DATABASES)
        for name in names:
            result = verify_database(manager, name)
            failures += 0 if result.ok else 1
            print(result.summary())
            for problem in result.problems[: args.show]:
                print(f"    {problem}")
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
        + f"; run `dagster asset materialize -m ssot_pipelines.definitions --select {result.database}` to sync"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = [
        ("Notion", "real workspace (NOTION_TOKEN)" if env("NOTION_TOKEN") else "local sandbox"),
        ("Ledger PostgreSQL", "POSTGRES_URL" if env("POSTGRES_URL") else "embedded PostgreSQL"),
        ("Redis", "REDIS_URL" if env("REDIS_URL") else "embedded Redis"),
        ("Vectors", "Pinecone (PINECONE_API_KEY)" if env("PINECONE_API_KEY") else "pgvector in the ledger"),
        ("Dagster instance", "PostgreSQL (DAGSTER_PG_URL)" if env("DAGSTER_PG_URL") else "local SQLite"),
        ("Notifications", "Slack webhook" if env("SLACK_WEBHOOK_URL") else "Dagster log"),
    ]
    for part, where in rows:
        print(f"{part:18} {where}")
    return 0


def build_parser(capabilities: Sequence[str] = CAPABILITY_COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssot", description="Notion as the single source of truth: setup and tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    setup = sub.add_parser("setup", help="provision the seven Notion databases (idempotent)")
    setup.add_argument("--schemas", metavar="DIR", help="also export the schemas as JSON into DIR")
    setup.set_defaults(func=_setup)
    schemas = sub.add_parser("schemas", help="export the database schemas as JSON (documentation)")
    schemas.add_argument("--out", default="docs/schemas", help="output directory (default: docs/schemas)")
    schemas.set_defaults(func=_schemas)
    verify = sub.add_parser("verify", help="check that Notion equals the ledger, database by database")
    verify.add_argument("database", nargs="*", help="databases to check (default: all seven)")
    verify.add_argument("--show", type=int, default=10, help="problems to print per database")
    verify.set_defaults(func=_verify)
    stage = sub.add_parser("stage", help="stage records for a database from a .jsonl, .json or .csv file")
    stage.add_argument("database", help="e.g. task_tracking or slack_conversations")
    stage.add_argument("file", help="records: 'key', property values by Notion name, optional 'body', 'priority'")
    stage.add_argument("--replace", action="store_true", help="withdraw staged records missing from the file")
    stage.set_defaults(func=_stage)
    status = sub.add_parser("status", help="which services are configured and which are embedded")
    status.set_defaults(func=_status)
    for module_name in capabilities:
        module: Any = importlib.import_module(module_name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    load_env_file()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"ssot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
