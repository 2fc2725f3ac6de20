"""The notifier: Slack incoming webhook (loopback server recording the JSON), or the Dagster log."""

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.resources.notifier import NotifierResource


class Webhook:
    """A loopback Slack incoming webhook: records each posted JSON body, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                reply = b"ok" if hook.status == 200 else b"invalid_token"
                self.send_response(hook.status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0SECRET/B0SECRET/xoxSecretPath"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.DEBUG)  # as verbose as it gets: the webhook URL must still never show
    return logging.getLogger("test_notifier")


def all_text(posts: list[dict[str, Any]]) -> str:
    return "".join(block["text"]["text"] for post in posts for block in post["blocks"][1:])


def test_notification_is_posted_to_the_webhook(
    webhook: Webhook, log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = NotifierResource(slack_webhook_url=webhook.url)
    notifier.notify("Drift over threshold", "src/app.py drifted 0.42 from its baseline", severity="warning", log=log)
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert "Drift over threshold" in post["text"] and "WARNING" in post["text"]
    assert all_text(webhook.posts) == "src/app.py drifted 0.42 from its baseline"
    assert (notifier.sent, notifier.failures) == (1, 0)
    assert "xoxSecretPath" not in caplog.text + repr(notifier) + str(notifier)


def test_long_text_is_split_over_blocks_and_messages_never_cut(webhook: Webhook, log: logging.Logger) -> None:
    text = "\n".join(f"{i:05d} file drifted: src/module_{i}.py" for i in range(6000))  # ~200 KB
    NotifierResource(slack_webhook_url=webhook.url).notify("Daily drift", text, severity="info", log=log)
    assert all_text(webhook.posts) == text
    assert len(webhook.posts) > 1
    for post in webhook.posts:
        assert len(post["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in post["blocks"])


def test_a_failing_webhook_is_logged_and_counted_never_raised(
    log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Webhook(status=403)
    try:
        notifier = NotifierResource(slack_webhook_url=hook.url)
        notifier.notify("Sync failed", "notion 502 three times", severity="error", log=log)
    finally:
        hook.stop()
    assert (notifier.sent, notifier.failures) == (0, 1)
    assert "HTTP 403" in caplog.text and "SLACK_WEBHOOK_URL" in caplog.text
    assert "notion 502 three times" in caplog.text  # the message still reaches someone
    for secret in ("xoxSecretPath", "B0SECRET", hook.url):
        assert secret not in caplog.text


def test_an_unreachable_webhook_is_logged_and_counted(log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    url = "http://127.0.0.1:9/services/T1/B1/unreachableSecret"
    notifier = NotifierResource(slack_webhook_url=url, timeout_seconds=2)
    notifier.notify("Sync failed", "details", severity="error", log=log)
    assert notifier.failures == 1
    assert "unreachableSecret" not in caplog.text


def test_without_a_webhook_notifications_go_to_the_dagster_log(webhook: Webhook) -> None:
    @dg.asset
    def drift_alert(context: dg.AssetExecutionContext, notifier: NotifierResource) -> None:
        notifier.notify("Drift over threshold", "src/app.py drifted 0.42", severity="warning", log=context.log)

    with dg.instance_for_test() as instance:
        result = dg.materialize([drift_alert], resources={"notifier": NotifierResource()}, instance=instance)
        assert result.success
        entries = instance.all_logs(result.run_id)
    warnings = [e.user_message for e in entries if e.level == logging.WARNING]
    assert any("Drift over threshold" in m and "src/app.py drifted 0.42" in m for m in warnings)
    assert webhook.posts == []
