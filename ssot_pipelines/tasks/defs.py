"""The Dagster skin of the work graph: the ``task_tracking`` asset syncs the graph into Task Tracking."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ssot_pipelines.assets.notion_sync import ExtractContext, ledger_records, notion_sync_asset
from ssot_pipelines.tasks.notion_frame import task_tracking_frame
from ssot_pipelines.tasks.sensors import JOB, task_tracking_sensor


def extract_task_tracking(ctx: ExtractContext) -> pd.DataFrame:
    """Records staged with ``ssot stage task_tracking`` are imported into the graph first (a bulk import);
    people's Notion edits are applied; the graph is the desired state."""
    staged = ledger_records("task_tracking")(ctx)
    return task_tracking_frame(ctx.ledger, ctx.sync, staged.to_dict(orient="records") if len(staged) else [])


task_tracking = notion_sync_asset(
    "task_tracking",
    extract_task_tracking,
    # relation targets first, so Dependencies' peers, SecondBrain Tasks, sessions and threads resolve
    deps=["secondbrain_tasks", "cli_sessions", "slack_conversations"],
    description="The agents' work graph (`ssot task`, `ssot mcp`): status, role and priority shared with "
    "people, dependencies, sessions, the Slack thread, and the activity log as the page body.",
)

task_tracking_job = dg.define_asset_job(
    JOB, selection=dg.AssetSelection.assets(task_tracking),
    description="Sync the work graph into Task Tracking (people's edits pulled and applied first).",
)

defs = dg.Definitions(assets=[task_tracking], jobs=[task_tracking_job], sensors=[task_tracking_sensor])
