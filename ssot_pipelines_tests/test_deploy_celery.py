"""The same jobs on a real distributed engine: dagster-celery workers in separate processes.

Each test starts real `ssot celery worker` (or `dagster-celery worker start`) processes against the embedded
Redis, runs `dagster job execute ... -j full_sync_job` with ``SSOT_EXECUTOR=celery`` and reads the outcome
where a person would: the workers' logs, `ssot verify`, and the Notion sandbox over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines_tests.celery_fixtures import (
    BIN,
    StepLine,
    Worker,
    create_database,
    deployment_env,
    drop_database,
    execute_job,
    run,
    ssot_worker,
    stage_tasks,
    step_lines,
    workers,
)
from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager

FULL_SYNC_STEPS = {
    "notion_databases",
    "notion_views",
    "cli_session_events",
    "slack_conversation_events",
    "cli_sessions",
    "file_catalog",
    "drift_board",
    "tech_debt",
    "slack_conversations",
    "task_tracking",
    "secondbrain_tasks",
}
CAPTURE_STEPS = {"cli_session_events", "slack_conversation_events"}  # they write the ledger, not Notion


@pytest.fixture
def dagster_pg_url(postgres_server_url: str) -> Any:
    """A throwaway database for Dagster's own run/event storage (dagster-postgres), apart from the ledger."""
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def _repo(root: Path, files: int) -> set[str]:
    root.mkdir()
    for i in range(files):
        (root / f"module_{i}.py").write_text(f"VALUE = {i}\n")
    return {f"module_{i}.py" for i in range(files)}


def _catalog_keys(sandbox: Any, ledger_url: str, redis_url: str) -> Counter[str]:
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        rows = live_rows(person(sandbox), manager.ids["file_catalog"].data_source_id)
    return Counter({key: len(pages) for key, pages in rows.items()})


def _verify(env: dict[str, str], cwd: Path) -> None:
    result = run([str(BIN / "ssot"), "verify"], env, cwd)
    assert result.returncode == 0, result.stdout + result.stderr


def test_full_sync_spreads_over_two_celery_workers_and_notion_ends_equal_to_the_source(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, dagster_pg_url: str
) -> None:
    files = _repo(tmp_path / "repo", 8)
    env = deployment_env(tmp_path, sandbox, ledger_url, dagster_pg_url, tmp_path / "repo")
    stage_tasks(tmp_path / "tasks.jsonl", 8, env, tmp_path)
    # Notion's real pace: 3 requests/s with almost no burst. Two workers each pacing itself at 2.5 rps
    # would overrun it within a second of overlap; one schedule shared through Redis never does.
    sandbox.set_rate_limit(3.0, burst=2)
    sandbox.reset_stats()

    specs = [(ssot_worker(n), tmp_path / f"{n}.log") for n in ("w1", "w2")]
    with workers(*specs, env=env, cwd=tmp_path) as (w1, w2):
        result = execute_job("full_sync_job", env, tmp_path)
        logs = {w.log_path.stem: step_lines(w.text()) for w in (w1, w2)}
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "RUN_SUCCESS" in result.stdout + result.stderr

    started = {name: [s for s in lines if s.what == "started"] for name, lines in logs.items()}
    ran = Counter(s.step for lines in started.values() for s in lines)
    assert set(ran) == FULL_SYNC_STEPS and set(ran.values()) == {1}, ran  # every step once, none twice
    assert started["w1"] and started["w2"], f"one worker ran everything: {ran}"
    assert {s.worker.split("@")[0] for s in started["w1"]} == {"w1"}
    assert {s.pid for s in started["w1"]}.isdisjoint({s.pid for s in started["w2"]})

    # Notion steps overlapped on the two workers, and Notion never answered 429: the pacer is shared.
    def spans(name: str) -> list[tuple[float, float]]:
        ends = {s.step: s.at for s in logs[name] if s.what == "finished"}
        return [(s.at, ends[s.step]) for s in started[name] if s.step not in CAPTURE_STEPS]  # Notion steps

    overlap = max(min(b1, b2) - max(a1, a2) for a1, b1 in spans("w1") for a2, b2 in spans("w2"))
    assert overlap > 0, "no two Notion steps ran at the same time"
    stats = sandbox.stats()
    assert stats["rate_limited_429"] == 0, stats
    assert stats["writes_applied"] >= len(files) * 2 + 8  # catalog + drift rows + tasks, at least

    _verify(env, tmp_path)
    keys = _catalog_keys(sandbox, ledger_url, redis_url)
    assert {k.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for k in keys} == files, keys
    assert set(keys.values()) == {1}


def test_a_worker_process_killed_mid_step_has_its_step_rerun_and_notion_ends_with_no_duplicate(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, dagster_pg_url: str
) -> None:
    files = _repo(tmp_path / "repo", 14)
    env = deployment_env(tmp_path, sandbox, ledger_url, dagster_pg_url, tmp_path / "repo", NOTION_RPS="4")
    # the second worker is started with the documented dagster-celery command line and `ssot celery config`
    config = tmp_path / "celery.yaml"
    printed = run([str(BIN / "ssot"), "celery", "config"], env, tmp_path)
    assert printed.returncode == 0, printed.stderr
    config.write_text(printed.stdout)
    dagster_celery = [
        str(BIN / "dagster-celery"),
        "worker",
        "start",
        "-A",
        "dagster_celery.app",
        "-y",
        str(config),
        "-q",
        "dagster",
        "--name",
        "w2",
        "--",
        "--concurrency=1",
    ]

    with workers((ssot_worker("w1"), tmp_path / "w1.log"), env=env, cwd=tmp_path) as (w1,):
        job = subprocess.Popen(
            [str(BIN / "dagster"), "job", "execute", "-m", "ssot_pipelines.definitions", "-j", "full_sync_job"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        w2: Worker | None = None
        try:
            victim = _wait_for_step(w1, {"file_catalog"})
            writes = sandbox.stats()["writes_applied"]
            deadline = time.monotonic() + 60
            while sandbox.stats()["writes_applied"] < writes + 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sandbox.stats()["writes_applied"] >= writes + 3
            assert not any(s.step == victim.step and s.what == "finished" for s in step_lines(w1.text()))
            os.kill(victim.pid, signal.SIGKILL)  # the process running the step, mid-write
            # a second machine joins, started the way the docs say
            w2 = Worker(dagster_celery, env, tmp_path / "w2.log", tmp_path)
            output, _ = job.communicate(timeout=600)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait(10)
            if w2 is not None:
                w2.stop()
        logs = w1.text() + (w2.text() if w2 else "")
    assert job.returncode == 0, output[-4000:] + logs[-4000:]
    assert "RUN_SUCCESS" in output
    assert "retry" in w1.text() and "WorkerLostError" in w1.text()
    assert logs.count(f'Started execution of step "{victim.step}"') >= 2  # the killed step ran again

    _verify(env, tmp_path)
    keys = _catalog_keys(sandbox, ledger_url, redis_url)
    assert {k.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for k in keys} == files, keys
    assert set(keys.values()) == {1}, keys


def _wait_for_step(worker: Worker, steps: set[str], timeout: float = 300) -> StepLine:
    """The first of ``steps`` (Notion-writing steps) that ``worker`` starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in step_lines(worker.text()):
            if line.step in steps and line.what == "started":
                return line
        time.sleep(0.05)
    raise AssertionError(f"none of {steps} started:\n{worker.text()[-3000:]}")


def test_the_executor_is_chosen_by_ssot_executor_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssot_pipelines.deploy.executor import selected_executor
    from ssot_pipelines.settings import ConfigurationError

    monkeypatch.delenv("SSOT_EXECUTOR", raising=False)
    assert selected_executor().name == "multiprocess"
    monkeypatch.setenv("SSOT_EXECUTOR", "celery")
    assert selected_executor().name == "celery"
    monkeypatch.setenv("SSOT_EXECUTOR", "kubernetes")
    with pytest.raises(ConfigurationError, match=r"SSOT_EXECUTOR='kubernetes'.*multiprocess, celery"):
        selected_executor()


def test_the_code_location_loads_with_celery_selected_without_reaching_redis(tmp_path: Path) -> None:
    """The broker is resolved when a run starts: loading definitions (code server, sensors) needs no Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "PYTEST_"))}
    env.update(SSOT_EXECUTOR="celery", REDIS_URL="redis://127.0.0.1:9/0", SSOT_HOME=str(tmp_path / "home"))
    validate = [str(BIN / "dagster"), "definitions", "validate", "-m", "ssot_pipelines.definitions"]
    result = run(validate, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "home" / "redis").exists()  # no embedded Redis was started either
    bad = run(validate, {**env, "SSOT_EXECUTOR": "celry"}, tmp_path)
    assert bad.returncode != 0 and "SSOT_EXECUTOR='celry' is not an executor" in bad.stdout + bad.stderr


def test_celery_gets_the_projects_redis_url_in_its_own_spelling() -> None:
    from ssot_pipelines.deploy.broker import celery_url
    from ssot_pipelines.settings import ConfigurationError

    assert celery_url("unix:///tmp/ssot/redis.sock") == "redis+socket:///tmp/ssot/redis.sock"
    assert celery_url("redis://:pw@cache:6379/2") == "redis://:pw@cache:6379/2"
    assert celery_url("rediss://cache:6380/0") == "rediss://cache:6380/0"
    with pytest.raises(ConfigurationError) as err:
        celery_url("amqp://guest:s3cret@rabbit//")
    assert "REDIS_URL" in str(err.value) and "s3cret" not in str(err.value)


def test_ssot_celery_config_names_redis_url_when_it_does_not_answer(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "PYTEST_"))}
    env.update(REDIS_URL="redis://:hunter22@127.0.0.1:9/0", SSOT_HOME=str(tmp_path / "home"))
    result = run([str(BIN / "ssot"), "celery", "config"], env, tmp_path)
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and "hunter22" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
