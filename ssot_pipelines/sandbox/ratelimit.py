"""Notion's rate limits as the sandbox enforces them (reference: notion-2026.md §1, notion-api.md §5).

Three models, each optional and checked together on every /v1/ request:

- ``bucket``: the older documented model, an average of ``rps`` requests/second per token with bursts of
  ``burst``. Its 429s name the connection limit.
- ``window``: the current per-connection model, a fixed budget of requests per window (60 s at Notion) per
  token. The window opens with the token's first request; an overflow is answered 429 ``rate_limited`` with
  ``additional_data.rate_limit_reason: public_api_request_rate_limit`` and ``Retry-After`` = the whole
  seconds until the window resets (so at most the window length).
- ``workspace``: a budget per window shared by every token of the workspace (the sandbox is one
  workspace); reason ``public_api_space_request_rate_limit``, ``Retry-After`` until that window resets,
  which may be more than a minute.

A refused request spends nothing. ``admitted`` keeps the monotonic time of every admitted request (most
recent ``ADMITTED_KEPT``), ``arrivals`` of every request and ``refusals`` (time, reason, Retry-After) of
every 429, so tests can check that nobody knocked during a pause.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError

CONNECTION_REASON = "public_api_request_rate_limit"
WORKSPACE_REASON = "public_api_space_request_rate_limit"
ADMITTED_KEPT = 100_000


def rate_limited(retry_after: str, reason: str) -> ApiError:
    """Notion's 429: ``code: rate_limited``, the reason in ``additional_data``, ``Retry-After`` in seconds."""
    return ApiError(
        429,
        "rate_limited",
        "You have been rate limited. Please try again in a few minutes.",
        {"rate_limit_reason": reason, "retry_after": retry_after},
        headers={"Retry-After": retry_after},
    )


@dataclass
class RateLimitConfig:
    """Which models are on; ``None`` turns a model off. Lengths are seconds (Notion: 60)."""

    rps: float | None = 3.0
    burst: int = 10
    window_budget: int | None = None
    window_seconds: float = 60.0
    workspace_budget: int | None = None
    workspace_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.rps is not None and self.rps <= 0:
            raise ValueError("rps must be positive or None")
        for name in ("window_budget", "workspace_budget"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        for name in ("window_seconds", "workspace_window_seconds"):
            if float(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive")
        self.burst = max(1, int(self.burst))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Window:
    """A fixed window of ``seconds`` opened by the first request after the previous one closed."""

    def __init__(self) -> None:
        self.start = 0.0
        self.count = 0

    def roll(self, now: float, seconds: float) -> None:
        if now >= self.start + seconds:
            self.start, self.count = now, 0

    def retry_after(self, now: float, seconds: float) -> str:
        return str(max(1, math.ceil(self.start + seconds - now)))


class RateLimits:
    """The sandbox's limits for every token; ``check`` admits one request or raises Notion's 429."""

    def __init__(self, config: RateLimitConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.admitted: deque[float] = deque(maxlen=ADMITTED_KEPT)
        self.arrivals: deque[float] = deque(maxlen=ADMITTED_KEPT)
        self.refusals: deque[tuple[float, str, float]] = deque(maxlen=ADMITTED_KEPT)
        self.configure(config)

    def configure(self, config: RateLimitConfig | None) -> None:
        with self._lock:
            self.config = config or RateLimitConfig(rps=None)
            self._buckets: dict[str, tuple[float, float]] = {}
            self._windows: dict[str, _Window] = {}
            self._workspace = _Window()
            self.refused: dict[str, int] = {}

    def check(self, token: str) -> None:
        """Spend one request of ``token`` (and of the workspace) or raise a 429 that spends nothing."""
        with self._lock:
            config, now = self.config, time.monotonic()
            self.arrivals.append(now)
            if config.rps is not None:
                level, last = self._buckets.get(token, (float(config.burst), now))
                level = min(float(config.burst), level + (now - last) * config.rps)
                if level < 1.0:
                    self._buckets[token] = (level, now)
                    wait = max(1, math.ceil((1.0 - level) / config.rps))
                    raise self._refuse(now, str(wait), CONNECTION_REASON)
            window = self._windows.setdefault(token, _Window())
            if config.window_budget is not None:
                window.roll(now, config.window_seconds)
                if window.count >= config.window_budget:
                    raise self._refuse(now, window.retry_after(now, config.window_seconds), CONNECTION_REASON)
            if config.workspace_budget is not None:
                self._workspace.roll(now, config.workspace_window_seconds)
                if self._workspace.count >= config.workspace_budget:
                    retry_after = self._workspace.retry_after(now, config.workspace_window_seconds)
                    raise self._refuse(now, retry_after, WORKSPACE_REASON)
            if config.rps is not None:
                level, last = self._buckets.get(token, (float(config.burst), now))
                level = min(float(config.burst), level + (now - last) * config.rps)
                self._buckets[token] = (level - 1.0, now)
            window.count += 1
            self._workspace.count += 1
            self.admitted.append(now)

    def _refuse(self, now: float, retry_after: str, reason: str) -> ApiError:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        self.refusals.append((now, reason, float(retry_after)))
        return rate_limited(retry_after, reason)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.config.to_json(), "refused_by_reason": dict(self.refused)}
