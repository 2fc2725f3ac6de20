"""Dagster definitions for the status page: a failed run is shown on the page.

The page itself is refreshed at the end of every Notion sync asset; the asset checks that compare Notion with
the ledger, and the freshness policy that says whether the hourly sync ran, live on those assets
(``assets/notion_sync.py``)."""

from __future__ import annotations

import dagster as dg

from ssot_pipelines.notion.gateway import NotionError
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.statuspage import store
from ssot_pipelines.statuspage.page import refresh_status_page


def failure_message(event: dg.DagsterEvent | None) -> str:
    """The first line of a failed run's error (never a secret: errors are redacted where they are raised)."""
    if event is None or not event.message:
        return "the run failed (no message)"
    return event.message.strip().splitlines()[0]


@dg.run_failure_sensor(
    name="status_page_on_run_failure",
    description="A failed run is shown on the SSoT Status page (job, time, first line of the error).",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def status_page_on_run_failure(
    context: dg.RunFailureSensorContext, notion: NotionResource, postgres: PostgresResource, redis: RedisResource
) -> None:
    run = context.dagster_run
    try:
        manager = notion.open(postgres.resolved_url(), redis.resolved_url(), provision=False)
    except ConfigurationError as exc:
        context.log.warning(f"status page not updated for failed run {run.run_id}: {exc}")
        return
    with manager:
        store.record_run_failure(manager.conn, run.run_id, run.job_name, failure_message(context.failure_event))
        manager.conn.commit()
        try:
            update = refresh_status_page(manager)
        except NotionError as exc:  # the failure is kept in the ledger: the next refresh shows it
            context.log.warning(f"status page not updated for failed run {run.run_id}: {exc}")
            return
    context.log.info(update.summary())


defs = dg.Definitions(sensors=[status_page_on_run_failure])
