"""The Notion sandbox, driven through the real notion-client over HTTP."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client
from notion_client.errors import HTTPResponseError

from ssot_pipelines.sandbox import FaultConfig, SandboxServer, ensure_sandbox
from ssot_pipelines.sandbox.launcher import shutdown_sandbox
from ssot_pipelines.settings import sandbox_token

TOKEN = "sandbox-token"
_HTTP = httpx.Client()  # one client: building an httpx client (TLS context) per request costs ~40 ms


def _client(server: SandboxServer, token: str = TOKEN) -> Any:
    """A real notion-client; typed Any because its methods are annotated `Any | Awaitable[Any]`."""
    return Client(auth=token, base_url=server.url, retry=False)


def _text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]


def _make_db(
    notion: Any, server: SandboxServer, title: str = "Tech Debt", extra: dict[str, Any] | None = None
) -> tuple[str, str]:
    db = notion.databases.create(
        parent={"type": "page_id", "page_id": server.root_page_id},
        title=_text(title),
        initial_data_source={
            "properties": {
                "Name": {"title": {}},
                "Key": {"rich_text": {}},
                "Score": {"number": {"format": "number"}},
                "Kind": {"select": {"options": [{"name": "bug", "color": "red"}]}},
                "Tags": {"multi_select": {"options": []}},
                "Seen": {"date": {}},
                "Active": {"checkbox": {}},
                "Link": {"url": {}},
                **(extra or {}),
            }
        },
    )
    return db["id"], db["data_sources"][0]["id"]


def _row(notion: Any, ds: str, name: str, **props: Any) -> Any:
    properties: dict[str, Any] = {"Name": {"title": _text(name)}}
    properties.update(props)
    return notion.pages.create(parent={"type": "data_source_id", "data_source_id": ds}, properties=properties)


def _names(result: dict[str, Any]) -> list[str]:
    return [
        r["properties"]["Name"]["title"][0]["plain_text"] if r["properties"]["Name"]["title"] else ""
        for r in result["results"]
    ]


def _raw(
    server: SandboxServer, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> httpx.Response:
    base = {"Authorization": f"Bearer {TOKEN}", "Notion-Version": "2025-09-03"}
    return _HTTP.request(method, server.url + path, headers={**base, **(headers or {})}, json=body)


def _expect_error(code: str, fn: Any, *args: Any, **kwargs: Any) -> APIResponseError:
    with pytest.raises(APIResponseError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value.body
    return info.value


# -- schema and rows ------------------------------------------------------------------------------


def test_database_created_with_initial_data_source_schema(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    db_id, ds_id = _make_db(notion, sandbox)
    db = notion.databases.retrieve(db_id)
    assert db["object"] == "database" and db["data_sources"] == [{"id": ds_id, "name": "Tech Debt"}]
    ds = notion.data_sources.retrieve(ds_id)
    props = ds["properties"]
    assert set(props) == {"Name", "Key", "Score", "Kind", "Tags", "Seen", "Active", "Link"}
    assert props["Name"]["id"] == "title" and props["Name"]["type"] == "title"
    assert props["Kind"]["select"]["options"][0]["name"] == "bug"
    assert props["Kind"]["select"]["options"][0]["color"] == "red"
    assert ds["parent"] == {"type": "database_id", "database_id": db_id}
    found = notion.search(filter={"property": "object", "value": "data_source"})["results"]
    assert [r["id"] for r in found] == [ds_id]


def test_query_paginates_250_rows_with_opaque_cursors(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    for i in range(250):
        _row(notion, ds, f"row-{i:03d}", Score={"number": i})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"page_size": 100}
        if cursor:
            kwargs["start_cursor"] = cursor
        result = notion.data_sources.query(ds, **kwargs)
        pages += 1
        seen += _names(result)
        if not result["has_more"]:
            assert result["next_cursor"] is None and "request_status" not in result
            break
        cursor = result["next_cursor"]
        assert isinstance(cursor, str)
    assert pages == 3
    assert seen == [f"row-{i:03d}" for i in range(250)]


def test_page_size_over_100_is_a_validation_error(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    _expect_error("validation_error", notion.data_sources.query, ds, page_size=101)


def test_filters_and_sorts(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    _row(
        notion,
        ds,
        "alpha",
        Key={"rich_text": _text("file:src/app.py")},
        Score={"number": 3},
        Kind={"select": {"name": "bug"}},
        Active={"checkbox": True},
        Tags={"multi_select": [{"name": "py"}]},
        Seen={"date": {"start": "2026-07-01"}},
    )
    _row(
        notion,
        ds,
        "beta",
        Key={"rich_text": _text("file:src/lib.py")},
        Score={"number": 1},
        Kind={"select": {"name": "smell"}},
        Seen={"date": {"start": "2026-08-01T10:00:00Z"}},
    )
    _row(notion, ds, "gamma", Score={"number": 2}, Active={"checkbox": True})

    def q(**kwargs: Any) -> list[str]:
        return _names(notion.data_sources.query(ds, **kwargs))

    assert q(filter={"property": "Key", "rich_text": {"equals": "file:src/app.py"}}) == ["alpha"]
    assert q(filter={"property": "Key", "rich_text": {"does_not_equal": "file:src/app.py"}}) == ["beta", "gamma"]
    assert q(filter={"property": "Key", "rich_text": {"contains": "LIB"}}) == ["beta"]
    assert q(filter={"property": "Key", "rich_text": {"starts_with": "file:"}}) == ["alpha", "beta"]
    assert q(filter={"property": "Key", "rich_text": {"ends_with": "app.py"}}) == ["alpha"]
    assert q(filter={"property": "Key", "rich_text": {"is_empty": True}}) == ["gamma"]
    assert q(filter={"property": "Name", "title": {"does_not_contain": "a"}}) == []
    assert q(filter={"property": "Score", "number": {"greater_than": 1}}) == ["alpha", "gamma"]
    assert q(filter={"property": "Score", "number": {"less_than_or_equal_to": 2}}) == ["beta", "gamma"]
    assert q(filter={"property": "Kind", "select": {"equals": "smell"}}) == ["beta"]
    assert q(filter={"property": "Active", "checkbox": {"equals": True}}) == ["alpha", "gamma"]
    assert q(filter={"property": "Tags", "multi_select": {"contains": "py"}}) == ["alpha"]
    assert q(filter={"property": "Seen", "date": {"on_or_after": "2026-07-15"}}) == ["beta"]
    assert q(filter={"property": "Seen", "date": {"before": "2026-07-15"}}) == ["alpha"]
    assert q(filter={"property": "Seen", "date": {"equals": "2026-08-01"}}) == ["beta"]
    assert q(filter={"property": "Seen", "date": {"after": "2026-08-01T09:59:00Z"}}) == ["beta"]
    assert q(filter={"property": "Seen", "date": {"is_empty": True}}) == ["gamma"]
    assert q(
        filter={
            "or": [
                {"property": "Score", "number": {"equals": 1}},
                {
                    "and": [
                        {"property": "Active", "checkbox": {"equals": True}},
                        {"property": "Key", "rich_text": {"is_not_empty": True}},
                    ]
                },
            ]
        }
    ) == ["alpha", "beta"]
    assert q(filter={"timestamp": "created_time", "created_time": {"on_or_after": "2000-01-01"}}) == [
        "alpha",
        "beta",
        "gamma",
    ]
    assert q(filter={"timestamp": "last_edited_time", "last_edited_time": {"before": "2000-01-01"}}) == []
    assert q(sorts=[{"property": "Score", "direction": "descending"}]) == ["alpha", "gamma", "beta"]
    assert q(sorts=[{"property": "Key", "direction": "ascending"}]) == ["alpha", "beta", "gamma"]
    assert q(
        sorts=[
            {"timestamp": "created_time", "direction": "descending"},
            {"property": "Name", "direction": "descending"},
        ]
    ) == ["gamma", "beta", "alpha"]
    too_deep = {"and": [{"or": [{"and": [{"property": "Score", "number": {"equals": 1}}]}]}]}
    _expect_error("validation_error", notion.data_sources.query, ds, filter=too_deep)
    _expect_error(
        "validation_error", notion.data_sources.query, ds, filter={"property": "Nope", "rich_text": {"equals": "x"}}
    )


def test_filter_properties_limits_returned_properties(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    _row(notion, ds, "a", Score={"number": 1})
    result = notion.data_sources.query(ds, filter_properties=["title", "Score"])
    assert set(result["results"][0]["properties"]) == {"Name", "Score"}


def test_result_cap_ends_with_request_status_incomplete(sandbox: SandboxServer) -> None:
    assert sandbox.query_result_limit == 10_000
    sandbox.query_result_limit = 25  # the real cap is 10,000; lowered so the test stays fast
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    for i in range(40):
        _row(notion, ds, f"r{i}")
    total, cursor, last = 0, None, {}
    while True:
        last = notion.data_sources.query(ds, page_size=10, **({"start_cursor": cursor} if cursor else {}))
        total += len(last["results"])
        if not last["has_more"]:
            break
        cursor = last["next_cursor"]
    assert total == 25
    assert last["request_status"] == {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}


def test_default_cap_stops_at_10000_rows(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    with sandbox.store.transaction():  # seeded in-process, in one commit, for speed; read back over HTTP
        for i in range(10_050):
            sandbox.api.create_page(
                {"parent": {"data_source_id": ds}, "properties": {"Name": {"title": _text(f"r{i}")}}}
            )
    total, cursor, last = 0, None, {}
    while True:
        last = notion.data_sources.query(
            ds, filter_properties=["title"], **({"start_cursor": cursor} if cursor else {})
        )
        total += len(last["results"])
        if not last["has_more"]:
            break
        cursor = last["next_cursor"]
    assert total == 10_000 and last["next_cursor"] is None
    assert last["request_status"]["incomplete_reason"] == "query_result_limit_reached"
    window = notion.data_sources.query(ds, filter={"property": "Name", "title": {"starts_with": "r1004"}})
    assert "request_status" not in window and len(window["results"]) == 11


def test_property_values_have_notion_shapes(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    page = _row(
        notion,
        ds,
        "x",
        Kind={"select": {"name": "new-kind"}},
        Tags={"multi_select": [{"name": "a"}]},
        Seen={"date": {"start": "2026-07-01T12:00:00Z", "end": None}},
        Link={"url": "https://e.x/y"},
    )
    props = page["properties"]
    title = props["Name"]["title"][0]
    assert title["plain_text"] == "x" and title["href"] is None and title["annotations"]["bold"] is False
    assert title["text"] == {"content": "x", "link": None}
    assert props["Kind"]["select"]["name"] == "new-kind" and props["Kind"]["select"]["id"]
    assert props["Tags"]["multi_select"][0]["name"] == "a"
    assert props["Seen"]["date"] == {"start": "2026-07-01T12:00:00Z", "end": None, "time_zone": None}
    assert props["Active"] == {"id": props["Active"]["id"], "type": "checkbox", "checkbox": False}
    assert props["Score"]["number"] is None
    assert page["created_time"].endswith(":00.000Z") and page["last_edited_time"].endswith(":00.000Z")
    assert page["parent"]["data_source_id"] == ds
    options = notion.data_sources.retrieve(ds)["properties"]["Kind"]["select"]["options"]
    assert [o["name"] for o in options] == ["bug", "new-kind"]  # select options are created on write
    updated = notion.pages.update(page["id"], properties={"Kind": {"select": None}, "Score": {"number": 0.5}})
    assert updated["properties"]["Kind"]["select"] is None and updated["properties"]["Score"]["number"] == 0.5
    assert updated["properties"]["Tags"]["multi_select"][0]["name"] == "a"  # untouched properties stay


# -- validation -----------------------------------------------------------------------------------


def test_2001_char_content_is_rejected_and_nothing_is_written(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    err = _expect_error("validation_error", _row, notion, ds, "long", Key={"rich_text": _text("k" * 2001)})
    assert err.status == 400
    assert "body.properties.Key.rich_text[0].text.content.length should be ≤ 2000, instead was 2001" in str(err)
    assert notion.data_sources.query(ds)["results"] == []
    _row(notion, ds, "ok", Key={"rich_text": _text("k" * 2000)})
    assert len(notion.data_sources.query(ds)["results"]) == 1


def test_emoji_count_as_two_utf16_units(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    _row(notion, ds, "fits", Key={"rich_text": _text("😀" * 1000)})
    err = _expect_error("validation_error", _row, notion, ds, "over", Key={"rich_text": _text("😀" * 1000 + "a")})
    assert "instead was 2001" in str(err)


def test_array_limits_and_unknown_or_mistyped_properties(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    too_many = [{"name": f"t{i}"} for i in range(101)]
    _expect_error("validation_error", _row, notion, ds, "x", Tags={"multi_select": too_many})
    _expect_error("validation_error", _row, notion, ds, "x", Key={"rich_text": _text("a") * 101})
    err = _expect_error("validation_error", _row, notion, ds, "x", Missing={"rich_text": []})
    assert "Missing is not a property that exists" in str(err)
    err = _expect_error("validation_error", _row, notion, ds, "x", Score={"rich_text": _text("3")})
    assert "Score is expected to be number" in str(err)
    _expect_error("validation_error", _row, notion, ds, "x", Link={"url": "https://x/" + "a" * 2000})
    _expect_error("validation_error", _row, notion, ds, "x", Kind={"select": {"name": "a,b"}})
    children = [{"type": "paragraph", "paragraph": {"rich_text": _text("p")}}] * 101
    _expect_error(
        "validation_error",
        notion.pages.create,
        parent={"data_source_id": ds},
        properties={"Name": {"title": _text("x")}},
        children=children,
    )
    assert notion.data_sources.query(ds)["results"] == []


def test_schema_outside_initial_data_source_and_malformed_blocks_are_rejected(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    err = _expect_error(
        "validation_error",
        notion.request,
        path="databases",
        method="POST",
        body={"parent": {"page_id": sandbox.root_page_id}, "title": _text("T"), "properties": {"Name": {"title": {}}}},
    )
    assert "initial_data_source" in str(err)
    mismatched = [{"type": "paragraph", "heading_1": {"rich_text": _text("x")}}]
    _expect_error("validation_error", notion.blocks.children.append, sandbox.root_page_id, children=mismatched)
    _expect_error(
        "validation_error",
        notion.blocks.children.append,
        sandbox.root_page_id,
        children=[{"type": "video", "video": {}}],
    )


def test_more_than_1000_blocks_in_one_request_is_rejected(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    inner = [{"type": "paragraph", "paragraph": {"rich_text": _text("i")}}] * 10
    toggles = [{"type": "toggle", "toggle": {"rich_text": _text("t"), "children": inner}}] * 91
    err = _expect_error("validation_error", notion.blocks.children.append, sandbox.root_page_id, children=toggles)
    assert "1000" in str(err)
    assert notion.blocks.children.list(sandbox.root_page_id)["results"] == []
    notion.blocks.children.append(sandbox.root_page_id, children=toggles[:90])  # 990 blocks are fine
    assert len(notion.blocks.children.list(sandbox.root_page_id)["results"]) == 90


def test_oversized_body_is_rejected(sandbox: SandboxServer) -> None:
    response = _raw(sandbox, "POST", "/v1/search", body={"query": "x" * 600_000})
    assert response.status_code == 413
    assert response.json()["object"] == "error"


# -- relations ------------------------------------------------------------------------------------


def test_dual_relation_is_mirrored_both_ways(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, tasks = _make_db(notion, sandbox, "Tasks")
    _, files = _make_db(notion, sandbox, "Files")
    notion.data_sources.update(
        tasks,
        properties={
            "Files": {
                "relation": {
                    "data_source_id": files,
                    "type": "dual_property",
                    "dual_property": {"synced_property_name": "Tasks"},
                }
            }
        },
    )
    task_schema = notion.data_sources.retrieve(tasks)["properties"]["Files"]
    file_schema = notion.data_sources.retrieve(files)["properties"]["Tasks"]
    assert task_schema["relation"]["data_source_id"] == files
    assert task_schema["relation"]["dual_property"] == {
        "synced_property_id": file_schema["id"],
        "synced_property_name": "Tasks",
    }
    assert file_schema["relation"]["dual_property"]["synced_property_name"] == "Files"
    f1, f2 = _row(notion, files, "f1"), _row(notion, files, "f2")
    task = _row(notion, tasks, "t", Files={"relation": [{"id": f1["id"]}, {"id": f2["id"]}]})
    assert task["properties"]["Files"] == {
        "id": task_schema["id"],
        "type": "relation",
        "relation": [{"id": f1["id"]}, {"id": f2["id"]}],
        "has_more": False,
    }
    assert notion.pages.retrieve(f1["id"])["properties"]["Tasks"]["relation"] == [{"id": task["id"]}]
    hits = notion.data_sources.query(files, filter={"property": "Tasks", "relation": {"contains": task["id"]}})
    assert len(hits["results"]) == 2
    notion.pages.update(task["id"], properties={"Files": {"relation": [{"id": f2["id"]}]}})
    assert notion.pages.retrieve(f1["id"])["properties"]["Tasks"]["relation"] == []
    assert notion.pages.retrieve(f2["id"])["properties"]["Tasks"]["relation"] == [{"id": task["id"]}]
    # editing the mirror side updates the original side too
    notion.pages.update(f1["id"], properties={"Tasks": {"relation": [{"id": task["id"]}]}})
    assert {r["id"] for r in notion.pages.retrieve(task["id"])["properties"]["Files"]["relation"]} == {
        f1["id"],
        f2["id"],
    }


def test_relation_values_over_25_are_paged_through_the_property_endpoint(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    notion.data_sources.update(
        ds, properties={"Links": {"relation": {"data_source_id": ds, "type": "single_property", "single_property": {}}}}
    )
    targets = [_row(notion, ds, f"t{i}")["id"] for i in range(30)]
    page = _row(notion, ds, "hub", Links={"relation": [{"id": t} for t in targets]})
    value = page["properties"]["Links"]
    assert len(value["relation"]) == 25 and value["has_more"] is True
    first = notion.pages.properties.retrieve(page["id"], value["id"], page_size=20)
    rest = notion.pages.properties.retrieve(page["id"], value["id"], start_cursor=first["next_cursor"])
    assert [i["relation"]["id"] for i in first["results"] + rest["results"]] == targets
    assert rest["has_more"] is False


def test_schema_changes_rename_remove_retype_and_add_options(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    updated = notion.data_sources.update(
        ds,
        properties={
            "Key": {"name": "Record Key"},
            "Link": None,
            "Score": {"number": {"format": "percent"}},
            "Kind": {"select": {"options": [{"name": "bug"}, {"name": "smell"}]}},
            "Notes": {"rich_text": {}},
        },
    )
    props = updated["properties"]
    assert "Record Key" in props and "Key" not in props and "Link" not in props and "Notes" in props
    assert props["Score"]["number"]["format"] == "percent"
    assert [o["name"] for o in props["Kind"]["select"]["options"]] == ["bug", "smell"]
    _expect_error("validation_error", notion.data_sources.update, ds, properties={"Name": None})


# -- pages, trash, blocks -------------------------------------------------------------------------


def test_trashed_pages_leave_queries_and_come_back(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    page = _row(notion, ds, "gone")
    assert notion.pages.update(page["id"], in_trash=True)["in_trash"] is True
    assert notion.data_sources.query(ds)["results"] == []
    _expect_error("validation_error", notion.pages.update, page["id"], properties={"Score": {"number": 1}})
    notion.pages.update(page["id"], archived=False)
    assert _names(notion.data_sources.query(ds)) == ["gone"]
    deleted = notion.blocks.delete(page["id"])
    assert deleted["in_trash"] is True and deleted["archived"] is True
    assert notion.data_sources.query(ds)["results"] == []


def test_database_parent_resolves_to_its_single_data_source(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    db, ds = _make_db(notion, sandbox)
    page = notion.pages.create(parent={"database_id": db}, properties={"Name": {"title": _text("via db")}})
    assert page["parent"] == {"type": "data_source_id", "data_source_id": ds, "database_id": db}


def test_block_children_positions_nesting_and_erase(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    page = notion.pages.create(
        parent={"data_source_id": ds},
        properties={"Name": {"title": _text("doc")}},
        children=[{"type": "heading_2", "heading_2": {"rich_text": _text("Summary")}}],
    )

    def para(text: str) -> dict[str, Any]:
        return {"type": "paragraph", "paragraph": {"rich_text": _text(text)}}

    appended = notion.blocks.children.append(page["id"], children=[para("end")])
    notion.blocks.children.append(page["id"], children=[para("first")], position={"type": "start"})
    heading_id = notion.blocks.children.list(page["id"])["results"][1]["id"]
    notion.blocks.children.append(page["id"], children=[para("after heading")], after=heading_id)
    notion.blocks.children.append(
        page["id"],
        children=[
            {"type": "toggle", "toggle": {"rich_text": _text("more"), "children": [para("inner")]}},
            {"type": "code", "code": {"rich_text": _text("print(1)"), "language": "python"}},
            {"type": "divider", "divider": {}},
            {"type": "to_do", "to_do": {"rich_text": _text("task"), "checked": True}},
        ],
        position={"type": "after_block", "after_block": {"id": appended["results"][0]["id"]}},
    )
    blocks = notion.blocks.children.list(page["id"])["results"]
    assert [b["type"] for b in blocks] == [
        "paragraph",
        "heading_2",
        "paragraph",
        "paragraph",
        "toggle",
        "code",
        "divider",
        "to_do",
    ]
    texts = [b[b["type"]]["rich_text"][0]["plain_text"] for b in blocks if b["type"] != "divider"]
    assert texts == ["first", "Summary", "after heading", "end", "more", "print(1)", "task"]
    toggle = blocks[4]
    assert toggle["object"] == "block" and toggle["has_children"] is True and toggle["in_trash"] is False
    assert blocks[5]["code"]["language"] == "python"
    inner = notion.blocks.children.list(toggle["id"])["results"]
    assert inner[0]["paragraph"]["rich_text"][0]["plain_text"] == "inner"
    too_deep = [
        {
            "type": "toggle",
            "toggle": {
                "rich_text": _text("a"),
                "children": [{"type": "toggle", "toggle": {"rich_text": _text("b"), "children": [para("c")]}}],
            },
        }
    ]
    _expect_error("validation_error", notion.blocks.children.append, page["id"], children=too_deep)
    _expect_error("validation_error", notion.blocks.children.append, page["id"], children=[para("x")] * 101)
    notion.blocks.update(blocks[0]["id"], paragraph={"rich_text": _text("edited")})
    assert notion.blocks.retrieve(blocks[0]["id"])["paragraph"]["rich_text"][0]["plain_text"] == "edited"
    notion.blocks.delete(blocks[1]["id"])
    assert len(notion.blocks.children.list(page["id"])["results"]) == 7
    listed = notion.blocks.children.list(page["id"], page_size=3)
    assert len(listed["results"]) == 3 and listed["has_more"] is True
    notion.pages.update(page["id"], erase_content=True)
    assert notion.blocks.children.list(page["id"])["results"] == []


def test_users_and_search(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    me = notion.users.me()
    assert me["type"] == "bot"
    users = notion.users.list()["results"]
    assert me["id"] in [u["id"] for u in users]
    person = next(u for u in users if u["type"] == "person")
    assert notion.users.retrieve(person["id"])["id"] == person["id"]
    _, ds = _make_db(notion, sandbox, extra={"Owner": {"people": {}}})
    page = _row(notion, ds, "findable thing", Owner={"people": [{"object": "user", "id": person["id"]}]})
    assert page["properties"]["Owner"]["people"] == [{"object": "user", "id": person["id"]}]
    hits = notion.search(query="FINDABLE", filter={"property": "object", "value": "page"})["results"]
    assert [h["id"] for h in hits] == [page["id"]]


def test_search_sorts_by_last_edit_and_names_each_pages_parent_and_last_editor(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    as_person = Client(auth=TOKEN, base_url=f"{sandbox.url}/__sandbox/person", retry=False)
    bot = notion.users.me()["id"]
    _, ds = _make_db(notion, sandbox)
    first, second = _row(notion, ds, "first"), _row(notion, ds, "second")
    as_person.pages.update(first["id"], properties={"Score": {"number": 1}})  # a person, in the Notion UI
    newest = {"direction": "descending", "timestamp": "last_edited_time"}
    hits = notion.search(filter={"property": "object", "value": "page"}, sort=newest, page_size=100)["results"]
    assert [h["id"] for h in hits][:2] == [first["id"], second["id"]]
    assert hits[0]["parent"]["type"] == "data_source_id" and hits[0]["parent"]["data_source_id"] == ds
    assert hits[0]["last_edited_by"]["id"] != bot and hits[1]["last_edited_by"]["id"] == bot
    assert hits[0]["last_edited_time"].endswith(":00.000Z")  # minute-granular, as Notion's
    for sort in ({"direction": "descending", "timestamp": "created_time"}, {"timestamp": "last_edited_time"}):
        response = _raw(sandbox, "POST", "/v1/search", body={"sort": sort})
        assert response.status_code == 400 and response.json()["code"] == "validation_error", sort


# -- strictness: auth, headers, urls, ids ---------------------------------------------------------


def test_wrong_token_is_unauthorized(sandbox: SandboxServer) -> None:
    err = _expect_error("unauthorized", _client(sandbox, "wrong").users.me)
    assert err.status == 401 and "API token is invalid." in str(err)


def test_missing_notion_version_unknown_path_and_unknown_id(sandbox: SandboxServer) -> None:
    response = _HTTP.get(sandbox.url + "/v1/users/me", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and response.json()["code"] == "missing_version"
    assert response.json()["request_id"]
    response = _raw(sandbox, "GET", "/v1/no/such/endpoint")
    assert response.status_code == 400 and response.json()["code"] == "invalid_request_url"
    notion = _client(sandbox)
    err = _expect_error("object_not_found", notion.pages.retrieve, "0" * 32)
    assert err.status == 404 and "shared with your integration" in str(err)
    dashless = sandbox.root_page_id.replace("-", "")
    assert notion.pages.retrieve(dashless)["id"] == sandbox.root_page_id
    _expect_error("validation_error", notion.pages.retrieve, "not-a-uuid")


# -- rate limits and faults -----------------------------------------------------------------------


def test_rate_limit_returns_429_with_retry_after(sandbox: SandboxServer) -> None:
    sandbox.set_rate_limit(0.5, burst=2)
    notion = _client(sandbox)
    notion.users.me()
    notion.users.me()
    with pytest.raises(APIResponseError) as info:
        notion.users.me()
    assert info.value.code == "rate_limited" and info.value.status == 429
    assert int(info.value.headers["retry-after"]) >= 1
    assert (info.value.additional_data or {})["rate_limit_reason"] == "public_api_request_rate_limit"
    assert sandbox.stats()["rate_limited_429"] == 1
    sandbox.set_rate_limit(None)
    notion.users.me()


def test_rate_limit_is_per_token(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "s.sqlite", tokens=("a", "b"), rate_limit_rps=0.5, burst=1) as server:
        _client(server, "a").users.me()
        _client(server, "b").users.me()
        _expect_error("rate_limited", _client(server, "a").users.me)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("conflict_409", 409, "conflict_error"),
        ("rate_limited_429", 429, "rate_limited"),
        ("error_500", 500, "internal_server_error"),
        ("unavailable_503", 503, "service_unavailable"),
        ("gateway_timeout_504", 504, "gateway_timeout"),
    ],
)
def test_injected_notion_errors(sandbox: SandboxServer, kind: str, status: int, code: str) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    sandbox.set_faults(FaultConfig.from_json({kind: 1.0}))
    err = _expect_error(code, _row, notion, ds, "x")
    assert err.status == status
    sandbox.set_faults(None)
    assert notion.data_sources.query(ds)["results"] == []  # the write was not applied
    assert sandbox.stats()["faults"] == {kind: 1}


def test_502_is_an_html_gateway_page_and_529_is_unknown_to_the_client(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    sandbox.set_faults(FaultConfig(bad_gateway_502_html=1.0))
    with pytest.raises(HTTPResponseError) as info:
        notion.users.me()
    assert info.value.status == 502 and info.value.code == "notionhq_client_response_error"
    assert info.value.headers["content-type"].startswith("text/html") and "<html>" in info.value.body
    sandbox.set_faults(FaultConfig(overload_529=1.0, retry_after_seconds=3))
    with pytest.raises(HTTPResponseError) as info:
        notion.users.me()
    assert info.value.status == 529 and json.loads(info.value.body)["code"] == "service_overload"
    assert info.value.headers["retry-after"] == "3"


def test_write_only_faults_spare_reads(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    sandbox.set_faults(FaultConfig(conflict_409=0.5, unavailable_503_after_commit=0.5))
    for _ in range(5):
        assert notion.data_sources.query(ds)["results"] == []
    statuses = {
        _raw(sandbox, "POST", "/v1/pages", body={"parent": {"data_source_id": ds}}).status_code for _ in range(10)
    }
    assert statuses == {409, 503}


def test_503_after_commit_really_wrote_the_page(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    sandbox.set_faults(FaultConfig(unavailable_503_after_commit=1.0))
    err = _expect_error("service_unavailable", _row, notion, ds, "committed")
    sandbox.set_faults(None)
    rows = notion.data_sources.query(ds)["results"]
    assert _names({"results": rows}) == ["committed"]
    assert (err.additional_data or {})["committed_resource_id"] == rows[0]["id"]
    assert sandbox.stats()["writes_applied"] >= 2


def test_slow_fault_delays_then_answers(sandbox: SandboxServer) -> None:
    sandbox.set_faults(FaultConfig(slow=1.0, slow_seconds=0.3))
    import time

    started = time.monotonic()
    assert _client(sandbox).users.me()["type"] == "bot"
    assert time.monotonic() - started >= 0.3


def test_client_timeout_during_a_slow_response_leaves_the_server_healthy(sandbox: SandboxServer) -> None:
    from notion_client import RequestTimeoutError

    sandbox.set_faults(FaultConfig(slow=1.0, slow_seconds=0.4))
    impatient = Client(auth=TOKEN, base_url=sandbox.url, retry=False, timeout_ms=100)
    with pytest.raises(RequestTimeoutError):
        impatient.users.me()
    sandbox.set_faults(None)
    assert _client(sandbox).users.me()["type"] == "bot"


def _outcomes(server: SandboxServer, seed: int) -> list[int]:
    server.set_faults(FaultConfig(error_500=0.2, gateway_timeout_504=0.2, overload_529=0.1, seed=seed))
    return [_raw(server, "GET", "/v1/users/me").status_code for _ in range(40)]


def test_faults_replay_with_the_same_seed(sandbox: SandboxServer) -> None:
    first = _outcomes(sandbox, 7)
    assert set(first) >= {200, 500, 504}
    assert _outcomes(sandbox, 7) == first
    assert _outcomes(sandbox, 8) != first


_CONTROL = {"Authorization": f"Bearer {TOKEN}"}


def test_control_endpoints_take_the_token_and_are_never_faulted(sandbox: SandboxServer) -> None:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(_HTTP.post(sandbox.url + path, json=body, headers=_CONTROL).json())

    post("/__sandbox/faults", {"error_500": 1.0})
    post("/__sandbox/rate_limit", {"rps": 100, "burst": 5})
    health = _HTTP.get(sandbox.url + "/__sandbox/health", headers=_CONTROL).json()
    assert health == {"ok": True, "root_page_id": sandbox.root_page_id}
    assert _raw(sandbox, "GET", "/v1/users/me").status_code == 500
    post("/__sandbox/faults", {})
    assert _raw(sandbox, "GET", "/v1/users/me").status_code == 200
    stats = _HTTP.get(sandbox.url + "/__sandbox/stats", headers=_CONTROL).json()
    assert stats["by_method"]["GET"] == 2 and stats["by_endpoint"]["users.me"] == 2
    assert stats["faults"] == {"error_500": 1}
    post("/__sandbox/stats/reset", {})
    assert _HTTP.get(sandbox.url + "/__sandbox/stats", headers=_CONTROL).json()["requests"] == 0
    assert _HTTP.post(sandbox.url + "/__sandbox/faults", json={"bogus": 1}, headers=_CONTROL).status_code == 400
    post("/__sandbox/rate_limit", {"rps": None})


# -- persistence, view, launcher ------------------------------------------------------------------


def test_state_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with SandboxServer(path, rate_limit_rps=None, tokens=(TOKEN,)) as server:
        root = server.root_page_id
        notion = _client(server)
        _, ds = _make_db(notion, server)
        page = _row(notion, ds, "kept", Kind={"select": {"name": "smell"}})
        notion.blocks.children.append(
            page["id"], children=[{"type": "paragraph", "paragraph": {"rich_text": _text("body")}}]
        )
    with SandboxServer(path, rate_limit_rps=None, tokens=(TOKEN,)) as server:
        assert server.root_page_id == root
        notion = _client(server)
        assert _names(notion.data_sources.query(ds)) == ["kept"]
        assert notion.pages.retrieve(page["id"])["properties"]["Kind"]["select"]["name"] == "smell"
        assert len(notion.blocks.children.list(page["id"])["results"]) == 1
        assert notion.pages.retrieve(root)["properties"]["title"]["title"][0]["plain_text"] == "SecondBrain"


def test_one_state_file_is_served_by_one_sandbox_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with SandboxServer(path, rate_limit_rps=None), pytest.raises(RuntimeError, match="already served"):
        SandboxServer(path)
    with SandboxServer(path, rate_limit_rps=None, tokens=(TOKEN,)) as again:
        assert _client(again).users.me()["type"] == "bot"


def test_html_view_lists_databases_and_escapes_content(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    db, ds = _make_db(notion, sandbox, "<b>Debt</b>")
    page = _row(notion, ds, "<script>alert(1)</script>", Key={"rich_text": _text("k&v")})
    notion.blocks.children.append(
        page["id"], children=[{"type": "paragraph", "paragraph": {"rich_text": _text("<img src=x onerror=alert(2)>")}}]
    )
    browser = httpx.Client(follow_redirects=True)
    index = browser.get(sandbox.url + "/", params={"token": TOKEN}).text  # the address --view-url prints
    assert "&lt;b&gt;Debt&lt;/b&gt;" in index and "<b>Debt" not in index and f"/view/databases/{db}" in index
    table = browser.get(f"{sandbox.url}/view/databases/{db}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table and "<script>" not in table
    assert "k&amp;v" in table and f"/view/pages/{page['id']}" in table
    detail = browser.get(f"{sandbox.url}/view/pages/{page['id']}")
    assert detail.headers["content-type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(2)&gt;" in detail.text and "<img" not in detail.text
    assert browser.get(f"{sandbox.url}/view/pages/{'0' * 32}").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ensure_sandbox_starts_a_background_server_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the background process must find the package from anywhere
    port = _free_port()
    url, root = ensure_sandbox(tmp_path, port)
    token = sandbox_token(tmp_path)
    try:
        assert url == f"http://127.0.0.1:{port}"
        assert ensure_sandbox(tmp_path, port) == (url, root)
        assert (tmp_path / "notion-sandbox.sqlite").exists()
        assert _client_at(url, token).users.me()["type"] == "bot", "its clients read the token from SSOT_HOME"
        headers = {"Authorization": f"Bearer {token}"}
        with urllib.request.urlopen(urllib.request.Request(url + "/__sandbox/health", headers=headers)) as r:
            assert json.loads(r.read())["root_page_id"] == root
    finally:
        assert shutdown_sandbox(url, token)


def _client_at(url: str, token: str) -> Any:
    return Client(auth=token, base_url=url, retry=False)


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer(tmp_path / "s.sqlite", host="0.0.0.0")


def test_rejected_schema_update_changes_nothing(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)
    before = notion.data_sources.retrieve(ds)["properties"]
    _expect_error(
        "validation_error",
        notion.data_sources.update,
        ds,
        properties={"Key": {"name": "Renamed"}, "Bad": {"formula": {"expression": "1"}}},
    )
    assert notion.data_sources.retrieve(ds)["properties"] == before


def test_concurrent_writers_lose_nothing(sandbox: SandboxServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    notion = _client(sandbox)
    _, ds = _make_db(notion, sandbox)

    def create(i: int) -> str:
        return str(_row(notion, ds, f"c{i:02d}")["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(40)))
    assert len(set(ids)) == 40
    assert sorted(_names(notion.data_sources.query(ds))) == [f"c{i:02d}" for i in range(40)]


def test_child_pages_and_databases_are_blocks_of_their_parent(sandbox: SandboxServer) -> None:
    notion = _client(sandbox)
    db, _ = _make_db(notion, sandbox)
    child = notion.pages.create(
        parent={"page_id": sandbox.root_page_id}, properties={"title": {"title": _text("Notes")}}
    )
    assert child["properties"]["title"]["title"][0]["plain_text"] == "Notes"
    blocks = notion.blocks.children.list(sandbox.root_page_id)["results"]
    assert [(b["type"], b["id"]) for b in blocks] == [("child_database", db), ("child_page", child["id"])]
    assert blocks[1]["child_page"] == {"title": "Notes"}


def test_cli_registers_the_sandbox_command_and_refuses_public_hosts() -> None:
    import argparse
    import subprocess
    import sys

    from ssot_pipelines.sandbox.cli import register

    parser = argparse.ArgumentParser(prog="ssot")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "--port", "0", "--rps", "2", "--token", "a", "--token", "b"])
    assert callable(args.func) and args.port == 0 and args.rps == 2.0 and args.token == ["a", "b"]
    done = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.sandbox", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "loopback" in done.stderr
