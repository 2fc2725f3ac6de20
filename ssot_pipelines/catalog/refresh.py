"""One catalog refresh: walk (or stat given paths), hash what a stat says may have changed, detect
renames, and commit the new per-file state, its events and the File Catalog records it implies (the sync
engine's pending work: updates, additions, deletions and renames) to the ledger in one transaction.

So what a scan found is never forgotten: it stays pending for every Notion target until that target has
it, whether the sync that follows finishes, crashes or goes to another workspace."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from ssot_pipelines.catalog import events as catalog_events
from ssot_pipelines.catalog.config import CatalogConfig, RepoRoot
from ssot_pipelines.catalog.detect import GitCheck, git_check
from ssot_pipelines.catalog.filetypes import describe
from ssot_pipelines.catalog.gitinfo import git_dirty_paths, git_head, git_renames
from ssot_pipelines.catalog.hashing import CHUNK, BlobDigest, FileChangedWhileHashing, NotARegularFile, hash_path
from ssot_pipelines.catalog.records import catalog_frame
from ssot_pipelines.catalog.scan import (
    CHANGED_WHILE_HASHING,
    NON_UTF8_NAME,
    SPECIAL_FILE,
    UNREADABLE,
    VANISHED_DURING_SCAN,
    ScannedFile,
    ScanProblem,
    ScanResult,
    is_excluded,
    scan_roots,
    stat_candidates,
    stat_paths,
)
from ssot_pipelines.catalog.state import (
    DATABASE,
    FileEntry,
    delete_entries,
    extend_dirty,
    file_key,
    load_stats,
    odd_named,
    record_rename,
    record_repo,
    repo_file_counts,
    repo_heads,
    repo_records,
    stat_tuple,
    upsert_entries,
)
from ssot_pipelines.notion import desired

UNKNOWN_PATH = "unknown_path"
_REFRESH_LOCK = 0x5507_CA7A  # advisory lock id: one catalog refresh at a time
HASH_BATCH = 2000  # digests carry 8 KB heads: turn them into entries batch by batch


@dataclass
class Rename:
    old_key: str
    entry: FileEntry
    detected_by: str  # 'same content' | 'git'
    page_kept: bool = False


@dataclass
class RefreshResult:
    """What one refresh found and committed; ``counts()`` is the run's metadata."""

    mode: str
    scanned: int = 0
    hashed: int = 0
    bytes_hashed: int = 0
    hash_seconds: float = 0.0
    unchanged: int = 0
    touched: int = 0  # stat changed, content did not
    added: list[FileEntry] = field(default_factory=list)
    changed: list[FileEntry] = field(default_factory=list)
    renamed: list[Rename] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    events_queued: int = 0
    seconds: float = 0.0
    via_git: list[str] = field(default_factory=list)  # incremental: repositories checked through git, not walked
    git_fallbacks: list[str] = field(default_factory=list)  # incremental: git work trees walked after all, and why

    @property
    def changed_keys(self) -> list[str]:
        return [e.key for e in (*self.added, *self.changed)] + [r.entry.key for r in self.renamed]

    def counts(self) -> dict[str, Any]:
        skipped = Counter(p.reason for p in self.problems)
        out: dict[str, Any] = {
            "mode": self.mode,
            "scanned": self.scanned,
            "hashed": self.hashed,
            "unchanged": self.unchanged,
            "touched_same_content": self.touched,
            "added": len(self.added),
            "changed": len(self.changed),
            "renamed": len(self.renamed),
            "deleted": len(self.deleted),
            "problems": len(self.problems),
            "hash_mb_per_s": round(self.bytes_hashed / 1e6 / self.hash_seconds, 1) if self.hash_seconds else 0.0,
            "seconds": round(self.seconds, 3),
        }
        if self.mode == "incremental":
            out["checked_via_git"] = len(self.via_git)
            out["git_fallback"] = len(self.git_fallbacks)
            if self.git_fallbacks:
                out["git_fallback_reasons"] = "; ".join(self.git_fallbacks)
        out.update({f"skipped_{reason}": n for reason, n in sorted(skipped.items())})
        return out

    def problem_text(self, limit: int = 20) -> str:
        lines = [p.message for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more")
        return "\n".join(lines)


# -- hashing many files ----------------------------------------------------------------------------

_local = threading.local()
HashOutcome = tuple[ScannedFile, BlobDigest | None, ScanProblem | None]


def _hash_one(f: ScannedFile) -> HashOutcome:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = bytearray(CHUNK)
    try:
        return f, hash_path(f.fs_path, is_symlink=f.is_symlink, buffer=buf), None
    except FileChangedWhileHashing:
        return (
            f,
            None,
            ScanProblem(
                CHANGED_WHILE_HASHING,
                f.path,
                f"{f.path}: kept changing while it was hashed (3 tries); the next scan retries it",
            ),
        )
    except NotARegularFile:
        return f, None, ScanProblem(SPECIAL_FILE, f.path, f"{f.path}: a FIFO, socket or device; skipped")
    except FileNotFoundError:
        return (
            f,
            None,
            ScanProblem(
                VANISHED_DURING_SCAN, f.path, f"{f.path}: deleted while the scan ran; the next scan settles it"
            ),
        )
    except OSError as exc:
        return (
            f,
            None,
            ScanProblem(UNREADABLE, f.path, f"{f.path}: cannot read ({exc.strerror}); check its permissions"),
        )


PARALLEL_MIN_BYTES = 1 << 20  # below this, a thread hand-off costs more than it saves


def hash_files(files: Sequence[ScannedFile], workers: int) -> list[HashOutcome]:
    """Hash files in order; large ones on a thread pool (reads and SHA-1 release the GIL)."""
    large = {i for i, f in enumerate(files) if f.size >= PARALLEL_MIN_BYTES}
    if workers <= 1 or len(large) < 2:
        return [_hash_one(f) for f in files]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog-hash") as pool:
        pending = {i: pool.submit(_hash_one, files[i]) for i in sorted(large)}
        done = {i: _hash_one(f) for i, f in enumerate(files) if i not in pending}
        done.update({i: future.result() for i, future in pending.items()})
    return [done[i] for i in range(len(files))]


def entry_from(f: ScannedFile, d: BlobDigest, config: CatalogConfig) -> FileEntry:
    text: str | None
    if f.is_symlink:
        kind, text = "symlink", "→ " + d.head.decode("utf-8", "backslashreplace")
    else:
        kind, text = describe(f.path, d.head, max_lines=config.preview_lines, max_chars=config.preview_chars)
    return FileEntry(
        f.repo,
        f.path,
        d.sha,
        d.size,
        d.mtime_ns,
        d.ctime_ns,
        d.ino,
        d.mode,
        kind,
        config.components.component_for(f.path, f.repo),
        text,
        f.raw_path,
    )


# -- locating explicitly requested paths -------------------------------------------------------------


def resolve_targets(
    conn: psycopg.Connection[Any], config: CatalogConfig, paths: Iterable[str], result: RefreshResult
) -> list[tuple[RepoRoot, str, bytes | None]]:
    """Map catalog keys, absolute paths or repo-relative paths (single root) to (root, path, raw bytes)."""
    by_name = {r.name: r for r in config.roots}
    wanted: dict[tuple[str, str], tuple[RepoRoot, str, bytes | None]] = {}
    keys = list(dict.fromkeys(p for p in paths if p))
    rows = conn.execute("SELECT key, repo, path, path_bytes FROM catalog_files WHERE key = ANY(%s)", (keys,)).fetchall()
    conn.commit()
    known = {r["key"]: r for r in rows}
    for given in keys:
        if given in known:
            r = known[given]
            if r["repo"] in by_name:
                raw = bytes(r["path_bytes"]) if r["path_bytes"] is not None else None
                wanted[(r["repo"], r["path"])] = (by_name[r["repo"]], r["path"], raw)
                continue
        target = _locate(config, given)
        if target is None:
            result.problems.append(
                ScanProblem(
                    UNKNOWN_PATH,
                    given,
                    f"{given}: not inside any root of SSOT_REPO_ROOTS; pass a catalog key "
                    "(repo/path), an absolute path, or a path relative to the only root",
                )
            )
            continue
        root, rel = target
        wanted[(root.name, rel)] = (root, rel, None)
    return list(wanted.values())


def _locate(config: CatalogConfig, given: str) -> tuple[RepoRoot, str] | None:
    for root in config.roots:
        prefix = root.name + "/"
        if given.startswith(prefix) and not os.path.isabs(given):
            return root, given[len(prefix) :]
    p = Path(given)
    if p.is_absolute():
        for root in config.roots:
            if p.is_relative_to(root.path):
                return root, p.relative_to(root.path).as_posix()
        return None
    if len(config.roots) == 1:
        return config.roots[0], p.as_posix().removeprefix("./")
    return None


# -- the refresh -----------------------------------------------------------------------------------


def refresh_catalog(
    conn: psycopg.Connection[Any],
    config: CatalogConfig,
    *,
    full: bool = False,
    paths: Sequence[str] = (),
    dry_run: bool = False,
    keep_pages_on_rename: bool | None = None,
    use_git: bool = True,
) -> RefreshResult:
    """Bring the ledger's per-file state up to date with the trees; return what changed.

    ``paths`` limits the refresh to those files (the sensor's incremental runs). Otherwise a full refresh
    walks every root; an incremental one asks git which paths may have changed in a git work tree whose
    last sync recorded git's view (as the sensor does; ``use_git=False`` turns that off) and walks the
    other roots. Files whose stat matches the ledger are not read. ``dry_run`` computes without writing.
    A renamed file keeps its Notion page (and what people wrote on it) unless ``keep_pages_on_rename`` is
    False: then the old key's page is archived and the new key gets a new one.
    """
    if dry_run:
        return _refresh(
            conn,
            config,
            full=full,
            paths=paths,
            dry_run=True,
            keep_pages_on_rename=keep_pages_on_rename,
            use_git=use_git,
        )
    # One refresh at a time per ledger (the sensor's run and a scheduled one may overlap): the second
    # waits, then sees the first one's state instead of reporting the same changes twice.
    conn.execute("SELECT pg_advisory_lock(%s)", (_REFRESH_LOCK,))
    conn.commit()
    try:
        return _refresh(
            conn,
            config,
            full=full,
            paths=paths,
            dry_run=False,
            keep_pages_on_rename=keep_pages_on_rename,
            use_git=use_git,
        )
    finally:
        conn.rollback()
        conn.execute("SELECT pg_advisory_unlock(%s)", (_REFRESH_LOCK,))
        conn.commit()


def _refresh(
    conn: psycopg.Connection[Any],
    config: CatalogConfig,
    *,
    full: bool,
    paths: Sequence[str],
    dry_run: bool,
    keep_pages_on_rename: bool | None,
    use_git: bool,
) -> RefreshResult:
    started = time.monotonic()
    result = RefreshResult(mode="full" if full else ("paths" if paths else "incremental"))
    checks: dict[str, GitCheck] = {}
    keep_pages = True if keep_pages_on_rename is None else keep_pages_on_rename
    configured = [r.name for r in config.roots]
    scan = ScanResult()
    if paths:
        targets = resolve_targets(conn, config, paths, result)
        known = load_stats(conn, keys=[file_key(root.name, rel) for root, rel, _ in targets])
        kept = [
            (root, rel, raw) for root, rel, raw in targets if raw is not None or not is_excluded(config, root, rel)
        ]  # ignored now: gone if catalogued
        gone_pairs = stat_paths(kept, scan)
        kept_pairs = {(root.name, rel) for root, rel, _ in kept}
        reported = {p.path for p in scan.problems}
        scanned = {(f.repo, f.path) for f in scan.files}
        gone = sorted(
            (repo, path)
            for repo, stats in known.items()
            for path in stats
            if (repo, path) not in scanned
            and path not in reported
            and ((repo, path) in gone_pairs or (repo, path) not in kept_pairs)
        )
        candidates = [f for f in scan.files if known.get(f.repo, {}).get(f.path) != stat_tuple(f)]
        result.scanned = len(scan.files)
    else:
        if not (full and dry_run):
            # git's view before the walk: recorded with the result for the next sync and the sensor (see
            # _commit), and in incremental mode the only paths to stat where git can vouch for the rest.
            records = repo_records(conn) if use_git and not full else {}
            checks = {r.name: git_check(r, records.get(r.name)) for r in config.roots}
        walk_roots: list[RepoRoot] = []
        git_gone: list[tuple[str, str]] = []
        git_scanned = 0
        for root, check in ((r, checks.get(r.name)) for r in config.roots):
            if full or not use_git or check is None or check.candidates is None:
                if not full and use_git and check is not None and check.fallback:
                    result.git_fallbacks.append(f"{root.name}: {check.fallback}")
                walk_roots.append(root)
                continue
            checked = _check_with_git(conn, config, root, check.candidates, scan)
            if isinstance(checked, str):
                result.git_fallbacks.append(f"{root.name}: {checked}")
                walk_roots.append(root)
                continue
            scanned_here, gone_here = checked
            result.via_git.append(root.name)
            git_scanned += scanned_here
            git_gone.extend((root.name, path) for path in gone_here)
        known = load_stats(conn, repos=None if full else [r.name for r in walk_roots])
        walked = scan_roots(replace(config, roots=tuple(walk_roots)), known=known)
        # Deletions only where the walk was complete: a missing root must not empty the catalog.
        # A full sync also drops repositories no longer configured.
        removable = walked.complete_repos | (set(known) - set(configured) if full else set())
        reported = {p.path for p in walked.problems}
        gone = sorted(
            [
                *git_gone,
                *(
                    (repo, path)
                    for repo, stats in known.items()
                    if repo in removable
                    for path in stats.keys() - walked.seen.get(repo, set())
                    if path not in reported
                ),
            ]
        )
        scan.files.extend(walked.files)
        scan.problems.extend(walked.problems)
        candidates = scan.files
        result.scanned = len(walked.files) + walked.unchanged + git_scanned
    result.problems.extend(scan.problems)
    result.unchanged = result.scanned - len(candidates)

    entries: list[FileEntry] = []
    for start in range(0, len(candidates), HASH_BATCH):
        t0 = time.monotonic()
        hashed = hash_files(candidates[start : start + HASH_BATCH], config.hash_workers)
        result.hash_seconds += time.monotonic() - t0
        for f, digest, problem in hashed:
            if problem is not None:
                result.problems.append(problem)
            elif digest is not None:
                entries.append(entry_from(f, digest, config))
                result.bytes_hashed += digest.size
    result.hashed = len(entries)

    old_rows = _ledger_rows(conn, [e.key for e in entries] + [file_key(r, p) for r, p in gone])
    touched: list[FileEntry] = []
    added: list[FileEntry] = []
    for e in entries:
        old = old_rows.get(e.key)
        if old is None:
            added.append(e)
        elif old["sha"] != e.sha:
            result.changed.append(e)
        else:
            e.first_seen = old["first_seen"]
            touched.append(e)
    result.touched = len(touched)
    gone_rows = [old_rows[file_key(r, p)] for r, p in gone if file_key(r, p) in old_rows]
    result.added, renames, still_gone = _pair_renames(conn, config, added, gone_rows)
    result.deleted = [r["key"] for r in still_gone]
    for rename in renames:
        old = old_rows[rename.old_key]
        rename.entry.first_seen = old["first_seen"]
        rename.entry.renamed_from = rename.old_key
    result.renamed = renames

    if not dry_run:
        _commit(conn, config, result, touched, still_gone, keep_pages, full, checks)
    result.seconds = time.monotonic() - started
    return result


def _check_with_git(
    conn: psycopg.Connection[Any], config: CatalogConfig, root: RepoRoot, paths: set[str], scan: ScanResult
) -> tuple[int, set[str]] | str:
    """Stat only the paths git names (see ``detect.git_check``) into ``scan``; return (files in the tree now,
    catalogued paths gone), or why this repository must be walked after all."""
    total = repo_file_counts(conn, [root.name]).get(root.name, 0)
    if total == 0:
        return "nothing catalogued for it yet"
    keys = [file_key(root.name, p.rstrip("/")) for p in paths]
    if odd_named(conn, keys):
        return "a path to re-check has a name that is not UTF-8 (only a walk can find it)"
    known = load_stats(conn, keys=keys).get(root.name, {})
    found = ScanResult()
    gone = stat_candidates(config, root, paths, known, found)
    if gone is None:
        return "a .gitignore changed since the last sync"
    scan.files.extend(found.files)
    scan.problems.extend(found.problems)
    return total - len(gone) + sum(1 for f in found.files if f.path not in known), gone


def _ledger_rows(conn: psycopg.Connection[Any], keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT key, repo, path, sha, first_seen FROM catalog_files WHERE key = ANY(%s)", (keys,)
    ).fetchall()
    conn.commit()
    return {r["key"]: dict(r) for r in rows}


def _pair_renames(
    conn: psycopg.Connection[Any], config: CatalogConfig, added: list[FileEntry], gone: list[dict[str, Any]]
) -> tuple[list[FileEntry], list[Rename], list[dict[str, Any]]]:
    """Pair new files with vanished ones: same content first, then renames git reports between HEADs."""
    if not added or not gone:
        return added, [], gone
    by_content: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in gone:
        by_content[(row["repo"], row["sha"])].append(row)
    renames: list[Rename] = []
    unmatched: list[FileEntry] = []
    used: set[str] = set()
    for entry in added:
        pool = [r for r in by_content.get((entry.repo, entry.sha), []) if r["key"] not in used]
        if not pool:
            unmatched.append(entry)
            continue
        name = os.path.basename(entry.path)
        pool.sort(key=lambda r: (os.path.basename(r["path"]) != name, r["key"]))
        used.add(pool[0]["key"])
        renames.append(Rename(pool[0]["key"], entry, "same content"))
    left = [r for r in gone if r["key"] not in used]
    if unmatched and left:
        heads = repo_heads(conn)
        roots = {r.name: r for r in config.roots}
        left_by_path = {(r["repo"], r["path"]): r for r in left}
        still: list[FileEntry] = []
        git_maps: dict[str, dict[str, str]] = {}
        for entry in unmatched:
            root = roots.get(entry.repo)
            old_head = heads.get(entry.repo)
            if root is None or not old_head:
                still.append(entry)
                continue
            if entry.repo not in git_maps:
                new_head = git_head(str(root.path))
                git_maps[entry.repo] = (
                    git_renames(str(root.path), old_head, new_head) if new_head and new_head != old_head else {}
                )
            old_path = git_maps[entry.repo].get(entry.path)
            found = left_by_path.get((entry.repo, old_path)) if old_path else None
            if found is None or found["key"] in used:
                still.append(entry)
                continue
            used.add(found["key"])
            renames.append(Rename(found["key"], entry, "git"))
        unmatched = still
        left = [r for r in gone if r["key"] not in used]
    return unmatched, renames, left


def _commit(
    conn: psycopg.Connection[Any],
    config: CatalogConfig,
    result: RefreshResult,
    touched: list[FileEntry],
    gone: list[dict[str, Any]],
    keep_pages: bool,
    full: bool,
    checks: dict[str, GitCheck],
) -> None:
    ev = catalog_events.CatalogEvent
    with conn.transaction():
        delete_entries(conn, [*result.deleted, *(r.old_key for r in result.renamed)])
        upsert_entries(conn, [*result.added, *result.changed, *(r.entry for r in result.renamed)], content_changed=True)
        upsert_entries(conn, touched, content_changed=False)
        for rename in result.renamed:
            # The page follows the file in every target that has one (applied by that target's next sync).
            rename.page_kept = keep_pages
            if keep_pages:
                desired.stage_rename(conn, DATABASE, rename.old_key, rename.entry.key)
            record_rename(
                conn,
                rename.entry.repo,
                rename.old_key,
                rename.entry.key,
                rename.entry.sha,
                rename.detected_by,
                rename.page_kept,
            )
        staged = [*result.added, *result.changed, *(r.entry for r in result.renamed)]
        vanished = [*result.deleted, *(r.old_key for r in result.renamed if not r.page_kept)]
        desired.stage(
            conn, DATABASE, desired.records_from_frame(catalog_frame(staged, config, mode="incremental")), vanished
        )
        result.events_queued = catalog_events.queue_events(
            conn,
            [
                *(ev("added", e.repo, e.key, e.path, e.sha) for e in result.added),
                *(ev("changed", e.repo, e.key, e.path, e.sha) for e in result.changed),
                *(
                    ev("renamed", r.entry.repo, r.entry.key, r.entry.path, r.entry.sha, r.old_key)
                    for r in result.renamed
                ),
                *(ev("deleted", g["repo"], g["key"], g["path"], g["sha"]) for g in gone),
            ],
        )
        if result.mode != "paths":
            # Recorded per repository: the HEAD before this sync and the paths the next sync (and the sensor)
            # must re-check even if git then calls them clean, so that every other file's ledger row holds
            # that HEAD's content. They are the paths git called not clean before this sync, those that
            # could not be read (problems; a name that is not UTF-8 is not one: it was catalogued), and
            # either the paths git calls not clean after a walk (a file the walk read may have been dirty
            # only then) or, when only git's candidates were stat'ed, every file read (which covers the
            # same race without a second `git status`).
            retry = {p.path for p in result.problems if p.reason not in (UNKNOWN_PATH, NON_UTF8_NAME)}
            read: dict[str, set[str]] = defaultdict(set)
            for e in (*result.added, *result.changed, *touched, *(r.entry for r in result.renamed)):
                read[e.repo].add(e.path)
            for root in config.roots:
                if os.path.isdir(root.path):
                    check = checks.get(root.name)
                    # The HEAD from before the walk: if it moved during the walk, the next diff covers the move.
                    head = check.head if check is not None else git_head(str(root.path))
                    before = check.dirty if check is not None else None
                    if before is None or head is None:
                        dirty = None
                    elif root.name in result.via_git:
                        dirty = sorted({*before, *read[root.name], *retry})
                    else:
                        after = git_dirty_paths(str(root.path))
                        dirty = None if after is None else sorted({*before, *after, *retry})
                    record_repo(conn, root.name, str(root.path), head, full=full, dirty=dirty)
        else:
            touched_paths: dict[str, list[str]] = defaultdict(list)
            for e in (*result.added, *result.changed, *touched, *(r.entry for r in result.renamed)):
                touched_paths[e.repo].append(e.path)
            for g in gone:
                touched_paths[g["repo"]].append(g["path"])
            for r in result.renamed:
                touched_paths[r.entry.repo].append(r.old_key.split("/", 1)[1])
            for repo, repo_paths in touched_paths.items():
                extend_dirty(conn, repo, repo_paths)
