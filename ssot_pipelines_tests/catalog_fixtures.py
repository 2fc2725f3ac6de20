"""Helpers for the File Catalog tests: real git repositories built on disk, and catalog configurations."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from ssot_pipelines.catalog.components import ComponentMap, parse_components_inline
from ssot_pipelines.catalog.config import DEFAULT_EXCLUDES, CatalogConfig, RepoRoot


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=True)
    return out.stdout.decode("utf-8", "surrogateescape")


def make_repo(path: Path, files: dict[str, bytes | str] | None = None) -> Path:
    """A git repository with these files written (not committed)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Catalog Test")
    git(path, "config", "core.autocrlf", "false")
    write_files(path, files or {})
    return path


def write_files(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)


def commit_all(repo: Path, message: str = "commit") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def git_hash_objects(repo: Path, rel_paths: Sequence[str]) -> dict[str, str]:
    """``git hash-object`` of each path, through --stdin-paths (what the user compares against)."""
    out = git(repo, "hash-object", "--stdin-paths", input=os.fsencode("\n".join(rel_paths)) + b"\n")
    return dict(zip(rel_paths, out.split(), strict=True))


def git_visible_files(repo: Path) -> set[str]:
    """Files git considers part of the work tree: tracked or untracked, not ignored."""
    out = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return {p for p in out.split("\0") if p}


def config_for(
    roots: Iterable[Path | tuple[str, Path]],
    *,
    excludes: Sequence[str] = (),
    components: str | None = None,
    hash_workers: int = 4,
) -> CatalogConfig:
    repo_roots = tuple(RepoRoot(r[0], r[1]) if isinstance(r, tuple) else RepoRoot(r.name, r) for r in roots)
    cmap = ComponentMap(parse_components_inline(components), "test") if components else ComponentMap()
    return CatalogConfig(
        roots=repo_roots, excludes=(*DEFAULT_EXCLUDES, *excludes), components=cmap, hash_workers=hash_workers
    )


def world_readable_tmp(prefix: str) -> Path:
    """A temporary directory an unprivileged user can enter (pytest's tmp_path is private to root)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path
