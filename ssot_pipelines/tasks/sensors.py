"""The sensor that brings the work graph's changes to Task Tracking within about a minute."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.tasks.graph import change_signature

JOB = "task_tracking_job"


@dataclass(frozen=True)
class TaskTrackingSensorConfig:
    """task_tracking_sensor's settings (none come from the environment yet)."""

    interval_seconds: int = 30

    @classmethod
    def from_env(cls) -> TaskTrackingSensorConfig:
        return cls()


@dg.sensor(
    name="task_tracking_sensor",
    job_name=JOB,
    minimum_interval_seconds=TaskTrackingSensorConfig.interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Syncs Task Tracking when agents changed the work graph (activity, claims, leases that ran out).",
)
def task_tracking_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    conn = postgres.connect()
    try:
        signature = change_signature(conn)
    finally:
        conn.close()
    if signature == context.cursor:
        return dg.SensorResult(skip_reason=dg.SkipReason("the work graph has not changed"))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature)], cursor=signature)
