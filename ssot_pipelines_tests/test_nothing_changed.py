"""Nothing changed means nothing written: a second sync with nothing changed makes no write in any database.

The proof goes through the real entry points: ``dagster job execute`` of ``full_sync_job`` in a process of
its own (twice), ``ssot analyze import`` and ``ssot stage``, against the sandbox, which counts every write
it applies by the data source whose row it changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.analysis.defs import tech_debt
from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.cli import main
from ssot_pipelines.drift.assess import assess_drift
from ssot_pipelines.drift.defs import drift_board
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.workspace import open_workspace
from ssot_pipelines.ledger import connect
from ssot_pipelines.notion.provision import load_ids
from ssot_pipelines.notion.setup import NotionTarget
from ssot_pipelines.schemas import ALL_DATABASES
from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.hashing import HashingEmbedder
from ssot_pipelines_tests.dagster_cli import dagster_env, execute_job
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN, dagster_resources, live_rows, person
from ssot_pipelines_tests.sessions_fixtures import DATA
from ssot_pipelines_tests.slack_fixtures import sample_export
from ssot_pipelines_tests.test_drift import OFF_SPEC, git, make_repo

# Two findings far apart, so fixing one (same line count) leaves the other's line and code as they were.
UNUSED = (
    '''"""Two unused imports: two findings that can change one at a time."""
import os

'''
    + "".join(f"PAD_{i} = {i}\n" for i in range(12))
    + "import json\n"
)
TASKS = [
    {"key": "T-1", "Name": "Plan the migration", "Task ID": "T-1", "Assigned Agent": "Planner", "Priority": "P1"},
    {
        "key": "T-2",
        "Name": "Write the migration",
        "Task ID": "T-2",
        "Assigned Agent": "Executor",
        "Priority": "P1",
        "Dependencies": ["T-1"],
        "body": "Steps:\n1. add the column\n2. backfill",
    },
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ruff_report(root: Path, out: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--isolated",
            "--select",
            "F",
            ".",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip().startswith("["), result.stderr
    out.write_text(result.stdout, encoding="utf-8")
    return out


def _names_by_data_source(ledger_url: str, sandbox: Any) -> dict[str, str]:
    target = NotionTarget(sandbox.url, SANDBOX_TOKEN, sandbox.root_page_id).target_id
    with connect(ledger_url) as conn:
        ids = load_ids(conn, target)
    return {i.data_source_id: name for name, i in ids.items()}


def _writes_by_database(sandbox: Any, names: dict[str, str]) -> dict[str, int]:
    raw = sandbox.stats()["writes_by_data_source"]
    return {names.get(ds, ds): n for ds, n in raw.items()}


def test_a_second_full_sync_job_with_nothing_changed_writes_nothing_in_any_database(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A repository whose file drifted from its first analysis, so the Drift Board shows a real score and a
    # SecondBrain task is open; one drifting file is critical at once (no two-analysis rule to wait for).
    root = make_repo(tmp_path / "demo")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    with connect(ledger_url) as ledger:
        ws = open_workspace(ledger, [RepoRoot("demo", root)])
        assess_drift(ledger, ws.files, ws.components, CachedEmbedder(HashingEmbedder(), ledger), DriftThresholds())
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    (root / "calc" / "extra.py").write_text(UNUSED)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "off spec")
    # A linter report (Tech-Debt), a transcript (CLI Sessions), a Slack export and staged tasks.
    report = _ruff_report(root, tmp_path / "ruff.json")
    assert main(["analyze", "import", str(report), "--repo-root", str(root)]) == 0
    claude = tmp_path / "claude"
    shutil.copytree(DATA / "claude", claude / "projects")
    assert main(["slack", "import", str(sample_export().write_zip(tmp_path / "slack.zip"))]) == 0
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
    execute_job("full_sync_job", env, tmp_path)
    names = _names_by_data_source(ledger_url, sandbox)
    first = _writes_by_database(sandbox, names)
    # every database holds data, so "no writes" below is about seven databases, not empty ones
    for schema in ALL_DATABASES:
        assert first.get(schema.name, 0) > 0, (schema.name, first)
        ds = next(d for d, n in names.items() if n == schema.name)
        assert live_rows(person(sandbox), ds), schema.name

    # The same report again (its issues seen again by a new analysis run), then the same job again.
    assert main(["analyze", "import", str(report), "--repo-root", str(root)]) == 0
    sandbox.reset_stats()
    execute_job("full_sync_job", env, tmp_path)
    stats = sandbox.stats()
    assert _writes_by_database(sandbox, names) == {}, stats
    assert stats["writes_applied"] == 0
    # what the second run did is read Notion back (the reconcile) and nothing else
    assert set(stats["by_method"]) <= {"GET", "POST"}
    assert stats["by_endpoint"].get("pages.create", 0) == 0


def _materialize(assets: list[Any], resources: dict[str, Any]) -> dg.ExecuteInProcessResult:
    result = dg.materialize(assets, resources=resources)
    assert result.success
    return result


def test_reimporting_an_unchanged_report_writes_nothing_and_a_changed_finding_moves_only_its_row(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "demo")
    (root / "calc" / "extra.py").write_text(UNUSED)
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"demo={root}")
    report = _ruff_report(root, tmp_path / "ruff.json")
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    assert main(["analyze", "import", str(report), "--repo-root", str(root)]) == 0
    first = _materialize([tech_debt], resources).asset_materializations_for_node("tech_debt")[0].metadata
    assert first["created"].value >= 2, "two findings, so one can change alone"

    assert main(["analyze", "import", str(report), "--repo-root", str(root)]) == 0
    sandbox.reset_stats()
    again = _materialize([tech_debt], resources).asset_materializations_for_node("tech_debt")[0].metadata
    assert (again["created"].value, again["updated"].value, again["body_writes"].value) == (0, 0, 0)
    assert sandbox.stats()["writes_applied"] == 0

    # One finding fixed: exactly its row changes, and its "Last Changed" is the only date that moved.
    names = _names_by_data_source(ledger_url, sandbox)
    ds = next(d for d, n in names.items() if n == "tech_debt")
    before = {k: p[0]["properties"]["Last Changed"]["date"] for k, p in live_rows(person(sandbox), ds).items()}
    (root / "calc" / "extra.py").write_text(UNUSED.replace("import json\n", "JSON = None\n"))
    assert (
        main(
            [
                "analyze",
                "import",
                str(_ruff_report(root, tmp_path / "ruff2.json")),
                "--format",
                "ruff",
                "--repo-root",
                str(root),
            ]
        )
        == 0
    )
    fixed = _materialize([tech_debt], resources).asset_materializations_for_node("tech_debt")[0].metadata
    assert (fixed["updated"].value, fixed["created"].value, fixed["unchanged"].value) == (1, 0, 1)
    after = {k: p[0]["properties"]["Last Changed"]["date"] for k, p in live_rows(person(sandbox), ds).items()}
    assert sum(1 for k in before if before[k] != after[k]) == 1


def test_rescoring_unchanged_files_writes_nothing_and_score_changed_moves_only_with_the_score(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "demo")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"demo={root}")
    monkeypatch.setenv("SSOT_EMBEDDER", "hashing")  # what ``ssot drift accept`` embeds with, as the resources do
    resources = dagster_resources(sandbox, ledger_url, redis_url)
    _materialize([drift_board], resources)  # first analysis: the baselines
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    _materialize([drift_board], resources)  # the drift shows
    names = _names_by_data_source(ledger_url, sandbox)
    ds = next(d for d, n in names.items() if n == "drift_board")
    before = {k: p[0]["properties"]["Score Changed"]["date"] for k, p in live_rows(person(sandbox), ds).items()}

    sandbox.reset_stats()
    meta = _materialize([drift_board], resources).asset_materializations_for_node("drift_board")[0].metadata
    assert (meta["updated"].value, meta["body_writes"].value, meta["unchanged"].value) == (0, 0, 4)
    assert sandbox.stats()["writes_applied"] == 0

    # Accepting the drifted file changes its row once; re-scoring after that changes nothing again.
    assert main(["drift", "accept", "demo/calc/arith.py"]) == 0
    accepted = _materialize([drift_board], resources).asset_materializations_for_node("drift_board")[0].metadata
    assert accepted["updated"].value == 1
    after = {k: p[0]["properties"]["Score Changed"]["date"] for k, p in live_rows(person(sandbox), ds).items()}
    assert [k for k in before if before[k] != after[k]] == ["demo/calc/arith.py"]
    sandbox.reset_stats()
    _materialize([drift_board], resources)
    assert sandbox.stats()["writes_applied"] == 0
