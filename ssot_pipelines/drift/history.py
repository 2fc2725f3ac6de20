"""Line churn from git history: lines added plus deleted per file by the commits after a baseline's commit."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path


def _git(repo_root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo_root), "-c", "core.quotepath=off", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def head_commit(repo_root: Path) -> str | None:
    """The commit checked out in ``repo_root``, or None outside git (or before the first commit)."""
    out = _git(repo_root, "rev-parse", "--verify", "-q", "HEAD")
    return out.strip() if out else None


def line_churn_since(repo_root: Path, commit: str, paths: Iterable[str]) -> dict[str, int] | None:
    """Lines added plus deleted in each of ``paths`` by the commits in ``commit..HEAD``; None if unknown."""
    wanted = set(paths)
    log = _git(repo_root, "log", "--numstat", "--no-renames", "--format=", f"{commit}..HEAD", "--")
    if log is None:
        return None
    churn: dict[str, int] = defaultdict(int)
    for line in log.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] == "-":  # binary files have no line counts
            continue
        if parts[2] in wanted:
            churn[parts[2]] += int(parts[0]) + int(parts[1])
    return {p: churn.get(p, 0) for p in wanted}
