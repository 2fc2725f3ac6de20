"""A run costs what its changes cost (issue 14 §2): counted by the sandbox, which sees every request.

A run with nothing to do asks Notion (almost) nothing: the ledger's schema fingerprint and its cached
``users/me`` stand in for re-reading seven schemas and the user. Provisioning takes as few requests as
Notion allows. A schema changed behind our back is repaired by the next full sync, or by the incremental
run whose write it refuses. The sensor's run of one changed file writes that file's page and nothing else.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.catalog.defs import file_catalog
from ssot_pipelines.catalog.sensors import file_change_sensor
from ssot_pipelines.cli import main
from ssot_pipelines.drift.assess import assess_drift
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.workspace import open_workspace
from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.provision import load_ids, trusted_ids
from ssot_pipelines.notion.setup import NotionTarget, open_sync_manager
from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.schemas import ALL_DATABASES, PropertySpec, PropType
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.hashing import HashingEmbedder
from ssot_pipelines_tests.catalog_fixtures import commit_all, make_repo
from ssot_pipelines_tests.dagster_cli import dagster_env, execute_job
from ssot_pipelines_tests.notion_helpers import (
    SANDBOX_TOKEN,
    as_person,
    dagster_resources,
    frame,
    live_rows,
    person,
    sync_manager,
    text_of,
)
from ssot_pipelines_tests.test_drift import OFF_SPEC, git
from ssot_pipelines_tests.test_drift import make_repo as make_drift_repo
from ssot_pipelines_tests.test_nothing_changed import TASKS, UNUSED, _ruff_report, _write_jsonl


def file_row(i: int, preview: str | None = None) -> dict[str, Any]:
    return {
        "key": f"repo/f{i}.py",
        "Path": f"repo/f{i}.py",
        "SHA": f"{i:040x}",
        "Size": i,
        "Preview": preview if preview is not None else f"line {i}",
    }


def _target_id(sandbox: Any) -> str:
    return NotionTarget(sandbox.url, SANDBOX_TOKEN, sandbox.root_page_id).target_id


def _schema_of(sandbox: Any, data_source_id: str) -> dict[str, Any]:
    ds: Any = person(sandbox).request(path=f"data_sources/{data_source_id}", method="GET")
    return dict(ds["properties"])


def test_provisioning_the_seven_databases_takes_at_most_16_requests_and_a_rerun_creates_nothing(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as first:
        fresh = sandbox.stats()
        ids = dict(first.ids)
        assert sorted(first.provisioned.created) == sorted(s.name for s in ALL_DATABASES)
    assert fresh["requests"] <= 16, fresh["by_endpoint"]  # users/me included; 36 before issue 14
    assert fresh["by_endpoint"]["databases.create"] == 7
    for schema in ALL_DATABASES:
        props = _schema_of(sandbox, ids[schema.name].data_source_id)
        for spec in schema.properties:
            assert props[spec.name]["type"] == spec.type.value, (schema.name, spec.name)
        # the ledger knows every property's id, the mirrors that later databases added included
        assert set(ids[schema.name].property_ids) == set(props), schema.name
    assert _schema_of(sandbox, ids["cli_sessions"].data_source_id)["Slack Conversations"]["type"] == "relation"

    sandbox.reset_stats()
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as again:  # ssot setup
        assert again.provisioned.created == [] and len(again.provisioned.found) == 7
        assert {n: i.data_source_id for n, i in again.ids.items()} == {n: i.data_source_id for n, i in ids.items()}
    rerun = sandbox.stats()
    assert rerun["by_endpoint"].get("databases.create", 0) == 0 and rerun["writes_applied"] == 0
    assert rerun["requests"] <= 2, rerun["by_endpoint"]  # who we are, and one search for all seven

    sandbox.reset_stats()
    with sync_manager(sandbox, ledger_url, redis_url):  # an ordinary run: the fingerprint holds
        pass
    assert sandbox.stats()["requests"] == 0


def test_a_changed_declaration_or_changed_ids_are_not_trusted(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        target = manager.target
    with connect(ledger_url) as conn:
        assert trusted_ids(conn, target) is not None
        grown = [
            dataclasses.replace(s, properties=(*s.properties, PropertySpec("Owner", PropType.RICH_TEXT)))
            if s.name == "file_catalog"
            else s
            for s in ALL_DATABASES
        ]
        assert trusted_ids(conn, target, grown) is None, "a new declared property is provisioned"
        conn.execute("UPDATE notion_databases SET data_source_id = %s WHERE name = 'tech_debt'", ("0" * 32,))
        assert trusted_ids(conn, target) is None, "ids the last provisioning did not verify"


def _ssot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_an_incremental_run_with_nothing_to_do_makes_at_most_three_requests(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "svc", {f"pkg/m{i}.py": f"x = {i}\n" for i in range(12)})
    commit_all(repo)
    env = dagster_env(tmp_path, sandbox, ledger_url, redis_url, SSOT_REPO_ROOTS=str(repo))
    _ssot(["catalog", "sync"], env, tmp_path)  # provisions and creates the twelve rows
    assert sandbox.stats()["writes_by_data_source"], "the first sync wrote the catalog"

    sandbox.reset_stats()
    _ssot(["catalog", "sync"], env, tmp_path)
    stats = sandbox.stats()
    assert stats["requests"] <= 3 and stats["writes_applied"] == 0, stats["by_endpoint"]

    sandbox.reset_stats()
    materialize = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "ssot_pipelines.definitions"]
    done = subprocess.run(
        [*materialize, "--select", "notion_databases,file_catalog"], cwd=tmp_path, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    stats = sandbox.stats()
    assert stats["requests"] <= 3 and stats["writes_applied"] == 0, stats["by_endpoint"]


def test_a_property_a_person_deleted_is_restored_by_the_next_full_sync(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "svc", {f"pkg/m{i}.py": f"x = {i}\n" for i in range(5)})
    commit_all(repo)
    monkeypatch.setenv("SSOT_REPO_ROOTS", str(repo))
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    assert dg.materialize([file_catalog], resources=resources).success
    with connect(ledger_url) as conn:
        ds = trusted_ids(conn, _target_id(sandbox))["file_catalog"].data_source_id  # type: ignore[index]
    person(sandbox).request(path=f"data_sources/{ds}", method="PATCH", body={"properties": {"Preview": None}})

    sandbox.reset_stats()
    full = dg.materialize([file_catalog], resources=resources, run_config=_full_config())
    meta = full.asset_materializations_for_node("file_catalog")[0].metadata
    assert "1 properties added" in meta["provisioned"].value
    assert meta["repaired"].value == 5 and meta["failed"].value == 0
    rows = live_rows(person(sandbox), ds)
    assert text_of(rows["svc/pkg/m3.py"][0], "Preview") == "x = 3", "the values came back with the property"


def _full_config() -> dg.RunConfig:
    from ssot_pipelines.assets.notion_sync import SyncConfig

    return dg.RunConfig(ops={"file_catalog": SyncConfig(full=True)})


def test_an_incremental_write_refused_by_a_deleted_property_repairs_the_schema_and_retries(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    rows = [file_row(i) for i in range(3)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        assert sync.sync("file_catalog", frame(rows)).created == 3
        ds = sync.ids["file_catalog"].data_source_id
    person(sandbox).request(path=f"data_sources/{ds}", method="PATCH", body={"properties": {"Preview": None}})

    with sync_manager(sandbox, ledger_url, redis_url) as sync:  # trusts the fingerprint: no schema read
        sandbox.reset_stats()
        changed = [rows[0], file_row(1, preview="edited"), rows[2]]
        report = sync.sync("file_catalog", frame(changed, mode="incremental"))
        assert (report.updated, report.failed) == (1, 0), report.errors
        assert sync.provisioned.properties_added == {"file_catalog": ["Preview"]}
    stats = sandbox.stats()
    assert stats["by_endpoint"]["search"] == 1, "provisioned again once"
    assert stats["by_endpoint"]["pages.update"] == 2, "the refused write, then the same write again"
    assert _schema_of(sandbox, ds)["Preview"]["type"] == "rich_text"
    assert text_of(live_rows(person(sandbox), ds)["repo/f1.py"][0], "Preview") == "edited"


def test_the_sensor_run_of_one_changed_file_writes_that_page_and_nothing_else(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "svc", {f"pkg/m{i}.py": f"x = {i}\n" for i in range(20)})
    commit_all(repo)
    monkeypatch.setenv("SSOT_REPO_ROOTS", str(repo))
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    assert dg.materialize([file_catalog], resources=resources).success

    (repo / "pkg" / "m7.py").write_text("x = 'seven'\n")
    context = dg.build_sensor_context(resources={"postgres": PostgresResource(url=ledger_url)})
    request = file_change_sensor.evaluate_tick(context).run_requests[0]
    sandbox.reset_stats()
    assert dg.materialize([file_catalog], resources=resources, run_config=request.run_config).success
    stats = sandbox.stats()
    with connect(ledger_url) as conn:
        ds = trusted_ids(conn, _target_id(sandbox))["file_catalog"].data_source_id  # type: ignore[index]
    # the one page, plus the status page's one block whose figures moved (it follows every run that changed
    # something: issue 13); no users/me, no schema read
    assert stats["writes_by_data_source"].get(ds) == 1, stats
    assert set(stats["writes_by_data_source"]) <= {ds, "page"} and stats["writes_by_data_source"].get("page", 0) <= 1
    assert stats["requests"] <= 2, stats["by_endpoint"]
    assert text_of(live_rows(person(sandbox), ds)["svc/pkg/m7.py"][0], "Preview") == "x = 'seven'"


def test_a_refused_token_fails_clearly_at_the_first_request_although_users_me_was_cached(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        assert sync.sync("file_catalog", frame([file_row(1)])).created == 1
    # Another token for the same target is asked about at once.
    with pytest.raises(ConfigurationError, match="NOTION_TOKEN was refused by Notion"):
        open_sync_manager(
            notion_base_url=sandbox.url,
            token="a-wrong-token",
            parent_page_id=sandbox.root_page_id,
            postgres_url=ledger_url,
            redis_url=redis_url,
        )
    # The cached token revoked in Notion: the run opens without asking, and its first request says why.
    sandbox.tokens = frozenset({"a-rotated-token"})
    with (
        sync_manager(sandbox, ledger_url, redis_url) as sync,
        pytest.raises(ConfigurationError, match="NOTION_TOKEN was refused by Notion") as err,
    ):
        sync.sync("file_catalog", frame([file_row(1, preview="changed")]))
    assert SANDBOX_TOKEN not in str(err.value)


def test_the_users_me_answer_is_cached_per_target_and_token(sandbox: Any, ledger_url: str, redis_url: str) -> None:
    with sync_manager(sandbox, ledger_url, redis_url):
        pass
    sandbox.reset_stats()
    for _ in range(3):
        with sync_manager(sandbox, ledger_url, redis_url):
            pass
    assert sandbox.stats()["by_endpoint"].get("users.me", 0) == 0
    with connect(ledger_url) as conn:
        stored = conn.execute("SELECT token_digest FROM notion_preflights").fetchall()
    assert len(stored) == 1 and SANDBOX_TOKEN not in str(stored), "a digest, never the token"


def test_the_sandbox_serves_a_2022_06_28_client_a_database_with_its_schema_and_its_query(sandbox: Any) -> None:
    """What data2notion (the peer of benchmarks/peer_data2notion.py) needs, in Notion's 2022-06-28 shapes."""
    import httpx

    def call(method: str, path: str, version: str, body: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Notion-Version": version}
        return httpx.request(method, f"{sandbox.url}/v1/{path}", headers=headers, json=body)

    created = call(
        "POST",
        "databases",
        "2025-09-03",
        {
            "parent": {"type": "page_id", "page_id": sandbox.root_page_id},
            "title": [{"type": "text", "text": {"content": "Peer"}}],
            "initial_data_source": {"properties": {"Path": {"title": {}}, "Size": {"number": {}}}},
        },
    ).json()
    db = created["id"]
    legacy = call("GET", f"databases/{db}", "2022-06-28").json()
    assert "data_sources" not in legacy and legacy["properties"]["Size"]["type"] == "number"
    row = {"parent": {"database_id": db}, "properties": {"Path": {"title": [{"text": {"content": "a.py"}}]}}}
    page = call("POST", "pages", "2022-06-28", row).json()
    assert page["parent"] == {"type": "database_id", "database_id": db}
    rows = call("POST", f"databases/{db}/query", "2022-06-28", {}).json()
    assert [r["id"] for r in rows["results"]] == [page["id"]]
    newer = call("POST", f"databases/{db}/query", "2025-09-03", {})
    assert (newer.status_code, newer.json()["code"]) == (400, "invalid_request_url"), "queries go to data sources"


def _watermarks(ledger_url: str, target: str) -> dict[str, Any]:
    with connect(ledger_url) as conn:
        rows = conn.execute("SELECT database, pulled_until FROM sync_watermarks WHERE target = %s", (target,))
        return {r["database"]: r["pulled_until"] for r in rows.fetchall()}


def test_the_whole_incremental_job_with_nothing_to_do_makes_at_most_three_requests(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every database that pulls people's edits holds rows: a drifting file (Drift Board, a SecondBrain task),
    # a linter report (Tech-Debt) and staged tasks (Task Tracking).
    root = make_drift_repo(tmp_path / "demo")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    with connect(ledger_url) as ledger:
        ws = open_workspace(ledger, [RepoRoot("demo", root)])
        assess_drift(ledger, ws.files, ws.components, CachedEmbedder(HashingEmbedder(), ledger), DriftThresholds())
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    (root / "calc" / "extra.py").write_text(UNUSED)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "off spec")
    report = _ruff_report(root, tmp_path / "ruff.json")
    assert main(["analyze", "import", str(report), "--repo-root", str(root)]) == 0
    assert main(["stage", "task_tracking", str(_write_jsonl(tmp_path / "tasks.jsonl", TASKS))]) == 0
    env = dagster_env(
        tmp_path,
        sandbox,
        ledger_url,
        redis_url,
        SSOT_REPO_ROOTS=f"demo={root}",
        SSOT_DRIFT_THRESHOLD="0.3",
        SSOT_DRIFT_CRITICAL="0.3",
    )
    execute_job("incremental_sync_job", env, tmp_path)
    first = sandbox.stats()["writes_by_data_source"]
    with connect(ledger_url) as conn:
        ids = load_ids(conn, _target_id(sandbox))
    for name in ("drift_board", "secondbrain_tasks", "tech_debt", "task_tracking"):
        assert first.get(ids[name].data_source_id), (name, first)

    sandbox.reset_stats()
    execute_job("incremental_sync_job", env, tmp_path)
    stats = sandbox.stats()
    # Drift Board and Task Tracking: one query each (as cheap as a search); SecondBrain Tasks and Tech-Debt:
    # one search that finds only this integration's own writes; no pull before writing (nothing to write)
    assert stats["writes_applied"] == 0, stats["by_endpoint"]
    assert stats["requests"] <= 3, stats["by_endpoint"]
    assert stats["by_endpoint"].get("search") == 1, stats["by_endpoint"]


def test_a_persons_edit_opens_the_edits_gate_and_a_skipped_database_keeps_its_watermark(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    both = ["secondbrain_tasks", "tech_debt"]
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        task = {"key": "sb-1", "Name": "Drift in a.py", "Status": "open", "Priority": "P1"}
        assert sync.sync("secondbrain_tasks", frame([task, {**task, "key": "sb-2"}])).created == 2
        assert sync.sync("tech_debt", frame([{"key": "td-1", "Issue": "F401 `os` imported but unused"}])).created == 1
        assert sync.bot_user_id, "users/me told the manager who it writes as"
        sync.pull_human_many(both)  # the first pull of each: no watermark, no gate
        assert sync.last_gate is None
        marks = _watermarks(ledger_url, sync.target)

        # nothing edited by anyone but us: one search, no query, both watermarks kept
        sandbox.reset_stats()
        assert sync.pull_human_many(both) == {"secondbrain_tasks": 0, "tech_debt": 0}
        assert sandbox.stats()["requests"] == 1 and sandbox.stats()["by_endpoint"] == {"search": 1}
        assert sync.last_gate is not None and sorted(sync.last_gate.skip) == sorted(both)
        assert _watermarks(ledger_url, sync.target) == marks

        # An edit the gate does not see (made with the integration's own token: Notion shows our bot as its
        # editor, as a search index that has not caught up would show nothing) leaves the database unqueried...
        tasks = live_rows(person(sandbox), sync.ids["secondbrain_tasks"].data_source_id)
        person(sandbox).pages.update(tasks["sb-1"][0]["id"], properties={"Notes": {"rich_text": _text("unseen")}})
        sync.pull_human_many(both)
        assert sync.human_values("secondbrain_tasks", "sb-1").get("Notes") in (None, "")
        assert _watermarks(ledger_url, sync.target) == marks

        # ...and a person's later edit of the same database opens the gate: the pull starts from the kept
        # watermark, so it brings both edits; the other database stays unqueried with its watermark.
        as_person(sandbox).pages.update(tasks["sb-2"][0]["id"], properties={"Status": {"select": {"name": "closed"}}})
        sandbox.reset_stats()
        assert sync.pull_human_many(both) == {"secondbrain_tasks": 2, "tech_debt": 0}
        assert sandbox.stats()["by_endpoint"] == {"search": 1, "data_sources.query": 1}
        assert sync.human_values("secondbrain_tasks", "sb-1")["Notes"] == "unseen"
        assert sync.human_values("secondbrain_tasks", "sb-2")["Status"] == "closed"
        after = _watermarks(ledger_url, sync.target)
        assert after["tech_debt"] == marks["tech_debt"] and after["secondbrain_tasks"] > marks["secondbrain_tasks"]


def test_a_busy_first_result_page_falls_back_to_the_ordinary_pulls(
    sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    both = ["secondbrain_tasks", "tech_debt"]
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        sync.sync("secondbrain_tasks", frame([{"key": "sb-1", "Name": "a", "Status": "open"}]))
        sync.sync("tech_debt", frame([{"key": "td-1", "Issue": "F401"}]))
        sync.pull_human_many(both)
        # more pages edited since the watermarks than one search page holds: the gate cannot tell
        assert sync.sync("file_catalog", frame([file_row(i) for i in range(101)])).created == 101
        sandbox.reset_stats()
        sync.pull_human_many(both)
        assert sync.last_gate is not None and sync.last_gate.fell_back
        assert sandbox.stats()["by_endpoint"] == {"search": 1, "data_sources.query": 2}


def _text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]
