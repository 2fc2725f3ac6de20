"""SecondBrain Tasks in Notion (the sandbox): raised by drift and critical debt, closed, and left to people."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines.analysis.defs import extract_tech_debt
from ssot_pipelines.analysis.runner import run_linter
from ssot_pipelines.analysis.store import record_report
from ssot_pipelines.catalog.extract import extract_file_catalog
from ssot_pipelines.drift.defs import extract_drift_board, extract_secondbrain_tasks
from ssot_pipelines.ledger import connect
from ssot_pipelines_tests.analysis_fixtures import extract_context, select_value, set_select, set_text
from ssot_pipelines_tests.notion_helpers import as_person, live_rows, sync_manager, text_of
from ssot_pipelines_tests.test_drift import OFF_SPEC, V2, make_repo

UNRELATED = "\n".join(
    f"def render_thumbnail_{i}(image, width, height):\n"
    f'    """Resize an image to a {i}px thumbnail and upload it to the CDN."""\n'
    f"    return upload(crop(image, width // {i + 1}, height // {i + 1}))\n"
    for i in range(12)
)


def _materialize(ctx: Any, name: str, extract: Any) -> None:
    report = ctx.sync.sync(name, extract(ctx))
    assert report.failed == 0, report.errors


def _task_pages(client: Any, sync: Any) -> dict[str, list[dict[str, Any]]]:
    return live_rows(client, sync.ids["secondbrain_tasks"].data_source_id)


def test_a_drifting_file_raises_one_task_accepting_closes_it_and_a_persons_edits_survive(
    sandbox: Any, ledger_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "demo")
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"demo={root}")
    monkeypatch.setenv("SSOT_DRIFT_THRESHOLD", "0.2")
    monkeypatch.setenv("SSOT_DRIFT_CRITICAL", "0.3")
    key, task_key = "demo/calc/arith.py", "drift:demo/calc/arith.py"
    with sync_manager(sandbox, ledger_url, redis_url) as sync, connect(ledger_url) as ledger:
        ctx = extract_context(sync, ledger, ledger_url, redis_url)
        client = as_person(sandbox)  # people's edits, attributed to a person as in Notion
        _materialize(ctx, "file_catalog", extract_file_catalog)
        _materialize(ctx, "drift_board", extract_drift_board)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        assert _task_pages(client, sync) == {}

        (root / "calc" / "arith.py").write_text(OFF_SPEC)
        _materialize(ctx, "file_catalog", extract_file_catalog)
        for _ in range(2):  # a second round must not duplicate anything
            _materialize(ctx, "drift_board", extract_drift_board)
            _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        tasks = _task_pages(client, sync)
        assert list(tasks) == [task_key] and len(tasks[task_key]) == 1
        task = tasks[task_key][0]
        assert select_value(task, "Problem State") == "present" and select_value(task, "Priority") == "P1"
        assert select_value(task, "Status") == "open"
        assert task["properties"]["Drift"]["relation"] == [{"id": sync.page_id("drift_board", key)}]
        assert task["properties"]["Drift Score"]["number"] > 0.3
        board = client.pages.retrieve(sync.page_id("drift_board", key))
        assert select_value(board, "Band") in ("high", "critical")
        assert board["properties"]["File"]["relation"] == [{"id": sync.page_id("file_catalog", key)}]
        assert "Content change" in sync.read_body(board["id"])

        set_text(client, task["id"], "Notes", "Ana is looking at the HTTP code")
        set_select(client, board["id"], "Status", "Accept baseline")
        _materialize(ctx, "drift_board", extract_drift_board)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        board = client.pages.retrieve(board["id"])
        assert board["properties"]["Drift Score"]["number"] == 0.0
        assert select_value(board, "Status") == "Accept baseline", "the person's choice is theirs to change"
        tasks = _task_pages(client, sync)
        assert list(tasks) == [task_key] and len(tasks[task_key]) == 1
        task = tasks[task_key][0]
        assert select_value(task, "Problem State") == "resolved"
        assert select_value(task, "Status") == "closed", "the task closes by itself when its problem goes away"
        assert text_of(task, "Notes") == "Ana is looking at the HTTP code"

        # The problem comes back: the same task opens again (no second task).
        (root / "calc" / "arith.py").write_text(UNRELATED)
        _materialize(ctx, "file_catalog", extract_file_catalog)
        _materialize(ctx, "drift_board", extract_drift_board)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        tasks = _task_pages(client, sync)
        assert list(tasks) == [task_key] and len(tasks[task_key]) == 1
        task = tasks[task_key][0]
        assert (select_value(task, "Status"), select_value(task, "Problem State")) == ("open", "present")

        # A person takes the task over; new drift on the same file leaves their task exactly as they set it.
        set_select(client, task["id"], "Status", "won't do")
        set_select(client, task["id"], "Priority", "P3")
        (root / "calc" / "arith.py").write_text(OFF_SPEC.replace("def sub", "def minus") + V2 + "\n# more\n")
        _materialize(ctx, "file_catalog", extract_file_catalog)
        _materialize(ctx, "drift_board", extract_drift_board)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        ctx.sync.sync("secondbrain_tasks", extract_secondbrain_tasks(ctx), reconcile=True)
        tasks = _task_pages(client, sync)
        assert len(tasks[task_key]) == 1
        task = tasks[task_key][0]
        assert (select_value(task, "Status"), select_value(task, "Priority"), select_value(task, "Problem State")) == (
            "won't do",
            "P3",
            "present",
        )
        assert text_of(task, "Notes") == "Ana is looking at the HTTP code"


def test_critical_tech_debt_raises_a_task_that_a_persons_triage_closes(
    sandbox: Any, ledger_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "run.py").write_text(
        '"""Runner."""\nimport subprocess\n\n\ndef run(cmd):\n'
        '    """Run a shell command."""\n    return subprocess.call(cmd, shell=True)\n'
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"svc={root}")
    with sync_manager(sandbox, ledger_url, redis_url) as sync, connect(ledger_url) as ledger:
        ctx = extract_context(sync, ledger, ledger_url, redis_url)
        client = as_person(sandbox)  # people's edits, attributed to a person as in Notion
        (root / "ruff.toml").write_text('[lint]\nselect = ["S602"]\n')
        lint = run_linter("ruff", root, ["run.py"])
        record_report(ledger, lint.report, repo_root=root, source="ruff", analyzed_paths=lint.analyzed)
        ledger.commit()
        _materialize(ctx, "file_catalog", extract_file_catalog)
        _materialize(ctx, "tech_debt", extract_tech_debt)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        debt = live_rows(client, sync.ids["tech_debt"].data_source_id)
        assert len(debt) == 1
        issue_key, pages = next(iter(debt.items()))
        issue = pages[0]
        assert select_value(issue, "Severity") == "critical" and select_value(issue, "Status") == "open"
        assert text_of(issue, "Rule") == "ruff:S602"
        assert issue["properties"]["File"]["relation"] == [{"id": sync.page_id("file_catalog", "svc/run.py")}]
        tasks = _task_pages(client, sync)
        assert list(tasks) == [f"debt:{issue_key}"]
        assert tasks[f"debt:{issue_key}"][0]["properties"]["Tech Debt"]["relation"] == [{"id": issue["id"]}]

        set_select(client, issue["id"], "Triage", "false positive")
        again = run_linter("ruff", root, ["run.py"])
        summary = record_report(ledger, again.report, repo_root=root, source="ruff", analyzed_paths=again.analyzed)
        ledger.commit()
        assert summary.counts["ruff"]["unchanged"] == 1
        ctx.sync.sync("tech_debt", extract_tech_debt(ctx), reconcile=True)
        _materialize(ctx, "secondbrain_tasks", extract_secondbrain_tasks)
        issue = client.pages.retrieve(issue["id"])
        assert select_value(issue, "Triage") == "false positive", "a person's triage is never overwritten"
        task = _task_pages(client, sync)[f"debt:{issue_key}"][0]
        assert select_value(task, "Problem State") == "resolved"
        assert select_value(task, "Status") == "closed"
