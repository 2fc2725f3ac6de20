"""Seeded fault injection, applied to /v1/ only (rate limits are in ``ratelimit.py``)."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ApiError
from .ratelimit import WORKSPACE_REASON, rate_limited


@dataclass
class FaultConfig:
    """Probabilities in [0, 1] of each injected failure; ``seed`` makes a failing run replayable.

    One uniform draw per /v1/ request is compared with the cumulative probabilities in field order, so
    the kinds are mutually exclusive. ``conflict_409`` and ``unavailable_503_after_commit`` only fire on
    writes (a read that draws them is answered normally). ``slow`` is drawn independently and delays
    the response by ``slow_seconds`` before it is answered (or failed) as usual.
    """

    conflict_409: float = 0
    rate_limited_429: float = 0
    error_500: float = 0
    bad_gateway_502_html: float = 0
    unavailable_503: float = 0
    unavailable_503_after_commit: float = 0
    gateway_timeout_504: float = 0
    overload_529: float = 0
    slow: float = 0
    slow_seconds: float = 2.0
    retry_after_seconds: int = 1
    seed: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(known)}")
        config = cls(**data)
        for name in (*_FAULT_KINDS, "slow"):
            p = getattr(config, name)
            if not isinstance(p, int | float) or not 0 <= p <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
        return config

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Checked in this order against one uniform draw per request, so a seed replays the same sequence.
_FAULT_KINDS = (
    "conflict_409",
    "rate_limited_429",
    "error_500",
    "bad_gateway_502_html",
    "unavailable_503",
    "unavailable_503_after_commit",
    "gateway_timeout_504",
    "overload_529",
)

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class FaultDecision:
    kind: str | None
    slow_seconds: float


class FaultInjector:
    """Draws the fault (if any) for each /v1/ request from a seeded generator."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig | None) -> None:
        with self._lock:
            self.config = config or FaultConfig()
            self._rng = random.Random(self.config.seed)

    def decide(self) -> FaultDecision:
        with self._lock:
            config = self.config
            if not any(getattr(config, k) for k in _FAULT_KINDS) and not config.slow:
                return FaultDecision(None, 0.0)
            draw, slow_draw = self._rng.random(), self._rng.random()
        threshold = 0.0
        kind: str | None = None
        for name in _FAULT_KINDS:
            threshold += float(getattr(config, name))
            if draw < threshold:
                kind = name
                break
        return FaultDecision(kind, config.slow_seconds if slow_draw < config.slow else 0.0)

    def error_for(self, kind: str) -> ApiError:
        """The response Notion (or its gateway) gives for an injected fault of ``kind``."""
        retry_after = str(max(1, int(self.config.retry_after_seconds)))
        if kind == "conflict_409":
            return ApiError(409, "conflict_error", "Conflict occurred while saving. Please try again.")
        if kind == "rate_limited_429":
            return rate_limited(retry_after, WORKSPACE_REASON)
        if kind == "error_500":
            return ApiError(500, "internal_server_error", "Unexpected error occurred.")
        if kind == "unavailable_503":
            return ApiError(
                503,
                "service_unavailable",
                "Notion is unavailable, please try again later. This can occur when the time to "
                "respond to a request takes longer than 60 seconds.",
            )
        if kind == "gateway_timeout_504":
            return ApiError(
                504,
                "gateway_timeout",
                "Notion timed out while attempting to complete this request. Please try again later.",
            )
        if kind == "overload_529":
            return ApiError(
                529,
                "service_overload",
                "Notion is experiencing high load. Please try again later.",
                headers={"Retry-After": retry_after},
            )
        raise ValueError(kind)


def committed_503(resource_id: str | None) -> ApiError:
    """A 503 whose write has been saved: callers must read back before retrying."""
    return ApiError(
        503,
        "service_unavailable",
        "Notion is unavailable, please try again later.",
        {"committed_resource_id": resource_id, "retry_guidance": ["Read the resource back before retrying the write"]},
    )
