"""Records staged from a file reach Notion through their database's asset; a bad file stages nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.assets.provisioning import notion_databases
from ssot_pipelines.cli import main
from ssot_pipelines.ledger import connect
from ssot_pipelines.ledger.staging import StagingError, read_records, stage_records
from ssot_pipelines.tasks.defs import task_tracking
from ssot_pipelines_tests.notion_helpers import dagster_resources, live_rows, person

TASKS = [
    {"key": "T-1", "Name": "Plan the migration", "Task ID": "T-1", "Assigned Agent": "Planner", "Priority": "P1"},
    {
        "key": "T-2",
        "Name": "Write the migration",
        "Task ID": "T-2",
        "Assigned Agent": "Executor",
        "Priority": "P1",
        "Dependencies": ["T-1"],
        "body": "Steps:\n1. add the column\n2. backfill 🚀",
    },
    {
        "key": "T-3",
        "Name": "Review it",
        "Task ID": "T-3",
        "Assigned Agent": "Reviewer",
        "Priority": "P2",
        "Dependencies": ["T-2", "T-1"],
    },
]


def test_staged_tasks_sync_with_their_dependencies_and_bodies(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(t) for t in TASKS) + "\n", encoding="utf-8")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    assert main(["stage", "task_tracking", str(path)]) == 0

    resources = dagster_resources(sandbox, ledger_url, redis_url)
    result = dg.materialize([notion_databases, task_tracking], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("task_tracking")[0].metadata
    assert (meta["created"].value, meta["failed"].value) == (3, 0)
    ds = result.asset_materializations_for_node("notion_databases")[0].metadata["ids"].value["task_tracking"]
    rows = live_rows(person(sandbox), ds["data_source_id"])
    ids = {key: pages[0]["id"] for key, pages in rows.items()}
    deps = {r["id"] for r in rows["T-3"][0]["properties"]["Dependencies"]["relation"]}
    assert deps == {ids["T-1"], ids["T-2"]}

    # withdrawing a task from the source archives it on the next sync
    path.write_text("\n".join(json.dumps(t) for t in TASKS[:2]) + "\n", encoding="utf-8")
    assert main(["stage", "task_tracking", str(path), "--replace"]) == 0
    again = dg.materialize([task_tracking], resources=resources)
    assert again.asset_materializations_for_node("task_tracking")[0].metadata["archived"].value == 1
    assert sorted(live_rows(person(sandbox), ds["data_source_id"])) == ["T-1", "T-2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"key": "T-9", "Name": "ok"}\n{"key": "T-10", "Colour": "red"}\n', "not properties the machine writes"),
        ('{"key": "T-9", "Name": "ok"}\n{"key": "T-10", "Name": \n', "not valid JSON"),
        ('{"Name": "no key"}\n', "no 'key'"),
        ('{"key": "T-9", "Notes": "mine"}\n', "not properties the machine writes"),  # Notes belong to people
        ("[" * 100_000 + "]" * 100_000 + "\n", "nests JSON too deeply"),
    ],
)
def test_a_bad_file_is_refused_whole_and_changes_nothing(
    tmp_path: Path, ledger_url: str, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with connect(ledger_url) as conn:
        stage_records(conn, "task_tracking", [{"key": "T-1", "Name": "kept"}])
        with pytest.raises(StagingError, match=message):
            stage_records(conn, "task_tracking", read_records(path), replace=True)
        # staged tasks are imported into the agents' work graph: the earlier one is there, untouched
        rows = conn.execute("SELECT external_key, title, status FROM tasks ORDER BY id").fetchall()
    assert [(r["external_key"], r["title"], r["status"]) for r in rows] == [("T-1", "kept", "todo")]


# -- hostile input: what Notion or PostgreSQL would refuse is refused up front, whole --------------------

_GOOD = '{"key": "T-5", "Name": "good"}\n'


@pytest.mark.parametrize(
    ("database", "line", "says"),
    [
        ("task_tracking", '{"key": "T-\\u0000-6", "Name": "nul"}', "NUL"),
        ("task_tracking", '{"key": "T-\\ud800", "Name": "surrogate"}', "lone UTF-16 surrogate"),
        ("task_tracking", '{"key": "T-\\u001b[31m", "Name": "escape"}', "control character U+001B"),
        ("task_tracking", json.dumps({"key": "k" * 5000, "Name": "long"}), "at most 2,000"),
        ("task_tracking", '{"key": "T-7", "Name": "x", "body": "a\\u0000b"}', "NUL"),
        ("task_tracking", '{"key": "T-8", "Name": "\\udc80"}', "lone UTF-16 surrogate"),
        ("task_trackin", '{"key": "T-9", "Name": "typo"}', "unknown database"),
    ],
    ids=["nul-key", "surrogate-key", "control-key", "long-key", "nul-body", "surrogate-value", "unknown-db"],
)
def test_ssot_stage_refuses_hostile_input_in_one_line_and_stages_nothing(
    tmp_path: Path, ledger_url: str, database: str, line: str, says: str
) -> None:
    with connect(ledger_url) as conn:
        stage_records(conn, "task_tracking", [{"key": "T-1", "Name": "kept"}])
        conn.commit()
    path = tmp_path / "hostile.jsonl"
    path.write_text(_GOOD + line + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", "stage", database, str(path), "--replace"],
        env={**os.environ, "POSTGRES_URL": ledger_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert says in done.stderr and "Nothing was staged" in done.stderr
    if database != "task_trackin":
        assert "record" in done.stderr, "the message names the record"
    with connect(ledger_url) as conn:
        # staged tasks are imported into the agents' work graph: the earlier one is there, untouched
        rows = conn.execute("SELECT external_key, title, status FROM tasks ORDER BY id").fetchall()
    staged = [(r["external_key"], r["title"], r["status"]) for r in rows]
    assert staged == [("T-1", "kept", "todo")], "not even the good record was staged"


def test_a_key_may_fill_one_notion_text_piece_but_not_more(ledger_url: str) -> None:
    emoji = "🚀"  # two UTF-16 units, as Notion counts
    with connect(ledger_url) as conn:
        assert stage_records(conn, "task_tracking", [{"key": emoji * 1000, "Name": "fits"}]).staged == 1
        with pytest.raises(StagingError, match="2,002 characters long"):
            stage_records(conn, "task_tracking", [{"key": emoji * 1001, "Name": "too long"}])
        with pytest.raises(StagingError, match="comma"):
            stage_records(conn, "task_tracking", [{"key": "T-2", "Name": "x", "Priority": "P1,P2"}])
