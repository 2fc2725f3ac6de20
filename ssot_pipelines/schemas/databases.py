"""The seven SecondBrain databases, declared once."""

from __future__ import annotations

from ssot_pipelines.schemas.model import KEY_PROPERTY, DatabaseSchema, Owner, PropertySpec, PropType

M, H, MIRROR = Owner.MACHINE, Owner.HUMAN, Owner.MIRROR
T = PropType

AGENTS = ("Planner", "Executor", "Reviewer")
PRIORITIES = ("P0", "P1", "P2", "P3")
SEVERITIES = ("blocker", "critical", "major", "minor", "info")


def _key() -> PropertySpec:
    return PropertySpec(KEY_PROPERTY, T.RICH_TEXT, M, description="stable record key; the sync's identity")


FILE_CATALOG = DatabaseSchema(
    name="file_catalog",
    title="File Catalog",
    description="One row per file of the tracked repositories.",
    body_label="none",
    properties=(
        PropertySpec("Path", T.TITLE, M, description="repository-relative path, prefixed by the repo name"),
        _key(),
        PropertySpec("SHA", T.RICH_TEXT, M, description="git blob SHA (git hash-object)"),
        PropertySpec("Type", T.SELECT, M, description="language or kind"),
        PropertySpec("Last Modified", T.DATE, M),
        PropertySpec("Size", T.NUMBER, M, description="bytes"),
        PropertySpec("Preview", T.RICH_TEXT, M, description="first lines of a text file"),
        PropertySpec("Component", T.SELECT, M),
        PropertySpec("Repository", T.SELECT, M),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

DRIFT_BOARD = DatabaseSchema(
    name="drift_board",
    title="Drift Board",
    description="How far each file has drifted from its accepted baseline and its component's spec.",
    body_label="the explanation of the score",
    properties=(
        PropertySpec("Name", T.TITLE, M),
        _key(),
        PropertySpec("File", T.RELATION, M, relation_to="file_catalog"),
        PropertySpec("Component", T.SELECT, M),
        PropertySpec("Drift Score", T.NUMBER, M, number_format="number"),
        PropertySpec("Content Change", T.NUMBER, M),
        PropertySpec("Structural Change", T.NUMBER, M),
        PropertySpec("Semantic Distance", T.NUMBER, M),
        PropertySpec("Churn", T.NUMBER, M),
        PropertySpec("Band", T.SELECT, M, options=("low", "moderate", "high", "critical")),
        PropertySpec(
            "Score Changed",
            T.DATE,
            M,
            description="when the score, a signal, the band or the explanation last changed (not the last analysis)",
        ),
        PropertySpec("Status", T.SELECT, H, options=("New", "Investigating", "Accept baseline", "Accepted")),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

TECH_DEBT = DatabaseSchema(
    name="tech_debt",
    title="Tech-Debt",
    description="Every static-analysis finding, tracked across analyses.",
    body_label="the full message and the code around the finding",
    properties=(
        PropertySpec("Issue", T.TITLE, M, description="rule and short message"),
        _key(),
        PropertySpec("Issue ID", T.RICH_TEXT, M),
        PropertySpec("File", T.RELATION, M, relation_to="file_catalog"),
        PropertySpec("Line", T.NUMBER, M),
        PropertySpec("Tool", T.SELECT, M),
        PropertySpec("Rule", T.RICH_TEXT, M),
        PropertySpec("Severity", T.SELECT, M, options=SEVERITIES),
        PropertySpec("Message", T.RICH_TEXT, M),
        PropertySpec("Status", T.SELECT, M, options=("open", "fixed", "reopened")),
        PropertySpec("First Seen", T.DATE, M),
        PropertySpec(
            "Last Changed",
            T.DATE,
            M,
            description="when the finding's text, place, severity, code or status last changed (not the last import)",
        ),
        PropertySpec("Fixed At", T.DATE, M),
        PropertySpec(
            "Triage",
            T.SELECT,
            H,
            options=("won't fix", "false positive", "accepted"),
            description="a person's decision; never overwritten",
        ),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

CLI_SESSIONS = DatabaseSchema(
    name="cli_sessions",
    title="CLI Sessions",
    description="Every AI-assistant CLI session segment with its full transcript.",
    body_label="the complete transcript, in order",
    properties=(
        PropertySpec("Title", T.TITLE, M),
        _key(),
        PropertySpec("Session ID", T.RICH_TEXT, M),
        PropertySpec("Status", T.SELECT, M, options=("active", "ended", "compacted")),
        PropertySpec("Start Time", T.DATE, M),
        PropertySpec("End Time", T.DATE, M),
        PropertySpec("Previous Session", T.RELATION, M, relation_to="cli_sessions", dual="Next Session"),
        PropertySpec("Next Session", T.RELATION, MIRROR, relation_to="cli_sessions"),
        PropertySpec("Link Kind", T.SELECT, M, options=("compacted", "resumed", "forked", "cleared", "continued")),
        PropertySpec("Tool", T.SELECT, M, options=("claude-code", "codex")),
        PropertySpec("Project Directory", T.RICH_TEXT, M),
        PropertySpec("Branch", T.RICH_TEXT, M),
        PropertySpec("Message Count", T.NUMBER, M),
        PropertySpec("Slack Conversations", T.RELATION, MIRROR, relation_to="slack_conversations"),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

SLACK_CONVERSATIONS = DatabaseSchema(
    name="slack_conversations",
    title="Slack Conversations",
    description="Every Slack conversation (thread or channel day) with its messages.",
    body_label="the messages, in order",
    properties=(
        PropertySpec("Title", T.TITLE, M),
        _key(),
        PropertySpec("Conversation ID", T.RICH_TEXT, M),
        PropertySpec("Channel", T.SELECT, M),
        PropertySpec("Participants", T.MULTI_SELECT, M),
        PropertySpec("Message Count", T.NUMBER, M),
        PropertySpec("Started At", T.DATE, M),
        PropertySpec("Related CLI Sessions", T.RELATION, M, relation_to="cli_sessions", dual="Slack Conversations"),
        PropertySpec("Bridge Evidence", T.RICH_TEXT, M, description="why each related CLI session is linked"),
        PropertySpec("Tasks", T.RELATION, MIRROR, relation_to="task_tracking"),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

TASK_TRACKING = DatabaseSchema(
    name="task_tracking",
    title="Task Tracking",
    description="The agents' work graph: tasks, their dependencies, who holds them, and their activity.",
    body_label="the task's description, then its activity log",
    properties=(
        PropertySpec("Name", T.TITLE, M),
        _key(),
        PropertySpec("Task ID", T.RICH_TEXT, M, description="the id `ssot task` and the MCP tools use"),
        PropertySpec(
            "Status",
            T.SELECT,
            Owner.SHARED,
            options=("todo", "in progress", "blocked", "done"),
            description="moved by agents until a person changes it; a person's blocked holds until a person unblocks",
        ),
        PropertySpec(
            "Assigned Agent",
            T.SELECT,
            Owner.SHARED,
            options=AGENTS,
            description="the role that may claim it; a person's reassignment reaches agents on the next pull",
        ),
        PropertySpec(
            "Priority",
            T.SELECT,
            Owner.SHARED,
            options=PRIORITIES,
            description="P0 first; a person's change reaches agents on the next pull",
        ),
        PropertySpec("Claimed By", T.RICH_TEXT, M, description="the agent holding the lease"),
        PropertySpec(
            "Dependencies",
            T.RELATION,
            M,
            relation_to="task_tracking",
            dual="Dependants",
            description="tasks this one waits for",
        ),
        PropertySpec("Dependants", T.RELATION, MIRROR, relation_to="task_tracking"),
        PropertySpec(
            "SecondBrain Task",
            T.RELATION,
            M,
            relation_to="secondbrain_tasks",
            dual="Implemented By",
            description="the SecondBrain Task this task implements",
        ),
        PropertySpec(
            "CLI Sessions",
            T.RELATION,
            M,
            relation_to="cli_sessions",
            description="the assistant sessions that worked on it",
        ),
        PropertySpec(
            "Slack Conversation",
            T.RELATION,
            M,
            relation_to="slack_conversations",
            dual="Tasks",
            description="the task's Slack thread",
        ),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

SECONDBRAIN_TASKS = DatabaseSchema(
    name="secondbrain_tasks",
    title="SecondBrain Tasks",
    description="Work raised by drift and tech debt: one open task per problem.",
    body_label="why the task was raised",
    properties=(
        PropertySpec("Name", T.TITLE, M),
        _key(),
        PropertySpec(
            "Status",
            T.SELECT,
            Owner.SHARED,
            options=("open", "in progress", "closed", "won't do"),
            description="opened and closed by the machine with its problem, until a person changes it",
        ),
        PropertySpec("Priority", T.SELECT, M, options=PRIORITIES),
        PropertySpec("Assigned Agent", T.SELECT, M, options=AGENTS),
        PropertySpec("Drift Score", T.NUMBER, M),
        PropertySpec("Drift", T.RELATION, M, relation_to="drift_board"),
        PropertySpec("Tech Debt", T.RELATION, M, relation_to="tech_debt"),
        PropertySpec("Problem State", T.SELECT, M, options=("present", "resolved")),
        PropertySpec("Implemented By", T.RELATION, MIRROR, relation_to="task_tracking"),
        PropertySpec("Notes", T.RICH_TEXT, H),
    ),
)

ALL_DATABASES: tuple[DatabaseSchema, ...] = (
    FILE_CATALOG,
    DRIFT_BOARD,
    TECH_DEBT,
    CLI_SESSIONS,
    SLACK_CONVERSATIONS,
    TASK_TRACKING,
    SECONDBRAIN_TASKS,
)
DATABASES: dict[str, DatabaseSchema] = {d.name: d for d in ALL_DATABASES}


def database(name: str) -> DatabaseSchema:
    """Look a schema up by name, with a message that lists the known ones."""
    try:
        return DATABASES[name]
    except KeyError:
        raise KeyError(f"unknown database {name!r}; known: {sorted(DATABASES)}") from None
