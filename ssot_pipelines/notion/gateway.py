"""The one door to Notion: notion-client, paced through Redis and retried by one tenacity policy.

notion-client's own retry is switched off (it caps Retry-After at 60 s and skips 409/502/504/529), and
its keyword whitelists are bypassed with ``client.request`` so no argument is silently dropped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ssot_pipelines.notion.pacer import RequestPacer
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.settings import notion_version as checked_version

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504, 529})
# Statuses after which a write may or may not have been applied (Notion can commit, then time out).
AMBIGUOUS_STATUS = frozenset({500, 502, 503, 504})


class Call(StrEnum):
    READ = "read"  # safe to repeat
    UPDATE = "update"  # idempotent write (PATCH of properties, trash)
    CREATE = "create"  # not idempotent: never repeated blindly


class NotionError(RuntimeError):
    """A Notion request that failed for good; ``status``/``code`` say why."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AmbiguousWriteError(NotionError):
    """A create or append failed in a way that may have been applied: look before writing again."""


@dataclass
class CallStats:
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    errors_by_status: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, int]:
        return {"requests": self.requests, "rate_limited": self.rate_limited, "retries": self.retries}


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 10
    base_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    max_retry_after_seconds: float = 900.0  # Notion's workspace limits may ask for more than 60 s


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, HTTPResponseError):
        return int(exc.status)
    return None


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, HTTPResponseError):
        value = exc.headers.get("retry-after") if exc.headers is not None else None
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _code(exc: BaseException) -> str:
    """Notion's error code as its plain string (notion-client gives an enum for the codes it knows)."""
    code = getattr(exc, "code", "")
    return str(getattr(code, "value", code))


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, AmbiguousWriteError):
        return False
    if isinstance(exc, RequestTimeoutError | httpx.TransportError):
        return True
    status = _status(exc)
    return status in RETRYABLE_STATUS


# 2026-03-11 removed ``archived`` (requests and responses) and append's ``after``, and renamed the
# ``transcription`` block type (reference/notion-2026.md §2.1).
IN_TRASH_ONLY_SINCE = "2026-03-11"


class NotionGateway:
    """Paced, retried access to one Notion integration (or the sandbox) at one API version.

    ``notion_version`` is one of ``settings.SUPPORTED_NOTION_VERSIONS``; the request shapes that differ
    between versions (the append position) come from here, so callers never branch on it.
    """

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        pacer: RequestPacer,
        notion_version: str = "2025-09-03",
        timeout_seconds: float = 60.0,
        retry: RetrySettings | None = None,
    ) -> None:
        self._token = token
        self.notion_version = checked_version(notion_version)
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.retry = retry or RetrySettings()
        self.stats = CallStats()
        # An explicit httpx client (closed by close()); never used as a context manager, which would
        # replace it with a fresh one.
        self._http = httpx.Client()
        quiet = logging.getLogger("ssot_pipelines.notion_client")
        quiet.setLevel(logging.ERROR)
        self._client = Client(
            client=self._http,
            auth=token,
            base_url=self.base_url,
            notion_version=self.notion_version,
            timeout_ms=int(timeout_seconds * 1000),
            retry=False,
            logger=quiet,
            log_level=logging.ERROR,
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"NotionGateway(base_url={self.base_url!r}, notion_version={self.notion_version!r}, token=***)"

    # -- what differs between API versions ----------------------------------------------------------

    @property
    def in_trash_only(self) -> bool:
        """True from 2026-03-11 on: ``archived`` is neither sent nor returned (we never rely on it anyway)."""
        return self.notion_version >= IN_TRASH_ONLY_SINCE

    def append_body(self, children: list[dict[str, Any]], *, after_block: str | None = None) -> dict[str, Any]:
        """The body of an append-children request placing ``children`` at the end, or after ``after_block``.

        2026-03-11 replaced ``after`` with ``position``; 2025-09-03 appends at the end without either."""
        body: dict[str, Any] = {"children": children}
        if self.in_trash_only:
            body["position"] = (
                {"type": "after_block", "after_block": {"id": after_block}} if after_block else {"type": "end"}
            )
        elif after_block:
            body["after"] = after_block
        return body

    # -- the single entry point -------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        kind: Call = Call.READ,
    ) -> Any:
        """Send one logical request; retry what is safe to retry, raise AmbiguousWriteError otherwise."""
        if self.in_trash_only and body and "archived" in body:
            raise ValueError(f"Notion-Version {self.notion_version} has no 'archived': send 'in_trash'")
        retrying = Retrying(
            sleep=self.pacer.sleep,
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, path, body, query, kind)
        except HTTPResponseError as exc:
            raise self._final_error(exc, method, path) from None
        except (RequestTimeoutError, httpx.TransportError) as exc:
            raise NotionError(
                f"Notion at {self.base_url} did not answer {method} /{path} after "
                f"{self.retry.max_attempts} attempts ({type(exc).__name__}). Check NOTION_BASE_URL and the "
                "network; nothing accepted so far is lost: the next sync resumes from the ledger.",
                code="unreachable",
            ) from None

    def _attempt(
        self, method: str, path: str, body: dict[str, Any] | None, query: dict[str, Any] | None, kind: Call
    ) -> Any:
        self.pacer.acquire()
        self.stats.requests += 1
        try:
            return self._client.request(path=path, method=method, body=body, query=query)
        except (HTTPResponseError, RequestTimeoutError, httpx.TransportError) as exc:
            status = _status(exc)
            label = str(status) if status is not None else type(exc).__name__
            self.stats.errors_by_status[label] = self.stats.errors_by_status.get(label, 0) + 1
            if status in (429, 529):
                self.stats.rate_limited += 1
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    retry_after = min(retry_after, self.retry.max_retry_after_seconds)
                # the pacer pauses this connection (or the whole workspace) and learns from the reason
                self.pacer.on_rate_limited(status, getattr(exc, "additional_data", None), retry_after)
            if kind is Call.CREATE and self._maybe_applied(exc):
                raise AmbiguousWriteError(
                    f"{method} /{path} failed with {label}; the write may have been applied",
                    status=status,
                    code=_code(exc),
                ) from exc
            raise

    @staticmethod
    def _maybe_applied(exc: BaseException) -> bool:
        if isinstance(exc, RequestTimeoutError | httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError):
            return True
        return _status(exc) in AMBIGUOUS_STATUS

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after(exc) if exc else None
        if retry_after is not None:
            return min(retry_after, self.retry.max_retry_after_seconds) + random.uniform(0, 0.25)
        backoff = self.retry.base_seconds * 2 ** (state.attempt_number - 1)
        return random.uniform(0, min(backoff, self.retry.max_backoff_seconds))

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1

    def _final_error(self, exc: HTTPResponseError, method: str, path: str) -> Exception:
        status, code = int(exc.status), _code(exc)
        if status == 401:
            return ConfigurationError(
                "NOTION_TOKEN was refused by Notion (401 unauthorized). Copy the internal integration secret "
                "from https://www.notion.so/profile/integrations into NOTION_TOKEN, or unset it to use the "
                "local sandbox."
            )
        if status == 403:
            return ConfigurationError(
                "the Notion integration lacks a capability (403 restricted_resource). Give it read, update "
                "and insert content capabilities in its settings."
            )
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else code
        return NotionError(f"Notion {method} /{path} failed: {status} {code}: {message}", status=status, code=code)

    def preflight(self) -> dict[str, Any]:
        """Who we are, asked once: a wrong address or token fails now, with the fix, not after retries."""
        self.pacer.acquire()
        self.stats.requests += 1
        try:
            me: dict[str, Any] = self._client.request(path="users/me", method="GET")
            return me
        except (RequestTimeoutError, httpx.TransportError) as exc:
            raise ConfigurationError(
                f"Notion at {self.base_url} does not answer ({type(exc).__name__}). Check NOTION_BASE_URL "
                "(unset it for https://api.notion.com) and the network, or unset NOTION_TOKEN to use the "
                "local sandbox."
            ) from None
        except HTTPResponseError as exc:
            if exc.status in RETRYABLE_STATUS:
                result: dict[str, Any] = self.call("GET", "users/me")  # busy, not wrong: the usual retries
                return result
            raise self._final_error(exc, "GET", "users/me") from None

    # -- typed helpers over the endpoints we use ---------------------------------------------------

    def query_all(
        self,
        data_source_id: str,
        *,
        filter_properties: Sequence[str],
        filter: dict[str, Any] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every page matching ``filter``; crosses the 10,000-row cap with created_time windows.

        ``filter_properties`` (property ids) names every property the caller reads: from 2026-12-01 a query
        without it returns only the title, so it is required here for every version. A property missing from
        a page of the result was not fetched; it is not empty. ``on_batch`` is called with the number of
        pages read so far after every response."""
        if not filter_properties:
            raise ValueError("query_all needs filter_properties: the property ids the caller reads")
        pages: dict[str, dict[str, Any]] = {}
        window_start: str | None = None
        while True:
            conditions = [filter] if filter else []
            if window_start:
                conditions.append({"timestamp": "created_time", "created_time": {"on_or_after": window_start}})
            body: dict[str, Any] = {
                "page_size": 100,
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
            }
            if len(conditions) == 1:
                body["filter"] = conditions[0]
            elif conditions:
                body["filter"] = {"and": conditions}
            query = {"filter_properties": list(filter_properties)}
            incomplete = False
            last_created: str | None = None
            before = len(pages)
            while True:
                res = self.call("POST", f"data_sources/{data_source_id}/query", body=body, query=query)
                for page in res.get("results", []):
                    pages[page["id"]] = page
                    last_created = page.get("created_time", last_created)
                if on_batch is not None:
                    on_batch(len(pages))
                status = res.get("request_status") or {}
                if status.get("type") == "incomplete":
                    incomplete = True
                if not res.get("has_more"):
                    break
                body["start_cursor"] = res["next_cursor"]
            if not incomplete or last_created is None or len(pages) == before:
                return list(pages.values())
            window_start = last_created
