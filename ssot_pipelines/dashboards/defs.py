"""The ``notion_views`` asset: the project's views and dashboard in Notion, checked on every full sync.

Views cost a request each to check, and people rarely delete them, so they are provisioned on full syncs
(``full_sync_job``) and by ``ssot setup``, never on incremental runs: the asset carries the tag
``ssot/sync: full`` that keeps it out of ``incremental_sync_job`` (definitions.py).
"""

import dagster as dg

from ssot_pipelines.assets.notion_sync import NOTION_GROUP, NOTION_POOL, NOTION_RETRY, configuration_failure
from ssot_pipelines.dashboards.plan import VIEW_PLAN
from ssot_pipelines.dashboards.provision import provision_views
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource

FULL_SYNC_ONLY = {"ssot/sync": "full"}


@dg.asset(
    name="notion_views",
    group_name=NOTION_GROUP,
    kinds={"notion"},
    pool=NOTION_POOL,
    retry_policy=NOTION_RETRY,
    tags=FULL_SYNC_ONLY,
    deps=[dg.AssetKey("notion_databases")],
    description="The project's views (boards, charts, a timeline, a dashboard) on the seven databases: "
    "created once, restored when a person deletes one, never touching a person's own views.",
)
def notion_views(
    context: dg.AssetExecutionContext, notion: NotionResource, postgres: PostgresResource, redis: RedisResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    with configuration_failure():
        manager = notion.open(postgres.resolved_url(), redis.resolved_url(), provision=None)
    with manager:
        report = provision_views(manager.gateway, manager.conn, manager.target, manager.ids, log=context.log.info)
    context.log.info(report.summary())
    for title in report.restored:
        context.log.warning(f"restored the view {title!r}: a person had deleted it")
    for title, error in report.failed.items():
        context.log.warning(f"view {title!r} failed: {error}")
    table = "\n".join(
        ["| view | database | type |", "|---|---|---|"]
        + [f"| {v.name} | {v.schema.title} | {v.type.value} |" for v in VIEW_PLAN]
    )
    if report.failed:
        raise dg.Failure(
            description=f"{len(report.failed)} view(s) could not be provisioned: "
            + "; ".join(f"{t}: {e}" for t, e in report.failed.items()),
            metadata={"failed": dg.MetadataValue.json(report.failed)},
        )
    return dg.MaterializeResult(
        metadata={
            "views_created": len(report.created),
            "views_restored": len(report.restored),
            "views_repaired": len(report.repaired),
            "views_adopted": len(report.adopted),
            "views_unchanged": len(report.unchanged),
            "restored": dg.MetadataValue.json(report.restored),
            "requests": report.requests,
            "views": dg.MetadataValue.md(table),
        }
    )


defs = dg.Definitions(assets=[notion_views])
