"""One Slack message as the ledger keeps it, read from an export line or an Events API event.

A message is identified by ``(channel_id, ts)``. Which conversation it belongs to: a thread (root and
every reply, keyed by ``thread_ts``) or, outside threads, the channel's day in ``SLACK_TIMEZONE`` (UTC
by default). Joins and leaves are kept as ``membership`` rows: counted, never shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ssot_pipelines.settings import ConfigurationError, env

MEMBERSHIP_SUBTYPES = frozenset({"channel_join", "channel_leave", "group_join", "group_leave"})
JOIN_SUBTYPES = frozenset({"channel_join", "group_join"})
TOMBSTONE_SUBTYPE = "tombstone"  # a deleted thread root kept by Slack for its replies


class MessageError(ValueError):
    """A message line that cannot be kept (no ``ts``, not an object); the import skips it with this reason."""


@dataclass(frozen=True)
class Message:
    channel_id: str
    ts: str
    thread_ts: str | None
    kind: str  # "message" or "membership"
    subtype: str | None
    user_id: str | None
    bot_name: str | None
    text: str
    edited: bool = False
    deleted: bool = False
    files: list[dict[str, str]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    source_day: str | None = None

    @property
    def ts_num(self) -> Decimal:
        return ts_number(self.ts)

    @property
    def in_thread(self) -> bool:
        return self.thread_ts is not None

    def conversation_id(self, zone: tzinfo) -> str:
        if self.thread_ts is not None:
            return thread_conversation_id(self.channel_id, self.thread_ts)
        return day_conversation_id(self.channel_id, day_of(self.ts, zone))

    def digest(self) -> str:
        """Of everything a reader sees of the message (so a re-read of the same export is unchanged)."""
        # thread_ts is not part of it: a root becomes a thread when its first reply arrives, which moves it to
        # another conversation (stored apart) without changing the message
        shown = [
            self.kind,
            self.subtype,
            self.user_id,
            self.bot_name,
            self.text,
            self.edited,
            self.deleted,
            self.files,
            self.reactions,
        ]
        return hashlib.sha256(json.dumps(shown, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()

    def tombstone(self) -> Message:
        return replace(self, deleted=True, reactions=[])


def thread_conversation_id(channel_id: str, thread_ts: str) -> str:
    return f"{channel_id}/thread/{thread_ts}"


def day_conversation_id(channel_id: str, day: date) -> str:
    return f"{channel_id}/day/{day.isoformat()}"


def ts_number(ts: str) -> Decimal:
    try:
        return Decimal(ts)
    except InvalidOperation:
        raise MessageError(f"ts {ts!r} is not a Slack timestamp") from None


def ts_datetime(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts_number(ts)), UTC)


def day_of(ts: str, zone: tzinfo) -> date:
    return ts_datetime(ts).astimezone(zone).date()


def slack_zone() -> tzinfo:
    """``SLACK_TIMEZONE`` (an IANA name such as Europe/Berlin), else UTC: where a channel's day begins."""
    name = env("SLACK_TIMEZONE")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"SLACK_TIMEZONE={name!r} is not an IANA time zone; use a name such as Europe/Berlin or unset it for UTC"
        ) from None


def _files(raw: Any) -> list[dict[str, str]]:
    out = []
    for f in raw if isinstance(raw, list) else []:
        if not isinstance(f, dict):
            continue
        name = f.get("name") or f.get("title") or f.get("id") or "file"
        link = f.get("permalink") or f.get("url_private") or f.get("url_private_download") or ""
        out.append({"name": str(name), "link": str(link)})
    return out


def _reactions(raw: Any) -> list[dict[str, Any]]:
    out = []
    for r in raw if isinstance(raw, list) else []:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            users = [str(u) for u in r.get("users") or [] if isinstance(u, str)]
            out.append({"name": r["name"], "users": users, "count": int(r.get("count") or len(users))})
    return out


def _bot_name(raw: dict[str, Any]) -> str | None:
    if not (raw.get("bot_id") or raw.get("subtype") == "bot_message"):
        return None
    profile = raw.get("bot_profile")
    for candidate in (raw.get("username"), profile.get("name") if isinstance(profile, dict) else None):
        if isinstance(candidate, str) and candidate:
            return candidate
    return str(raw.get("bot_id") or "bot")


def message_from_slack(raw: Any, channel_id: str, *, source_day: str | None = None) -> Message:
    """The ledger's message for one Slack message object (export line or an event's ``message``)."""
    if not isinstance(raw, dict):
        raise MessageError("not a JSON object")
    ts = raw.get("ts")
    if not isinstance(ts, str) or not ts:
        raise MessageError("no ts")
    ts_number(ts)
    subtype = raw.get("subtype") if isinstance(raw.get("subtype"), str) else None
    thread_ts = raw.get("thread_ts") if isinstance(raw.get("thread_ts"), str) else None
    if thread_ts == ts and not (raw.get("reply_count") or raw.get("replies") or raw.get("latest_reply")):
        # Slack sets thread_ts on a root only once it has replies; a stray one does not make a thread
        thread_ts = None if subtype != TOMBSTONE_SUBTYPE else ts
    text = raw.get("text")
    user = raw.get("user") if isinstance(raw.get("user"), str) else None
    return Message(
        channel_id=channel_id,
        ts=ts,
        thread_ts=thread_ts,
        kind="membership" if subtype in MEMBERSHIP_SUBTYPES else "message",
        subtype=subtype,
        user_id=user,
        bot_name=_bot_name(raw),
        text=text if isinstance(text, str) else "",
        edited=isinstance(raw.get("edited"), dict),
        deleted=subtype == TOMBSTONE_SUBTYPE,
        files=_files(raw.get("files")),
        reactions=_reactions(raw.get("reactions")),
        source_day=source_day,
    )
