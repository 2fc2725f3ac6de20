"""Reading a standard Slack workspace export, as a zip or an unpacked folder.

Top-level lists (``channels.json``, ``groups.json``, ``dms.json``, ``mpims.json``, ``users.json``) are
read whole (they are small); day files (``<channel folder>/YYYY-MM-DD.json``) are read one at a time,
so memory stays flat however many days the export holds. Channels' folders are named by channel name,
DMs' by their id. Any unreadable file is an :class:`ExportError` that names it.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

LISTS = (("channels.json", "channel"), ("groups.json", "group"), ("dms.json", "im"), ("mpims.json", "mpim"))
USERS_FILES = ("users.json", "org_users.json")  # org_users.json on Enterprise Grid
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


class ExportError(ValueError):
    """The export cannot be imported; the message names the file and what to do. Nothing was applied."""


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    kind: str
    members: list[str]
    folder: str


@dataclass
class DayFile:
    channel: Channel
    day: str  # YYYY-MM-DD, as the file is named
    name: str  # the path inside the export, for messages and errors


@dataclass
class ExportContents:
    channels: list[Channel]
    users: list[dict[str, Any]]
    day_files: list[DayFile]
    skipped: list[str] = field(default_factory=list)  # files and folders not read, each with the reason


class ExportSource:
    """Files of an export by their path inside it ("eng/2026-07-01.json"), from a zip or a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if path.is_dir():
            names = [p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()]
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ExportError(
                    f"{path}: not a complete zip archive ({exc}); download the export again, or "
                    "give the unpacked folder"
                ) from None
            names = [n for n in self._zip.namelist() if n.endswith(".json")]
        else:
            raise ExportError(f"{path}: no such file or folder; give the export's .zip or its unpacked folder")
        # A zip made from the folder may wrap everything in one top folder.
        tops = [n[: -len(u)] for n in names for u in USERS_FILES if n == u or n.endswith("/" + u)]
        if tops and "" not in tops and len(set(tops)) == 1:
            self.prefix = tops[0]
        self.names = sorted(n[len(self.prefix) :] for n in names if n.startswith(self.prefix))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def describe(self, name: str) -> str:
        return f"{self.path}:{self.prefix}{name}" if self._zip is not None else str(self.path / self.prefix / name)

    def read_json(self, name: str) -> Any:
        try:
            if self._zip is not None:
                data = self._zip.read(self.prefix + name)
            else:
                data = (self.path / self.prefix / name).read_bytes()
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
            raise ExportError(
                f"{self.describe(name)}: cannot be read ({exc}); the export is damaged, download it again"
            ) from None
        try:
            return json.loads(data)
        except UnicodeDecodeError as exc:
            raise ExportError(f"{self.describe(name)}: not UTF-8 ({exc}); nothing was imported") from None
        except json.JSONDecodeError as exc:
            raise ExportError(f"{self.describe(name)}: not valid JSON ({exc}); nothing was imported") from None


def _objects(source: ExportSource, name: str) -> list[dict[str, Any]]:
    data = source.read_json(name)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ExportError(f"{source.describe(name)}: expected a JSON array of objects; nothing was imported")
    return data


def _user(raw: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(raw.get("id"), str):
        return None
    profile = raw.get("profile") if isinstance(raw.get("profile"), dict) else {}
    assert isinstance(profile, dict)
    return {
        "user_id": raw["id"],
        "real_name": raw.get("real_name") or profile.get("real_name") or None,
        "display_name": profile.get("display_name") or None,
        "handle": raw.get("name") or None,
        "is_bot": bool(raw.get("is_bot")),
    }


def _channel(raw: dict[str, Any], kind: str, people: dict[str, str]) -> Channel | None:
    channel_id = raw.get("id")
    if not isinstance(channel_id, str):
        return None
    members = [m for m in raw.get("members") or [] if isinstance(m, str)]
    if kind == "im":
        user = raw.get("user") if isinstance(raw.get("user"), str) else None
        members = members or ([user] if user else [])
        name = "DM " + " & ".join(people.get(m, m) for m in members) if members else f"DM {channel_id}"
        return Channel(channel_id, name, kind, members, channel_id)
    name = str(raw.get("name") or channel_id)
    shown = "Group DM " + " & ".join(people.get(m, m) for m in members) if kind == "mpim" and members else name
    return Channel(channel_id, shown, kind, members, name)


def read_export(source: ExportSource) -> ExportContents:
    """The export's channels, people and day files (their messages are read later, one file at a time)."""
    users_file = next((u for u in USERS_FILES if u in source.names), None)
    if users_file is None:
        raise ExportError(
            f"{source.describe('users.json')}: missing; a standard Slack export has users.json at its "
            "top level (people's names come from it). Nothing was imported."
        )
    users = [u for u in (_user(r) for r in _objects(source, users_file)) if u]
    people = {u["user_id"]: (u["real_name"] or u["display_name"] or u["handle"] or u["user_id"]) for u in users}
    channels: list[Channel] = []
    for list_name, kind in LISTS:
        if list_name in source.names:
            channels += [c for c in (_channel(r, kind, people) for r in _objects(source, list_name)) if c]
    if not channels:
        raise ExportError(
            f"{source.describe('channels.json')}: no channels.json, groups.json, dms.json or "
            "mpims.json with any channel; is this a Slack workspace export?"
        )
    by_folder = {c.folder: c for c in channels} | {c.channel_id: c for c in channels}
    contents = ExportContents(channels=channels, users=users, day_files=[])
    unknown_folders: set[str] = set()
    for name in source.names:
        path = PurePosixPath(name)
        if len(path.parts) == 1:
            known = {n for n, _ in LISTS} | set(USERS_FILES)
            if name not in known:
                contents.skipped.append(
                    f"{name}: not a conversation file (only channels, people and messages are imported)"
                )
            continue
        folder = path.parts[0]
        if len(path.parts) != 2 or not _DAY_FILE.match(path.name):
            contents.skipped.append(f"{name}: not a day file (<channel>/YYYY-MM-DD.json)")
            continue
        channel = by_folder.get(folder)
        if channel is None:
            unknown_folders.add(folder)
            continue
        contents.day_files.append(DayFile(channel, path.stem, name))
    for folder in sorted(unknown_folders):
        contents.skipped.append(
            f"{folder}/: a folder no channel list names (channels.json, groups.json, dms.json, "
            "mpims.json), so its channel is unknown"
        )
    return contents


def day_messages(source: ExportSource, day_file: DayFile) -> Iterator[tuple[int, Any]]:
    """(position, message object) of one day file."""
    data = source.read_json(day_file.name)
    if not isinstance(data, list):
        raise ExportError(f"{source.describe(day_file.name)}: expected a JSON array of messages; nothing was imported")
    yield from enumerate(data, 1)
