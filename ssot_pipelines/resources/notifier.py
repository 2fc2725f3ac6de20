"""The notifier resource: a Slack incoming webhook when configured, the Dagster log otherwise."""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field, PrivateAttr

from ssot_pipelines.settings import redact

SLACK_SECTION_CHARS = 3000  # Slack's limit for one section block's text
SLACK_BLOCKS_PER_MESSAGE = 50
_ICONS = {
    "info": ":information_source:",
    "warning": ":warning:",
    "error": ":rotating_light:",
    "critical": ":rotating_light:",
}

# slack_sdk logs the full webhook URL (a secret) at debug and info level; hand it a logger that drops all.
_SLACK_SDK_LOG = logging.getLogger("ssot_pipelines.notifier.slack_sdk")
_SLACK_SDK_LOG.disabled = True
_SLACK_SDK_LOG.propagate = False


class Log(Protocol):
    """What ``notify`` needs of a logger: a ``logging.Logger`` or Dagster's ``context.log``."""

    def info(self, msg: str) -> object: ...

    def warning(self, msg: str) -> object: ...

    def error(self, msg: str) -> object: ...


def _log_at(log: Log, severity: str, message: str) -> None:
    if severity in ("error", "critical"):
        log.error(message)
    elif severity == "warning":
        log.warning(message)
    else:
        log.info(message)


def _pieces(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at line ends where possible; never cut short."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut + 1 if cut > size // 2 else size
        pieces.append(text[:cut])
        text = text[cut:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn treats as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_messages(title: str, text: str, severity: str) -> list[dict[str, object]]:
    """Webhook payloads for one notification: long text spreads over blocks and messages, never cut."""
    heading = f"{_ICONS.get(severity, ':grey_question:')} [{severity.upper()}] {title}"
    sections: list[dict[str, object]] = [
        # plain_text: paths like __init__.py and <placeholders> must show as written, not as markup.
        {"type": "section", "text": {"type": "plain_text", "text": piece, "emoji": False}}
        for piece in _pieces(text, SLACK_SECTION_CHARS)
        if piece
    ]
    messages: list[dict[str, object]] = []
    for start in range(0, max(len(sections), 1), SLACK_BLOCKS_PER_MESSAGE - 1):
        part = len(messages) + 1
        head = heading if start == 0 else f"{heading} (part {part})"
        blocks: list[dict[str, object]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(head)[: SLACK_SECTION_CHARS - 2]}*"}},
            *sections[start : start + SLACK_BLOCKS_PER_MESSAGE - 1],
        ]
        messages.append({"text": head, "blocks": blocks})
    return messages


class NotifierResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """Posts notifications to a Slack incoming webhook (env ``SLACK_WEBHOOK_URL``) or, unset, to the log.

    A failed post is logged and counted (``failures``) but never raised: a notification must not fail the
    pipeline that sends it. The webhook URL is a secret and never appears in a log line.
    """

    slack_webhook_url: str | None = Field(default=None, repr=False, description="SLACK_WEBHOOK_URL (a secret)")
    timeout_seconds: int = 10

    _failures: int = PrivateAttr(default=0)
    _sent: int = PrivateAttr(default=0)

    @property
    def failures(self) -> int:
        """Notifications that could not be posted to Slack, by this instance."""
        return self._failures

    @property
    def sent(self) -> int:
        """Notifications posted to Slack, by this instance."""
        return self._sent

    def notify(self, title: str, text: str, *, severity: str, log: Log) -> None:
        """Send one notification; ``severity`` is info, warning, error or critical."""
        if not self.slack_webhook_url:
            _log_at(log, severity, f"{title}\n{text}" if text else title)
            return
        from slack_sdk.webhook import WebhookClient

        url = self.slack_webhook_url
        client = WebhookClient(url, timeout=self.timeout_seconds, logger=_SLACK_SDK_LOG)
        for payload in slack_messages(title, text, severity):
            try:
                response = client.send_dict(payload)
                problem = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.body}"
            except Exception as exc:  # a notification never fails the pipeline; any transport error counts
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                self._failures += 1
                log.warning(
                    f"could not post notification {title!r} to Slack "
                    f"({redact(problem, url, urlsplit(url).path)}); check SLACK_WEBHOOK_URL. "
                    "The notification follows here instead."
                )
                _log_at(log, severity, f"{title}\n{text}" if text else title)
                return
        self._sent += 1
        log.info(f"notification {title!r} posted to Slack")
