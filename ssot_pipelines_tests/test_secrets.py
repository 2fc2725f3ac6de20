"""Secrets never reach logs, metadata or exceptions: a real run with a real token, searched afterwards."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.assets.provisioning import notion_databases
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.tasks.defs import task_tracking
from ssot_pipelines_tests.notion_helpers import dagster_resources

TOKEN = "ntn_TOP_SECRET_4f1c9e2d7a"


def test_a_full_run_with_a_token_leaves_it_in_no_event_log_or_log_line(
    tmp_path: Path, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    with SandboxServer(tmp_path / "notion.sqlite", tokens=(TOKEN,), rate_limit_rps=None) as sandbox:
        resources: dict[str, Any] = dagster_resources(sandbox, ledger_url, redis_url)
        resources["notion"] = NotionResource(
            token=dg.EnvVar("NOTION_TOKEN"), parent_page_id=sandbox.root_page_id, base_url=sandbox.url,
            requests_per_second=1000.0,
        )
        caplog.set_level(logging.DEBUG)
        with dg.instance_for_test() as instance:
            result = dg.materialize([notion_databases, task_tracking], resources=resources, instance=instance)
            assert result.success
            records = instance.get_event_records(
                dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            )
            logs = instance.all_logs(result.run_id)
            run = instance.get_run_by_id(result.run_id)
    assert records, "the run materialized assets"
    everything = "\n".join(
        [repr(r.event_log_entry) for r in records]
        + [repr(e) for e in logs]
        + [repr(run)]
        + [r.getMessage() for r in caplog.records]
    )
    assert TOKEN not in everything
    assert TOKEN not in repr(NotionResource(token=TOKEN)), "a resource built with the value itself hides it too"
