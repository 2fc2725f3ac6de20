"""Helpers for the CLI-session tests: the sample transcripts, running ssot-hook as Claude Code does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "sessions"
SESSION_A = "aaaa1111-0000-4000-8000-000000000001"
SESSION_B = "bbbb2222-0000-4000-8000-000000000002"
CODEX_SESSION = "019a2d7a-1111-7000-8000-00000000000c"
REPO = Path(__file__).resolve().parents[1]

# The command `ssot hooks install` writes (PYTHONPATH comes from hook_env).
HOOK_ARGS = [sys.executable, "-S", "-c", "from ssot_pipelines.sessions.hook import main; main()"]


def copy_samples(tmp_path: Path) -> Path:
    """A private copy of the sample transcripts (tests append to and rewrite them)."""
    target = tmp_path / "samples"
    shutil.copytree(DATA, target)
    return target


def hook_env(journal_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_URL", "SSOT_HOOK_POSTGRES_URL")}
    env.update({"SSOT_JOURNAL_DIR": str(journal_dir), "PYTHONPATH": str(REPO)})
    env.update(extra)
    return env


def run_hook(
    payload: Any, journal_dir: Path, *, raw: bytes | None = None, **extra: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ssot-hook the way Claude Code does: JSON on stdin, in the project directory."""
    data = raw if raw is not None else json.dumps(payload).encode()
    return subprocess.run(
        HOOK_ARGS,
        input=data,
        capture_output=True,
        env=hook_env(journal_dir, **extra),
        cwd=str(REPO),
        timeout=30,
        check=False,
    )


def hook_payload(event: str, session_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "hook_event_name": event,
        "session_id": session_id,
        "cwd": "/home/u/proj",
        "transcript_path": f"/nonexistent/{session_id}.jsonl",
        **fields,
    }
