"""A local stand-in for the part of Slack's Web API the task threads use, speaking Slack's HTTP protocol.

Driven through the real slack-sdk ``WebClient`` (``base_url`` pointed here). Methods: ``auth.test``,
``chat.postMessage`` (JSON body, ``thread_ts``, ``metadata``), ``conversations.history`` and
``conversations.replies`` (query or form parameters, ``include_all_metadata``, cursor paging),
``reactions.add``. Like Slack: every call needs a known Bearer token (``invalid_auth`` otherwise), answers
HTTP 200 with ``{"ok": false, "error": …}`` for API errors, 429 with ``Retry-After`` when rate limited.
What people do (a reaction, a thread reply with a user token) is also recorded as the Events API
envelope Slack would deliver, for the receiver side. Faults: ``fail_after_store`` answers 500 after
storing the message (the lost-answer case), ``rate_limit_next`` answers 429 without storing.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Identity:
    user_id: str
    bot_id: str | None
    name: str


@dataclass
class SlackStandIn:
    tokens: dict[str, Identity]
    channels: tuple[str, ...] = ("C0TASKS",)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    post_times: list[float] = field(default_factory=list)
    fail_after_store: int = 0
    rate_limit_next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                parsed = urlparse(self.path)
                params: dict[str, Any] = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw))
                elif raw:
                    params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ").strip() or params.get("token", "")
                status, body, headers = standin.call(parsed.path.rsplit("/", 1)[-1], token, params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- the API ----------------------------------------------------------------------------------------

    def call(self, method: str, token: str, p: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        who = self.tokens.get(token)
        if who is None:
            return 200, {"ok": False, "error": "invalid_auth" if token else "not_authed"}, {}
        with self._lock:
            if method == "auth.test":
                return (
                    200,
                    {"ok": True, "user_id": who.user_id, "bot_id": who.bot_id, "user": who.name, "team_id": "T0001"},
                    {},
                )
            if method == "chat.postMessage":
                return self._post(who, p)
            if method in ("conversations.history", "conversations.replies"):
                return self._read(method, p)
            if method == "reactions.add":
                return self._react(who, p)
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _post(self, who: Identity, p: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        channel = p.get("channel")
        if channel not in self.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if not p.get("text") and not p.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, {}
        thread_ts = p.get("thread_ts")
        history = self.messages.setdefault(channel, [])
        if thread_ts and not any(m["ts"] == thread_ts for m in history):
            return 200, {"ok": False, "error": "thread_not_found"}, {}
        ts = f"{1_760_000_000 + next(self._clock)}.{uuid.uuid4().int % 1_000_000:06d}"
        message: dict[str, Any] = {"type": "message", "user": who.user_id, "text": p["text"], "ts": ts}
        if who.bot_id:
            message["bot_id"] = who.bot_id
        if thread_ts:
            message["thread_ts"] = thread_ts
        if isinstance(p.get("metadata"), dict):
            message["metadata"] = p["metadata"]
        history.append(message)
        self.post_times.append(time.monotonic())
        if not who.bot_id:
            self._event(
                {
                    "type": "message",
                    "channel": channel,
                    "user": who.user_id,
                    "text": p["text"],
                    "ts": ts,
                    "channel_type": "channel",
                    **({"thread_ts": thread_ts} if thread_ts else {}),
                }
            )
        if self.fail_after_store > 0:
            self.fail_after_store -= 1
            return 500, {"ok": False, "error": "internal_error"}, {}
        public = {k: v for k, v in message.items() if k != "metadata"}
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": public}, {}

    def _read(self, method: str, p: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = p.get("channel")
        if channel not in self.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        history = self.messages.get(channel, [])
        if method == "conversations.replies":
            ts = p.get("ts")
            if not any(m["ts"] == ts for m in history):
                return 200, {"ok": False, "error": "thread_not_found"}, {}
            found = [m for m in history if m["ts"] == ts or m.get("thread_ts") == ts]
        else:
            found = [m for m in reversed(history) if "thread_ts" not in m or m["thread_ts"] == m["ts"]]
        with_meta = str(p.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(p.get("limit") or 100)
        start = int(p.get("cursor") or 0)
        page = found[start : start + limit]
        out = [m if with_meta else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        return (
            200,
            {
                "ok": True,
                "messages": out,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            },
            {},
        )

    def _react(self, who: Identity, p: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel, ts, name = p.get("channel"), p.get("timestamp"), p.get("name")
        target = next((m for m in self.messages.get(str(channel), []) if m["ts"] == ts), None)
        if target is None:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        reactions = target.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry and who.user_id in entry["users"]:
            return 200, {"ok": False, "error": "already_reacted"}, {}
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        entry["users"].append(who.user_id)
        entry["count"] += 1
        self._event(
            {
                "type": "reaction_added",
                "user": who.user_id,
                "reaction": name,
                "item": {"type": "message", "channel": channel, "ts": ts},
                "item_user": target["user"],
                "event_ts": f"{time.time():.6f}",
            }
        )
        return 200, {"ok": True}, {}

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(
            {
                "token": "verification-token-unused",
                "team_id": "T0001",
                "api_app_id": "A0TASKS",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": True}],
            }
        )

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            history = self.messages.get(channel, [])
            return [m for m in history if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
