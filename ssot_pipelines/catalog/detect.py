"""What changed on disk since the ledger's per-file state, from stat alone (no file is read).

For a git work tree whose last walk recorded git's view (HEAD and the paths that were not clean), git
answers "what may have changed" and only those paths are stat'ed: every other file was clean then and
is clean now under an unchanged commit, so its content is what the ledger holds. Otherwise every file is
stat'ed, as ``git status`` would. ``git_check`` is shared with the incremental sync (``refresh.py``), which
takes the same route; the daily full sync always walks, so anything git cannot see (assume-unchanged
flags, line-ending conversions, a changed ``SSOT_CATALOG_EXCLUDES``) is still caught within the day.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from ssot_pipelines.catalog.config import CatalogConfig, RepoRoot
from ssot_pipelines.catalog.gitinfo import git_changed_paths, git_dirty_paths, git_head
from ssot_pipelines.catalog.scan import ScanResult, StatTuple, scan_roots, stat_candidates
from ssot_pipelines.catalog.state import RepoRecord, file_key, load_stats, repo_records, stat_tuple


@dataclass
class PendingChanges:
    """Files whose stat differs from the ledger (or that are new), and catalogued files now gone."""

    new: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    scanned: int = 0
    complete: bool = True  # False when the walk stopped at its deadline (deletions are then not inferred)
    seconds: float = 0.0
    fingerprint: str = ""  # identical for an identical change set: the sensor's run key
    via_git: list[str] = field(default_factory=list)  # repositories checked through git rather than a walk

    @property
    def keys(self) -> list[str]:
        return sorted({*self.new, *self.modified, *self.gone})

    def __bool__(self) -> bool:
        return bool(self.new or self.modified or self.gone)


# The sensor runs in the long-lived code-server process: keep the ledger's stat snapshot between ticks
# and reload a repository's only when its row count or newest write moved (any write changes one).
_snapshots: dict[tuple[str, str], tuple[tuple[int, Any], dict[str, StatTuple]]] = {}


def _ledger_stats(conn: psycopg.Connection[Any], repos: list[str]) -> dict[str, dict[str, StatTuple]]:
    rows = conn.execute(
        "SELECT repo, count(*) AS n, max(last_scanned) AS newest FROM catalog_files WHERE repo = ANY(%s) GROUP BY repo",
        (repos,),
    ).fetchall()
    conn.commit()
    markers = {r["repo"]: (int(r["n"]), r["newest"]) for r in rows}
    ledger_id = conn.info.dsn  # libpq leaves the password out
    out: dict[str, dict[str, StatTuple]] = {}
    stale = []
    for repo in repos:
        cached = _snapshots.get((ledger_id, repo))
        if repo not in markers:
            out[repo] = {}
        elif cached is not None and cached[0] == markers[repo]:
            out[repo] = cached[1]
        else:
            stale.append(repo)
    if stale:
        fresh = load_stats(conn, repos=stale)
        for repo in stale:
            out[repo] = fresh.get(repo, {})
            _snapshots[(ledger_id, repo)] = (markers[repo], out[repo])
    return out


GIT_CANDIDATES_MAX = 20_000  # beyond this many paths to check, a walk is as cheap


@dataclass
class GitCheck:
    """What git says about one root now, and whether that is enough to skip stat-ing every file."""

    head: str | None = None  # HEAD now (None: not a git work tree, no commit yet, or git unavailable)
    dirty: list[str] | None = None  # paths git calls not clean now (None: unknown)
    candidates: set[str] | None = None  # the only paths that may differ from the ledger; None: walk
    fallback: str = ""  # why a git work tree must be walked after all (empty for non-git roots)


def git_check(root: RepoRoot, record: RepoRecord | None, *, max_candidates: int = GIT_CANDIDATES_MAX) -> GitCheck:
    """Ask git which paths may differ from the ledger since the sync that left ``record``.

    They are: the paths not clean now, those not clean at that sync, and those that differ between the
    HEAD then and the HEAD now. Every other file was clean then and is clean now under the same commit's
    content, so the ledger already holds it. Shared by the sensor and the incremental sync.
    """
    if not root.path.is_dir():
        return GitCheck()
    is_git = os.path.exists(os.path.join(root.path, ".git"))
    head = git_head(str(root.path))
    if head is None:
        return GitCheck(fallback="git could not tell HEAD (git missing, or no commit yet)" if is_git else "")
    dirty = git_dirty_paths(str(root.path))
    if dirty is None:
        return GitCheck(head, None, None, "git status failed or printed a name that is not UTF-8")
    if record is None or record.root != str(root.path) or record.head is None or record.dirty is None:
        return GitCheck(head, dirty, None, "no git state recorded for this work tree by an earlier sync")
    changed = git_changed_paths(str(root.path), record.head, head) if head != record.head else []
    if changed is None:
        return GitCheck(head, dirty, None, f"git could not diff {record.head[:12]}..{head[:12]}")
    candidates = {*dirty, *record.dirty, *changed}
    if len(candidates) > max_candidates:
        return GitCheck(head, dirty, None, f"{len(candidates)} paths to check, more than {max_candidates}")
    return GitCheck(head, dirty, candidates)


def detect_changes(
    conn: psycopg.Connection[Any], config: CatalogConfig, *, deadline: float | None = None, use_git: bool = True
) -> PendingChanges:
    """Compare the trees with the ledger: through git where it can tell, else by a stat-only walk."""
    started = time.monotonic()
    known = _ledger_stats(conn, [r.name for r in config.roots])
    records = repo_records(conn) if use_git else {}
    out = PendingChanges()
    found: list[tuple[str, str, str]] = []  # (kind, key, stat or "gone") for the fingerprint
    walk: list[RepoRoot] = []
    for root in config.roots:
        record = records.get(root.name)
        candidates = git_check(root, record).candidates if use_git and record is not None else None
        if candidates is None or not _check_candidates(config, root, candidates, known.get(root.name, {}), out, found):
            walk.append(root)
            continue
        out.via_git.append(root.name)
    if walk:
        _walk_and_compare(replace(config, roots=tuple(walk)), known, deadline, out, found)
    digest = hashlib.sha256()
    for kind, key, detail in sorted(found):
        (out.new if kind == "new" else out.modified if kind == "modified" else out.gone).append(key)
        digest.update(f"{key}\0{detail}\n".encode())
    out.fingerprint = digest.hexdigest()
    out.seconds = time.monotonic() - started
    return out


def _check_candidates(
    config: CatalogConfig,
    root: RepoRoot,
    candidates: set[str],
    known: dict[str, StatTuple],
    out: PendingChanges,
    found: list[tuple[str, str, str]],
) -> bool:
    """Stat git's candidates into ``found``; False (nothing added) when a .gitignore changed: walk instead."""
    quiet = ScanResult()  # problems are the sync's to report; the sensor only needs what changed
    gone = stat_candidates(config, root, candidates, known, quiet)
    if gone is None:
        return False
    for f in quiet.files:
        found.append(("new" if f.path not in known else "modified", file_key(root.name, f.path), str(stat_tuple(f))))
    found.extend(("gone", file_key(root.name, path), "gone") for path in gone)
    out.scanned += len(known) - len(gone) + sum(1 for f in quiet.files if f.path not in known)
    return True


def _walk_and_compare(
    config: CatalogConfig,
    known: dict[str, dict[str, StatTuple]],
    deadline: float | None,
    out: PendingChanges,
    found: list[tuple[str, str, str]],
) -> None:
    scan = scan_roots(config, deadline=deadline, known=known)
    out.scanned += len(scan.files) + scan.unchanged
    for f in scan.files:
        kind = "new" if f.path not in known.get(f.repo, {}) else "modified"
        found.append((kind, file_key(f.repo, f.path), str(stat_tuple(f))))
    problem_paths = {p.path for p in scan.problems}
    for root in config.roots:
        if root.name not in scan.complete_repos:
            continue
        seen = scan.seen.get(root.name, set())
        for path in known.get(root.name, {}).keys() - seen:
            if path not in problem_paths:
                found.append(("gone", file_key(root.name, path), "gone"))
    out.complete = out.complete and scan.complete_repos == {r.name for r in config.roots if r.path.is_dir()}
