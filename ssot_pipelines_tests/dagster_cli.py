"""Running the ``dagster`` CLI the way a user does, in processes of its own, against the test's services."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def dagster_env(tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a Dagster command: the project's dagster.yaml in a DAGSTER_HOME of its own, and the
    sandbox, ledger and Redis of the test (paced at 1,000 requests/s unless ``NOTION_RPS`` is given)."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "NOTION_TOKEN": SANDBOX_TOKEN,
            "NOTION_BASE_URL": sandbox.url,
            "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
            "NOTION_RPS": "1000",
            "POSTGRES_URL": ledger_url,
            "REDIS_URL": redis_url,
            "SSOT_EMBEDDER": "hashing",
            "SSOT_JOURNAL_DIR": str(tmp_path / "journal"),
            "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
            "CODEX_HOME": str(tmp_path / "codex"),
        }
    )
    env.update(extra)
    return env


def job_command(job: str) -> list[str]:
    return [sys.executable, "-m", "dagster", "job", "execute", "-m", "ssot_pipelines.definitions", "-j", job]


def execute_job(job: str, env: dict[str, str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``dagster job execute`` of ``job``; fails the test with the command's output when the run fails."""
    result = subprocess.run(job_command(job), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return result
