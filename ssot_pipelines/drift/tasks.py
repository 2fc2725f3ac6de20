"""SecondBrain Tasks raised by drift and by blocker/critical tech debt: one task per problem, kept true.

Each problem has a stable task key (``drift:<file key>``, ``debt:<issue id>``), so a problem never gets
two tasks. When the problem goes away the task closes by itself (Status "closed", "Problem State"
resolved); when it comes back the same task opens again. Status is a shared property: once a person
changes it in Notion the sync never overwrites it. A task a person moved to "in progress" or "won't do" is
theirs entirely: it is left out of the desired rows, so no sync (incremental or reconcile) touches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from ssot_pipelines.drift.baseline import Conn
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.notion.desired import human_values_all

DATABASE = "secondbrain_tasks"
COLUMNS = [
    "key",
    "Name",
    "Status",
    "Priority",
    "Assigned Agent",
    "Drift Score",
    "Drift",
    "Tech Debt",
    "Problem State",
    "body",
    "priority",
]
_DEBT_PRIORITY = {"blocker": "P0", "critical": "P1"}
_TRIAGED = ("won't fix", "false positive", "accepted")


@dataclass(frozen=True)
class Problem:
    task_key: str
    kind: str  # drift | tech_debt
    subject_key: str  # the Drift Board or Tech-Debt key
    name: str
    priority: str
    assigned_agent: str
    drift_score: float | None
    reason: str


@dataclass
class TaskChanges:
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    recurred: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def drift_problems(conn: Conn, thresholds: DriftThresholds, keys: Sequence[str] | None = None) -> list[Problem]:
    """Files at or above ``critical`` now, or at or above ``drifting`` in their last ``consecutive`` scores."""
    rows = conn.execute(
        "SELECT file_key, path, drift_score, band, n FROM ("
        " SELECT file_key, path, drift_score, band,"
        " row_number() OVER (PARTITION BY file_key ORDER BY analysis_id DESC) AS n FROM drift_scores"
        + (" WHERE file_key = ANY(%s)" if keys is not None else "")
        + ") recent WHERE n <= %s ORDER BY file_key, n",
        ([list(keys)] if keys is not None else []) + [thresholds.consecutive],
    ).fetchall()
    history: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        history.setdefault(r["file_key"], []).append(r)
    problems = []
    for key, scores in history.items():
        latest = float(scores[0]["drift_score"])  # type: ignore[arg-type]
        persistent = len(scores) >= thresholds.consecutive and all(
            float(s["drift_score"]) >= thresholds.drifting  # type: ignore[arg-type]
            for s in scores
        )
        if latest >= thresholds.critical or persistent:
            critical = latest >= thresholds.critical
            why = (
                f"drift score {latest:.3f} ≥ {thresholds.critical} (critical)"
                if critical
                else f"drift score ≥ {thresholds.drifting} for {thresholds.consecutive} analyses in a row "
                f"(latest {latest:.3f})"
            )
            problems.append(
                Problem(
                    f"drift:{key}",
                    "drift",
                    key,
                    f"Resolve drift in {scores[0]['path']}",
                    "P1" if critical else "P2",
                    "Planner",
                    round(latest, 3),
                    f"{scores[0]['path']} has drifted from its accepted baseline: {why}. Bring the file back in line "
                    "with its component's spec, or accept its current state as the new baseline (Drift Board "
                    'Status "Accept baseline", or `ssot drift accept PATH`).',
                )
            )
    return problems


def tech_debt_problems(conn: Conn) -> list[Problem]:
    """Open blocker/critical issues that neither the tool nor a person (Tech-Debt "Triage") set aside."""
    triage = human_values_all(conn, "tech_debt")
    rows = conn.execute(
        "SELECT issue_id::text AS key, rule, path, line, severity, message FROM analysis_issues"
        " WHERE status IN ('open', 'reopened') AND severity IN ('blocker', 'critical') AND tool_status IS NULL"
        " ORDER BY path, line"
    ).fetchall()
    problems = []
    for r in rows:
        if triage.get(r["key"], {}).get("Triage") in _TRIAGED:
            continue
        where = f"{r['path']}:{r['line']}" if r["line"] else r["path"]
        problems.append(
            Problem(
                f"debt:{r['key']}",
                "tech_debt",
                r["key"],
                f"Fix {r['severity']} {r['rule']} in {where}",
                _DEBT_PRIORITY[r["severity"]],
                "Executor",
                None,
                f"{r['severity'].capitalize()} finding {r['rule']} at {where}: {r['message']}",
            )
        )
    return problems


MACHINE_STATUSES = (None, "", "open", "closed")


def held_by_people(conn: Conn) -> set[str]:
    """Tasks a person took over (Status "in progress", "won't do", ...): the machine leaves them alone."""
    return {
        key for key, values in human_values_all(conn, DATABASE).items() if values.get("Status") not in MACHINE_STATUSES
    }


def reconcile_tasks(
    conn: Conn,
    problems: Sequence[Problem],
    *,
    kinds: Sequence[str] = ("drift", "tech_debt"),
    now: datetime | None = None,
) -> TaskChanges:
    """Make the task ledger match the current problems of ``kinds``; commit."""
    now = now or datetime.now(UTC)
    held = held_by_people(conn)
    existing = {
        r["task_key"]: r
        for r in conn.execute(
            "SELECT task_key, problem_state FROM secondbrain_task_state WHERE kind = ANY(%s)", (list(kinds),)
        ).fetchall()
    }
    changes = TaskChanges(held=sorted(held & ({p.task_key for p in problems} | set(existing))))
    current = {p.task_key for p in problems}
    with conn.transaction(), conn.cursor() as cur:
        for p in problems:
            if p.task_key in held:
                continue
            before = existing.get(p.task_key)
            if before is None:
                changes.opened.append(p.task_key)
            elif before["problem_state"] == "resolved":
                changes.recurred.append(p.task_key)
            cur.execute(
                "INSERT INTO secondbrain_task_state (task_key, kind, subject_key, name, priority, assigned_agent,"
                " drift_score, problem_state, reason, opened_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, 'present', %s, %s, %s) ON CONFLICT (task_key) DO UPDATE SET"
                " name = EXCLUDED.name, priority = EXCLUDED.priority, assigned_agent = EXCLUDED.assigned_agent,"
                " drift_score = EXCLUDED.drift_score, problem_state = 'present', reason = EXCLUDED.reason,"
                " resolved_at = NULL, updated_at = EXCLUDED.updated_at",
                (
                    p.task_key,
                    p.kind,
                    p.subject_key,
                    p.name,
                    p.priority,
                    p.assigned_agent,
                    p.drift_score,
                    p.reason,
                    now,
                    now,
                ),
            )
        gone = [
            k for k, r in existing.items() if k not in current and r["problem_state"] == "present" and k not in held
        ]
        if gone:
            cur.execute(
                "UPDATE secondbrain_task_state SET problem_state = 'resolved', resolved_at = %s, updated_at = %s,"
                " drift_score = CASE WHEN kind = 'drift' THEN 0 ELSE drift_score END"
                " WHERE task_key = ANY(%s)",
                (now, now, gone),
            )
            changes.resolved.extend(sorted(gone))
    conn.commit()
    return changes


def tasks_frame(conn: Conn) -> pd.DataFrame:
    """Desired rows for every task no person has taken over; ``sync_mode`` incremental (never archives)."""
    held = held_by_people(conn)
    rows = conn.execute("SELECT * FROM secondbrain_task_state ORDER BY task_key").fetchall()
    records = []
    for r in rows:
        if r["task_key"] in held:
            continue
        state = r["problem_state"]
        body = r["reason"] + (
            f"\n\nResolved automatically at {r['resolved_at'].isoformat()}: the problem is gone."
            if state == "resolved" and r["resolved_at"]
            else ""
        )
        records.append(
            {
                "key": r["task_key"],
                "Name": r["name"],
                "Status": "open" if state == "present" else "closed",
                "Priority": r["priority"],
                "Assigned Agent": r["assigned_agent"],
                "Drift Score": r["drift_score"],
                "Drift": [r["subject_key"]] if r["kind"] == "drift" else [],
                "Tech Debt": [r["subject_key"]] if r["kind"] == "tech_debt" else [],
                "Problem State": state,
                "body": body,
                "priority": (100 if state == "present" else 0) + (10 - int(r["priority"][1])),
            }
        )
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["sync_mode"] = "incremental"
    frame.attrs["vanished"] = []
    frame.attrs["metadata"] = {
        "held by people": len(held),
        "present": sum(1 for r in records if r["Problem State"] == "present"),
    }
    return frame
