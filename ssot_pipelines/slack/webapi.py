"""The Slack Web API through ``slack_sdk.WebClient``: the client from the environment, and name
resolution (``users.info``, ``conversations.info``) cached in the ledger and paced.

``users.info`` is a Tier 4 method (100+ calls a minute); the default pace of one call every 0.7 s stays
well inside it, and a 429 is waited out by slack_sdk's own rate-limit retry handler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from ssot_pipelines.settings import ConfigurationError, env
from ssot_pipelines.slack import store
from ssot_pipelines.slack.store import Connection

PACE_SECONDS = 0.7


def configured_web_client() -> WebClient | None:
    """The WebClient when ``SLACK_BOT_TOKEN`` is set, else None."""
    return web_client() if env("SLACK_BOT_TOKEN") else None


def web_client(token: str | None = None) -> WebClient:
    """A WebClient for ``SLACK_BOT_TOKEN`` (and ``SLACK_API_URL``, for a proxy or a local stand-in)."""
    token = token or env("SLACK_BOT_TOKEN")
    if not token:
        raise ConfigurationError(
            "SLACK_BOT_TOKEN is not set; create a Slack app with a bot token (xoxb-…) "
            "and set it (see the README's Slack section)"
        )
    base_url = env("SLACK_API_URL") or WebClient.BASE_URL
    return WebClient(
        token=token,
        base_url=base_url.rstrip("/") + "/",
        timeout=15,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )


@dataclass
class NamesReport:
    users: int = 0
    channels: int = 0
    failed: int = 0

    def summary(self) -> str:
        return f"names: {self.users} people and {self.channels} channels resolved, {self.failed} failed"


class Pacer:
    def __init__(self, seconds: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.seconds = seconds
        self.sleep = sleep
        self._last = 0.0

    def wait(self) -> None:
        gap = self._last + self.seconds - time.monotonic()
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()


def resolve_names(
    conn: Connection, client: WebClient, *, pace_seconds: float = PACE_SECONDS, limit: int = 200
) -> NamesReport:
    """Ask Slack for the people and channels the ledger has only ids for; touched conversations are rebuilt."""
    report = NamesReport()
    pacer = Pacer(pace_seconds)
    resolved: list[str] = []
    for user_id in store.users_without_names(conn, limit):
        pacer.wait()
        try:
            user: Any = client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            report.failed += 1
            if exc.response.get("error") == "user_not_found":
                store.upsert_users(
                    conn,
                    [{"user_id": user_id, "real_name": None, "display_name": None, "handle": None, "is_bot": False}],
                    source="api",
                )
            continue
        profile = user.get("profile") or {}
        store.upsert_users(
            conn,
            [
                {
                    "user_id": user_id,
                    "real_name": user.get("real_name") or profile.get("real_name") or None,
                    "display_name": profile.get("display_name") or None,
                    "handle": user.get("name") or None,
                    "is_bot": bool(user.get("is_bot")),
                }
            ],
            source="api",
        )
        resolved.append(user_id)
        report.users += 1
    if resolved:
        store.touch_conversations(conn, store.conversations_touching_users(conn, resolved))
    conn.commit()
    for channel_id in store.channels_without_names(conn, limit):
        pacer.wait()
        try:
            info: Any = client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError:
            report.failed += 1
            continue
        if info.get("is_im") and isinstance(info.get("user"), str):
            # a DM has no name: it is named after the person, as the export's DMs are
            name = "DM " + store.directory(conn).person(info["user"])
        else:
            name = info.get("name") or channel_id
        store.rename_channel(conn, channel_id, str(name))
        report.channels += 1
    conn.commit()
    return report
