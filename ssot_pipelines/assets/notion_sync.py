"""The per-database Notion asset: extract a DataFrame of records, sync it, report what happened."""


from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
import redis

from ssot_pipelines.notion.sync import NotionSyncManager, SyncReport
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.schemas import database

NOTION_POOL = "notion_api"
NOTION_GROUP = "notion"

NOTION_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class SyncConfig(dg.Config):  # type: ignore[misc]
    """How one run syncs a database."""

    full: bool = False  # daily reconcile: read Notion back, repair edits to machine values, recreate deleted rows
    paths: list[str] = []  # incremental scope (File Catalog): only these paths
    force_archive: bool = False  # allow archiving more than half of a database in one run


@dataclass
class ExtractContext:
    """What an extract function may use; it returns the desired records as a DataFrame."""

    config: SyncConfig
    log: Any
    ledger: psycopg.Connection[dict[str, Any]]
    redis: redis.Redis
    postgres_url: str
    vectors: Callable[[], Any]
    embedder: Callable[[], Any]
    notifier: Any
    run_id: str
    sync: NotionSyncManager


Extract = Callable[[ExtractContext], pd.DataFrame]


def preview_markdown(frame: pd.DataFrame, rows: int = 15, width: int = 60) -> str:
    """A readable preview table: long cells shortened for display only (the sync never cuts)."""
    if frame.empty:
        return "_no records_"
    shown = frame.drop(columns=[c for c in ("body",) if c in frame.columns]).head(rows).copy()
    for column in shown.columns:
        shown[column] = shown[column].map(lambda v: _short(v, width))
    return str(shown.to_markdown(index=False))


def _short(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def report_metadata(report: SyncReport, frame: pd.DataFrame, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {k: v for k, v in report.as_metadata().items() if k not in ("database",)}
    meta["records"] = len(frame)
    meta["preview"] = dg.MetadataValue.md(preview_markdown(frame))
    for key, value in (extra or {}).items():
        # the extract's own figures never shadow the sync's (both may report a "mode" or "seconds")
        name = f"extract_{key}" if key in meta else key
        meta[name] = value if isinstance(value, int | float | str | bool) else dg.MetadataValue.json(value)
    return meta


def notion_sync_asset(
    database_name: str,
    extract: Extract,
    *,
    deps: Sequence[str] = (),
    description: str | None = None,
) -> dg.AssetsDefinition:
    """An asset named after the database that extracts its records and syncs them into Notion."""
    schema = database(database_name)

    @dg.asset(
        name=database_name,
        group_name=NOTION_GROUP,
        kinds={"notion", "postgres"},
        pool=NOTION_POOL,
        retry_policy=NOTION_RETRY,
        # provisioning first, so parallel steps never race to create a database
        deps=[dg.AssetKey(d) for d in dict.fromkeys([*deps, "notion_databases"])],
        description=description or f"The {schema.title} database in Notion. {schema.description}",
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        notion: NotionResource,
        postgres: PostgresResource,
        redis: RedisResource,
        vectors: VectorsResource,
        embedder: EmbedderResource,
        notifier: NotifierResource,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        manager = notion.open(postgres.resolved_url(), redis.resolved_url(), provision=None)
        provisioned = manager.provisioned
        ledger = postgres.connect()
        try:
            ctx = ExtractContext(
                config=config,
                log=context.log,
                ledger=ledger,
                redis=redis.client(),
                postgres_url=postgres.resolved_url(),
                vectors=vectors.store,
                embedder=embedder.embedder,
                notifier=notifier,
                run_id=context.run_id,
                sync=manager,
            )
            frame = extract(ctx)
            report = manager.sync(
                database_name, frame, force_archive=config.force_archive, reconcile=config.full
            )
        finally:
            ledger.close()
            manager.close()
        context.log.info(report.summary())
        for error in report.errors[:20]:
            context.log.warning(error)
        extra = dict(frame.attrs.get("metadata", {}))
        if provisioned.created or provisioned.properties_added:
            extra["provisioned"] = provisioned.summary()
        return dg.MaterializeResult(metadata=report_metadata(report, frame, extra))

    return _asset


def ledger_records(database_name: str) -> Extract:
    """An extract for databases fed by importers: the records staged in the ledger (``ssot import``)."""

    def _extract(ctx: ExtractContext) -> pd.DataFrame:
        rows = ctx.ledger.execute(
            'SELECT key, "values", body, priority FROM records WHERE database = %s AND present ORDER BY key',
            (database_name,),
        ).fetchall()
        ctx.ledger.commit()
        frame = pd.DataFrame(
            [{"key": r["key"], **r["values"], "body": r["body"], "priority": r["priority"]} for r in rows],
            columns=None if rows else ["key"],
        )
        frame.attrs["sync_mode"] = "full"
        return frame

    return _extract
