"""The per-database Notion asset: extract a DataFrame of records, sync it, report what happened."""

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import dagster as dg
import pandas as pd

from ssot_pipelines.notion.desired import present_records
from ssot_pipelines.notion.extract import Extract, ExtractContext, SyncOptions
from ssot_pipelines.notion.sync import SyncReport
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.schemas import database
from ssot_pipelines.settings import ConfigurationError

__all__ = ["Extract", "ExtractContext", "SyncConfig", "SyncOptions", "configuration_failure", "notion_sync_asset"]

NOTION_POOL = "notion_api"
NOTION_GROUP = "notion"

NOTION_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class SyncConfig(dg.Config):  # type: ignore[misc]
    """How one run syncs a database (run config; ``options()`` is the plain form extracts get)."""

    full: bool = False  # daily reconcile: read Notion back, repair edits to machine values, recreate deleted rows
    paths: list[str] = []  # incremental scope (File Catalog): only these paths
    force_archive: bool = False  # allow archiving more than half of a database in one run

    def options(self) -> SyncOptions:
        return SyncOptions(full=self.full, paths=tuple(self.paths), force_archive=self.force_archive)


@contextmanager
def configuration_failure() -> Iterator[None]:
    """A ConfigurationError becomes a Dagster failure that is never retried (by the step's retry policy;
    run retries are off for step failures in dagster.yaml): its message, which names the variable and the
    fix, is the failure's description."""
    try:
        yield
    except ConfigurationError as exc:
        raise dg.Failure(
            description=f"Configuration error (not retried): {exc}",
            metadata={"configuration_error": str(exc)},
            allow_retries=False,
        ) from None


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
        with ExitStack() as stack, configuration_failure():
            # a full sync reads the schemas from Notion again; an incremental one trusts the ledger's fingerprint
            provision = True if config.full else None
            manager = stack.enter_context(
                notion.open(postgres.resolved_url(), redis.resolved_url(), provision=provision)
            )
            ledger = stack.enter_context(postgres.connect())
            redis_client = stack.enter_context(redis.client())
            options = config.options()
            # One sync per (target, database): a second run waits here, then finds the first one's work done.
            waited = stack.enter_context(manager.serialized(database_name, context.log.info))
            ctx = ExtractContext(
                config=options,
                log=context.log,
                ledger=ledger,
                redis=redis_client,
                postgres_url=postgres.resolved_url(),
                vectors=vectors.store,
                embedder=embedder.embedder,
                notifier=notifier,
                run_id=context.run_id,
                sync=manager,
            )
            frame = extract(ctx)
            report = manager.sync(
                database_name,
                frame,
                force_archive=options.force_archive,
                reconcile=options.full,
                progress=context.log.info,
            )
        provisioned = manager.provisioned
        context.log.info(report.summary())
        for error in report.errors[:20]:
            context.log.warning(error)
        extra = dict(frame.attrs.get("metadata", {}))
        if provisioned.created or provisioned.properties_added:
            extra["provisioned"] = provisioned.summary()
        extra["waited_for_another_sync"] = waited
        return dg.MaterializeResult(metadata=report_metadata(report, frame, extra))

    return _asset


def ledger_records(database_name: str) -> Extract:
    """An extract for databases fed by importers: the records staged in the ledger (``ssot import``)."""

    def _extract(ctx: ExtractContext) -> pd.DataFrame:
        records = present_records(ctx.ledger, database_name)
        ctx.ledger.commit()
        frame = pd.DataFrame(
            [{"key": r.key, **r.values, "body": r.body, "priority": r.priority} for r in records],
            columns=None if records else ["key"],
        )
        frame.attrs["sync_mode"] = "full"
        return frame

    return _extract
