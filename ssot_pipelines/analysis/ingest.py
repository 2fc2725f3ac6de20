"""Import report files into the ledger: hash, parse, record; a rejected report is counted, not retried."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ssot_pipelines.analysis.importers import ReportFormatError, read_report
from ssot_pipelines.analysis.store import Conn, ImportSummary, note_report_file, record_report, report_already_seen

REPORT_SUFFIXES = (".json", ".jsonl", ".sarif", ".txt")


@dataclass
class FolderScan:
    imported: list[tuple[Path, ImportSummary]]
    rejected: list[tuple[Path, str]]
    skipped: int


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_report_file(
    conn: Conn, path: Path, *, repo_root: Path | None, report_format: str | None = None, whole_repository: bool = False
) -> ImportSummary:
    """Import one report; a ReportFormatError leaves the recorded issues exactly as they were."""
    sha = file_sha256(path)
    try:
        report = read_report(path, report_format)
        summary = record_report(
            conn, report, repo_root=repo_root, source=str(path), source_sha256=sha, whole_repository=whole_repository
        )
    except ReportFormatError as exc:
        conn.rollback()
        with conn.transaction():
            note_report_file(conn, str(path), sha, "rejected", None, str(exc))
        conn.commit()
        raise
    with conn.transaction():
        note_report_file(conn, str(path), sha, "imported", next(iter(summary.run_ids.values()), None), None)
    conn.commit()
    return summary


def pending_reports(conn: Conn, folder: Path) -> list[tuple[Path, str]]:
    """Report files in ``folder`` whose current content has not been imported or rejected yet."""
    if not folder.is_dir():
        return []
    pending = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES):
        sha = file_sha256(path)
        if not report_already_seen(conn, str(path), sha):
            pending.append((path, sha))
    return pending


def import_folder(conn: Conn, folder: Path, *, repo_root: Path | None) -> FolderScan:
    """Import every new report in ``folder``; bad ones are listed with their error, good ones recorded."""
    scan = FolderScan([], [], 0)
    for path, _ in pending_reports(conn, folder):
        try:
            scan.imported.append((path, import_report_file(conn, path, repo_root=repo_root)))
        except ReportFormatError as exc:
            scan.rejected.append((path, str(exc)))
    return scan
