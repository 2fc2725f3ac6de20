"""Task threads in Slack, against a local stand-in of the Web API driven through the real slack-sdk client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from ssot_pipelines import tasks
from ssot_pipelines.tasks.slack import METADATA_EVENT, SlackSettings, apply_slack_event, post_pending
from ssot_pipelines_tests.slack_standin import Identity, SlackStandIn

CHANNEL = "C0TASKS"
TOKENS = {
    "xoxb-shared": Identity("U0BOT", "B0BOT", "ssot"),
    "xoxb-planner": Identity("U0PLAN", "B0PLAN", "planner-bot"),
    "xoxb-executor": Identity("U0EXEC", "B0EXEC", "executor-bot"),
    "xoxp-alice": Identity("U0ALICE", None, "alice"),
}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(tokens=TOKENS, channels=(CHANNEL,)).start()
    yield standin
    standin.stop()


def settings_for(slack: SlackStandIn, interval: float = 0.2) -> SlackSettings:
    # the reviewer has no bot of its own: the shared bot posts for it and names the role
    return SlackSettings(
        channel=CHANNEL,
        bot_token="xoxb-shared",
        role_tokens={"planner": "xoxb-planner", "executor": "xoxb-executor"},
        base_url=slack.url,
        interval_seconds=interval,
    )


def thread_of(slack: SlackStandIn, ledger: Any, task_id: int) -> list[dict[str, Any]]:
    row = ledger.execute("SELECT thread_ts FROM task_slack_threads WHERE task_id = %s", (task_id,)).fetchone()
    ledger.commit()
    assert row is not None and row["thread_ts"], f"task {task_id} has a thread"
    return slack.thread(CHANNEL, row["thread_ts"])


def test_each_task_gets_one_thread_with_one_post_per_activity_as_its_roles_bot(
    slack: SlackStandIn, ledger: Any
) -> None:
    settings = settings_for(slack)
    plan = tasks.add_task(ledger, "Plan the migration", agent="planner-1", role="planner", priority="P1")
    build = tasks.add_task(ledger, "Write the migration", agent="planner-1", role="executor", depends_on=[plan.id])
    review = tasks.add_task(ledger, "Review it", agent="planner-1", role="reviewer", depends_on=[build.id])
    tasks.claim(ledger, "planner-1", role="planner")
    tasks.heartbeat(ledger, plan.id, "planner-1")  # a bare heartbeat is not news
    tasks.heartbeat(ledger, plan.id, "planner-1", note="drafted the steps")
    tasks.done(ledger, plan.id, "planner-1", note="plan in docs/plan.md")
    tasks.claim(ledger, "exec-1", role="executor")
    tasks.note(ledger, build.id, "exec-1", "ready for review", kind="review_requested")
    tasks.block(ledger, build.id, "the CI is down", agent="exec-1")

    report = post_pending(ledger, settings)
    assert (report.threads, report.failed) == (3, 0)
    assert report.posted == 6  # claimed, progress, done; claimed, review requested, blocked

    plan_thread = thread_of(slack, ledger, plan.id)
    assert [m["text"].split(": ", 1)[-1] for m in plan_thread[1:]] == [
        "claimed — lease of 600s",
        "progress — drafted the steps",
        "done — plan in docs/plan.md",
    ]
    assert {m["user"] for m in plan_thread} == {"U0PLAN"}, "the planner's own bot posts its thread"
    assert {m["user"] for m in thread_of(slack, ledger, build.id)} == {"U0EXEC"}
    review_thread = thread_of(slack, ledger, review.id)
    assert len(review_thread) == 1 and review_thread[0]["user"] == "U0BOT"

    # the reviewer's activity goes through the shared bot, which names the role
    tasks.unblock(ledger, build.id, agent="exec-1")
    tasks.claim(ledger, "exec-1", role="executor")
    tasks.done(ledger, build.id, "exec-1")
    tasks.claim(ledger, "rev-1", role="reviewer")
    assert post_pending(ledger, settings).posted == 4
    assert thread_of(slack, ledger, review.id)[-1]["text"] == "[Reviewer] rev-1: claimed — lease of 600s"

    # a second pass posts nothing again; posts were paced
    assert post_pending(ledger, settings).posted == 0
    gaps = [b - a for a, b in zip(slack.post_times, slack.post_times[1:], strict=False)]
    assert min(gaps) >= 0.18

    # each thread is a Slack Conversation of the Slack capability, every post in it, nothing staged aside
    from ssot_pipelines.slack.records import conversation_frame

    frame = conversation_frame(ledger, "any-target", full=True)
    threads = {r["key"]: r for r in frame.to_dict(orient="records")}
    plan_root = plan_thread[0]["ts"]
    assert set(threads) == {
        f"{CHANNEL}/thread/{m[0]['ts']}"
        for m in (plan_thread, thread_of(slack, ledger, build.id), thread_of(slack, ledger, review.id))
    }
    assert threads[f"{CHANNEL}/thread/{plan_root}"]["Message Count"] == len(plan_thread) == 4
    assert "plan in docs/plan.md" in threads[f"{CHANNEL}/thread/{plan_root}"]["body"]
    staged = ledger.execute("SELECT count(*) AS n FROM records WHERE database = 'slack_conversations'").fetchone()
    ledger.commit()
    assert staged is not None and staged["n"] == 0


def test_a_post_whose_answer_was_lost_or_rate_limited_appears_once(slack: SlackStandIn, ledger: Any) -> None:
    settings = settings_for(slack, interval=0.05)
    task = tasks.add_task(ledger, "t", agent="p", role="executor")
    post_pending(ledger, settings)
    tasks.claim(ledger, "exec-1")
    slack.fail_after_store = 1  # Slack stores the message, then answers 500
    first = post_pending(ledger, settings)
    assert (first.posted, first.adopted, first.failed) == (0, 1, 0)
    tasks.note(ledger, task.id, "exec-1", "step 2")
    slack.rate_limit_next = 1  # 429 + Retry-After: slack-sdk waits and sends again
    assert post_pending(ledger, settings).posted == 1
    texts = [m["text"] for m in thread_of(slack, ledger, task.id)]
    assert sum("claimed" in t for t in texts) == 1 and sum("step 2" in t for t in texts) == 1
    keys = [
        m["metadata"]["event_payload"]["key"]
        for m in thread_of(slack, ledger, task.id)
        if m.get("metadata", {}).get("event_type") == METADATA_EVENT
    ]
    assert len(keys) == len(set(keys)) == 3


def test_an_approval_reaction_makes_a_gated_task_ready_and_a_reply_blocks_it(slack: SlackStandIn, ledger: Any) -> None:
    settings = settings_for(slack, interval=0.05)
    gated = tasks.add_task(ledger, "Drop the old table", agent="planner-1", role="executor", requires_approval=True)
    post_pending(ledger, settings)
    assert tasks.ready(ledger) == []

    root = thread_of(slack, ledger, gated.id)[0]
    alice = WebClient(token="xoxp-alice", base_url=slack.url)
    alice.reactions_add(channel=CHANNEL, timestamp=root["ts"], name="white_check_mark")
    [event] = slack.events
    outcome = apply_slack_event(ledger, event, settings)
    assert (outcome.task_id, outcome.action) == (gated.id, "approved")
    assert [t.id for t in tasks.ready(ledger)] == [gated.id]
    assert apply_slack_event(ledger, event, settings).action == "duplicate", "Slack's retry changes nothing"

    alice.chat_postMessage(channel=CHANNEL, thread_ts=root["ts"], text="block waiting for the backup")
    reply = slack.events[-1]
    assert apply_slack_event(ledger, reply, settings).action == "blocked"
    assert tasks.claim(ledger, "exec-1") is None
    with pytest.raises(tasks.TaskError, match="only a person can unblock"):
        tasks.unblock(ledger, gated.id, agent="exec-1")
    shown = tasks.show(ledger, gated.id)
    assert shown.block_reason == "waiting for the backup" and shown.activity[-1].agent == "slack:U0ALICE"

    alice.chat_postMessage(channel=CHANNEL, thread_ts=root["ts"], text="unblock backup done")
    assert apply_slack_event(ledger, slack.events[-1], settings).action == "unblocked"
    assert tasks.claim(ledger, "exec-1") is not None


def test_a_tasks_thread_is_a_slack_conversation_that_a_full_sync_keeps_and_links_both_ways(
    slack: SlackStandIn, ledger: Any, ledger_url: str, sandbox: Any, redis_url: str
) -> None:
    from ssot_pipelines.slack.records import conversation_frame
    from ssot_pipelines.tasks.notion_frame import task_tracking_frame
    from ssot_pipelines_tests.notion_helpers import live_rows, person, sync_manager
    from ssot_pipelines_tests.test_tasks_graph import ssot

    env = {
        "SLACK_TASKS_CHANNEL": CHANNEL,
        "SLACK_BOT_TOKEN": "xoxb-shared",
        "SLACK_API_URL": slack.url,
        "SSOT_SLACK_POST_INTERVAL": "0.05",
    }
    added = ssot(["task", "add", "Ship it", "--role", "executor", "--json"], ledger_url, **env)
    assert added.returncode == 0, added.stderr
    task_id = json.loads(added.stdout)["id"]
    assert ssot(["task", "claim", "--agent", "exec-1"], ledger_url, **env).returncode == 0
    posted = thread_of(slack, ledger, task_id)
    assert [m["text"] for m in posted] == [
        f"Task {task_id} — Ship it (Executor)",
        "[Executor] exec-1: claimed — lease of 600s",
    ]
    key = f"{CHANNEL}/thread/{posted[0]['ts']}"

    with sync_manager(sandbox, ledger_url, redis_url, provision_databases=True) as sync:
        for _ in range(2):  # the second full sync must keep the thread's page, not archive it
            synced = sync.sync("slack_conversations", conversation_frame(ledger, sync.target, sync, full=True))
            assert (synced.failed, synced.archived) == (0, 0)
            assert sync.sync("task_tracking", task_tracking_frame(ledger, sync)).failed == 0
        client = person(sandbox)
        conversations = live_rows(client, sync.ids["slack_conversations"].data_source_id)
        task_page = live_rows(client, sync.ids["task_tracking"].data_source_id)[f"task-{task_id}"][0]
        assert list(conversations) == [key] and len(conversations[key]) == 1
        conversation = conversations[key][0]
        body = sync.read_body(conversation["id"])
    assert "Ship it" in body and "exec-1: claimed — lease of 600s" in body
    assert conversation["properties"]["Message Count"]["number"] == 2
    assert [r["id"] for r in task_page["properties"]["Slack Conversation"]["relation"]] == [conversation["id"]]
    assert [r["id"] for r in conversation["properties"]["Tasks"]["relation"]] == [task_page["id"]]


def test_staging_slack_conversations_is_refused_with_a_pointer_to_the_slack_import(
    tmp_path: Any, ledger_url: str
) -> None:
    from ssot_pipelines_tests.test_tasks_graph import ssot

    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"key": "C1/thread/1.000100", "Title": "t"}) + "\n", encoding="utf-8")
    result = ssot(["stage", "slack_conversations", str(path)], ledger_url)
    assert result.returncode != 0
    assert "ssot slack import" in result.stderr and "Nothing was staged" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_signed_reaction_through_ssot_slack_serve_and_drain_makes_a_gated_task_ready(
    slack: SlackStandIn, ledger: Any, ledger_url: str, tmp_path: Any
) -> None:
    from ssot_pipelines_tests.test_slack_events import Receiver
    from ssot_pipelines_tests.test_tasks_graph import ssot

    gated = tasks.add_task(ledger, "Drop the old table", agent="planner-1", role="executor", requires_approval=True)
    post_pending(ledger, settings_for(slack, interval=0.05))
    root = thread_of(slack, ledger, gated.id)[0]
    WebClient(token="xoxp-alice", base_url=slack.url).reactions_add(
        channel=CHANNEL, timestamp=root["ts"], name="white_check_mark"
    )
    [reaction] = slack.events  # what Slack's Events API delivers for it

    receiver = Receiver(tmp_path / "journal")  # the real `ssot slack serve`, checking Slack's signature
    try:
        assert receiver.send(reaction).status_code == 200
        assert receiver.send(reaction, retry=1).status_code == 200  # Slack's retry: applied once
    finally:
        receiver.kill()
    assert tasks.ready(ledger) == [], "nothing is applied before the drain"
    drained = ssot(
        ["slack", "drain", "--no-names", "--no-recall"], ledger_url, SLACK_JOURNAL_DIR=str(tmp_path / "journal")
    )
    assert drained.returncode == 0, drained.stderr
    assert "tasks: 1 approved" in drained.stdout
    assert [t.id for t in tasks.ready(ledger)] == [gated.id]
    approvals = [a for a in tasks.show(ledger, gated.id).activity if a.kind == "approved"]
    assert [a.agent for a in approvals] == ["slack:U0ALICE"]
    again = ssot(
        ["slack", "drain", "--no-names", "--no-recall"], ledger_url, SLACK_JOURNAL_DIR=str(tmp_path / "journal")
    )
    assert again.returncode == 0 and "tasks:" not in again.stdout


def test_agents_posting_at_once_leave_nothing_behind_and_post_nothing_twice(
    slack: SlackStandIn, ledger: Any, ledger_url: str
) -> None:
    import threading

    from ssot_pipelines.ledger import connect

    settings = settings_for(slack, interval=0.01)
    task_ids = [tasks.add_task(ledger, f"t{i}", agent="p", role="executor").id for i in range(4)]
    barrier = threading.Barrier(4)

    def agent(n: int) -> None:
        conn = connect(ledger_url)
        barrier.wait()
        for step in range(3):
            tasks.note(conn, task_ids[n], f"exec-{n}", f"step {step}")
            post_pending(conn, settings, wait=False)  # what `ssot task` does after each command
        conn.close()

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, task_id in enumerate(task_ids):
        texts = [m["text"] for m in thread_of(slack, ledger, task_id)]
        assert texts[1:] == [f"exec-{n}: progress — step {s}" for s in range(3)]  # the executor bot posts
