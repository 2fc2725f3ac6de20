"""The work graph: atomic leased claims under real concurrency, cycles refused, people's blocks, handover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines import tasks
from ssot_pipelines.ledger import connect
from ssot_pipelines_tests.sessions_fixtures import SESSION_A, copy_samples, hook_payload, run_hook

REPO = Path(__file__).resolve().parents[1]
SSOT = [sys.executable, "-m", "ssot_pipelines.cli"]


def ssot(args: list[str], ledger_url: str, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """The installed ``ssot`` command in its own process, against the test's ledger."""
    env = {**os.environ, "POSTGRES_URL": ledger_url, "PYTHONPATH": str(REPO), **extra}
    env.pop("SSOT_SESSION_ID", None) if "SSOT_SESSION_ID" not in extra else None
    return subprocess.run(
        [*SSOT, *args], capture_output=True, text=True, env=env, cwd=str(cwd or REPO), timeout=120, check=False
    )


AGENT = textwrap.dedent("""
    import json, os, sys, time
    from ssot_pipelines import tasks
    from ssot_pipelines.ledger import connect
    url, name = sys.argv[1], sys.argv[2]
    conn = connect(url)
    while not os.path.exists(sys.argv[3]):  # every agent starts at once, when the start file appears
        time.sleep(0.005)
    idle_since = None
    while True:
        task = tasks.claim(conn, name, lease_seconds=60, source="test")
        if task is None:
            if not tasks.list_tasks(conn, status="todo") and not tasks.list_tasks(conn, status="in_progress"):
                break
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 90:
                sys.exit("stuck: tasks remain but none became ready")
            time.sleep(0.02)
            continue
        idle_since = None
        print(json.dumps({"id": task.id, "deps": [d["id"] for d in task.depends_on]}), flush=True)
        time.sleep(0.01)  # do the work
        tasks.done(conn, task.id, name, note=f"done by {name}", source="test")
""")


def _graph_of_thirty(conn: Any) -> dict[int, list[int]]:
    """30 tasks in layers, each waiting for up to three earlier ones (a DAG with 45 edges)."""
    ids: list[int] = []
    deps: dict[int, list[int]] = {}
    for i in range(30):
        wanted = [ids[j] for j in (i - 1, i - 3, i - 7) if 0 <= j < len(ids) and i % 2 == 0] if i >= 5 else []
        task = tasks.add_task(conn, f"task {i}", agent="planner", priority=f"P{i % 4}", depends_on=wanted)
        ids.append(task.id)
        deps[task.id] = wanted
    return deps


def test_eight_agent_processes_claim_thirty_tasks_each_exactly_once_and_never_before_its_dependencies(
    ledger_url: str, ledger: Any, tmp_path: Path
) -> None:
    deps = _graph_of_thirty(ledger)
    start = tmp_path / "start"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    agents = [
        subprocess.Popen(
            [sys.executable, "-c", AGENT, ledger_url, f"agent-{n}", str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(8)
    ]
    time.sleep(3)  # let every agent import and connect
    start.touch()
    claimed: list[int] = []
    for proc in agents:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        claimed += [json.loads(line)["id"] for line in out.splitlines()]

    assert sorted(claimed) == sorted(deps), "every task claimed exactly once"
    rows = ledger.execute(
        "SELECT task_id, kind, at, agent FROM task_activity WHERE kind IN ('claimed', 'done') ORDER BY id"
    ).fetchall()
    ledger.commit()
    claims = [r for r in rows if r["kind"] == "claimed"]
    assert len(claims) == 30 and len({r["task_id"] for r in claims}) == 30
    done_at = {r["task_id"]: r["at"] for r in rows if r["kind"] == "done"}
    for claim in claims:
        for dep in deps[claim["task_id"]]:
            assert done_at[dep] < claim["at"], f"task {claim['task_id']} was claimed before its dependency {dep}"
    assert len({r["agent"] for r in claims}) > 1, "the work was shared between agents"


def test_an_expired_lease_returns_the_task_to_the_queue_logged_and_fences_the_old_holder(ledger: Any) -> None:
    task = tasks.add_task(ledger, "flaky work", agent="planner")
    first = tasks.claim(ledger, "agent-a", lease_seconds=1)
    assert first is not None and first.id == task.id
    assert tasks.claim(ledger, "agent-b") is None, "a held task is not offered again"
    time.sleep(1.3)

    assert [t.id for t in tasks.ready(ledger)] == [task.id]
    second = tasks.claim(ledger, "agent-b")
    assert second is not None and second.id == task.id and second.attempts == 2
    kinds = [(a.kind, a.agent) for a in tasks.show(ledger, task.id).activity]
    assert ("lease_expired", "agent-a") in kinds

    with pytest.raises(tasks.NotHolderError, match="held by agent-b"):
        tasks.done(ledger, task.id, "agent-a", note="late result")
    with pytest.raises(tasks.NotHolderError):
        tasks.heartbeat(ledger, task.id, "agent-a")
    assert tasks.heartbeat(ledger, task.id, "agent-b", note="halfway").lease_until is not None
    finished = tasks.done(ledger, task.id, "agent-b", note="the result")
    assert finished.status == "done" and finished.done_note == "the result"


def test_a_dependency_that_closes_a_cycle_is_refused_with_exit_1_naming_the_cycle(ledger_url: str) -> None:
    ids = []
    for title in ("plan", "build", "review"):
        out = ssot(["task", "add", title, "--json"] + (["--depends-on", str(ids[-1])] if ids else []), ledger_url)
        assert out.returncode == 0, out.stderr
        ids.append(json.loads(out.stdout)["id"])
    plan, build, review = ids

    refused = ssot(["task", "depend", str(plan), "--on", str(review)], ledger_url)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"{plan} → {review} → {build} → {plan}" in refused.stderr

    shown = json.loads(ssot(["task", "show", str(plan), "--json"], ledger_url).stdout)
    assert shown["depends_on"] == [], "the refused edge was not stored"
    assert ssot(["task", "depend", str(plan), "--on", str(plan)], ledger_url).returncode == 1


def test_two_concurrent_depends_cannot_close_a_cycle_between_them(ledger_url: str, ledger: Any) -> None:
    a = tasks.add_task(ledger, "a", agent="p").id
    b = tasks.add_task(ledger, "b", agent="p").id
    results: list[str] = []
    barrier = threading.Barrier(2)

    def add(task_id: int, on: int) -> None:
        conn = connect(ledger_url)
        barrier.wait()
        try:
            tasks.depend(conn, task_id, on, agent="p")
            results.append("ok")
        except tasks.CycleError:
            results.append("cycle")
        finally:
            conn.close()

    threads = [threading.Thread(target=add, args=(a, b)), threading.Thread(target=add, args=(b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["cycle", "ok"]


def test_claim_prints_the_task_or_exits_3_with_nothing_on_stdout(ledger_url: str) -> None:
    empty = ssot(["task", "claim", "--agent", "x", "--json"], ledger_url)
    assert (empty.returncode, empty.stdout) == (3, "")
    ssot(["task", "add", "low", "--priority", "P3"], ledger_url)
    ssot(["task", "add", "urgent", "--priority", "P0", "--role", "reviewer"], ledger_url)
    ssot(["task", "add", "middle", "--priority", "P1", "--role", "executor"], ledger_url)
    ready = json.loads(ssot(["task", "ready", "--json"], ledger_url).stdout)
    assert [t["title"] for t in ready] == ["urgent", "middle", "low"]
    got = ssot(["task", "claim", "--agent", "exec-1", "--role", "executor", "--json"], ledger_url)
    assert got.returncode == 0 and json.loads(got.stdout)["title"] == "middle"
    bad = ssot(["task", "done", str(json.loads(got.stdout)["id"]), "--agent", "someone-else"], ledger_url)
    assert bad.returncode == 1 and "held by exec-1" in bad.stderr


def test_a_persons_block_and_approval_gate_the_queue(ledger: Any) -> None:
    gated = tasks.add_task(ledger, "deploy", agent="planner", requires_approval=True)
    assert tasks.ready(ledger) == []
    tasks.approve(ledger, gated.id, by="alice")
    assert [t.id for t in tasks.ready(ledger)] == [gated.id]

    tasks.block(ledger, gated.id, "freeze", agent="alice", by_person=True)
    assert tasks.claim(ledger, "agent-a") is None
    with pytest.raises(tasks.TaskError, match="only a person can unblock"):
        tasks.unblock(ledger, gated.id, agent="agent-a")
    tasks.unblock(ledger, gated.id, agent="alice", by_person=True)
    assert tasks.claim(ledger, "agent-a") is not None


def test_the_activity_log_is_append_only(ledger: Any) -> None:
    import psycopg

    task = tasks.add_task(ledger, "t", agent="p")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        ledger.execute("UPDATE task_activity SET note = 'rewritten' WHERE task_id = %s", (task.id,))
    ledger.rollback()
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        ledger.execute("DELETE FROM task_activity WHERE task_id = %s", (task.id,))
    ledger.rollback()


def test_a_command_run_by_claude_code_records_the_hooks_session_and_the_handover_has_it(
    ledger_url: str, ledger: Any, tmp_path: Path
) -> None:
    from ssot_pipelines.sessions.transcripts import import_paths

    import_paths(ledger, [copy_samples(tmp_path)], allow_outside_roots=True)  # session A's transcript in the ledger
    ledger.commit()
    journal = tmp_path / "journal"
    work = tmp_path / "work"
    work.mkdir()
    plan = tasks.add_task(ledger, "plan", agent="planner-1", role="planner")
    build = tasks.add_task(
        ledger, "build", agent="planner-1", role="executor", body="Implement the plan.", depends_on=[plan.id]
    )
    tasks.claim(ledger, "planner-1")
    tasks.done(ledger, plan.id, "planner-1", note="the plan: add a column, then backfill")

    # Claude Code runs PreToolUse (journalled by ssot-hook), then the Bash command.
    command = "ssot task claim --agent exec-1 --json"
    assert (
        run_hook(
            hook_payload("PreToolUse", SESSION_A, cwd=str(work), tool_name="Bash", tool_input={"command": command}),
            journal,
        ).returncode
        == 0
    )
    claimed = ssot(
        ["task", "claim", "--agent", "exec-1", "--json"], ledger_url, cwd=work, SSOT_JOURNAL_DIR=str(journal)
    )
    assert claimed.returncode == 0, claimed.stderr
    assert json.loads(claimed.stdout)["activity"][-1]["session_id"] == SESSION_A

    pack = ssot(["task", "context", str(build.id)], ledger_url)
    assert pack.returncode == 0, pack.stderr
    text = pack.stdout
    assert "Implement the plan." in text and "the plan: add a column, then backfill" in text
    assert "exec-1 (executor)  claimed" in text and f"Session {SESSION_A}#" in text
    assert "not in the ledger yet" not in text, "the session's last messages come from its transcript"
    # the spelling, `ssot context --task ID`, prints the same pack
    same = ssot(["context", "--task", str(build.id)], ledger_url)
    assert same.returncode == 0, same.stderr
    assert same.stdout == text


def test_bad_input_is_one_clear_line_and_an_import_refuses_only_the_bad_edges(ledger_url: str, tmp_path: Path) -> None:
    empty = ssot(["task", "add", "  "], ledger_url)
    assert empty.returncode == 1 and "non-empty title" in empty.stderr and len(empty.stderr.splitlines()) == 1
    bad_priority = ssot(["task", "add", "x", "--priority", "urgent"], ledger_url)
    assert bad_priority.returncode == 1 and "use P0 (most urgent), P1, P2 or P3" in bad_priority.stderr
    missing = ssot(["task", "show", "999", "--json"], ledger_url)
    assert (missing.returncode, missing.stdout) == (1, "") and "no task 999" in missing.stderr

    path = tmp_path / "tasks.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"key": "A", "Name": "a", "Dependencies": ["C"]},
                {"key": "B", "Name": "b", "Dependencies": ["A"], "Assigned Agent": "Reviewer", "Priority": "P0"},
                {"key": "C", "Name": "c", "Dependencies": ["B"]},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    first = ssot(["task", "import", str(path), "--json"], ledger_url)
    assert first.returncode == 1, "a refused edge is reported with exit 1"
    result = json.loads(first.stdout)
    assert (result["created"], result["edges"], len(result["refused"])) == (3, 2, 1)
    assert "would close the cycle" in result["refused"][0]
    again = json.loads(ssot(["task", "import", str(path), "--json"], ledger_url).stdout)
    assert (again["created"], again["unchanged"], again["edges"]) == (0, 3, 0)
    listed = json.loads(ssot(["task", "list", "--json"], ledger_url).stdout)
    assert [(t["key"], t["role"], t["priority"]) for t in listed if t["key"] == "B"] == [("B", "reviewer", "P0")]


def test_a_task_whose_lease_keeps_running_out_is_blocked_not_recycled_forever(
    ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSOT_TASK_MAX_ATTEMPTS", "2")
    task = tasks.add_task(ledger, "kills its agents", agent="planner")
    for agent in ("agent-a", "agent-b"):
        assert tasks.claim(ledger, agent, lease_seconds=1) is not None
        time.sleep(1.2)
    assert tasks.ready(ledger) == [] and tasks.claim(ledger, "agent-c") is None
    shown = tasks.show(ledger, task.id)
    assert shown.status == "blocked" and shown.block_reason == "its lease ran out 2 times without completion"
    tasks.unblock(ledger, task.id, agent="agent-c", note="fixed the input")
    assert tasks.claim(ledger, "agent-c") is not None
