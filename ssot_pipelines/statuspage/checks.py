"""Does Notion equal the ledger? The verdict of a sync run, computed from what the run already did.

A full sync (reconcile) reads every page of the database back and compares each with the ledger: pages
missing (recreated by the run), keys with more than one page (the extras trashed by the run), machine values
that differ (rewritten by the run). The verdict reports what Notion held *before* the run repaired it, at no
extra request. An incremental run reads nothing back, so its verdict says so and compares ledger figures
only: it passes unless records failed in the run, and it is not recorded as an audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ssot_pipelines.notion.run_history import DatabaseFigures
from ssot_pipelines.notion.sync import SyncReport

CHECK_NAME = "notion_equals_ledger"
CHECK_DESCRIPTION = (
    "Notion equals the ledger: every live row has exactly one page (counts, no duplicate keys) and every "
    "machine-owned value is as pushed. Compared on full syncs from the pages the reconcile reads anyway "
    "(every row, no extra request); incremental runs report ledger figures only."
)


@dataclass(frozen=True)
class CheckVerdict:
    passed: bool
    read_notion: bool  # False: an incremental run, ledger figures only
    summary: str
    figures: dict[str, int] = field(default_factory=dict)


def notion_equals_ledger(report: SyncReport, figures: DatabaseFigures) -> CheckVerdict:
    """The verdict of one run of ``report.database`` (``figures`` read after the run)."""
    if report.read_back_rows < 0:
        passed = report.failed == 0
        return CheckVerdict(
            passed,
            False,
            f"Notion was not read (incremental run; the daily full sync compares every row). Ledger: "
            f"{figures.rows:,} rows in Notion, {figures.pending:,} record(s) pending, "
            f"{report.failed:,} failed in this run.",
            {"ledger_rows": figures.rows, "pending": figures.pending, "failed": report.failed},
        )
    found = {
        "notion_pages_read": report.read_back_rows,
        "ledger_rows": figures.rows,
        "missing": report.recreated,
        "duplicates": report.duplicates,
        "values_differing": report.repaired,
        "failed": report.failed,
    }
    problems = [
        (report.recreated, "row(s) missing in Notion (created again by this run)"),
        (report.duplicates, "duplicate page(s) of one key (the extras trashed by this run)"),
        (report.repaired, "row(s) whose values differed from the ledger (rewritten by this run)"),
        (report.failed, "record(s) failed to sync (Notion still lacks them; see the run's errors)"),
    ]
    wrong = [f"{n:,} {what}" for n, what in problems if n]
    if not wrong:
        # only figures that hold while nothing changes: the status page shows this line, and must not move
        summary = (
            f"Notion equals the ledger ({figures.rows:,} rows): no key missing or duplicated, "
            "every row's values as pushed."
        )
        return CheckVerdict(True, True, summary, found)
    summary = f"Notion differed from the ledger ({report.read_back_rows:,} pages read back): " + "; ".join(wrong) + "."
    return CheckVerdict(False, True, summary, found)
