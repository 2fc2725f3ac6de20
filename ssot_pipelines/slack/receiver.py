"""``ssot slack serve``: the Events API endpoint at ``/slack/events``.

Each request is checked against ``SLACK_SIGNING_SECRET`` over its raw body (``v0`` HMAC-SHA256; older
than 5 minutes is refused), URL-verification challenges are answered, and every event is journalled
with fsync *before* the 200 goes back, so an acknowledged event survives a crash. Slack's retries
(``X-Slack-Retry-Num``) of an event already journalled are acknowledged without writing it again; the
drain de-duplicates by ``event_id`` as well, across restarts. Nothing slow happens before the ack.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from slack_sdk.signature import SignatureVerifier

from ssot_pipelines.services.seen_events import SeenEvents
from ssot_pipelines.sessions import journal
from ssot_pipelines.slack.capture import journal_record

log = logging.getLogger(__name__)

PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's events are a few KB; anything this big is not from Slack


class EventsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], signing_secret: str, journal_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(address, EventsHandler)
        self.verifier = SignatureVerifier(signing_secret)
        self.journal_dir = journal_dir
        self.seen = SeenEvents()
        self.clock = clock
        self.counts: dict[str, int] = {}

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


class EventsHandler(BaseHTTPRequestHandler):
    server: EventsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("slack events: " + format, *args)

    def _reply(
        self, status: int, body: bytes = b"", content_type: str = "text/plain", *, no_retry: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if no_retry:
            self.send_header("X-Slack-No-Retry", "1")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, b"ok")
        else:
            self._reply(404, b"not found")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != PATH:
            self._reply(404, b"not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.server.count("refused")
            self.close_connection = True  # the unread body must not be parsed as the next request
            self._reply(413, b"body too large", no_retry=True)
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        timestamp = headers.get("x-slack-request-timestamp", "")
        if not timestamp.isdigit() or abs(self.server.clock() - int(timestamp)) > 300:
            self.server.count("stale")
            self._reply(401, b"stale or missing X-Slack-Request-Timestamp")
            return
        if not self.server.verifier.is_valid(body, timestamp, headers.get("x-slack-signature", "")):
            self.server.count("bad_signature")
            self._reply(401, b"invalid X-Slack-Signature")
            return
        try:
            envelope = json.loads(body)
        except ValueError:
            self.server.count("refused")
            self._reply(400, b"body is not JSON", no_retry=True)
            return
        if not isinstance(envelope, dict):
            self._reply(400, b"body is not a JSON object", no_retry=True)
            return
        if envelope.get("type") == "url_verification":
            self.server.count("challenge")
            answer = json.dumps({"challenge": envelope.get("challenge", "")}).encode()
            self._reply(200, answer, "application/json")
            return
        event_id = envelope.get("event_id") if isinstance(envelope.get("event_id"), str) else None
        if event_id and not self.server.seen.add(event_id):
            self.server.count("retry_skipped")
            self._reply(200, b"")
            return
        try:
            journal.append(journal_record(body, event_id), self.server.journal_dir)
        except OSError as exc:
            # Not acknowledged: Slack retries, and nothing was lost.
            if event_id:
                self.server.seen.forget(event_id)
            log.error("slack events: journal write failed: %s", exc)
            self.server.count("journal_failed")
            self._reply(500, b"journal write failed")
            return
        self.server.count("journalled")
        self._reply(200, b"")


def make_server(host: str, port: int, signing_secret: str, journal_dir: Path) -> EventsServer:
    """A bound server (``port`` 0 picks a free one); run it with ``serve_forever()``."""
    journal_dir.mkdir(parents=True, exist_ok=True)
    return EventsServer((host, port), signing_secret, journal_dir)
