"""Capture you can trust (issue 9): hostile hook input, poison events, several journals on one ledger,
untrusted transcript paths, same-id lines, unterminated last lines, every Codex record kind, no phantom links.

Everything goes through the installed hook command and the real ``ssot`` commands in their own processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.sessions import journal
from ssot_pipelines.sessions.bridge import derive_links
from ssot_pipelines.sessions.records import session_records
from ssot_pipelines_tests.sessions_fixtures import REPO, hook_payload, run_hook

Conn = psycopg.Connection[dict[str, Any]]

PLACEHOLDER = "@@HOSTILE@@"
# What may arrive in any field: a JSON-escaped lone surrogate, the same surrogate as raw (CESU-8) bytes,
# bytes that are not UTF-8, an escaped NUL and a raw NUL byte.
HOSTILE = {
    "escaped lone surrogate": b"\\ud800x",
    "raw surrogate bytes": b"\xed\xa0\x80x",
    "invalid UTF-8": b"\xff\xfex",
    "escaped NUL": b"a\\u0000b",
    "raw NUL": b"a\x00b",
}
FIELDS = ("session_id", "hook_event_name", "cwd", "transcript_path", "prompt", "source", "tool_use_id")


def ssot(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The real ``ssot`` command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(cwd),
        timeout=300,
        check=False,
    )


def command_env(tmp_path: Path, ledger_url: str, redis_url: str, journal_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSOT_HOOK_POSTGRES_URL",)}
    env.update(
        {
            "POSTGRES_URL": ledger_url,
            "REDIS_URL": redis_url,
            "SSOT_JOURNAL_DIR": str(journal_dir),
            "SSOT_EMBEDDER": "hashing",
            "PYTHONPATH": str(REPO),
            "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
            "CODEX_HOME": str(tmp_path / "codex"),
            "SSOT_TRANSCRIPT_ROOTS": "",
        }
    )
    env.update(extra)
    return env


def hostile_event(field: str, value: bytes) -> bytes:
    payload = hook_payload(
        "UserPromptSubmit", "hostile-session", prompt="hello", source="startup", tool_use_id="toolu_1"
    )
    payload[field] = PLACEHOLDER
    return json.dumps(payload).encode().replace(PLACEHOLDER.encode(), value)


def _count(conn: Conn, sql: str, *params: Any) -> int:
    row = conn.execute(sql, params or None).fetchone()
    conn.commit()
    return int(next(iter(row.values()))) if row else 0


def test_hostile_bytes_in_every_hook_field_never_fail_the_hook_and_nothing_is_lost(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    directory = tmp_path / "j"
    sent: list[bytes] = []
    for field in FIELDS:
        for value in HOSTILE.values():
            data = hostile_event(field, value)
            result = run_hook(None, directory, raw=data)
            assert result.returncode == 0, result.stderr
            assert result.stdout == b""
            sent.append(data)
    # The reproduction: a prompt with a lone surrogate, then SessionStart(source=resume) printing the bridge.
    for data in (
        hostile_event("prompt", b"fix \\udc00 this"),
        json.dumps(hook_payload("SessionStart", "hostile-session", source="resume")).encode(),
    ):
        result = run_hook(None, directory, raw=data)
        assert result.returncode == 0, result.stderr
        sent.append(data)
    context = json.loads(result.stdout.decode("utf-8"))["hookSpecificOutput"]["additionalContext"]
    assert "fix \ufffd this" in context  # strict UTF-8 decoding above: the output is valid UTF-8

    [segment] = journal.segments(directory)
    received = [journal.hook_input(r.record) for r in journal.read_records(segment, 0, journal.JournalScan())]
    assert received == sent  # journaled byte for byte

    out = ssot(
        ["worker", "--once", "--no-recall", "--no-tail"], command_env(tmp_path, ledger_url, redis_url, directory)
    )
    assert out.returncode == 0, out.stderr
    stored = _count(ledger, "SELECT count(*) FROM session_events WHERE source = 'hook'")
    held = _count(ledger, "SELECT count(*) FROM session_quarantine WHERE released_at IS NULL")
    assert stored + held == len(sent) and held > 0
    assert f"{held} in quarantine" in out.stdout
    # Every event is either in the ledger as it was sent, or in the quarantine with its exact bytes.
    raws = {bytes(r["raw"]) for r in ledger.execute("SELECT raw FROM session_quarantine")}
    raws |= {r["raw"].encode() for r in ledger.execute("SELECT raw FROM session_events WHERE source = 'hook'")}
    raws |= {
        json.loads(r["raw"])["stdin_b64"].encode()
        for r in ledger.execute("SELECT raw FROM session_events WHERE raw LIKE '{\"stdin_b64\"%'")
    }
    import base64

    assert all(d in raws or base64.b64encode(d) in raws for d in sent)
    reasons = {r["reason"] for r in ledger.execute("SELECT reason FROM session_quarantine")}
    assert any("session_id" in r for r in reasons) and any("NUL" in r for r in reasons)
    ledger.commit()
    # The session's page can be built: what it shows is always storable text.
    rows = session_records(ledger, "hostile-session")
    assert rows and "\x00" not in rows[0]["body"]
    rows[0]["body"].encode("utf-8")


def _block_session(conn: Conn, session_id: str) -> None:
    """A database that refuses one session's rows until it is repaired (a constraint, a broken extension)."""
    conn.execute(
        "CREATE FUNCTION refuse_blocked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.session_id = '{session_id}' THEN RAISE EXCEPTION 'rows of {session_id} are refused'; "
        "END IF; RETURN NEW; END $$"
    )
    conn.execute(
        "CREATE TRIGGER refuse_blocked BEFORE INSERT ON session_events FOR EACH ROW EXECUTE FUNCTION refuse_blocked()"
    )
    conn.commit()


def test_a_poison_event_between_good_ones_is_quarantined_the_rest_drain_and_redrive_works(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    directory = tmp_path / "j"
    _block_session(ledger, "blocked")
    huge = os.urandom(12_000).hex()  # larger than a PostgreSQL index row may be
    events = [
        hook_payload("UserPromptSubmit", "good", prompt="first"),
        hook_payload("UserPromptSubmit", "blocked", prompt="refused until the database is repaired"),
        hook_payload("UserPromptSubmit", "good", prompt="second"),
        hook_payload("UserPromptSubmit", huge, prompt="too big to index"),
        hook_payload("UserPromptSubmit", "good", prompt="third"),
    ]
    for payload in events:
        run_hook(payload, directory)
    run_hook(None, directory, raw=hostile_event("session_id", b"\\udfff"))
    deep = b'{"hook_event_name":"SessionStart","source":"resume","session_id":"good","x":'
    result = run_hook(None, directory, raw=deep + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert result.returncode == 0 and result.stdout == b"" and b"unexpected" not in result.stderr
    env = command_env(tmp_path, ledger_url, redis_url, directory)

    first = ssot(["worker", "--once", "--no-recall", "--no-tail"], env)
    assert first.returncode == 0, first.stderr
    assert "3 quarantined now, 3 in quarantine" in first.stdout
    prompts = [
        json.loads(r["raw"])["prompt"]
        for r in ledger.execute("SELECT raw FROM session_events WHERE session_id = 'good' ORDER BY seq")
    ]
    assert prompts == ["first", "second", "third"]
    ledger.commit()

    again = ssot(["worker", "--once", "--no-recall", "--no-tail"], env)
    assert "0 quarantined now, 3 in quarantine" in again.stdout  # no stall, no duplicate

    shown = ssot(["worker", "--show-quarantine"], env)
    assert "3 events in quarantine" in shown.stdout and "rows of blocked are refused" in shown.stdout

    ledger.execute("DROP TRIGGER refuse_blocked ON session_events")  # the fix
    ledger.commit()
    redriven = ssot(["worker", "--redrive-quarantine"], env)
    assert redriven.returncode == 0, redriven.stderr
    assert "3 events re-driven, 1 stored in the ledger, 0 already there, 2 still held" in redriven.stdout
    [row] = ledger.execute("SELECT raw FROM session_events WHERE session_id = 'blocked'").fetchall()
    assert json.loads(row["raw"])["prompt"] == "refused until the database is repaired"
    assert _count(ledger, "SELECT count(*) FROM session_quarantine WHERE released_at IS NULL") == 2
    from ssot_pipelines.sessions.store import capture_backlog

    assert capture_backlog(ledger, str(directory)).quarantined == 2


def test_two_journal_directories_ship_to_one_ledger_without_sharing_offsets(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    for n in range(3):
        run_hook(hook_payload("UserPromptSubmit", "on-a", prompt=f"a{n} " + "x" * 500), first)
    run_hook(hook_payload("UserPromptSubmit", "on-b", prompt="b0"), second)
    run_hook(hook_payload("UserPromptSubmit", "on-b", prompt="b1"), second)
    [seg_a], [seg_b] = journal.segments(first), journal.segments(second)
    assert seg_a.name == seg_b.name  # same day, same segment name: the old key
    # A checkpoint from before the upgrade (keyed by the segment name only) must not hide b's events.
    ledger.execute(
        "INSERT INTO session_journal_offsets (segment, byte_offset) VALUES (%s, %s)", (seg_a.name, seg_a.stat().st_size)
    )
    ledger.commit()
    for directory in (first, second):
        out = ssot(
            ["worker", "--once", "--no-recall", "--no-tail"], command_env(tmp_path, ledger_url, redis_url, directory)
        )
        assert out.returncode == 0, out.stderr
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = 'on-a'") == 3
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = 'on-b'") == 2
    ids = {(d / "journal-id").read_text().strip() for d in (first, second)}
    assert len(ids) == 2
    keys = {
        (r["journal_id"], r["segment"])
        for r in ledger.execute("SELECT journal_id, segment FROM session_journal_offsets WHERE journal_id <> 'legacy'")
    }
    assert keys == {(i, seg_a.name) for i in ids}
    ledger.commit()
    run_hook(hook_payload("UserPromptSubmit", "on-b", prompt="b2"), second)
    ssot(["worker", "--once", "--no-recall", "--no-tail"], command_env(tmp_path, ledger_url, redis_url, second))
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id LIKE 'on-%'") == 6
    assert {(d / "journal-id").read_text().strip() for d in (first, second)} == ids  # stable


SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- do not read me"


def _transcript_line(session: str, uuid: str, text: str, **extra: Any) -> str:
    return json.dumps(
        {
            "type": "user",
            "uuid": uuid,
            "sessionId": session,
            "timestamp": "2026-06-21T10:00:00Z",
            "cwd": "/home/u/proj",
            "message": {"role": "user", "content": text},
            **extra,
        }
    )


def test_a_transcript_path_outside_the_roots_is_refused_directly_and_through_a_symlink(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    directory = tmp_path / "j"
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text(_transcript_line("stolen", "k1", SECRET) + "\n")
    project = tmp_path / "claude" / "projects" / "-home-u-proj"
    project.mkdir(parents=True)
    (project / "link.jsonl").symlink_to(secret)
    os.mkfifo(project / "fifo.jsonl")
    good = project / "good-1111.jsonl"
    good.write_text(_transcript_line("good-1111", "g1", "a real transcript") + "\n")
    for path in (secret, project / "link.jsonl", project / "fifo.jsonl", good):
        run_hook(hook_payload("Stop", "victim", transcript_path=str(path)), directory)
    env = command_env(tmp_path, ledger_url, redis_url, directory)

    out = ssot(["worker", "--once", "--no-recall", "--no-tail"], env)
    assert out.returncode == 0, out.stderr
    assert "3 transcript paths refused" in out.stdout
    assert "outside the transcript roots" in out.stderr and "a symlink to" in out.stderr
    assert "not a regular file" in out.stderr
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE raw LIKE %s", f"%{SECRET}%") == 0
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = 'good-1111'") == 1

    refused = ssot(["import", str(secret)], env)
    assert refused.returncode == 1 and "outside the transcript roots" in refused.stdout
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE raw LIKE %s", f"%{SECRET}%") == 0
    fifo = ssot(["import", "--allow-outside-roots", str(project / "fifo.jsonl")], env)
    assert fifo.returncode == 1 and "not a regular file" in fifo.stdout
    allowed = ssot(["import", "--allow-outside-roots", str(secret)], env)
    assert allowed.returncode == 0 and " 1 new events" in allowed.stdout
    extra_root = ssot(["import", str(secret)], {**env, "SSOT_TRANSCRIPT_ROOTS": str(secret.parent)})
    # A root the user added: read (already imported, so nothing new), not refused.
    assert extra_root.returncode == 0 and extra_root.stdout.startswith("1 files,")
    assert "refused" not in extra_root.stdout


def test_same_id_lines_with_different_content_are_kept_as_versions(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    root = tmp_path / "transcripts"
    path = root / "vers-0001.jsonl"
    root.mkdir()
    original = _transcript_line("vers-0001", "u1", "deploy to staging")
    path.write_text(
        "\n".join(
            [
                original,
                _transcript_line("vers-0001", "u1", "deploy to production"),
                original,
                _transcript_line("vers-0001", "u2", "thanks"),
            ]
        )
        + "\n"
    )
    env = command_env(tmp_path, ledger_url, redis_url, tmp_path / "j", SSOT_TRANSCRIPT_ROOTS=str(root))
    out = ssot(["import", str(path)], env)
    assert out.returncode == 0, out.stderr
    assert "3 new events, 1 already stored (byte-identical)" in out.stdout
    assert "1 conflicting versions kept" in out.stdout
    rows = ledger.execute(
        "SELECT event_id, version_of, raw FROM session_events WHERE message_uuid = 'u1' ORDER BY seq"
    ).fetchall()
    assert [r["raw"] for r in rows] == [original, _transcript_line("vers-0001", "u1", "deploy to production")]
    assert rows[0]["version_of"] is None and rows[1]["version_of"] == rows[0]["event_id"]
    ledger.commit()
    with path.open("a") as fh:  # the conflicting line again, later: a byte-identical duplicate now
        fh.write(_transcript_line("vers-0001", "u1", "deploy to production") + "\n")
    assert " 0 new events, 1 already stored" in ssot(["import", str(path)], env).stdout
    [page] = session_records(ledger, "vers-0001")
    assert "deploy to staging" in page["body"] and "deploy to production" in page["body"]


def test_an_idle_unterminated_last_line_is_imported_once(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    root = tmp_path / "transcripts"
    root.mkdir()
    idle = root / "idle-0001.jsonl"
    idle.write_text(_transcript_line("idle-0001", "i1", "one") + "\n" + _transcript_line("idle-0001", "i2", "two"))
    env = command_env(tmp_path, ledger_url, redis_url, tmp_path / "j", SSOT_TRANSCRIPT_ROOTS=str(root))
    first = ssot(["import", str(idle)], env)
    assert " 1 new events" in first.stdout and "1 files end in an unfinished line" in first.stdout
    old = time.time() - 11 * 60
    os.utime(idle, (old, old))  # idle for longer than the default 10 minutes
    second = ssot(["import", str(idle)], env)
    assert " 1 new events" in second.stdout and "1 unterminated last lines imported" in second.stdout
    with idle.open("a") as fh:
        fh.write("\n")  # the newline arrives after all
    third = ssot(["import", str(idle)], env)
    assert " 0 new events" in third.stdout and "unfinished" not in third.stdout
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = 'idle-0001'") == 2

    # A session that has ended does not wait for the idle time; the idle time is configurable.
    ended = root / "ended-0001.jsonl"
    ended.write_text(_transcript_line("ended-0001", "e1", "bye"))
    assert " 0 new events" in ssot(["import", str(ended)], env).stdout
    run_hook(hook_payload("SessionEnd", "ended-0001", reason="logout"), tmp_path / "j")
    ssot(["worker", "--once", "--no-recall", "--no-tail"], env)
    assert "1 unterminated last lines imported" in ssot(["import", str(ended)], env).stdout
    quick = root / "quick-0001.jsonl"
    quick.write_text(_transcript_line("quick-0001", "q1", "soon"))
    time.sleep(1.1)
    out = ssot(["import", str(quick)], {**env, "SSOT_TRANSCRIPT_IDLE_SECONDS": "1"})
    assert "1 unterminated last lines imported" in out.stdout
    bad = ssot(["import", str(quick)], {**env, "SSOT_TRANSCRIPT_IDLE_SECONDS": "ten minutes"})
    assert bad.returncode == 2 and "SSOT_TRANSCRIPT_IDLE_SECONDS='ten minutes'" in bad.stderr
    assert "Traceback" not in bad.stderr


CODEX_META_ID = "019b0000-2222-7000-8000-0000000000aa"
CODEX_FILE_ID = "019b0000-3333-7000-8000-0000000000bb"


def _rollout(kind: str, payload: dict[str, Any] | None, n: int) -> dict[str, Any]:
    line: dict[str, Any] = {"timestamp": f"2026-06-21T10:00:{n:02d}.000Z", "type": kind}
    if payload is not None:
        line["payload"] = payload
    return line


def test_codex_rollouts_with_every_record_kind_show_every_message_in_the_page_body(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    records = [
        ("session_meta", {"id": CODEX_META_ID, "cwd": "/home/u/proj", "source": "cli", "git": {"branch": "main"}}),
        ("turn_context", {"cwd": "/home/u/proj", "model": "gpt-5-codex"}),
        (
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the files"}]},
        ),
        ("event_msg", {"type": "user_message", "message": "list the files"}),
        ("event_msg", {"type": "user_message", "message": "typed while the model was busy"}),
        ("response_item", {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Use ls."}]}),
        ("event_msg", {"type": "agent_reasoning", "text": "Use ls."}),
        (
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": "call_1"},
        ),
        ("response_item", {"type": "function_call_output", "call_id": "call_1", "output": "README.md"}),
        (
            "response_item",
            {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch", "call_id": "call_2"},
        ),
        ("response_item", {"type": "custom_tool_call_output", "call_id": "call_2", "output": "patched ok"}),
        ("response_item", {"type": "local_shell_call", "call_id": "call_3", "action": {"command": ["pwd"]}}),
        ("response_item", {"type": "web_search_call", "id": "ws_1", "action": {"query": "codex rollout"}}),
        (
            "response_item",
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Two entries."}]},
        ),
        ("event_msg", {"type": "agent_message", "message": "Two entries."}),
        ("event_msg", {"type": "error", "message": "stream disconnected before completion"}),
        ("event_msg", {"type": "turn_aborted", "reason": "interrupted"}),
        ("event_msg", {"type": "token_count", "info": None}),
        ("response_item", {"role": "user", "content": [{"type": "input_text", "text": "an item without a type"}]}),
        ("event_msg", {"message": "an event without a type"}),
        ("response_item", None),
        ("compacted", {"message": "The user listed files.", "replacement_history": []}),
        ("event_msg", {"type": "some_future_event", "message": "from a newer Codex"}),
    ]
    day = tmp_path / "codex" / "sessions" / "2026" / "06" / "21"
    day.mkdir(parents=True)
    path = day / f"rollout-2026-06-21T10-00-00-{CODEX_FILE_ID}.jsonl"
    path.write_text("".join(json.dumps(_rollout(k, p, n)) + "\n" for n, (k, p) in enumerate(records)))
    env = command_env(tmp_path, ledger_url, redis_url, tmp_path / "j")
    out = ssot(["import"], env)  # the default roots: $CODEX_HOME/sessions
    assert out.returncode == 0 and f" {len(records)} new events" in out.stdout, out.stdout
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = %s", CODEX_FILE_ID) == 0
    body = "\n\n".join(page["body"] for page in session_records(ledger, CODEX_META_ID))
    for text in (
        "list the files",
        "typed while the model was busy",
        "Use ls.",
        "README.md",
        "apply_patch",
        "patched ok",
        "pwd",
        "codex rollout",
        "Two entries.",
        "stream disconnected before completion",
        "interrupted",
        "an item without a type",
        "an event without a type",
        "The user listed files.",
        "from a newer Codex",
    ):
        assert text in body, text
    for once in ("list the files", "Two entries.", "Use ls."):
        assert body.count(once) == 1, once
    assert "token_count" not in body

    # A rollout from before the envelope: its session is its first line's id, its items are read as such.
    legacy = day / f"rollout-2025-05-01T10-00-00-{CODEX_FILE_ID}.jsonl"
    legacy_id = "019b0000-4444-7000-8000-0000000000cc"
    legacy.write_text(
        json.dumps({"id": legacy_id, "timestamp": "2025-05-01T10:00:00Z", "instructions": None})
        + "\n"
        + json.dumps({"record_type": "state"})
        + "\n"
        + json.dumps({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "legacy ask"}]})
        + "\n"
    )
    assert ssot(["import"], env).returncode == 0
    [old] = session_records(ledger, legacy_id)
    assert "legacy ask" in old["body"] and "state" not in old["body"]


def test_file_names_that_are_not_session_ids_create_no_sessions_and_no_links(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    project = tmp_path / "claude" / "projects" / "-home-u-proj"
    project.mkdir(parents=True)
    real = "cafe0000-0000-4000-8000-000000000001"
    other = "cafe0000-0000-4000-8000-000000000002"
    snapshot = json.dumps({"type": "file-history-snapshot", "messageId": "m1", "snapshot": {}})
    (project / f"{real}.jsonl").write_text(_transcript_line(real, "r1", "the real session") + "\n")
    for n, name in enumerate(("exported-by-a-tool", "backup copy", "agent-old-style")):
        (project / f"{name}.jsonl").write_text(
            snapshot
            + "\n"
            + _transcript_line(other, f"o{n}", f"line {n} of another session")
            + "\n"
            + json.dumps({"type": "summary", "summary": "title", "leafUuid": f"o{n}"})
            + "\n"
        )
    out = ssot(["import"], command_env(tmp_path, ledger_url, redis_url, tmp_path / "j"))
    assert out.returncode == 0, out.stderr
    sessions = {r["session_id"] for r in ledger.execute("SELECT session_id FROM sessions")}
    assert sessions == {real, other}
    for session in sessions:
        derive_links(ledger, session)
    assert _count(ledger, "SELECT count(*) FROM session_links") == 0
    assert _count(ledger, "SELECT count(*) FROM session_link_evidence") == 0


def test_a_transcript_whose_name_is_not_utf8_is_refused_and_the_others_are_imported(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str
) -> None:
    project = tmp_path / "claude" / "projects" / "-home-u-proj"
    project.mkdir(parents=True)
    deep = '{"type":"user","sessionId":"good-2222","x":' + "[" * 100_000 + "]" * 100_000 + "}"
    (project / "good-2222.jsonl").write_text(_transcript_line("good-2222", "g1", "kept") + "\n" + deep + "\n")
    bad = os.path.join(os.fsencode(project), b"bad-\xff.jsonl")
    with open(bad, "wb") as fh:
        fh.write((_transcript_line("bad-name", "b1", "odd name") + "\n").encode())
    env = command_env(tmp_path, ledger_url, redis_url, tmp_path / "j")
    out = ssot(["import"], env)
    assert out.returncode == 0, out.stderr
    assert "1 paths refused unread" in out.stdout and "not valid UTF-8" in out.stdout
    assert "1 malformed lines kept raw" in out.stdout  # nested too deeply for Python: kept raw, no crash
    assert _count(ledger, "SELECT count(*) FROM session_events WHERE session_id = 'good-2222'") == 2
    worker = ssot(["worker", "--once", "--no-recall"], env)  # the tail pass looks at the same folder
    assert worker.returncode == 0 and "errors" not in worker.stdout, worker.stdout + worker.stderr
