"""The files drift looks at: the File Catalog's, or a repository's own listing, read as text."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.drift.baseline import Conn
from ssot_pipelines.drift.specs import DriftComponents

MAX_FILE_BYTES = 1 << 20  # larger files are data, not code someone specified
_SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".ssot"}


@dataclass(frozen=True)
class TrackedFile:
    """A file of the File Catalog: its catalog key, repository, repo-relative path and component."""

    key: str
    repo: str
    path: str
    root: Path
    component: str | None

    @property
    def location(self) -> Path:
        return self.root / self.path


def tracked_files_from_catalog(conn: Conn, roots: Sequence[RepoRoot]) -> list[TrackedFile]:
    """The File Catalog's files (ledger table ``catalog_files``) in the configured roots."""
    by_name = {r.name: r.path for r in roots}
    rows = conn.execute(
        "SELECT key, repo, path, component FROM catalog_files WHERE repo = ANY(%s) AND file_type <> 'symlink'"
        " ORDER BY key",
        (list(by_name),),
    ).fetchall()
    return [TrackedFile(r["key"], r["repo"], r["path"], by_name[r["repo"]], r["component"]) for r in rows]


def tracked_files_from_roots(roots: Sequence[RepoRoot], components: DriftComponents) -> list[TrackedFile]:
    """Without a catalog: git's files (or a walk) of each root, with components from the shared map."""
    files = []
    for root in roots:
        for path in _list_files(root.path):
            files.append(
                TrackedFile(
                    f"{root.name}/{path}",
                    root.name,
                    path,
                    root.path,
                    components.components.component_for(path, root.name),
                )
            )
    return files


def _list_files(root: Path) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        if (root / ".git").exists():
            return sorted(p for p in out.splitlines() if p and (root / p).is_file())
    except (OSError, subprocess.SubprocessError):
        pass
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS]
        found.extend(Path(dirpath, n).relative_to(root).as_posix() for n in filenames)
    return sorted(found)


def read_text(path: Path) -> str | None:
    """The file as text, or None when it is missing, too large or binary."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")
