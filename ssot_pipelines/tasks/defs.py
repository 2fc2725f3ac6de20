"""The Dagster skin of the work graph: the ``task_tracking`` asset syncs the graph into Task Tracking."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ssot_pipelines.assets.notion_sync import ExtractContext, notion_sync_asset
from ssot_pipelines.tasks.notion_frame import task_tracking_frame
from ssot_pipelines.tasks.sensors import JOB, task_tracking_sensor


def extract_task_tracking(ctx: ExtractContext) -> pd.DataFrame:
    """People's Notion edits are applied to the graph; the graph is the desired state (``ssot stage
    task_tracking`` imports into the graph directly, so the engine's desired records are the graph's own)."""
    return task_tracking_frame(ctx.ledger, ctx.sync)


task_tracking = notion_sync_asset(
    "task_tracking",
    extract_task_tracking,
    # relation targets first, so Dependencies' peers, SecondBrain Tasks, sessions and threads resolve
    deps=["secondbrain_tasks", "cli_sessions", "slack_conversations"],
    description="The agents' work graph (`ssot task`, `ssot mcp`): status, role and priority shared with "
    "people, dependencies, sessions, the Slack thread, and the activity log as the page body.",
)

task_tracking_job = dg.define_asset_job(
    JOB,
    selection=dg.AssetSelection.assets(task_tracking),
    description="Sync the work graph into Task Tracking (people's edits pulled and applied first).",
)

defs = dg.Definitions(assets=[task_tracking], jobs=[task_tracking_job], sensors=[task_tracking_sensor])
