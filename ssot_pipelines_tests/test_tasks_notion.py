"""Task Tracking both ways, through the real sync engine and the Notion sandbox over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from ssot_pipelines import tasks
from ssot_pipelines.tasks.notion_frame import task_tracking_frame
from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager


def _sync(sync: Any, ledger: Any) -> Any:
    """One run of the task_tracking asset's work: extract from the graph (pulling people's edits), sync."""
    report = sync.sync("task_tracking", task_tracking_frame(ledger, sync))
    assert report.failed == 0, report.errors
    return report


def _select(client: Any, page_id: str, **values: str) -> None:
    client.pages.update(page_id, properties={k: {"select": {"name": v}} for k, v in values.items()})


def test_a_persons_blocked_in_notion_holds_until_a_person_unblocks_and_reassignments_reach_agents(
    sandbox: Any, ledger_url: str, redis_url: str, ledger: Any
) -> None:
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        build = tasks.add_task(
            ledger, "Write the migration", agent="planner-1", role="executor", body="Add the column, then backfill."
        )
        review = tasks.add_task(ledger, "Review it", agent="planner-1", role="reviewer", depends_on=[build.id])
        assert _sync(sync, ledger).created == 2
        client = person(sandbox)
        rows = live_rows(client, sync.ids["task_tracking"].data_source_id)
        build_page, review_page = rows[build.key][0], rows[review.key][0]
        assert [r["id"] for r in review_page["properties"]["Dependencies"]["relation"]] == [build_page["id"]]
        assert review_page["properties"]["Status"]["select"]["name"] == "todo"
        body = sync.read_body(build_page["id"])
        assert body.startswith("Add the column, then backfill.") and "planner-1 (executor)  added" in body

        _select(client, build_page["id"], Status="blocked")
        _select(client, review_page["id"], **{"Assigned Agent": "Planner", "Priority": "P0"})
        _sync(sync, ledger)

        assert tasks.claim(ledger, "exec-1", role="executor") is None, "a person's blocked is respected"
        with pytest.raises(tasks.TaskError, match="only a person can unblock"):
            tasks.unblock(ledger, build.id, agent="exec-1")
        shown = tasks.show(ledger, review.id)
        assert (shown.role, shown.priority) == ("planner", "P0"), "agents see the reassignment after the pull"
        _sync(sync, ledger)  # a second sync applies nothing twice and keeps it blocked
        assert tasks.show(ledger, build.id).status == "blocked"

        _select(client, build_page["id"], Status="todo")
        _sync(sync, ledger)
        claimed = tasks.claim(ledger, "exec-1", role="executor")
        assert claimed is not None and claimed.id == build.id
        tasks.done(ledger, build.id, "exec-1", note="migration 0042")
        _sync(sync, ledger)
        body = sync.read_body(build_page["id"])
        assert "exec-1 (executor)  done: migration 0042" in body
        assert "blocked: set to blocked by a person in notion" in body
        assert "unblocked: status set to todo by a person in notion" in body
        page = client.pages.retrieve(review_page["id"])
        assert page["properties"]["Priority"]["select"]["name"] == "P0", "the person's value is kept"
        # the person's todo was applied to the graph: the agents' done shows in Notion, not the stale todo
        page = client.pages.retrieve(build_page["id"])
        assert page["properties"]["Status"]["select"]["name"] == "done"
        tasks.update_fields(ledger, review.id, by="planner-1", priority="P2")
        _sync(sync, ledger)
        page = client.pages.retrieve(review_page["id"])
        assert page["properties"]["Priority"]["select"]["name"] == "P2", "accepted, an agent's change shows again"


def test_the_sensor_requests_a_task_tracking_sync_only_when_the_graph_changed(ledger_url: str, ledger: Any) -> None:
    import dagster as dg

    from ssot_pipelines.resources.stores import PostgresResource
    from ssot_pipelines.tasks.defs import task_tracking_sensor

    tasks.add_task(ledger, "t", agent="p")

    def evaluate(cursor: str | None) -> Any:
        with dg.build_sensor_context(cursor=cursor, resources={"postgres": PostgresResource(url=ledger_url)}) as ctx:
            return task_tracking_sensor(ctx)

    first = evaluate(None)
    assert len(first.run_requests) == 1
    assert not evaluate(first.cursor).run_requests, "nothing changed: no run"
    tasks.claim(ledger, "a")
    assert len(evaluate(first.cursor).run_requests) == 1


def test_a_task_links_the_cli_sessions_that_worked_on_it_and_the_secondbrain_task_it_implements(
    sandbox: Any, ledger_url: str, redis_url: str, ledger: Any, tmp_path: Any
) -> None:
    from ssot_pipelines.sessions.records import cli_session_frame
    from ssot_pipelines.sessions.transcripts import import_paths
    from ssot_pipelines_tests.sessions_fixtures import SESSION_A, copy_samples

    import_paths(ledger, [copy_samples(tmp_path)], allow_outside_roots=True)
    ledger.commit()
    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        assert sync.sync("cli_sessions", cli_session_frame(ledger)).failed == 0
        assert sync.sync("secondbrain_tasks", [_secondbrain_task()]).failed == 0
        task = tasks.add_task(ledger, "Fix the drift", agent="planner-1", implements="sb-drift-1", session_id=SESSION_A)
        _sync(sync, ledger)
        client = person(sandbox)
        page = live_rows(client, sync.ids["task_tracking"].data_source_id)[task.key][0]
        sessions = live_rows(client, sync.ids["cli_sessions"].data_source_id)
        session_pages = {p[0]["id"] for k, p in sessions.items() if k.startswith(SESSION_A + "#")}
        linked = {r["id"] for r in page["properties"]["CLI Sessions"]["relation"]}
        assert linked and linked <= session_pages
        sb = live_rows(client, sync.ids["secondbrain_tasks"].data_source_id)["sb-drift-1"][0]
        assert [r["id"] for r in page["properties"]["SecondBrain Task"]["relation"]] == [sb["id"]]
        assert [r["id"] for r in sb["properties"]["Implemented By"]["relation"]] == [page["id"]]


def _secondbrain_task() -> Any:
    from ssot_pipelines.notion.sync import SyncRecord

    return SyncRecord(key="sb-drift-1", values={"Name": "Drift in sync.py", "Status": "open", "Priority": "P1"})
