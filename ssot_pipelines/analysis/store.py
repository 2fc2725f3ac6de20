"""The ledger side of analyses: record a validated report in one transaction, read issues back."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.analysis.findings import Finding, ParsedReport
from ssot_pipelines.analysis.lifecycle import AnalysisScope, LifecyclePlan, plan_lifecycle
from ssot_pipelines.analysis.matching import KnownIssue
from ssot_pipelines.analysis.normalize import Normalizer

REOPEN_WINDOW = timedelta(days=30)  # Sonar purges closed issues after 30 days; older ones cannot reopen

Conn = psycopg.Connection[dict[str, Any]]


@dataclass
class ImportSummary:
    """What one import did, per tool."""

    report_format: str
    run_ids: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(c.get(what, 0) for c in self.counts.values())


def record_report(
    conn: Conn,
    report: ParsedReport,
    *,
    repo_root: Path | None,
    source: str,
    repo: str | None = None,
    source_sha256: str | None = None,
    analyzed_paths: Sequence[str] | None = None,
    whole_repository: bool = False,
    now: datetime | None = None,
) -> ImportSummary:
    """Normalize, match and record ``report``: all of it in one transaction, or nothing.

    The scope (files the tool looked at) is ``analyzed_paths`` when given, the whole repository when
    ``whole_repository``, else the files the report itself names. ``repo`` is the File Catalog's name
    for the repository (default: the catalog's name for ``repo_root``, else its directory name).
    """
    now = now or datetime.now(UTC)
    repo = repo if repo is not None else repository_name(repo_root)
    normalizer = Normalizer(repo_root)
    findings = normalizer.normalize_all(report.findings)
    declared = {normalizer.path(p) for p in (analyzed_paths if analyzed_paths is not None else report.analyzed_paths)}
    by_tool: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_tool[finding.tool].append(finding)
    tools = sorted(by_tool) or [_tool_of_empty_report(report.report_format)]
    summary = ImportSummary(report.report_format, notes=list(report.notes))

    def exists(path: str) -> bool:
        return repo_root is None or (repo_root / path).exists()

    with conn.transaction():
        for tool in tools:
            tool_findings = by_tool.get(tool, [])
            if report.partial:
                scope = AnalysisScope(frozenset())
            elif whole_repository:
                scope = AnalysisScope.whole_repository()
            else:
                scope = AnalysisScope(frozenset(declared | {f.path for f in tool_findings}))
            lookup = AnalysisScope(frozenset({f.path for f in tool_findings})) if report.partial else scope
            known = load_known_issues(conn, repo, tool, lookup, now)
            plan = plan_lifecycle(tool_findings, known, scope, exists)
            run_id = _insert_run(
                conn, repo, tool, report.report_format, source, source_sha256, scope, len(tool_findings), plan
            )
            _apply(conn, repo, plan, run_id, now)
            summary.run_ids[tool] = run_id
            summary.counts[tool] = plan.counts()
    return summary


def _tool_of_empty_report(report_format: str) -> str:
    return report_format.split()[0].lower()


def repository_name(repo_root: Path | None) -> str:
    """The File Catalog's name for ``repo_root`` (``SSOT_REPO_ROOTS``), else the directory's name."""
    if repo_root is None:
        return ""
    resolved = repo_root.resolve()
    try:
        from ssot_pipelines.catalog.config import parse_roots
        from ssot_pipelines.settings import env

        for root in parse_roots(env("SSOT_REPO_ROOTS")):
            if root.path == resolved:
                return root.name
    except ImportError:  # the catalog package is optional for importing reports
        pass
    return resolved.name


def load_known_issues(conn: Conn, repo: str, tool: str, scope: AnalysisScope, now: datetime) -> list[KnownIssue]:
    """Open and reopened issues of ``tool`` in ``scope``, and those fixed recently enough to reopen.

    Issues of a file the File Catalog saw renamed are loaded under the new path, so they follow the file.
    """
    renamed = renamed_paths(conn, repo)
    query = (
        "SELECT issue_id::text, rule, path, line, line_hash, block_hash, message_norm, scope, external_id,"
        " fingerprints, status, updated_at FROM analysis_issues WHERE repo = %s AND tool = %s"
        " AND (status IN ('open', 'reopened') OR fixed_at >= %s)"
    )
    params: list[Any] = [repo, tool, now - REOPEN_WINDOW]
    if scope.paths is not None:
        former = {old for old, new in renamed.items() if new in scope.paths}
        query += " AND path = ANY(%s)"
        params.append(sorted(scope.paths | former))
    rows = conn.execute(query, params).fetchall()
    return [
        KnownIssue(
            issue_id=r["issue_id"],
            rule=r["rule"],
            path=_current_path(renamed, r["path"]),
            line=r["line"],
            line_hash=r["line_hash"],
            block_hash=r["block_hash"],
            message_norm=r["message_norm"],
            scope=r["scope"],
            external_id=r["external_id"],
            fingerprints=r["fingerprints"] or {},
            status=r["status"],
            updated_at=r["updated_at"],
        )
        for r in rows
    ]


def _current_path(renamed: dict[str, str], path: str) -> str:
    return renamed.get(path, path)


def renamed_paths(conn: Conn, repo: str) -> dict[str, str]:
    """Old repo-relative path → the path the file has now, from the File Catalog's rename history."""
    prefix = f"{repo}/"
    rows = conn.execute("SELECT old_key, new_key FROM catalog_renames WHERE repo = %s ORDER BY id", (repo,)).fetchall()
    moves = {
        r["old_key"].removeprefix(prefix): r["new_key"].removeprefix(prefix)
        for r in rows
        if r["old_key"].startswith(prefix) and r["new_key"].startswith(prefix)
    }
    final: dict[str, str] = {}
    for old in moves:
        current, seen = moves[old], {old}
        while current in moves and current not in seen:  # a→b→c follows to c; a→b→a stops
            seen.add(current)
            current = moves[current]
        if current != old:
            final[old] = current
    return final


def _insert_run(
    conn: Conn,
    repo: str,
    tool: str,
    report_format: str,
    source: str,
    sha: str | None,
    scope: AnalysisScope,
    findings: int,
    plan: LifecyclePlan,
) -> int:
    counts = plan.counts()
    row = conn.execute(
        "INSERT INTO analysis_runs (repo, tool, report_format, source, source_sha256, scope_paths, findings,"
        " new_issues, fixed_issues, reopened_issues, matched_issues, removed_issues)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            repo,
            tool,
            report_format,
            source,
            sha,
            None if scope.paths is None else json.dumps(sorted(scope.paths)),
            findings,
            counts["new"],
            counts["fixed"],
            counts["reopened"],
            counts["unchanged"],
            counts["removed"],
        ),
    ).fetchone()
    assert row is not None
    return int(row["id"])


_FINDING_COLUMNS = (
    "tool",
    "rule",
    "path",
    "line",
    "end_line",
    "col",
    "message",
    "message_norm",
    "native_severity",
    "severity",
    "line_hash",
    "block_hash",
    "scope",
    "external_id",
    "fingerprints",
    "context",
    "hint",
    "tool_status",
)


# What Tech-Debt shows of a finding (title, properties, body): when one of these changes, the issue changed.
# Identity hashes, columns and fingerprints may move without anything a person sees changing.
_SHOWN_COLUMNS = ("tool", "rule", "path", "line", "message", "severity", "scope", "context", "hint", "tool_status")


def _finding_values(f: Finding) -> tuple[Any, ...]:
    return (
        f.tool,
        f.rule,
        f.path,
        f.line,
        f.end_line,
        f.col,
        f.message,
        f.message_norm,
        f.native_severity,
        f.severity,
        f.line_hash,
        f.block_hash,
        f.scope,
        f.external_id,
        json.dumps(f.fingerprints),
        f.context,
        f.hint,
        f.tool_status,
    )


def _apply(conn: Conn, repo: str, plan: LifecyclePlan, run_id: int, now: datetime) -> None:
    """Write the plan with COPY: 50,000 issues land in seconds, not minutes of row-by-row statements."""
    columns = ", ".join(_FINDING_COLUMNS)
    with conn.cursor() as cur:
        if plan.new:
            with cur.copy(
                f"COPY analysis_issues (issue_id, repo, {columns}, status, first_seen, last_seen, updated_at,"
                " changed_at, first_run_id, last_run_id, reopen_count) FROM STDIN"
            ) as copy:
                for issue_id, f in plan.new:
                    copy.write_row((issue_id, repo, *_finding_values(f), "open", now, now, now, now, run_id, run_id, 0))
        matched = [(issue_id, False, f) for issue_id, f, _ in plan.still_open]
        matched += [(issue_id, True, f) for issue_id, f, _ in plan.reopened]
        if matched:
            cur.execute(
                "CREATE TEMP TABLE analysis_matched ON COMMIT DROP AS"
                f" SELECT issue_id, false AS reopen, {columns} FROM analysis_issues WITH NO DATA"
            )
            with cur.copy(f"COPY analysis_matched (issue_id, reopen, {columns}) FROM STDIN") as copy:
                for issue_id, reopen, f in matched:
                    copy.write_row((issue_id, reopen, *_finding_values(f)))
            assignments = ", ".join(f"{c} = m.{c}" for c in _FINDING_COLUMNS)
            shown_before = ", ".join(f"i.{c}" for c in _SHOWN_COLUMNS)
            shown_now = ", ".join(f"m.{c}" for c in _SHOWN_COLUMNS)
            cur.execute(
                f"UPDATE analysis_issues i SET {assignments}, last_seen = %s, updated_at = %s, last_run_id = %s,"
                f" changed_at = CASE WHEN m.reopen OR ROW({shown_before}) IS DISTINCT FROM ROW({shown_now})"
                " THEN %s ELSE i.changed_at END,"
                " status = CASE WHEN m.reopen THEN 'reopened' ELSE i.status END,"
                " fixed_at = CASE WHEN m.reopen THEN NULL ELSE i.fixed_at END,"
                " reopen_count = i.reopen_count + CASE WHEN m.reopen THEN 1 ELSE 0 END"
                " FROM analysis_matched m WHERE i.issue_id = m.issue_id",
                (now, now, run_id, now),
            )
            cur.execute("DROP TABLE analysis_matched")
        for ids, status in ((plan.fixed, "fixed"), (plan.removed, "removed")):
            if ids:
                cur.execute(
                    "UPDATE analysis_issues SET status = %s, fixed_at = %s, updated_at = %s, changed_at = %s,"
                    " last_run_id = %s WHERE issue_id = ANY(%s::uuid[])",
                    (status, now, now, now, run_id, ids),
                )


def issue_rows(conn: Conn, where: str = "TRUE", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Issues as dicts, newest first; ``where`` is a trusted SQL fragment with %s parameters."""
    return conn.execute(
        f"SELECT *, issue_id::text AS issue_key FROM analysis_issues WHERE {where}"
        " ORDER BY path, line NULLS FIRST, rule",
        list(params),
    ).fetchall()


def report_already_seen(conn: Conn, path: str, sha256: str) -> bool:
    row = conn.execute("SELECT 1 FROM analysis_report_files WHERE path = %s AND sha256 = %s", (path, sha256)).fetchone()
    return row is not None


def note_report_file(conn: Conn, path: str, sha256: str, outcome: str, run_id: int | None, error: str | None) -> None:
    """Remember a report file's outcome, so it is neither imported twice nor retried while unchanged."""
    conn.execute(
        "INSERT INTO analysis_report_files (path, sha256, outcome, run_id, error) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (path, sha256) DO UPDATE SET outcome = EXCLUDED.outcome, run_id = EXCLUDED.run_id,"
        " error = EXCLUDED.error, seen_at = now()",
        (path, sha256, outcome, run_id, error),
    )


def rejected_report_count(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM analysis_report_files WHERE outcome = 'rejected'").fetchone()
    return int(row["n"]) if row else 0
