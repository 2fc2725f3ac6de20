"""What the "SSoT Status" page says, section by section, as plain text (no Notion, no Dagster here).

Each section becomes one block of the page. A section's text moves only with what it describes (no "updated
N seconds ago", no time of a run that had nothing to do, no time of an audit that found what the last one
found), so a refresh rewrites only the blocks whose figures changed -- usually the one database that just
synced -- and a run with nothing to do writes nothing. The times of every run are in Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ssot_pipelines.notion.audits import Audit, last_audits
from ssot_pipelines.notion.run_history import DatabaseFigures, database_figures
from ssot_pipelines.schemas import ALL_DATABASES

INTRO = "intro"
DRIFT = "drift"
HOOKS = "hooks"
BUDGET = "budget"
SERVICES = "services"
BLOCK_LIMIT = "block_limit"
FAILURES = "failures"
SHOWN_FAILURES = 3


@dataclass(frozen=True)
class Section:
    """One block of the page: a bold title, then lines of text."""

    name: str
    title: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def database_section_name(database: str) -> str:
    return f"db:{database}"


def section_names() -> list[str]:
    """The page's skeleton, in order: it never changes between runs, so blocks are created once."""
    return [
        INTRO,
        *(database_section_name(s.name) for s in ALL_DATABASES),
        DRIFT,
        HOOKS,
        BUDGET,
        SERVICES,
        BLOCK_LIMIT,
        FAILURES,
    ]


def when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def database_lines(figures: DatabaseFigures, audit: Audit | None) -> tuple[str, ...]:
    run = figures.last_run
    last = (
        "Last sync that changed Notion: none yet"
        if run is None
        else f"Last sync that changed Notion: {when(run.finished_at)}, {run.mode}"
    )
    f = run.figures if run else {}
    counts = (
        f"Rows in Notion: {figures.rows:,}. Last run: {f.get('created', 0):,} created, {f.get('updated', 0):,} "
        f"updated, {f.get('archived', 0):,} archived, {f.get('failed', 0):,} failed"
    )
    requests = f"Requests: {f.get('requests', 0):,}, rate-limited (429): {f.get('rate_limited', 0):,}"
    if figures.pending == 0 or figures.oldest_pending is None:
        lag = "Lag: none, every change is in Notion"
    else:
        at_sync = f" ({_duration(figures.lag_seconds(run.finished_at))} behind at the last sync)" if run else ""
        lag = (
            f"Lag: {figures.pending:,} record(s) not yet in Notion; the oldest change is from "
            f"{when(figures.oldest_pending)}{at_sync}"
        )
    if audit is None:
        checked = "Last audit: none yet (a full sync or `ssot verify` audits it)"
    else:
        verdict = "passed" if audit.ok else "FAILED"
        checked = f"Last audit: {verdict} ({audit.source}): {audit.summary}"
    return (last, counts, requests, lag, checked)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def database_sections(conn: psycopg.Connection[Any], target: str) -> list[Section]:
    audits = last_audits(conn, target)
    return [
        Section(
            database_section_name(schema.name),
            f"{schema.title} ({schema.name})",
            database_lines(database_figures(conn, target, schema.name), audits.get(schema.name)),
        )
        for schema in ALL_DATABASES
    ]


def drift_section(bands: Mapping[str, int]) -> Section:
    if not bands:
        return Section(DRIFT, "Drift", ("No drift analysis yet (the drift_board asset scores every tracked file)",))
    shown = ", ".join(f"{n:,} {band}" for band, n in sorted(bands.items()))
    return Section(DRIFT, "Drift", (f"{sum(bands.values()):,} files by band: {shown}",))


def hooks_section(journal_bytes_pending: int, quarantined: int) -> Section:
    return Section(
        HOOKS,
        "Hook journal",
        (
            f"Backlog: {journal_bytes_pending:,} journal bytes not yet in the ledger (this machine)",
            f"Quarantined events: {quarantined:,}" + (" (`ssot worker --show-quarantine`)" if quarantined else ""),
        ),
    )


def budget_section(described: Mapping[str, Any]) -> Section:
    """The pacer's own description (``pacer.describe()``), shown as it says it."""
    rate = described.get("requests_per_minute")
    first = f"{rate} requests/minute" if rate is not None else "unknown rate"
    how = "learned from Notion's answers" if described.get("learned") else f"{described.get('mode', 'fixed')}"
    lines = [f"{first} ({how}; source: {described.get('source', 'unknown')})"]
    paused = described.get("workspace_paused_until")
    if paused:
        lines.append(f"Workspace rate limit: paused until {paused}")
    extra = {k: v for k, v in described.items() if k not in _BUDGET_SHOWN}
    lines += [f"{k}: {v}" for k, v in sorted(extra.items())]
    return Section(BUDGET, "Notion request budget", tuple(lines))


_BUDGET_SHOWN = {"requests_per_minute", "learned", "mode", "source", "workspace_paused_until"}


def services_section(parts: Sequence[tuple[str, str, str]]) -> Section:
    """(part, embedded|configured, where) per service; ``where`` is already redacted (never a secret)."""
    return Section(SERVICES, "Services in use", tuple(f"{part}: {mode}, {where}" for part, mode, where in parts))


def block_limit_section(lines: Sequence[str]) -> Section:
    return Section(BLOCK_LIMIT, "Notion block limit", tuple(lines))


def failures_section(failures: Sequence[Mapping[str, Any]]) -> Section:
    if not failures:
        return Section(FAILURES, "Failed runs", ("none recorded",))
    lines = []
    for f in failures[:SHOWN_FAILURES]:
        message = " ".join(str(f["message"]).split())
        shown = message if len(message) <= 300 else message[:299] + "…"  # display only; Dagster keeps it whole
        lines.append(f"{when(f['failed_at'])}: {f['job_name']} (run {str(f['run_id'])[:8]}): {shown}")
    return Section(FAILURES, "Failed runs (latest first)", tuple(lines))


def intro_section() -> Section:
    return Section(
        INTRO,
        "SSoT Status",
        (
            "Written by ssot_pipelines after every sync run and every failed run; rewritten in place "
            "(edits here are overwritten). Refresh by hand: `ssot statuspage`.",
        ),
    )
