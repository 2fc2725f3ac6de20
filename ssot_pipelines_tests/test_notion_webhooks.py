"""``ssot notion webhook serve`` as a real process: the handshake, X-Notion-Signature over the raw body, a
forged event refused, and a person's edit in the sandbox pulled into the ledger within seconds through the
sandbox's signed webhook deliveries."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notion_client import Client

from ssot_pipelines.sandbox.webhooks import sign
from ssot_pipelines.webhooks.receiver import signature_ok
from ssot_pipelines_tests.notion_helpers import frame, sync_manager
from ssot_pipelines_tests.test_sync_engine import file_row

REPO = Path(__file__).resolve().parents[1]
TOKEN = "secret_" + uuid.uuid4().hex  # what Notion's handshake would carry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, home: Path, sandbox: Any, ledger_url: str, redis_url: str) -> None:
        self.port = _free_port()
        self.home = home
        env = {
            **os.environ,
            "SSOT_HOME": str(home),
            "POSTGRES_URL": ledger_url,
            "REDIS_URL": redis_url,
            "NOTION_BASE_URL": sandbox.url,
            "NOTION_TOKEN": sandbox.token,
            "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
            "NOTION_RPS": "100",
            "PYTHONPATH": str(REPO),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines.cli", "notion", "webhook", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if "listening on" not in line:
            self.process.kill()
            raise AssertionError(line + self.process.stderr.read().decode() if self.process.stderr else line)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.client = httpx.Client(timeout=10)

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(self.url, content=body, headers={"Content-Type": "application/json", **(headers or {})})

    def counts(self) -> dict[str, int]:
        return dict(self.client.get(self.url).json()["counts"])

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.client.close()
        return self.process.stderr.read().decode() if self.process.stderr else ""


@pytest.fixture
def synced(sandbox: Any, ledger_url: str, redis_url: str) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    rows = [file_row(i) for i in range(3)]
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame(rows))
        yield sync, rows


@pytest.fixture
def receiver(tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str, synced: Any) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "home", sandbox, ledger_url, redis_url)
    yield r
    r.stop()


def _event(page_id: str, parent: dict[str, Any], event_type: str = "page.properties_updated") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "timestamp": "2026-12-03T10:00:00.000Z",
        "type": event_type,
        "workspace_id": "w",
        "workspace_name": "W",
        "subscription_id": "s",
        "integration_id": "i",
        "authors": [{"id": "person-1", "type": "person"}],
        "attempt_number": 1,
        "api_version": "2025-09-03",
        "entity": {"id": page_id, "type": "page"},
        "data": {"parent": parent, "updated_properties": ["x"]},
    }


def test_signature_is_hmac_sha256_over_the_raw_bytes() -> None:
    raw = b'{"id": "1",  "type": "page.created"}'
    assert signature_ok(raw, sign(raw, TOKEN), TOKEN)
    assert not signature_ok(json.dumps(json.loads(raw)).encode(), sign(raw, TOKEN), TOKEN), "re-serialised"
    assert not signature_ok(raw, sign(raw, "another"), TOKEN)
    assert not signature_ok(raw, None, TOKEN) and not signature_ok(raw, "sha1=00", TOKEN)


def test_handshake_stores_the_token_privately_and_forged_events_are_refused(
    receiver: Receiver, synced: Any, ledger_url: str
) -> None:
    sync, rows = synced
    page_id = sync.page_id("file_catalog", rows[0]["key"])
    parent = {
        "id": sync.ids["file_catalog"].database_id,
        "type": "database",
        "data_source_id": sync.ids["file_catalog"].data_source_id,
    }
    body = json.dumps(_event(page_id, parent)).encode()
    early = receiver.post(body, {"X-Notion-Signature": sign(body, TOKEN)})
    assert early.status_code == 503, "no event is accepted before the handshake"

    assert receiver.post(json.dumps({"verification_token": TOKEN}).encode()).status_code == 200
    token_file = receiver.home / "notion-webhooks" / "notion-webhook-token"
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # A second handshake cannot swap the HMAC key.
    assert receiver.post(json.dumps({"verification_token": "attacker"}).encode()).status_code == 409
    assert token_file.read_text().strip() == TOKEN

    forged = receiver.post(body, {"X-Notion-Signature": sign(body, "attacker")})
    unsigned = receiver.post(body)
    tampered = body.replace(b"properties_updated", b"deleted")
    replayed_sig = receiver.post(tampered, {"X-Notion-Signature": sign(body, TOKEN)})
    assert (forged.status_code, unsigned.status_code, replayed_sig.status_code) == (401, 401, 401)
    journal = receiver.home / "notion-webhooks" / "events.jsonl"
    assert not journal.exists() or journal.read_text() == "", "a refused event is never journalled"

    good = receiver.post(body, {"X-Notion-Signature": sign(body, TOKEN)})
    again = receiver.post(body, {"X-Notion-Signature": sign(body, TOKEN)})
    assert good.status_code == 200 and again.status_code == 200
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["body"] == body.decode(), "journalled once, exact bytes"
    assert receiver.counts() == {"handshake": 1, "refused": 2, "forged": 3, "journalled": 1, "duplicate": 1}


def test_a_persons_edit_in_the_sandbox_reaches_the_ledger_within_seconds(
    receiver: Receiver, synced: Any, sandbox: Any, ledger_url: str
) -> None:
    sync, rows = synced
    register = httpx.post(
        f"{sandbox.url}/__sandbox/webhooks",
        json={"url": receiver.url, "verification_token": TOKEN},
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    assert register.status_code == 200, register.text
    token_file = receiver.home / "notion-webhooks" / "notion-webhook-token"
    deadline = time.monotonic() + 30
    while not token_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert token_file.read_text().strip() == TOKEN, "the sandbox's handshake was stored"

    # The integration's own write produces an event too; the drain drops it (no feedback loop).
    page_id = sync.page_id("file_catalog", rows[1]["key"])
    as_person = Client(auth=sandbox.token, base_url=f"{sandbox.url}/__sandbox/person", retry=False)
    started = time.monotonic()
    as_person.pages.update(
        page_id, properties={"Notes": {"rich_text": [{"type": "text", "text": {"content": "Ana: keep this module"}}]}}
    )
    deadline = started + 30
    while time.monotonic() < deadline:
        if sync.human_values("file_catalog", rows[1]["key"]).get("Notes") == "Ana: keep this module":
            break
        time.sleep(0.05)
    assert sync.human_values("file_catalog", rows[1]["key"]).get("Notes") == "Ana: keep this module", receiver.counts()
    assert sync.human_values("file_catalog", rows[0]["key"]).get("Notes") in (None, ""), "only that page"
    outcomes = sync.conn.execute("SELECT type, outcome FROM notion_webhook_events ORDER BY received_at").fetchall()
    sync.conn.commit()
    assert {"type": "page.properties_updated", "outcome": "pulled"} in [dict(r) for r in outcomes]
    assert receiver.counts().get("forged", 0) == 0
