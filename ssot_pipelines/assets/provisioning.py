"""The provisioning asset: the seven databases exist under the parent page with every property.

An incremental run trusts what the last provisioning verified (the ledger's schema fingerprint) and asks
Notion nothing; a full run (``full_sync_job``, or ``full: true``) reads the schemas from Notion again.
"""

import json

import dagster as dg

from ssot_pipelines.assets.notion_sync import NOTION_GROUP, NOTION_POOL, NOTION_RETRY, configuration_failure
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.schemas import ALL_DATABASES


class ProvisionConfig(dg.Config):  # type: ignore[misc]
    """How one run provisions: ``full`` reads every schema from Notion again (the daily full sync)."""

    full: bool = False


@dg.asset(
    name="notion_databases",
    group_name=NOTION_GROUP,
    kinds={"notion"},
    pool=NOTION_POOL,
    retry_policy=NOTION_RETRY,
    description="Provisions the seven SecondBrain databases under the parent page (idempotent). Incremental "
    "runs trust the ledger's schema fingerprint and ask Notion nothing; full=true reads every schema again.",
)
def notion_databases(
    context: dg.AssetExecutionContext,
    config: ProvisionConfig,
    notion: NotionResource,
    postgres: PostgresResource,
    redis: RedisResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    with configuration_failure():
        # None: provision only when the ledger's fingerprint no longer matches (no request otherwise)
        manager = notion.open(postgres.resolved_url(), redis.resolved_url(), provision=True if config.full else None)
    report = manager.provisioned
    try:
        ids = {
            name: {"database_id": i.database_id, "data_source_id": i.data_source_id} for name, i in manager.ids.items()
        }
        requests = manager.gateway.stats.requests
    finally:
        manager.close()
    verified = bool(report.created or report.found)
    context.log.info(
        f"Notion databases: {report.summary()}"
        if verified
        else "Notion databases: as the last provisioning verified them (the ledger's schema fingerprint holds; "
        "a full run reads Notion again)"
    )
    table = "\n".join(
        ["| database | title | data source |", "|---|---|---|"]
        + [f"| {s.name} | {s.title} | `{ids[s.name]['data_source_id']}` |" for s in ALL_DATABASES]
    )
    return dg.MaterializeResult(
        metadata={
            "created": len(report.created),
            "already_there": len(report.found) if verified else len(ids),
            "properties_added": dg.MetadataValue.json(report.properties_added),
            "requests": requests,
            "verified_in_notion": verified,
            "databases": dg.MetadataValue.md(table),
            "ids": dg.MetadataValue.json(json.loads(json.dumps(ids))),
        }
    )


# slack_conversations is the Slack capability's asset (ssot_pipelines/slack/defs.py); task_tracking is the
# work graph's asset (ssot_pipelines/tasks/defs.py)

defs = dg.Definitions(assets=[notion_databases])
