"""Line churn from git history: lines added plus deleted per file since a point in time."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def _git(repo_root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo_root), "-c", "core.quotepath=off", *args],
                              capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def is_git_repository(repo_root: Path) -> bool:
    return _git(repo_root, "rev-parse", "--is-inside-work-tree") is not None


def line_churn_since(repo_root: Path, since: dict[str, datetime]) -> dict[str, int] | None:
    """For each repo-relative path, lines added plus deleted by commits after ``since[path]``.

    One ``git log --numstat`` covers every file. None when ``repo_root`` is not a git work tree.
    """
    if not since or not is_git_repository(repo_root):
        return None
    oldest = min(since.values())
    log = _git(repo_root, "log", "--numstat", "--no-renames", "--format=%x1e%ct",
               f"--since={int(oldest.timestamp())}", "--", ".")
    if log is None:
        return None
    churn: dict[str, int] = defaultdict(int)
    cutoffs = {path: moment.timestamp() for path, moment in since.items()}
    for commit in log.split("\x1e")[1:]:
        lines = commit.strip().splitlines()
        if not lines:
            continue
        committed = float(lines[0])
        for line in lines[1:]:
            _add(churn, cutoffs, line, committed)
    return dict(churn)


def _add(churn: dict[str, int], cutoffs: dict[str, float], line: str, committed: float) -> None:
    parts = line.split("\t")
    if len(parts) != 3 or parts[0] == "-":  # binary files have no line counts
        return
    path = parts[2]
    cutoff = cutoffs.get(path)
    if cutoff is not None and committed > cutoff:
        churn[path] += int(parts[0]) + int(parts[1])
