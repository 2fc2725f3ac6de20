"""The engine's guarantees on the paths users take: another Notion target on the same ledger, a record
Notion refuses, a configuration error under Dagster, the parent page id written any way (issue 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.ledger import connect
from ssot_pipelines.notion import desired
from ssot_pipelines.notion.setup import NotionTarget, normalize_parent_page_id, open_sync_manager, resolve_target
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines_tests.catalog_fixtures import commit_all, make_repo
from ssot_pipelines_tests.field_helpers import (
    ROOT,
    catalog_pages,
    data_source_of,
    materialize_args,
    run,
    shas_in_notion,
    tree_shas,
    user_env,
)
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN, person, sync_manager

PAGE = "0123456789abcdef0123456789abcdef"
DASHED = "01234567-89ab-cdef-0123-456789abcdef"


# -- the parent page id -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        PAGE,
        DASHED,
        PAGE.upper(),
        DASHED.upper(),
        f"  {PAGE}\n",
        f"https://www.notion.so/My-Page-{PAGE}?pvs=4",
        f"https://www.notion.so/acme/Engineering-SecondBrain-{PAGE}",
        f"https://www.notion.so/acme/{DASHED}#heading",
        f"https://www.notion.so/acme/Some-db-ffffffffffffffffffffffffffffffff?v=1&p={PAGE}&pm=s",
    ],
)
def test_the_parent_page_written_any_way_names_one_target(written: str) -> None:
    assert normalize_parent_page_id(written) == DASHED
    target = resolve_target(token="secret-token", base_url="https://api.notion.com/", parent_page_id=written)
    assert target.target_id == NotionTarget("https://api.notion.com", "t", DASHED).target_id


@pytest.mark.parametrize("bad", ["../../x", "0123", f"{PAGE}0", "https://www.notion.so/My-Page", "not a page id"])
def test_a_malformed_parent_page_id_is_a_clear_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_target(token="secret-token", parent_page_id=bad)
    message = str(caught.value)
    assert message.startswith("NOTION_PARENT_PAGE_ID") and "32-character id" in message and "https://" in message
    assert "secret-token" not in message


def test_a_ledger_from_before_normalisation_keeps_its_rows(
    sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    """Rows recorded under the id an older version hashed from the id as written (no dashes, upper case)
    are adopted by the normalised target: nothing is created twice."""
    import pandas as pd

    rows = pd.DataFrame([{"key": f"k{i}", "Path": f"p{i}", "SHA": str(i)} for i in range(3)])
    rows.attrs["sync_mode"] = "full"
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        assert sync.sync("file_catalog", rows).created == 3
        new_id = sync.target
    written = sandbox.root_page_id.replace("-", "").upper()
    legacy = NotionTarget(sandbox.url, "t", written).target_id  # what the old code computed from this value
    for table in ("notion_databases", "notion_rows", "sync_runs", "sync_watermarks"):
        ledger.execute(f"UPDATE {table} SET target = %s WHERE target = %s", (legacy, new_id))
    ledger.commit()
    with open_sync_manager(
        notion_base_url=sandbox.url,
        token=SANDBOX_TOKEN,
        parent_page_id=written,
        postgres_url=ledger_url,
        redis_url=redis_url,
        rps=1000.0,
    ) as sync:
        assert sync.target == new_id and not sync.provisioned.created
        again = sync.sync("file_catalog", rows)
    assert (again.created, again.unchanged) == (0, 3)


# -- another Notion target on the same ledger -------------------------------------------------------


def _second_parent(sandbox: Any) -> str:
    page: Any = person(sandbox).request(
        path="pages",
        method="POST",
        body={
            "parent": {"type": "page_id", "page_id": sandbox.root_page_id},
            "properties": {"title": {"title": [{"text": {"content": "Second workspace"}}]}},
        },
    )
    return str(page["id"])


def _materialize_catalog(env: dict[str, str]) -> None:
    result = run(materialize_args("file_catalog"), env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


def test_switching_the_notion_target_both_ways_fills_each_target_completely(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "app", {f"src/m{i}.py": f"v = {i}\n" for i in range(6)})
    commit_all(repo)
    first, second = sandbox.root_page_id, _second_parent(sandbox)
    env_a = user_env(sandbox, ledger_url, redis_url, repo, parent=first, dagster_home=tmp_path / "dg")
    env_b = {**env_a, "NOTION_PARENT_PAGE_ID": f"https://www.notion.so/Second-{second.replace('-', '')}?pvs=4"}

    _materialize_catalog(env_a)
    ds_a = data_source_of(sandbox, first)
    pages_a = catalog_pages(sandbox, ds_a)
    assert shas_in_notion(pages_a) == tree_shas(repo)
    renamed_page = pages_a["app/src/m5.py"][0]["id"]

    _materialize_catalog(env_b)  # the ordinary incremental run: nothing changed on disk
    ds_b = data_source_of(sandbox, second)
    assert ds_b != ds_a
    pages_b = catalog_pages(sandbox, ds_b)
    assert shas_in_notion(pages_b) == tree_shas(repo)
    assert all(len(group) == 1 for group in pages_b.values())

    # while on B: an update, an addition, a deletion and a rename
    (repo / "src/m0.py").write_text("v = 'changed'\n")
    (repo / "src/new.py").write_text("fresh = True\n")
    (repo / "src/m1.py").unlink()
    (repo / "src/m5.py").rename(repo / "src/m5_renamed.py")
    commit_all(repo, "changes while on B")
    _materialize_catalog(env_b)
    pages_b = catalog_pages(sandbox, ds_b)
    assert shas_in_notion(pages_b) == tree_shas(repo)

    _materialize_catalog(env_a)  # back to A: everything B received is pending for A too
    pages_a = catalog_pages(sandbox, ds_a)
    assert shas_in_notion(pages_a) == tree_shas(repo)
    assert all(len(group) == 1 for group in pages_a.values()), "one live page per file"
    assert pages_a["app/src/m5_renamed.py"][0]["id"] == renamed_page, "the renamed file kept its page in A"


# -- one bad record fails alone ---------------------------------------------------------------------


def _dagster_instance(home: Path, monkeypatch: Any) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's storage is found through it
    return dg.DagsterInstance.from_config(str(home))


def test_a_record_notion_refuses_fails_alone_and_is_not_retried(
    tmp_path: Path, monkeypatch: Any, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines import tasks
    from ssot_pipelines.tasks.staged import import_records

    poison = "task-" + "x" * 5000  # imported before staging checked key lengths, say
    with connect(ledger_url) as conn:
        good = [f"task-{tasks.add_task(conn, f'task {i}', agent='planner').id}" for i in range(4)]
        import_records(conn, [{"key": poison, "Name": "poison"}], agent="import", origin="import")
        huge = f"task-{tasks.add_task(conn, 'y' * 250_000, agent='planner').id}"  # too long for any property
        conn.commit()
    home = tmp_path / "dg"
    env = user_env(sandbox, ledger_url, redis_url, tmp_path, dagster_home=home)
    result = run(materialize_args("task_tracking"), env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        assert all(sync.page_id("task_tracking", key) for key in good)
        assert sync.page_id("task_tracking", poison) is None and sync.page_id("task_tracking", huge) is None
    instance = _dagster_instance(home, monkeypatch)
    [record] = instance.get_run_records()
    events = [e.dagster_event_type for e in instance.all_logs(record.dagster_run.run_id) if e.dagster_event_type]
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events and dg.DagsterEventType.STEP_RESTARTED not in events
    materialization = instance.get_latest_materialization_event(dg.AssetKey("task_tracking"))
    assert materialization is not None and materialization.asset_materialization is not None
    meta = materialization.asset_materialization.metadata
    assert meta["failed"].value == 2 and meta["created"].value == 4
    errors = str(meta["errors"].value)
    assert "5,005 characters" in errors and "shorten the key" in errors
    assert huge in errors and "characters" in errors


# -- configuration errors fail fast under Dagster ---------------------------------------------------


def test_the_instance_never_retries_a_run_for_a_failed_step(tmp_path: Path, monkeypatch: Any) -> None:
    home = tmp_path / "dg"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = _dagster_instance(home, monkeypatch)
    assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure


def test_an_unreachable_notion_base_url_fails_the_run_at_once_naming_it(
    tmp_path: Path, monkeypatch: Any, ledger_url: str, redis_url: str
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "dg"
    fake = type("Sandbox", (), {"url": f"http://127.0.0.1:{port}", "root_page_id": DASHED})()
    env = user_env(fake, ledger_url, redis_url, tmp_path, dagster_home=home)
    env["NOTION_TOKEN"] = "secret-token-never-shown"
    result = run(materialize_args("file_catalog"), env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "NOTION_BASE_URL" in output and "secret-token-never-shown" not in output

    instance = _dagster_instance(home, monkeypatch)
    [record] = instance.get_run_records()  # no run retry
    logs = instance.all_logs(record.dagster_run.run_id)
    events = [e.dagster_event_type for e in logs if e.dagster_event_type]
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events
    [failure] = [e for e in logs if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.dagster_event is not None
    data: Any = failure.dagster_event.event_specific_data
    assert data.user_failure_data.description.startswith("Configuration error (not retried): Notion at")
    assert "Check NOTION_BASE_URL" in data.user_failure_data.description
    started = min(e.timestamp for e in logs if e.dagster_event_type == dg.DagsterEventType.STEP_START)
    print(json.dumps({"step_seconds_to_failure": round(failure.timestamp - started, 2)}))


# -- progress ---------------------------------------------------------------------------------------


def test_a_running_sync_reports_rows_done_rate_and_time_left(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    import pandas as pd

    rows = pd.DataFrame([{"key": f"k{i}", "Path": f"p{i}", "SHA": str(i)} for i in range(5)])
    rows.attrs["sync_mode"] = "full"
    lines: list[str] = []
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.progress_interval = 0.0  # every row, instead of every 10 s
        sync.sync("file_catalog", rows, progress=lines.append)
        reconcile: list[str] = []
        sync.sync("file_catalog", rows, reconcile=True, progress=reconcile.append)
    assert lines[0].startswith("file_catalog: 1 of 5 rows in ") and "rows/s" in lines[0] and "left" in lines[0]
    assert lines[-1].startswith("file_catalog: 5 of 5 rows")
    assert reconcile[0].startswith("file_catalog (reading Notion back): 5 of 5 rows")


# -- pending work -----------------------------------------------------------------------------------


def test_frame_values_and_partial_relations_are_pending_exactly_until_notion_has_them(
    sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    import numpy as np
    import pandas as pd

    catalog = pd.DataFrame(
        [
            {
                "key": "f1",
                "Path": "f1",
                "SHA": "a",
                "Size": np.int64(7),
                "Last Modified": pd.Timestamp("2026-12-01T10:00:00Z"),
            }
        ],
        dtype=object,
    )
    catalog.attrs["sync_mode"] = "full"
    first = pd.DataFrame([{"key": "t-a", "Name": "A", "Dependencies": ["t-b"]}])
    first.attrs["sync_mode"] = "incremental"
    later = pd.DataFrame([{"key": "t-b", "Name": "B"}])
    later.attrs["sync_mode"] = "incremental"
    nothing = pd.DataFrame({"key": []})
    nothing.attrs["sync_mode"] = "incremental"
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", catalog)
        # the ledger's JSON form of a Timestamp and a numpy int digests like the frame's: nothing pending
        assert desired.keys_not_synced(ledger, sync.target, "file_catalog") == []
        ledger.commit()
        assert sync.sync("file_catalog", nothing).requests == 0

        sync.sync("task_tracking", first)  # t-b is not in Notion yet: written without the relation
        assert desired.keys_not_synced(ledger, sync.target, "task_tracking") == ["t-a"]
        ledger.commit()
        sync.sync("task_tracking", later)  # t-a is still pending, so this run completes it
        assert desired.keys_not_synced(ledger, sync.target, "task_tracking") == []
        ledger.commit()
        a_page, b_page = sync.page_id("task_tracking", "t-a"), sync.page_id("task_tracking", "t-b")
        sandbox.reset_stats()
        idle = sync.sync("task_tracking", nothing)
    page: Any = person(sandbox).request(path=f"pages/{a_page}", method="GET")
    assert [r["id"] for r in page["properties"]["Dependencies"]["relation"]] == [b_page]
    # Task Tracking has shared properties, but nothing is pending: people's current values are read only
    # before a write could touch them, so the idle run asks Notion nothing at all
    assert (idle.updated, idle.created, idle.requests) == (0, 0, 0)
    assert sandbox.stats()["writes_applied"] == 0


def test_a_ledger_synced_by_an_earlier_version_is_not_all_pending_after_the_migration(
    sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    """Rows synced after their record last changed count as pushed; a record changed since stays pending."""
    from importlib import resources

    import pandas as pd

    rows = pd.DataFrame([{"key": f"k{i}", "Path": f"p{i}", "SHA": str(i)} for i in range(4)])
    rows.attrs["sync_mode"] = "full"
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", rows)
        target = sync.target
    # as an earlier version left it: no pushed digests, and one record re-staged by a run that then died
    ledger.execute("UPDATE notion_rows SET pushed_digest = NULL")
    ledger.execute(
        """UPDATE records SET "values" = jsonb_set("values", '{SHA}', '"new"'), updated_at = now()"""
        " WHERE key = 'k2'"
    )
    migration = resources.files("ssot_pipelines.ledger.migrations") / "0003_pending_work.sql"
    ledger.execute(migration.read_text(encoding="utf-8"))
    ledger.commit()
    assert desired.keys_not_synced(ledger, target, "file_catalog") == ["k2"]


def test_a_rename_first_seen_by_the_daily_full_sync_keeps_its_page_and_notes(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines.catalog.extract import build_catalog_records
    from ssot_pipelines_tests.catalog_fixtures import config_for

    repo = make_repo(tmp_path / "app", {f"src/m{i}.py": f"v = {i}\n" for i in range(4)})
    commit_all(repo)
    config = config_for([repo])
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", build_catalog_records(ledger, config, full=True)[0], reconcile=True)
        page = sync.page_id("file_catalog", "app/src/m3.py")
        ds = sync.ids["file_catalog"].data_source_id
        person(sandbox).request(
            path=f"pages/{page}",
            method="PATCH",
            body={"properties": {"Notes": {"rich_text": [{"text": {"content": "keep me"}}]}}},
        )
        (repo / "src/m3.py").rename(repo / "src/moved.py")
        commit_all(repo, "rename")
        report = sync.sync("file_catalog", build_catalog_records(ledger, config, full=True)[0], reconcile=True)
    pages = catalog_pages(sandbox, ds)
    assert all(len(group) == 1 for group in pages.values()) and shas_in_notion(pages) == tree_shas(repo)
    [moved] = pages["app/src/moved.py"]
    assert moved["id"] == page and moved["properties"]["Notes"]["rich_text"][0]["plain_text"] == "keep me"
    assert (report.created, report.archived) == (0, 0)
