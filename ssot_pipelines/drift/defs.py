"""Dagster definitions for drift: the Drift Board and SecondBrain Tasks assets, and their sensors."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ssot_pipelines.assets.notion_sync import ExtractContext, notion_sync_asset
from ssot_pipelines.catalog.config import parse_roots
from ssot_pipelines.drift.assess import accept_current_state, assess_drift
from ssot_pipelines.drift.baseline import pending_notion_accepts
from ssot_pipelines.drift.files import tracked_files_from_catalog
from ssot_pipelines.drift.records import drift_board_frame
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.sensors import drift_board_job, drift_on_catalog_change, drift_sensor
from ssot_pipelines.drift.tasks import drift_problems, reconcile_tasks, tasks_frame, tech_debt_problems
from ssot_pipelines.drift.workspace import cached_embedder, open_workspace
from ssot_pipelines.settings import env


def extract_drift_board(ctx: ExtractContext) -> pd.DataFrame:
    """Apply baselines accepted in Notion, score every tracked file, return the board."""
    ctx.sync.pull_human_many(["drift_board"])
    workspace = open_workspace(ctx.ledger)
    embedder = cached_embedder(ctx.embedder(), ctx.ledger)
    accepted_keys = set(pending_notion_accepts(ctx.ledger))
    ctx.ledger.commit()
    if accepted_keys:
        accepted = accept_current_state(
            ctx.ledger,
            [f for f in workspace.files if f.key in accepted_keys],
            workspace.components,
            embedder,
            by="notion",
        )
        ctx.log.info(f"accepted the current state of {accepted} file(s) as their baseline (Drift Board Status)")
    assessment = assess_drift(ctx.ledger, workspace.files, workspace.components, embedder, DriftThresholds.from_env())
    ctx.log.info(
        f"drift analysis {assessment.analysis_id}: {assessment.scored} files in "
        f"{assessment.seconds:.1f}s, bands {dict(assessment.bands)}"
    )
    frame = drift_board_frame(ctx.ledger, [f.key for f in workspace.files])
    ctx.ledger.commit()
    frame.attrs["metadata"] = {
        **frame.attrs.get("metadata", {}),
        "analysis id": assessment.analysis_id,
        "new baselines": assessment.new_baselines,
        "unreadable": len(assessment.unreadable),
    }
    return frame


def extract_secondbrain_tasks(ctx: ExtractContext) -> pd.DataFrame:
    """Problems now (drift over threshold, untriaged blocker/critical debt) → one task each."""
    # one search tells which of the two a person edited since the last pull; only those are queried
    ctx.sync.pull_human_many(["secondbrain_tasks", "tech_debt"])
    catalogued = [f.key for f in tracked_files_from_catalog(ctx.ledger, parse_roots(env("SSOT_REPO_ROOTS")))]
    # Without a File Catalog every scored file counts; with one, files that left it raise nothing.
    problems = drift_problems(ctx.ledger, DriftThresholds.from_env(), catalogued or None)
    problems += tech_debt_problems(ctx.ledger)
    changes = reconcile_tasks(ctx.ledger, problems)
    frame = tasks_frame(ctx.ledger)
    ctx.ledger.commit()
    frame.attrs["metadata"] = {
        **frame.attrs.get("metadata", {}),
        "opened": len(changes.opened),
        "resolved": len(changes.resolved),
        "recurred": len(changes.recurred),
    }
    return frame


drift_board = notion_sync_asset(
    "drift_board",
    extract_drift_board,
    deps=["file_catalog"],
    description="Each file's drift from its accepted baseline and its component's spec, explained, in Notion.",
)
secondbrain_tasks = notion_sync_asset(
    "secondbrain_tasks",
    extract_secondbrain_tasks,
    deps=["drift_board", "tech_debt"],
    description="One task per drift or blocker/critical tech-debt problem, closed when the problem goes away.",
)

defs = dg.Definitions(
    assets=[drift_board, secondbrain_tasks], sensors=[drift_sensor, drift_on_catalog_change], jobs=[drift_board_job]
)
