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
    tmp_path: Path,
    ledger_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    with SandboxServer(tmp_path / "notion.sqlite", tokens=(TOKEN,), rate_limit_rps=None) as sandbox:
        resources: dict[str, Any] = dagster_resources(sandbox, ledger_url, redis_url)
        resources["notion"] = NotionResource(
            token=dg.EnvVar("NOTION_TOKEN"),
            parent_page_id=sandbox.root_page_id,
            base_url=sandbox.url,
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


OLD_TOKEN, NEW_TOKEN = "ntn_OLD_rotated_out_7d2e", "ntn_NEW_rotated_in_91ab"


def test_rotating_the_notion_token_changes_nothing_else(
    tmp_path: Path, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notion_client import Client

    from ssot_pipelines.ledger import connect
    from ssot_pipelines.ledger.staging import stage_records

    with connect(ledger_url) as conn:
        stage_records(conn, "task_tracking", [{"key": f"T-{i}", "Name": f"task {i}"} for i in range(3)])
    # One workspace, reachable with the integration's old secret and its new one (Notion's own rotation
    # keeps the integration, its connections and the pages it made).
    with SandboxServer(tmp_path / "notion.sqlite", tokens=(OLD_TOKEN, NEW_TOKEN), rate_limit_rps=None) as sandbox:
        resources: dict[str, Any] = dagster_resources(sandbox, ledger_url, redis_url)
        resources["notion"] = NotionResource(
            token=dg.EnvVar("NOTION_TOKEN"),
            parent_page_id=sandbox.root_page_id,
            base_url=sandbox.url,
            requests_per_second=1000.0,
        )
        monkeypatch.setenv("NOTION_TOKEN", OLD_TOKEN)
        first = dg.materialize([notion_databases, task_tracking], resources=resources)
        assert first.asset_materializations_for_node("task_tracking")[0].metadata["created"].value == 3
        ids = first.asset_materializations_for_node("notion_databases")[0].metadata["ids"].value
        pages_before = _pages(Client(auth=NEW_TOKEN, base_url=sandbox.url), ids["task_tracking"]["data_source_id"])

        monkeypatch.setenv("NOTION_TOKEN", NEW_TOKEN)
        sandbox.tokens = frozenset({NEW_TOKEN})  # the old secret is revoked
        sandbox.reset_stats()
        again = dg.materialize([notion_databases, task_tracking], resources=resources)

        assert again.success
        provisioned = again.asset_materializations_for_node("notion_databases")[0].metadata
        assert provisioned["created"].value == 0 and provisioned["ids"].value == ids, "same target, no new databases"
        synced = again.asset_materializations_for_node("task_tracking")[0].metadata
        assert (synced["created"].value, synced["updated"].value, synced["archived"].value) == (0, 0, 0), str(
            {k: v.value for k, v in synced.items() if k != "preview"}
        )
        stats = sandbox.stats()
        assert stats["writes_applied"] == 0, stats["by_endpoint"]
        assert _pages(Client(auth=NEW_TOKEN, base_url=sandbox.url), ids["task_tracking"]["data_source_id"]) == (
            pages_before
        ), "the same pages, none re-created"


def _pages(client: Any, data_source_id: str) -> dict[str, str]:
    from ssot_pipelines_tests.notion_helpers import live_rows

    return {key: pages[0]["id"] for key, pages in live_rows(client, data_source_id).items()}


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o620, True), (0o600, False)])
def test_an_env_file_other_users_can_read_is_named_with_its_chmod(tmp_path: Path, mode: int, warned: bool) -> None:
    import os
    import subprocess
    import sys

    env_file = tmp_path / ".env"
    env_file.write_text("NOTION_RPS=2.5\n", encoding="utf-8")
    env_file.chmod(mode)
    done = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "SSOT_ENV_FILE": ""},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if warned:
        assert done.stderr.strip().splitlines() == [
            f"ssot: warning: .env holds secrets but other users can {'read' if mode & 0o044 else 'write'} it "
            f"(mode {mode:03o}); run `chmod 600 .env`"
        ]
    else:
        assert done.stderr == ""
