"""A killed run does not keep the ``notion_api`` pool slots: the next ordinary run finishes, no daemon needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

from ssot_pipelines.cli import main
from ssot_pipelines_tests.dagster_cli import dagster_env, execute_job, job_command
from ssot_pipelines_tests.slack_fixtures import Export, msg, ts_at

POOL = "notion_api"


def _stage(tmp_path: Path, database: str, rows: list[dict[str, Any]]) -> None:
    path = tmp_path / f"{database}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["stage", database, str(path)]) == 0


def _plain_instance() -> DagsterInstance:
    """The instance the runs use (``DAGSTER_HOME``) but as Dagster's own class: opening ours would free the
    slots of dead runs, which is what the next run is to show."""
    ref = InstanceRef.from_dir(os.environ["DAGSTER_HOME"])._replace(custom_instance_class_data=None)
    return DagsterInstance.from_ref(ref)


def _claimed() -> list[Any]:
    with _plain_instance() as instance:
        return list(instance.event_log_storage.get_concurrency_info(POOL).claimed_slots)


def _worker_health(run_id: str) -> WorkerStatus:
    """What run monitoring (``dagster-daemon``) learns from the configured launcher about the run's process."""
    with _plain_instance() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        return instance.run_launcher.check_run_worker_health(run).status


def test_a_sigkilled_run_does_not_keep_the_pool_slots_from_the_next_run(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two databases with enough rows, at a slow pace, that their two steps hold both pool slots for a while.
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    _stage(tmp_path, "task_tracking", [{"key": f"T-{i}", "Name": f"task {i}"} for i in range(120)])
    export = Export(channels=[{"id": "C01ENG", "name": "eng", "members": ["U01ALICE"]}])
    for i in range(120):  # 120 channel days: 120 Slack Conversations
        day = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
        export.add("eng", day, [msg("U01ALICE", f"thread {i}", ts_at(f"{day}T09:00:00"))])
    assert main(["slack", "import", str(export.write_zip(tmp_path / "slack.zip"))]) == 0
    (tmp_path / "repo").mkdir()
    env = dagster_env(
        tmp_path, sandbox, ledger_url, redis_url, SSOT_REPO_ROOTS=f"repo={tmp_path / 'repo'}", NOTION_RPS="4"
    )
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])

    killed = subprocess.Popen(
        job_command("incremental_sync_job"),
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while len(_claimed()) < 2:
            assert killed.poll() is None, "the run ended before its steps held both pool slots"
            assert time.monotonic() < deadline, "the run's steps never held both pool slots"
            time.sleep(0.3)
        time.sleep(1.0)  # the steps are syncing now
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    held = _claimed()
    assert len(held) == 2, "the kill left the slots claimed: without the fix the next run would wait forever"
    [killed_run] = {slot.run_id for slot in held}
    assert _worker_health(killed_run) is WorkerStatus.FAILED  # with a daemon, run monitoring fails it

    # The next ordinary run (no daemon) finishes; the timeout is generous, it only has to end.
    execute_job("incremental_sync_job", {**env, "NOTION_RPS": "1000"}, tmp_path, timeout=600)
    assert _claimed() == []
    with DagsterInstance.get() as instance:
        [record] = instance.get_run_records(RunsFilter(run_ids=[killed_run]))
        assert record.dagster_run.status is DagsterRunStatus.FAILURE
        statuses = [r.dagster_run.status for r in instance.get_run_records(RunsFilter(job_name="incremental_sync_job"))]
        assert statuses.count(DagsterRunStatus.SUCCESS) == 1


def test_a_live_run_keeps_its_slots(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the instance while a run is working frees nothing of it: only dead runs lose their slots."""
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    _stage(tmp_path, "task_tracking", [{"key": f"T-{i}", "Name": f"task {i}"} for i in range(60)])
    env = dagster_env(tmp_path, sandbox, ledger_url, redis_url, NOTION_RPS="4")
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    run = subprocess.Popen(
        job_command("incremental_sync_job"),
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while sandbox.stats()["by_endpoint"].get("pages.create", 0) < 5:  # task_tracking is syncing
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        held = _claimed()
        assert held
        with DagsterInstance.get() as ours:  # our instance class: opening it frees only dead runs' slots
            assert ours.get_run_by_id(held[0].run_id) is not None
        assert {s.run_id for s in _claimed()} == {s.run_id for s in held}
        assert _worker_health(held[0].run_id) is WorkerStatus.RUNNING
        assert run.wait(timeout=600) == 0
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
