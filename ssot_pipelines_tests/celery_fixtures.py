"""Real Celery workers and real `dagster job execute` runs for the distributed-engine tests.

Every process here is started by the test, in its own process group, and stopped by its id afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# "[2026-12-03 07:31:42,925: INFO/ForkPoolWorker-1] step file_catalog of run 544c… started on w1@vm (pid 24167)"
STEP_LINE = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:]+),(?P<ms>\d+): INFO/[^\]]+\] step (?P<step>\S+) of run (?P<run>\S+) "
    r"(?P<what>started|finished) on (?P<worker>\S+) \(pid (?P<pid>\d+)\)"
)


@dataclass(frozen=True)
class StepLine:
    step: str
    run_id: str
    what: str
    worker: str
    pid: int
    at: float


def step_lines(log_text: str) -> list[StepLine]:
    """The worker's own INFO lines for the steps it started and finished."""
    out: list[StepLine] = []
    for line in log_text.splitlines():
        m = STEP_LINE.match(line)
        if m:
            at = datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S").timestamp() + int(m["ms"]) / 1000
            out.append(StepLine(m["step"], m["run"], m["what"], m["worker"], int(m["pid"]), at))
    return out


def with_db(url: str, db: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + db
    return f"{base}?{query}" if query else base


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    return with_db(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def deployment_env(
    tmp: Path, sandbox: Any, ledger_url: str, dagster_pg_url: str, repo_root: Path, **extra: str
) -> dict[str, str]:
    """The environment every process of the deployment shares: run launcher, workers and the ssot CLI."""
    home = tmp / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    for name in ("claude", "codex", "reports"):
        (tmp / name).mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "PYTEST_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        SSOT_EXECUTOR="celery",
        DAGSTER_HOME=str(home),
        DAGSTER_PG_URL=dagster_pg_url,
        POSTGRES_URL=ledger_url,
        REDIS_URL="",  # the embedded Redis under SSOT_HOME: broker, result backend and the Notion pacer
        NOTION_TOKEN=sandbox.token,
        NOTION_BASE_URL=sandbox.url,
        NOTION_PARENT_PAGE_ID=sandbox.root_page_id,
        NOTION_RPS="2.5",
        SSOT_REPO_ROOTS=f"demo={repo_root}",
        CLAUDE_CONFIG_DIR=str(tmp / "claude"),
        CODEX_HOME=str(tmp / "codex"),
        SSOT_REPORTS_DIR=str(tmp / "reports"),
        SSOT_EMBEDDER="hashing",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Worker:
    """One Celery worker process (its own process group) logging to a file."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"@\S+ ready\.", self.text()):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout} s:\n{self.text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


@contextlib.contextmanager
def workers(*specs: tuple[list[str], Path], env: Mapping[str, str], cwd: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        for argv, log_path in specs:
            started.append(Worker(argv, env, log_path, cwd))
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.stop()


def ssot_worker(name: str) -> list[str]:
    return [str(BIN / "ssot"), "celery", "worker", "--name", name, "--concurrency", "1"]


def run(argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def execute_job(job: str, env: Mapping[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`dagster job execute` exactly as a person types it (the executor comes from SSOT_EXECUTOR)."""
    return run(
        [str(BIN / "dagster"), "job", "execute", "-m", "ssot_pipelines.definitions", "-j", job], env, cwd, timeout
    )


def stage_tasks(path: Path, count: int, env: Mapping[str, str], cwd: Path) -> None:
    rows = [
        {"key": f"T-{i}", "Name": f"Task {i}", "Task ID": f"T-{i}", "Assigned Agent": "Executor", "Priority": "P2"}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run([str(BIN / "ssot"), "stage", "task_tracking", str(path)], env, cwd)
    assert result.returncode == 0, result.stdout + result.stderr
