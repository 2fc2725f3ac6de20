"""Drift sensors: rescore when the File Catalog changes; raise tasks and alert when scores cross thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from ssot_pipelines.drift.alerts import check_drift, notify_critical_drift
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.stores import PostgresResource


@dataclass(frozen=True)
class DriftSensorConfig:
    """drift_sensor's settings, read from the environment once per evaluation."""

    interval_seconds: int = 60
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)  # SSOT_DRIFT_THRESHOLD, _CRITICAL, ...

    @classmethod
    def from_env(cls) -> DriftSensorConfig:
        return cls(thresholds=DriftThresholds.from_env())


@dg.sensor(
    name="drift_sensor",
    asset_selection=[dg.AssetKey("secondbrain_tasks")],
    minimum_interval_seconds=DriftSensorConfig.interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After each drift analysis: raise or close SecondBrain tasks for files over threshold "
    "(SSOT_DRIFT_THRESHOLD twice in a row, SSOT_DRIFT_CRITICAL at once) and notify critical drift.",
)
def drift_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, notifier: NotifierResource
) -> dg.SensorResult:
    settings = DriftSensorConfig.from_env()
    after = int(context.cursor) if context.cursor else 0
    conn = postgres.connect()
    try:
        check = check_drift(conn, settings.thresholds, after_analysis_id=after)
        if check is None:
            return dg.SensorResult(skip_reason=dg.SkipReason("no drift analysis since the last evaluation"))
        notify_critical_drift(conn, notifier, context.log, check)
    finally:
        conn.close()
    cursor = str(check.latest_analysis_id)
    if not check.tasks_need_update:
        why = f"analysis {check.latest_analysis_id}: no file over threshold, no open drift task"
        return dg.SensorResult(skip_reason=dg.SkipReason(why), cursor=cursor)
    request = dg.RunRequest(run_key=f"drift-analysis-{check.latest_analysis_id}", tags={"ssot/trigger": "drift_sensor"})
    return dg.SensorResult(run_requests=[request], cursor=cursor)


drift_board_job = dg.define_asset_job(
    "drift_board_job",
    selection=dg.AssetSelection.assets("drift_board"),
    description="Rescore drift and sync the Drift Board.",
)


@dg.asset_sensor(
    name="drift_on_catalog_change",
    asset_key=dg.AssetKey("file_catalog"),
    job=drift_board_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Rescore drift whenever the File Catalog is materialized.",
)
def drift_on_catalog_change(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.SensorResult:
    # An asset sensor (Dagster keeps its cursor: the last materialization seen); it has no settings.
    request = dg.RunRequest(run_key=f"drift-after-{asset_event.run_id}", tags={"ssot/trigger": "file_catalog"})
    return dg.SensorResult(run_requests=[request])
