"""``ssot drift``: score drift, accept baselines, show the scores."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ssot_pipelines.settings import ConfigurationError

# Each command imports the scoring code when it runs (it needs pandas and psycopg); `ssot --help` does not.
if TYPE_CHECKING:
    from ssot_pipelines.drift.baseline import Conn


def _ledger() -> Conn:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    conn = connect(resolve_postgres_url())
    migrate(conn)
    conn.commit()
    return conn


def _embedder(conn: Conn) -> Any:
    from ssot_pipelines.drift.workspace import cached_embedder
    from ssot_pipelines.vectors.embedder import embedder_from_env

    return cached_embedder(embedder_from_env(), conn)


def cmd_score(args: argparse.Namespace) -> int:
    from ssot_pipelines.drift.assess import assess_drift
    from ssot_pipelines.drift.score import DriftThresholds
    from ssot_pipelines.drift.workspace import open_workspace

    conn = _ledger()
    try:
        workspace = open_workspace(conn)
        result = assess_drift(conn, workspace.files, workspace.components, _embedder(conn), DriftThresholds.from_env())
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        conn.close()
    print(
        f"drift analysis {result.analysis_id}: {result.scored} files scored in {result.seconds:.1f}s "
        f"({result.new_baselines} new baselines, {len(result.unreadable)} unreadable); "
        f"bands: {dict(result.bands)}"
    )
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from ssot_pipelines.drift.assess import accept_current_state
    from ssot_pipelines.drift.workspace import open_workspace

    if not (args.paths or args.component or args.all):
        print("name the files to accept: PATH..., --component NAME or --all", file=sys.stderr)
        return 2
    conn = _ledger()
    try:
        workspace = open_workspace(conn)
        files = workspace.select(args.paths, args.component, args.all)
        if not files:
            print(
                "no tracked file matches; paths are catalog keys (repo/path), repo-relative paths or files on disk",
                file=sys.stderr,
            )
            return 1
        accepted = accept_current_state(conn, files, workspace.components, _embedder(conn), by="cli")
    finally:
        conn.close()
    print(f"accepted the current state of {accepted} file(s) as their baseline; their drift score is now 0")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ssot_pipelines.drift.records import latest_scores

    conn = _ledger()
    try:
        rows = latest_scores(conn)
    finally:
        conn.close()
    rows.sort(key=lambda r: -float(r["drift_score"]))
    for r in rows[: args.limit]:
        print(f"{r['drift_score']:.3f} {r['band']:<9} {r['file_key']}")
        if args.explain:
            print("    " + r["explanation"].replace("\n", "\n    "))
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssot drift {score,accept,show}``."""
    drift = subparsers.add_parser("drift", help="drift of files from their baseline and spec")
    commands = drift.add_subparsers(dest="drift_command", required=True)
    score = commands.add_parser("score", help="score every tracked file now")
    score.set_defaults(func=cmd_score)
    accept = commands.add_parser("accept", help="accept files' current state as their baseline")
    accept.add_argument("paths", nargs="*", help="catalog keys, repo-relative paths or files on disk")
    accept.add_argument("--component", default=None, help="accept every file of this component")
    accept.add_argument("--all", action="store_true", help="accept every tracked file")
    accept.set_defaults(func=cmd_accept)
    show = commands.add_parser("show", help="the latest scores, highest first")
    show.add_argument("--limit", type=int, default=30, help="files to show (default 30)")
    show.add_argument("--explain", action="store_true", help="print each score's explanation")
    show.set_defaults(func=cmd_show)
