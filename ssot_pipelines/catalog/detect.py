"""What changed on disk since the ledger's per-file state, from stat alone (no file is read).

For a git work tree whose last walk recorded git's view (HEAD and the paths that were not clean), git
answers "what may have changed" and only those paths are stat'ed: every other file was clean then and
is clean now under an unchanged commit, so its content is what the ledger holds. Otherwise every file is
stat'ed, as ``git status`` would. The hourly incremental sync always walks, so anything git cannot see
(assume-unchanged flags, line-ending conversions) is still caught within the hour.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from ssot_pipelines.catalog.config import CatalogConfig, RepoRoot
from ssot_pipelines.catalog.gitinfo import git_changed_paths, git_dirty_paths, git_head
from ssot_pipelines.catalog.scan import ScanResult, StatTuple, check_symlink, is_excluded, scan_roots, signed_ino
from ssot_pipelines.catalog.state import file_key, load_stats, repo_records, stat_tuple


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
        "SELECT repo, count(*) AS n, max(last_scanned) AS newest FROM catalog_files WHERE repo = ANY(%s)"
        " GROUP BY repo", (repos,),
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
        candidates = _git_candidates(root, records.get(root.name)) if use_git else None
        if candidates is None:
            walk.append(root)
            continue
        _check_candidates(config, root, candidates, known.get(root.name, {}), out, found)
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


def _git_candidates(root: RepoRoot, record: tuple[str | None, list[str] | None] | None) -> set[str] | None:
    """Paths that may differ from the ledger according to git, or None when git cannot vouch for the rest."""
    if record is None or not root.path.is_dir():
        return None
    last_head, last_dirty = record
    if last_head is None or last_dirty is None:
        return None
    head = git_head(str(root.path))
    dirty = git_dirty_paths(str(root.path)) if head else None
    if head is None or dirty is None:
        return None
    changed = git_changed_paths(str(root.path), last_head, head) if head != last_head else []
    if changed is None:
        return None
    candidates = {*dirty, *last_dirty, *changed}
    return candidates if len(candidates) <= GIT_CANDIDATES_MAX else None


def _check_candidates(config: CatalogConfig, root: RepoRoot, candidates: set[str],
                      known: dict[str, StatTuple], out: PendingChanges, found: list[tuple[str, str, str]]) -> None:
    root_real = os.path.realpath(root.path)
    ignore_cache: dict[str, Any] = {}
    quiet = ScanResult()  # problems are the sync's to report; the sensor only needs what changed
    for path in candidates:
        rel = path.rstrip("/")
        if not rel or is_excluded(config, root, rel, ignore_cache):
            continue
        full = os.path.join(root.path, *rel.split("/"))
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            if rel in known:
                found.append(("gone", file_key(root.name, rel), "gone"))
            continue
        except OSError:
            continue
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            if not check_symlink(full, root_real, rel, quiet):
                continue
        elif not stat.S_ISREG(mode):
            continue
        now = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, signed_ino(st.st_ino), mode)
        prev = known.get(rel)
        if prev != now:
            found.append(("new" if prev is None else "modified", file_key(root.name, rel), str(now)))
    out.scanned += len(known) + sum(1 for kind, _, _ in found if kind == "new")


def _walk_and_compare(config: CatalogConfig, known: dict[str, dict[str, StatTuple]], deadline: float | None,
                      out: PendingChanges, found: list[tuple[str, str, str]]) -> None:
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
