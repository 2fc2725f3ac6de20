"""Drift sensors: rescore when the File Catalog changes; raise tasks and alert when scores cross thresholds."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from ssot_pipelines.drift.alerts import check_drift, notify_critical_drift
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.stores import PostgresResource


@dg.sensor(
    name="drift_sensor",
    asset_selection=[dg.AssetKey("secondbrain_tasks")],
    minimum_interval_seconds=60,
    description="After each drift analysis: raise or close SecondBrain tasks for files over threshold "
                "(SSOT_DRIFT_THRESHOLD twice in a row, SSOT_DRIFT_CRITICAL at once) and notify critical drift.",
)
def drift_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource,
                 notifier: NotifierResource) -> Iterator[dg.RunRequest | dg.SkipReason]:
    thresholds = DriftThresholds.from_env()
    after = int(context.cursor) if context.cursor else 0
    conn = postgres.connect()
    try:
        check = check_drift(conn, thresholds, after_analysis_id=after)
        if check is None:
            yield dg.SkipReason("no drift analysis since the last evaluation")
            return
        notify_critical_drift(conn, notifier, context.log, check)
    finally:
        conn.close()
    context.update_cursor(str(check.latest_analysis_id))
    if not check.tasks_need_update:
        yield dg.SkipReason(f"analysis {check.latest_analysis_id}: no file over threshold, no open drift task")
        return
    yield dg.RunRequest(run_key=f"drift-analysis-{check.latest_analysis_id}",
                        tags={"ssot/trigger": "drift_sensor"})


drift_board_job = dg.define_asset_job(
    "drift_board_job", selection=dg.AssetSelection.assets("drift_board"),
    description="Rescore drift and sync the Drift Board.",
)


@dg.asset_sensor(
    name="drift_on_catalog_change",
    asset_key=dg.AssetKey("file_catalog"),
    job=drift_board_job,
    description="Rescore drift whenever the File Catalog is materialized.",
)
def drift_on_catalog_change(context: dg.SensorEvaluationContext,
                            asset_event: dg.EventLogEntry) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"drift-after-{asset_event.run_id}", tags={"ssot/trigger": "file_catalog"})
