"""The File Catalog end to end: real repositories → ledger → the Notion sandbox over HTTP."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import redis

from ssot_pipelines.catalog.extract import build_catalog_records
from ssot_pipelines.catalog.state import file_key
from ssot_pipelines_tests.catalog_fixtures import commit_all, config_for, git, git_hash_objects, make_repo
from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager, text_of


def _notion_catalog(sandbox: Any, manager: Any) -> dict[str, dict[str, Any]]:
    rows = live_rows(person(sandbox), manager.ids["file_catalog"].data_source_id)
    assert all(len(pages) == 1 for pages in rows.values()), "one page per file"
    return {key: pages[0] for key, pages in rows.items()}


def _tree(repo: Path) -> dict[str, str]:
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
    return git_hash_objects(repo, files)


def _set_notes(sandbox: Any, page_id: str, text: str) -> None:
    person(sandbox).request(
        path=f"pages/{page_id}",
        method="PATCH",
        body={"properties": {"Notes": {"rich_text": [{"text": {"content": text}}]}}},
    )


def test_second_sync_touches_only_changed_rows_and_notion_matches_the_tree(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "app", {f"src/mod_{i}.py": f"value = {i}\n" for i in range(10)})
    (repo / "README.md").write_text("# app\n")
    commit_all(repo)
    config = config_for([repo], components="core=src/")
    client = redis.Redis.from_url(redis_url)
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        frame, _ = build_catalog_records(ledger, config, redis_client=client)
        first = manager.sync("file_catalog", frame)
        assert (first.created, first.failed) == (11, 0)
        pages = _notion_catalog(sandbox, manager)
        renamed_page = pages["app/src/mod_3.py"]["id"]
        _set_notes(sandbox, renamed_page, "owned by the platform team")

        (repo / "src" / "new.py").write_text("new = True\n")  # added
        (repo / "src" / "mod_1.py").write_text("value = 'changed'\n")  # changed
        git(repo, "mv", "src/mod_3.py", "src/renamed.py")  # renamed
        (repo / "src" / "mod_5.py").unlink()  # deleted
        later = time.time_ns() + 5 * 10**9
        os.utime(repo / "src" / "mod_7.py", ns=(later, later))  # touched, same content

        frame, result = build_catalog_records(ledger, config, redis_client=client)
        second = manager.sync("file_catalog", frame)

    assert result.via_git == ["app"]  # the incremental sync asked git what changed, and stat'ed only that
    assert (len(result.added), len(result.changed), len(result.renamed), len(result.deleted)) == (1, 1, 1, 1)
    assert (second.created, second.updated, second.archived, second.unchanged, second.failed) == (1, 2, 1, 0, 0)
    assert second.requests == 4  # one write per changed file, nothing else

    pages = _notion_catalog(sandbox, manager)
    tree = _tree(repo)
    assert set(pages) == {file_key("app", p) for p in tree}
    for path, sha in tree.items():
        page = pages[file_key("app", path)]
        assert text_of(page, "SHA") == sha
        assert text_of(page, "Path") == path
    assert pages["app/src/renamed.py"]["id"] == renamed_page  # the page followed the file
    assert text_of(pages["app/src/renamed.py"], "Notes") == "owned by the platform team"
    assert pages["app/src/new.py"]["properties"]["Component"]["select"]["name"] == "core"

    events = [(f[b"kind"].decode(), f[b"key"].decode()) for _, f in client.xrange("ssot:catalog:events")]
    assert sorted(events[11:]) == sorted(
        [
            ("added", "app/src/new.py"),
            ("changed", "app/src/mod_1.py"),
            ("renamed", "app/src/renamed.py"),
            ("deleted", "app/src/mod_5.py"),
        ]
    )
    renamed = [f for _, f in client.xrange("ssot:catalog:events") if f[b"kind"] == b"renamed"]
    assert renamed[0][b"old_key"] == b"app/src/mod_3.py"


def test_daily_full_sync_repairs_edits_recreates_deleted_rows_and_archives_gone_files(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    api = make_repo(tmp_path / "api", {f"f{i}.txt": f"{i}\n" for i in range(6)})
    web = make_repo(tmp_path / "web", {"index.html": "<p>hi</p>\n", "app.js": "run()\n"})
    config = config_for([api, web])
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        frame, _ = build_catalog_records(ledger, config)
        manager.sync("file_catalog", frame)
        pages = _notion_catalog(sandbox, manager)
        assert text_of(pages["web/app.js"], "Path") == "web/app.js"  # several roots: titles carry the repo
        people = person(sandbox)
        people.request(
            path=f"pages/{pages['api/f1.txt']['id']}",
            method="PATCH",
            body={"properties": {"SHA": {"rich_text": [{"text": {"content": "edited by hand"}}]}}},
        )
        people.request(path=f"pages/{pages['api/f2.txt']['id']}", method="PATCH", body={"in_trash": True})
        (api / "f3.txt").unlink()

        frame, result = build_catalog_records(ledger, config, full=True)
        report = manager.sync("file_catalog", frame, reconcile=True)

        assert len(frame) == 7 and result.deleted == ["api/f3.txt"]
        assert (report.repaired, report.recreated, report.archived, report.failed) == (1, 1, 1, 0)
        pages = _notion_catalog(sandbox, manager)
        expected = {
            **{file_key("api", p): s for p, s in _tree(api).items()},
            **{file_key("web", p): s for p, s in _tree(web).items()},
        }
        assert {k: text_of(p, "SHA") for k, p in pages.items()} == expected

        frame, _ = build_catalog_records(ledger, config, full=True)
        quiet = manager.sync("file_catalog", frame, reconcile=True)
    assert (quiet.created, quiet.updated, quiet.archived) == (0, 0, 0)
    assert quiet.requests <= 1 + len(frame) // 100  # reading Notion back: one query per 100 rows


def test_deleting_most_files_is_held_back_by_the_mass_deletion_guard(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "repo", {f"f{i}.txt": f"{i}\n" for i in range(8)})
    config = config_for([repo])
    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        manager.sync("file_catalog", build_catalog_records(ledger, config)[0])
        for i in range(6):
            (repo / f"f{i}.txt").unlink()
        frame, _ = build_catalog_records(ledger, config)
        held = manager.sync("file_catalog", frame)
        assert held.archived == 0 and held.archive_refused == 6
        assert "force_archive" in held.errors[0]
        assert len(_notion_catalog(sandbox, manager)) == 8
        forced = manager.sync("file_catalog", build_catalog_records(ledger, config, full=True)[0], force_archive=True)
    assert forced.archived == 6
    assert set(_notion_catalog(sandbox, manager)) == {"repo/f6.txt", "repo/f7.txt"}


def test_rows_whose_sync_failed_are_retried_by_the_next_incremental_sync(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    from ssot_pipelines.notion.gateway import RetrySettings
    from ssot_pipelines.sandbox.faults import FaultConfig

    repo = make_repo(tmp_path / "repo", {f"f{i}.txt": f"{i}\n" for i in range(5)})
    config = config_for([repo])
    no_retry = RetrySettings(max_attempts=1, base_seconds=0.01)
    with sync_manager(sandbox, ledger_url, redis_url, retry=no_retry) as manager:
        manager.sync("file_catalog", build_catalog_records(ledger, config)[0])
        for i in range(3):
            (repo / f"f{i}.txt").write_text(f"changed {i}\n")
        sandbox.set_faults(FaultConfig(error_500=1.0))
        failed = manager.sync("file_catalog", build_catalog_records(ledger, config)[0])
        sandbox.set_faults(FaultConfig())
        assert failed.failed == 3

        frame, result = build_catalog_records(ledger, config)  # no file changed since
        retried = manager.sync("file_catalog", frame)

    # nothing changed on disk: the failed rows are still the engine's pending work for this target
    assert result.changed_keys == [] and frame.empty
    assert (retried.updated, retried.failed) == (3, 0)
    pages = _notion_catalog(sandbox, manager)
    assert {k: text_of(p, "SHA") for k, p in pages.items()} == {file_key("repo", p): s for p, s in _tree(repo).items()}
