"""The questions unified search asks of Tech-Debt findings (``ssot_pipelines.search``): findings by rule,
path and message, full-text or by exact rule code or issue id, described with their neighbours in the file."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.search.model import CONTEXT, Doc

Connection = Any
DATABASE = "tech_debt"
_TSV = (
    "to_tsvector('english', regexp_replace(rule || ' ' || path, '[/._:-]', ' ', 'g') || ' ' || message"
    " || ' ' || coalesce(hint, ''))"
)


def fulltext_refs(conn: Connection, tsquery: str, limit: int) -> list[str]:
    """Issue ids whose rule, path, message or hint match ``tsquery``, best first (open ones first)."""
    rows = conn.execute(
        f"SELECT issue_id::text AS ref, ts_rank_cd({_TSV}, q) AS rank FROM analysis_issues"
        f" CROSS JOIN to_tsquery('english', %s) q WHERE {_TSV} @@ q"
        " ORDER BY status IN ('open', 'reopened') DESC, rank DESC, 1 LIMIT %s",
        (tsquery, limit),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def exact_refs(conn: Connection, text: str) -> list[str]:
    """Findings whose rule code is ``text`` (``ruff:F401`` or ``F401``) or whose issue id is ``text``."""
    rows = conn.execute(
        "SELECT issue_id::text AS ref FROM analysis_issues WHERE issue_id::text = lower(%s) OR rule = %s"
        " OR split_part(rule, ':', 2) = %s ORDER BY status IN ('open', 'reopened') DESC, path, line LIMIT 20",
        (text, text, text),
    ).fetchall()
    conn.commit()
    return [str(r["ref"]) for r in rows]


def _line(r: dict[str, Any]) -> str:
    where = f"{r['path']}:{r['line']}" if r["line"] is not None else r["path"]
    return f"{r['rule']} ({r['severity']}, {r['status']}) at {where}: {r['message']}"


def describe(conn: Connection, ref: str, around: int = CONTEXT) -> Doc | None:
    """The finding ``ref`` (with its source context) and ``around`` findings either side in the same file."""
    row = conn.execute("SELECT * FROM analysis_issues WHERE issue_id::text = %s", (ref,)).fetchone()
    if row is None:
        conn.commit()
        return None
    same_file = conn.execute(
        "SELECT * FROM analysis_issues WHERE repo = %s AND path = %s ORDER BY line NULLS FIRST, issue_id",
        (row["repo"], row["path"]),
    ).fetchall()
    conn.commit()
    at = next(i for i, r in enumerate(same_file) if str(r["issue_id"]) == ref)
    matched = [_line(row)] + ([row["context"]] if row["context"] else []) + ([row["hint"]] if row["hint"] else [])
    return Doc(
        "tech_debt",
        ref,
        f"{row['rule']} in {row['path']}",
        DATABASE,
        ref,
        matched,
        [_line(r) for r in same_file[max(0, at - around) : at]],
        [_line(r) for r in same_file[at + 1 : at + 1 + around]],
    )
