"""The sync engine against the Notion sandbox over HTTP, with a real PostgreSQL ledger and Redis."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.sandbox import FaultConfig
from ssot_pipelines.schemas import ALL_DATABASES
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines_tests.notion_helpers import frame, live_rows, person, sync_manager, text_of


def file_row(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "key": f"repo/src/module_{i:04d}.py",
        "Path": f"repo/src/module_{i:04d}.py",
        "SHA": f"{i:040x}",
        "Type": "python",
        "Size": 100 + i,
        "Preview": f"def f{i}():\n    return {i}\n",
        "Component": "core" if i % 2 else "api",
        "Last Modified": "2026-11-24T10:00:00Z",
    }
    row.update(overrides)
    return row


def assert_notion_equals(sandbox: Any, ds_id: str, rows: list[dict[str, Any]]) -> None:
    live = live_rows(person(sandbox), ds_id)
    assert sorted(live) == sorted(r["key"] for r in rows), "keys in Notion differ from the source"
    for r in rows:
        pages = live[r["key"]]
        assert len(pages) == 1, f"{r['key']} has {len(pages)} pages"
        page = pages[0]
        assert text_of(page, "SHA") == r["SHA"]
        assert page["properties"]["Size"]["number"] == r["Size"]
        assert text_of(page, "Preview") == r["Preview"]


def test_setup_provisions_seven_databases_once(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as first:
        ids = {name: i.data_source_id for name, i in first.ids.items()}
    assert sorted(ids) == sorted(d.name for d in ALL_DATABASES)
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as second:
        assert {n: i.data_source_id for n, i in second.ids.items()} == ids
    client = person(sandbox)
    ds = client.request(path=f"data_sources/{ids['cli_sessions']}", method="GET")
    props = ds["properties"]  # type: ignore[index]
    assert props["Previous Session"]["type"] == "relation"
    assert props["Next Session"]["type"] == "relation", "the two-way self relation has its mirror"
    assert props["Key"]["type"] == "rich_text"


def test_setup_after_ledger_loss_finds_the_databases_instead_of_duplicating(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as first:
        ids = {n: i.data_source_id for n, i in first.ids.items()}
        first.conn.execute("DELETE FROM notion_databases")
        first.conn.commit()
    with sync_manager(sandbox, ledger_url, redis_url) as again:
        assert {n: i.data_source_id for n, i in again.ids.items()} == ids


def test_resync_of_unchanged_rows_makes_no_writes(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    rows = [file_row(i) for i in range(30)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        first = sync.sync("file_catalog", frame(rows))
        assert (first.created, first.failed) == (30, 0)
        assert first.requests == 30, "one request per created row"
        second = sync.sync("file_catalog", frame(rows))
        assert (second.created, second.updated, second.unchanged, second.requests) == (0, 0, 30, 0)
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, rows)


def test_only_changed_rows_are_written_and_vanished_rows_archived(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rows = [file_row(i) for i in range(20)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        rows[3] = file_row(3, SHA="f" * 40, Size=9999)
        rows[7] = file_row(7, Preview="changed\n")
        del rows[15]
        report = sync.sync("file_catalog", frame(rows))
        assert (report.updated, report.archived, report.created, report.unchanged) == (2, 1, 0, 17)
        assert report.requests == 3
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, rows)


def test_incremental_sync_touches_only_given_rows_and_vanished_keys(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rows = [file_row(i) for i in range(10)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        changed = file_row(2, SHA="a" * 40)
        report = sync.sync("file_catalog", frame([changed], mode="incremental", vanished=[rows[9]["key"]]))
        assert (report.updated, report.archived, report.requests) == (1, 1, 2)
        expected = [changed if r["key"] == changed["key"] else r for r in rows[:9]]
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, expected)


def test_mass_archive_is_refused_unless_forced(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    rows = [file_row(i) for i in range(10)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        refused = sync.sync("file_catalog", frame(rows[:3]))
        assert refused.archived == 0 and refused.archive_refused == 7
        assert "force_archive" in refused.errors[0]
        assert len(live_rows(person(sandbox), sync.ids["file_catalog"].data_source_id)) == 10
        forced = sync.sync("file_catalog", frame(rows[:3]), force_archive=True)
        assert forced.archived == 7
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, rows[:3])


def test_fifty_thousand_characters_with_emoji_and_code_round_trip_byte_exact(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rng = random.Random(7)
    parts = [
        "def f():\n    return '🚀'\n",
        "naïve café ☕ — ",
        "```python\nprint('x')\n```\n",
        "\U0001d518\U0001d52b\U0001d526 👩‍💻 ",  # mathematical letters: outside the BMP, 2 UTF-16 units each
        "plain words ",
    ]
    text = ""
    while len(text) < 50_000:
        text += rng.choice(parts)
    text = text[:50_000]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        report = sync.sync("file_catalog", frame([file_row(1, Preview=text, body=text)]))
        assert report.failed == 0, report.errors
        page_id = sync.page_id("file_catalog", file_row(1)["key"])
        assert page_id
        assert sync.read_body(page_id) == text
        page = person(sandbox).pages.retrieve(page_id)
        assert text_of(page, "Preview") == text  # type: ignore[arg-type]
        # the body grew: only the new tail is appended, and the page still reads back exactly
        longer = text + "\nmore 🚀 text\n" * 500
        again = sync.sync("file_catalog", frame([file_row(1, Preview=text, body=longer)]))
        assert again.updated == 1
        assert sync.read_body(page_id) == longer
        shorter = "rewritten 🧪\n" * 10
        sync.sync("file_catalog", frame([file_row(1, Preview=text, body=shorter)]))
        assert sync.read_body(page_id) == shorter


def test_value_too_long_for_a_property_fails_that_row_clearly_and_keeps_it_in_the_ledger(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    huge = "x" * 250_000
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        report = sync.sync("file_catalog", frame([file_row(1, Preview=huge), file_row(2)]))
        assert (report.created, report.failed) == (1, 1)
        assert "body" in report.errors[0]
        stored = sync.conn.execute(
            "SELECT \"values\"->>'Preview' AS p FROM records WHERE key = %s", (file_row(1)["key"],)
        ).fetchone()
        assert stored is not None and stored["p"] == huge


def test_human_edits_survive_and_machine_edits_are_repaired_by_full_sync(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rows = [file_row(i) for i in range(5)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        page_id = sync.page_id("file_catalog", rows[0]["key"])
        client = person(sandbox)
        client.pages.update(
            page_id,
            properties={
                "Notes": {"rich_text": [{"type": "text", "text": {"content": "owned by Ana"}}]},
                "SHA": {"rich_text": [{"type": "text", "text": {"content": "edited by hand"}}]},
            },
        )
        incremental = sync.sync("file_catalog", frame(rows))
        assert incremental.requests == 0, "the hourly sync trusts the ledger and writes nothing"
        full = sync.sync("file_catalog", frame(rows), reconcile=True)
        assert full.repaired == 1 and full.updated == 1
        page = client.pages.retrieve(page_id)
        assert text_of(page, "SHA") == rows[0]["SHA"]  # type: ignore[arg-type]
        assert text_of(page, "Notes") == "owned by Ana"  # type: ignore[arg-type]
        assert sync.human_values("file_catalog", rows[0]["key"])["Notes"] == "owned by Ana"


def test_full_sync_recreates_a_row_someone_deleted_in_notion(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    rows = [file_row(i) for i in range(4)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        page_id = sync.page_id("file_catalog", rows[1]["key"])
        person(sandbox).pages.update(page_id, in_trash=True)
        report = sync.sync("file_catalog", frame(rows), reconcile=True)
        assert report.recreated == 1 and report.created == 1
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, rows)


def test_relations_resolve_to_pages_including_two_way_self_relations(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    sessions = [
        {"key": "s1", "Title": "first", "Session ID": "s1", "Previous Session": []},
        {"key": "s2", "Title": "second", "Session ID": "s2", "Previous Session": ["s1"]},
        {"key": "s3", "Title": "third", "Session ID": "s3", "Previous Session": ["s2"]},
    ]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        report = sync.sync("cli_sessions", frame(list(reversed(sessions))))
        assert report.failed == 0, report.errors
        client = person(sandbox)
        p1, p2 = sync.page_id("cli_sessions", "s1"), sync.page_id("cli_sessions", "s2")
        page2 = client.pages.retrieve(p2)
        assert [r["id"].replace("-", "") for r in page2["properties"]["Previous Session"]["relation"]] == [  # type: ignore[index]
            str(p1).replace("-", "")
        ]
        page1 = client.pages.retrieve(p1)
        assert [r["id"].replace("-", "") for r in page1["properties"]["Next Session"]["relation"]] == [  # type: ignore[index]
            str(p2).replace("-", "")
        ], "Notion mirrors the link: the earlier session shows its next session"
        assert sync.sync("cli_sessions", frame(sessions)).requests == 0


def test_sync_under_injected_faults_ends_exactly_equal_to_the_source(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rows = [file_row(i) for i in range(500)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sandbox.set_faults(
            FaultConfig(
                rate_limited_429=0.10,
                error_500=0.01,
                bad_gateway_502_html=0.01,
                unavailable_503=0.01,
                gateway_timeout_504=0.01,
                overload_529=0.01,
                conflict_409=0.02,
                unavailable_503_after_commit=0.01,
                retry_after_seconds=1,
                seed=42,
            )
        )
        report = sync.sync("file_catalog", frame(rows))
        changed = [file_row(i, SHA="e" * 40) if i % 10 == 0 else file_row(i) for i in range(500)]
        report2 = sync.sync("file_catalog", frame(changed))
        sandbox.set_faults(None)
        assert report.failed == 0 and report2.failed == 0, report.errors + report2.errors
        assert report.rate_limited > 0 and report.retries > 0, "faults were really injected"
        assert_notion_equals(sandbox, sync.ids["file_catalog"].data_source_id, changed)


def test_wrong_token_fails_fast_naming_the_variable(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        open_sync_manager(
            notion_base_url=sandbox.url,
            token="secret_wrong_token_123",
            parent_page_id=sandbox.root_page_id,
            postgres_url=ledger_url,
            redis_url=redis_url,
        )
    assert "NOTION_TOKEN" in str(err.value)
    assert "secret_wrong_token_123" not in str(err.value)


def test_parent_page_not_shared_is_a_clear_error(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        open_sync_manager(
            notion_base_url=sandbox.url,
            token="sandbox-token",
            parent_page_id="0" * 32,
            postgres_url=ledger_url,
            redis_url=redis_url,
        )
    assert "NOTION_PARENT_PAGE_ID" in str(err.value) and "Connections" in str(err.value)


def test_unreachable_postgres_and_redis_name_their_variables(monkeypatch: pytest.MonkeyPatch, sandbox: Any) -> None:
    from ssot_pipelines.ledger import resolve_postgres_url
    from ssot_pipelines.notion.setup import resolve_redis_url

    monkeypatch.setenv("POSTGRES_URL", "postgresql://u:hunter2pass@127.0.0.1:1/db")
    with pytest.raises(ConfigurationError) as pg_err:
        resolve_postgres_url()
    assert "POSTGRES_URL" in str(pg_err.value) and "hunter2pass" not in str(pg_err.value)
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2pass@127.0.0.1:1/0")
    with pytest.raises(ConfigurationError) as redis_err:
        resolve_redis_url()
    assert "REDIS_URL" in str(redis_err.value) and "hunter2pass" not in str(redis_err.value)


def test_a_person_retyping_a_property_gets_a_clear_error_not_a_silent_retype(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        ds = sync.ids["file_catalog"].data_source_id
    client = person(sandbox)
    client.request(path=f"data_sources/{ds}", method="PATCH", body={"properties": {"Size": {"rich_text": {}}}})
    with pytest.raises(ConfigurationError) as err:
        open_sync_manager(
            notion_base_url=sandbox.url,
            token="sandbox-token",
            parent_page_id=sandbox.root_page_id,
            postgres_url=ledger_url,
            redis_url=redis_url,
            provision_databases=True,
        )
    assert "'Size'" in str(err.value) and "number" in str(err.value)


def test_a_row_whose_relation_target_is_missing_still_gets_its_other_values_and_links_later(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    target = file_row(1)
    drift = {"key": "drift:" + target["key"], "Name": target["Path"], "File": [target["key"]], "Drift Score": 0.2}
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("drift_board", frame([drift]))
        changed = sync.sync("drift_board", frame([{**drift, "Drift Score": 0.7}]))
        assert changed.updated == 1, "other values are written while the relation waits for its target"
        page_id = sync.page_id("drift_board", drift["key"])
        page = person(sandbox).pages.retrieve(page_id)
        assert page["properties"]["Drift Score"]["number"] == 0.7  # type: ignore[index]
        assert page["properties"]["File"]["relation"] == []  # type: ignore[index]
        sync.sync("file_catalog", frame([target]))
        linked = sync.sync("drift_board", frame([{**drift, "Drift Score": 0.7}]))
        assert linked.updated == 1, "the relation is filled in once its target exists"
        file_page = sync.page_id("file_catalog", target["key"])
        page = person(sandbox).pages.retrieve(page_id)
        assert [r["id"] for r in page["properties"]["File"]["relation"]] == [file_page]  # type: ignore[index]
        assert sync.sync("drift_board", frame([{**drift, "Drift Score": 0.7}])).requests == 0


def test_an_unreachable_notion_address_fails_at_once_naming_the_variable(ledger_url: str, redis_url: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        open_sync_manager(
            notion_base_url="http://127.0.0.1:9",
            token="sandbox-token",
            parent_page_id="0" * 32,
            postgres_url=ledger_url,
            redis_url=redis_url,
        )
    assert "NOTION_BASE_URL" in str(err.value)


def test_a_persons_shared_value_stays_theirs_until_the_capability_accepts_it(
    sandbox: Any, ledger_url: str, redis_url: str, ledger: Any
) -> None:
    from ssot_pipelines.notion.desired import accept_human
    from ssot_pipelines.notion.sync import SyncRecord

    def task(name: str, status: str) -> SyncRecord:
        return SyncRecord(key="sb-1", values={"Name": name, "Status": status, "Priority": "P1"})

    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        assert sync.sync("secondbrain_tasks", [task("Drift in a.py", "open")]).created == 1
        client = person(sandbox)
        page_id = live_rows(client, sync.ids["secondbrain_tasks"].data_source_id)["sb-1"][0]["id"]

        def status() -> str:
            return str(client.pages.retrieve(page_id)["properties"]["Status"]["select"]["name"])

        client.pages.update(page_id, properties={"Status": {"select": {"name": "in progress"}}})
        # nothing pending: the sync writes nothing, so it need not read Notion's current values either
        sandbox.reset_stats()
        assert sync.sync("secondbrain_tasks", [task("Drift in a.py", "open")]).unchanged == 1
        assert sandbox.stats()["requests"] == 0
        assert status() == "in progress"
        for name in ("Drift in a.py (0.4)", "Drift in a.py (0.5)", "Drift in a.py (0.6)"):
            assert sync.sync("secondbrain_tasks", [task(name, "closed")]).failed == 0
            assert status() == "in progress", "a person's value is never overwritten, on any later sync"
        assert accept_human(ledger, sync.target, "secondbrain_tasks", "sb-1", "Status")
        ledger.commit()
        assert sync.sync("secondbrain_tasks", [task("Drift in a.py (0.6)", "closed")]).updated == 1
        assert status() == "closed", "accepted: the machine writes it again"
        assert not accept_human(ledger, sync.target, "secondbrain_tasks", "sb-unknown", "Status")
