"""Dagster definitions for static analysis: the Tech-Debt asset and the reports-folder sensor."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ssot_pipelines.analysis.records import tech_debt_frame
from ssot_pipelines.analysis.sensors import analysis_report_sensor
from ssot_pipelines.assets.notion_sync import ExtractContext, notion_sync_asset


def extract_tech_debt(ctx: ExtractContext) -> pd.DataFrame:
    frame = tech_debt_frame(ctx.ledger)
    ctx.ledger.commit()
    return frame


tech_debt = notion_sync_asset(
    "tech_debt",
    extract_tech_debt,
    description="Every static-analysis finding, tracked across analyses (open, fixed, reopened), in Notion.",
)

defs = dg.Definitions(assets=[tech_debt], sensors=[analysis_report_sensor])
