"""``ssot slack import``: a workspace export (zip or folder) becomes conversations in the ledger."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ssot_pipelines.slack import store
from ssot_pipelines.slack.export import ExportError
from ssot_pipelines.slack.importer import import_export
from ssot_pipelines.slack.records import conversation_record
from ssot_pipelines_tests.slack_fixtures import (
    BOT,
    DM,
    EDITED,
    EXPECTED_TEXT,
    FILE,
    LATE,
    MPIM,
    PLAIN,
    PRIVATE,
    REPLY_1,
    REPLY_2,
    REPLY_3,
    ROOT,
    msg,
    sample_export,
    ts_at,
)

THREAD = f"C01ENG/thread/{ROOT}"
ENG_DAY = "C01ENG/day/2026-07-01"
REPO = Path(__file__).resolve().parents[1]


def _record(ledger: Any, conversation_id: str) -> dict[str, Any]:
    record = conversation_record(ledger, conversation_id, UTC)
    assert record is not None, conversation_id
    return record


def _conversations(ledger: Any) -> set[str]:
    return {
        r["conversation_id"]
        for r in ledger.execute("SELECT conversation_id FROM slack_conversations WHERE digest <> ''").fetchall()
    }


def test_a_thread_spread_over_day_files_and_out_of_order_is_one_conversation(tmp_path: Path, ledger: Any) -> None:
    report = import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)

    assert _conversations(ledger) == {
        THREAD,
        ENG_DAY,
        "D01AB/day/2026-07-01",
        "G02MP/day/2026-07-01",
        "G01OPS/day/2026-07-01",
    }
    assert len(report.counts.conversations_new) == 5 and report.counts.messages_new == 12
    thread = _record(ledger, THREAD)
    order = [thread["body"].index(EXPECTED_TEXT[ts]) for ts in (ROOT, REPLY_1, REPLY_3, REPLY_2)]
    assert order == sorted(order)  # time order, whatever the files' order
    assert thread["Message Count"] == 4
    assert thread["Title"] == "#eng · thread: Deploy of v2 is starting"
    assert thread["Participants"] == ["Alice Example", "bobby", "carol"]  # real name, else display name, else handle
    day = _record(ledger, ENG_DAY)
    assert EXPECTED_TEXT[ROOT] not in day["body"] and day["Message Count"] == 5  # threads are not in the day


def test_messages_render_edits_bots_files_reactions_mentions_and_count_joins(tmp_path: Path, ledger: Any) -> None:
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)
    day = _record(ledger, ENG_DAY)["body"]
    paragraphs = day.split("\n\n")
    assert paragraphs[0].startswith("**bobby** · 2026-07-01 10:00:00 UTC\n")
    assert EXPECTED_TEXT[PLAIN] in day  # <@U…>, <#C…|name>, <url|text> and &amp; rendered
    edited = next(p for p in paragraphs if EXPECTED_TEXT[EDITED] in p)
    assert edited.splitlines()[0] == "**carol** · 2026-07-01 10:01:00 UTC · edited"
    bot = next(p for p in paragraphs if EXPECTED_TEXT[BOT] in p)
    assert bot.startswith("**deploybot (bot)**")
    shared = next(p for p in paragraphs if EXPECTED_TEXT[FILE] in p)
    assert "📎 deploy.log (https://files.example/F01/deploy.log)" in shared
    assert "has joined" not in day and paragraphs[-1] == "(1 joined, 0 left)"
    thread = _record(ledger, THREAD)["body"]
    assert "Reactions: :tada: bobby, carol" in thread
    dm = _record(ledger, "D01AB/day/2026-07-01")
    assert dm["Channel"] == "DM Alice Example & bobby" and EXPECTED_TEXT[DM] in dm["body"]
    assert _record(ledger, "G02MP/day/2026-07-01")["Channel"] == "Group DM Alice Example & bobby & carol"
    assert _record(ledger, "G01OPS/day/2026-07-01")["Channel"] == "#secret-ops"
    for ts, text in EXPECTED_TEXT.items():
        cid = store.conversation_of(ledger, {DM: "D01AB", MPIM: "G02MP", PRIVATE: "G01OPS"}.get(ts, "C01ENG"), ts)
        assert cid is not None and text in _record(ledger, cid)["body"], ts


def test_channel_days_follow_slack_timezone(tmp_path: Path, ledger: Any) -> None:
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=ZoneInfo("Asia/Tokyo"))
    assert store.conversation_of(ledger, "C01ENG", LATE) == "C01ENG/day/2026-07-02"
    record = conversation_record(ledger, "C01ENG/day/2026-07-02", ZoneInfo("Asia/Tokyo"))
    assert record is not None and "2026-07-02 08:30:00 JST" in record["body"]


def test_reimport_writes_nothing_and_a_later_export_writes_only_what_changed(tmp_path: Path, ledger: Any) -> None:
    export = sample_export()
    first = import_export(ledger, export.write_zip(tmp_path / "one.zip"), zone=UTC)
    assert len(first.counts.conversations_new) == 5
    before = ledger.execute("SELECT conversation_id, changed_at FROM slack_conversations").fetchall()

    again = import_export(ledger, export.write_folder(tmp_path / "same"), zone=UTC)
    assert (again.counts.messages_new, again.counts.messages_changed, again.counts.messages_unchanged) == (0, 0, 12)
    assert again.counts.conversations_new == [] and again.counts.conversations_changed == []
    assert again.counts.conversations_unchanged == 5
    assert ledger.execute("SELECT conversation_id, changed_at FROM slack_conversations").fetchall() == before

    later = sample_export()
    grown = ts_at("2026-07-03T09:00:00", 1)
    later.add(
        "eng",
        "2026-07-03",
        [
            msg("U02BOB", "the thread grew a day later", grown, thread_ts=ROOT, parent_user_id="U01ALICE"),
            msg("U02BOB", "a new day", ts_at("2026-07-03T10:00:00", 2)),
        ],
    )
    result = import_export(ledger, later.write_zip(tmp_path / "later.zip"), zone=UTC)
    assert result.counts.conversations_new == ["C01ENG/day/2026-07-03"]
    assert result.counts.conversations_changed == [THREAD]  # updated, not duplicated
    assert result.counts.messages_new == 2 and result.counts.messages_unchanged == 12
    assert _record(ledger, THREAD)["Message Count"] == 5
    summary = result.summary()
    assert "conversations: 1 new, 1 changed, 4 unchanged" in summary
    assert "messages: 2 new, 0 changed, 12 unchanged" in summary


def test_edits_and_deletes_in_a_later_export(tmp_path: Path, ledger: Any) -> None:
    import_export(ledger, sample_export().write_folder(tmp_path / "one"), zone=UTC)
    later = sample_export()
    day = later.days[("eng", "2026-07-01")]
    later.days[("eng", "2026-07-01")] = [m for m in day if m["ts"] != PLAIN]
    for m in day:
        if m["ts"] == REPLY_1:
            m.update(text="first reply, edited", edited={"user": "U02BOB", "ts": REPLY_2})
    result = import_export(ledger, later.write_folder(tmp_path / "two"), zone=UTC)
    assert result.counts.messages_deleted == 1 and result.counts.messages_changed == 1
    assert set(result.counts.conversations_changed) == {THREAD, ENG_DAY}
    body = _record(ledger, ENG_DAY)["body"]
    assert "**bobby** · 2026-07-01 10:00:00 UTC\n(message deleted)" in body  # a tombstone stays in place
    assert EXPECTED_TEXT[PLAIN] not in body
    assert (
        "**bobby** · 2026-07-01 09:05:00 UTC · edited · reply\nfirst reply, edited" in _record(ledger, THREAD)["body"]
    )
    assert import_export(ledger, later.write_folder(tmp_path / "three"), zone=UTC).counts.conversations_changed == []


def test_a_reply_whose_root_has_no_thread_ts_still_joins_the_root(tmp_path: Path, ledger: Any) -> None:
    export = sample_export()
    late_root = ts_at("2026-07-01T15:00:00", 5)
    export.add("eng", "2026-07-01", [msg("U01ALICE", "plain root", late_root)])
    import_export(ledger, export.write_folder(tmp_path / "one"), zone=UTC)
    assert store.conversation_of(ledger, "C01ENG", late_root) == ENG_DAY
    later = sample_export()
    later.add("eng", "2026-07-01", [msg("U01ALICE", "plain root", late_root)])
    later.add(
        "eng", "2026-07-04", [msg("U02BOB", "a reply days later", ts_at("2026-07-04T09:00:00", 6), thread_ts=late_root)]
    )
    result = import_export(ledger, later.write_folder(tmp_path / "two"), zone=UTC)
    thread = f"C01ENG/thread/{late_root}"
    assert store.conversation_of(ledger, "C01ENG", late_root) == thread
    assert thread in result.counts.conversations_new and ENG_DAY in result.counts.conversations_changed
    assert _record(ledger, thread)["Message Count"] == 2


def _counts(ledger: Any) -> tuple[int, int, int]:
    row = ledger.execute(
        "SELECT (SELECT count(*) FROM slack_messages) AS m, (SELECT count(*) FROM slack_users) AS u,"
        " (SELECT count(*) FROM slack_conversations) AS c"
    ).fetchone()
    return row["m"], row["u"], row["c"]


@pytest.mark.parametrize("damage", ["bad-json", "no-users", "truncated-zip", "not-an-array"])
def test_a_malformed_export_names_the_file_and_applies_nothing(tmp_path: Path, ledger: Any, damage: str) -> None:
    import_export(ledger, sample_export().write_folder(tmp_path / "good"), zone=UTC)
    before = _counts(ledger)
    export = sample_export()
    export.users.append({"id": "U09NEW", "name": "newcomer"})
    export.add("eng", "2026-07-05", [msg("U09NEW", "must not land", ts_at("2026-07-05T09:00:00"))])
    if damage == "bad-json":
        export.raw_files["eng/2026-07-06.json"] = b'[{"type": "message", "ts": "1.2",'
        path, named = export.write_folder(tmp_path / "bad"), "eng/2026-07-06.json"
    elif damage == "no-users":
        export.users = None  # type: ignore[assignment]
        path, named = export.write_folder(tmp_path / "bad"), "users.json"
    elif damage == "not-an-array":
        export.raw_files["eng/2026-07-06.json"] = b'{"messages": []}'
        path, named = export.write_folder(tmp_path / "bad"), "eng/2026-07-06.json"
    else:
        whole = export.write_zip(tmp_path / "whole.zip").read_bytes()
        path = tmp_path / "bad.zip"
        path.write_bytes(whole[: len(whole) * 2 // 3])
        named = "bad.zip"
    with pytest.raises(ExportError) as caught:
        import_export(ledger, path, zone=UTC)
    assert named in str(caught.value) and "\n" not in str(caught.value)
    ledger.rollback()
    assert _counts(ledger) == before


def test_the_command_reports_a_summary_and_fails_clearly(tmp_path: Path, ledger_url: str) -> None:
    env = {**os.environ, "POSTGRES_URL": ledger_url, "PYTHONPATH": str(REPO)}
    export = sample_export()
    export.raw_files["integration_logs.json"] = b"[]"
    export.add("unlisted", "2026-07-01", [msg("U01ALICE", "?", ts_at("2026-07-01T09:00:00"))])
    export.add("eng", "2026-07-03", [{"type": "message", "text": "no ts"}])
    path = export.write_zip(tmp_path / "export.zip")
    ok = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", "slack", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "conversations: 5 new, 0 changed, 0 unchanged" in ok.stdout
    assert "messages: 12 new, 0 changed, 0 unchanged" in ok.stdout
    assert "integration_logs.json: not a conversation file" in ok.stdout
    assert "unlisted/: a folder no channel list names" in ok.stdout
    assert "1 x message line that is unusable: no ts" in ok.stdout
    broken = tmp_path / "broken.zip"
    broken.write_bytes(path.read_bytes()[:200])
    bad = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", "slack", "import", str(broken)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "broken.zip" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_two_imports_at_once_apply_the_export_once(tmp_path: Path, ledger: Any, ledger_url: str) -> None:
    env = {**os.environ, "POSTGRES_URL": ledger_url, "PYTHONPATH": str(REPO)}
    path = sample_export().write_zip(tmp_path / "export.zip")
    command = [sys.executable, "-m", "ssot_pipelines.cli", "slack", "import", str(path)]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [r.communicate(timeout=180) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    summaries = sorted(line for out, _ in outputs for line in out.splitlines() if line.startswith("conversations:"))
    # the second waited for the first, then found everything there
    assert summaries == ["conversations: 0 new, 0 changed, 5 unchanged", "conversations: 5 new, 0 changed, 0 unchanged"]
    assert _counts(ledger) == (13, 4, 5)  # 12 messages and a join, once
