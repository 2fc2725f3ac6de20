"""A small real codebase for the linters, in two versions, and helpers to read the ledger's issues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GEOMETRY_V1 = '''"""Geometry helpers."""
import os
import sys


def area(width, height):
    """Area of a rectangle."""
    unused = width
    return width * height


def perimeter(width, height):
    """Perimeter of a rectangle."""
    total = 0
    return 2 * (width + height)
'''

# v2: the two functions swap places (every finding in them moves), ``import sys`` is gone (one fix),
# and a new function brings a new unused variable (one new issue).
GEOMETRY_V2 = '''"""Geometry helpers."""
import os


def perimeter(width, height):
    """Perimeter of a rectangle."""
    total = 0
    return 2 * (width + height)


def area(width, height):
    """Area of a rectangle."""
    unused = width
    return width * height


def volume(width, height, depth):
    """Volume of a box."""
    spare = depth
    return width * height * depth
'''

UNITS = '''"""Unit conversions."""
import math


def to_radians(degrees):
    """Degrees to radians."""
    return degrees * math.pi / 180
'''


def write_codebase(root: Path, geometry: str = GEOMETRY_V1) -> Path:
    (root / "shapes").mkdir(parents=True, exist_ok=True)
    (root / "shapes" / "__init__.py").write_text('"""Shapes."""\n')
    (root / "shapes" / "geometry.py").write_text(geometry)
    (root / "shapes" / "units.py").write_text(UNITS)
    return root


def issues_by_id(conn: Any, tool: str | None = None) -> dict[str, dict[str, Any]]:
    where, params = ("WHERE tool = %s", [tool]) if tool else ("", [])
    rows = conn.execute(
        f"SELECT issue_id::text AS id, * FROM analysis_issues {where} ORDER BY path, line", params
    ).fetchall()
    conn.commit()
    return {r["id"]: r for r in rows}


def extract_context(sync: Any, ledger: Any, ledger_url: str, redis_url: str) -> Any:
    """The ExtractContext an asset run would build, with real services and the hashing embedder."""
    import logging

    import redis

    from ssot_pipelines.notion.extract import ExtractContext, SyncOptions
    from ssot_pipelines.resources.notifier import NotifierResource
    from ssot_pipelines.vectors.hashing import HashingEmbedder

    return ExtractContext(
        config=SyncOptions(),
        log=logging.getLogger("ssot.test"),
        ledger=ledger,
        redis=redis.Redis.from_url(redis_url),
        postgres_url=ledger_url,
        vectors=lambda: None,
        embedder=HashingEmbedder,
        notifier=NotifierResource(),
        run_id="test",
        sync=sync,
    )


def select_value(page: dict[str, Any], prop: str) -> str | None:
    value = page["properties"][prop]["select"]
    return value["name"] if value else None


def set_select(client: Any, page_id: str, prop: str, option: str) -> None:
    client.pages.update(page_id, properties={prop: {"select": {"name": option}}})


def set_text(client: Any, page_id: str, prop: str, text: str) -> None:
    client.pages.update(page_id, properties={prop: {"rich_text": [{"type": "text", "text": {"content": text}}]}})
