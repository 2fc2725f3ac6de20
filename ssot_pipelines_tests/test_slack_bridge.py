"""The bridge: each kind of evidence links a conversation and a CLI session; ``ssot context`` material and
``ssot slack share`` (against a local chat.postMessage stand-in driven by slack_sdk), idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from ssot_pipelines.sessions.recall import index_sessions
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.slack import bridge, recall
from ssot_pipelines.slack.importer import import_export
from ssot_pipelines.slack.records import conversation_record
from ssot_pipelines.slack.share import share_session, split_message
from ssot_pipelines.slack.webapi import web_client
from ssot_pipelines.vectors import HashingEmbedder, PgVectorStore
from ssot_pipelines_tests.slack_fixtures import ROOT, Export, SlackApiStandIn, msg, sample_export, ts_at

SID = "5e55a001-0000-4000-8000-00000000a11c"
OTHER = "5e55a002-0000-4000-8000-00000000b0b0"
REPO = Path(__file__).resolve().parents[1]
THREAD = f"C01ENG/thread/{ROOT}"


def write_session(root: Path, session_id: str, prompts: list[tuple[str, str]], cwd: str = "/home/alice/proj") -> Path:
    """A Claude Code transcript: (UTC time, prompt) pairs, each answered."""
    path = root / "-home-alice-proj" / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, (when, text) in enumerate(prompts):
        base = {
            "sessionId": session_id,
            "cwd": cwd,
            "isSidechain": False,
            "userType": "external",
            "version": "2.1.183",
            "gitBranch": "main",
        }
        lines.append(
            {
                **base,
                "type": "user",
                "uuid": f"{session_id}-u{n}",
                "timestamp": f"{when}.000Z",
                "message": {"role": "user", "content": text},
            }
        )
        lines.append(
            {
                **base,
                "type": "assistant",
                "uuid": f"{session_id}-a{n}",
                "parentUuid": f"{session_id}-u{n}",
                "timestamp": f"{when}.500Z",
                "message": {"role": "assistant", "content": [{"type": "text", "text": f"done: {text}"}]},
            }
        )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def _links(ledger: Any) -> set[tuple[str, str, str]]:
    return {
        (r["conversation_id"], r["session_id"], r["kind"])
        for r in ledger.execute("SELECT conversation_id, session_id, kind FROM slack_session_links").fetchall()
    }


def test_a_session_id_or_transcript_path_written_in_slack_links_it(tmp_path: Path, ledger: Any) -> None:
    write_session(tmp_path / "claude", SID, [("2026-06-01T09:00:00", "refactor the parser")])
    write_session(tmp_path / "claude", OTHER, [("2026-06-01T09:00:00", "something else")], cwd="/srv/x")
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    export = sample_export()
    export.add(
        "eng",
        "2026-07-01",
        [
            msg("U02BOB", f"context is in session {SID}", ts_at("2026-07-01T16:00:00")),
            msg("U02BOB", f"see ~/.claude/projects/-srv-x/{OTHER}.jsonl", ts_at("2026-07-01T16:01:00")),
        ],
    )
    import_export(ledger, export.write_folder(tmp_path / "export"), zone=UTC)
    report = bridge.find_links(ledger, people={})
    assert _links(ledger) == {
        ("C01ENG/day/2026-07-01", SID, "session-mentioned"),
        ("C01ENG/day/2026-07-01", OTHER, "transcript-mentioned"),
    }
    assert report.links == {"session-mentioned": 1, "transcript-mentioned": 1}
    record = conversation_record(ledger, "C01ENG/day/2026-07-01", UTC)
    assert record is not None
    assert record["Related CLI Sessions"] == sorted([f"{SID}#1", f"{OTHER}#1"])
    assert (
        f"{SID}#1 · session-mentioned: bobby in eng at 2026-07-01 16:00:00 UTC mentioned session {SID}"
        in record["Bridge Evidence"]
    )
    assert bridge.find_links(ledger, people={}).links == {}  # nothing changed: nothing looked at again


def test_a_permalink_or_channel_written_in_a_session_links_it(tmp_path: Path, ledger: Any) -> None:
    digits = ROOT.replace(".", "")
    write_session(
        tmp_path / "claude",
        SID,
        [("2026-06-20T09:00:00", f"what did they decide in https://acme.slack.com/archives/C01ENG/p{digits} ?")],
    )
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    bridge.find_links(ledger, people={})  # the session is scanned before Slack's side is known
    assert _links(ledger) == set()
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)
    write_session(
        tmp_path / "claude2",
        OTHER,
        [
            ("2026-07-01T09:55:00", "## Plan\nask in #eng about the deploy; ignore #nonexistent"),
            ("2026-07-01T10:30:00", "ok"),
        ],
        cwd="/srv/x",
    )
    import_paths(ledger, [tmp_path / "claude2"], allow_outside_roots=True)
    bridge.find_links(ledger, people={})
    assert _links(ledger) == {
        (THREAD, SID, "permalink-mentioned"),
        ("C01ENG/day/2026-07-01", OTHER, "channel-mentioned"),
    }
    [link] = bridge.links_of_session(ledger, SID)
    assert link["evidence"] == f"session {SID} mentioned the Slack permalink …/archives/C01ENG/p{digits}"


def test_the_same_person_at_the_same_time_links_through_the_user_map(
    tmp_path: Path, ledger: Any, monkeypatch: Any
) -> None:
    write_session(tmp_path / "claude", SID, [("2026-07-01T08:55:00", "start"), ("2026-07-01T09:20:00", "end")])
    write_session(
        tmp_path / "claude",
        OTHER,
        [("2026-07-01T08:55:00", "bob's"), ("2026-07-01T09:20:00", "x")],
        cwd="/home/bob/proj",
    )
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)
    monkeypatch.setenv("SLACK_USER_MAP", "U01ALICE=alice|alice@example.com")
    bridge.find_links(ledger)
    # Alice wrote the thread's root at 09:00 while her session ran; her 10:00+ messages came after it ended
    assert _links(ledger) == {(THREAD, SID, "same-person")}
    [link] = bridge.links_of_session(ledger, SID)
    assert "Alice Example (Slack U01ALICE = CLI user alice) wrote at 2026-07-01 09:00:00 UTC" in link["evidence"]


def test_similar_text_above_the_threshold_links(tmp_path: Path, ledger: Any, ledger_url: str) -> None:
    text = "the postgres migration deadlocks when two workers run the advisory lock at once"
    write_session(tmp_path / "claude", SID, [("2026-06-01T09:00:00", text)])
    write_session(tmp_path / "claude", OTHER, [("2026-06-01T09:00:00", "paint the landing page blue")])
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    vectors, embedder = PgVectorStore(ledger_url), HashingEmbedder()
    index_sessions(ledger, vectors, embedder)
    export = sample_export()
    export.add(
        "eng",
        "2026-07-05",
        [
            msg("U02BOB", text, ts_at("2026-07-05T09:00:00")),
            msg("U01ALICE", f"yes: {text}", ts_at("2026-07-05T09:01:00")),
        ],
    )
    import_export(ledger, export.write_folder(tmp_path / "export"), zone=UTC)
    assert recall.index_conversations(ledger, vectors, embedder).conversations == 6
    bridge.find_links(ledger, vectors=vectors, embedder=embedder, people={}, threshold=0.6)
    assert _links(ledger) == {("C01ENG/day/2026-07-05", SID, "similar")}
    [link] = bridge.links_of_session(ledger, SID)
    assert link["score"] >= 0.6 and "semantic similarity" in link["evidence"]
    hits = recall.search(vectors, embedder, "advisory lock deadlock in the migration", top_k=1)
    assert hits[0]["conversation_id"] == "C01ENG/day/2026-07-05"
    assert recall.index_conversations(ledger, vectors, embedder).chunks_embedded == 0  # nothing changed

    # the other direction: a session indexed after the conversation is compared when it changes
    later = "5e55a003-0000-4000-8000-00000000c0de"
    write_session(tmp_path / "claude2", later, [("2026-07-06T09:00:00", f"again: {text}")])
    import_paths(ledger, [tmp_path / "claude2"], allow_outside_roots=True)
    index_sessions(ledger, vectors, embedder)
    bridge.find_links(ledger, vectors=vectors, embedder=embedder, people={}, threshold=0.6)
    assert ("C01ENG/day/2026-07-05", later, "similar") in _links(ledger)


def test_linked_conversations_show_the_message_with_five_either_side(tmp_path: Path, ledger: Any) -> None:
    write_session(tmp_path / "claude", SID, [("2026-06-01T09:00:00", "work")])
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    export = Export(channels=[{"id": "C01ENG", "name": "eng"}])
    texts = [f"message number {n:02d}" for n in range(20)]
    texts[10] = f"message number 10 about {SID}"
    export.add("eng", "2026-07-01", [msg("U01ALICE", t, ts_at("2026-07-01T09:00:00", n)) for n, t in enumerate(texts)])
    import_export(ledger, export.write_folder(tmp_path / "export"), zone=UTC)
    bridge.find_links(ledger, people={})
    text = bridge.linked_conversations(ledger, SID)
    assert "## Linked Slack conversations" in text and "session-mentioned" in text
    shown = [n for n in range(20) if f"message number {n:02d}" in text or (n == 10 and SID in text)]
    assert shown == list(range(5, 16))
    note = bridge.session_start_note(ledger, SID)
    assert "eng (C01ENG/day/2026-07-01), 20 messages, latest by Alice Example" in note
    assert bridge.linked_conversations(ledger, OTHER) == "" and bridge.session_start_note(ledger, OTHER) == ""


def test_share_posts_the_handover_pack_once_per_thread_and_logs_it(
    tmp_path: Path, ledger: Any, ledger_url: str, monkeypatch: Any
) -> None:
    write_session(
        tmp_path / "claude",
        SID,
        [("2026-06-01T09:00:00", "ship the slack bridge"), ("2026-06-01T09:10:00", "now write the README")],
    )
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)
    api = SlackApiStandIn()
    try:
        env = {
            **os.environ,
            "POSTGRES_URL": ledger_url,
            "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": api.token,
            "SLACK_API_URL": api.url,
        }
        command = [
            sys.executable,
            "-m",
            "ssot_pipelines.cli",
            "slack",
            "share",
            SID,
            "--channel",
            "C01ENG",
            "--thread",
            ROOT,
        ]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert first.returncode == 0, first.stderr
        assert "shared" in first.stdout and api.token not in first.stdout + first.stderr
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 0 and "already shared" in second.stdout
        assert [c[0] for c in api.calls] == ["chat.postMessage"]
        [post] = api.posted
        assert post["thread_ts"] == ROOT and "now write the README" in post["text"]
        assert post["text"].startswith(f"Handover pack of CLI session {SID}#1")
        thread = conversation_record(ledger, THREAD, UTC)
        assert thread is not None and "**ssot (bot)**" in thread["body"] and "now write the README" in thread["body"]
        assert (THREAD, SID, "shared") in _links(ledger)

        monkeypatch.setenv("SLACK_API_URL", api.url)
        other = share_session(ledger, web_client(api.token), SID, "C01ENG")  # a new top-level post: another thread
        assert not other.already and len(api.posted) == 2
        assert share_session(ledger, web_client(api.token), SID, "C01ENG").already
        bad = subprocess.run(
            [*command[:5], "no-such-session", "--channel", "C01ENG"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert bad.returncode == 1 and "no session 'no-such-session'" in bad.stderr
    finally:
        api.close()


def test_a_long_pack_is_split_never_cut() -> None:
    text = "\n\n".join(f"paragraph {n} " + "x" * 900 for n in range(12))
    parts = split_message(text, 3500)
    assert "".join(parts) == text and len(parts) > 1 and all(len(p) <= 3500 for p in parts)
