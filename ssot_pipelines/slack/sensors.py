"""The sensor that runs the Slack capture and sync when events wait in the journal or conversations changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dagster as dg

from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.slack.capture import pending_bytes
from ssot_pipelines.slack.store import Connection

JOB = "slack_conversations_job"


@dataclass(frozen=True)
class SlackEventsSensorConfig:
    """slack_events_sensor's settings (the journal directory is ``SLACK_JOURNAL_DIR``, read by the drain)."""

    interval_seconds: int = 30

    @classmethod
    def from_env(cls) -> SlackEventsSensorConfig:
        return cls()


def waiting_signature(conn: Connection) -> str | None:
    """A fingerprint of the Slack work waiting (journal bytes not drained, conversations not handed to any
    Notion target in their current state); None when nothing waits."""
    waiting = pending_bytes(conn)
    # a large import is synced in several runs (EXTRACT_LIMIT each), and each run changes this count
    row = conn.execute(
        "SELECT max(c.changed_at) AS at, count(*) AS waiting FROM slack_conversations c WHERE NOT EXISTS"
        " (SELECT 1 FROM slack_handover h WHERE h.conversation_id = c.conversation_id"
        " AND h.changed_at >= c.changed_at)"
    ).fetchone()
    conn.commit()
    unsynced = int(row["waiting"]) if row else 0
    if not waiting and not unsynced:
        return None
    return hashlib.sha256(f"{waiting}|{unsynced}|{row['at'] if row else None}".encode()).hexdigest()[:24]


@dg.sensor(
    name="slack_events_sensor",
    job_name=JOB,
    minimum_interval_seconds=SlackEventsSensorConfig.interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the Slack capture and sync when the Events API journal holds events not yet in the "
    "ledger, or conversations changed since the last sync.",
)
def slack_events_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    conn = postgres.connect()
    try:
        signature = waiting_signature(conn)
    finally:
        conn.close()
    if signature is None or signature == context.cursor:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new Slack events or conversation changes"))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature)], cursor=signature)
