"""The Drift Board as a DataFrame: each tracked file's latest score, its signals, and the explanation.

Every value shown moves only with what it describes: "Score Changed" is when the score, a signal, the band or
the explanation last changed, not when an analysis last ran (that stays in the ledger's ``drift_analyses``),
so re-scoring unchanged files writes nothing to Notion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ssot_pipelines.analysis.normalize import catalogued_keys
from ssot_pipelines.drift.baseline import Conn

COLUMNS = [
    "key",
    "Name",
    "File",
    "Component",
    "Drift Score",
    "Content Change",
    "Structural Change",
    "Semantic Distance",
    "Churn",
    "Band",
    "Score Changed",
    "body",
    "priority",
]
DIGITS = 3  # rounding keeps float noise from rewriting unchanged rows


def latest_scores(conn: Conn, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Each file's most recent score row (with its analysis time and when what it shows last changed)."""
    query = (
        "SELECT DISTINCT ON (s.file_key) s.*, a.analyzed_at FROM drift_scores s"
        " JOIN drift_analyses a ON a.id = s.analysis_id"
    )
    params: list[Any] = []
    if keys is not None:
        query += " WHERE s.file_key = ANY(%s)"
        params.append(list(keys))
    query += " ORDER BY s.file_key, s.analysis_id DESC"
    return conn.execute(query, params).fetchall()


def band_counts(conn: Conn) -> dict[str, int]:
    """How many files sit in each band by their latest score (the status page's drift summary)."""
    rows = conn.execute(
        "SELECT band, count(*) AS n FROM (SELECT DISTINCT ON (file_key) band FROM drift_scores"
        " ORDER BY file_key, analysis_id DESC) latest GROUP BY band ORDER BY band"
    ).fetchall()
    return {str(r["band"]): int(r["n"]) for r in rows}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def shown(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the Drift Board shows of a score row: when it differs from the previous row, the score changed."""
    return (
        row["path"],
        row["component"],
        _rounded(row["drift_score"]),
        _rounded(row["content_change"]),
        _rounded(row["structural_change"]),
        _rounded(row["semantic_distance"]),
        _rounded(row["churn"]),
        row["band"],
        row["explanation"],
    )


def drift_board_frame(conn: Conn, keys: Sequence[str]) -> pd.DataFrame:
    """Desired Drift Board rows for the tracked ``keys``; ``sync_mode`` full, so untracked files archive."""
    rows = latest_scores(conn, keys)
    known_files = catalogued_keys(conn, keys)
    records = [
        {
            "key": r["file_key"],
            "Name": r["path"],
            "File": [r["file_key"]] if r["file_key"] in known_files else [],
            "Component": r["component"],
            "Drift Score": _rounded(r["drift_score"]),
            "Content Change": _rounded(r["content_change"]),
            "Structural Change": _rounded(r["structural_change"]),
            "Semantic Distance": _rounded(r["semantic_distance"]),
            "Churn": _rounded(r["churn"]),
            "Band": r["band"],
            "Score Changed": r["changed_at"] or r["analyzed_at"],
            "body": r["explanation"],
            "priority": round(float(r["drift_score"]) * 100),
        }
        for r in rows
    ]
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["sync_mode"] = "full"
    bands: dict[str, int] = {}
    for r in rows:
        bands[r["band"]] = bands.get(r["band"], 0) + 1
    frame.attrs["metadata"] = {"bands": bands}
    return frame
