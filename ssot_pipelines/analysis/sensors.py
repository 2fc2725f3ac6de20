"""The reports-folder sensor: import new linter reports, then refresh Tech-Debt and the tasks it raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ssot_pipelines.analysis.ingest import FolderScan, import_folder
from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.settings import env

REPORTS_DIR_VARIABLE = "SSOT_REPORTS_DIR"


def analysis_repo_root() -> Path | None:
    """``SSOT_ANALYSIS_REPO_ROOT``, else the first File Catalog root (``SSOT_REPO_ROOTS``), else the cwd."""
    configured = env("SSOT_ANALYSIS_REPO_ROOT")
    if configured:
        return Path(configured).expanduser().resolve()
    from ssot_pipelines.catalog.config import parse_roots

    roots = parse_roots(env("SSOT_REPO_ROOTS"))
    return roots[0].path if roots else None


def scan_message(scan: FolderScan) -> str:
    parts = [f"imported {len(scan.imported)} report(s)"]
    for path, summary in scan.imported:
        parts.append(f"{path.name}: " + ", ".join(f"{tool} {counts}" for tool, counts in summary.counts.items()))
    if scan.rejected:
        parts.append(f"rejected {len(scan.rejected)} report(s)")
    return "; ".join(parts)


@dataclass(frozen=True)
class AnalysisReportSensorConfig:
    """analysis_report_sensor's settings, read from the environment once per evaluation."""

    interval_seconds: int = 60
    reports_dir: Path | None = None  # SSOT_REPORTS_DIR: the folder linters write their reports to
    repo_root: Path | None = None  # analysis_repo_root(): what report paths are relative to

    @classmethod
    def from_env(cls) -> AnalysisReportSensorConfig:
        folder = env(REPORTS_DIR_VARIABLE)
        return cls(reports_dir=Path(folder) if folder else None, repo_root=analysis_repo_root())


@dg.sensor(
    name="analysis_report_sensor",
    asset_selection=[dg.AssetKey("tech_debt"), dg.AssetKey("secondbrain_tasks")],
    minimum_interval_seconds=AnalysisReportSensorConfig.interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Imports new static-analysis reports from SSOT_REPORTS_DIR and refreshes Tech-Debt.",
)
def analysis_report_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    settings = AnalysisReportSensorConfig.from_env()
    if settings.reports_dir is None:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"{REPORTS_DIR_VARIABLE} is not set: no reports folder to watch")
        )
    folder = settings.reports_dir
    conn = postgres.connect()
    try:
        scan = import_folder(conn, folder, repo_root=settings.repo_root)
    finally:
        conn.close()
    for path, error in scan.rejected:
        context.log.error(f"{path}: {error}")
    if not scan.imported:
        rejected = f"; {len(scan.rejected)} rejected" if scan.rejected else ""
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no new reports in {folder}{rejected}"))
    context.log.info(scan_message(scan))
    run_ids = sorted(run_id for _, s in scan.imported for run_id in s.run_ids.values())
    request = dg.RunRequest(
        run_key=f"analysis-runs-{run_ids[0]}-{run_ids[-1]}" if run_ids else None,
        tags={"ssot/trigger": "analysis_report_sensor"},
    )
    return dg.SensorResult(run_requests=[request])
