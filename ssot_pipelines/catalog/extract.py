"""The File Catalog extract: refresh the ledger from the trees, publish events, return the records."""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg
import redis

from ssot_pipelines.catalog.config import CatalogConfig, load_catalog_config
from ssot_pipelines.catalog.events import publish_pending
from ssot_pipelines.catalog.records import catalog_frame
from ssot_pipelines.catalog.refresh import RefreshResult, refresh_catalog
from ssot_pipelines.catalog.state import load_entries, refresh_components
from ssot_pipelines.notion.extract import ExtractContext


def build_catalog_records(
    conn: psycopg.Connection[Any],
    config: CatalogConfig,
    *,
    full: bool = False,
    paths: list[str] | None = None,
    redis_client: redis.Redis | None = None,
) -> tuple[pd.DataFrame, RefreshResult]:
    """Refresh the catalog and return (records for Notion, what the refresh found).

    Full: every catalogued file (the engine reconciles Notion against it). Incremental: the files that
    changed; the refresh staged them (and deletions and renames) as the engine's pending work in its own
    commit, and the engine's incremental sync adds whatever else is pending for its target (earlier syncs
    cut short, failed rows, another target's leftovers).
    """
    result = refresh_catalog(conn, config, full=full, paths=paths or ())
    repos = [r.name for r in config.roots]
    if full:
        entries = load_entries(conn, repos=repos)
        refresh_components(conn, ((e.key, config.components.component_for(e.path, e.repo)) for e in entries))
        conn.commit()
        vanished: list[str] = []
    else:
        entries = load_entries(conn, keys=sorted(set(result.changed_keys)))
        vanished = [*result.deleted, *(r.old_key for r in result.renamed if not r.page_kept)]
    metadata: dict[str, Any] = dict(result.counts())
    if redis_client is not None:
        outcome = publish_pending(conn, redis_client, config.events_stream, maxlen=config.events_maxlen)
        metadata["events_published"] = outcome.published
        metadata["events_pending"] = outcome.pending
        if outcome.error:
            metadata["events_error"] = outcome.error
    if result.problems:
        metadata["problem_messages"] = result.problem_text()
    frame = catalog_frame(entries, config, mode="full" if full else "incremental", vanished=vanished, metadata=metadata)
    return frame, result


def extract_file_catalog(ctx: ExtractContext) -> pd.DataFrame:
    """The ``file_catalog`` asset's extract (``notion_sync_asset("file_catalog", extract_file_catalog)``)."""
    config = load_catalog_config()
    frame, result = build_catalog_records(
        ctx.ledger, config, full=ctx.config.full, paths=list(ctx.config.paths), redis_client=ctx.redis
    )
    ctx.log.info(
        f"file catalog ({result.mode}): {result.scanned} scanned, {result.hashed} hashed, "
        f"{len(result.added)} added, {len(result.changed)} changed, {len(result.renamed)} renamed, "
        f"{len(result.deleted)} deleted, {len(result.problems)} problems; {len(frame)} records to sync"
    )
    for problem in result.problems[:20]:
        ctx.log.warning(problem.message)
    return frame
