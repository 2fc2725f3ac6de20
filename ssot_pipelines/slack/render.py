"""Readable text of Slack messages: mentions, channel references and links as names and text, and the
conversation body (every message in order with speaker, time, text, files and reactions, never cut)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from ssot_pipelines.slack.model import Message, ts_datetime

_ANGLE = re.compile(r"<([^<>\s][^<>]*)>")


@dataclass(frozen=True)
class Directory:
    """Who is who: people's names by user id, channel names by channel id."""

    people: Mapping[str, str]
    channels: Mapping[str, str]

    def person(self, user_id: str | None) -> str:
        if not user_id:
            return "unknown"
        return self.people.get(user_id) or user_id


def person_name(real_name: str | None, display_name: str | None, handle: str | None) -> str | None:
    """Real name, else display name, else the handle."""
    for candidate in (real_name, display_name, handle):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def render_text(text: str, directory: Directory) -> str:
    """Slack mrkdwn with ``<@U…>``, ``<#C…|name>``, ``<url|text>`` and ``<!here>`` written as people read them."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + directory.person(target[1:])
        if target.startswith("#"):
            return "#" + (directory.channels.get(target[1:]) or label or target[1:])
        if target.startswith("!"):
            command = target[1:]
            if label:
                return label
            if command.startswith("subteam^"):
                return "@" + command.split("^", 1)[1]
            return "@" + command
        if label:
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    if "<" not in text and "&" not in text:
        return text
    # Slack escapes exactly these three; any other "&…" is literal text
    return _ANGLE.sub(one, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def speaker(message: Message, directory: Directory) -> str:
    if message.bot_name:
        return f"{message.bot_name} (bot)"
    return directory.person(message.user_id)


def when(message: Message, zone: tzinfo) -> str:
    moment = ts_datetime(message.ts).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "UTC")


def message_paragraph(message: Message, directory: Directory, zone: tzinfo) -> str:
    """One message: ``**Speaker** · time`` then its text, files and reactions."""
    head = f"**{speaker(message, directory)}** · {when(message, zone)}"
    if message.edited and not message.deleted:
        head += " · edited"
    if message.thread_ts and message.thread_ts != message.ts:
        head += " · reply"
    lines = [head]
    if message.deleted:
        lines.append("(message deleted)")
    else:
        if message.text:
            lines.append(render_text(message.text, directory))
        lines += [f"📎 {f['name']}" + (f" ({f['link']})" if f["link"] else "") for f in message.files]
        if message.reactions:
            lines.append(
                "Reactions: "
                + " · ".join(
                    f":{r['name']}: " + ", ".join(directory.person(u) for u in r["users"]) for r in message.reactions
                )
            )
    return "\n".join(lines)


def body(messages: Sequence[Message], directory: Directory, zone: tzinfo) -> str:
    """The conversation's page body: shown messages in order, then how many joined or left."""
    shown = [m for m in messages if m.kind == "message"]
    paragraphs = [message_paragraph(m, directory, zone) for m in shown]
    joins = sum(1 for m in messages if m.kind == "membership" and (m.subtype or "").endswith("_join"))
    leaves = sum(1 for m in messages if m.kind == "membership" and not (m.subtype or "").endswith("_join"))
    if joins or leaves:
        paragraphs.append(f"({joins} joined, {leaves} left)")
    return "\n\n".join(paragraphs)


def summary_line(text: str, limit: int = 80) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= limit else first[: limit - 1] + "…"
