"""End to end into the Notion sandbox: every message's text is in its conversation's page, byte-exact; the
relation to CLI sessions shows on both sides; a re-import and a re-sync write nothing."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import dagster as dg

from ssot_pipelines.notion.text import plain_text
from ssot_pipelines.sessions.defs import cli_sessions
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.slack import store
from ssot_pipelines.slack.defs import slack_conversation_events, slack_conversations
from ssot_pipelines.slack.importer import import_export
from ssot_pipelines.slack.records import conversation_record
from ssot_pipelines.slack.render import Directory, render_text
from ssot_pipelines_tests.notion_helpers import dagster_resources, live_rows, person, sync_manager
from ssot_pipelines_tests.slack_fixtures import ROOT, msg, sample_export, ts_at
from ssot_pipelines_tests.test_slack_bridge import SID, write_session

LONG = ("A very long incident report. " * 300) + "🚀 end"


def _synced(result: Any) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node("slack_conversations")[0].metadata.items()}


def test_every_message_is_in_its_page_byte_exact_and_resync_writes_nothing(
    tmp_path: Path, ledger: Any, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    write_session(tmp_path / "claude", SID, [("2026-06-01T09:00:00", "fix the deploy script")])
    import_paths(ledger, [tmp_path / "claude"], allow_outside_roots=True)
    export = sample_export()
    export.add(
        "eng",
        "2026-07-02",
        [msg("U02BOB", f"the deploy fix came from session {SID}\n\n{LONG}", ts_at("2026-07-02T12:00:00", 7))],
    )
    path = export.write_zip(tmp_path / "export.zip")
    import_export(ledger, path, zone=UTC)
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    assert dg.materialize([cli_sessions], resources=resources).success
    first = dg.materialize([slack_conversation_events, slack_conversations], resources=resources)
    assert first.success
    assert _synced(first)["created"] == 6 and _synced(first)["failed"] == 0

    directory = store.directory(ledger)
    rows = ledger.execute(
        "SELECT channel_id, ts, text, conversation_id, deleted FROM slack_messages WHERE kind = 'message'"
    ).fetchall()
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        conversations = live_rows(person(sandbox), sync.ids["slack_conversations"].data_source_id)
        assert len(conversations) == 6 and all(len(pages) == 1 for pages in conversations.values())
        bodies = {}
        for key, [page] in conversations.items():
            bodies[key] = sync.read_body(page["id"])
            record = conversation_record(ledger, key, UTC)
            assert record is not None and bodies[key] == record["body"]  # the whole body, byte for byte
        for row in rows:
            assert render_text(row["text"], directory) in bodies[row["conversation_id"]], row["ts"]
        assert LONG in bodies["C01ENG/day/2026-07-02"]  # 9,000 characters: split into pieces, never cut

        thread = conversations[f"C01ENG/thread/{ROOT}"][0]["properties"]
        assert plain_text(thread["Conversation ID"]["rich_text"]) == f"C01ENG/thread/{ROOT}"
        assert thread["Channel"]["select"]["name"] == "#eng"
        assert [o["name"] for o in thread["Participants"]["multi_select"]] == ["Alice Example", "bobby", "carol"]
        assert thread["Message Count"]["number"] == 4
        assert thread["Started At"]["date"]["start"].startswith("2026-07-01T09:00:00")

        linked = conversations["C01ENG/day/2026-07-02"][0]
        session_page = sync.page_id("cli_sessions", f"{SID}#1")
        assert session_page is not None
        assert [r["id"].replace("-", "") for r in linked["properties"]["Related CLI Sessions"]["relation"]] == [
            session_page.replace("-", "")
        ]
        assert "session-mentioned: bobby in eng" in plain_text(linked["properties"]["Bridge Evidence"]["rich_text"])
        mirror: Any = person(sandbox).pages.retrieve(page_id=session_page)
        assert [r["id"].replace("-", "") for r in mirror["properties"]["Slack Conversations"]["relation"]] == [
            linked["id"].replace("-", "")
        ]

    again = dg.materialize([slack_conversation_events, slack_conversations], resources=resources)
    assert (_synced(again)["created"], _synced(again)["updated"], _synced(again)["body_writes"]) == (0, 0, 0)
    assert import_export(ledger, path, zone=UTC).counts.conversations_changed == []
    third = dg.materialize([slack_conversation_events, slack_conversations], resources=resources)
    assert (_synced(third)["records"], _synced(third)["created"], _synced(third)["updated"]) == (0, 0, 0)

    grown = sample_export()
    grown.add("eng", "2026-07-03", [msg("U01ALICE", "one more reply", ts_at("2026-07-03T09:00:00", 9), thread_ts=ROOT)])
    import_export(ledger, grown.write_folder(tmp_path / "grown"), zone=UTC)
    fourth = dg.materialize([slack_conversation_events, slack_conversations], resources=resources)
    # the thread grew (updated in place, not duplicated); the long message is gone from its day file, so
    # that day shows it as deleted
    assert (_synced(fourth)["created"], _synced(fourth)["updated"]) == (0, 2)
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        after = live_rows(person(sandbox), sync.ids["slack_conversations"].data_source_id)
        assert len(after) == 6 and all(len(pages) == 1 for pages in after.values())
        assert "one more reply" in sync.read_body(after[f"C01ENG/thread/{ROOT}"][0]["id"])


def test_display_names_render_in_the_body() -> None:
    directory = Directory({"U1": "Ana"}, {"C1": "eng"})
    assert (
        render_text("<@U1|ana> in <#C1> <!here> <mailto:a@b.c|a@b.c> <!subteam^S1|@devs> &amp;lt;", directory)
        == "@Ana in #eng @here a@b.c (mailto:a@b.c) @devs &lt;"
    )
