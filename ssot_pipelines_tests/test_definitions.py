"""The code location as Dagster sees it, and the provisioning asset run through Dagster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from ssot_pipelines.definitions import defs
from ssot_pipelines.schemas import ALL_DATABASES
from ssot_pipelines_tests.notion_helpers import dagster_resources

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_load_with_one_asset_per_database_plus_provisioning() -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {d.name for d in ALL_DATABASES} | {"notion_databases"} <= keys
    for job in ("full_sync_job", "incremental_sync_job"):
        defs.resolve_job_def(job)
    schedules = {s.name for s in defs.schedules or []}
    assert {"hourly_incremental_sync", "daily_full_sync"} <= schedules


def test_every_notion_asset_is_in_the_notion_api_pool() -> None:
    graph = defs.resolve_asset_graph()
    for schema in ALL_DATABASES:
        node = graph.get(dg.AssetKey(schema.name))
        assert node.pools == {"notion_api"}, schema.name


def test_dagster_cli_validates_the_code_location() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "ssot_pipelines.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_asset_creates_the_databases_and_reports_them(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines.assets.provisioning import notion_databases
    from ssot_pipelines.tasks.defs import task_tracking

    result = dg.materialize(
        [notion_databases, task_tracking], resources=dagster_resources(sandbox, ledger_url, redis_url)
    )
    assert result.success
    meta = result.asset_materializations_for_node("notion_databases")[0].metadata
    assert meta["created"].value == 7
    again = dg.materialize([notion_databases], resources=dagster_resources(sandbox, ledger_url, redis_url))
    assert again.asset_materializations_for_node("notion_databases")[0].metadata["created"].value == 0
    sync_meta = result.asset_materializations_for_node("task_tracking")[0].metadata
    assert sync_meta["failed"].value == 0 and "preview" in sync_meta


def test_an_extracts_own_figures_never_shadow_the_syncs_in_the_metadata() -> None:
    import pandas as pd

    from ssot_pipelines.assets.notion_sync import report_metadata
    from ssot_pipelines.notion.sync import SyncReport

    report = SyncReport(database="file_catalog", mode="full+reconcile", created=3, seconds=85.0)
    meta = report_metadata(report, pd.DataFrame({"key": ["a"]}), {"seconds": 0.1, "mode": "full", "scanned": 9})
    assert meta["seconds"] == 85.0 and meta["mode"] == "full+reconcile"
    assert meta["extract_seconds"] == 0.1 and meta["extract_mode"] == "full" and meta["scanned"] == 9


def test_the_full_sync_job_reconciles_every_database_and_sweeps_transcripts() -> None:
    config = dg.validate_run_config(defs.resolve_job_def("full_sync_job"), {})["ops"]
    for schema in ALL_DATABASES:
        assert config[schema.name]["config"]["full"] is True, schema.name
    assert config["cli_session_events"]["config"]["sweep"] is True
