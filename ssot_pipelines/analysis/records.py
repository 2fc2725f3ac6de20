"""The Tech-Debt database as a DataFrame: one row per tracked issue (the sync contract in ARCHITECTURE.md).

Every value moves only with the finding: "Last Changed" is when what the row shows last changed, so
re-importing an unchanged report writes nothing to Notion; when an analysis last saw the issue
(``last_seen``, ``last_run_id``) is run bookkeeping and stays in the ledger.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ssot_pipelines.analysis.normalize import catalogued_keys, file_catalog_key
from ssot_pipelines.analysis.store import Conn, issue_rows

TITLE_MESSAGE_CHARS = 80  # only the title is short; the full message is in "Message" and the body
_NOTION_STATUS = {"open": "open", "fixed": "fixed", "reopened": "reopened", "removed": "fixed"}
COLUMNS = [
    "key",
    "Issue",
    "Issue ID",
    "File",
    "Line",
    "Tool",
    "Rule",
    "Severity",
    "Message",
    "Status",
    "First Seen",
    "Last Changed",
    "Fixed At",
    "body",
    "priority",
]
_SEVERITY_PRIORITY = {"blocker": 50, "critical": 40, "major": 30, "minor": 20, "info": 10}


def issue_title(rule: str, message: str) -> str:
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    short = first_line if len(first_line) <= TITLE_MESSAGE_CHARS else first_line[: TITLE_MESSAGE_CHARS - 1] + "…"
    return f"{rule}: {short}" if short else rule


def issue_body(row: dict[str, Any]) -> str:
    """The page body: the full message, the tool's hint, where it is and the code around it."""
    parts = [row["message"]]
    if row.get("hint"):
        parts.append(f"Hint:\n{row['hint']}")
    where = f"{row['path']}:{row['line']}" if row.get("line") else row["path"]
    if row.get("scope"):
        where += f" (in {row['scope']})"
    parts.append(f"Location: {where}")
    if row["status"] == "removed":
        parts.append("The file is gone, so the issue was closed with it.")
    if row.get("tool_status"):
        parts.append(f"The tool itself reports this finding as {row['tool_status'].replace('_', ' ')}.")
    if row.get("reopen_count"):
        parts.append(f"Reopened {row['reopen_count']} time(s).")
    if row.get("context"):
        parts.append(f"Code:\n{row['context']}")
    return "\n\n".join(parts)


def in_repository(path: str) -> bool:
    return not path.startswith("/")


def tech_debt_frame(conn: Conn) -> pd.DataFrame:
    """Every tracked issue as a desired Tech-Debt row; ``sync_mode`` full (issues are never deleted)."""
    rows = issue_rows(conn)
    file_keys = {
        row["issue_key"]: file_catalog_key(row["path"], row["repo"]) for row in rows if in_repository(row["path"])
    }
    known_files = catalogued_keys(conn, file_keys.values())
    records = [
        {
            "key": row["issue_key"],
            "Issue": issue_title(row["rule"], row["message"]),
            "Issue ID": row["issue_key"],
            "File": [file_keys[row["issue_key"]]] if file_keys.get(row["issue_key"]) in known_files else [],
            "Line": row["line"],
            "Tool": row["tool"],
            "Rule": row["rule"],
            "Severity": row["severity"],
            "Message": row["message"],
            "Status": _NOTION_STATUS[row["status"]],
            "First Seen": row["first_seen"],
            "Last Changed": row["changed_at"],
            "Fixed At": row["fixed_at"],
            "body": issue_body(row),
            "priority": _SEVERITY_PRIORITY[row["severity"]] + (5 if row["status"] != "fixed" else 0),
        }
        for row in rows
    ]
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["sync_mode"] = "full"
    frame.attrs["metadata"] = {
        "open issues": sum(1 for r in rows if r["status"] in ("open", "reopened")),
        "fixed issues": sum(1 for r in rows if r["status"] in ("fixed", "removed")),
    }
    return frame
