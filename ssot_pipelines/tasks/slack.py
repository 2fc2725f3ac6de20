"""The agents' work, visible in Slack: one thread per task, one post per activity, and people's answers back.

Posting (``post_pending``) reads the activity log as an outbox. Each post is idempotent: its intent,
with an idempotency key, is committed to the ledger before ``chat.postMessage`` is called, the key
travels in the message's metadata, and the returned ``ts`` is committed after. A post whose answer was
lost (a crash, a timeout, a 5xx after Slack stored it) is looked up by that key in the thread before it
is ever sent again, so a retried post never appears twice. One poster runs at a time (a PostgreSQL
advisory lock), so a thread's posts stay in order, and posts are paced through a ledger row per channel
that every process shares (``SSOT_SLACK_POST_INTERVAL``, default 1.1 s: Slack allows about one message
a second per channel); a 429 is retried after its ``Retry-After`` by slack-sdk's handler.

Each role may post as its own bot (``SLACK_PLANNER_BOT_TOKEN``, ``SLACK_EXECUTOR_BOT_TOKEN``,
``SLACK_REVIEWER_BOT_TOKEN``); otherwise ``SLACK_BOT_TOKEN`` posts and names the role.

Every post is logged into the Slack capability's tables as it is made (``slack.own_posts``), so a task's
thread is a Slack Conversation like any other (synced by the ``slack_conversations`` asset, never
withdrawn by its full sync) and the task's Notion page links it by its conversation id.

People answer in the thread: ``apply_slack_event`` applies a reaction (``SSOT_SLACK_APPROVE_REACTIONS``,
default ✅; ``SSOT_SLACK_BLOCK_REACTIONS``, default ⛔) or a reply starting with a command word
(approve, block REASON, unblock, priority P0..P3, assign ROLE; anything else is logged as a comment) to
the task, de-duplicated on Slack's ``event_id``. ``ssot slack drain`` (and the ``slack_conversation_events``
asset) hands it each reaction and thread reply the Events API receiver journaled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from ssot_pipelines.settings import env
from ssot_pipelines.tasks import graph
from ssot_pipelines.tasks.graph import Connection
from ssot_pipelines.tasks.model import PRIORITIES, Role, TaskError, TaskInputError

log = logging.getLogger(__name__)

_POSTER_LOCK = 0x7A5C_51AC  # advisory lock id: one Slack poster at a time
METADATA_EVENT = "ssot_task_post"
POSTED_KINDS = frozenset(
    {
        "added",  # opens the thread: the root message is this activity's post
        "claimed",
        "progress",
        "review_requested",
        "done",
        "blocked",
        "unblocked",
        "released",
        "lease_expired",
        "approved",
        "reassigned",
        "reopened",
        "cancelled",
    }
)
ROLE_TOKEN_VARS = {role: f"SLACK_{role.value.upper()}_BOT_TOKEN" for role in Role}


@dataclass(frozen=True)
class SlackSettings:
    """Where and as whom task activity is posted (tokens never appear in repr)."""

    channel: str
    bot_token: str | None = field(default=None, repr=False)
    role_tokens: dict[str, str] = field(default_factory=dict, repr=False)
    base_url: str = "https://slack.com/api/"
    interval_seconds: float = 1.1
    approve_reactions: frozenset[str] = frozenset({"white_check_mark", "heavy_check_mark"})
    block_reactions: frozenset[str] = frozenset({"no_entry", "no_entry_sign"})

    @classmethod
    def from_env(cls) -> SlackSettings | None:
        """From the environment; None when no channel or no token is configured."""
        channel = env("SLACK_TASKS_CHANNEL")
        roles = {role.value: token for role, var in ROLE_TOKEN_VARS.items() if (token := env(var))}
        bot = env("SLACK_BOT_TOKEN")
        if not channel or not (bot or roles):
            return None
        base = env("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"
        return cls(
            channel=channel,
            bot_token=bot,
            role_tokens=roles,
            base_url=base if base.endswith("/") else base + "/",
            interval_seconds=float(env("SSOT_SLACK_POST_INTERVAL", "1.1") or 1.1),
            approve_reactions=_names(env("SSOT_SLACK_APPROVE_REACTIONS"), cls.approve_reactions),
            block_reactions=_names(env("SSOT_SLACK_BLOCK_REACTIONS"), cls.block_reactions),
        )

    def client_for(self, role: str | None) -> tuple[Any, bool]:
        """(a WebClient, whether it is the role's own bot) for posting as ``role``."""
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        own = self.role_tokens.get(role or "")
        token = own or self.bot_token or next(iter(self.role_tokens.values()))
        client = WebClient(token=token, base_url=self.base_url, timeout=15)
        # A 429 means Slack did not take the message, so waiting Retry-After and resending is safe.
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
        return client, own is not None


def _names(value: str | None, default: frozenset[str]) -> frozenset[str]:
    if not value:
        return default
    return frozenset(n.strip().strip(":") for n in value.split(",") if n.strip())


@dataclass
class PostReport:
    threads: int = 0
    posted: int = 0
    adopted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        text = (
            f"Slack: {self.threads} threads opened, {self.posted} posts, {self.adopted} recovered, {self.failed} failed"
        )
        return "\n".join([text, *self.errors[:5]])


class _PostFailed(Exception):
    """A post failed and was not found in Slack; it stays pending for the next pass."""


_PENDING = """
    SELECT a.*, t.title, t.role AS task_role FROM task_activity a
    JOIN tasks t ON t.id = a.task_id
    WHERE a.kind = ANY(%s)
      AND NOT EXISTS (SELECT 1 FROM task_slack_posts p WHERE p.activity_id = a.id AND p.ts IS NOT NULL)
    ORDER BY a.id LIMIT %s
"""


def post_pending(conn: Connection, settings: SlackSettings, *, limit: int = 200, wait: bool = True) -> PostReport:
    """Post the activity not yet in Slack (opening threads as needed), in order, until none is left or
    ``limit`` posts were made; stop at the first failure.

    With ``wait=False`` it returns at once when another process is posting: that poster looks for pending
    activity again after it lets go of the lock, so an activity committed while it was finishing is not
    left behind.
    """
    report = PostReport()
    conn.commit()
    while _lock_poster(conn, wait=wait):
        try:
            failed = _post_batch(conn, settings, limit, report)
        finally:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(%s)", (_POSTER_LOCK,))
            conn.commit()
        more = conn.execute(_PENDING, (list(POSTED_KINDS), 1)).fetchone()  # type: ignore[arg-type]
        conn.commit()
        if failed or more is None or report.posted + report.adopted >= limit:
            break
        wait = False  # someone else may have taken over; if not, go round again
    return report


def _lock_poster(conn: Connection, *, wait: bool) -> bool:
    if wait:
        conn.execute("SET statement_timeout = '120s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (_POSTER_LOCK,))
        conn.execute("SET statement_timeout = 0")
        conn.commit()
        return True
    got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (_POSTER_LOCK,)).fetchone()
    conn.commit()
    return bool(got and got["got"])


def _post_batch(conn: Connection, settings: SlackSettings, limit: int, report: PostReport) -> bool:
    """Post pending activity under the poster lock; True when a post failed."""
    done = 0
    failed = False
    while done < limit and not failed:
        pending = conn.execute(_PENDING, (list(POSTED_KINDS), min(50, limit - done))).fetchall()  # type: ignore[arg-type]
        conn.commit()
        if not pending:
            break
        try:
            for activity in pending:
                thread_ts = _ensure_thread(conn, settings, activity, report)
                _post_activity(conn, settings, activity, thread_ts, report)
                done += 1
        except _PostFailed as exc:
            report.failed += 1
            report.errors.append(str(exc))
            failed = True
    return failed


def _ensure_thread(conn: Connection, settings: SlackSettings, activity: dict[str, Any], report: PostReport) -> str:
    task_id = int(activity["task_id"])
    row = conn.execute("SELECT * FROM task_slack_threads WHERE task_id = %s", (task_id,)).fetchone()
    if row is not None and row["thread_ts"]:
        conn.commit()
        return str(row["thread_ts"])
    key = f"ssot-task-root-{task_id}"
    if row is None:
        conn.execute("INSERT INTO task_slack_threads (task_id, channel) VALUES (%s, %s)", (task_id, settings.channel))
        conn.commit()
        found = None
    else:
        found = _find_posted(settings, row["channel"], key, thread_ts=None)
    role = activity["task_role"]
    text = f"Task {task_id} — {activity['title']}" + (f" ({Role(role).notion})" if role else "")
    ts, recovered = (found, True) if found else _send(conn, settings, role, key, text, thread_ts=None)
    conn.commit()
    with conn.transaction():  # the thread and its root as a Slack message: both or neither
        conn.execute("UPDATE task_slack_threads SET thread_ts = %s WHERE task_id = %s", (ts, task_id))
        _record(conn, settings, role, ts, text, thread_ts=None)
    if recovered:
        report.adopted += 1
    else:
        report.threads += 1
    return ts


def _post_activity(
    conn: Connection, settings: SlackSettings, activity: dict[str, Any], thread_ts: str, report: PostReport
) -> None:
    key = f"ssot-task-activity-{activity['id']}"
    inserted = conn.execute(
        "INSERT INTO task_slack_posts (activity_id, idempotency_key, channel) VALUES (%s, %s, %s)"
        " ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id",
        (activity["id"], key, settings.channel),
    ).fetchone()
    conn.commit()
    # An intent left by an earlier attempt may have reached Slack: look before posting again.
    if activity["kind"] == "added":
        found: str | None = thread_ts
    else:
        found = None if inserted else _find_posted(settings, settings.channel, key, thread_ts=thread_ts)
    role = activity["role"] or activity["task_role"]
    _, own_bot = settings.client_for(role)
    text = _text(activity, named=not own_bot)
    if found:
        ts, recovered = found, True
    else:
        ts, recovered = _send(conn, settings, role, key, text, thread_ts=thread_ts)
    conn.commit()
    with conn.transaction():  # the post and its Slack message: both or neither
        conn.execute(
            "UPDATE task_slack_posts SET ts = %s, posted_at = now() WHERE activity_id = %s", (ts, activity["id"])
        )
        if activity["kind"] != "added":  # the root was logged when the thread was opened
            _record(conn, settings, role, ts, text, thread_ts=thread_ts)
    if activity["kind"] != "added":
        report.adopted += recovered
        report.posted += not recovered


def _text(activity: dict[str, Any], *, named: bool) -> str:
    what = str(activity["kind"]).replace("_", " ")
    who = str(activity["agent"])
    role = activity["role"] or activity["task_role"]
    prefix = f"[{Role(role).notion}] " if named and role else ""
    text = f"{prefix}{who}: {what}"
    if activity["note"]:
        text += f" — {activity['note']}"
    if activity["session_id"]:
        text += f" (session {activity['session_id']})"
    return text


def _record(
    conn: Connection, settings: SlackSettings, role: str | None, ts: str, text: str, *, thread_ts: str | None
) -> None:
    """Log a post into the Slack capability's tables: the thread is the task's Slack Conversation."""
    from ssot_pipelines.slack.own_posts import OwnPost, record_posts

    own = role is not None and role in settings.role_tokens
    bot = Role(role).notion if own and role else "ssot"
    record_posts(conn, [OwnPost(settings.channel, ts, text, bot_name=bot, thread_ts=thread_ts)])


def _send(
    conn: Connection, settings: SlackSettings, role: str | None, key: str, text: str, *, thread_ts: str | None
) -> tuple[str, bool]:
    """Post once; (ts, False), or (ts, True) when a failed answer hid a post Slack had stored."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    _pace(conn, settings)
    client, _ = settings.client_for(role)
    try:
        res = client.chat_postMessage(
            channel=settings.channel,
            text=text,
            thread_ts=thread_ts,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
        )
        return str(res["ts"]), False
    except (SlackApiError, SlackClientError, OSError) as exc:
        # The message may have been stored although the answer failed: find it before calling it lost.
        try:
            found = _find_posted(settings, settings.channel, key, thread_ts=thread_ts)
        except (SlackApiError, SlackClientError, OSError):
            found = None
        if found:
            return found, True
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        raise _PostFailed(f"post {key} failed ({error}); it is retried on the next pass") from None


def _find_posted(settings: SlackSettings, channel: str, key: str, *, thread_ts: str | None) -> str | None:
    """The ts of the message carrying idempotency ``key`` in the thread (or the channel's recent history)."""
    client, _ = settings.client_for(None)
    cursor = None
    while True:
        if thread_ts:
            res = client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
            )
        else:
            res = client.conversations_history(channel=channel, include_all_metadata=True, limit=200, cursor=cursor)
        for message in res.get("messages", []):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == key:
                return str(message["ts"])
        cursor = (res.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


def _pace(conn: Connection, settings: SlackSettings) -> None:
    """Wait for this channel's next slot, shared by every process through the ledger."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO task_slack_pace (channel, next_at) VALUES (%s, clock_timestamp()) ON CONFLICT DO NOTHING",
            (settings.channel,),
        )
        row = conn.execute(
            "SELECT greatest(next_at - clock_timestamp(), interval '0') AS wait FROM task_slack_pace"
            " WHERE channel = %s FOR UPDATE",
            (settings.channel,),
        ).fetchone()
        assert row is not None
        conn.execute(
            "UPDATE task_slack_pace SET next_at = greatest(next_at, clock_timestamp()) + make_interval(secs => %s)"
            " WHERE channel = %s",
            (settings.interval_seconds, settings.channel),
        )
    wait: timedelta = row["wait"]
    if wait.total_seconds() > 0:
        time.sleep(wait.total_seconds())


# -- people's answers ---------------------------------------------------------------------------------


@dataclass
class EventOutcome:
    event_id: str
    task_id: int | None
    action: str  # approved, blocked, unblocked, reassigned, comment, ignored, duplicate, refused: …


def apply_slack_event(
    conn: Connection, envelope: dict[str, Any], settings: SlackSettings | None = None
) -> EventOutcome:
    """Apply one Events API envelope (a ``reaction_added`` or a thread reply) to its task, once per event_id."""
    settings = settings or SlackSettings(channel="")
    event_id = str(envelope.get("event_id") or "")
    event = envelope.get("event") or {}
    if not event_id or not isinstance(event, dict):
        raise TaskInputError("a Slack event envelope needs 'event_id' and 'event' (the Events API callback body)")
    previous = conn.execute("SELECT outcome FROM task_slack_events WHERE event_id = %s", (event_id,)).fetchone()
    if previous is not None and previous["outcome"] != "received":
        conn.commit()
        return EventOutcome(event_id, None, "duplicate")
    conn.execute(
        "INSERT INTO task_slack_events (event_id, outcome) VALUES (%s, 'received') ON CONFLICT DO NOTHING", (event_id,)
    )
    conn.commit()
    task_id: int | None = None
    try:
        task_id, action = _apply_event(conn, event, settings)
    except TaskError as exc:
        action = f"refused: {exc}"
    conn.execute(
        "UPDATE task_slack_events SET task_id = %s, outcome = %s WHERE event_id = %s", (task_id, action, event_id)
    )
    conn.commit()
    return EventOutcome(event_id, task_id, action)


def _apply_event(conn: Connection, event: dict[str, Any], settings: SlackSettings) -> tuple[int | None, str]:
    kind = event.get("type")
    user = str(event.get("user") or "someone")
    who = f"slack:{user}"
    if kind == "reaction_added":
        item = event.get("item") or {}
        task_id = _task_for(conn, str(item.get("channel")), str(item.get("ts")))
        if task_id is None:
            return None, "ignored"
        name = str(event.get("reaction", "")).split("::")[0]  # "+1::skin-tone-2" is still "+1"
        if name in settings.approve_reactions:
            graph.approve(conn, task_id, by=who, source="slack")
            return task_id, "approved"
        if name in settings.block_reactions:
            graph.block(conn, task_id, f":{name}: from <@{user}> in Slack", agent=who, by_person=True, source="slack")
            return task_id, "blocked"
        return task_id, "ignored"
    if kind == "message" and not event.get("subtype") and not event.get("bot_id") and event.get("thread_ts"):
        task_id = _task_for(conn, str(event.get("channel")), str(event["thread_ts"]))
        if task_id is None:
            return None, "ignored"
        return task_id, _apply_reply(conn, task_id, str(event.get("text") or ""), who)
    return None, "ignored"


def _apply_reply(conn: Connection, task_id: int, text: str, who: str) -> str:
    word, _, rest = text.strip().partition(" ")
    word = word.lower().strip(":!.,")
    rest = rest.strip()
    if word in ("approve", "approved", "lgtm"):
        graph.approve(conn, task_id, by=who, source="slack")
        return "approved"
    if word == "block":
        graph.block(conn, task_id, rest or "blocked from Slack", agent=who, by_person=True, source="slack")
        return "blocked"
    if word == "unblock":
        graph.unblock(conn, task_id, agent=who, by_person=True, note=rest or None, source="slack")
        return "unblocked"
    if word == "priority" and rest.upper() in PRIORITIES:
        graph.update_fields(conn, task_id, by=who, priority=rest, source="slack")
        return "reassigned"
    if word == "assign" and rest:
        graph.update_fields(conn, task_id, by=who, role=rest.split()[0], source="slack")
        return "reassigned"
    graph.note(conn, task_id, who, text, kind="comment", source="slack")
    return "comment"


def _task_for(conn: Connection, channel: str, ts: str) -> int | None:
    row = conn.execute(
        "SELECT task_id FROM task_slack_threads WHERE channel = %(c)s AND thread_ts = %(ts)s"
        " UNION ALL SELECT a.task_id FROM task_slack_posts p JOIN task_activity a ON a.id = p.activity_id"
        " WHERE p.channel = %(c)s AND p.ts = %(ts)s LIMIT 1",
        {"c": channel, "ts": ts},
    ).fetchone()
    conn.commit()
    return None if row is None else int(row["task_id"])
