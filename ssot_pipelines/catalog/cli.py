"""``ssot catalog``: scan the repositories (dry run), sync the File Catalog, check the component map."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ssot_pipelines.catalog.config import load_catalog_config


def _print_counts(counts: dict[str, Any]) -> None:
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def cmd_scan(args: argparse.Namespace) -> int:
    """Walk and hash what changed against the ledger, print what a sync would do; write nothing."""
    from ssot_pipelines.catalog.refresh import refresh_catalog
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    config = load_catalog_config()
    conn = connect(resolve_postgres_url())
    try:
        migrate(conn)
        conn.commit()
        result = refresh_catalog(conn, config, full=args.full, paths=args.paths or (), dry_run=True)
    finally:
        conn.close()
    print(f"catalog scan of {', '.join(f'{r.name}={r.path}' for r in config.roots)} (dry run, nothing written):")
    _print_counts(result.counts())
    if args.list:
        for label, keys in (
            ("added", [e.key for e in result.added]),
            ("changed", [e.key for e in result.changed]),
            ("deleted", result.deleted),
        ):
            for key in keys:
                print(f"  {label:8} {key}")
        for rename in result.renamed:
            print(f"  renamed  {rename.old_key} -> {rename.entry.key} ({rename.detected_by})")
    for problem in result.problems[: args.show]:
        print(f"  problem: {problem.message}", file=sys.stderr)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Refresh the ledger and sync the File Catalog into Notion (outside Dagster)."""
    import redis

    from ssot_pipelines.catalog.extract import build_catalog_records
    from ssot_pipelines.notion.setup import open_sync_manager, resolve_redis_url

    config = load_catalog_config()
    # one sync per Notion target and database: a second `ssot catalog sync` waits for the first
    with (
        open_sync_manager(provision_databases=True if args.full else None) as manager,
        redis.Redis.from_url(resolve_redis_url(), socket_timeout=5) as client,
        manager.serialized("file_catalog", print),
    ):
        frame, result = build_catalog_records(
            manager.conn, config, full=args.full, paths=args.paths, redis_client=client
        )
        report = manager.sync(
            "file_catalog", frame, force_archive=args.force_archive, reconcile=args.full, progress=print
        )
        _refresh_status_page(manager, full=args.full)
    print(f"catalog {result.mode}:")
    _print_counts(result.counts())
    print("  " + report.summary())
    for problem in result.problems[: args.show]:
        print(f"  problem: {problem.message}", file=sys.stderr)
    for error in report.errors[: args.show]:
        print(f"  notion: {error}", file=sys.stderr)
    return 1 if report.failed or report.archive_refused else 0


def _refresh_status_page(manager: Any, *, full: bool) -> None:
    """The SSoT Status page follows every sync, from Dagster or from here (a failure there is only said)."""
    from ssot_pipelines.statuspage.page import refresh_status_page

    try:
        update = refresh_status_page(manager, full_sync=full)
    except Exception as exc:  # the catalog is synced; the page catches up on the next run
        manager.conn.rollback()
        print(f"  the SSoT Status page was not updated: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    print("  " + update.summary())


def cmd_component(args: argparse.Namespace) -> int:
    """Print the component each path maps to (checks ssot_components.toml / SSOT_COMPONENTS)."""
    config = load_catalog_config()
    print(f"component rules from: {config.components.source}")
    repo = args.repo or (config.roots[0].name if len(config.roots) == 1 else None)
    for path in args.path:
        print(f"  {path}: {config.components.component_for(path, repo) or '(none)'}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssot catalog scan|sync|component``."""
    catalog = subparsers.add_parser("catalog", help="the File Catalog: scan repositories, sync them to Notion")
    sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)

    scan = sub.add_parser("scan", help="dry run: what changed since the last sync (counts; --list for paths)")
    scan.add_argument("--full", action="store_true", help="as the daily full sync would see it")
    scan.add_argument("--list", action="store_true", help="print every added/changed/renamed/deleted path")
    scan.add_argument("paths", nargs="*", help="only these paths (catalog keys, absolute or repo-relative)")
    scan.set_defaults(func=cmd_scan)

    sync = sub.add_parser("sync", help="scan and sync the File Catalog into Notion now")
    sync.add_argument("--full", action="store_true", help="rescan everything and reconcile Notion")
    sync.add_argument(
        "--force-archive", action="store_true", help="allow archiving more than half of the catalog in one run"
    )
    sync.add_argument("paths", nargs="*", help="only these paths (catalog keys, absolute or repo-relative)")
    sync.set_defaults(func=cmd_sync)

    component = sub.add_parser("component", help="show the component each path belongs to")
    component.add_argument("path", nargs="+", help="repo-relative paths")
    component.add_argument("--repo", help="repository name (when there are several roots)")
    component.set_defaults(func=cmd_component)

    for parser in (scan, sync):
        parser.add_argument("--show", type=int, default=20, help="problems to print (default 20)")
