"""Find or start a background sandbox for commands that need Notion but have no token configured.

The sandbox of an ``SSOT_HOME`` accepts that home's token (``settings.sandbox_token``), read from
``$SSOT_HOME/sandbox-token`` by the server and by every client; it never travels on a command line,
where other users of the machine could read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import NOTION_VERSION_DEFAULT, ConfigurationError, sandbox_token, sandbox_token_path

HEALTH_TIMEOUT_SECONDS = 15.0


class ForeignSandboxError(ConfigurationError):
    """A sandbox answers on the port but refuses this SSOT_HOME's token: it belongs to another home."""


def sandbox_control(
    url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Call a control endpoint (``/__sandbox/...``) with the token; HTTP errors raise ``HTTPError``."""
    request = urllib.request.Request(
        f"{url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = json.loads(response.read())
    return data if isinstance(data, dict) else {}


def sandbox_health(url: str, token: str, timeout: float = 1.0) -> str | None:
    """The root page id if a sandbox answers at ``url`` and accepts ``token``; None if nothing answers.

    A sandbox that answers but refuses the token raises ``ForeignSandboxError``.
    """
    try:
        data = sandbox_control(url, token, "GET", "/__sandbox/health", timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ForeignSandboxError(
                f"a Notion sandbox of another SSOT_HOME (or another user) answers at {url} and refuses this "
                "home's token; set SSOT_SANDBOX_PORT to a free port"
            ) from None
        return None
    except (OSError, ValueError):
        return None
    if not (data.get("ok") and isinstance(data.get("root_page_id"), str)):
        return None
    # A sandbox of an older version answers health to anyone: ask the API itself whether the token is good.
    probe = urllib.request.Request(
        f"{url}/v1/users/me", headers={"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION_DEFAULT}
    )
    try:
        with urllib.request.urlopen(probe, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise ForeignSandboxError(
                f"a Notion sandbox of another SSOT_HOME (or another user) answers at {url} and refuses this "
                "home's token; set SSOT_SANDBOX_PORT to a free port"
            ) from None
    except (OSError, ValueError):
        return None
    return str(data["root_page_id"])


def shutdown_sandbox(url: str, token: str) -> bool:
    """Ask the sandbox at ``url`` to stop; False when nothing (or a sandbox of another home) answers."""
    try:
        return bool(sandbox_control(url, token, "POST", "/__sandbox/shutdown").get("ok"))
    except (OSError, ValueError):
        return False


def ensure_sandbox(home: Path, port: int = 8765, limit_args: Sequence[str] = ()) -> tuple[str, str]:
    """If this home's sandbox answers /__sandbox/health on 127.0.0.1:port return (url, root_page_id); else
    start `python -m ssot_pipelines.sandbox --db home/'notion-sandbox.sqlite' --port port --token-file
    home/'sandbox-token'` as a detached background process (start_new_session, output to
    home/'sandbox.log'), wait until healthy (≤15 s), return. The token is ``sandbox_token(home)``.

    ``limit_args`` are rate-limit options of ``ssot sandbox`` (``--window-budget 180``...) for a new sandbox."""
    url = f"http://127.0.0.1:{port}"
    home = Path(home)
    token = sandbox_token(home)
    root = sandbox_health(url, token)
    if root is not None:
        return url, root
    log_path = home / "sandbox.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(log_fd, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ssot_pipelines.sandbox",
                "--db",
                str(home / "notion-sandbox.sqlite"),
                "--port",
                str(port),
                "--token-file",
                str(sandbox_token_path(home)),
                *limit_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_child_env(),
        )
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    exited_at: float | None = None
    while time.monotonic() < deadline:
        root = sandbox_health(url, token)
        if root is not None:
            return url, root
        if process.poll() is not None and exited_at is None:
            # Another process may have won the race for the port or the file; give it a moment to answer.
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > 5.0:
            raise RuntimeError(f"the Notion sandbox exited with code {process.returncode}; see {log_path}")
        time.sleep(0.1)
    raise RuntimeError(
        f"the Notion sandbox did not become healthy on {url} within {HEALTH_TIMEOUT_SECONDS:.0f} s; see {log_path}"
    )


def _child_env() -> dict[str, str]:
    """The caller's environment, plus this checkout on the path (the package need not be installed)."""
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH", "")) if p)
    return env
