"""Progress of a running sync: rows done of total, rate and time left, at most every few seconds.

Cheap by design: one monotonic clock read per row, one line per interval. Lines go to the ``logging``
logger and to an optional callback (the asset wrapper passes Dagster's ``context.log``, the ``ssot``
commands print them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("ssot_pipelines.notion.sync")

ProgressCallback = Callable[[str], None]
PROGRESS_INTERVAL_SECONDS = 10.0


class SyncProgress:
    """Counts rows of one sync and reports every ``interval`` seconds while it runs."""

    def __init__(
        self,
        database: str,
        total: int,
        callback: ProgressCallback | None = None,
        *,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self.database = database
        self.total = total
        self.callback = callback
        self.interval = interval
        self.done = 0
        self.started = time.monotonic()
        self._last = self.started

    def step(self, rows: int = 1) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.emit(now)

    def read_so_far(self, pages: int) -> None:
        """A read of unknown length (Notion's pages of a database): report how far it got."""
        self.total = pages
        self.step(pages - self.done)

    def add(self, rows: int) -> None:
        """More rows joined the work (archives, a deferred pass)."""
        self.total += rows

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        eta = f"about {_duration(left / rate)} left" if rate > 0 else "time left unknown"
        return f"{self.database}: {self.done} of {self.total} rows in {_duration(elapsed)}, {rate:.1f} rows/s, {eta}"

    def emit(self, now: float | None = None) -> None:
        text = self.line(now)
        log.info(text)
        if self.callback is not None:
            try:
                self.callback(text)
            except Exception:  # a broken progress sink must never fail the sync
                log.debug("progress callback failed", exc_info=True)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
