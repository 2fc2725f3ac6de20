"""Find or start a background sandbox for commands that need Notion but have no token configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HEALTH_TIMEOUT_SECONDS = 15.0


def sandbox_health(url: str, timeout: float = 1.0) -> str | None:
    """The root page id if a sandbox answers at ``url``, else None."""
    try:
        with urllib.request.urlopen(f"{url}/__sandbox/health", timeout=timeout) as response:
            data = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    if isinstance(data, dict) and data.get("ok") and isinstance(data.get("root_page_id"), str):
        return str(data["root_page_id"])
    return None


def ensure_sandbox(home: Path, port: int = 8765) -> tuple[str, str]:
    """If a sandbox answers /__sandbox/health on 127.0.0.1:port return (url, root_page_id); else start
    `python -m ssot_pipelines.sandbox --db home/'notion-sandbox.sqlite' --port port` as a detached
    background process (start_new_session, output to home/'sandbox.log'), wait until healthy (≤15 s), return."""
    url = f"http://127.0.0.1:{port}"
    root = sandbox_health(url)
    if root is not None:
        return url, root
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "sandbox.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines.sandbox", "--db", str(home / "notion-sandbox.sqlite"),
             "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=_child_env(),
        )
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    exited_at: float | None = None
    while time.monotonic() < deadline:
        root = sandbox_health(url)
        if root is not None:
            return url, root
        if process.poll() is not None and exited_at is None:
            # Another process may have won the race for the port or the file; give it a moment to answer.
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > 5.0:
            raise RuntimeError(f"the Notion sandbox exited with code {process.returncode}; "
                               f"see {home / 'sandbox.log'}")
        time.sleep(0.1)
    raise RuntimeError(f"the Notion sandbox did not become healthy on {url} within "
                       f"{HEALTH_TIMEOUT_SECONDS:.0f} s; see {home / 'sandbox.log'}")


def _child_env() -> dict[str, str]:
    """The caller's environment, plus this checkout on the path (the package need not be installed)."""
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH", "")) if p)
    return env
