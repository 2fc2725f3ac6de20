"""``ssot slack serve`` as a real process over HTTP: signatures, stale requests, the challenge, retries,
fsync before the ack; then the drain applies messages, replies, edits, deletes and reactions."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest

from ssot_pipelines.sessions import journal
from ssot_pipelines.slack import store
from ssot_pipelines.slack.capture import drain
from ssot_pipelines.slack.pipeline import capture_pass
from ssot_pipelines.slack.records import conversation_record
from ssot_pipelines.slack.webapi import web_client
from ssot_pipelines_tests.slack_fixtures import SECRET, SlackApiStandIn, envelope, signed_headers, ts_at

REPO = Path(__file__).resolve().parents[1]


class Receiver:
    def __init__(self, journal_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_JOURNAL_DIR": str(journal_dir),
            "PYTHONPATH": str(REPO),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines.cli", "slack", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        assert "listening on" in line and "/slack/events" in line, line
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.client = httpx.Client(timeout=5)

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(self.url, content=body, headers=headers)

    def send(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        body = json.dumps(payload).encode()
        return self.post(body, signed_headers(body, **kwargs))

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.client.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "journal")
    yield r
    r.kill()


def _journal_lines(directory: Path) -> list[dict[str, Any]]:
    scan = journal.JournalScan()
    return [r.record for seg in journal.segments(directory) for r in journal.read_records(seg, 0, scan)]


def test_challenge_is_answered_only_when_signed(receiver: Receiver) -> None:
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    answer = receiver.send(challenge)
    assert answer.status_code == 200 and answer.json() == {"challenge": challenge["challenge"]}
    body = json.dumps(challenge).encode()
    assert receiver.post(body, {"Content-Type": "application/json"}).status_code == 401


def test_wrong_signatures_and_stale_requests_are_refused_and_not_journalled(tmp_path: Path, receiver: Receiver) -> None:
    event = envelope({"type": "message", "channel": "C01ENG", "user": "U01", "text": "hi", "ts": "1.000001"}, "Ev1")
    body = json.dumps(event).encode()
    assert receiver.post(body, signed_headers(body, secret="not-the-secret")).status_code == 401
    tampered = signed_headers(body)
    assert receiver.post(body.replace(b"hi", b"ho"), tampered).status_code == 401
    stale = receiver.post(body, signed_headers(body, timestamp=int(time.time()) - 301))
    assert stale.status_code == 401 and "stale" in stale.text
    assert _journal_lines(tmp_path / "journal") == []
    assert receiver.post(body, signed_headers(body, timestamp=int(time.time()) - 200)).status_code == 200
    assert len(_journal_lines(tmp_path / "journal")) == 1


def test_an_acknowledged_event_is_on_disk_and_retries_are_deduplicated(
    tmp_path: Path, receiver: Receiver, ledger: Any
) -> None:
    ts = ts_at("2026-07-01T10:00:00", 1)
    event = envelope(
        {
            "type": "message",
            "channel": "C01ENG",
            "channel_type": "channel",
            "user": "U01",
            "text": "live hello",
            "ts": ts,
        },
        "Ev0001",
    )
    started = time.monotonic()
    assert receiver.send(event).status_code == 200
    assert time.monotonic() - started < 3
    assert receiver.send(event, retry=1).status_code == 200  # Slack's retry of the same event_id
    receiver.kill()  # SIGKILL right after the acks: the journal already holds the event
    [line] = _journal_lines(tmp_path / "journal")
    assert json.loads(line["stdin"])["event_id"] == "Ev0001"

    again = Receiver(tmp_path / "journal")  # a restarted receiver does not remember: the drain de-duplicates
    try:
        assert again.send(event, retry=2).status_code == 200
    finally:
        again.kill()
    report = drain(ledger, tmp_path / "journal", zone=UTC)
    assert (report.records, report.new_events, report.duplicates) == (2, 1, 1)
    record = conversation_record(ledger, "C01ENG/day/2026-07-01", UTC)
    assert record is not None and record["body"] == "**U01** · 2026-07-01 10:00:00 UTC\nlive hello"
    assert drain(ledger, tmp_path / "journal", zone=UTC).records == 0


def test_replies_edits_deletes_and_reactions_from_live_events(tmp_path: Path, receiver: Receiver, ledger: Any) -> None:
    root, reply, other = (
        ts_at("2026-07-01T10:00:00", 1),
        ts_at("2026-07-01T10:05:00", 2),
        ts_at("2026-07-01T11:00:00", 3),
    )
    base = {"type": "message", "channel": "C01ENG", "channel_type": "channel"}
    events = [
        {**base, "user": "U01", "text": "root message", "ts": root},
        {**base, "user": "U02", "text": "other message", "ts": other},
        {**base, "user": "U02", "text": "a reply", "ts": reply, "thread_ts": root, "parent_user_id": "U01"},
        {
            **base,
            "subtype": "message_changed",
            "ts": "9.1",
            "message": {
                "type": "message",
                "user": "U02",
                "text": "a reply, edited",
                "ts": reply,
                "thread_ts": root,
                "edited": {"user": "U02", "ts": "9.1"},
            },
            "previous_message": {"text": "a reply", "ts": reply},
        },
        {
            **base,
            "subtype": "message_changed",
            "ts": "9.2",
            "message": {  # a reply counter, not an edit
                "type": "message",
                "user": "U01",
                "text": "root message",
                "ts": root,
                "thread_ts": root,
                "reply_count": 1,
            },
        },
        {
            **base,
            "subtype": "message_deleted",
            "ts": "9.3",
            "deleted_ts": other,
            "previous_message": {"type": "message", "user": "U02", "text": "other message", "ts": other},
        },
        {
            "type": "reaction_added",
            "user": "U02",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C01ENG", "ts": root},
        },
        {
            "type": "reaction_added",
            "user": "U03",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C01ENG", "ts": root},
        },
        {
            "type": "reaction_removed",
            "user": "U03",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C01ENG", "ts": root},
        },
        {
            **base,
            "subtype": "channel_join",
            "user": "U04",
            "text": "<@U04> has joined the channel",
            "ts": "1782900000.5",
        },
    ]
    for n, event in enumerate(events):
        assert receiver.send(envelope(event, f"Ev{n:04d}")).status_code == 200
    report = drain(ledger, tmp_path / "journal", zone=UTC)
    assert report.new_events == len(events)
    assert report.applied == {
        "message": 2,
        "reply": 1,
        "edit": 1,
        "unchanged": 1,
        "delete": 1,
        "reaction": 3,
        "membership": 1,
    }

    thread = conversation_record(ledger, f"C01ENG/thread/{root}", UTC)
    assert thread is not None  # the root moved into its thread when the reply came
    assert thread["body"] == (
        "**U01** · 2026-07-01 10:00:00 UTC\nroot message\nReactions: :eyes: U02\n\n"
        "**U02** · 2026-07-01 10:05:00 UTC · edited · reply\na reply, edited"
    )
    day = conversation_record(ledger, "C01ENG/day/2026-07-01", UTC)
    assert day is not None
    assert day["body"] == "**U02** · 2026-07-01 11:00:00 UTC\n(message deleted)\n\n(1 joined, 0 left)"


def test_names_are_resolved_through_users_info_cached_and_paced(
    tmp_path: Path, receiver: Receiver, ledger: Any, monkeypatch: Any
) -> None:
    api = SlackApiStandIn(
        users={"U01": {"id": "U01", "name": "alice", "real_name": "Alice Live", "profile": {"display_name": "al"}}},
        channels={"C01ENG": "eng"},
        dms={"D01X": "U01"},
        rate_limit_first=True,
    )
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", api.token)
        monkeypatch.setenv("SLACK_API_URL", api.url)
        ts = ts_at("2026-07-01T10:00:00", 1)
        event = envelope(
            {
                "type": "message",
                "channel": "C01ENG",
                "channel_type": "channel",
                "user": "U01",
                "text": "hello <@U09GONE>",
                "ts": ts,
            },
            "EvN1",
        )
        assert receiver.send(event).status_code == 200
        dm = {"type": "message", "channel": "D01X", "channel_type": "im", "user": "U01", "text": "psst", "ts": ts}
        assert receiver.send(envelope(dm, "EvN2")).status_code == 200
        drain(ledger, tmp_path / "journal", zone=UTC)
        started = time.monotonic()
        lines = capture_pass(ledger, client=web_client(), pace_seconds=0.3)
        assert "names: 1 people and 2 channels resolved, 1 failed" in lines[0]
        assert time.monotonic() - started >= 0.9  # four calls, paced (plus the 429's Retry-After)
        direct = conversation_record(ledger, "D01X/day/2026-07-01", UTC)
        assert direct is not None and direct["Channel"] == "DM Alice Live"
        record = conversation_record(ledger, "C01ENG/day/2026-07-01", UTC)
        assert record is not None and record["body"].startswith("**Alice Live** · ")
        assert record["Channel"] == "#eng" and "hello @U09GONE" in record["body"]
        calls = len(api.calls)
        capture_pass(ledger, client=web_client(), pace_seconds=0.3)
        assert len(api.calls) == calls  # cached in the ledger, not asked again
        assert store.users_without_names(ledger) == []
    finally:
        api.close()


def test_hostile_requests_are_refused_without_a_retry(receiver: Receiver) -> None:
    body = b"not json at all"
    refused = receiver.post(body, signed_headers(body))
    assert refused.status_code == 400 and refused.headers["X-Slack-No-Retry"] == "1"
    raw = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    raw.putrequest("POST", "/slack/events")
    raw.putheader("Content-Length", "99999999")  # claimed, never sent: refused before reading
    raw.endheaders()
    assert raw.getresponse().status == 413
    raw.close()
    assert receiver.client.get(receiver.url.replace("/slack/events", "/health")).text == "ok"


def test_the_sensor_asks_for_a_run_when_events_wait(
    tmp_path: Path, receiver: Receiver, ledger_url: str, monkeypatch: Any
) -> None:
    import dagster as dg

    from ssot_pipelines.resources.stores import PostgresResource
    from ssot_pipelines.slack.defs import slack_events_sensor

    monkeypatch.setenv("SLACK_JOURNAL_DIR", str(tmp_path / "journal"))

    def tick(cursor: str | None) -> Any:
        context = dg.build_sensor_context(cursor=cursor, resources={"postgres": PostgresResource(url=ledger_url)})
        return slack_events_sensor(context)

    assert not tick(None).run_requests
    event = {"type": "message", "channel": "C1", "user": "U1", "text": "x", "ts": "1782900000.000001"}
    assert receiver.send(envelope(event, "EvS1")).status_code == 200
    first = tick(None)
    assert len(first.run_requests) == 1
    assert not tick(first.cursor).run_requests
