"""The one Definitions of the code location: every capability's assets, sensors and schedules, and the
resources they share, configured from the environment (empty values select the embedded defaults)."""

import os
from typing import Any

import dagster as dg

from ssot_pipelines.analysis import defs as analysis
from ssot_pipelines.assets import provisioning
from ssot_pipelines.assets.notion_sync import NOTION_GROUP, SyncConfig
from ssot_pipelines.assets.provisioning import ProvisionConfig
from ssot_pipelines.catalog import defs as catalog
from ssot_pipelines.dashboards import defs as dashboards
from ssot_pipelines.deploy.executor import selected_executor
from ssot_pipelines.drift import defs as drift
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.sessions import defs as sessions
from ssot_pipelines.sessions.defs import SessionCaptureConfig
from ssot_pipelines.settings import load_env_file
from ssot_pipelines.slack import defs as slack
from ssot_pipelines.statuspage import defs as statuspage
from ssot_pipelines.tasks import defs as tasks

load_env_file()

# Optional settings: an unset variable means "use the embedded default". EnvVar fails a run on an unset
# variable, so unset ones are defined as empty here (values that are set are never touched).
OPTIONAL_ENV = (
    "NOTION_TOKEN",
    "NOTION_PARENT_PAGE_ID",
    "NOTION_BASE_URL",
    "POSTGRES_URL",
    "REDIS_URL",
    "PINECONE_API_KEY",
    "PINECONE_HOST",
    "SLACK_WEBHOOK_URL",
)
for _name in OPTIONAL_ENV:
    os.environ.setdefault(_name, "")
os.environ.setdefault("NOTION_VERSION", "2025-09-03")
os.environ.setdefault("PINECONE_INDEX", "ssot")
os.environ.setdefault("SSOT_EMBEDDER", "minilm")

RESOURCES = {
    "notion": NotionResource(
        token=dg.EnvVar("NOTION_TOKEN"),
        parent_page_id=dg.EnvVar("NOTION_PARENT_PAGE_ID"),
        base_url=dg.EnvVar("NOTION_BASE_URL"),
        notion_version=dg.EnvVar("NOTION_VERSION"),
    ),
    "postgres": PostgresResource(url=dg.EnvVar("POSTGRES_URL")),
    "redis": RedisResource(url=dg.EnvVar("REDIS_URL")),
    "vectors": VectorsResource(
        pinecone_api_key=dg.EnvVar("PINECONE_API_KEY"),
        pinecone_index=dg.EnvVar("PINECONE_INDEX"),
        pinecone_host=dg.EnvVar("PINECONE_HOST"),
    ),
    "embedder": EmbedderResource(kind=dg.EnvVar("SSOT_EMBEDDER")),
    "notifier": NotifierResource(slack_webhook_url=dg.EnvVar("SLACK_WEBHOOK_URL")),
}

FULL_SYNC_TAG = "ssot/sync"  # "full": in full_sync_job only (the views: a request each to check)

CAPABILITIES: list[dg.Definitions] = [
    provisioning.defs,
    catalog.defs,
    sessions.defs,
    analysis.defs,
    drift.defs,
    slack.defs,
    tasks.defs,
    dashboards.defs,
    statuspage.defs,
]


def _notion_sync_ops(merged: dg.Definitions) -> list[str]:
    names: list[str] = []
    for assets_def in merged.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue
        groups = set(assets_def.group_names_by_key.values())
        if NOTION_GROUP in groups and assets_def.op.name != "notion_databases" and not _full_only(assets_def):
            names.append(assets_def.op.name)
    return sorted(names)


def _full_only(assets_def: dg.AssetsDefinition) -> bool:
    """Assets tagged ``ssot/sync: full`` (e.g. notion_views) run in full syncs only, and take no SyncConfig."""
    return any(spec.tags.get(FULL_SYNC_TAG) == "full" for spec in assets_def.specs)


def _sync_jobs(merged: dg.Definitions) -> tuple[list[Any], list[dg.ScheduleDefinition]]:
    ops = _notion_sync_ops(merged)
    # the Notion databases and what feeds them (e.g. session capture)
    selection = dg.AssetSelection.groups(NOTION_GROUP).upstream()
    full_only = dg.AssetSelection.tag(FULL_SYNC_TAG, "full")
    full = dg.define_asset_job(
        "full_sync_job",
        selection=selection,
        # a full run also copies every assistant transcript on this machine into the ledger
        config=dg.RunConfig(
            ops={
                **{op: SyncConfig(full=True) for op in ops},
                "notion_databases": ProvisionConfig(full=True),
                "cli_session_events": SessionCaptureConfig(sweep=True),
            }
        ),
        description="Provision, extract everything and reconcile every database against Notion.",
        tags={"ssot/mode": "full"},
    )
    incremental = dg.define_asset_job(
        "incremental_sync_job",
        # Without the provisioning step: each Notion asset checks the ledger's schema fingerprint itself
        # (provisioning, under a lock, only when it fails), so a step process less per run (issue 14 §2).
        selection=selection - full_only - dg.AssetSelection.assets("notion_databases"),
        description="Sync what changed since the last sync, trusting the ledger (no read-back of Notion).",
        tags={"ssot/mode": "incremental"},
    )
    schedules = [
        dg.ScheduleDefinition(
            name="hourly_incremental_sync", job=incremental, cron_schedule="0 * * * *", execution_timezone="UTC"
        ),
        dg.ScheduleDefinition(name="daily_full_sync", job=full, cron_schedule="30 3 * * *", execution_timezone="UTC"),
    ]
    return [full, incremental], schedules


def build_definitions() -> dg.Definitions:
    merged = dg.Definitions.merge(*CAPABILITIES)
    jobs, schedules = _sync_jobs(merged)
    return dg.Definitions.merge(
        merged,
        dg.Definitions(
            jobs=jobs,
            schedules=schedules,
            resources=RESOURCES,
            # SSOT_EXECUTOR: multiprocess (default) or celery (ssot_pipelines/deploy/executor.py)
            executor=selected_executor(),
        ),
    )


defs = build_definitions()
