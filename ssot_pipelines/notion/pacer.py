"""One request pacer per integration token, shared by every process through Redis.

Dagster pools cap concurrent steps, not requests per second, so concurrent steps and overlapping runs
reserve request slots from one schedule kept in Redis. Each caller atomically reserves the next slot and
sleeps until it; a 429 pushes the whole schedule back by its Retry-After.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst_ms = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now - burst_ms then tat = now - burst_ms end
local slot = tat
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', 3600000)
local wait = slot - now
if wait < 0 then wait = 0 end
return wait
"""

_PUSH_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < until_ms then redis.call('SET', KEYS[1], tostring(until_ms), 'PX', 3600000) end
return 1
"""

log = logging.getLogger(__name__)


def pacer_key(token: str) -> str:
    """The Redis key of a token's schedule: a digest, so the token itself never reaches Redis."""
    return "ssot:notion:pacer:" + hashlib.sha256(token.encode()).hexdigest()[:24]


class RequestPacer:
    """Spaces requests to ``rps`` per token across processes; ``burst`` requests may go back to back."""

    def __init__(
        self,
        client: redis.Redis | None,
        token: str,
        rps: float = 2.5,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rps <= 0:
            raise ValueError("rps must be positive")
        self.rps = rps
        self.interval_ms = 1000.0 / rps
        self.burst_ms = self.interval_ms * max(0, burst - 1)
        self.key = pacer_key(token)
        self._redis = client
        self._reserve: Any = client.register_script(_RESERVE) if client is not None else None
        self._push_back: Any = client.register_script(_PUSH_BACK) if client is not None else None
        self._local_lock = threading.Lock()
        self._local_tat = 0.0
        self.fallbacks = 0
        self.waited_seconds = 0.0
        self.sleep = sleep

    def describe(self) -> dict[str, Any]:
        """What the pacer spends, for the status page and run metadata (never the token)."""
        return {
            "mode": "fixed",
            "requests_per_minute": round(self.rps * 60, 1),
            "learned": False,
            "source": "NOTION_RPS",
            "workspace_paused_until": None,
        }

    def acquire(self) -> None:
        """Block until this process may send one request."""
        wait_ms = self._reserve_ms()
        if wait_ms > 0:
            self.waited_seconds += wait_ms / 1000
            self.sleep(wait_ms / 1000)

    def push_back(self, seconds: float) -> None:
        """Nobody sends before ``seconds`` from now (after a 429 with Retry-After)."""
        if self._push_back is not None:
            try:
                self._push_back(keys=[self.key], args=[int(seconds * 1000)])
                return
            except redis.RedisError:
                pass
        with self._local_lock:
            self._local_tat = max(self._local_tat, time.monotonic() * 1000 + seconds * 1000)

    def _reserve_ms(self) -> float:
        if self._reserve is not None:
            try:
                return float(self._reserve(keys=[self.key], args=[self.interval_ms, self.burst_ms]))
            except redis.RedisError as exc:
                # Redis is a coordinator here, not a store: pacing locally is safe for this process,
                # and counted so the run's metadata shows it.
                self.fallbacks += 1
                if self.fallbacks == 1:
                    log.warning("Notion pacer: Redis unavailable (%s); pacing this process locally", type(exc).__name__)
        with self._local_lock:
            now = time.monotonic() * 1000
            tat = max(self._local_tat, now - self.burst_ms)
            self._local_tat = tat + self.interval_ms
            return max(0.0, tat - now)
