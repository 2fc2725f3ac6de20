"""The agents' work graph: tasks that Planner, Executor and Reviewer agents claim, work and complete.

The Python API (the same operations as ``ssot task …`` and the ``task_*`` tools of ``ssot mcp``); every
function takes a ledger connection and commits before it returns::

    from ssot_pipelines.ledger import connect, resolve_postgres_url
    from ssot_pipelines import tasks

    conn = connect(resolve_postgres_url())
    plan = tasks.add_task(conn, "Plan the migration", agent="planner-1", role="planner", priority="P1")
    task = tasks.claim(conn, "planner-1", role="planner")      # None when nothing is ready
    tasks.done(conn, task.id, "planner-1", note="plan in docs/plan.md")

Dagster-free and pandas-free; ``ssot_pipelines.tasks.defs`` is the Dagster skin.
"""

from ssot_pipelines.tasks.graph import (
    DEFAULT_LEASE_SECONDS,
    activity,
    add_task,
    approve,
    block,
    claim,
    depend,
    done,
    heartbeat,
    list_tasks,
    note,
    ready,
    release,
    show,
    sweep_leases,
    unblock,
    update_fields,
)
from ssot_pipelines.tasks.model import (
    Activity,
    CycleError,
    NotHolderError,
    Role,
    Status,
    Task,
    TaskError,
    TaskInputError,
    TaskNotFoundError,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Activity",
    "CycleError",
    "NotHolderError",
    "Role",
    "Status",
    "Task",
    "TaskError",
    "TaskInputError",
    "TaskNotFoundError",
    "activity",
    "add_task",
    "approve",
    "block",
    "claim",
    "depend",
    "done",
    "heartbeat",
    "list_tasks",
    "note",
    "ready",
    "release",
    "show",
    "sweep_leases",
    "unblock",
    "update_fields",
]
