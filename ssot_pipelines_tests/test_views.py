"""Views and the dashboard (issue 13 §1) and ``ssot verify`` over records, schemas and views.

The sandbox's Views API is exercised over HTTP with notion-client; a person's views and deletions are made
through the sandbox's person prefix (``/__sandbox/person/v1/``), as the Notion UI would make them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from notion_client import Client
from notion_client.errors import APIResponseError

from ssot_pipelines.dashboards.plan import DASHBOARD_SLOT, VIEW_PLAN, home_database
from ssot_pipelines.dashboards.provision import provision_views
from ssot_pipelines.dashboards.records import recorded_views
from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.audits import last_audits
from ssot_pipelines.notion.provision import DatabaseIds
from ssot_pipelines_tests.dagster_cli import dagster_env
from ssot_pipelines_tests.notion_helpers import dagster_resources, sync_manager

OUR_TABS = [v for v in VIEW_PLAN if not v.dashboard]
WIDGETS = [v for v in VIEW_PLAN if v.dashboard]


def as_person(sandbox: Any) -> Client:
    """A person in the Notion UI: the API through the sandbox's person prefix (``created_by`` is a person)."""
    return Client(auth=sandbox.token, base_url=f"{sandbox.url}/__sandbox/person", retry=False)


def integration(sandbox: Any, version: str = "2025-09-03") -> Client:
    return Client(auth=sandbox.token, base_url=sandbox.url, retry=False, notion_version=version)


def views_of(client: Client, database_id: str) -> list[dict[str, Any]]:
    """Every tab of a database, retrieved in full (the list gives ids only)."""
    out, cursor = [], None
    while True:
        query: dict[str, Any] = {"database_id": database_id, "page_size": 2}
        if cursor:
            query["start_cursor"] = cursor
        res: Any = client.request(path="views", method="GET", query=query)
        assert all(set(item) == {"object", "id"} for item in res["results"]), res  # ids only
        for item in res["results"]:
            view: Any = client.request(path=f"views/{item['id']}", method="GET")
            out.append({k: v for k, v in view.items() if k != "request_id"})
        if not res["has_more"]:
            return out
        cursor = res["next_cursor"]


def provision(sandbox: Any, ledger_url: str, redis_url: str) -> tuple[Any, dict[str, DatabaseIds], str]:
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        report = provision_views(manager.gateway, manager.conn, manager.target, manager.ids)
        return report, dict(manager.ids), manager.target


def _status_board_body(ids: DatabaseIds, name: str) -> dict[str, Any]:
    return {
        "database_id": ids.database_id,
        "data_source_id": ids.data_source_id,
        "name": name,
        "type": "board",
        "configuration": {
            "type": "board",
            "group_by": {"type": "select", "property_id": ids.property_ids["Status"], "sort": {"type": "manual"}},
        },
    }


# -- provisioning ---------------------------------------------------------------------------------------


def test_views_are_created_once_and_a_rerun_makes_no_writes_and_no_duplicates(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    first, ids, target = provision(sandbox, ledger_url, redis_url)
    assert len(first.created) == len(VIEW_PLAN) and not first.failed, first
    sandbox.reset_stats()
    second, _, _ = provision(sandbox, ledger_url, redis_url)
    assert not second.created and not second.restored and not second.repaired and not second.adopted
    assert len(second.unchanged) == len(VIEW_PLAN)
    stats = sandbox.stats()
    assert stats["writes_applied"] == 0, stats
    assert stats["by_endpoint"].get("views.retrieve") == len(VIEW_PLAN)  # one read per view, nothing more

    client = integration(sandbox)
    for name in {home_database(v) for v in VIEW_PLAN}:
        tabs = views_of(client, ids[name].database_id)
        counts = Counter(v["name"] for v in tabs)
        assert counts["Default view"] == 1, counts  # Notion's own first view stays
        for spec in OUR_TABS:
            if spec.database == name:
                assert counts[spec.name] == 1, (name, counts)
    recorded = recorded_views_of(ledger_url, target)
    dashboard = client.request(path=f"views/{recorded[DASHBOARD_SLOT]}", method="GET")
    widgets = [w["view_id"] for row in dashboard["configuration"]["rows"] for w in row["widgets"]]
    assert sorted(widgets) == sorted(recorded[w.slot] for w in WIDGETS)
    tech_debt_chart = client.request(path=f"views/{recorded['tech_debt/chart']}", method="GET")
    config = tech_debt_chart["configuration"]
    assert config["x_axis"]["property_id"] == ids["tech_debt"].property_ids["Severity"]
    assert config["stack_by"]["property_id"] == ids["tech_debt"].property_ids["Tool"]
    assert config["y_axis"] == {"aggregator": "count"}
    board = client.request(path=f"views/{recorded['task_tracking/board']}", method="GET")
    assert board["configuration"]["sub_group_by"]["property_id"] == ids["task_tracking"].property_ids["Assigned Agent"]


def recorded_views_of(ledger_url: str, target: str) -> dict[str, str]:
    with connect(ledger_url) as conn:
        return {slot: rec.view_id for slot, rec in recorded_views(conn, target).items()}


def test_a_persons_view_is_never_changed_or_deleted_even_with_our_name_or_after_a_ledger_reset(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    _, ids, target = provision(sandbox, ledger_url, redis_url)
    person = as_person(sandbox)
    tasks = ids["secondbrain_tasks"]
    theirs: Any = person.request(path="views", method="POST", body=_status_board_body(tasks, "Board by Status"))
    assert theirs["created_by"]["id"] != integration(sandbox).request(path="users/me", method="GET")["id"]
    default = next(v for v in views_of(person, tasks.database_id) if v["name"] == "Default view")
    person.request(path=f"views/{default['id']}", method="PATCH", body={"name": "All tasks"})
    before = {v["id"]: v for v in views_of(person, tasks.database_id)}

    provision(sandbox, ledger_url, redis_url)
    # A ledger reset: the record of our views is gone. Ours are adopted (made by the integration, same
    # name and type); the person's namesake is not.
    with connect(ledger_url) as conn:
        conn.execute("DELETE FROM dashboard_views WHERE target = %s", (target,))
        conn.commit()
    after_reset, _, _ = provision(sandbox, ledger_url, redis_url)
    assert not after_reset.created, after_reset  # nothing twice
    assert len(after_reset.adopted) == len(VIEW_PLAN)
    assert recorded_views_of(ledger_url, target)["secondbrain_tasks/board"] != theirs["id"]

    after = {v["id"]: v for v in views_of(person, tasks.database_id)}
    assert after == before, "a view changed, appeared or vanished"
    assert after[theirs["id"]]["created_by"]["id"] == theirs["created_by"]["id"]


def test_deleted_project_views_are_restored_by_the_next_full_sync_and_reported(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines.assets.provisioning import notion_databases
    from ssot_pipelines.dashboards.defs import notion_views

    resources = dagster_resources(sandbox, ledger_url, redis_url)
    first = dg.materialize([notion_databases, notion_views], resources=resources)
    assert first.asset_materializations_for_node("notion_views")[0].metadata["views_created"].value == len(VIEW_PLAN)
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        target = manager.target
    recorded = recorded_views_of(ledger_url, target)
    person = as_person(sandbox)
    person.request(path=f"views/{recorded['tech_debt/open']}", method="DELETE")
    person.request(path=f"views/{recorded[DASHBOARD_SLOT]}", method="DELETE")  # its two widgets go with it
    for slot in (w.slot for w in WIDGETS):
        with pytest.raises(APIResponseError) as gone:
            person.request(path=f"views/{recorded[slot]}", method="GET")
        assert gone.value.status == 404

    again = dg.materialize([notion_views], resources=resources)
    meta = again.asset_materializations_for_node("notion_views")[0].metadata
    assert meta["views_restored"].value == 4, meta
    assert sorted(meta["restored"].value) == sorted(
        ["Tech-Debt: Open findings by Severity", "Drift Board: SecondBrain dashboard"] + [w.title for w in WIDGETS]
    )
    assert meta["views_created"].value == 0
    restored = recorded_views_of(ledger_url, target)
    dashboard = integration(sandbox).request(path=f"views/{restored[DASHBOARD_SLOT]}", method="GET")
    assert len([w for row in dashboard["configuration"]["rows"] for w in row["widgets"]]) == 2
    with connect(ledger_url) as conn:
        counts = {s: r.restored for s, r in recorded_views(conn, target).items()}
    assert counts["tech_debt/open"] == 1 and counts["file_catalog/by_component"] == 0


def test_a_create_that_may_have_been_applied_is_adopted_next_time_never_made_twice(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines.sandbox.faults import FaultConfig

    with sync_manager(sandbox, ledger_url, redis_url):
        pass  # the databases exist
    sandbox.set_faults(FaultConfig(unavailable_503_after_commit=1.0))  # every write lands, then 503
    failed, ids, _ = provision(sandbox, ledger_url, redis_url)
    assert len(failed.failed) == len(VIEW_PLAN) and not failed.created
    sandbox.set_faults(None)
    again, _, _ = provision(sandbox, ledger_url, redis_url)
    assert not again.failed, again.failed
    assert len(again.adopted) == len(OUR_TABS)  # made by the failed run: found, not made again
    assert len(again.created) == len(WIDGETS)  # their dashboard was unknown then, so they were never sent
    client = integration(sandbox)
    for name in {v.database for v in OUR_TABS}:
        counts = Counter(v["name"] for v in views_of(client, ids[name].database_id))
        assert all(n == 1 for n in counts.values()), (name, counts)


def test_views_are_checked_on_full_syncs_only() -> None:
    from ssot_pipelines.definitions import defs

    full = {n.name for n in defs.resolve_job_def("full_sync_job").graph.nodes}
    incremental = {n.name for n in defs.resolve_job_def("incremental_sync_job").graph.nodes}
    assert "notion_views" in full and "notion_views" not in incremental
    assert incremental == full - {"notion_views", "notion_databases"}  # the fingerprint stands in for provisioning


# -- the sandbox's Views API, as Notion documents it ----------------------------------------------------------


@pytest.fixture
def database(sandbox: Any, ledger_url: str, redis_url: str) -> DatabaseIds:
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        return manager.ids["secondbrain_tasks"]


def _error(call: Any) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        call()
    return caught.value


def test_a_view_names_properties_by_an_existing_id_of_a_compatible_type(sandbox: Any, database: DatabaseIds) -> None:
    client = integration(sandbox)
    body = _status_board_body(database, "By status")
    body["configuration"]["group_by"]["property_id"] = "Status"  # a name, not an id
    err = _error(lambda: client.request(path="views", method="POST", body=body))
    assert (err.status, err.code) == (400, "validation_error")
    assert "Could not find property with id: Status" in str(err)

    body = _status_board_body(database, "By status")
    body["configuration"]["group_by"] = {
        "type": "date",
        "property_id": database.property_ids["Status"],
        "sort": {"type": "ascending"},
        "group_by": "week",
    }
    err = _error(lambda: client.request(path="views", method="POST", body=body))
    assert (err.status, err.code) == (400, "validation_error") and "`select`" in str(err)

    chart = {
        "database_id": database.database_id,
        "data_source_id": database.data_source_id,
        "name": "Sum",
        "type": "chart",
        "configuration": {"type": "chart", "chart_type": "column", "y_axis": {"aggregator": "sum"}},
    }
    err = _error(lambda: client.request(path="views", method="POST", body=chart))
    assert err.code == "validation_error" and "property_id should be defined" in str(err)


def test_configuration_type_must_equal_the_view_type_and_one_parent_is_required(
    sandbox: Any, database: DatabaseIds
) -> None:
    client = integration(sandbox)
    body = _status_board_body(database, "By status")
    body["configuration"]["type"] = "table"
    err = _error(lambda: client.request(path="views", method="POST", body=body))
    assert (err.status, err.code) == (400, "validation_error")
    assert "body failed validation: body.configuration.type should be `board`" in str(err)

    for parents in ({}, {"view_id": database.database_id}):
        body = {**_status_board_body(database, "x"), **parents}
        if not parents:
            del body["database_id"]
        err = _error(lambda body=body: client.request(path="views", method="POST", body=body))
        assert err.status == 400 and "exactly one of body.database_id, body.view_id or body.create_database" in str(err)
    err = _error(lambda: client.request(path="views", method="POST", body={**body, "type": "spreadsheet"}))
    assert err.code == "validation_error" and "body.type should be one of `table`" in str(err)


def test_the_last_view_of_a_database_cannot_be_deleted(sandbox: Any, database: DatabaseIds) -> None:
    client = integration(sandbox)
    (default,) = views_of(client, database.database_id)  # Notion gives a new database one table view
    assert (default["type"], default["name"]) == ("table", "Default view")
    err = _error(lambda: client.request(path=f"views/{default['id']}", method="DELETE"))
    assert (err.status, err.code) == (400, "validation_error") and "last view" in str(err)

    board: Any = client.request(path="views", method="POST", body=_status_board_body(database, "Board"))
    deleted: Any = client.request(path=f"views/{default['id']}", method="DELETE")
    assert deleted == {
        "object": "view",
        "id": default["id"],
        "parent": {"type": "database_id", "database_id": database.database_id},
        "type": "table",
        "request_id": deleted["request_id"],
    }
    assert [v["id"] for v in views_of(client, database.database_id)] == [board["id"]]
    err = _error(lambda: client.request(path=f"views/{default['id']}", method="GET"))
    assert (err.status, err.code) == (404, "object_not_found")


def test_update_patches_only_what_is_given_and_null_clears(sandbox: Any, database: DatabaseIds) -> None:
    client = integration(sandbox)
    body = {**_status_board_body(database, "Board"), "filter": {"property": "Status", "select": {"equals": "open"}}}
    board: Any = client.request(path="views", method="POST", body=body)
    updated: Any = client.request(
        path=f"views/{board['id']}", method="PATCH", body={"name": "Open board", "filter": None}
    )
    assert updated["name"] == "Open board" and updated["filter"] is None
    assert updated["configuration"]["group_by"]["property_id"] == database.property_ids["Status"]
    err = _error(
        lambda: client.request(
            path=f"views/{board['id']}",
            method="PATCH",
            body={"sorts": [{"timestamp": "created_time", "direction": "ascending"}]},
        )
    )
    assert err.code == "validation_error" and "property sort" in str(err)


def test_view_queries_page_through_a_cached_result_that_expires(sandbox: Any, database: DatabaseIds) -> None:
    client = integration(sandbox)
    for i, status in enumerate(["open", "closed", "open", "open"]):
        client.request(
            path="pages",
            method="POST",
            body={
                "parent": {"data_source_id": database.data_source_id},
                "properties": {
                    "Name": {"title": [{"text": {"content": f"task {i}"}}]},
                    "Status": {"select": {"name": status}},
                },
            },
        )
    body = {**_status_board_body(database, "Open"), "filter": {"property": "Status", "select": {"equals": ["open"]}}}
    view: Any = client.request(path="views", method="POST", body=body)
    query: Any = client.request(path=f"views/{view['id']}/queries", method="POST", body={"page_size": 2})
    assert query["object"] == "view_query" and query["total_count"] == 3 and query["has_more"]
    assert len(query["results"]) == 2 and query["results"][0]["object"] == "page"
    rest: Any = client.request(
        path=f"views/{view['id']}/queries/{query['id']}", method="GET", query={"start_cursor": query["next_cursor"]}
    )
    assert len(rest["results"]) == 1 and not rest["has_more"]

    sandbox.view_query_ttl_seconds = 0.2  # Notion: 15 minutes
    short: Any = client.request(path=f"views/{view['id']}/queries", method="POST", body={})
    time.sleep(0.3)
    err = _error(lambda: client.request(path=f"views/{view['id']}/queries/{short['id']}", method="GET"))
    assert (err.status, err.code) == (404, "object_not_found")
    for _ in range(2):  # deleting is idempotent
        gone: Any = client.request(path=f"views/{view['id']}/queries/{query['id']}", method="DELETE")
        assert gone["deleted"] is True


def test_views_need_notion_version_2025_09_03_and_the_html_view_lists_them(sandbox: Any, database: DatabaseIds) -> None:
    import httpx

    err = _error(
        lambda: integration(sandbox, "2022-06-28").request(
            path="views", method="GET", query={"database_id": database.database_id}
        )
    )
    assert (err.status, err.code) == (400, "validation_error") and "2025-09-03" in str(err)
    as_person(sandbox).request(path="views", method="POST", body=_status_board_body(database, "My board"))
    with httpx.Client(base_url=sandbox.url, follow_redirects=True) as http:
        page = http.get(f"/view/databases/{database.database_id}", params={"token": sandbox.token}).text
    assert "Default view" in page and "My board" in page and "grouped by Status" in page and "made by a person" in page


# -- ssot verify ----------------------------------------------------------------------------------------------


def _ssot(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", *argv], capture_output=True, text=True, env=env, timeout=300
    )


def test_ssot_verify_exits_non_zero_on_a_deleted_property_or_view_and_zero_when_clean(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    env = dagster_env(tmp_path, sandbox, ledger_url, redis_url)  # the test's sandbox, ledger and Redis

    def ssot(*argv: str) -> subprocess.CompletedProcess[str]:
        return _ssot(*argv, env=env)

    setup = ssot("setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"views: {len(VIEW_PLAN)} created" in setup.stdout
    clean = ssot("verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count("OK ") == 7

    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        ids, target = dict(manager.ids), manager.target
    person = as_person(sandbox)
    person.request(
        path=f"data_sources/{ids['tech_debt'].data_source_id}", method="PATCH", body={"properties": {"Tool": None}}
    )
    broken = ssot("verify")
    assert broken.returncode == 1, broken.stdout
    line = next(x for x in broken.stdout.splitlines() if "tech_debt" in x)
    assert line.startswith("BAD") and "1 schema" in line
    assert "property 'Tool' (select) is missing: run `ssot setup` to add it back" in broken.stdout
    # the chart that stacks by Tool no longer matches either (its property is gone)
    assert "Open findings by Severity and Tool" in broken.stdout
    with connect(ledger_url) as conn:
        audits = last_audits(conn, target)
    assert audits["tech_debt"].ok is False and audits["file_catalog"].ok is True

    repaired = ssot("setup")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert ssot("verify").returncode == 0

    recorded = recorded_views_of(ledger_url, target)
    person.request(path=f"views/{recorded['cli_sessions/timeline']}", method="DELETE")
    deleted = ssot("verify", "cli_sessions", "file_catalog")
    assert deleted.returncode == 1
    assert "CLI Sessions: Timeline by Start Time" in deleted.stdout
    assert "was deleted in Notion: run `ssot setup` to recreate it" in deleted.stdout
    assert [x.split()[0] for x in deleted.stdout.splitlines() if not x.startswith(" ")] == ["BAD", "OK"]
