"""Per-file state in the ledger: what each file looked like at its last scan, and changes against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from ssot_pipelines.catalog.scan import ScannedFile, StatTuple, signed_ino

DATABASE = "file_catalog"


def file_key(repo: str, path: str) -> str:
    """The File Catalog key of a file: ``<repo>/<repo-relative path>``; stable when roots are added."""
    return f"{repo}/{path}"


@dataclass(slots=True)
class FileEntry:
    """One catalogued file as the ledger holds it."""

    repo: str
    path: str
    sha: str
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    mode: int
    file_type: str
    component: str | None
    preview: str | None
    raw_path: bytes | None = None
    first_seen: datetime | None = None
    renamed_from: str | None = None
    content_mtime_ns: int | None = None  # the mtime when the content last changed (None: mtime_ns)

    @property
    def last_modified_ns(self) -> int:
        return self.content_mtime_ns if self.content_mtime_ns is not None else self.mtime_ns

    @property
    def key(self) -> str:
        return file_key(self.repo, self.path)


def stat_tuple(f: ScannedFile) -> StatTuple:
    return (f.size, f.mtime_ns, f.ctime_ns, signed_ino(f.ino), f.mode)


def _scoped(sql: str, repos: Sequence[str] | None, keys: Sequence[str] | None) -> tuple[str, tuple[Any, ...]]:
    """Restrict a catalog_files query to some keys, else to some repositories, else nothing."""
    if keys is not None:
        return sql + " WHERE key = ANY(%s)", (list(keys),)
    if repos is not None:
        return sql + " WHERE repo = ANY(%s)", (list(repos),)
    return sql, ()


def load_stats(
    conn: psycopg.Connection[Any], *, repos: Sequence[str] | None = None, keys: Sequence[str] | None = None
) -> dict[str, dict[str, StatTuple]]:
    """Stat fields of the ledger's files (all, or of some repositories, or of some keys): repo → path → stat."""
    sql, params = _scoped("SELECT repo, path, size, mtime_ns, ctime_ns, ino, mode FROM catalog_files", repos, keys)
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql, params)  # type: ignore[arg-type]
        rows = cur.fetchall()
    conn.commit()
    out: dict[str, dict[str, StatTuple]] = {}
    for r in rows:
        per_repo = out.get(r[0])
        if per_repo is None:
            per_repo = out[r[0]] = {}
        per_repo[r[1]] = r[2:]
    return out


def load_entries(
    conn: psycopg.Connection[Any], *, repos: Sequence[str] | None = None, keys: Sequence[str] | None = None
) -> list[FileEntry]:
    """Complete ledger rows (for building Notion records), ordered by key."""
    sql, params = _scoped(
        "SELECT repo, path, sha, size, mtime_ns, ctime_ns, ino, mode, file_type, component, preview,"
        " path_bytes, first_seen, renamed_from, content_mtime_ns FROM catalog_files",
        repos,
        keys,
    )
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql + " ORDER BY key", params)  # type: ignore[arg-type]
        rows = cur.fetchall()
    conn.commit()
    return [
        FileEntry(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            bytes(r[11]) if r[11] is not None else None,
            r[12],
            r[13],
            r[14],
        )
        for r in rows
    ]


def first_seen_of(conn: psycopg.Connection[Any], keys: Iterable[str]) -> dict[str, tuple[datetime, str | None]]:
    rows = conn.execute(
        "SELECT key, first_seen, renamed_from FROM catalog_files WHERE key = ANY(%s)", (list(keys),)
    ).fetchall()
    return {r["key"]: (r["first_seen"], r["renamed_from"]) for r in rows}


_COLUMNS = (
    "repo",
    "path",
    "key",
    "path_bytes",
    "sha",
    "size",
    "mtime_ns",
    "ctime_ns",
    "ino",
    "mode",
    "file_type",
    "component",
    "preview",
    "first_seen",
    "renamed_from",
    "content_mtime_ns",
)
_KEPT_ON_UPDATE = frozenset({"repo", "path", "first_seen", "renamed_from"})


def upsert_entries(conn: psycopg.Connection[Any], entries: Sequence[FileEntry], *, content_changed: bool) -> None:
    """Write entries (inside the caller's transaction). ``content_changed`` moves ``last_changed``."""
    if not entries:
        return
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS catalog_stage (LIKE catalog_files INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    conn.execute("DELETE FROM catalog_stage")
    with conn.cursor() as cur, cur.copy(f"COPY catalog_stage ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        for e in entries:
            copy.write_row(
                (
                    e.repo,
                    e.path,
                    e.key,
                    e.raw_path,
                    e.sha,
                    e.size,
                    e.mtime_ns,
                    e.ctime_ns,
                    signed_ino(e.ino),
                    e.mode,
                    e.file_type,
                    e.component,
                    e.preview,
                    e.first_seen or datetime.now().astimezone(),
                    e.renamed_from,
                    e.last_modified_ns,
                )
            )
    kept = _KEPT_ON_UPDATE if content_changed else _KEPT_ON_UPDATE | {"content_mtime_ns"}
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c not in kept)
    changed = ", last_changed = now()" if content_changed else ""
    conn.execute(
        f"INSERT INTO catalog_files ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM catalog_stage"
        f" ON CONFLICT (repo, path) DO UPDATE SET {updates}, last_scanned = now(),"
        " first_seen = LEAST(catalog_files.first_seen, EXCLUDED.first_seen),"
        f" renamed_from = COALESCE(EXCLUDED.renamed_from, catalog_files.renamed_from){changed}"
    )


def delete_entries(conn: psycopg.Connection[Any], keys: Sequence[str]) -> None:
    if keys:
        conn.execute("DELETE FROM catalog_files WHERE key = ANY(%s)", (list(keys),))


def refresh_components(conn: psycopg.Connection[Any], assigned: Iterable[tuple[str, str | None]]) -> int:
    """Set each key's component where the mapping now says something else; return rows changed."""
    pairs = list(assigned)
    if not pairs:
        return 0
    cur = conn.execute(
        "UPDATE catalog_files f SET component = v.component FROM"
        " (SELECT unnest(%s::text[]) AS key, unnest(%s::text[]) AS component) v"
        " WHERE f.key = v.key AND f.component IS DISTINCT FROM v.component",
        ([k for k, _ in pairs], [c for _, c in pairs]),
    )
    return cur.rowcount or 0


def record_rename(
    conn: psycopg.Connection[Any], repo: str, old_key: str, new_key: str, sha: str, detected_by: str, page_kept: bool
) -> None:
    conn.execute(
        "INSERT INTO catalog_renames (repo, old_key, new_key, sha, detected_by, page_kept)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (repo, old_key, new_key, sha, detected_by, page_kept),
    )


def record_repo(
    conn: psycopg.Connection[Any], repo: str, root: str, head: str | None, *, full: bool, dirty: list[str] | None
) -> None:
    """After a walk of the whole repository: its HEAD and the paths git called not clean (None: unknown)."""
    conn.execute(
        "INSERT INTO catalog_repos (repo, root, head_commit, last_sync_at, last_full_sync_at, dirty_paths)"
        " VALUES (%s, %s, %s, now(), CASE WHEN %s THEN now() END, %s)"
        " ON CONFLICT (repo) DO UPDATE SET root = EXCLUDED.root, head_commit = EXCLUDED.head_commit,"
        " last_sync_at = now(), dirty_paths = EXCLUDED.dirty_paths,"
        " last_full_sync_at = COALESCE(EXCLUDED.last_full_sync_at, catalog_repos.last_full_sync_at)",
        (repo, root, head, full, dirty),
    )


def extend_dirty(conn: psycopg.Connection[Any], repo: str, paths: Sequence[str]) -> None:
    """After refreshing only some paths: keep them in the set the sensor re-checks until the next walk."""
    if paths:
        conn.execute(
            "UPDATE catalog_repos SET dirty_paths = ARRAY(SELECT DISTINCT unnest(dirty_paths || %s::text[]))"
            " WHERE repo = %s AND dirty_paths IS NOT NULL",
            (list(paths), repo),
        )


@dataclass(frozen=True, slots=True)
class RepoRecord:
    """What the last walk (or git-checked sync) of a repository recorded about git's view of it."""

    root: str  # the work tree it was taken from: git's view of another clone says nothing about this one
    head: str | None  # HEAD when that sync started
    dirty: list[str] | None  # paths git called not clean then (None: unknown)


def repo_records(conn: psycopg.Connection[Any]) -> dict[str, RepoRecord]:
    """Per repository: the work tree, the HEAD at the last walk, and the paths git called not clean then."""
    rows = conn.execute("SELECT repo, root, head_commit, dirty_paths FROM catalog_repos").fetchall()
    conn.commit()
    return {r["repo"]: RepoRecord(r["root"], r["head_commit"], r["dirty_paths"]) for r in rows}


def odd_named(conn: psycopg.Connection[Any], keys: Sequence[str]) -> list[str]:
    """Those of these keys whose file name is not valid UTF-8 (the ledger keeps its raw bytes)."""
    rows = conn.execute(
        "SELECT key FROM catalog_files WHERE key = ANY(%s) AND path_bytes IS NOT NULL", (list(keys),)
    ).fetchall()
    conn.commit()
    return [r["key"] for r in rows]


def repo_file_counts(conn: psycopg.Connection[Any], repos: Sequence[str]) -> dict[str, int]:
    """How many files the ledger holds per repository."""
    rows = conn.execute(
        "SELECT repo, count(*) AS n FROM catalog_files WHERE repo = ANY(%s) GROUP BY repo", (list(repos),)
    ).fetchall()
    conn.commit()
    return {r["repo"]: int(r["n"]) for r in rows}


def repo_heads(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    rows = conn.execute("SELECT repo, head_commit FROM catalog_repos").fetchall()
    conn.commit()
    return {r["repo"]: r["head_commit"] for r in rows}
