"""The Dagster side: the sensor sees new hook events, one run captures them and syncs the session page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from ssot_pipelines.resources.stores import PostgresResource, RedisResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.sessions.defs import cli_session_events, cli_session_sensor, cli_sessions
from ssot_pipelines_tests.notion_helpers import dagster_resources, sync_manager
from ssot_pipelines_tests.sessions_fixtures import hook_payload, run_hook


def _tick(cursor: str | None, ledger_url: str) -> Any:
    context = dg.build_sensor_context(cursor=cursor, resources={"postgres": PostgresResource(url=ledger_url)})
    return cli_session_sensor(context)


def test_sensor_run_brings_a_hook_event_to_its_notion_page(
    tmp_path: Path, monkeypatch: Any, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    directory = tmp_path / "journal"
    monkeypatch.setenv("SSOT_JOURNAL_DIR", str(directory))
    run_hook(hook_payload("SessionStart", "dg-1", source="startup"), directory)
    run_hook(hook_payload("UserPromptSubmit", "dg-1", prompt="wire the sessions into definitions.py"), directory)
    first = _tick(None, ledger_url)
    assert len(first.run_requests) == 1

    resources = dagster_resources(sandbox, ledger_url, redis_url)
    result = dg.materialize([cli_session_events, cli_sessions], resources=resources)
    assert result.success
    captured = result.asset_materializations_for_node("cli_session_events")[0].metadata
    assert captured["new_events"].value == 2 and captured["sessions_indexed"].value == 1
    synced = result.asset_materializations_for_node("cli_sessions")[0].metadata
    assert synced["created"].value == 1

    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        page_id = sync.page_id("cli_sessions", "dg-1#1")
        assert page_id is not None
        assert "wire the sessions into definitions.py" in sync.read_body(page_id)
    again = _tick(first.cursor, ledger_url)
    assert again.run_requests == [] or again.run_requests is None


def test_sensor_picks_up_a_grown_transcript_without_any_hook(
    tmp_path: Path, monkeypatch: Any, ledger_url: str, redis_url: str
) -> None:
    monkeypatch.setenv("SSOT_JOURNAL_DIR", str(tmp_path / "journal"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    rollout = tmp_path / "codex" / "sessions" / "2026" / "06" / "21" / "rollout-2026-06-21T10-00-00-x.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text(
        '{"timestamp":"2026-06-21T10:00:00Z","type":"response_item","payload":{"type":"message",'
        '"role":"user","content":[{"type":"input_text","text":"hello codex"}]}}\n'
    )
    first = _tick(None, ledger_url)
    [request] = first.run_requests
    resources = {
        "postgres": PostgresResource(url=ledger_url),
        "redis": RedisResource(url=redis_url),
        "vectors": VectorsResource(postgres_url=ledger_url),
        "embedder": EmbedderResource(kind="hashing"),
    }
    result = dg.materialize([cli_session_events], resources=resources, run_config=request.run_config)
    assert result.success
    assert result.asset_materializations_for_node("cli_session_events")[0].metadata["transcript_events"].value == 1
    second = _tick(first.cursor, ledger_url)
    assert all(not r.run_config for r in (second.run_requests or []))  # the file is imported: no paths asked again


def test_the_capture_asset_reports_quarantined_events_and_refused_transcripts(
    tmp_path: Path, monkeypatch: Any, ledger_url: str, redis_url: str
) -> None:
    directory = tmp_path / "journal"
    monkeypatch.setenv("SSOT_JOURNAL_DIR", str(directory))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"type":"user","uuid":"s1","sessionId":"stolen","message":{"content":"private"}}\n')
    run_hook(hook_payload("UserPromptSubmit", "fine", prompt="ok", transcript_path=str(secret)), directory)
    poison = hook_payload("UserPromptSubmit", "@@", prompt="poison")
    run_hook(None, directory, raw=json.dumps(poison).replace('"@@"', '"\\ud800"').encode())
    resources = {
        "postgres": PostgresResource(url=ledger_url),
        "redis": RedisResource(url=redis_url),
        "vectors": VectorsResource(postgres_url=ledger_url),
        "embedder": EmbedderResource(kind="hashing"),
    }
    result = dg.materialize([cli_session_events], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("cli_session_events")[0].metadata
    assert meta["new_events"].value == 1
    assert meta["quarantined"].value == 1 and meta["quarantine_total"].value == 1
    assert meta["transcripts_refused"].value == 1 and meta["transcript_events"].value == 0
