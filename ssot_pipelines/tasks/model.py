"""The work graph's vocabulary: task status, agent role, priority, the task record and the errors.

Dagster- and pandas-free: the CLI and the MCP server import this on every call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a task stands. ``in_progress`` always means "claimed, under a lease"."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"  # a staged task withdrawn from its source; never shown in Notion

    @property
    def notion(self) -> str:
        """The Task Tracking Status option for this status."""
        return self.value.replace("_", " ")

    @classmethod
    def parse(cls, text: str) -> Status:
        value = text.strip().lower().replace(" ", "_").replace("-", "_")
        try:
            return cls(value)
        except ValueError:
            raise TaskInputError(f"unknown status {text!r}; use one of {', '.join(s.value for s in cls)}") from None


class Role(StrEnum):
    PLANNER = "planner"
    EXECUTOR = "executor"
    REVIEWER = "reviewer"

    @property
    def notion(self) -> str:
        """The Task Tracking "Assigned Agent" option for this role."""
        return self.value.capitalize()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise TaskInputError(f"unknown role {text!r}; use planner, executor or reviewer") from None


PRIORITIES = ("P0", "P1", "P2", "P3")  # P0 first


def parse_priority(text: str | int) -> int:
    """0..3 from ``P0``..``P3`` (or the bare digit)."""
    value = str(text).strip().upper().removeprefix("P")
    if value in ("0", "1", "2", "3"):
        return int(value)
    raise TaskInputError(f"unknown priority {text!r}; use P0 (most urgent), P1, P2 or P3")


class TaskError(Exception):
    """An operation on the work graph was refused; the message says why and what to do."""


class TaskInputError(TaskError):
    """A value given to the work graph is not valid."""


class TaskNotFoundError(TaskError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"no task {task_id}; `ssot task list` shows the tasks")
        self.task_id = task_id


class NotHolderError(TaskError):
    """Only the agent holding a task's lease may heartbeat, release or complete it."""


class CycleError(TaskError):
    """A dependency that would make tasks wait for each other forever."""

    def __init__(self, cycle: list[int]) -> None:
        path = " → ".join(str(i) for i in cycle)
        super().__init__(
            f"refused: task {cycle[0]} depending on task {cycle[1]} would close the cycle {path} "
            "(each task waits for the next, so none could ever start)"
        )
        self.cycle = cycle


@dataclass
class Activity:
    id: int
    task_id: int
    at: datetime
    agent: str
    role: str | None
    kind: str
    note: str | None
    session_id: str | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data

    def line(self) -> str:
        """One readable line: time, who, what, the note, the session."""
        who = f"{self.agent} ({self.role})" if self.role else self.agent
        text = f"{self.at.strftime('%Y-%m-%d %H:%M:%S')} UTC  {who}  {self.kind.replace('_', ' ')}"
        if self.note:
            text += f": {self.note}"
        if self.session_id:
            text += f"  [session {self.session_id}]"
        return text


@dataclass
class Task:
    id: int
    key: str
    title: str
    body: str
    role: str | None
    priority: str
    status: str
    parent_id: int | None
    implements: str | None
    requires_approval: bool
    approved_at: datetime | None
    approved_by: str | None
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    blocked_by: str | None
    person_blocked: bool
    block_reason: str | None
    done_note: str | None
    done_at: datetime | None
    created_at: datetime
    updated_at: datetime
    depends_on: list[dict[str, Any]] = field(default_factory=list)
    dependants: list[dict[str, Any]] = field(default_factory=list)
    activity: list[Activity] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Task:
        return cls(
            id=row["id"],
            key=notion_key(row["id"], row["external_key"]),
            title=row["title"],
            body=row["body"],
            role=row["role"],
            priority=PRIORITIES[row["priority"]],
            status=row["status"],
            parent_id=row["parent_id"],
            implements=row["implements"],
            requires_approval=row["requires_approval"],
            approved_at=row["approved_at"],
            approved_by=row["approved_by"],
            claimed_by=row["claimed_by"],
            lease_until=row["lease_until"],
            attempts=row["attempts"],
            blocked_by=row["blocked_by"],
            person_blocked=row["person_blocked"],
            block_reason=row["block_reason"],
            done_note=row["done_note"],
            done_at=row["done_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name, value in data.items():
            if isinstance(value, datetime):
                data[name] = value.isoformat()
        data["activity"] = [a.as_dict() for a in self.activity]
        return data


def notion_key(task_id: int, external_key: str | None) -> str:
    """The task's key in Notion: a staged record keeps its own key, an API task is ``task-<id>``."""
    return external_key or f"task-{task_id}"
