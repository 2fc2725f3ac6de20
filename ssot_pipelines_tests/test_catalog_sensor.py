"""file_change_sensor and the file_catalog asset through Dagster, against real PostgreSQL, Redis and the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.catalog.config import load_catalog_config
from ssot_pipelines.catalog.defs import defs, file_catalog, file_catalog_full_job
from ssot_pipelines.catalog.extract import build_catalog_records
from ssot_pipelines.catalog.sensors import file_change_sensor
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.notion import NotionResource
from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines_tests.catalog_fixtures import commit_all, make_repo
from ssot_pipelines_tests.notion_helpers import dagster_resources, live_rows, person, sync_manager, text_of


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str, redis_url: str) -> Path:
    path = make_repo(tmp_path / "svc", {f"pkg/m{i}.py": f"x = {i}\n" for i in range(20)})
    commit_all(path)
    monkeypatch.setenv("SSOT_REPO_ROOTS", str(path))
    # The resources export the URLs they resolve; monkeypatch puts the environment back afterwards.
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return path


def _tick(cursor: str | None, ledger_url: str) -> Any:
    context = dg.build_sensor_context(cursor=cursor, resources={"postgres": PostgresResource(url=ledger_url)})
    return file_change_sensor.evaluate_tick(context)


def test_sensor_requests_exactly_the_changed_paths_once_and_nothing_when_nothing_changed(
    repo: Path, ledger: Any, ledger_url: str
) -> None:
    config = load_catalog_config()
    build_catalog_records(ledger, config)  # the first sync has catalogued the tree

    idle = _tick(None, ledger_url)
    assert idle.run_requests == [] and "no file changed" in (idle.skip_message or "")

    (repo / "pkg" / "m1.py").write_text("x = 'edited'\n")
    (repo / "pkg" / "brand_new.py").write_text("y = 1\n")
    (repo / "pkg" / "m2.py").unlink()
    tick = _tick(None, ledger_url)
    assert len(tick.run_requests) == 1
    request = tick.run_requests[0]
    assert request.job_name in (None, "file_catalog_incremental_job")
    paths = request.run_config["ops"]["file_catalog"]["config"]["paths"]
    assert paths == ["svc/pkg/brand_new.py", "svc/pkg/m1.py", "svc/pkg/m2.py"]

    same = _tick(tick.cursor, ledger_url)
    assert same.run_requests == [] and "already requested" in (same.skip_message or "")
    assert _tick(None, ledger_url).run_requests[0].run_key == request.run_key  # same change, same run key

    _, synced = build_catalog_records(ledger, config, paths=paths)  # what the requested run does
    assert (len(synced.added), len(synced.changed), len(synced.deleted), synced.scanned) == (1, 1, 1, 2)
    after = _tick(tick.cursor, ledger_url)
    assert after.run_requests == [] and "no file changed" in (after.skip_message or "")


def test_sensor_asks_for_a_whole_incremental_sync_when_too_many_files_changed(
    repo: Path, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSOT_CATALOG_SENSOR_MAX_PATHS", "5")
    tick = _tick(None, ledger_url)  # nothing catalogued yet: all 20 files are new
    assert tick.run_requests[0].run_config["ops"]["file_catalog"]["config"]["paths"] == []
    assert tick.run_requests[0].tags["ssot/changed_files"] == "20"


def test_sensor_run_config_drives_the_file_catalog_asset_through_dagster(
    repo: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    first = dg.materialize([file_catalog], resources=resources)
    assert first.success
    meta = first.asset_materializations_for_node("file_catalog")[0].metadata
    assert (meta["created"].value, meta["added"].value, meta["hashed"].value) == (20, 20, 20)

    (repo / "pkg" / "m7.py").write_text("x = 'seven'\n")
    request = _tick(None, ledger_url).run_requests[0]
    second = dg.materialize([file_catalog], resources=resources, run_config=request.run_config)
    meta = second.asset_materializations_for_node("file_catalog")[0].metadata
    assert (meta["scanned"].value, meta["hashed"].value, meta["updated"].value, meta["created"].value) == (1, 1, 1, 0)
    assert meta["requests"].value == 1

    with sync_manager(sandbox, ledger_url, redis_url) as manager:
        rows = live_rows(person(sandbox), manager.ids["file_catalog"].data_source_id)
    assert len(rows) == 20 and text_of(rows["svc/pkg/m7.py"][0], "Preview") == "x = 'seven'"


def test_catalog_definitions_load_with_a_job_per_mode() -> None:
    full_config = file_catalog_full_job.config
    assert full_config is not None
    merged = dg.Definitions.merge(
        defs,
        dg.Definitions(
            resources={
                "notion": NotionResource(),
                "postgres": PostgresResource(),
                "redis": RedisResource(),
                "vectors": VectorsResource(),
                "embedder": EmbedderResource(kind="hashing"),
                "notifier": NotifierResource(),
            }
        ),
    )
    dg.Definitions.validate_loadable(merged)
    assert merged.resolve_job_def("file_catalog_incremental_job").name == "file_catalog_incremental_job"
    assert merged.resolve_job_def("file_catalog_full_job").name == "file_catalog_full_job"


def test_asking_git_finds_the_same_changes_as_stating_every_file(tmp_path: Path, ledger: Any) -> None:
    from ssot_pipelines.catalog.detect import detect_changes
    from ssot_pipelines.catalog.refresh import refresh_catalog
    from ssot_pipelines_tests.catalog_fixtures import config_for, git

    repo = make_repo(
        tmp_path / "repo",
        {
            ".gitignore": "*.log\n",
            **{f"src/m{i}.py": f"x = {i}\n" for i in range(8)},
            "draft.txt": "wip\n",
        },
    )
    commit_all(repo)
    (repo / "draft.txt").write_text("uncommitted edit\n")
    (repo / "scratch.md").write_text("untracked\n")
    config = config_for([repo])
    refresh_catalog(ledger, config)  # the last walk: draft.txt and scratch.md were not clean then

    (repo / "src" / "m1.py").write_text("x = 'edited'\n")  # tracked, modified
    (repo / "src" / "m2.py").unlink()  # tracked, deleted
    (repo / "src" / "new.py").write_text("n = 1\n")  # untracked, new
    (repo / "draft.txt").write_text("wip\n")  # back to HEAD: clean now, dirty then
    (repo / "scratch.md").unlink()  # untracked file gone
    (repo / "debug.log").write_text("ignored\n")  # ignored: not catalogued
    (repo / "src" / "m3.py").write_text("x = 'committed'\n")
    git(repo, "commit", "-q", "-m", "m3", "--", "src/m3.py")  # HEAD moved

    via_git = detect_changes(ledger, config)
    walked = detect_changes(ledger, config, use_git=False)

    assert via_git.via_git == ["repo"] and walked.via_git == []
    assert (
        via_git.keys
        == walked.keys
        == sorted(f"repo/{p}" for p in ("src/m1.py", "src/m2.py", "src/new.py", "draft.txt", "scratch.md", "src/m3.py"))
    )
    assert via_git.fingerprint == walked.fingerprint
