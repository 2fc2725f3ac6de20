"""The analysis and drift assets and sensors run through Dagster against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.analysis.defs import defs as analysis_defs
from ssot_pipelines.analysis.defs import tech_debt
from ssot_pipelines.analysis.runner import run_linter
from ssot_pipelines.analysis.store import record_report
from ssot_pipelines.drift.defs import defs as drift_defs
from ssot_pipelines.drift.defs import drift_board, secondbrain_tasks
from ssot_pipelines.ledger import connect
from ssot_pipelines_tests.notion_helpers import dagster_resources
from ssot_pipelines_tests.test_drift import OFF_SPEC, make_repo


def test_definitions_expose_the_assets_sensors_and_job_by_name(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    merged = dg.Definitions.merge(
        analysis_defs, drift_defs, dg.Definitions(resources=dagster_resources(sandbox, ledger_url, redis_url))
    )
    dg.Definitions.validate_loadable(merged)
    keys = {k.to_user_string() for k in merged.resolve_asset_graph().get_all_asset_keys()}
    assert {"tech_debt", "drift_board", "secondbrain_tasks"} <= keys
    graph = merged.resolve_asset_graph()
    assert dg.AssetKey("file_catalog") in graph.get(dg.AssetKey("drift_board")).parent_keys
    assert {dg.AssetKey("drift_board"), dg.AssetKey("tech_debt")} <= graph.get(
        dg.AssetKey("secondbrain_tasks")
    ).parent_keys
    assert {s.name for s in merged.sensors or []} == {
        "analysis_report_sensor",
        "drift_sensor",
        "drift_on_catalog_change",
    }
    merged.resolve_job_def("drift_board_job")


def test_materializing_the_three_assets_reports_counts_and_previews(
    sandbox: Any, ledger_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "demo")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"demo={root}")
    monkeypatch.setenv("SSOT_DRIFT_THRESHOLD", "0.2")
    monkeypatch.setenv("SSOT_DRIFT_CRITICAL", "0.3")
    (root / "calc" / "arith.py").write_text(OFF_SPEC.replace("import sqlite3", "import sqlite3, os"))
    with connect(ledger_url) as ledger:
        lint = run_linter("ruff", root, ["calc/arith.py", "calc/steady.py"])
        record_report(ledger, lint.report, repo_root=root, source="ruff", analyzed_paths=lint.analyzed)
        ledger.commit()
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    result = dg.materialize([tech_debt, drift_board, secondbrain_tasks], resources=resources)
    assert result.success
    debt = result.asset_materializations_for_node("tech_debt")[0].metadata
    assert debt["created"].value >= 1 and debt["failed"].value == 0 and "preview" in debt
    board = result.asset_materializations_for_node("drift_board")[0].metadata
    assert board["created"].value == 4 and board["new baselines"].value == 4
    tasks = result.asset_materializations_for_node("secondbrain_tasks")[0].metadata
    assert tasks["failed"].value == 0
