"""How long the next ordinary run takes after a run was SIGKILLed holding both ``notion_api`` pool slots,
without and with ``dagster-daemon``; and how long the daemon alone takes to fail the dead run and free them.

Each scenario: stage rows in two databases, start ``dagster job execute -j incremental_sync_job`` (new process
group, paced at 4 requests/s so its two Notion steps hold both pool slots for a while), SIGKILL the group
while they do, then time the next ``dagster job execute`` of the same job. The baseline is the same next
run with no killed run before it. Before the fix the next run waited forever.

Run: ``.venv/bin/python benchmarks/killed_run_recovery.py``. Uses POSTGRES_URL / REDIS_URL or the embedded
services (a throwaway ledger database) and its own sandbox and DAGSTER_HOME. Prints figures only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger_db import ROOT, throwaway_ledger

from ssot_pipelines.ledger.staging import stage_records
from ssot_pipelines.notion.setup import resolve_redis_url
from ssot_pipelines.sandbox import SandboxServer

SANDBOX_TOKEN = "sandbox-token"  # the token this benchmark's own sandbox accepts

JOB = "incremental_sync_job"
ROWS = 120


def job(env: dict[str, str], cwd: Path, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "ssot_pipelines.definitions", "-j", JOB],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **popen,
    )


def instance_state(env: dict[str, str]) -> tuple[int, int]:
    """(claimed pool slots, runs in progress), read through Dagster's own instance class: ours would free
    the dead runs' slots on opening, which is what is being timed."""
    code = (
        "import os; from dagster import DagsterInstance; from dagster._core.instance.ref import InstanceRef;"
        "from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter;"
        "ref = InstanceRef.from_dir(os.environ['DAGSTER_HOME'])._replace(custom_instance_class_data=None);"
        "i = DagsterInstance.from_ref(ref);"
        "slots = len(i.event_log_storage.get_concurrency_info('notion_api').claimed_slots);"
        "runs = len(i.get_run_records(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)));"
        "print(slots, runs)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    slots, runs = out.stdout.strip().splitlines()[-1].split()
    return int(slots), int(runs)


def stage(conn: Any, round_no: int) -> None:
    for database in ("task_tracking", "slack_conversations"):
        title = "Name" if database == "task_tracking" else "Title"
        stage_records(
            conn, database, [{"key": f"R{round_no}-{i}", title: f"row {i} of round {round_no}"} for i in range(ROWS)]
        )
        conn.commit()


def kill_while_holding_both_slots(env: dict[str, str], cwd: Path, conn: Any, round_no: int) -> None:
    stage(conn, round_no)
    run = job({**env, "NOTION_RPS": "4"}, cwd)
    try:
        while instance_state(env)[0] < 2:
            if run.poll() is not None:
                raise SystemExit("the run ended before holding both pool slots; raise ROWS")
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    print(f"  round {round_no}: killed with {instance_state(env)[0]} pool slot(s) claimed")


def wait_idle(env: dict[str, str]) -> None:
    """No run in progress and no slot claimed (the daemon's retry of a failed run included)."""
    deadline = time.monotonic() + 900
    while instance_state(env) != (0, 0) and time.monotonic() < deadline:
        time.sleep(2.0)


def timed_next_run(env: dict[str, str], cwd: Path) -> float:
    t0 = time.monotonic()
    code = job(env, cwd).wait(timeout=1800)
    if code != 0:
        raise SystemExit(f"the next run failed ({code})")
    return time.monotonic() - t0


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="killed-run-bench-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
    sandbox.start()
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    (base / "repo").mkdir()
    daemon: subprocess.Popen[bytes] | None = None
    try:
        with throwaway_ledger("killed_run") as (url, conn):
            env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
            env.update(
                {
                    "DAGSTER_HOME": str(home),
                    "NOTION_TOKEN": SANDBOX_TOKEN,
                    "NOTION_BASE_URL": sandbox.url,
                    "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
                    "NOTION_RPS": "1000",
                    "POSTGRES_URL": url,
                    "REDIS_URL": resolve_redis_url(),
                    "SSOT_EMBEDDER": "hashing",
                    "SSOT_REPO_ROOTS": f"repo={base / 'repo'}",
                    "SSOT_JOURNAL_DIR": str(base / "journal"),
                    "CLAUDE_CONFIG_DIR": str(base / "claude"),
                    "CODEX_HOME": str(base / "codex"),
                }
            )
            timed_next_run(env, base)  # provisioning and first imports out of the way
            stage(conn, 0)  # the same work as a killed round leaves to its next run
            baseline = timed_next_run(env, base)
            print(f"ordinary run, nothing killed before it: {baseline:.1f}s")

            kill_while_holding_both_slots(env, base, conn, 1)
            without = timed_next_run(env, base)
            print(f"next ordinary run after a SIGKILL, no daemon: {without:.1f}s")

            daemon = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "ssot_pipelines.definitions"],
                cwd=base,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(20)  # the daemon's first iterations
            kill_while_holding_both_slots(env, base, conn, 2)
            t0 = time.monotonic()
            while instance_state(env)[0] > 0 and time.monotonic() - t0 < 600:
                time.sleep(1.0)
            print(f"dagster-daemon alone failed the dead run and freed its slots in {time.monotonic() - t0:.1f}s")
            wait_idle(env)  # the daemon retries the failed run (run_retries); let that retry finish first
            kill_while_holding_both_slots(env, base, conn, 3)
            with_daemon = timed_next_run(env, base)
            print(f"next ordinary run after a SIGKILL, daemon running: {with_daemon:.1f}s")
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
