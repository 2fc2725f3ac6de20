"""``ssot notion webhook serve``: Notion's webhook endpoint (notion-2026.md §4).

The first POST of a new subscription is the handshake ``{"verification_token": ...}``: the token is stored
(mode 0600 under SSOT_HOME) and is the HMAC key of every later delivery. Each event must carry
``X-Notion-Signature: sha256=<hex>`` = HMAC-SHA256(token, raw body); anything else is refused with 401 and
never journalled. An accepted event is appended to the journal and fsynced *before* the 200 goes back, so an
acknowledged event survives a crash; the drain (``drain.py``) then pulls the page it names. Nothing slow
happens before the acknowledgement.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ssot_pipelines.services.seen_events import SeenEvents

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Notion's events are well under a few KB
TOKEN_FILE = "notion-webhook-token"
JOURNAL_FILE = "events.jsonl"


def signature_ok(raw: bytes, header: str | None, token: str) -> bool:
    """Whether ``header`` is ``sha256=`` + the HMAC-SHA256 of ``raw`` keyed by ``token`` (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    mine = hmac.new(token.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mine, header[7:].strip().lower())


class TokenStore:
    """The verification token in a private file (0600). Written once: a later handshake with another
    token is refused, so nobody can swap the HMAC key by posting a handshake of their own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def set_once(self, token: str) -> bool:
        """Store ``token`` if none is stored; False when another token is already there."""
        with self._lock:
            current = self.get()
            if current is not None:
                return hmac.compare_digest(current, token)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(token + "\n")
                out.flush()
                os.fsync(out.fileno())
            return True


class Journal:
    """Append-only JSON lines, each fsynced before ``append`` returns."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / JOURNAL_FILE
        self._lock = threading.Lock()

    def append(self, raw: bytes, received_at: float) -> None:
        line = json.dumps({"received_at": received_at, "body": raw.decode("utf-8")}, ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[tuple[float, str]]:
        """Every complete entry, oldest first (a torn last line from a crash is skipped)."""
        if not self.path.exists():
            return []
        out: list[tuple[float, str]] = []
        for line in self.path.read_bytes().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                out.append((float(entry["received_at"]), str(entry["body"])))
        return out


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], tokens: TokenStore, journal: Journal, on_event: Callable[[float, str], None]
    ) -> None:
        super().__init__(address, WebhookHandler)
        self.tokens = tokens
        self.journal = journal
        self.on_event = on_event
        self.seen = SeenEvents()
        self.counts: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._count_lock:
            self.counts[what] = self.counts.get(what, 0) + 1


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(200, {"ok": True, "counts": dict(self.server.counts)})

    def do_POST(self) -> None:
        server = self.server
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            server.count("refused")
            self._reply(413, {"ok": False, "error": "body too large or without Content-Length"})
            return
        raw = self.rfile.read(length)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            server.count("refused")
            self._reply(400, {"ok": False, "error": "the body is not a JSON object"})
            return
        if "verification_token" in payload and "type" not in payload:
            self._handshake(str(payload.get("verification_token") or ""))
            return
        token = server.tokens.get()
        if token is None:
            server.count("refused")
            self._reply(503, {"ok": False, "error": "no verification token yet: create the subscription first"})
            return
        if not signature_ok(raw, self.headers.get("X-Notion-Signature"), token):
            server.count("forged")
            log.warning("refused a Notion webhook with a missing or wrong X-Notion-Signature")
            self._reply(401, {"ok": False, "error": "bad X-Notion-Signature"})
            return
        event_id = str(payload.get("id") or "")
        if not event_id or not payload.get("type"):
            server.count("refused")
            self._reply(400, {"ok": False, "error": "an event needs 'id' and 'type'"})
            return
        if server.seen.add(event_id):
            received = time.time()
            server.journal.append(raw, received)  # fsynced before the acknowledgement
            server.count("journalled")
            server.on_event(received, raw.decode("utf-8"))
        else:
            server.count("duplicate")
        self._reply(200, {"ok": True})

    def _handshake(self, token: str) -> None:
        server = self.server
        if not token:
            self._reply(400, {"ok": False, "error": "empty verification_token"})
            return
        if server.tokens.set_once(token):
            server.count("handshake")
            log.warning(
                "Notion webhook verification token stored in %s: paste it into the connection's "
                "Webhooks tab to verify the subscription",
                server.tokens.path,
            )
            self._reply(200, {"ok": True})
        else:
            server.count("refused")
            log.warning(
                "refused a webhook handshake: another verification token is already stored in %s "
                "(delete that file to subscribe anew)",
                server.tokens.path,
            )
            self._reply(409, {"ok": False, "error": "a verification token is already stored"})


def make_server(host: str, port: int, directory: Path, on_event: Callable[[float, str], None]) -> WebhookServer:
    """A bound server (``port`` 0 picks a free one) keeping its token and journal in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return WebhookServer((host, port), TokenStore(directory / TOKEN_FILE), Journal(directory), on_event)
