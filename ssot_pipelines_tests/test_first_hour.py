"""A new user's first hour: services that start the first time, can be seen and stopped, and a CLI that answers.

Every test runs the real thing in real processes: embedded PostgreSQL started from two processes at once, the
``ssot`` command as a subprocess, ``ssot run`` on the quick start's job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines.services.embedded import (
    ensure_embedded_sandbox,
    postmaster_state,
    redis_pid,
    sandbox_processes,
    stop_embedded_sandbox,
)

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("dagster", "pandas")

_START_AND_QUERY = """
import sys
import psycopg
from ssot_pipelines.services.embedded import embedded_postgres_url
url = embedded_postgres_url()
with psycopg.connect(url) as conn:
    print(conn.execute("SELECT 1").fetchone()[0], url)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "REDIS_", "NOTION_", "DAGSTER_"))}
    env.update({"SSOT_HOME": str(home), "PYTHONPATH": str(REPO)}, **extra)
    return env


def _ssot(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", *args],
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=home.parent,
    )


def _ordinary_user_python() -> list[str] | None:
    """How to run this interpreter's minor version as ``nobody`` (root only, with runuser), else None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("runuser") is None:
        return None
    python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin:/usr/local/bin")
    return ["runuser", "-u", "nobody", "--", python] if python else None


def _site_packages() -> str:
    import psycopg

    return str(Path(psycopg.__file__).resolve().parents[1])


@pytest.fixture
def fresh_dir() -> Iterator[Path]:
    """A world-readable folder outside pytest's private tmp (which an ordinary user cannot enter)."""
    folder = Path(tempfile.mkdtemp(prefix="ssot-first-hour-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", "stop"],
        env=_env(folder / "home"),
        capture_output=True,
        timeout=120,
        cwd=folder,
    )
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("user", ["root or this user", "ordinary user"])
def test_two_processes_start_the_embedded_postgres_at_once_on_a_fresh_home(fresh_dir: Path, user: str) -> None:
    home = fresh_dir / "home"
    home.mkdir()
    if user == "ordinary user":
        runner = _ordinary_user_python()
        if runner is None:
            pytest.skip("needs root, runuser and a system python of this version to act as an ordinary user")
        shutil.chown(home, "nobody")
        command = [*runner, "-c", _START_AND_QUERY]
        env = _env(home, PYTHONPATH=f"{REPO}:{_site_packages()}")
    else:
        command = [sys.executable, "-c", _START_AND_QUERY]
        env = _env(home)
    starts = [
        subprocess.Popen(command, env=env, cwd=fresh_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in starts]
    for process, (out, err) in zip(starts, results, strict=True):
        assert process.returncode == 0, err
        assert out.startswith("1 ")
    assert results[0][0] == results[1][0]  # the same server
    state = postmaster_state(home / "postgres")
    assert state is not None and state.answers()


def test_a_postgres_that_cannot_start_says_what_happened_and_what_to_do(fresh_dir: Path) -> None:
    runner = _ordinary_user_python()
    if runner is None:
        pytest.skip("needs root, runuser and a system python of this version to act as an ordinary user")
    home = fresh_dir / "home"
    home.mkdir()  # owned by root, not writable by nobody
    done = subprocess.run(
        [*runner, "-c", _START_AND_QUERY],
        env=_env(home, PYTHONPATH=f"{REPO}:{_site_packages()}"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=fresh_dir,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "the embedded PostgreSQL" in last and "Permission denied" in last
    assert f"make {home} writable by nobody, or set SSOT_HOME to a folder you own" in last


def test_stop_stops_exactly_this_homes_services(
    fresh_dir: Path, test_home: Path, postgres_server_url: str, redis_url: str
) -> None:
    home = fresh_dir / "home"
    port, other_port = _free_port(), _free_port()
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ssot_pipelines.services.embedded import *; embedded_postgres_url(); "
            f"embedded_redis_url(); ensure_embedded_sandbox({port})",
        ],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=fresh_dir,
    )
    assert started.returncode == 0, started.stderr
    ensure_embedded_sandbox(other_port, test_home)  # the other home's sandbox
    try:
        status = {p["part"]: p for p in json.loads(_ssot(home, "status", "--json", SSOT_SANDBOX_PORT=str(port)).stdout)}
        assert all(
            status[part]["running"] and status[part]["pid"] for part in ("PostgreSQL", "Redis", "Notion sandbox")
        )
        assert status["Notion sandbox"]["note"].startswith(f"view: http://127.0.0.1:{port}/ ")
        assert str(home / "postgres") in status["PostgreSQL"]["where"]

        stopped = _ssot(home, "stop")
        assert stopped.returncode == 0, stopped.stderr
        for part in ("PostgreSQL", "Redis", "Notion sandbox"):
            assert f"stopped (pid {status[part]['pid']})" in stopped.stdout
        after = {p["part"]: p for p in json.loads(_ssot(home, "status", "--json").stdout)}
        assert not any(after[part]["running"] for part in ("PostgreSQL", "Redis", "Notion sandbox"))

        # the other home's services still run
        other = postmaster_state(test_home / "postgres")
        assert other is not None and other.answers()
        assert redis_pid(test_home / "redis") is not None
        assert [p.port for p in sandbox_processes(test_home)] == [other_port]
        again = _ssot(home, "stop")
        assert "PostgreSQL      was not running" in again.stdout
    finally:
        stop_embedded_sandbox(test_home)


def _imports_after(home: Path, args: list[str], **extra: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    probe = (
        "import json, sys\nfrom ssot_pipelines.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('IMPORTED=' + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home.parent,
    )
    marker = [line for line in done.stderr.splitlines() if line.startswith("IMPORTED=")]
    assert marker, done.stderr
    return json.loads(marker[-1].removeprefix("IMPORTED=")), done


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["status"],
        ["stop"],
        ["hooks", "print"],
        ["hooks", "--help"],
        ["context", "--help"],
        ["search", "--help"],
        ["catalog", "component", "ssot_pipelines/cli.py"],
        ["drift", "--help"],
        ["analyze", "--help"],
        ["worker", "--help"],
        ["slack", "--help"],
        ["task", "--help"],
        ["mcp", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_agent_commands_import_neither_dagster_nor_pandas(tmp_path: Path, args: list[str]) -> None:
    heavy, done = _imports_after(tmp_path / "home", args)
    assert heavy == [], f"`ssot {' '.join(args)}` imported {heavy}"
    assert "Traceback" not in done.stderr


def test_context_and_search_on_a_ledger_import_neither_dagster_nor_pandas(
    tmp_path: Path, ledger_url: str, redis_url: str
) -> None:
    urls = {"POSTGRES_URL": ledger_url, "REDIS_URL": redis_url, "SSOT_EMBEDDER": "hashing"}
    for args in (
        ["context"],
        ["context", "no-such-session"],
        ["search", "a query"],
        ["slack", "context", "no-such-session"],
        ["slack", "search", "a query"],
        ["task", "ready"],
        ["task", "list"],
    ):
        heavy, done = _imports_after(tmp_path / "home", args, **urls)
        assert heavy == [], f"`ssot {' '.join(args)}` imported {heavy}"
        assert "Traceback" not in done.stderr, done.stderr


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _all_parsers(child)


def test_every_command_and_option_has_help_text_and_the_command_table_is_true() -> None:
    from ssot_pipelines.cli import CAPABILITY_COMMANDS, build_parser

    parser = build_parser("(every module)")
    missing = []
    for prog, sub in _all_parsers(parser):
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{prog} {c.dest}" for c in action._choices_actions if not c.help]
            elif not action.help:
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []

    registered = argparse.ArgumentParser()
    commands = registered.add_subparsers()
    for module in dict.fromkeys(m for m, _ in CAPABILITY_COMMANDS.values()):
        __import__(module, fromlist=["register"]).register(commands)
    helps = {c.dest: c.help for c in commands._choices_actions}
    assert helps == {name: text for name, (_, text) in CAPABILITY_COMMANDS.items()}


def test_schemas_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ssot_pipelines.cli import main

    assert main(["schemas", "--out", str(tmp_path / "schemas")]) == 0
    assert main(["schemas", "--out", str(tmp_path / "schemas")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"wrote 7 schema files to {tmp_path / 'schemas'} (7 changed)",
        f"wrote 7 schema files to {tmp_path / 'schemas'} (0 changed)",
    ]


def test_sensors_and_schedules_start_as_the_readme_says() -> None:
    import dagster as dg

    from ssot_pipelines.definitions import defs

    running = {s.name for s in defs.sensors or [] if s.default_status == dg.DefaultSensorStatus.RUNNING}
    running |= {s.name for s in defs.schedules or [] if s.default_status == dg.DefaultScheduleStatus.RUNNING}
    assert running == {
        "cli_session_sensor",
        "slack_events_sensor",
        "status_page_on_run_failure",
        "cli_session_transcript_sweep",
    }
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert (
        "`cli_session_sensor`, the `slack_events_sensor`, the `status_page_on_run_failure` sensor and the "
        "`cli_session_transcript_sweep` schedule start running; every other sensor and schedule starts stopped"
    ) in readme


def _import_findings(home: Path, repo: Path, ledger_url: str, count: int) -> None:
    """``count`` real ruff findings (unused imports) imported with `ssot analyze import`: rows for Tech-Debt."""
    source = repo / "pkg" / "unused.py"
    source.write_text("".join(f"import mod_{i}\n" for i in range(count)), encoding="utf-8")
    report = home.parent / "ruff.json"
    ruff = Path(sys.executable).with_name("ruff")
    with report.open("w", encoding="utf-8") as out:
        subprocess.run(
            [str(ruff), "check", "--isolated", "--select", "F401", "--output-format", "json", str(source)],
            cwd=repo,
            stdout=out,
            check=False,
            timeout=120,
        )
    imported = _ssot(home, "analyze", "import", str(report), "--repo-root", str(repo), POSTGRES_URL=ledger_url)
    assert imported.returncode == 0, imported.stderr


def test_the_quick_start_job_shows_progress_and_a_failed_step_at_once(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    """`ssot run full_sync_job`: INFO lines as they come, no DEBUG stream, a failed step's error at once, one
    line at the end, exit code 1. A bad SSOT_COMPONENTS fails the File Catalog step; the rest keeps going."""
    home = tmp_path / "home"
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text('"""A tiny package."""\n', encoding="utf-8")
    _import_findings(home, repo, ledger_url, 40)
    sandbox.set_rate_limit(None)
    env = {
        "POSTGRES_URL": ledger_url,
        "REDIS_URL": redis_url,
        "NOTION_TOKEN": "sandbox-token",
        "NOTION_BASE_URL": sandbox.url,
        "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
        "NOTION_RPS": "3",
        "SSOT_REPO_ROOTS": str(repo),
        "SSOT_EMBEDDER": "hashing",
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "CODEX_HOME": str(tmp_path / "codex"),
        "SSOT_COMPONENTS": "nonsense",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "ssot_pipelines.cli", "run", "full_sync_job"],
        env=_env(home, **env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    lines = [line.rstrip("\n") for line in run.stdout]
    assert run.wait(timeout=900) == 1
    text = "\n".join(lines)
    assert " DEBUG " not in text and "- dagster - " not in text  # Dagster's DEBUG stream and prefix are gone
    assert any(
        " tech_debt: tech_debt: 40 created, 0 updated, 0 unchanged, 0 archived, 0 failed" in line for line in lines
    ), text
    failed_at = [
        i
        for i, line in enumerate(lines)
        if line.startswith("ssot run: step file_catalog")
        and "SSOT_COMPONENTS entry 'nonsense' should read name=pattern" in line
    ]
    assert failed_at, text
    assert any(lines[i].startswith("ssot run: step file_catalog FAILED: ") for i in failed_at), text
    run_failure = next(i for i, line in enumerate(lines) if "RUN_FAILURE" in line)
    assert failed_at[0] < run_failure  # shown when it happened, not at the end of the run
    assert "Stack Trace:" not in text  # the traces stay in the run's log (dagster dev)
    assert lines[-1].startswith("ssot run: full_sync_job FAILED after ")
    assert "1 step(s) failed (file_catalog)" in lines[-1] and "SSOT_COMPONENTS entry 'nonsense'" in lines[-1]
    # the engine's progress line (rows done of total, rate, time left) reaches this console while the sync runs
    progress = [i for i, line in enumerate(lines) if " tech_debt: tech_debt: " in line and " of 40 rows in " in line]
    assert progress and "rows/s" in lines[progress[0]], text
    assert progress[0] < next(i for i, line in enumerate(lines) if "tech_debt: tech_debt: 40 created" in line)
    # the run is in the persistent instance that `dagster dev` reads
    assert (home / "dagster" / "dagster.yaml").resolve() == (REPO / "dagster.yaml").resolve()
    assert any((home / "dagster" / "storage").iterdir())


# -- the sandbox view ------------------------------------------------------------------------------------


def _http(url: str) -> str:
    """GET through the view's own door: the token once as ?token= (as `ssot sandbox --view-url` prints it)."""
    import httpx

    with httpx.Client(follow_redirects=True) as browser:  # the view trades the token for a cookie, then redirects
        response = browser.get(url, params={"token": "sandbox-token"})
    assert response.status_code == 200
    return response.text


def test_the_sandbox_view_is_readable_and_says_how_to_fill_an_empty_database(sandbox: Any) -> None:
    from notion_client import Client

    notion = Client(auth="sandbox-token", base_url=sandbox.url, retry=False)
    parent = {"type": "page_id", "page_id": sandbox.root_page_id}

    def text(content: str) -> list[dict[str, Any]]:
        return [{"type": "text", "text": {"content": content}}]

    slack = notion.databases.create(
        parent=parent, title=text("Slack Conversations"), initial_data_source={"properties": {"Name": {"title": {}}}}
    )
    catalog = notion.databases.create(
        parent=parent,
        title=text("File Catalog"),
        initial_data_source={
            "properties": {
                "Name": {"title": {}},
                "Size": {"number": {"format": "number"}},
                "Preview": {"rich_text": {}},
            }
        },
    )
    ds = catalog["data_sources"][0]["id"]
    long_text = "word " * 200
    page = notion.pages.create(
        parent={"type": "data_source_id", "data_source_id": ds},
        properties={
            "Name": {"title": text("big.bin")},
            "Size": {"number": 27408},
            "Preview": {"rich_text": text(long_text)},
        },
    )
    # Timestamps are minute-rounded, so age the databases (in the sandbox's memory, which the view reads) by an
    # hour rather than waiting: their own timestamp is old, the row is new, "last edited" must follow the row.
    for db in (slack, catalog):
        sandbox.api.store.get(db["id"], "database")["edited"] -= 3600
    row_minute = page["last_edited_time"][:16].replace("T", " ")

    index = _http(sandbox.url + "/")
    assert "ssot slack import EXPORT.zip" in index  # how to fill the empty one
    catalog_row = next(r for r in index.split("<tr>") if "File Catalog" in r)
    assert row_minute in catalog_row and ">1<" in catalog_row

    table = _http(f"{sandbox.url}/view/databases/{catalog['id']}")
    assert "27,408" in table and "27408.0" not in table and "27408" not in table
    assert "1 row<" in table and "1 rows" not in table
    assert table.count("File Catalog</h") == 1  # no doubled title
    assert "<details><summary>" in table and long_text.strip() in table  # cut, with the rest a click away

    empty = _http(f"{sandbox.url}/view/databases/{slack['id']}")
    assert "This database is empty" in empty and "ssot slack import EXPORT.zip" in empty

    detail = _http(f"{sandbox.url}/view/pages/{page['id']}")
    assert "<h2>Body</h2>" not in detail  # no body, no heading
    assert "27,408" in detail


def test_status_of_configured_services_redacts_secrets_and_probes_them(tmp_path: Path) -> None:
    closed = _free_port()  # nothing listens there
    done = _ssot(
        tmp_path / "home",
        "status",
        POSTGRES_URL=f"postgresql://alice:pg-secret-1@127.0.0.1:{closed}/ledger",
        REDIS_URL=f"redis://:redis-secret-2@127.0.0.1:{closed}/0",
        NOTION_TOKEN="ntn_notion-secret-3",
        NOTION_PARENT_PAGE_ID="abc",
        PINECONE_API_KEY="pc-secret-4",
    )
    assert done.returncode == 0, done.stderr
    for secret in ("pg-secret-1", "redis-secret-2", "ntn_notion-secret-3", "pc-secret-4"):
        assert secret not in done.stdout
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    assert "configured" in rows["PostgreSQL"] and "does not answer" in rows["PostgreSQL"]
    assert f"postgresql://alice:***@127.0.0.1:{closed}/ledger" in rows["PostgreSQL"]
    assert f"redis://:***@127.0.0.1:{closed}/0" in rows["Redis"]
    assert "configured" in rows["Notion"] and "https://api.notion.com" in rows["Notion"]
    assert "Pinecone index ssot" in rows["Vectors"]


def test_status_shows_the_hook_journals_backlog_and_the_quarantine(tmp_path: Path, ledger_url: str) -> None:
    from ssot_pipelines_tests.sessions_fixtures import hook_payload, run_hook

    journal = tmp_path / "journal"
    for n in range(3):
        event = hook_payload("UserPromptSubmit", "status-session", prompt=f"prompt {n}")
        assert run_hook(event, journal).returncode == 0
    pending = sum(p.stat().st_size for p in journal.iterdir() if p.name != "journal-id")
    before = _ssot(tmp_path / "home", "status", POSTGRES_URL=ledger_url, SSOT_JOURNAL_DIR=str(journal))
    assert before.returncode == 0, before.stderr
    capture = next(line for line in before.stdout.splitlines() if line.startswith("Hook capture"))
    assert f"{pending:,} journal bytes not yet in the ledger, 0 events in quarantine" in capture

    drained = _ssot(tmp_path / "home", "worker", "--once", POSTGRES_URL=ledger_url, SSOT_JOURNAL_DIR=str(journal))
    assert drained.returncode == 0, drained.stderr
    after = _ssot(tmp_path / "home", "status", POSTGRES_URL=ledger_url, SSOT_JOURNAL_DIR=str(journal))
    assert "0 journal bytes not yet in the ledger" in after.stdout
