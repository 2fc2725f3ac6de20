"""Notion API versions: 2025-09-03, 2026-03-11 and 2026-12-01, each spoken by the sandbox and by the engine.

The sandbox answers each request in the version its ``Notion-Version`` header names; the engine syncs the
seven databases completely under each version it supports (in process for two of them, and once through
``dagster job execute``), so nothing relies on ``archived``, on ``after`` or on list responses carrying
every property.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ssot_pipelines.cli import main
from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.bodies import read_body
from ssot_pipelines.notion.desired import SyncRecord
from ssot_pipelines.notion.gateway import Call, NotionGateway
from ssot_pipelines.notion.provision import load_ids
from ssot_pipelines.notion.setup import NotionTarget
from ssot_pipelines.notion.verify import verify_database
from ssot_pipelines.schemas import ALL_DATABASES, KEY_PROPERTY, DatabaseSchema, Owner, PropType
from ssot_pipelines.settings import SUPPORTED_NOTION_VERSIONS, ConfigurationError, notion_version
from ssot_pipelines_tests.dagster_cli import dagster_env, execute_job
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN, sync_manager

_HTTP = httpx.Client()


def _call(sandbox: Any, version: str, method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sandbox.token}", "Notion-Version": version}
    return _HTTP.request(method, sandbox.url + "/v1/" + path, headers=headers, json=body, params=params)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["2022-06-28", "2026-13-01", "latest"])
def test_an_unsupported_notion_version_is_a_configuration_error_naming_the_variable_and_the_choices(
    given: str,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        notion_version(given)
    message = str(info.value)
    assert "NOTION_VERSION" in message and given in message
    assert all(v in message for v in SUPPORTED_NOTION_VERSIONS)
    assert notion_version(None) == notion_version("") == "2025-09-03"
    with pytest.raises(ConfigurationError):
        NotionGateway(token="t", base_url="http://127.0.0.1:9", pacer=None, notion_version=given)  # type: ignore[arg-type]


# -- the sandbox speaks each version ---------------------------------------------------------------


def _database(sandbox: Any) -> tuple[str, dict[str, str]]:
    db = _ok(
        _call(
            sandbox,
            "2025-09-03",
            "POST",
            "databases",
            {
                "parent": {"type": "page_id", "page_id": sandbox.root_page_id},
                "title": _text("Versions"),
                "initial_data_source": {
                    "properties": {"Name": {"title": {}}, "Key": {"rich_text": {}}, "Score": {"number": {}}}
                },
            },
        )
    )
    ds_id = db["data_sources"][0]["id"]
    ds = _ok(_call(sandbox, "2025-09-03", "GET", f"data_sources/{ds_id}"))
    return ds_id, {name: p["id"] for name, p in ds["properties"].items()}


def _row(sandbox: Any, version: str, ds_id: str, name: str) -> dict[str, Any]:
    body = {
        "parent": {"type": "data_source_id", "data_source_id": ds_id},
        "properties": {"Name": {"title": _text(name)}, "Key": {"rich_text": _text(name)}, "Score": {"number": 1}},
    }
    return dict(_ok(_call(sandbox, version, "POST", "pages", body)))


def test_the_sandbox_refuses_an_unknown_version_and_2025_09_03_keeps_archived(sandbox: Any) -> None:
    refused = _call(sandbox, "2021-05-13", "GET", "users/me")
    assert refused.status_code == 400 and refused.json()["code"] == "validation_error"
    assert "2026-03-11" in refused.json()["message"]
    ds_id, _ = _database(sandbox)
    page = _row(sandbox, "2025-09-03", ds_id, "old")
    assert page["archived"] is False and page["in_trash"] is False
    trashed = _ok(_call(sandbox, "2025-09-03", "PATCH", f"pages/{page['id']}", {"archived": True}))
    assert trashed["in_trash"] is True and trashed["archived"] is True


def test_2026_03_11_has_only_in_trash_and_appends_by_position(sandbox: Any) -> None:
    v = "2026-03-11"
    ds_id, _ = _database(sandbox)
    page = _row(sandbox, v, ds_id, "new")
    assert "archived" not in page and page["in_trash"] is False
    refused = _call(sandbox, v, "PATCH", f"pages/{page['id']}", {"archived": True})
    assert refused.status_code == 400 and refused.json()["code"] == "validation_error"
    assert "archived" in refused.json()["message"]
    assert _ok(_call(sandbox, v, "GET", f"pages/{page['id']}"))["in_trash"] is False  # nothing changed
    assert _ok(_call(sandbox, v, "PATCH", f"pages/{page['id']}", {"in_trash": False}))["in_trash"] is False

    def para(text: str) -> dict[str, Any]:
        return {"type": "paragraph", "paragraph": {"rich_text": _text(text)}}

    first = _ok(_call(sandbox, v, "PATCH", f"blocks/{page['id']}/children", {"children": [para("a"), para("c")]}))
    a_id = first["results"][0]["id"]
    assert all("archived" not in b for b in first["results"])
    after = _call(sandbox, v, "PATCH", f"blocks/{page['id']}/children", {"children": [para("b")], "after": a_id})
    assert after.status_code == 400 and "after" in after.json()["message"]
    position = {"type": "after_block", "after_block": {"id": a_id}}
    _ok(_call(sandbox, v, "PATCH", f"blocks/{page['id']}/children", {"children": [para("b")], "position": position}))
    _ok(
        _call(
            sandbox, v, "PATCH", f"blocks/{page['id']}/children", {"children": [para("d")], "position": {"type": "end"}}
        )
    )
    listed = _ok(_call(sandbox, v, "GET", f"blocks/{page['id']}/children"))["results"]
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in listed] == ["a", "b", "c", "d"]
    assert all("archived" not in b for b in listed)
    # the same page read under 2025-09-03 still shows the alias
    assert "archived" in _ok(_call(sandbox, "2025-09-03", "GET", f"pages/{page['id']}"))


def test_2026_12_01_lists_return_only_the_title_unless_filter_properties_names_more(sandbox: Any) -> None:
    v = "2026-12-01"
    ds_id, prop_ids = _database(sandbox)
    _row(sandbox, v, ds_id, "findable")
    bare = _ok(_call(sandbox, v, "POST", f"data_sources/{ds_id}/query", {}))["results"][0]
    assert set(bare["properties"]) == {"Name"}
    assert bare["id"] and bare["url"] and bare["last_edited_time"]  # the rest of the page is unchanged
    ids = [("filter_properties", prop_ids["Key"]), ("filter_properties", prop_ids["Score"])]
    named = _ok(_call(sandbox, v, "POST", f"data_sources/{ds_id}/query", {}, ids))["results"][0]
    assert set(named["properties"]) == {"Key", "Score"}
    found = _ok(_call(sandbox, v, "POST", "search", {"query": "findable"}))["results"]
    assert [set(p["properties"]) for p in found if p["object"] == "page"] == [{"Name"}]
    old = _ok(_call(sandbox, "2025-09-03", "POST", f"data_sources/{ds_id}/query", {}))["results"][0]
    assert set(old["properties"]) == {"Name", "Key", "Score"}
    people = _ok(_call(sandbox, v, "GET", "users"))["results"]
    assert [u["name"] for u in people if u["type"] == "person"] == [None]


@pytest.mark.parametrize("version", ["2025-09-03", "2026-03-11"])
def test_the_gateway_places_appended_blocks_in_the_words_of_its_version(
    version: str, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    def para(text: str) -> dict[str, Any]:
        return {"type": "paragraph", "paragraph": {"rich_text": _text(text)}}

    with sync_manager(sandbox, ledger_url, redis_url, notion_version=version, provision_databases=False) as manager:
        gw = manager.gateway
        page = gw.call("POST", "pages", body={"parent": {"page_id": sandbox.root_page_id}}, kind=Call.CREATE)
        path = f"blocks/{page['id']}/children"
        first = gw.call("PATCH", path, body=gw.append_body([para("a"), para("c")]), kind=Call.CREATE)
        after_a = gw.append_body([para("b")], after_block=first["results"][0]["id"])
        assert ("position" in after_a) is (version != "2025-09-03") and ("after" in after_a) is (
            version == "2025-09-03"
        )
        gw.call("PATCH", path, body=after_a, kind=Call.CREATE)
        assert read_body(gw, page["id"]) == "abc"
        if version != "2025-09-03":
            with pytest.raises(ValueError, match="in_trash"):
                gw.call("PATCH", f"pages/{page['id']}", body={"archived": True}, kind=Call.UPDATE)


# -- the engine syncs the seven databases under each version ---------------------------------------


def _value(spec: Any, i: int) -> Any:
    t = spec.type
    if t in (PropType.TITLE, PropType.RICH_TEXT):
        return f"{spec.name} {i}"
    if t is PropType.NUMBER:
        return i + 0.5
    if t is PropType.SELECT:
        return f"option {i % 2}"
    if t is PropType.MULTI_SELECT:
        return ["shared", f"own {i}"]
    if t is PropType.DATE:
        return f"2026-11-0{i + 1}T10:00:00Z"
    if t is PropType.CHECKBOX:
        return i % 2 == 0
    if t is PropType.URL:
        return f"https://example.com/{i}"
    return None


def _records(schema: DatabaseSchema, body_extra: str = "") -> list[SyncRecord]:
    out = []
    for i in range(3):
        values: dict[str, Any] = {}
        for spec in schema.owned(Owner.MACHINE):
            if spec.name == KEY_PROPERTY or spec.type is PropType.PEOPLE:
                continue
            if spec.type is PropType.RELATION:
                values[spec.name] = [f"{spec.relation_to}-0"]
            else:
                values[spec.name] = _value(spec, i)
        body = f"{schema.name} record {i}\n" + "".join(f"line {n}: {'x' * 60}\n" for n in range(50 * (i + 1)))
        out.append(SyncRecord(f"{schema.name}-{i}", values, body=body + (body_extra if i == 0 else "")))
    return out


@pytest.mark.parametrize("version", ["2026-03-11", "2026-12-01"])
def test_a_full_sync_of_the_seven_databases_is_complete_and_stable_under_the_newer_versions(
    version: str, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url, notion_version=version) as manager:
        assert manager.gateway.notion_version == version
        for _ in range(2):  # the second pass resolves relations to rows created after their source
            for schema in ALL_DATABASES:
                manager.sync(schema.name, _records(schema), mode="full")
        for schema in ALL_DATABASES:
            result = verify_database(manager, schema.name)
            assert result.problems == [], (schema.name, result.problems)
            first = _records(schema)[0]
            page_id = manager.page_id(schema.name, first.key)
            assert page_id and manager.read_body(page_id) == first.body

        # A reconcile reads Notion back with the properties it needs: nothing looks cleared, so nothing is
        # "repaired" or rewritten.
        sandbox.reset_stats()
        for schema in ALL_DATABASES:
            report = manager.sync(schema.name, _records(schema), mode="full", reconcile=True)
            assert (report.repaired, report.updated, report.created, report.failed) == (0, 0, 0, 0), report
        assert sandbox.stats()["writes_applied"] == 0
        assert set(sandbox.stats()["by_version"]) == {version}

        # Bodies grow (appended by position) and change in the middle (edited in place); a vanished record
        # is trashed with in_trash (the sandbox refuses archived under these versions).
        schema = ALL_DATABASES[0]
        grown = _records(schema, body_extra="appended tail\n" * 20)
        grown[1].body = (grown[1].body or "").replace("line 3:", "LINE THREE:")
        report = manager.sync(schema.name, grown[:2], mode="full", force_archive=True)
        assert (report.body_writes, report.archived, report.failed) == (2, 1, 0), report.errors
        for record in grown[:2]:
            page_id = manager.page_id(schema.name, record.key)
            assert page_id and manager.read_body(page_id) == record.body
        assert manager.page_id(schema.name, grown[2].key) is None
        assert verify_database(manager, schema.name).problems == []


def test_a_page_read_back_without_a_property_does_not_look_cleared(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    schema = next(s for s in ALL_DATABASES if s.owned(Owner.HUMAN))
    with sync_manager(sandbox, ledger_url, redis_url, notion_version="2026-12-01") as manager:
        manager.sync(schema.name, _records(schema), mode="full")
        ds_id = manager.ids[schema.name].data_source_id
        # what a list without filter_properties returns under 2026-12-01: the title only
        title_only = _ok(_call(sandbox, "2026-12-01", "POST", f"data_sources/{ds_id}/query", {}))["results"]
        assert title_only and all(len(p["properties"]) == 1 for p in title_only)
        decoded = manager.decoded_values(schema, title_only[0])
        assert set(decoded) == {schema.title_property.name}  # the rest is "not fetched", not None or []


def test_a_full_sync_job_under_2026_12_01_through_dagster_job_execute(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [
        {"key": "T-1", "Name": "Plan", "Task ID": "T-1", "Assigned Agent": "Planner", "Priority": "P1"},
        {"key": "T-2", "Name": "Do", "Task ID": "T-2", "Priority": "P2", "Dependencies": ["T-1"], "body": "Steps\n"},
    ]
    staged = tmp_path / "tasks.jsonl"
    staged.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    assert main(["stage", "task_tracking", str(staged)]) == 0
    env = dagster_env(tmp_path, sandbox, ledger_url, redis_url, NOTION_VERSION="2026-12-01")
    sandbox.reset_stats()
    execute_job("full_sync_job", env, tmp_path)
    assert set(sandbox.stats()["by_version"]) == {"2026-12-01"}, sandbox.stats()["by_version"]
    target = NotionTarget(sandbox.url, SANDBOX_TOKEN, sandbox.root_page_id).target_id
    with connect(ledger_url) as conn:
        ds_id = load_ids(conn, target)["task_tracking"].data_source_id
    rows = _ok(_call(sandbox, "2025-09-03", "POST", f"data_sources/{ds_id}/query", {}))["results"]
    by_key = {r["properties"]["Key"]["rich_text"][0]["plain_text"]: r for r in rows}
    assert set(by_key) == {"T-1", "T-2"}
    assert by_key["T-2"]["properties"]["Dependencies"]["relation"] == [{"id": by_key["T-1"]["id"]}]
    assert by_key["T-1"]["properties"]["Assigned Agent"]["select"]["name"] == "Planner"
