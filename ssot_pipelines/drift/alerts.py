"""What the drift sensor acts on: new analyses, the files over threshold, and critical-drift notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ssot_pipelines.drift.baseline import Conn
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.tasks import Problem, drift_problems


class Notifier(Protocol):
    def notify(self, title: str, text: str, *, severity: str, log: Any) -> None: ...


@dataclass
class DriftCheck:
    latest_analysis_id: int
    problems: list[Problem]
    critical: list[Problem]
    open_drift_tasks: int

    @property
    def tasks_need_update(self) -> bool:
        return bool(self.problems) or self.open_drift_tasks > 0


def check_drift(conn: Conn, thresholds: DriftThresholds, *, after_analysis_id: int) -> DriftCheck | None:
    """None when no analysis is newer than ``after_analysis_id``; else the files over threshold now."""
    row = conn.execute("SELECT max(id) AS id FROM drift_analyses").fetchone()
    latest = int(row["id"]) if row and row["id"] is not None else 0
    if latest <= after_analysis_id:
        conn.commit()
        return None
    problems = drift_problems(conn, thresholds)
    critical = [
        p
        for p in problems
        if p.drift_score is not None
        and p.drift_score >= thresholds.critical
        and not _was_critical_before(conn, p.subject_key, thresholds)
    ]
    open_row = conn.execute(
        "SELECT count(*) AS n FROM secondbrain_task_state WHERE kind = 'drift' AND problem_state = 'present'"
    ).fetchone()
    conn.commit()
    return DriftCheck(latest, problems, critical, int(open_row["n"]) if open_row else 0)


def _was_critical_before(conn: Conn, file_key: str, thresholds: DriftThresholds) -> bool:
    """Whether the file's previous score was already critical: it was notified then, not again now."""
    row = conn.execute(
        "SELECT drift_score FROM drift_scores WHERE file_key = %s ORDER BY analysis_id DESC OFFSET 1 LIMIT 1",
        (file_key,),
    ).fetchone()
    return row is not None and float(row["drift_score"]) >= thresholds.critical


def notify_critical_drift(conn: Conn, notifier: Notifier, log: Any, check: DriftCheck) -> int:
    """One notification for the files that became critical in this analysis; returns notifications sent."""
    if not check.critical:
        return 0
    with conn.transaction():
        fresh = [
            p
            for p in check.critical
            if conn.execute(
                "INSERT INTO drift_notifications (analysis_id, file_key) VALUES (%s, %s) ON CONFLICT DO NOTHING"
                " RETURNING file_key",
                (check.latest_analysis_id, p.subject_key),
            ).fetchone()
            is not None
        ]
    conn.commit()
    if not fresh:
        return 0
    lines = [f"- {p.subject_key}: drift score {p.drift_score:.3f}" for p in fresh]
    notifier.notify(
        f"Critical drift in {len(fresh)} file(s)",
        "\n".join(lines) + "\n\nSee the Drift Board for each score's explanation; a SecondBrain task was raised.",
        severity="critical",
        log=log,
    )
    return 1
