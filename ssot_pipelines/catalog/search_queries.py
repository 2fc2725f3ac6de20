"""The questions unified search asks of the File Catalog (``ssot_pipelines.search``): files by path,
component and preview, full-text or by exact path/key, described with their preview in full."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.search.model import CONTEXT, Doc

Connection = Any
DATABASE = "file_catalog"
_TSV = (
    "to_tsvector('english', regexp_replace(path, '[/._-]', ' ', 'g') || ' ' || coalesce(component, '')"
    " || ' ' || left(coalesce(preview, ''), 200000))"
)


def fulltext_refs(conn: Connection, tsquery: str, limit: int) -> list[str]:
    """File keys whose path, component or preview match ``tsquery``, best first."""
    rows = conn.execute(
        f"SELECT key, ts_rank_cd({_TSV}, q) AS rank FROM catalog_files CROSS JOIN to_tsquery('english', %s) q"
        f" WHERE {_TSV} @@ q ORDER BY rank DESC, key LIMIT %s",
        (tsquery, limit),
    ).fetchall()
    conn.commit()
    return [str(r["key"]) for r in rows]


def exact_refs(conn: Connection, text: str) -> list[str]:
    """The file whose key (``<repo>/<path>``) or repo-relative path is ``text``."""
    rows = conn.execute(
        "SELECT key FROM catalog_files WHERE key = %s OR path = %s ORDER BY key LIMIT 3", (text, text)
    ).fetchall()
    conn.commit()
    return [str(r["key"]) for r in rows]


def describe(conn: Connection, ref: str, around: int = CONTEXT) -> Doc | None:
    """The file ``ref``: its facts, then its preview's paragraphs (the first ``2 * around + 1``... all kept)."""
    row = conn.execute(
        "SELECT key, path, repo, file_type, component, size, preview FROM catalog_files WHERE key = %s", (ref,)
    ).fetchone()
    conn.commit()
    if row is None:
        return None
    facts = (
        f"{row['path']} in {row['repo']} · {row['file_type']} · {row['size']} bytes · component "
        f"{row['component'] or '(none)'}"
    )
    preview = [p for p in (row["preview"] or "").split("\n\n") if p.strip()]
    return Doc("files", ref, str(row["key"]), DATABASE, str(row["key"]), [facts], [], preview)
