"""The sensor that brings the work graph's changes to Task Tracking within about a minute."""

from __future__ import annotations

import dagster as dg

from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.tasks.graph import change_signature

SENSOR_INTERVAL_SECONDS = 30


def build_task_tracking_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(name="task_tracking_sensor", job=job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Syncs Task Tracking when agents changed the work graph (activity, claims, "
                           "leases that ran out).")
    def task_tracking_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
        conn = postgres.connect()
        try:
            signature = change_signature(conn)
        finally:
            conn.close()
        if signature == context.cursor:
            return dg.SensorResult(skip_reason=dg.SkipReason("the work graph has not changed"))
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature)], cursor=signature)

    return task_tracking_sensor
