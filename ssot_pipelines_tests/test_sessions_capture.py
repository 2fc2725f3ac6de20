"""Capture: ssot-hook and its journal, and the transcript importer (Claude Code and Codex)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.sessions import journal
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.sessions.worker import drain_journal
from ssot_pipelines_tests.sessions_fixtures import (
    CODEX_SESSION,
    REPO,
    SESSION_A,
    SESSION_B,
    copy_samples,
    hook_env,
    hook_payload,
    run_hook,
)

Conn = psycopg.Connection[dict[str, Any]]


def _events(conn: Conn, session_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM session_events WHERE session_id = %s ORDER BY ts, seq", (session_id,))
    return [dict(r) for r in rows.fetchall()]


def test_hook_journals_the_exact_input_prints_nothing_and_exits_zero(tmp_path: Path) -> None:
    payload = hook_payload(
        "PostToolUse", "s1", tool_name="Write", tool_input={"file_path": "/p/x", "content": "é"}, tool_use_id="toolu_9"
    )
    raw = json.dumps(payload, indent=3).encode()
    result = run_hook(None, tmp_path / "j", raw=raw)
    assert result.returncode == 0
    assert result.stdout == b""
    [segment] = journal.segments(tmp_path / "j")
    [record] = list(journal.read_records(segment, 0, journal.JournalScan()))
    assert journal.hook_input(record.record) == raw


def test_hook_exits_zero_and_keeps_garbage_input(tmp_path: Path, ledger: Conn) -> None:
    for raw in (b"not json at all", b"\xff\xfe binary", b"", b"[1, 2]"):
        assert run_hook(None, tmp_path / "j", raw=raw).returncode == 0
    report = drain_journal(ledger, tmp_path / "j")
    assert report.inserted == 4
    kinds = [r["kind"] for r in _events(ledger, "unknown")]
    assert kinds == ["hook:unparseable"] * 4


def test_hook_exits_zero_when_the_journal_cannot_be_written(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    result = run_hook(hook_payload("Stop", "s1"), blocked / "journal")
    assert result.returncode == 0
    assert b"SSOT_JOURNAL_DIR" in result.stderr
    assert result.stdout == b""


def test_hook_imports_only_the_standard_library(tmp_path: Path) -> None:
    code = (
        'import sys, io; sys.stdin = io.TextIOWrapper(io.BytesIO(b\'{"hook_event_name":"Stop"}\'));'
        "from ssot_pipelines.sessions.hook import main; main();"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('dagster','pandas','psycopg','redis','pydantic','numpy','httpx','notion_client')];"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=hook_env(tmp_path / "j"),
        cwd=str(REPO),
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == b"[]"


def test_eight_concurrent_writers_lose_nothing_and_keep_order_per_session(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    code = (
        "import sys, json; from ssot_pipelines.sessions import journal\n"
        "sid = sys.argv[1]\n"
        "for i in range(1000):\n"
        "    data = json.dumps({'hook_event_name': 'PostToolUse', 'session_id': sid, 'n': i,\n"
        "                       'tool_response': 'x' * (i % 7 * 1500)}).encode()\n"
        "    journal.append(journal.encode_record(data), journal.journal_dir())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, f"writer-{n}"], env=hook_env(directory), cwd=str(REPO))
        for n in range(8)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    report = drain_journal(ledger, directory)
    assert report.inserted == 8000 and report.malformed == 0
    for n in range(8):
        numbers = [json.loads(r["raw"])["n"] for r in _events(ledger, f"writer-{n}")]
        assert numbers == list(range(1000))


def test_journal_reader_waits_for_a_partial_last_line_and_recovers_a_torn_one(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    good = journal.encode_record(b'{"hook_event_name":"Stop","session_id":"s1"}')
    path = Path(journal.append(good, directory))
    with path.open("ab") as fh:  # a crash mid-write, then the next hook's record appended to it
        fh.write(good[:20])
    journal.append(journal.encode_record(b'{"hook_event_name":"Stop","session_id":"s2"}'), directory)
    with path.open("ab") as fh:
        fh.write(b'{"v":1,"id":"hook:half')
    report = drain_journal(ledger, directory)
    assert report.inserted == 3  # s1, s2, and the torn fragment kept raw
    assert report.waiting_tail_bytes > 0
    assert len(_events(ledger, "s2")) == 1
    assert [r["kind"] for r in _events(ledger, "unknown")] == ["journal:malformed"]
    assert drain_journal(ledger, directory).inserted == 0  # repeatable


def test_import_keeps_every_line_kind_and_is_rerunnable(tmp_path: Path, ledger: Conn) -> None:
    samples = copy_samples(tmp_path)
    first = import_paths(ledger, [samples], allow_outside_roots=True)
    assert first.inserted > 0
    assert sum(first.malformed.values()) == 1
    again = import_paths(ledger, [samples], allow_outside_roots=True)
    assert again.inserted == 0
    kinds = {r["kind"] for r in _events(ledger, SESSION_A)}
    assert {
        "prompt",
        "assistant",
        "thinking",
        "tool_use",
        "tool_result",
        "compact_boundary",
        "compact_summary",
        "summary",
        "file-history-snapshot",
        "some-future-type",
        "malformed",
    } <= kinds
    sidechain = [r for r in _events(ledger, SESSION_A) if r["is_sidechain"]]
    assert [r["agent_id"] for r in sidechain] == ["x1", "x1"]
    original = (samples / "claude" / "-home-u-proj" / f"{SESSION_A}.jsonl").read_text().splitlines()
    stored = {r["raw"] for r in _events(ledger, SESSION_A)}
    assert set(original) <= stored  # every line, byte for byte (the resume copy's summary lives in B)


def test_resume_copies_are_not_duplicated(tmp_path: Path, ledger: Conn) -> None:
    samples = copy_samples(tmp_path)
    import_paths(ledger, [samples], allow_outside_roots=True)
    uuids = [r["message_uuid"] for r in _events(ledger, SESSION_A) if r["message_uuid"]]
    assert len(uuids) == len(set(uuids))
    own = [r["message_uuid"] for r in _events(ledger, SESSION_B) if r["message_uuid"]]
    assert own == ["u-3", "a-6"]


def test_codex_rollout_lines_are_imported_with_calls_joined(tmp_path: Path, ledger: Conn) -> None:
    import_paths(ledger, [copy_samples(tmp_path) / "codex"], allow_outside_roots=True)
    events = _events(ledger, CODEX_SESSION)
    assert len(events) == 11
    assert [e["tool_use_id"] for e in events if e["kind"] in ("tool_use", "tool_result")] == ["call_1", "call_1"]
    assert events[0]["cwd"] == "/home/u/proj" and events[0]["tool"] == "codex"


def test_partial_last_line_is_read_once_complete(tmp_path: Path, ledger: Conn) -> None:
    path = tmp_path / "claude" / "p" / "s9.jsonl"
    path.parent.mkdir(parents=True)
    line = json.dumps(
        {
            "type": "user",
            "uuid": "u1",
            "sessionId": "s9",
            "timestamp": "2026-01-01T00:00:00Z",
            "message": {"role": "user", "content": "hello"},
        }
    )
    path.write_text(line[:30])
    report = import_paths(ledger, [path], allow_outside_roots=True)
    assert report.inserted == 0 and report.waiting_tail
    with path.open("a") as fh:
        fh.write(line[30:] + "\n")
    assert import_paths(ledger, [path], allow_outside_roots=True).inserted == 1


def test_ten_megabyte_tool_output_is_kept_whole(tmp_path: Path, ledger: Conn) -> None:
    big = "0123456789abcdef" * (10 * 1024 * 1024 // 16)
    path = tmp_path / "s10.jsonl"
    path.write_text(
        json.dumps(
            {
                "type": "user",
                "uuid": "t1",
                "sessionId": "s10",
                "timestamp": "2026-01-01T00:00:00Z",
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": big}],
                },
            }
        )
        + "\n"
    )
    import_paths(ledger, [path], allow_outside_roots=True)
    [event] = _events(ledger, "s10")
    assert json.loads(event["raw"])["message"]["content"][0]["content"] == big


def test_a_rewritten_transcript_is_read_again_without_duplicates(tmp_path: Path, ledger: Conn) -> None:
    samples = copy_samples(tmp_path)
    path = samples / "claude" / "-home-u-proj" / f"{SESSION_B}.jsonl"
    import_paths(ledger, [path], allow_outside_roots=True)
    before = len(_events(ledger, SESSION_B))
    lines = path.read_text().splitlines()
    new = json.dumps(
        {
            "type": "user",
            "uuid": "u-4",
            "sessionId": SESSION_B,
            "timestamp": "2026-06-22T09:01:00Z",
            "message": {"role": "user", "content": "and bump the version"},
        }
    )
    path.write_text("\n".join([lines[0], new, *lines[1:]]) + "\n")  # rewritten, not appended
    report = import_paths(ledger, [path], allow_outside_roots=True)
    assert report.rewritten_files == [str(path.resolve())]
    assert report.inserted == 1
    assert len(_events(ledger, SESSION_B)) == before + 1


def test_lines_with_the_same_timestamp_keep_their_file_order(tmp_path: Path, ledger: Conn) -> None:
    path = tmp_path / "same-ts.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "type": "user",
                    "uuid": f"z{i:03d}"[::-1],
                    "sessionId": "same-ts",
                    "timestamp": "2026-01-01T00:00:00.000Z",
                    "message": {"role": "user", "content": f"message {i}"},
                }
            )
            + "\n"
            for i in range(50)
        )
    )
    import_paths(ledger, [path], allow_outside_roots=True)
    contents = [json.loads(r["raw"])["message"]["content"] for r in _events(ledger, "same-ts")]
    assert contents == [f"message {i}" for i in range(50)]


def test_eight_sessions_running_the_real_hook_at_once_keep_every_event_in_order(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    code = (
        "import json, subprocess, sys\n"
        "sid, hook = sys.argv[1], sys.argv[2:]\n"
        "for i in range(20):\n"
        "    data = json.dumps({'hook_event_name': 'PostToolUse', 'session_id': sid, 'n': i}).encode()\n"
        "    subprocess.run(hook, input=data, check=True)\n"
    )
    from ssot_pipelines_tests.sessions_fixtures import HOOK_ARGS

    procs = [
        subprocess.Popen([sys.executable, "-c", code, f"real-{n}", *HOOK_ARGS], env=hook_env(directory), cwd=str(REPO))
        for n in range(8)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    assert drain_journal(ledger, directory).inserted == 160
    for n in range(8):
        assert [json.loads(r["raw"])["n"] for r in _events(ledger, f"real-{n}")] == list(range(20))


def test_codex_hook_events_are_recorded_as_codex(tmp_path: Path, ledger: Conn) -> None:
    from ssot_pipelines_tests.sessions_fixtures import HOOK_ARGS

    data = json.dumps(hook_payload("UserPromptSubmit", "codex-hook", prompt="hi")).encode()
    subprocess.run(
        [*HOOK_ARGS, "--tool", "codex"], input=data, env=hook_env(tmp_path / "j"), cwd=str(REPO), check=True, timeout=30
    )
    drain_journal(ledger, tmp_path / "j")
    assert [r["tool"] for r in _events(ledger, "codex-hook")] == ["codex"]


def test_a_stuck_writer_holding_the_journal_lock_does_not_hang_the_hook(tmp_path: Path, ledger: Conn) -> None:
    import fcntl
    import os
    import time

    directory = tmp_path / "j"
    segment = journal.segment_path(directory)
    directory.mkdir()
    fd = os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer that never lets go
    try:
        start = time.monotonic()
        result = run_hook(hook_payload("Stop", "stuck"), directory)
        assert result.returncode == 0 and time.monotonic() - start < 10
    finally:
        os.close(fd)
    assert drain_journal(ledger, directory).inserted == 1


def test_old_segments_are_deleted_only_after_every_byte_is_committed(tmp_path: Path, ledger: Conn) -> None:
    directory = tmp_path / "j"
    directory.mkdir()
    old = directory / "20200101.jsonl"
    old.write_bytes(journal.encode_record(b'{"hook_event_name":"Stop","session_id":"old"}'))
    journal.append(journal.encode_record(b'{"hook_event_name":"Stop","session_id":"new"}'), directory)
    drain_journal(ledger, directory)
    assert old.exists()  # committed just now: deleted on a later pass, never before the commit
    drain_journal(ledger, directory)
    assert not old.exists()
    assert len(_events(ledger, "old")) == 1 and len(journal.segments(directory)) == 1
