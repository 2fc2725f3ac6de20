"""The File Catalog's Dagster definitions: the asset, a job per sync mode, and the file-change sensor.

The hourly incremental and daily full schedules are the project-wide ``hourly_incremental_sync`` and
``daily_full_sync`` (definitions.py), which run this asset with ``full=False`` / ``full=True``.
"""

from __future__ import annotations

import dagster as dg

from ssot_pipelines.assets.notion_sync import SyncConfig, notion_sync_asset
from ssot_pipelines.catalog.extract import extract_file_catalog
from ssot_pipelines.catalog.sensors import ASSET, INCREMENTAL_JOB, file_change_sensor

file_catalog = notion_sync_asset(
    ASSET,
    extract_file_catalog,
    description="One row per file of SSOT_REPO_ROOTS (path, git blob SHA, type, size, last modified, "
    "preview, component). Incremental by default (what changed since the last sync, or the run config's "
    "paths); full=true rescans, re-hashes what stat says may have changed and reconciles Notion.",
)

file_catalog_incremental_job = dg.define_asset_job(
    INCREMENTAL_JOB,
    selection=[ASSET],
    description="Sync the File Catalog: what changed since the last sync (or only the given paths).",
    tags={"ssot/mode": "incremental"},
)

file_catalog_full_job = dg.define_asset_job(
    "file_catalog_full_job",
    selection=[ASSET],
    config=dg.RunConfig(ops={ASSET: SyncConfig(full=True)}),
    description="Rescan every file and reconcile the File Catalog in Notion against the ledger.",
    tags={"ssot/mode": "full"},
)

defs = dg.Definitions(
    assets=[file_catalog],
    jobs=[file_catalog_incremental_job, file_catalog_full_job],
    sensors=[file_change_sensor],
)
