"""The three layers and the worker: zero loss through crashes and outages; Redis streams; recall; bridging."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import redis

from ssot_pipelines.services.embedded import embedded_redis_url
from ssot_pipelines.sessions import journal, live
from ssot_pipelines.sessions.bridge import context_pack, derive_links
from ssot_pipelines.sessions.cli import main as ssot_sessions
from ssot_pipelines.sessions.hooks_config import install
from ssot_pipelines.sessions.recall import index_sessions, search
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.sessions.worker import WorkerConfig, drain_journal, run_pass
from ssot_pipelines.vectors import HashingEmbedder
from ssot_pipelines.vectors.pgvector_store import PgVectorStore
from ssot_pipelines_tests.sessions_fixtures import (
    REPO,
    SESSION_A,
    SESSION_B,
    copy_samples,
    hook_env,
    hook_payload,
    run_hook,
)

Conn = psycopg.Connection[dict[str, Any]]


def _write_journal(directory: Path, sessions: int, per_session: int) -> None:
    """Journal records written in one go (the format ssot-hook writes; fsync per event is the hook's job)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(per_session):
        for s in range(sessions):
            payload = json.dumps(hook_payload("PostToolUse", f"load-{s}", n=i, tool_use_id=f"t{s}-{i}"))
            lines.append(journal.encode_record(payload.encode()))
    journal.segment_path(directory).write_bytes(b"".join(lines))


def _count(conn: Conn, like: str = "%") -> int:
    row = conn.execute("SELECT count(*) AS n FROM session_events WHERE session_id LIKE %s", (like,)).fetchone()
    conn.commit()
    return int(row["n"]) if row else 0


def test_worker_killed_mid_flush_loses_and_duplicates_nothing(tmp_path: Path, ledger: Conn, ledger_url: str) -> None:
    directory = tmp_path / "j"
    _write_journal(directory, sessions=4, per_session=10_000)
    code = (
        "import sys; from pathlib import Path; from ssot_pipelines.sessions import worker\n"
        "worker.DRAIN_BATCH = 500\n"
        "cfg = worker.WorkerConfig(postgres_url=sys.argv[1], journal_directory=Path(sys.argv[2]), recall=False)\n"
        "worker.run_pass(cfg)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, ledger_url, str(directory)], cwd=str(REPO), env=hook_env(directory)
    )
    deadline = time.monotonic() + 60
    while _count(ledger, "load-%") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = _count(ledger, "load-%")
    assert 0 < partial < 40_000, "the kill should land mid-flush"
    run_pass(WorkerConfig(postgres_url=ledger_url, journal_directory=directory, recall=False))
    assert _count(ledger, "load-%") == 40_000
    for s in range(4):
        numbers = [
            json.loads(r["raw"])["n"]
            for r in ledger.execute(
                "SELECT raw FROM session_events WHERE session_id = %s ORDER BY ts, seq", (f"load-{s}",)
            ).fetchall()
        ]
        assert numbers == list(range(10_000))


def test_unreachable_postgres_loses_nothing_once_it_answers(tmp_path: Path, ledger: Conn, ledger_url: str) -> None:
    directory = tmp_path / "j"
    for i in range(5):
        assert run_hook(hook_payload("UserPromptSubmit", "pg-down", prompt=f"prompt {i}"), directory).returncode == 0
    closed = "postgresql://postgres:secret-pw@127.0.0.1:1/postgres"
    down = run_pass(WorkerConfig(postgres_url=closed, journal_directory=directory, recall=False))
    assert down.errors and "unreachable" in down.errors[0]
    assert "secret-pw" not in down.errors[0]
    up = run_pass(WorkerConfig(postgres_url=ledger_url, journal_directory=directory, recall=False))
    assert up.errors == [] and up.drain is not None and up.drain.inserted == 5
    assert _count(ledger, "pg-down") == 5


def test_redis_outage_delays_the_live_stream_but_loses_nothing(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str, redis_dir: Path, stop_redis: Any
) -> None:
    directory = tmp_path / "j"
    _write_journal(directory, sessions=2, per_session=50)
    stop_redis()
    during = run_pass(
        WorkerConfig(postgres_url=ledger_url, redis_url=redis_url, journal_directory=directory, recall=False)
    )
    assert any("Redis" in e for e in during.errors)
    assert _count(ledger, "load-%") == 100  # PostgreSQL got everything while Redis was down
    url = embedded_redis_url(redis_dir)
    after = run_pass(WorkerConfig(postgres_url=ledger_url, redis_url=url, journal_directory=directory, recall=False))
    assert after.live_pushed == 100
    client = redis.Redis.from_url(url)
    assert client.xlen(live.stream_key("load-0")) == 50
    assert 0 < client.ttl(live.stream_key("load-0")) <= live.DAY_SECONDS
    ledger.execute("UPDATE session_events SET live_pushed = false")  # as if the ack was lost after Redis took it
    ledger.commit()
    live.push_live(ledger, client)
    assert client.xlen(live.stream_key("load-0")) == 50  # pushed again: no duplicates
    assert {s for s, _ in live.active_sessions(client)} == {"load-0", "load-1"}


def test_search_finds_the_chunk_and_returns_five_paragraphs_either_side(
    tmp_path: Path, ledger: Conn, ledger_url: str
) -> None:
    path = tmp_path / "long.jsonl"
    topics = [f"routine step number {i} of the migration" for i in range(30)]
    topics[15] = "the flaky websocket reconnect test was fixed by raising the heartbeat timeout"
    filler = "filler words " * 120
    lines = [
        json.dumps(
            {
                "type": "user",
                "uuid": f"u{i}",
                "sessionId": "long",
                "timestamp": f"2026-01-01T00:{i:02d}:00Z",
                "message": {"role": "user", "content": f"{t} {filler}"},
            }
        )
        for i, t in enumerate(topics)
    ]
    path.write_text("\n".join(lines) + "\n")
    import_paths(ledger, [path], allow_outside_roots=True)
    store = PgVectorStore(ledger_url)
    embedder = HashingEmbedder()
    assert index_sessions(ledger, store, embedder).sessions == 1
    assert index_sessions(ledger, store, embedder).sessions == 0  # nothing changed, nothing re-embedded
    [hit, *_] = search(ledger, store, embedder, "websocket reconnect heartbeat timeout", top_k=3)
    assert hit.key == "long#1"
    assert any("websocket reconnect" in p for p in hit.matched)
    assert len(hit.before) == 5 and len(hit.after) == 5
    store.close()


def test_context_pack_names_the_previous_session_and_the_last_messages(
    tmp_path: Path, ledger: Conn, ledger_url: str, capsys: Any, monkeypatch: Any
) -> None:
    import_paths(ledger, [copy_samples(tmp_path)], allow_outside_roots=True)
    derive_links(ledger, SESSION_B)
    pack = context_pack(ledger, SESSION_B)
    assert pack is not None
    assert pack.previous[0]["key"] == f"{SESSION_A}#2" and pack.previous[0]["kind"] == "resumed"
    assert "add a changelog entry" in pack.as_markdown()
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    assert ssot_sessions(["context", SESSION_B, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"] == f"{SESSION_B}#1" and data["last_messages"][-1].endswith("Added the entry to CHANGELOG.md.")


def test_session_start_after_compaction_prints_the_bridged_context(
    tmp_path: Path, ledger: Conn, ledger_url: str
) -> None:
    directory = tmp_path / "j"
    run_hook(hook_payload("UserPromptSubmit", "live-1", prompt="refactor the billing module"), directory)
    run_hook(hook_payload("Stop", "live-1", last_assistant_message="Billing now uses the Money type."), directory)
    drain_journal(ledger, directory)
    quiet = run_hook(hook_payload("SessionStart", "live-1", source="startup"), directory, POSTGRES_URL=ledger_url)
    assert quiet.stdout == b""
    result = run_hook(hook_payload("SessionStart", "live-1", source="compact"), directory, POSTGRES_URL=ledger_url)
    assert result.returncode == 0
    context = json.loads(result.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "refactor the billing module" in context and "Money type" in context
    down = run_hook(
        hook_payload("SessionStart", "live-1", source="compact"),
        directory,
        POSTGRES_URL="postgresql://u:p@127.0.0.1:1/x",
    )
    assert down.returncode == 0  # the ledger is down: the journal still knows the last messages
    fallback = json.loads(down.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "refactor the billing module" in fallback and "Money type" in fallback


def test_after_clear_the_new_session_gets_the_previous_sessions_context_from_the_journal(tmp_path: Path) -> None:
    directory = tmp_path / "j"
    run_hook(hook_payload("UserPromptSubmit", "before-clear", prompt="port the CLI to click"), directory)
    run_hook(
        hook_payload(
            "PostToolUse",
            "before-clear",
            tool_name="Edit",
            tool_use_id="t1",
            tool_input={"file_path": "/home/u/proj/cli.py"},
        ),
        directory,
    )
    run_hook(hook_payload("SessionEnd", "before-clear", reason="clear"), directory)
    result = run_hook(hook_payload("SessionStart", "after-clear", source="clear"), directory)
    context = json.loads(result.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "before-clear" in context and "port the CLI to click" in context and "/home/u/proj/cli.py" in context
    other_dir = run_hook(hook_payload("SessionStart", "elsewhere", source="clear", cwd="/other"), directory)
    assert other_dir.stdout == b""


def test_hook_compaction_and_clear_make_linked_segments(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    steps = [
        ("s-old", "SessionStart", {"source": "startup"}),
        ("s-old", "UserPromptSubmit", {"prompt": "one"}),
        ("s-old", "PreCompact", {"trigger": "auto"}),
        ("s-old", "PostCompact", {"compact_summary": "did one"}),
        ("s-old", "SessionStart", {"source": "compact"}),
        ("s-old", "UserPromptSubmit", {"prompt": "two"}),
        ("s-old", "SessionEnd", {"reason": "clear"}),
        ("s-new", "SessionStart", {"source": "clear"}),
        ("s-new", "UserPromptSubmit", {"prompt": "three"}),
    ]
    for session, event, fields in steps:
        run_hook(hook_payload(event, session, **fields), directory)
    drain_journal(ledger, directory)
    derive_links(ledger, "s-old")
    derive_links(ledger, "s-new")
    links = {(r["from_key"], r["to_key"], r["kind"]) for r in ledger.execute("SELECT * FROM session_links")}
    assert links == {("s-old#1", "s-old#2", "compacted"), ("s-old#2", "s-new#1", "cleared")}


def test_hooks_install_merges_idempotently_and_keeps_the_users_settings(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    mine = {"model": "opus", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}}
    settings.write_text(json.dumps(mine))
    assert install(settings, "SSOT_HOME=/x ssot-hook") == 9
    assert install(settings, "SSOT_HOME=/x ssot-hook") == 0
    merged = json.loads(settings.read_text())
    assert merged["model"] == "opus"
    assert [h["command"] for e in merged["hooks"]["Stop"] for h in e["hooks"]] == [
        "notify-send done",
        "SSOT_HOME=/x ssot-hook",
    ]
    assert install(settings, "SSOT_HOME=/y ssot-hook") == 9  # moved: replaced, not added twice
    assert sum(len(e["hooks"]) for e in json.loads(settings.read_text())["hooks"]["Stop"]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert ssot_sessions(["hooks", "install", "--settings", str(broken)]) == 2
    assert broken.read_text() == "{not json"


def test_a_same_id_resume_is_a_new_segment_not_a_link_to_another_session(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    for session, event, fields in [
        ("other", "UserPromptSubmit", {"prompt": "unrelated"}),
        ("same", "SessionStart", {"source": "startup"}),
        ("same", "UserPromptSubmit", {"prompt": "first"}),
        ("same", "SessionStart", {"source": "resume"}),
        ("same", "UserPromptSubmit", {"prompt": "second"}),
    ]:
        run_hook(hook_payload(event, session, **fields), directory)
    drain_journal(ledger, directory)
    derive_links(ledger, "same")
    links = {(r["from_key"], r["to_key"], r["kind"]) for r in ledger.execute("SELECT * FROM session_links")}
    assert links == {("same#1", "same#2", "resumed")}


def test_import_command_reports_what_was_skipped_and_why(
    tmp_path: Path, ledger_url: str, capsys: Any, monkeypatch: Any
) -> None:
    samples = copy_samples(tmp_path)
    partial = samples / "claude" / "-home-u-proj" / "cccc3333.jsonl"
    partial.write_text('{"type":"user","uuid":"x","sessionId":"cccc3333"')
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    assert ssot_sessions(["import", "--allow-outside-roots", str(samples), str(tmp_path / "missing")]) == 0
    out = capsys.readouterr().out
    assert "1 malformed lines kept raw" in out
    assert "1 files end in an unfinished line" in out
    assert "1 paths not found" in out
    assert ssot_sessions(["import", "--allow-outside-roots", str(samples)]) == 0
    assert " 0 new events" in capsys.readouterr().out


def test_worker_and_search_commands_find_what_a_hook_logged(
    tmp_path: Path, ledger_url: str, redis_url: str, capsys: Any, monkeypatch: Any
) -> None:
    directory = tmp_path / "j"
    run_hook(hook_payload("UserPromptSubmit", "cli-1", prompt="why does the invoice total round down?"), directory)
    run_hook(hook_payload("Stop", "cli-1", last_assistant_message="Banker's rounding in Decimal.quantize."), directory)
    for name, value in (
        ("POSTGRES_URL", ledger_url),
        ("REDIS_URL", redis_url),
        ("SSOT_EMBEDDER", "hashing"),
        ("SSOT_JOURNAL_DIR", str(directory)),
    ):
        monkeypatch.setenv(name, value)
    assert ssot_sessions(["worker", "--once"]) == 0
    capsys.readouterr()
    assert ssot_sessions(["context", "--json"]) == 0
    assert [s["session_id"] for s in json.loads(capsys.readouterr().out)] == ["cli-1"]
    from ssot_pipelines.cli import main as ssot

    assert ssot(["search", "invoice total rounding", "--in", "sessions", "--json"]) == 0
    [hit] = json.loads(capsys.readouterr().out)["hits"]
    assert hit["notion_key"] == "cli-1#1"
    assert any("Banker's rounding" in p for p in hit["matched"] + hit["after"])


def test_the_printed_hook_command_works_from_a_shell_in_another_directory(tmp_path: Path) -> None:
    from ssot_pipelines.sessions.hooks_config import hook_command, hook_settings

    command = hook_settings(hook_command(tmp_path / "home"))["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
    payload = json.dumps(hook_payload("PostToolUse", "shell-1", tool_use_id="t1")).encode()
    elsewhere = tmp_path / "some-project"
    elsewhere.mkdir()
    result = subprocess.run(
        ["sh", "-c", command],
        input=payload,
        cwd=elsewhere,
        capture_output=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0 and result.stdout == b""
    [segment] = journal.segments(tmp_path / "home" / "journal")
    [record] = list(journal.read_records(segment, 0, journal.JournalScan()))
    assert journal.hook_input(record.record) == payload
