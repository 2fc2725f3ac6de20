"""Generated Slack workspace exports (folder or zip) and signed Events API requests for the Slack tests."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_sdk.signature import SignatureVerifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # a test signing secret, as in Slack's docs

USERS = [
    {"id": "U01ALICE", "name": "alice", "real_name": "Alice Example", "profile": {"display_name": "ali"}},
    {"id": "U02BOB", "name": "bob", "real_name": "", "profile": {"display_name": "bobby"}},
    {"id": "U03CAROL", "name": "carol", "profile": {}},
    {"id": "U04BOT", "name": "deploybot", "is_bot": True, "real_name": "Deploy Bot", "profile": {}},
]


def ts_at(iso: str, micro: int = 0) -> str:
    """The Slack ts of a UTC time ("2026-07-01T10:00:00")."""
    seconds = int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())
    return f"{seconds}.{micro:06d}"


def msg(user: str, text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": ts, **extra}


@dataclass
class Export:
    """An export being written: top-level lists and day files by (folder, day)."""

    users: list[dict[str, Any]] = field(default_factory=lambda: [dict(u) for u in USERS])
    channels: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] | None = None
    dms: list[dict[str, Any]] | None = None
    mpims: list[dict[str, Any]] | None = None
    days: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    raw_files: dict[str, bytes] = field(default_factory=dict)

    def add(self, folder: str, day: str, messages: Iterable[dict[str, Any]]) -> None:
        self.days.setdefault((folder, day), []).extend(messages)

    def files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        if self.users is not None:
            out["users.json"] = json.dumps(self.users).encode()
        out["channels.json"] = json.dumps(self.channels).encode()
        for name, value in (("groups.json", self.groups), ("dms.json", self.dms), ("mpims.json", self.mpims)):
            if value is not None:
                out[name] = json.dumps(value).encode()
        for (folder, day), messages in self.days.items():
            out[f"{folder}/{day}.json"] = json.dumps(messages, ensure_ascii=False, indent=1).encode()
        out.update(self.raw_files)
        return out

    def write_folder(self, path: Path) -> Path:
        for name, data in self.files().items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return path

    def write_zip(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in self.files().items():
                zf.writestr(name, data)
        return path


ROOT = ts_at("2026-07-01T09:00:00", 100)
REPLY_1 = ts_at("2026-07-01T09:05:00", 200)
REPLY_2 = ts_at("2026-07-02T08:00:00", 300)  # in the next day's file
REPLY_3 = ts_at("2026-07-02T07:30:00", 400)  # earlier than REPLY_2 but after it in the file
PLAIN = ts_at("2026-07-01T10:00:00", 500)
EDITED = ts_at("2026-07-01T10:01:00", 600)
BOT = ts_at("2026-07-01T10:02:00", 700)
FILE = ts_at("2026-07-01T10:03:00", 800)
JOIN = ts_at("2026-07-01T08:00:00", 900)
LATE = ts_at("2026-07-01T23:30:00", 1000)  # 2026-07-02 in Tokyo
DM = ts_at("2026-07-01T11:00:00", 1100)
MPIM = ts_at("2026-07-01T12:00:00", 1200)
PRIVATE = ts_at("2026-07-01T13:00:00", 1300)

EXPECTED_TEXT = {
    ROOT: "Deploy of v2 is starting",
    REPLY_1: "first reply from bobby",
    REPLY_2: "third in time, second in the file",
    REPLY_3: "second in time 🎉",
    PLAIN: "@Alice Example see #eng and the docs (https://example.com/docs) & <this>",
    EDITED: "fixed typo, final text",
    BOT: "build 1234 passed :white_check_mark:",
    FILE: "here is the log",
    LATE: "late night note",
    DM: "🎉 shipped :rocket: — thanks!",
    MPIM: "group chat about the offsite",
    PRIVATE: "secret ops plan",
}


def sample_export() -> Export:
    """Threads across day files, edits, a bot, a file share, a join, mentions, emoji, a DM, a group DM."""
    export = Export(
        channels=[{"id": "C01ENG", "name": "eng", "members": ["U01ALICE", "U02BOB", "U03CAROL"]}],
        groups=[{"id": "G01OPS", "name": "secret-ops", "members": ["U01ALICE"]}],
        dms=[{"id": "D01AB", "members": ["U01ALICE", "U02BOB"]}],
        mpims=[{"id": "G02MP", "name": "mpdm-alice--bob--carol-1", "members": ["U01ALICE", "U02BOB", "U03CAROL"]}],
    )
    export.add(
        "eng",
        "2026-07-01",
        [
            msg("U03CAROL", "<@U03CAROL> has joined the channel", JOIN, subtype="channel_join"),
            msg(
                "U01ALICE",
                "Deploy of v2 is starting",
                ROOT,
                thread_ts=ROOT,
                reply_count=3,
                reactions=[{"name": "tada", "users": ["U02BOB", "U03CAROL"], "count": 2}],
            ),
            msg("U02BOB", "first reply from bobby", REPLY_1, thread_ts=ROOT, parent_user_id="U01ALICE"),
            msg(
                "U02BOB",
                "<@U01ALICE> see <#C01ENG|eng> and <https://example.com/docs|the docs> &amp; &lt;this&gt;",
                PLAIN,
            ),
            msg("U03CAROL", "fixed typo, final text", EDITED, edited={"user": "U03CAROL", "ts": PLAIN}),
            {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": "B01",
                "username": "deploybot",
                "text": "build 1234 passed :white_check_mark:",
                "ts": BOT,
            },
            msg(
                "U01ALICE",
                "here is the log",
                FILE,
                files=[{"id": "F01", "name": "deploy.log", "permalink": "https://files.example/F01/deploy.log"}],
            ),
            msg("U01ALICE", "late night note", LATE),
        ],
    )
    export.add(
        "eng",
        "2026-07-02",
        [
            msg("U01ALICE", "third in time, second in the file", REPLY_2, thread_ts=ROOT, parent_user_id="U01ALICE"),
            msg("U03CAROL", "second in time 🎉", REPLY_3, thread_ts=ROOT, parent_user_id="U01ALICE"),
        ],
    )
    export.add("D01AB", "2026-07-01", [msg("U01ALICE", "🎉 shipped :rocket: — thanks!", DM)])
    export.add("mpdm-alice--bob--carol-1", "2026-07-01", [msg("U02BOB", "group chat about the offsite", MPIM)])
    export.add("secret-ops", "2026-07-01", [msg("U01ALICE", "secret ops plan", PRIVATE)])
    return export


def signed_headers(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None, retry: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def envelope(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": "T01",
        "api_app_id": "A01",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }


class SlackApiStandIn:
    """A local stand-in for the Slack Web API methods we call (``users.info``, ``conversations.info``,
    ``chat.postMessage``), speaking Slack's HTTP protocol so ``slack_sdk.WebClient`` drives it unchanged:
    bearer token, GET query or POST form/JSON arguments, ``{"ok": …}`` answers, 429 with Retry-After."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        users: dict[str, dict[str, Any]] | None = None,
        channels: dict[str, str] | None = None,
        dms: dict[str, str] | None = None,
        rate_limit_first: bool = False,
    ) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.token = token
        self.users = users or {}
        self.channels = channels or {}
        self.dms = dms or {}  # DM channel id -> the other person's user id
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.posted: list[dict[str, Any]] = []
        self._limited = rate_limit_first
        self._counter = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def _args(self) -> dict[str, Any]:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    query.update(json.loads(raw))
                elif raw:
                    query.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                return query

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                method = urlsplit(self.path).path.rsplit("/", 1)[-1]
                args = self._args()
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    self._send(200, {"ok": False, "error": "invalid_auth"})
                    return
                outer.calls.append((method, args))
                if outer._limited:
                    outer._limited = False
                    self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
                    return
                self._send(200, outer.answer(method, args))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "conversations.info":
            dm_user = self.dms.get(str(args.get("channel")))
            if dm_user:
                return {"ok": True, "channel": {"id": args["channel"], "is_im": True, "user": dm_user}}
            name = self.channels.get(str(args.get("channel")))
            return (
                {"ok": True, "channel": {"id": args["channel"], "name": name}}
                if name
                else {"ok": False, "error": "channel_not_found"}
            )
        if method == "chat.postMessage":
            self._counter += 1
            ts = f"{int(time.time())}.{self._counter:06d}"
            message = {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": "B0SSOT",
                "username": "ssot",
                "text": args.get("text", ""),
                "ts": ts,
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            self.posted.append({"channel": args.get("channel"), **message})
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}
        return {"ok": False, "error": "unknown_method"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
