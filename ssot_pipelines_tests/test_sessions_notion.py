"""CLI Sessions in Notion: segments, bidirectional links, the complete transcript as the page body."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.sandbox import FaultConfig
from ssot_pipelines.sessions import records
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager
from ssot_pipelines_tests.sessions_fixtures import CODEX_SESSION, SESSION_A, SESSION_B, copy_samples

Conn = psycopg.Connection[dict[str, Any]]
log = logging.getLogger(__name__)


def _sync_sessions(sync: Any, ledger: Conn) -> Any:
    frame = records.cli_session_frame(ledger, sync.target)
    records.mark_extracted(ledger, frame)
    return sync.sync("cli_sessions", frame)


def _select(page: dict[str, Any], prop: str) -> str | None:
    value = page["properties"][prop]["select"]
    return value["name"] if value else None


def _relation_keys(page: dict[str, Any], prop: str, key_by_page: dict[str, str]) -> list[str]:
    return sorted(key_by_page[r["id"].replace("-", "")] for r in page["properties"][prop]["relation"])


def test_sessions_become_linked_pages_whose_body_is_the_whole_transcript(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    import_paths(ledger, [copy_samples(tmp_path)], allow_outside_roots=True)
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        report = _sync_sessions(sync, ledger)
        assert report.failed == 0
        rows = live_rows(person(sandbox), sync.ids["cli_sessions"].data_source_id)
        assert set(rows) == {
            f"{SESSION_A}#1",
            f"{SESSION_A}#2",
            f"{SESSION_B}#1",
            f"{CODEX_SESSION}#1",
            f"{CODEX_SESSION}#2",
        }
        key_by_page = {p["id"].replace("-", ""): k for k, [p] in rows.items()}
        second = rows[f"{SESSION_A}#2"][0]
        assert _relation_keys(second, "Previous Session", key_by_page) == [f"{SESSION_A}#1"]
        assert _select(second, "Link Kind") == "compacted"
        first = rows[f"{SESSION_A}#1"][0]
        assert _relation_keys(first, "Next Session", key_by_page) == [f"{SESSION_A}#2"]  # Notion's mirror
        assert _select(first, "Status") == "compacted"
        resumed = rows[f"{SESSION_B}#1"][0]
        assert _relation_keys(resumed, "Previous Session", key_by_page) == [f"{SESSION_A}#2"]
        assert _select(resumed, "Link Kind") == "resumed"

        expected = {r["key"]: r["body"] for r in records.session_records(ledger, SESSION_A)}
        for key in (f"{SESSION_A}#1", f"{SESSION_A}#2"):
            assert sync.read_body(rows[key][0]["id"]) == expected[key]
        body = expected[f"{SESSION_A}#1"]
        order = ["fix the failing test", "Read", "assert parse('1') == 1", "I will convert it to int"]
        assert sorted(order, key=body.index) == order
        assert "All 42 tests pass." in expected[f"{SESSION_A}#2"]
        assert "Subagent x1" in expected[f"{SESSION_A}#2"]
        # Nothing new: nothing is extracted or written again.
        again = _sync_sessions(sync, ledger)
        assert again.created == again.updated == 0


def test_a_huge_tool_output_reaches_the_page_untruncated(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    import json

    big = "".join(f"line {i}: {'x' * 70}\n" for i in range(4000))  # ~320 kB
    path = tmp_path / "s-big.jsonl"
    path.write_text(
        json.dumps(
            {
                "type": "user",
                "uuid": "t1",
                "sessionId": "s-big",
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
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        assert _sync_sessions(sync, ledger).failed == 0
        page_id = sync.page_id("cli_sessions", "s-big#1")
        assert page_id is not None
        assert big in sync.read_body(page_id)


def test_notion_errors_leave_nothing_behind_once_it_recovers(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    import_paths(ledger, [copy_samples(tmp_path)], allow_outside_roots=True)
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sandbox.set_faults(FaultConfig(error_500=0.5, unavailable_503_after_commit=0.1, seed=7))
        for _ in range(3):
            _sync_sessions(sync, ledger)
        sandbox.set_faults(FaultConfig())
        for _ in range(3):
            _sync_sessions(sync, ledger)
        rows = live_rows(person(sandbox), sync.ids["cli_sessions"].data_source_id)
        assert all(len(pages) == 1 for pages in rows.values())  # exactly once
        assert len(rows) == 5
        for session_id in (SESSION_A, SESSION_B, CODEX_SESSION):
            for row in records.session_records(ledger, session_id):
                assert sync.read_body(rows[row["key"]][0]["id"]) == row["body"]


def test_the_page_body_only_grows_while_hooks_run_ahead_of_the_transcript(tmp_path: Path, ledger: Conn) -> None:
    import json
    from datetime import UTC, datetime, timedelta
    from itertools import pairwise

    from ssot_pipelines.sessions.bridge import segments_of
    from ssot_pipelines.sessions.transcript_text import body, coverage, paragraphs
    from ssot_pipelines.sessions.worker import drain_journal
    from ssot_pipelines_tests.sessions_fixtures import hook_payload, run_hook

    transcript = tmp_path / "grow.jsonl"
    journal_dir = tmp_path / "j"

    def turn(i: int) -> None:
        now = datetime.now(UTC).isoformat()
        run_hook(hook_payload("UserPromptSubmit", "grow", prompt=f"request {i}"), journal_dir)
        with transcript.open("a") as fh:
            fh.write(
                json.dumps(
                    {
                        "type": "user",
                        "uuid": f"u{i}",
                        "sessionId": "grow",
                        "timestamp": now,
                        "message": {"role": "user", "content": f"request {i}"},
                    }
                )
                + "\n"
            )
        run_hook(hook_payload("Stop", "grow", last_assistant_message=f"answer {i}"), journal_dir)

    def rendered(now: datetime | None = None) -> str:
        drain_journal(ledger, journal_dir)
        import_paths(ledger, [transcript], allow_outside_roots=True)
        [segment] = segments_of(ledger, "grow")
        return body(paragraphs(segment.events, coverage(segment.events, now)))

    bodies = []
    for i in range(3):
        turn(i)
        bodies.append(rendered())
    assert bodies[0] and all(later.startswith(earlier) for earlier, later in pairwise(bodies))
    assert "answer 2" not in bodies[-1]  # the transcript has not caught up with the last Stop yet
    later = rendered(datetime.now(UTC) + timedelta(minutes=11))
    assert later.startswith(bodies[-1]) and "answer 2" in later  # it never did: the hook's copy is shown
    assert later.count("request 2") == 1


def test_an_active_session_that_goes_quiet_for_a_day_is_shown_ended(tmp_path: Path, ledger: Conn) -> None:
    from ssot_pipelines.sessions.worker import drain_journal
    from ssot_pipelines_tests.sessions_fixtures import hook_payload, run_hook

    run_hook(hook_payload("UserPromptSubmit", "quiet", prompt="start something"), tmp_path / "j")
    drain_journal(ledger, tmp_path / "j")
    first = records.cli_session_frame(ledger, "target")
    records.mark_extracted(ledger, first)
    assert list(first["Status"]) == ["active"]
    ledger.execute("UPDATE session_handover SET confirmed = true")  # as the sync engine's ledger would show
    assert len(records.cli_session_frame(ledger, "target")) == 0  # nothing new
    ledger.execute("UPDATE session_events SET ts = ts - interval '2 days'")
    ledger.execute("UPDATE sessions SET last_event_at = last_event_at - interval '2 days'")
    ledger.commit()
    later = records.cli_session_frame(ledger, "target")
    assert list(later["Status"]) == ["ended"]
