"""The Notion gateway and pacer: retries, Retry-After beyond 60 s, ambiguous writes, a shared schedule."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway, RetrySettings
from ssot_pipelines.notion.pacer import RequestPacer
from ssot_pipelines.sandbox import FaultConfig
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN


def gateway(sandbox: Any, redis_url: str, sleep: Any, attempts: int = 5) -> NotionGateway:
    pacer = RequestPacer(redis.Redis.from_url(redis_url), SANDBOX_TOKEN, rps=1000.0, sleep=sleep)
    return NotionGateway(
        token=SANDBOX_TOKEN,
        base_url=sandbox.url,
        pacer=pacer,
        retry=RetrySettings(max_attempts=attempts, base_seconds=0.01),
    )


def test_retry_after_longer_than_a_minute_is_honoured_and_the_call_then_succeeds(sandbox: Any, redis_url: str) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the clock: record the wait, let the sandbox recover
        waits.append(seconds)
        sandbox.set_faults(None)

    sandbox.set_faults(FaultConfig(rate_limited_429=1.0, retry_after_seconds=120, seed=1))
    gw = gateway(sandbox, redis_url, sleep)
    page = gw.call("GET", f"pages/{sandbox.root_page_id}")
    assert page["id"].replace("-", "") == sandbox.root_page_id.replace("-", "")
    assert max(waits) >= 120, f"Retry-After: 120 must be waited in full, not capped at 60 s: {waits}"
    assert gw.stats.rate_limited == 1 and gw.stats.retries == 1


@pytest.mark.parametrize(
    "fault",
    [
        FaultConfig(conflict_409=1.0),
        FaultConfig(bad_gateway_502_html=1.0),
        FaultConfig(gateway_timeout_504=1.0),
        FaultConfig(overload_529=1.0),
        FaultConfig(error_500=1.0),
    ],
)
def test_transient_errors_of_every_kind_are_retried(sandbox: Any, redis_url: str, fault: FaultConfig) -> None:
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        sandbox.set_faults(None)

    sandbox.set_faults(fault)
    gw = gateway(sandbox, redis_url, sleep)
    page = gw.call("PATCH", f"pages/{sandbox.root_page_id}", body={"properties": {}}, kind=Call.UPDATE)
    assert page["object"] == "page"
    assert gw.stats.retries == 1


def test_a_create_that_may_have_landed_is_never_retried_blindly(sandbox: Any, redis_url: str) -> None:
    sandbox.set_faults(FaultConfig(unavailable_503_after_commit=1.0))
    gw = gateway(sandbox, redis_url, lambda s: None)
    body = {
        "parent": {"type": "page_id", "page_id": sandbox.root_page_id},
        "properties": {"title": {"title": [{"type": "text", "text": {"content": "once"}}]}},
    }
    with pytest.raises(AmbiguousWriteError):
        gw.call("POST", "pages", body=body, kind=Call.CREATE)
    sandbox.set_faults(None)
    assert gw.stats.requests == 1, "exactly one attempt: the caller must look before creating again"


def test_errors_that_retrying_cannot_fix_fail_at_once_with_notions_code(sandbox: Any, redis_url: str) -> None:
    gw = gateway(sandbox, redis_url, lambda s: None)
    with pytest.raises(NotionError) as err:
        gw.call("GET", "pages/00000000000000000000000000000000")
    assert err.value.status == 404 and err.value.code == "object_not_found"
    assert gw.stats.requests == 1


def test_pacers_of_one_token_share_one_schedule_across_processes(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first = RequestPacer(client, "token-a", rps=2.0)
    second = RequestPacer(redis.Redis.from_url(redis_url), "token-a", rps=2.0)
    other = RequestPacer(client, "token-b", rps=2.0)
    waits = [first._reserve_ms(), second._reserve_ms(), first._reserve_ms(), second._reserve_ms()]
    # each reservation takes the next 500 ms slot, whichever process asks
    for i, wait in enumerate(waits):
        assert 500 * i - 50 <= wait <= 500 * i + 50, waits
    assert other._reserve_ms() <= 50, "another integration token has its own schedule"
    assert not any(b"token-a" in k for k in client.keys("*")), "the token itself never reaches Redis"
