"""One request pacer per integration token, shared by every process through Redis.

Dagster pools cap concurrent steps, not requests per second, so concurrent steps and overlapping runs
reserve request slots from one schedule kept in Redis. Each caller atomically reserves the next slot and
sleeps until it.

Two modes (``NOTION_PACER``):

- ``fixed`` (``RequestPacer``): ``NOTION_RPS`` requests/second; a 429 pushes the whole schedule back by its
  Retry-After. Nothing is learned.
- ``learning`` (``LearningPacer``, the default): Notion gives each connection a budget of requests per 60-s
  window and answers an overflow with a 429 naming the limit (notion-2026.md §1). The pacer keeps a budget
  per window, spends it smoothly (a token bucket at budget/window with a burst of 9, and never more than
  the budget in any window-long stretch, so a burst only goes out where the window has room). After a
  window that used at least 90 % of the budget without a refusal the budget grows by 5 %, never above
  what was refused. It learns from 429s:

  - ``public_api_request_rate_limit``: the requests Notion admitted in its window (counted from a shared
    log of sends up to the refused one, the window's end being now + Retry-After) become the budget, and
    the budget that was refused minus one its ceiling; this connection pauses until Retry-After.
    Retry-After is whole seconds, so the window's start is known to a second; the sends of that second
    count too when no earlier window of ours can have run then (none of our sends opened one a window
    before), which makes a first learning exact even when the window opened with a burst.
  - ``public_api_space_request_rate_limit``: every process of the workspace pauses for the full
    Retry-After; the budget is not touched (this connection was not the cause).
  - any other reason, or 529: this connection waits Retry-After (the caller adds jitter); nothing learned.

State lives in Redis under digests of the token and of the workspace (never the token), without expiry
for what was learned: the embedded Redis keeps an append-only file, so it survives restarts, and a
Redis that lost it costs one 429 to learn again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import redis

CONNECTION_REASON = "public_api_request_rate_limit"
WORKSPACE_REASON = "public_api_space_request_rate_limit"
# Notion's per-connection budget is plan-dependent and not readable: 180/min (3 rps) is the figure a
# third-party note gives for the smallest plans and what Notion's older documented limit (3 rps average)
# amounts to, so it is refused nowhere we know of; a larger plan is used fully once NOTION_REQUESTS_PER_MINUTE
# says so (a wrong guess costs one 429, then the budget is learned).
DEFAULT_REQUESTS_PER_MINUTE = 180.0
# One below the burst of Notion's older limit (and of the sandbox's bucket, 10): a request that reaches the
# server later than the one before it did (a new connection, a busy process) leaves the server's bucket
# fuller than ours by that delay, and one request of margin absorbs a third of a second of it. The window
# model allows any burst within the budget (never more than the budget in a window-long stretch, below).
DEFAULT_BURST = 9

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

# KEYS: state hash, send log (zset of reserved send times), bucket TAT, connection pause, workspace pause
# ARGV: window ms, starting budget, burst, member, guard ms, end of a pause already waited out (ms)
# Returns {wait ms, reserved (1/0), budget or pause end}: not reserved means paused, ask again after the wait.
_LEARNING_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pause = math.max(tonumber(redis.call('GET', KEYS[4]) or '0'), tonumber(redis.call('GET', KEYS[5]) or '0'))
if pause > now and pause > tonumber(ARGV[6]) then return {math.ceil(pause - now), 0, pause} end
local window = tonumber(ARGV[1])
local budget = tonumber(redis.call('HGET', KEYS[1], 'budget') or ARGV[2])
-- a window of our own, to grow a learned budget after it was used without a refusal
local win_start = tonumber(redis.call('HGET', KEYS[1], 'win_start') or '0')
if now >= win_start + window then
  local count = tonumber(redis.call('HGET', KEYS[1], 'win_count') or '0')
  local refused = redis.call('HGET', KEYS[1], 'win_refused') == '1'
  local known = redis.call('HGET', KEYS[1], 'ceiling')
  local ceiling = known and tonumber(known) or math.huge
  if not refused and ceiling > budget and count >= 0.9 * budget and now < win_start + 2 * window then
    budget = math.min(ceiling, math.ceil(budget * 1.05))
    redis.call('HSET', KEYS[1], 'budget', tostring(budget))
  end
  redis.call('HSET', KEYS[1], 'win_start', tostring(now), 'win_count', '0', 'win_refused', '0')
end
redis.call('HINCRBY', KEYS[1], 'win_count', 1)
local interval = window / budget
local burst = math.min(tonumber(ARGV[3]), budget)
local tat = tonumber(redis.call('GET', KEYS[3]) or '0')
if tat < now - interval * (burst - 1) then tat = now - interval * (burst - 1) end
local slot = math.max(tat, now)
-- never more than the budget in any window-long stretch (plus a guard for the network's jitter): the
-- slot waits for the oldest send to age out
local span = window + tonumber(ARGV[5])
-- the log keeps two windows and a bit: a refusal looks one window further back (_LEARNING_REFUSED)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tostring(slot - 2 * window - 2000))
local n = redis.call('ZCOUNT', KEYS[2], '(' .. tostring(slot - span), '+inf')
if n >= budget then
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. tostring(slot - span), '+inf', 'WITHSCORES',
    'LIMIT', n - budget, 1)
  local aged = tonumber(oldest[2]) + span
  if aged > slot then
    slot = aged
    tat = aged
  end
end
local keep = math.floor(math.max(window * 3, 2 * window + 5000))
redis.call('ZADD', KEYS[2], slot, ARGV[4])
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('SET', KEYS[3], tostring(tat + interval), 'PX', keep)
return {math.ceil(slot - now), 1, budget}
"""

# KEYS: state hash, send log, connection pause, workspace pause
# ARGV: window ms, starting budget, member refused, retry-after ms, reason kind (connection|workspace|other)
# Returns {learned (1/0), admitted low, admitted high, budget}
_LEARNING_REFUSED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = tonumber(ARGV[4])
-- the refused send's own slot: sends reserved after it went out after it (and were refused too)
local refused_at = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[3]) or tostring(now))
redis.call('ZREM', KEYS[2], ARGV[3])
local budget = tonumber(redis.call('HGET', KEYS[1], 'budget') or ARGV[2])
local function pause(key)
  local current = tonumber(redis.call('GET', key) or '0')
  if current < now + wait then redis.call('SET', key, tostring(now + wait), 'PX', math.max(1, math.ceil(wait))) end
  return current
end
if ARGV[5] == 'workspace' then
  pause(KEYS[4])
  return {0, 0, 0, budget}
end
local before = pause(KEYS[3])
if ARGV[5] ~= 'connection' then return {0, 0, 0, budget} end
redis.call('HSET', KEYS[1], 'win_refused', '1')
-- several processes refused in the same overflow: the first one learns, the others only wait
if before > now then return {0, 0, 0, budget} end
-- Notion's window ends at now + Retry-After (whole seconds, rounded up), so it began in the second
-- (start - 1000, start]: what we sent after start and up to the refused send was admitted (refusals
-- leave the log), and so was what we sent in that second unless an earlier window still ran then.
-- Such a window would have begun one window earlier, with a send of ours: none there (a first window,
-- or one after a pause), and the second's sends count too.
local start = now + wait - window
local low = redis.call('ZCOUNT', KEYS[2], '(' .. tostring(start), tostring(refused_at))
local high = redis.call('ZCOUNT', KEYS[2], '(' .. tostring(start - 1000), tostring(refused_at))
local earlier = redis.call('ZCOUNT', KEYS[2], '(' .. tostring(start - 1000 - window - 250),
  tostring(start - window + 250))
local admitted = low
if earlier == 0 then admitted = high end
local ceiling = tonumber(redis.call('HGET', KEYS[1], 'ceiling') or tostring(budget))
ceiling = math.max(1, math.min(ceiling, budget - 1, high))
budget = math.max(1, math.min(admitted, ceiling))
redis.call('HSET', KEYS[1], 'budget', tostring(budget), 'ceiling', tostring(ceiling), 'learned', '1',
  'learned_at', tostring(now), 'admitted', tostring(admitted))
return {1, low, high, budget}
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""

log = logging.getLogger(__name__)


class PacerMode(StrEnum):
    LEARNING = "learning"
    FIXED = "fixed"


def pacer_key(token: str) -> str:
    """The Redis key of a token's schedule: a digest, so the token itself never reaches Redis."""
    return "ssot:notion:pacer:" + hashlib.sha256(token.encode()).hexdigest()[:24]


def workspace_key(workspace: str) -> str:
    """The Redis key of a workspace's pause: a digest of what names the workspace."""
    return "ssot:notion:workspace:" + hashlib.sha256(workspace.encode()).hexdigest()[:24] + ":pause"


def workspace_of(me: Any, base_url: str) -> str | None:
    """What names the workspace of a users/me answer: its id when Notion gives one, else its name at this
    address (two workspaces of the same name then share pauses: cautious, never too fast); None if neither."""
    bot = me.get("bot") if isinstance(me, dict) else None
    if not isinstance(bot, dict):
        return None
    if bot.get("workspace_id"):
        return f"id:{bot['workspace_id']}"
    if bot.get("workspace_name"):
        return f"name:{base_url}|{bot['workspace_name']}"
    return None


class Limit(StrEnum):
    """Which limit refused a request (the values are what the Redis script expects)."""

    CONNECTION = "connection"
    WORKSPACE = "workspace"
    OTHER = "other"


def reason_of(status: int | None, additional_data: Any) -> Limit:
    """Which limit a 429/529 names (``additional_data.rate_limit_reason``)."""
    reason = additional_data.get("rate_limit_reason") if isinstance(additional_data, dict) else None
    if status == 429 and reason == CONNECTION_REASON:
        return Limit.CONNECTION
    if status == 429 and reason == WORKSPACE_REASON:
        return Limit.WORKSPACE
    return Limit.OTHER


class RequestPacer:
    """Spaces requests to ``rps`` per token across processes; ``burst`` requests may go back to back."""

    mode = PacerMode.FIXED

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

    def on_rate_limited(self, status: int, additional_data: Any, retry_after: float | None) -> None:
        """A 429 or 529 answered the request this process last acquired: nobody sends before Retry-After."""
        if retry_after is not None:
            self.push_back(retry_after)

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
                self._redis_failed(exc)
        return self._reserve_locally()

    def _redis_failed(self, exc: Exception) -> None:
        # Redis is a coordinator here, not a store: pacing locally is safe for this process, and
        # counted so the run's metadata shows it.
        self.fallbacks += 1
        if self.fallbacks == 1:
            log.warning("Notion pacer: Redis unavailable (%s); pacing this process locally", type(exc).__name__)

    def _reserve_locally(self) -> float:
        with self._local_lock:
            now = time.monotonic() * 1000
            tat = max(self._local_tat, now - self.burst_ms)
            self._local_tat = tat + self.interval_ms
            return max(0.0, tat - now)


class LearningPacer(RequestPacer):
    """Spends a per-connection budget per window and learns it from Notion's 429s (module docstring).

    ``requests_per_minute`` is the starting budget (scaled to ``window_seconds``) until one is learned;
    ``source`` says where it came from. ``workspace`` names the workspace whose pause this connection
    obeys (the bot's workspace id when known, else the token's digest).
    """

    mode = PacerMode.LEARNING

    def __init__(
        self,
        client: redis.Redis | None,
        token: str,
        *,
        requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
        window_seconds: float = 60.0,
        burst: int = DEFAULT_BURST,
        source: str = "default",
        workspace: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute <= 0 or window_seconds <= 0:
            raise ValueError("requests_per_minute and window_seconds must be positive")
        super().__init__(client, token, rps=requests_per_minute / 60, burst=burst, sleep=sleep)
        self.window_ms = window_seconds * 1000
        # a request sent exactly one window after another may reach Notion a little before it
        self.guard_ms = 20 + self.window_ms / 100
        self.start_budget = max(1, round(requests_per_minute * window_seconds / 60))
        self.burst = max(1, burst)
        self.source = source
        self.state_key = self.key + ":state"
        self.log_key = self.key + ":sent"
        self.tat_key = self.key + ":bucket"
        self.pause_key = self.key + ":pause"
        self.workspace_pause_key = workspace_key(workspace or self.key)
        self._learning_reserve: Any = client.register_script(_LEARNING_RESERVE) if client is not None else None
        self._learning_refused: Any = client.register_script(_LEARNING_REFUSED) if client is not None else None
        self._release: Any = client.register_script(_RELEASE) if client is not None else None
        self._member_prefix = f"{os.getpid()}:{id(self):x}:"
        self._counter = 0
        self._thread = threading.local()
        self.budget = self.start_budget
        self.learnings = 0

    def use_workspace(self, workspace: str | None) -> None:
        """Obey (and set) the pause of ``workspace`` (``workspace_of`` users/me); None keeps the token's."""
        if workspace:
            self.workspace_pause_key = workspace_key(workspace)

    def acquire(self) -> None:
        """Block until this process may send one request: after any pause, within the window's budget."""
        if self._learning_reserve is None:
            super().acquire()
            return
        waited_out = 0
        while True:
            member = self._next_member()
            try:
                wait_ms, reserved, budget = self._learning_reserve(
                    keys=[self.state_key, self.log_key, self.tat_key, self.pause_key, self.workspace_pause_key],
                    args=[self.window_ms, self.start_budget, self.burst, member, self.guard_ms, waited_out],
                )
            except redis.RedisError as exc:
                self._redis_failed(exc)
                self._sleep_ms(self._reserve_locally())
                return
            if reserved:
                self.budget = int(budget)
                self._thread.member = member
                self._sleep_ms(float(wait_ms))
                if float(wait_ms) <= 0 or not self._paused_meanwhile(member):
                    return
            else:
                self._sleep_ms(float(wait_ms))
                waited_out = int(budget)  # that pause is over; a longer one set meanwhile is waited too

    def _paused_meanwhile(self, member: str) -> bool:
        """A pause that began while this process slept for its slot: give the slot back and queue again."""
        if self._redis is None:
            return False
        try:
            pauses = self._redis.mget([self.pause_key, self.workspace_pause_key])
            (now_s, now_us) = self._redis.time()
        except redis.RedisError:
            return False
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        if max(float(p or 0) for p in pauses) <= now_ms:
            return False
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.log_key], args=[member])
        return True

    def on_rate_limited(self, status: int, additional_data: Any, retry_after: float | None) -> None:
        """Pause as the 429/529 asks, and learn the budget from a connection-limit 429."""
        kind = reason_of(status, additional_data)
        if self._learning_refused is None:
            super().on_rate_limited(status, additional_data, retry_after)
            return
        wait = retry_after if retry_after is not None else 1.0
        member = getattr(self._thread, "member", "")
        try:
            learned, low, high, budget = self._learning_refused(
                keys=[self.state_key, self.log_key, self.pause_key, self.workspace_pause_key],
                args=[self.window_ms, self.start_budget, member, int(wait * 1000), kind.value],
            )
        except redis.RedisError as exc:
            self._redis_failed(exc)
            super().on_rate_limited(status, additional_data, retry_after)
            return
        self.budget = int(budget)
        if learned:
            self.learnings += 1
            log.info(
                "Notion pacer: the connection limit refused a request after %s-%s admitted in its window; "
                "budget now %s per %.0f s",
                low,
                high,
                budget,
                self.window_ms / 1000,
            )
        elif kind is Limit.WORKSPACE:
            log.warning("Notion pacer: workspace rate limit; every process of the workspace pauses %.0f s", wait)

    def describe(self) -> dict[str, Any]:
        """Mode, budget per minute, whether it was learned, where it came from, the workspace pause."""
        state: dict[str, str] = {}
        paused_until: str | None = None
        if self._redis is not None:
            try:
                raw = self._redis.hgetall(self.state_key)
                state = {_text(k): _text(v) for k, v in raw.items()}
                pause = self._redis.get(self.workspace_pause_key)
                (now_s, now_us) = self._redis.time()
                now_ms = int(now_s) * 1000 + int(now_us) // 1000
                if pause is not None and float(pause) > now_ms:
                    until = time.time() + (float(pause) - now_ms) / 1000
                    paused_until = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
            except redis.RedisError:
                state = {}
        budget = float(state.get("budget") or self.budget)
        learned = state.get("learned") == "1"
        per_minute = budget * 60_000 / self.window_ms
        ceiling = state.get("ceiling")
        return {
            "mode": "learning",
            "requests_per_minute": round(per_minute, 1),
            "learned": learned,
            "source": "learned from Notion's 429" if learned else self.source,
            "workspace_paused_until": paused_until,
            "window_seconds": self.window_ms / 1000,
            "ceiling_per_minute": round(float(ceiling) * 60_000 / self.window_ms, 1) if ceiling else None,
        }

    def forget(self) -> None:
        """Drop what was learned (the budget starts again from the configured one)."""
        if self._redis is not None:
            self._redis.delete(self.state_key, self.log_key, self.tat_key, self.pause_key)
        self.budget = self.start_budget

    def _next_member(self) -> str:
        with self._local_lock:
            self._counter += 1
            return f"{self._member_prefix}{threading.get_ident():x}:{self._counter}"

    def _sleep_ms(self, wait_ms: float) -> None:
        if wait_ms > 0:
            self.waited_seconds += wait_ms / 1000
            self.sleep(wait_ms / 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def pacer_from_settings(
    client: redis.Redis | None, token: str, *, rps: float | None = None, environ: dict[str, str] | None = None
) -> RequestPacer:
    """The pacer ``NOTION_PACER`` asks for (see README, "Notion's rate limits").

    ``fixed`` paces at ``rps`` or ``NOTION_RPS`` (2.5); ``learning`` starts from
    ``NOTION_REQUESTS_PER_MINUTE`` or 180/min over ``NOTION_RATE_WINDOW_SECONDS`` (60). Unset, the mode is
    ``learning`` unless ``NOTION_RPS`` (or ``rps``) is given: a deployment that chose a fixed rate keeps it.
    """
    from ssot_pipelines.settings import ConfigurationError

    values = os.environ if environ is None else environ

    def number(name: str, default: float) -> float:
        raw = (values.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not value > 0:
            raise ConfigurationError(f"{name}={raw!r} is not a positive number; set it to one or unset it")
        return value

    raw_mode = (values.get("NOTION_PACER") or "").strip().lower()
    if raw_mode and raw_mode not in (PacerMode.LEARNING, PacerMode.FIXED):
        raise ConfigurationError(
            f"NOTION_PACER={raw_mode!r} is not a pacer mode: set it to 'learning' (learn Notion's budget, the "
            "default) or 'fixed' (NOTION_RPS requests per second)"
        )
    rps_given = rps is not None or bool((values.get("NOTION_RPS") or "").strip())
    mode = PacerMode(raw_mode) if raw_mode else (PacerMode.FIXED if rps_given else PacerMode.LEARNING)
    if mode is PacerMode.FIXED:
        return RequestPacer(client, token, rps=rps if rps is not None else number("NOTION_RPS", 2.5))
    per_minute = number("NOTION_REQUESTS_PER_MINUTE", 0.0)
    return LearningPacer(
        client,
        token,
        requests_per_minute=per_minute or DEFAULT_REQUESTS_PER_MINUTE,
        window_seconds=number("NOTION_RATE_WINDOW_SECONDS", 60.0),
        source="NOTION_REQUESTS_PER_MINUTE" if per_minute else "default",
    )
