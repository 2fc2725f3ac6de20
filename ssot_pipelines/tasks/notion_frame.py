"""The ``task_tracking`` extract: staged records imported into the graph, people's Notion edits applied,
then the graph as the records frame the sync engine takes. Plain code (pandas, no Dagster)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ssot_pipelines.notion.codec import is_missing
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.tasks.graph import Connection
from ssot_pipelines.tasks.notion_records import DATABASE, apply_people_edits, record_proposed, task_records
from ssot_pipelines.tasks.staged import import_records

COLUMNS = ["key", "Name", "Task ID", "Status", "Assigned Agent", "Priority", "Claimed By", "Dependencies",
           "SecondBrain Task", "CLI Sessions", "Slack Conversation", "body"]


def task_tracking_frame(
    conn: Connection, manager: NotionSyncManager, staged: Iterable[Mapping[str, Any]] = ()
) -> pd.DataFrame:
    """Import ``staged`` (the ``ssot stage task_tracking`` records), pull and apply people's edits, and
    return the whole graph as a full-sync frame (with what happened in ``frame.attrs["metadata"]``)."""
    conn.commit()
    cleaned = [{k: v for k, v in r.items() if not is_missing(v)} for r in staged]
    imported = import_records(conn, cleaned, agent="stage", origin="stage", withdraw_missing=True)
    pulled = 0
    if DATABASE in manager.ids:
        pulled = manager.pull_human(DATABASE)
    edits = apply_people_edits(conn, manager.human_values_all(DATABASE), manager.target)
    records = task_records(conn)
    record_proposed(conn, records)
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.attrs["sync_mode"] = "full"
    frame.attrs["metadata"] = {
        "tasks": len(records),
        "staged_imported": imported.created + imported.updated,
        "staged_withdrawn": imported.cancelled,
        "staged_refused": len(imported.refused),
        "notion_rows_pulled": pulled,
        "people_status_changes": edits.status,
        "people_reassignments": edits.role,
        "people_priority_changes": edits.priority,
    }
    return frame
