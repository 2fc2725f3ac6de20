"""Webhook deliveries from the sandbox, shaped and signed as Notion's (notion-2026.md §4).

A subscription is registered through the control endpoint ``POST /__sandbox/webhooks`` with the endpoint URL
and the verification token to use. Like Notion, the sandbox first POSTs the one-time handshake body
``{"verification_token": ...}``; every later event is signed ``X-Notion-Signature: sha256=<hex>`` =
HMAC-SHA256(key = verification token, message = the raw body). Events carry ids and never values. Writes made
through ``/__sandbox/person/v1/...`` are attributed to a person; ordinary API writes to the integration's bot
(Notion also sends events for an integration's own writes). Deliveries run on a background thread and are
retried, at most 8 attempts (``attempt_number`` 1-8), so a request is never slowed by a slow endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ATTEMPTS = 8
API_VERSION = "2025-09-03"


def sign(raw: bytes, verification_token: str) -> str:
    """The ``X-Notion-Signature`` header value for ``raw``."""
    return "sha256=" + hmac.new(verification_token.encode(), raw, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    verification_token: str


class WebhookDeliverer:
    """Registered subscriptions and the thread that delivers their events."""

    def __init__(self, workspace_id: str, bot_user_id: str) -> None:
        self.workspace_id = workspace_id
        self.bot_user_id = bot_user_id
        self.person_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-person:{workspace_id}"))
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Subscription, bytes, bool] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def register(self, url: str, verification_token: str) -> Subscription:
        """Subscribe ``url`` and send it the handshake (asynchronously)."""
        if not url.startswith(("http://", "https://")) or not verification_token:
            raise ValueError("a webhook needs an http(s) 'url' and a non-empty 'verification_token'")
        sub = Subscription(str(uuid.uuid4()), url, verification_token)
        with self._lock:
            self._subs.append(sub)
        self._send(sub, json.dumps({"verification_token": verification_token}).encode(), signed=False)
        return sub

    def clear(self) -> None:
        with self._lock:
            self._subs.clear()

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subs)

    def page_event(
        self, event_type: str, page: dict[str, Any], *, person: bool, updated_properties: list[str] | None = None
    ) -> None:
        """Queue ``event_type`` about ``page`` (a rendered page) for every subscription."""
        subs = self.subscriptions()
        if not subs:
            return
        parent_raw = page.get("parent") or {}
        parent: dict[str, Any]
        if parent_raw.get("data_source_id"):
            parent = {
                "id": parent_raw.get("database_id") or parent_raw["data_source_id"],
                "type": "database",
                "data_source_id": parent_raw["data_source_id"],
            }
        else:
            parent = {"id": parent_raw.get("page_id") or "", "type": "page"}
        data: dict[str, Any] = {"parent": parent}
        if updated_properties is not None:
            data["updated_properties"] = updated_properties
        author = {"id": self.person_id, "type": "person"} if person else {"id": self.bot_user_id, "type": "bot"}
        for sub in subs:
            event = {
                "id": str(uuid.uuid4()),
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "type": event_type,
                "workspace_id": self.workspace_id,
                "workspace_name": "Sandbox",
                "subscription_id": sub.id,
                "integration_id": self.bot_user_id,
                "authors": [author],
                "attempt_number": 1,
                "api_version": API_VERSION,
                "entity": {"id": page["id"], "type": "page"},
                "data": data,
            }
            self._send(sub, json.dumps(event).encode(), signed=True)

    def _send(self, sub: Subscription, raw: bytes, signed: bool) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((sub, raw, signed))

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            sub, raw, signed = job
            for attempt in range(1, MAX_ATTEMPTS + 1):
                body = raw
                if signed and attempt > 1:
                    event = json.loads(raw)
                    event["attempt_number"] = attempt
                    body = json.dumps(event).encode()
                headers = {"Content-Type": "application/json", "User-Agent": "notion-api"}
                if signed:
                    headers["X-Notion-Signature"] = sign(body, sub.verification_token)
                try:
                    with urllib.request.urlopen(
                        urllib.request.Request(sub.url, data=body, headers=headers, method="POST"), timeout=10
                    ) as res:
                        if 200 <= res.status < 300:
                            self.delivered += 1
                            break
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(min(0.2 * 2**attempt, 5.0))
            else:
                self.failed += 1

    def stop(self) -> None:
        self._queue.put(None)
