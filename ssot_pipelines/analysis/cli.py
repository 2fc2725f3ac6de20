"""``ssot analyze``: import reports, run the configured linters, show what is tracked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssot_pipelines.analysis.importers import FORMAT_NAMES
from ssot_pipelines.settings import ConfigurationError

# Imported by each command when it runs: the store needs psycopg and the repository root lives with the
# Dagster sensor; `ssot --help` and the other commands need neither.
if TYPE_CHECKING:
    from ssot_pipelines.analysis.runner import LinterRun
    from ssot_pipelines.analysis.store import Conn, ImportSummary


def _ledger() -> Conn:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    conn = connect(resolve_postgres_url())
    migrate(conn)
    conn.commit()
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _print_summary(label: str, summary: ImportSummary) -> None:
    for tool, counts in summary.counts.items():
        print(f"{label} [{tool}]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for note in summary.notes:
        print(f"  note: {note}")


def _repo_root(args: argparse.Namespace) -> Path | None:
    from ssot_pipelines.analysis.sensors import analysis_repo_root

    return Path(args.repo_root).resolve() if args.repo_root else analysis_repo_root()


def cmd_import(args: argparse.Namespace) -> int:
    import psycopg

    from ssot_pipelines.analysis.importers import ReportFormatError
    from ssot_pipelines.analysis.ingest import import_report_file

    conn = _ledger()
    failures = 0
    try:
        for report in args.reports:
            if not Path(report).is_file():
                print(f"cannot import analysis report {report}: no such file; check the path", file=sys.stderr)
                failures += 1
                continue
            try:
                summary = import_report_file(
                    conn,
                    Path(report),
                    repo_root=_repo_root(args),
                    report_format=args.format,
                    whole_repository=args.whole_repository,
                )
            except ReportFormatError as exc:
                print(str(exc), file=sys.stderr)
                failures += 1
                continue
            except (OSError, psycopg.Error) as exc:  # unreadable file, or a value the ledger refused
                conn.rollback()
                print(
                    f"cannot import analysis report {report}: {_first_line(exc)}; nothing from it was recorded",
                    file=sys.stderr,
                )
                failures += 1
                continue
            _print_summary(report, summary)
    finally:
        conn.close()
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    import psycopg

    from ssot_pipelines.analysis.importers import ReportFormatError
    from ssot_pipelines.analysis.runner import available_tools, configured_tools, parse_tools
    from ssot_pipelines.analysis.store import record_report

    root = _repo_root(args)
    if root is None:
        print("no repository to analyse: pass --repo-root or set SSOT_REPO_ROOTS", file=sys.stderr)
        return 2
    if not root.is_dir():
        print(f"--repo-root {root} is not a directory; pass the repository's top folder", file=sys.stderr)
        return 2
    try:
        wanted = parse_tools(args.tools, "--tools") if args.tools else configured_tools()
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    tools = available_tools(wanted)
    for missing in sorted(set(wanted) - set(tools)):
        print(f"{missing} is not installed; skipped", file=sys.stderr)
    failures = 0
    conn = _ledger()
    try:
        for tool in tools:
            try:
                run = _analyse(tool, root, isolated_config=args.isolated_config)
            except (RuntimeError, OSError, ReportFormatError) as exc:
                print(f"{tool} failed, nothing from it was recorded: {exc}", file=sys.stderr)
                failures += 1
                continue
            try:
                summary = record_report(
                    conn, run.report, repo_root=root, source=f"ssot analyze run ({tool})", analyzed_paths=run.analyzed
                )
            except psycopg.Error as exc:
                conn.rollback()
                print(
                    f"{tool}: the ledger refused its findings ({_first_line(exc)}); nothing from it was recorded",
                    file=sys.stderr,
                )
                failures += 1
                continue
            conn.commit()
            _print_summary(f"{tool} on {len(run.analyzed)} files", summary)
    finally:
        conn.close()
    return 1 if failures else 0


def _analyse(tool: str, root: Path, *, isolated_config: bool) -> LinterRun:
    """One analyzer's run: the built-in markers scan or an external linter on the Python files."""
    from ssot_pipelines.analysis.markers import marker_findings
    from ssot_pipelines.analysis.runner import MARKERS, LinterRun, python_files, repository_files, run_linter

    if tool == MARKERS:
        report = marker_findings(root, repository_files(root, tracked_only=True))
        return LinterRun(tool, report, sorted(report.analyzed_paths), 0)
    return run_linter(tool, root, python_files(root), isolated_config=isolated_config)


def cmd_status(args: argparse.Namespace) -> int:
    conn = _ledger()
    try:
        rows: list[dict[str, Any]] = conn.execute(
            "SELECT tool, status, severity, count(*) AS n FROM analysis_issues GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        conn.close()
    if not rows:
        print("no issues recorded yet")
    for r in rows:
        print(f"{r['tool']:<12} {r['status']:<9} {r['severity']:<9} {r['n']}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``ssot analyze {import,run,status}``."""
    analyze = subparsers.add_parser("analyze", help="static-analysis findings into Tech-Debt")
    commands = analyze.add_subparsers(dest="analyze_command", required=True)

    importing = commands.add_parser("import", help="import linter reports (format detected unless --format)")
    importing.add_argument("reports", nargs="+", help="report files")
    importing.add_argument(
        "--format",
        choices=FORMAT_NAMES,
        default=None,
        help="the reports' format (default: detected from their content)",
    )
    importing.add_argument("--repo-root", default=None, help="repository the report's paths refer to")
    importing.add_argument(
        "--whole-repository",
        action="store_true",
        help="the tool analysed every file: issues missing from the report are fixed",
    )
    importing.set_defaults(func=cmd_import)

    running = commands.add_parser(
        "run", help="run ruff/pylint/mypy and the built-in markers scan (SSOT_ANALYSIS_TOOLS), import the results"
    )
    running.add_argument(
        "--repo-root", default=None, help="repository to analyse (default: SSOT_ANALYSIS_REPO_ROOT or SSOT_REPO_ROOTS)"
    )
    running.add_argument("--tools", default=None, help="comma-separated, e.g. ruff,pylint,markers")
    running.add_argument(
        "--isolated-config",
        action="store_true",
        help="ignore the repository's linter configuration files (they can load plugins and run code, e.g. "
        "pylint's init-hook): ruff --isolated, pylint with an empty rcfile, mypy with no config file",
    )
    running.set_defaults(func=cmd_run)

    status = commands.add_parser("status", help="issues by tool, status and severity")
    status.set_defaults(func=cmd_status)
