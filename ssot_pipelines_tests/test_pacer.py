"""The learning pacer against the sandbox's window and workspace limits (issue 14 §1).

Windows are a few seconds here instead of Notion's 60 (``NOTION_RATE_WINDOW_SECONDS`` and the sandbox's
``window_seconds``), so several windows pass in a test. Ratios of requests admitted to requests allowed
are asserted generously: they check that the budget is used, not how fast this machine is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from notion_client import Client
from notion_client.errors import APIResponseError

from ssot_pipelines.notion.gateway import NotionGateway, RetrySettings
from ssot_pipelines.notion.pacer import LearningPacer, RequestPacer, pacer_from_settings
from ssot_pipelines.sandbox import FaultConfig, SandboxServer
from ssot_pipelines.sandbox.ratelimit import RateLimitConfig
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN, frame, sync_manager
from ssot_pipelines_tests.test_sync_engine import file_row

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def run_workers(
    sandbox: SandboxServer, redis_url: str, tokens: list[str], reads: int, **settings: str
) -> list[dict[str, Any]]:
    """One ``pacer_worker`` process per token, all at once; their JSON reports."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTION_RPS", "NOTION_PACER")}
    env.update(settings, PACER_WORKER_PAGE=sandbox.root_page_id, PYTHONPATH=str(SOURCE_ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ssot_pipelines_tests.pacer_worker", sandbox.url, redis_url, str(reads)],
            env={**env, "PACER_WORKER_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for token in tokens
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"a worker failed: {err[-2000:]}"
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def admitted_ratio(sandbox: SandboxServer, since: int, per_second: float) -> tuple[int, float]:
    """Requests admitted since the ``since``-th, and their rate over the allowed rate."""
    times = list(sandbox.limiter.admitted)[since:]
    span = times[-1] - times[0]
    return len(times), len(times) / span / per_second


def test_window_budget_is_learned_once_and_then_spent_without_429_by_four_processes(
    tmp_path: Path, redis_url: str
) -> None:
    window, budget = 4.0, 40  # the server allows 10 requests/s; the pacer starts at 15/s
    limits = RateLimitConfig(rps=None, window_budget=budget, window_seconds=window)
    settings = {"NOTION_RATE_WINDOW_SECONDS": str(window), "NOTION_REQUESTS_PER_MINUTE": "900"}
    with SandboxServer(tmp_path / "n.sqlite", tokens=(SANDBOX_TOKEN,), rate_limits=limits) as sandbox:
        first = run_workers(sandbox, redis_url, [SANDBOX_TOKEN] * 4, 30, **settings)
        refused_first = sandbox.limiter.refused.get("public_api_request_rate_limit", 0)
        assert all(r["reads"] == 30 for r in first), "every read eventually succeeded"
        assert sum(r["learnings"] for r in first) >= 1 and first[0]["pacer"]["learned"] is True
        # one refusal taught the budget; processes with a request in flight at that moment may see one more
        assert 1 <= refused_first <= 1 + 4, first
        assert sum(r["rate_limited"] for r in first) == refused_first

        since = len(sandbox.limiter.admitted)
        second = run_workers(sandbox, redis_url, [SANDBOX_TOKEN] * 4, 30, **settings)
        assert all(r["reads"] == 30 for r in second)
        assert sandbox.limiter.refused.get("public_api_request_rate_limit", 0) == refused_first, (
            "no 429 once the budget is learned"
        )
        count, ratio = admitted_ratio(sandbox, since, budget / window)
    assert count == 4 * 31
    assert ratio >= 0.8, f"the learned budget is used: {ratio:.2f} of the allowed rate"
    described = second[0]["pacer"]
    assert described["mode"] == "learning" and described["learned"] is True
    assert described["source"] == "learned from Notion's 429"
    assert 0.7 * 600 <= described["requests_per_minute"] <= 600, described


def server_windows(admitted: list[float], window: float) -> list[int]:
    """How many requests each of the sandbox's windows admitted (its rule: a window opens with the first
    request at least one window after the previous one opened)."""
    starts: list[float] = []
    counts: list[int] = []
    for t in admitted:
        if not starts or t >= starts[-1] + window:
            starts.append(t)
            counts.append(0)
        counts[-1] += 1
    return counts


def test_a_window_opened_by_a_burst_is_learned_exactly_and_a_lower_limit_later_is_never_overrun(
    sandbox: SandboxServer, redis_url: str
) -> None:
    window, budget = 2.0, 10  # the pacer starts at 15 per window and opens it with its burst of 9
    sandbox.set_rate_limit(None, window_budget=budget, window_seconds=window)
    pacer = LearningPacer(redis.Redis.from_url(redis_url), SANDBOX_TOKEN, requests_per_minute=450, window_seconds=2)
    gateway = NotionGateway(token=SANDBOX_TOKEN, base_url=sandbox.url, pacer=pacer, retry=RetrySettings(10, 0.01))
    for _ in range(3 * budget + 5):
        gateway.call("GET", "users/me")
    # Retry-After is whole seconds, so the window's start is known to a second, in which the burst went
    # out: those requests were admitted too (no earlier window of ours ran then)
    assert gateway.stats.rate_limited == 1 and pacer.learnings == 1
    assert pacer.describe()["requests_per_minute"] == budget * 60 / window, "the budget is learned exactly"
    counts = server_windows(list(sandbox.limiter.admitted), window)
    assert counts[:-1] == [budget] * (len(counts) - 1), f"every window but the last is used in full: {counts}"

    # the plan changes to 6 per window: one 429, and the budget learned is never above what is allowed
    sandbox.set_rate_limit(None, window_budget=6, window_seconds=window)
    for _ in range(20):
        gateway.call("GET", "users/me")
    assert gateway.stats.rate_limited == 2 and pacer.learnings == 2
    assert pacer.budget <= 6, pacer.describe()
    gateway.close()


def test_the_default_burst_fits_the_older_bucket_limit_without_a_429(sandbox: SandboxServer, redis_url: str) -> None:
    # Notion's older limit (and the peer benchmark's server): 3 requests/s with bursts of 10; the default
    # pacer (180/min) opens with its burst of 9 and then keeps to 3/s
    sandbox.set_rate_limit(3.0, 10)
    pacer = pacer_from_settings(redis.Redis.from_url(redis_url), SANDBOX_TOKEN, environ={})
    gateway = NotionGateway(token=SANDBOX_TOKEN, base_url=sandbox.url, pacer=pacer, retry=RetrySettings(10, 0.01))
    for _ in range(22):
        gateway.call("GET", "users/me")
    assert gateway.stats.rate_limited == 0 and sum(sandbox.limiter.refused.values()) == 0
    assert len(sandbox.limiter.admitted) == 22 and pacer.describe()["learned"] is False
    gateway.close()


def test_workspace_limit_pauses_every_process_and_leaves_the_budget_alone(tmp_path: Path, redis_url: str) -> None:
    limits = RateLimitConfig(rps=None, workspace_budget=20, workspace_window_seconds=3.0)
    settings = {"NOTION_RATE_WINDOW_SECONDS": "3", "NOTION_REQUESTS_PER_MINUTE": "600"}
    tokens = ["token-a", "token-b"]
    with SandboxServer(tmp_path / "n.sqlite", tokens=tokens, rate_limits=limits) as sandbox:
        reports = run_workers(sandbox, redis_url, tokens * 2, 15, **settings)
        refusals = list(sandbox.limiter.refusals)
        arrivals = list(sandbox.limiter.arrivals)
    assert all(r["reads"] == 15 for r in reports), "every read eventually succeeded"
    assert refusals and {reason for _, reason, _ in refusals} == {"public_api_space_request_rate_limit"}
    pauses = [(t, t + after) for t, _, after in refusals]
    # each pause costs at most one refusal per process (the requests already on their way)
    distinct = [p for i, p in enumerate(pauses) if i == 0 or p[0] > pauses[i - 1][1] - 1]
    assert len(refusals) <= 4 * len(distinct), refusals
    for start, end in pauses:
        # Retry-After is rounded up to whole seconds: the window reopens within its last second
        during = [t for t in arrivals if start + 0.3 < t < end - 1.0]
        assert not during, f"{len(during)} requests sent during a workspace pause of {end - start:.0f} s"
    for report in reports:
        assert report["pacer"]["learned"] is False, "the workspace limit does not lower the connection budget"
        assert report["pacer"]["requests_per_minute"] == 600


def test_workspace_retry_after_beyond_a_minute_holds_back_another_connection_in_full(
    sandbox: SandboxServer, redis_url: str
) -> None:
    slept: list[float] = []

    def clock(seconds: float) -> None:  # records the wait instead of spending it
        slept.append(seconds)
        sandbox.set_faults(None)

    client = redis.Redis.from_url(redis_url)
    first = LearningPacer(client, SANDBOX_TOKEN, sleep=clock)
    other = LearningPacer(client, "another-token", sleep=clock)
    for pacer in (first, other):
        pacer.use_workspace("id:the-workspace")
    gateway = NotionGateway(token=SANDBOX_TOKEN, base_url=sandbox.url, pacer=first, retry=RetrySettings(5, 0.01))
    sandbox.set_faults(FaultConfig(rate_limited_429=1.0, retry_after_seconds=120, seed=3))
    gateway.call("GET", "users/me")
    assert gateway.stats.rate_limited == 1
    slept.clear()
    other.acquire()
    assert slept and sum(slept) >= 119, f"another connection of the workspace waits the full 120 s: {slept}"
    assert other.describe()["workspace_paused_until"] is not None
    assert first.describe()["learned"] is False and first.describe()["requests_per_minute"] == 180
    gateway.close()


def test_fixed_mode_keeps_its_rate_and_learns_nothing(sandbox: SandboxServer, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    fixed = pacer_from_settings(client, SANDBOX_TOKEN, environ={"NOTION_PACER": "fixed", "NOTION_RPS": "40"})
    assert type(fixed) is RequestPacer and fixed.describe() == {
        "mode": "fixed",
        "requests_per_minute": 2400.0,
        "learned": False,
        "source": "NOTION_RPS",
        "workspace_paused_until": None,
    }
    # a deployment that set NOTION_RPS before the learning pacer existed keeps its fixed rate
    assert type(pacer_from_settings(client, SANDBOX_TOKEN, environ={"NOTION_RPS": "2"})) is RequestPacer
    default = pacer_from_settings(client, SANDBOX_TOKEN, environ={})
    assert isinstance(default, LearningPacer)
    assert default.describe()["requests_per_minute"] == 180 and default.describe()["source"] == "default"
    with pytest.raises(ConfigurationError, match="NOTION_PACER"):
        pacer_from_settings(client, SANDBOX_TOKEN, environ={"NOTION_PACER": "fast"})
    with pytest.raises(ConfigurationError, match="NOTION_REQUESTS_PER_MINUTE"):
        pacer_from_settings(client, SANDBOX_TOKEN, environ={"NOTION_REQUESTS_PER_MINUTE": "-3"})

    sandbox.set_rate_limit(None, window_budget=3, window_seconds=2.0)
    gateway = NotionGateway(token=SANDBOX_TOKEN, base_url=sandbox.url, pacer=fixed, retry=RetrySettings(5, 0.01))
    for _ in range(5):
        gateway.call("GET", "users/me")
    assert gateway.stats.rate_limited >= 1, "the fixed rate (40/s) overruns the window: it is not adapted"
    assert fixed.describe()["learned"] is False and fixed.describe()["requests_per_minute"] == 2400.0
    gateway.close()


def test_sandbox_window_and_workspace_429s_have_notions_shape(tmp_path: Path) -> None:
    limits = RateLimitConfig(rps=None, window_budget=2, window_seconds=30, workspace_budget=3)
    with SandboxServer(tmp_path / "n.sqlite", tokens=("a", "b"), rate_limits=limits) as sandbox:
        a = Client(auth="a", base_url=sandbox.url, retry=False)
        b = Client(auth="b", base_url=sandbox.url, retry=False)
        a.users.me()
        a.users.me()
        with pytest.raises(APIResponseError) as connection:
            a.users.me()
        b.users.me()  # another token has its own window...
        with pytest.raises(APIResponseError) as workspace:
            b.users.me()  # ...but the workspace's budget (3) is shared
    for refused, reason in (
        (connection.value, "public_api_request_rate_limit"),
        (workspace.value, "public_api_space_request_rate_limit"),
    ):
        assert refused.status == 429 and refused.code == "rate_limited"
        assert (refused.additional_data or {})["rate_limit_reason"] == reason
        assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_sync_run_metadata_names_the_pacers_budget(
    sandbox: SandboxServer, ledger_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTION_PACER", "learning")
    monkeypatch.setenv("NOTION_REQUESTS_PER_MINUTE", "30000")
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        report = sync.sync("file_catalog", frame([file_row(i) for i in range(3)]))
    metadata = report.as_metadata()
    assert metadata["created"] == 3
    assert metadata["requests_per_minute"] == 30000.0 and metadata["pacer_learned"] is False
