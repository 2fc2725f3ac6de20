"""The Free workspace block limit: the sandbox enforces it as documented, the engine holds bodies and resumes.

A multi-member Free workspace takes 1,000 blocks in its lifetime; past the limit and a grace period Notion
refuses block-creating writes (reference/notion-2026.md §5). Properties must keep syncing, bodies wait in
the ledger, and everything held is written once the workspace takes blocks again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from ssot_pipelines.notion import desired
from ssot_pipelines.notion.desired import SyncRecord
from ssot_pipelines.notion.text import block_text
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.statuspage.page import PAGE_TITLE, refresh_status_page
from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager, text_of

_HTTP = httpx.Client()
DB = "task_tracking"


def _call(sandbox: Any, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sandbox.token}", "Notion-Version": "2026-03-11"}
    return _HTTP.request(method, sandbox.url + "/v1/" + path, headers=headers, json=body)


def _status_section(client: Any, sandbox: Any, title: str) -> str:
    """The text of the status page's block that starts with ``title``, as a person reads it."""
    children: Any = client.request(path=f"blocks/{sandbox.root_page_id}/children", method="GET")
    [page_id] = [
        b["id"] for b in children["results"] if b["type"] == "child_page" and b["child_page"]["title"] == PAGE_TITLE
    ]
    blocks: Any = client.request(path=f"blocks/{page_id}/children", method="GET", query={"page_size": 100})
    return next(t for t in (block_text(b) for b in blocks["results"]) if t.startswith(title))


def _para(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]}}


def test_the_sandbox_counts_every_block_and_refuses_only_new_ones_after_the_grace_period(sandbox: Any) -> None:
    sandbox.block_budget.configure(5, grace_seconds=0.3)
    root = sandbox.root_page_id
    page = _call(sandbox, "POST", "pages", {"parent": {"page_id": root}, "children": [_para("a"), _para("b")]})
    assert page.status_code == 200, page.text  # 3 blocks: the page and its two paragraphs
    page_id = page.json()["id"]
    reach = _call(sandbox, "PATCH", f"blocks/{page_id}/children", {"children": [_para("c"), _para("d")]})
    assert reach.status_code == 200  # the write that reaches the limit succeeds and starts the grace period
    during = _call(sandbox, "PATCH", f"blocks/{page_id}/children", {"children": [_para("e")]})
    assert during.status_code == 200  # creation still works during the grace period
    time.sleep(0.4)
    refused = _call(sandbox, "PATCH", f"blocks/{page_id}/children", {"children": [_para("f")]})
    assert refused.status_code == 400 and "block limit" in refused.json()["message"]
    assert _call(sandbox, "POST", "pages", {"parent": {"page_id": root}}).status_code == 400  # a page is a block
    # reads, edits that create no block, and deletes keep working; deleting gives no capacity back
    blocks = _call(sandbox, "GET", f"blocks/{page_id}/children").json()["results"]
    assert len(blocks) == 5
    edit = _call(sandbox, "PATCH", f"blocks/{blocks[0]['id']}", {"paragraph": {"rich_text": []}})
    assert edit.status_code == 200
    assert _call(sandbox, "DELETE", f"blocks/{blocks[1]['id']}").status_code == 200
    assert _call(sandbox, "PATCH", f"blocks/{page_id}/children", {"children": [_para("g")]}).status_code == 400
    state = sandbox.block_budget.snapshot()
    assert state["used"] == 6 and state["refusing"] and state["refused"] == 3


def _records(n: int, *, version: int, grown: bool = False) -> list[SyncRecord]:
    """Tasks T-0..: the first two have a body from the start (it grows), the others get one when ``grown``."""
    out = []
    for i in range(n):
        body: str | None = f"Task {i}: what to do\n" + ("and what came of it, in detail\n" * 3 if grown else "")
        if i >= 2 and not grown:
            body = None
        values = {"Name": f"Task {i} v{version}", "Task ID": f"T-{i}", "Priority": "P1" if version == 1 else "P2"}
        out.append(SyncRecord(f"T-{i}", values, body=body))
    return out


def test_the_block_limit_mid_sync_holds_bodies_keeps_properties_and_a_later_run_writes_them(
    sandbox: Any, ledger_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = person(sandbox)
    with sync_manager(sandbox, ledger_url, redis_url, notion_version="2026-03-11") as manager:
        manager.sync(DB, _records(6, version=1), mode="full")
        ds_id = manager.ids[DB].data_source_id
        refresh_status_page(manager)  # the status page exists before the limit (its edits create no block)
        assert "never refused" in _status_section(client, sandbox, "Notion block limit")
        # From here on the workspace takes two more blocks, then refuses new ones (no grace left).
        sandbox.block_budget.configure(2, grace_seconds=0)
        changed = [*_records(6, version=2, grown=True), SyncRecord("T-6", {"Name": "Task 6"}, body="new task\n")]
        with caplog.at_level(logging.WARNING, logger="ssot_pipelines.notion"):
            report = manager.sync(DB, changed, mode="full")

        # T-0 and T-1 spent the two blocks on their growing bodies; T-2's first body was refused; T-3..T-5's
        # were not even tried; T-6's page (a block) was refused.
        assert report.bodies_held == 4 and report.body_writes == 2
        assert report.failed == 1 and "block limit" in report.errors[0] and report.errors[0].startswith("T-6")
        assert report.block_limit.startswith("held since") and "paid plan" in report.block_limit
        metadata = report.as_metadata()
        assert metadata["bodies_held"] == 4 and metadata["block_limit"] == report.block_limit
        assert any("paid plan" in r.getMessage() for r in caplog.records)
        # properties of every existing record reached Notion
        rows = live_rows(client, ds_id)
        assert {k: text_of(p[0], "Name") for k, p in rows.items()} == {f"T-{i}": f"Task {i} v2" for i in range(6)}
        for i, record in enumerate(changed[:6]):
            expected = record.body if i < 2 else ""
            assert manager.read_body(rows[f"T-{i}"][0]["id"]) == expected
        # nothing is lost: the held bodies and the refused row are pending in the ledger
        pending = desired.keys_not_synced(manager.conn, manager.target, DB)
        assert pending == ["T-2", "T-3", "T-4", "T-5", "T-6"]
        state = desired.block_limit_state(manager.conn, manager.target)
        assert state is not None and state["held"] and "block limit" in state["message"]
        refresh_status_page(manager)  # the status page says so, edited in place within the limit
        shown = _status_section(client, sandbox, "Notion block limit")
        assert "HELD since" in shown and "paid plan" in shown

        # Still limited: one probe body write per sync, no more; properties unchanged, nothing written.
        refused_before = sandbox.block_budget.snapshot()["refused"]
        again = manager.sync(DB, [], mode="incremental")
        assert again.bodies_held == 4 and again.failed == 1
        assert sandbox.block_budget.snapshot()["refused"] - refused_before == 2  # the probe and T-6's create

        # The workspace takes blocks again (a paid plan): the next ordinary run writes everything held.
        sandbox.block_budget.configure(None)
        resumed = manager.sync(DB, [], mode="incremental")
        assert (resumed.bodies_held, resumed.failed, resumed.block_limit) == (0, 0, "ok"), resumed.errors
        assert desired.keys_not_synced(manager.conn, manager.target, DB) == []
        rows = live_rows(client, ds_id)
        for record in changed:
            assert manager.read_body(rows[record.key][0]["id"]) == record.body
        state = desired.block_limit_state(manager.conn, manager.target)
        assert state is not None and not state["held"] and state["released_at"] is not None
        refresh_status_page(manager)
        assert "writing resumed" in _status_section(client, sandbox, "Notion block limit")


def test_bodies_spend_few_blocks_and_a_changed_body_is_edited_in_place(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    long_text = "".join(f"{n:06d} a transcript line of a long session, with some words in it\n" for n in range(4000))
    assert len(long_text) > 250_000
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        manager.sync(DB, [SyncRecord("T-0", {"Name": "warm-up", "Task ID": "T-0"})], mode="full")
        sandbox.block_budget.configure(None)  # counts from zero
        manager.sync(DB, [SyncRecord("T-1", {"Name": "long", "Task ID": "T-1"}, body=long_text)], mode="incremental")
        # one row, and its 250 KB body in two packed paragraphs (it took 33 at four pieces per paragraph)
        assert sandbox.block_budget.snapshot()["used"] == 1 + 2
        page_id = manager.page_id(DB, "T-1")
        assert page_id and manager.read_body(page_id) == long_text

        edited = long_text.replace("002000 a transcript", "002000 AN EDITED transcript")
        report = manager.sync(DB, [SyncRecord("T-1", {"Name": "long", "Task ID": "T-1"}, body=edited)], mode="full")
        assert report.body_writes == 1
        assert sandbox.block_budget.snapshot()["used"] == 3  # edited in place: no block erased, none created
        assert manager.read_body(page_id) == edited


def test_with_notion_spare_blocks_a_growing_body_fills_its_last_block_instead_of_adding_one(
    sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_SPARE_BLOCKS", "1")
    transcript = "".join(f"turn {n}: a question and its answer\n" for n in range(40))
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        manager.sync(DB, [SyncRecord("T-1", {"Name": "session", "Task ID": "T-1"}, body=transcript[:200])], mode="full")
        used = sandbox.block_budget.snapshot()["used"]
        for end in (400, 800, len(transcript)):  # the transcript grows between syncs
            record = SyncRecord("T-1", {"Name": "session", "Task ID": "T-1"}, body=transcript[:end])
            assert manager.sync(DB, [record], mode="full").body_writes == 1
        assert sandbox.block_budget.snapshot()["used"] == used  # three growths, not one new block
        page_id = manager.page_id(DB, "T-1")
        assert page_id and manager.read_body(page_id) == transcript
    monkeypatch.setenv("NOTION_SPARE_BLOCKS", "maybe")
    with (
        sync_manager(sandbox, ledger_url, redis_url) as manager,
        pytest.raises(ConfigurationError, match="NOTION_SPARE"),
    ):
        manager.sync(DB, [], mode="incremental")
