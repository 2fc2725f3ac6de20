"""The "SSoT Status" page (issue 13 §2) and the asset checks that compare Notion with the ledger.

The page is one page under the parent page, a fixed skeleton of blocks patched in place; the checks are
computed from what a full sync reads back anyway, and fail when a person deletes or duplicates a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.audits import last_audits
from ssot_pipelines.notion.text import block_text
from ssot_pipelines.statuspage.checks import CHECK_NAME
from ssot_pipelines.statuspage.page import PAGE_TITLE, refresh_status_page
from ssot_pipelines.statuspage.sections import section_names
from ssot_pipelines_tests.field_helpers import materialize_args, run, ssot, user_env
from ssot_pipelines_tests.notion_helpers import dagster_resources, live_rows, person, sync_manager

FULL = dg.RunConfig(ops={"task_tracking": {"config": {"full": True}}})


def _add_tasks(ledger_url: str, n: int, *, poison: bool = False) -> list[str]:
    from ssot_pipelines import tasks
    from ssot_pipelines.tasks.staged import import_records

    with connect(ledger_url) as conn:
        keys = [f"task-{tasks.add_task(conn, f'status task {i}', agent='planner').id}" for i in range(n)]
        if poison:  # a key too long for Notion to look up: the record fails alone, every run
            import_records(conn, [{"key": "task-" + "x" * 5000, "Name": "poison"}], agent="import", origin="import")
        conn.commit()
    return keys


def _task_tracking() -> dg.AssetsDefinition:
    from ssot_pipelines.tasks.defs import task_tracking

    return task_tracking  # type: ignore[no-any-return]


def _materialize(sandbox: Any, ledger_url: str, redis_url: str, config: Any = None) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [_task_tracking()], resources=dagster_resources(sandbox, ledger_url, redis_url), run_config=config
    )
    assert result.success
    return result


def _status_pages(sandbox: Any) -> list[dict[str, Any]]:
    """The live child pages of the parent page titled "SSoT Status", as a person sees them."""
    client = person(sandbox)
    children: Any = client.request(path=f"blocks/{sandbox.root_page_id}/children", method="GET")
    found = []
    for block in children["results"]:
        if block["type"] != "child_page" or block["child_page"]["title"] != PAGE_TITLE:
            continue
        page: Any = client.request(path=f"pages/{block['id']}", method="GET")
        if not page.get("in_trash"):
            found.append(page)
    return found


def _blocks(sandbox: Any, page_id: str) -> list[dict[str, Any]]:
    res: Any = person(sandbox).request(path=f"blocks/{page_id}/children", method="GET", query={"page_size": 100})
    return [b for b in res["results"] if not b.get("in_trash")]


def _section_text(sandbox: Any, title_start: str) -> str:
    [page] = _status_pages(sandbox)
    texts = [block_text(b) for b in _blocks(sandbox, page["id"])]
    return next(t for t in texts if t.startswith(title_start))


def test_the_status_page_after_a_run_with_a_failed_record_shows_it_and_an_unchanged_run_writes_one_block_at_most(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    _add_tasks(ledger_url, 3, poison=True)
    first = _materialize(sandbox, ledger_url, redis_url)
    meta = first.asset_materializations_for_node("task_tracking")[0].metadata
    assert meta["failed"].value == 1 and meta["created"].value == 3
    assert meta["rows"].value == 3 and meta["pending"].value == 1 and meta["lag_seconds"].value > 0
    assert isinstance(meta["requests"].value, int) and meta["rate_limited"].value == 0

    [page] = _status_pages(sandbox)
    blocks = _blocks(sandbox, page["id"])
    assert len(blocks) == len(section_names())
    text = _section_text(sandbox, "Task Tracking")
    assert "Rows in Notion: 3. Last run: 3 created, 0 updated, 0 archived, 1 failed" in text
    assert "Lag: 1 record(s) not yet in Notion; the oldest change is from" in text
    assert "Requests:" in text and "rate-limited (429): 0" in text
    assert "Notion request budget" in " ".join(block_text(b) for b in blocks)

    sandbox.reset_stats()
    second = _materialize(sandbox, ledger_url, redis_url)
    stats = sandbox.stats()["by_endpoint"]
    # the poison record is tried again (it fails before any request); the page: its one changed block at most
    assert stats.get("blocks.update", 0) <= 1
    assert stats.get("blocks.children.append", 0) == 0 and stats.get("pages.create", 0) == 0
    meta2 = second.asset_materializations_for_node("task_tracking")[0].metadata
    assert meta2["status_page_blocks_written"].value <= 1 and meta2["status_page_requests"].value <= 1
    [again] = _status_pages(sandbox)
    assert again["id"] == page["id"]
    assert [b["id"] for b in _blocks(sandbox, page["id"])] == [b["id"] for b in blocks]  # patched in place
    assert "1 failed" in _section_text(sandbox, "Task Tracking")

    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        nothing = refresh_status_page(manager)  # nothing changed since the run: no request at all
    assert (nothing.requests, nothing.blocks_written) == (0, 0)


def test_the_status_page_stays_one_page_and_a_deleted_page_or_block_comes_back(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    _add_tasks(ledger_url, 2)
    for _ in range(3):
        _materialize(sandbox, ledger_url, redis_url)
    [page] = _status_pages(sandbox)

    client = person(sandbox)
    client.request(path=f"pages/{page['id']}", method="PATCH", body={"in_trash": True})
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        update = refresh_status_page(manager, verify=True)
    assert update.created_page
    [recreated] = _status_pages(sandbox)
    assert recreated["id"] != page["id"]
    assert len(_blocks(sandbox, recreated["id"])) == len(section_names())

    # a person deletes one block and rewrites another: the next read-back repairs both, in place
    blocks = _blocks(sandbox, recreated["id"])
    client.request(path=f"blocks/{blocks[3]['id']}", method="DELETE")
    edited = {"paragraph": {"rich_text": [{"type": "text", "text": {"content": "scribbled"}}]}}
    client.request(path=f"blocks/{blocks[5]['id']}", method="PATCH", body=edited)
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        repaired = refresh_status_page(manager, verify=True)
    assert repaired.blocks_recreated == 1 and repaired.blocks_written == 2 and not repaired.created_page
    after = _blocks(sandbox, recreated["id"])
    assert [block_text(b) for b in after][5] == block_text(blocks[5]) != "scribbled"
    assert len(after) == len(section_names()) and block_text(after[3]) == block_text(blocks[3])
    assert len(_status_pages(sandbox)) == 1

    # a create whose answer was lost (a 503 after Notion committed it): the next refresh adopts that page
    with connect(ledger_url) as conn:
        conn.execute("UPDATE status_pages SET page_id = ''")
        conn.execute("DELETE FROM status_page_blocks")
        conn.commit()
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        adopted = refresh_status_page(manager)
    assert not adopted.created_page and adopted.page_id == recreated["id"] and adopted.blocks_written == 0
    assert [b["id"] for b in _blocks(sandbox, recreated["id"])] == [b["id"] for b in after]

    # the daily full sync reads the page back too (once for all its steps): a page trashed since comes back
    client.request(path=f"pages/{recreated['id']}", method="PATCH", body={"in_trash": True})
    with connect(ledger_url) as conn:
        conn.execute("UPDATE status_pages SET verified_at = now() - interval '11 minutes'")
        conn.commit()
    _materialize(sandbox, ledger_url, redis_url, FULL)
    [third] = _status_pages(sandbox)
    assert third["id"] not in (page["id"], recreated["id"])


def test_the_asset_check_passes_on_a_clean_full_sync_and_reports_ledger_figures_on_an_incremental_one(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    _add_tasks(ledger_url, 3)
    full = _materialize(sandbox, ledger_url, redis_url, FULL)
    [check] = full.get_asset_check_evaluations()
    assert check.check_name == CHECK_NAME and check.passed
    assert check.metadata["compared"].value == "every row read back" and check.metadata["missing"].value == 0
    incremental = _materialize(sandbox, ledger_url, redis_url)
    [check] = incremental.get_asset_check_evaluations()
    assert check.passed and check.metadata["compared"].value == "ledger only"
    assert "Notion was not read" in str(check.description)
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        audit = last_audits(manager.conn, manager.target)["task_tracking"]
    assert audit.ok and audit.source == "asset_check"  # only the full sync's verdict is kept as an audit


def test_the_asset_check_fails_when_a_person_deletes_or_duplicates_a_row(
    tmp_path: Path, monkeypatch: Any, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    keys = _add_tasks(ledger_url, 4)
    home = tmp_path / "dg"
    env = user_env(sandbox, ledger_url, redis_url, tmp_path, dagster_home=home)
    full = json.dumps({"ops": {"task_tracking": {"config": {"full": True}}}})
    first = run(materialize_args("task_tracking", full), env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]

    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        data_source = manager.ids["task_tracking"].data_source_id
    client = person(sandbox)
    rows = live_rows(client, data_source)
    client.request(path=f"pages/{rows[keys[0]][0]['id']}", method="PATCH", body={"in_trash": True})
    original = rows[keys[1]][0]
    copy = {"Name": original["properties"]["Name"], "Key": original["properties"]["Key"]}
    client.request(path="pages", method="POST", body={"parent": {"data_source_id": data_source}, "properties": copy})

    second = run(materialize_args("task_tracking", full), env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("task_tracking"), CHECK_NAME), limit=10
    )
    verdicts = [r.evaluation for r in records if r.evaluation is not None]  # latest first
    assert [v.passed for v in verdicts] == [False, True]
    failed = verdicts[0]
    assert failed.metadata["missing"].value == 1 and failed.metadata["duplicates"].value == 1
    assert "1 row(s) missing" in str(failed.description) and "1 duplicate page(s)" in str(failed.description)

    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        audit = last_audits(manager.conn, manager.target)["task_tracking"]
    assert not audit.ok and audit.source == "asset_check"
    assert "Last audit: FAILED (asset_check" in _section_text(sandbox, "Task Tracking")
    repaired = live_rows(client, data_source)
    assert all(len(repaired[k]) == 1 for k in keys)  # the run repaired what it reported

    by_hand = run(ssot("statuspage"), env)  # the page refreshed by hand: read back, nothing to repair
    assert by_hand.returncode == 0, by_hand.stderr[-3000:]
    assert "read back" in by_hand.stdout and "recreated" not in by_hand.stdout
    assert len(_status_pages(sandbox)) == 1


def test_a_failed_run_is_shown_on_the_status_page(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    from ssot_pipelines.statuspage.defs import status_page_on_run_failure

    _add_tasks(ledger_url, 1)
    _materialize(sandbox, ledger_url, redis_url)

    @dg.asset
    def broken() -> None:
        raise RuntimeError("the extract could not read its source")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken], instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="status_page_on_run_failure",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    status_page_on_run_failure(
        context, notion=resources["notion"], postgres=resources["postgres"], redis=resources["redis"]
    )
    text = _section_text(sandbox, "Failed runs")
    assert result.dagster_run.run_id[:8] in text and "__ephemeral_asset_job__" in text


def test_every_database_asset_has_the_check_and_the_hourly_freshness_policy() -> None:
    from ssot_pipelines.definitions import defs
    from ssot_pipelines.schemas import ALL_DATABASES

    graph = defs.resolve_asset_graph()
    for schema in ALL_DATABASES:
        key = dg.AssetKey(schema.name)
        assert dg.AssetCheckKey(key, CHECK_NAME) in graph.asset_check_keys, schema.name
        policy = graph.get(key).freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy) and policy.fail_window.to_timedelta().total_seconds() == 7200
    assert defs.resolve_sensor_def("status_page_on_run_failure") is not None


def test_a_deleted_block_is_put_back_in_its_place_under_notion_version_2026_03_11(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    """2026-03-11 refuses ``after`` on an append: the repair names its place with ``position``."""
    with sync_manager(sandbox, ledger_url, redis_url, notion_version="2026-03-11") as manager:
        refresh_status_page(manager)
        [page] = _status_pages(sandbox)
        blocks = _blocks(sandbox, page["id"])
        person(sandbox).request(path=f"blocks/{blocks[4]['id']}", method="DELETE")
        repaired = refresh_status_page(manager, verify=True)
    assert repaired.blocks_recreated == 1
    after = _blocks(sandbox, page["id"])
    assert [block_text(b) for b in after] == [block_text(b) for b in blocks]
