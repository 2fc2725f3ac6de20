"""What git can tell about a repository: its HEAD and the renames between two commits."""

from __future__ import annotations

import os
import subprocess


def git_head(root: str) -> str | None:
    """The commit HEAD points at, or None when the root is not a git work tree (or has no commit)."""
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        out = subprocess.run(
            ["git", "-C", root, "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = out.stdout.decode().strip()
    return head if out.returncode == 0 and head else None


def git_renames(root: str, old_commit: str, new_commit: str) -> dict[str, str]:
    """Renames git detects between two commits (with its default similarity), as {new path: old path}."""
    try:
        out = subprocess.run(
            ["git", "-C", root, "diff", "--name-status", "-M", "-z", "--no-ext-diff", old_commit, new_commit],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if out.returncode != 0:
        return {}
    fields = out.stdout.split(b"\0")
    renames: dict[str, str] = {}
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i].decode()
        if status.startswith(("R", "C")):
            old, new = fields[i + 1], fields[i + 2]
            if status.startswith("R"):
                renames[_readable(new)] = _readable(old)
            i += 3
        else:
            i += 2
    return renames


def _readable(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def git_dirty_paths(root: str) -> list[str] | None:
    """Paths git reports as not clean (modified, staged, deleted, untracked; each untracked file listed).

    Uses no optional locks, so it never writes the user's index, and ignores only what the catalog
    ignores (``.gitignore`` files and ``.git/info/exclude``, not the user's global excludes file). None when
    git cannot answer or a path is not valid UTF-8 (the caller then walks the tree instead).
    """
    # core.excludesFile (the user's global ignore list) is switched off: the catalog does not honour it,
    # so an untracked file it matches is still catalogued and must still be reported here.
    out = _git(
        root,
        "--no-optional-locks",
        "-c",
        "core.excludesFile=/dev/null",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=all",
    )
    if out is None:
        return None
    try:
        return [entry[3:].decode("utf-8") for entry in out.split(b"\0") if len(entry) > 3]
    except UnicodeDecodeError:
        return None


def git_changed_paths(root: str, old_commit: str, new_commit: str) -> list[str] | None:
    """Paths that differ between two commits (both sides of a rename), or None when git cannot say."""
    out = _git(root, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", old_commit, new_commit)
    if out is None:
        return None
    try:
        return [p.decode("utf-8") for p in out.split(b"\0") if p]
    except UnicodeDecodeError:
        return None


def _git(root: str, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "-C", root, *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
