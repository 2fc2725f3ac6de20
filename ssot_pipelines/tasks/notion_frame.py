"""The ``task_tracking`` extract: people's Notion edits applied to the work graph, then the graph as the
records frame the sync engine takes (staged tasks are imported into the graph by ``ssot stage``). Plain code."""

from __future__ import annotations

import pandas as pd

from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.tasks.graph import Connection
from ssot_pipelines.tasks.notion_records import DATABASE, apply_people_edits, record_proposed, task_records

COLUMNS = [
    "key",
    "Name",
    "Task ID",
    "Status",
    "Assigned Agent",
    "Priority",
    "Claimed By",
    "Dependencies",
    "SecondBrain Task",
    "CLI Sessions",
    "Slack Conversation",
    "body",
]


def task_tracking_frame(conn: Connection, manager: NotionSyncManager) -> pd.DataFrame:
    """Pull and apply people's edits, and return the whole graph as a full-sync frame (with what happened in
    ``frame.attrs["metadata"]``). Staged tasks were already imported into the graph by ``ssot stage``."""
    conn.commit()
    pulled = 0
    if DATABASE in manager.ids:
        pulled = manager.pull_human_many([DATABASE])[DATABASE]
    edits = apply_people_edits(conn, manager.human_values_all(DATABASE), manager.target)
    records = task_records(conn)
    record_proposed(conn, records)
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.attrs["sync_mode"] = "full"
    frame.attrs["metadata"] = {
        "tasks": len(records),
        "notion_rows_pulled": pulled,
        "people_status_changes": edits.status,
        "people_reassignments": edits.role,
        "people_priority_changes": edits.priority,
    }
    return frame
