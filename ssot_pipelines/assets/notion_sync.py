"""The per-database Notion asset: extract a DataFrame of records, sync it, report what happened."""

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd

from ssot_pipelines.notion.audits import record_audit
from ssot_pipelines.notion.desired import present_records
from ssot_pipelines.notion.extract import Extract, ExtractContext, SyncOptions
from ssot_pipelines.notion.run_history import DatabaseFigures, database_figures
from ssot_pipelines.notion.sync import NotionSyncManager, SyncReport
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.schemas import database
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.statuspage.checks import CHECK_DESCRIPTION, CHECK_NAME, CheckVerdict, notion_equals_ledger
from ssot_pipelines.statuspage.page import refresh_status_page

__all__ = ["Extract", "ExtractContext", "SyncConfig", "SyncOptions", "configuration_failure", "notion_sync_asset"]

NOTION_POOL = "notion_api"
NOTION_GROUP = "notion"

NOTION_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# The hourly sync materializes every database: warn after 90 minutes without one, fail after two hours.
HOURLY_SYNC_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(minutes=90)
)


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


def figures_metadata(report: SyncReport, figures: DatabaseFigures) -> dict[str, Any]:
    """Numbers Dagster plots over time, on every materialization."""
    return {
        "rows": dg.MetadataValue.int(figures.rows),
        "lag_seconds": dg.MetadataValue.float(round(figures.lag_seconds(), 1)),
        "pending": dg.MetadataValue.int(figures.pending),
        "requests": dg.MetadataValue.int(report.requests),
        "rate_limited": dg.MetadataValue.int(report.rate_limited),
    }


def check_result(verdict: CheckVerdict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR if verdict.read_notion else dg.AssetCheckSeverity.WARN,
        description=verdict.summary,
        metadata={"compared": "every row read back" if verdict.read_notion else "ledger only", **verdict.figures},
    )


def after_sync(
    manager: NotionSyncManager, database_name: str, report: SyncReport, log: Any, *, full: bool
) -> tuple[DatabaseFigures, CheckVerdict, dict[str, Any]]:
    """The figures and the check verdict of a finished sync; a verdict from a read-back is kept as an audit,
    and the status page is brought up to date (a failure there is logged, never fails the sync)."""
    figures = database_figures(manager.conn, manager.target, database_name)
    verdict = notion_equals_ledger(report, figures)
    if verdict.read_notion:
        record_audit(
            manager.conn,
            manager.target,
            database_name,
            ok=verdict.passed,
            summary=verdict.summary,
            source="asset_check",
        )
    manager.conn.commit()
    try:
        update = refresh_status_page(manager, full_sync=full)
    except Exception as exc:  # the data is synced; the page catches up on the next run
        manager.conn.rollback()
        log.warning(f"the SSoT Status page was not updated: {type(exc).__name__}: {exc}")
        return figures, verdict, {"status_page": "not updated (see the run's log)"}
    log.info(update.summary())
    page = {"status_page_requests": update.requests, "status_page_blocks_written": update.blocks_written}
    return figures, verdict, page


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
        freshness_policy=HOURLY_SYNC_FRESHNESS,
        # computed in the same step from what the sync read (separate check steps cost a process each)
        check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset=database_name, description=CHECK_DESCRIPTION)],
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
            figures, verdict, page = after_sync(manager, database_name, report, context.log, full=options.full)
        provisioned = manager.provisioned
        context.log.info(report.summary())
        for error in report.errors[:20]:
            context.log.warning(error)
        extra = dict(frame.attrs.get("metadata", {}))
        if provisioned.created or provisioned.properties_added:
            extra["provisioned"] = provisioned.summary()
        extra["waited_for_another_sync"] = waited
        metadata = {**report_metadata(report, frame, extra), **figures_metadata(report, figures), **page}
        return dg.MaterializeResult(metadata=metadata, check_results=[check_result(verdict)])

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
