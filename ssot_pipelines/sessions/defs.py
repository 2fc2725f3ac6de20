"""Dagster definitions for CLI sessions: capture (journal + transcripts -> ledger, Redis, vectors), the
CLI Sessions database, the sensor that keeps Notion within about a minute, and an hourly transcript sweep."""

from pathlib import Path
from typing import Any

import dagster as dg

from ssot_pipelines.assets.notion_sync import notion_sync_asset
from ssot_pipelines.ledger import connect
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.sessions.records import extract_cli_sessions
from ssot_pipelines.sessions.sensors import JOB, cli_session_sensor
from ssot_pipelines.sessions.transcripts import default_roots, import_paths
from ssot_pipelines.sessions.worker import WorkerConfig, run_pass


class SessionCaptureConfig(dg.Config):  # type: ignore[misc]
    """``sweep``: also import every transcript under the assistants' folders (before their own cleanup).

    ``paths`` are read only inside the transcript roots unless ``allow_outside_roots`` is set."""

    sweep: bool = False
    paths: list[str] = []
    allow_outside_roots: bool = False


@dg.asset(
    name="cli_session_events",
    group_name="sessions",
    kinds={"postgres", "redis"},
    description="Hook journal and transcripts committed to the ledger, pushed to the live Redis streams and "
    "embedded for recall. Safe to repeat: nothing is acknowledged before PostgreSQL commits.",
)
def cli_session_events(
    context: dg.AssetExecutionContext,
    config: SessionCaptureConfig,
    postgres: PostgresResource,
    redis: RedisResource,
    vectors: VectorsResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    url = postgres.resolved_url()
    imported = None
    if config.sweep or config.paths:
        conn = postgres.connect()
        try:
            roots = [Path(p) for p in config.paths] or default_roots()
            imported = import_paths(conn, roots, allow_outside_roots=config.allow_outside_roots)
        finally:
            conn.close()
        context.log.info(imported.summary())
    ledger = connect(url, autocommit=True)  # the embedding cache's connection: its rows are durable at once
    try:
        report = run_pass(
            WorkerConfig(postgres_url=url, redis_url=redis.resolved_url()),
            vectors=lambda: (vectors.store(), embedder.embedder(ledger)),
        )
    finally:
        ledger.close()
    for error in report.errors:
        context.log.warning(error)
    meta: dict[str, Any] = {
        "journal_records": report.drain.records if report.drain else 0,
        "new_events": report.drain.inserted if report.drain else 0,
        "transcript_events": report.imported + (imported.inserted if imported else 0),
        "live_pushed": report.live_pushed,
        "sessions_indexed": report.indexed_sessions,
        "quarantined": report.quarantined + (imported.quarantined if imported else 0),
        "quarantine_total": report.quarantine_total,
        "conflicting_versions": (report.drain.versions if report.drain else 0)
        + (report.import_report.versions if report.import_report else 0)
        + (imported.versions if imported else 0),
        "transcripts_refused": report.refused + (len(imported.refused) if imported else 0),
        "errors": len(report.errors),
    }
    if report.quarantine_total:
        context.log.warning(
            f"{report.quarantine_total} session events in quarantine: "
            "`ssot worker --show-quarantine`, `ssot worker --redrive-quarantine`"
        )
    if imported is not None:
        meta["import"] = imported.summary()
    return dg.MaterializeResult(metadata=meta)


cli_sessions = notion_sync_asset(
    "cli_sessions",
    extract_cli_sessions,
    deps=["cli_session_events"],
    description="Every CLI session segment, linked to the segments and sessions before and after it; the page "
    "body is the complete transcript.",
)

cli_sessions_job = dg.define_asset_job(
    JOB,
    selection=dg.AssetSelection.assets(cli_session_events, cli_sessions),
    description="Capture new session events and sync the CLI Sessions database.",
)

transcript_sweep_schedule = dg.ScheduleDefinition(
    name="cli_session_transcript_sweep",
    job=cli_sessions_job,
    cron_schedule="17 * * * *",
    run_config=dg.RunConfig(ops={"cli_session_events": SessionCaptureConfig(sweep=True)}),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: copy every Claude Code / Codex transcript into the ledger before the assistant's "
    "cleanup (cleanupPeriodDays) deletes it.",
)

defs = dg.Definitions(
    assets=[cli_session_events, cli_sessions],
    sensors=[cli_session_sensor],
    schedules=[transcript_sweep_schedule],
    jobs=[cli_sessions_job],
)
