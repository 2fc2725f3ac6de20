"""Events API envelopes applied to the ledger: messages, thread replies, edits (``message_changed``),
deletes (``message_deleted``), joins and leaves, and reactions. Everything is an upsert by
``(channel, ts)``, so an event seen twice, or an export replayed after live capture, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ssot_pipelines.slack import store
from ssot_pipelines.slack.model import Message, MessageError, message_from_slack
from ssot_pipelines.slack.store import Connection

CHANNEL_KINDS = {"channel": "channel", "group": "group", "im": "im", "mpim": "mpim"}
IGNORED_SUBTYPES = frozenset({"message_replied"})  # a root's reply counter changed; the reply comes on its own


@dataclass
class Pending:
    """Messages changed by one batch of events, read from the ledger once and then kept here."""

    conn: Connection
    messages: dict[tuple[str, str], Message]
    channels: dict[str, str]

    def get(self, channel_id: str, ts: str) -> Message | None:
        key = (channel_id, ts)
        if key not in self.messages:
            found = store.message(self.conn, channel_id, ts)
            if found is None:
                return None
            self.messages[key] = found
        return self.messages[key]

    def put(self, message: Message) -> None:
        self.messages[(message.channel_id, message.ts)] = message


def apply_event(pending: Pending, envelope: dict[str, Any]) -> str:
    """Apply one envelope's event to ``pending``; returns what it was (for the drain's counts)."""
    event = envelope.get("event")
    if envelope.get("type") != "event_callback" or not isinstance(event, dict):
        return "other"
    kind = event.get("type")
    if kind == "message":
        return _message_event(pending, event)
    if kind in ("reaction_added", "reaction_removed"):
        return _reaction_event(pending, event, added=kind == "reaction_added")
    return "other"


def _note_channel(pending: Pending, event: dict[str, Any], channel_id: str) -> None:
    kind = CHANNEL_KINDS.get(str(event.get("channel_type") or ""), "channel")
    pending.channels.setdefault(channel_id, kind)


def _message_event(pending: Pending, event: dict[str, Any]) -> str:
    channel_id = event.get("channel")
    if not isinstance(channel_id, str):
        return "other"
    _note_channel(pending, event, channel_id)
    subtype = event.get("subtype")
    try:
        if subtype == "message_changed":
            new = message_from_slack(event.get("message"), channel_id)
            old = pending.get(channel_id, new.ts)
            if old is not None:
                if old.text == new.text and old.files == new.files and not new.edited:
                    return "unchanged"  # reply counters and unfurls change the root without an edit
                new = replace(
                    new,
                    thread_ts=new.thread_ts or old.thread_ts,
                    reactions=new.reactions or old.reactions,
                    source_day=old.source_day,
                    edited=new.edited or old.text != new.text,
                )
            pending.put(new)
            return "edit"
        if subtype == "message_deleted":
            ts = event.get("deleted_ts")
            if not isinstance(ts, str):
                return "other"
            old = pending.get(channel_id, ts)
            if old is None:
                previous = event.get("previous_message") or {"ts": ts}
                old = message_from_slack(previous, channel_id)
            if not old.deleted:
                pending.put(old.tombstone())
            return "delete"
        if subtype in IGNORED_SUBTYPES:
            return "other"
        new = message_from_slack(event, channel_id)
    except MessageError:
        return "other"
    old = pending.get(channel_id, new.ts)
    if old is not None:
        new = replace(
            new,
            reactions=new.reactions or old.reactions,
            source_day=old.source_day,
            thread_ts=new.thread_ts or old.thread_ts,
        )
    pending.put(new)
    if new.kind == "membership":
        return "membership"
    return "reply" if new.thread_ts and new.thread_ts != new.ts else "message"


def _reaction_event(pending: Pending, event: dict[str, Any], *, added: bool) -> str:
    item = event.get("item")
    user, name = event.get("user"), event.get("reaction")
    if not (
        isinstance(item, dict) and item.get("type") == "message" and isinstance(user, str) and isinstance(name, str)
    ):
        return "other"
    old = pending.get(str(item.get("channel")), str(item.get("ts")))
    if old is None:
        return "unknown-target"
    reactions = [dict(r, users=list(r["users"])) for r in old.reactions]
    entry = next((r for r in reactions if r["name"] == name), None)
    if added:
        if entry is None:
            reactions.append({"name": name, "users": [user], "count": 1})
        elif user not in entry["users"]:
            entry["users"].append(user)
            entry["count"] = len(entry["users"])
    elif entry is not None and user in entry["users"]:
        entry["users"].remove(user)
        entry["count"] = len(entry["users"])
        if not entry["users"]:
            reactions.remove(entry)
    pending.put(replace(old, reactions=reactions))
    return "reaction"
