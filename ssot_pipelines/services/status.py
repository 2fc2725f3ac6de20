"""What ``ssot status`` reports for each part: embedded or configured, where it is, whether it runs (pid).

Read from files and process tables only (postmaster.pid, redis.pid, the sandbox's command line), plus a
short TCP probe of configured servers, so it answers at once and never starts anything.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ssot_pipelines.services import embedded
from ssot_pipelines.settings import SANDBOX_PORT_DEFAULT, env, redact, ssot_home


@dataclass(frozen=True)
class PartStatus:
    part: str
    mode: str  # "embedded" or "configured"
    where: str  # a URL (secrets redacted) or a data directory
    running: bool | None  # None: not checked (a hosted service)
    pid: int | None = None
    note: str = ""

    def line(self) -> str:
        if self.running is None:
            state = "not checked"
        elif self.running:
            state = f"running (pid {self.pid})" if self.pid else "answers"
        elif self.mode == "configured":
            state = "does not answer"
        else:
            state = "not running"
        note = f"  {self.note}" if self.note else ""
        return f"{self.part:17} {self.mode:10} {state:22} {self.where}{note}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def service_status(home: Path | None = None) -> list[PartStatus]:
    """One entry per part: Notion, PostgreSQL, Redis, vectors, the Dagster instance."""
    home = home or ssot_home()
    postgres = _postgres(home)
    parts = [_notion(home), postgres, _redis(home), _vectors(postgres), _dagster(home)]
    capture = _capture(home, postgres)
    return [*parts, capture] if capture is not None else parts


def _capture(home: Path, postgres: PartStatus) -> PartStatus | None:
    """The hook journal's backlog and the quarantined events, when the ledger is up (never started here)."""
    if not postgres.running:
        return None
    url = env("POSTGRES_URL")
    if not url:
        state = embedded.postmaster_state(home / "postgres")
        if state is None:
            return None
        url = state.url
    import psycopg
    from psycopg.rows import dict_row

    from ssot_pipelines.sessions import journal
    from ssot_pipelines.sessions.store import capture_backlog

    try:
        with psycopg.connect(
            url, connect_timeout=2, options="-c search_path=ssot,public", row_factory=dict_row
        ) as conn:
            backlog = capture_backlog(conn)
    except psycopg.Error:
        return None  # a ledger without the capture tables yet: nothing to report
    return PartStatus(
        "Hook capture",
        "local",
        str(journal.journal_dir()),
        None,
        note=f"{backlog.journal_bytes_pending:,} journal bytes not yet in the ledger, "
        f"{backlog.quarantined:,} events in quarantine (`ssot worker --show-quarantine`)",
    )


def _notion(home: Path) -> PartStatus:
    token = env("NOTION_TOKEN")
    if token:
        base = env("NOTION_BASE_URL") or "https://api.notion.com"
        return PartStatus(
            "Notion",
            "configured",
            redact(base, token),
            None,
            note=f"parent page {env('NOTION_PARENT_PAGE_ID') or '(NOTION_PARENT_PAGE_ID unset)'}",
        )
    port = int(env("SSOT_SANDBOX_PORT") or SANDBOX_PORT_DEFAULT)
    state = home / embedded.SANDBOX_DB_NAME
    ours = embedded.sandbox_processes(home)
    if ours:
        proc = next((p for p in ours if p.port == port), ours[0])
        return PartStatus(
            "Notion sandbox",
            "embedded",
            f"{proc.url} (state {state})",
            True,
            proc.pid,
            note=f"view: {proc.url}/ (with its token: `ssot sandbox --view-url`)",
        )
    note = f"starts on port {port} when a sync needs it; view: `ssot sandbox --view-url`"
    if _tcp_answers("127.0.0.1", port):
        note = f"port {port} is taken by another program or another SSOT_HOME's sandbox: set SSOT_SANDBOX_PORT"
    return PartStatus("Notion sandbox", "embedded", f"state {state}", False, note=note)


def _postgres(home: Path) -> PartStatus:
    url = env("POSTGRES_URL")
    if url:
        return PartStatus("PostgreSQL", "configured", redact(url), _url_answers(url, 5432))
    pgdata = home / "postgres"
    state = embedded.postmaster_state(pgdata)
    if state is not None and state.answers():
        return PartStatus("PostgreSQL", "embedded", f"{pgdata} ({state.url})", True, state.pid)
    return PartStatus("PostgreSQL", "embedded", str(pgdata), False, note="starts when a command needs it")


def _redis(home: Path) -> PartStatus:
    url = env("REDIS_URL")
    if url:
        return PartStatus("Redis", "configured", redact(url), _url_answers(url, 6379))
    data = home / "redis"
    pid = embedded.redis_pid(data)
    if pid is not None:
        return PartStatus("Redis", "embedded", f"{data} (unix://{data / 'redis.sock'})", True, pid)
    return PartStatus("Redis", "embedded", str(data), False, note="starts when a command needs it")


def _vectors(postgres: PartStatus) -> PartStatus:
    key = env("PINECONE_API_KEY")
    if key:
        where = env("PINECONE_HOST") or f"Pinecone index {env('PINECONE_INDEX') or 'ssot'}"
        return PartStatus("Vectors", "configured", redact(where, key), None)
    return PartStatus("Vectors", "embedded", "pgvector in the ledger PostgreSQL", postgres.running, postgres.pid)


def _dagster(home: Path) -> PartStatus:
    dagster_home = env("DAGSTER_HOME")
    pids = _dagster_processes(dagster_home)
    running = bool(pids)
    pid = pids[0] if pids else None
    home_note = (
        f"DAGSTER_HOME={dagster_home}"
        if dagster_home
        else f"DAGSTER_HOME unset: set it to {home / 'dagster'} to see the quick start's runs in `dagster dev`"
    )
    url = env("DAGSTER_PG_URL")
    if url:
        return PartStatus("Dagster instance", "configured", redact(url), running, pid, note=home_note)
    storage = (Path(dagster_home) / "storage") if dagster_home else home / "dagster" / "storage"
    note = home_note + ("; webserver/daemon running" if running else "; no dagster dev / daemon running")
    return PartStatus("Dagster instance", "embedded", f"SQLite in {storage}", running, pid, note=note)


def _dagster_processes(dagster_home: str | None) -> list[int]:
    """``dagster dev``, dagster-webserver and dagster-daemon processes of this DAGSTER_HOME."""
    found = []
    for pid, argv in embedded.process_command_lines():
        cmd = " ".join(argv)
        if not any(k in cmd for k in ("dagster dev", "dagster-webserver", "dagster-daemon", "dagster_webserver")):
            continue
        if (embedded.process_environment(pid, "DAGSTER_HOME") or None) == (dagster_home or None):
            found.append(pid)
    return sorted(found)


def _url_answers(url: str, default_port: int) -> bool:
    """A TCP (or unix socket) probe of a configured server, one second at most."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return Path(parts.path).exists()
    host_query = parse_qs(parts.query).get("host", [])
    if not parts.hostname and host_query and host_query[0].startswith("/"):
        return any(Path(host_query[0]).glob(".s.PGSQL.*"))
    try:
        port = parts.port or default_port
    except ValueError:
        return False
    return _tcp_answers(parts.hostname or "localhost", port)


def _tcp_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
