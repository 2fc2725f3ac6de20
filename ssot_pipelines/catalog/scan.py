"""Walk repository roots: the files to catalog, with their stat, honouring .gitignore and excludes.

Stat only, no reading of file contents (hashing is ``hashing.py``), so a walk of an unchanged tree is
as cheap as ``git status``. Never follows a symlink: a link is catalogued as git stores it (its target
text); links that loop or point outside the root are skipped and reported.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pathspec

from ssot_pipelines.catalog.config import CatalogConfig, RepoRoot

# Reasons a path is skipped or reported; the run's metadata counts each one.
MISSING_ROOT = "missing_root"
UNREADABLE = "unreadable"
SPECIAL_FILE = "special_file"
SYMLINK_LOOP = "symlink_loop"
SYMLINK_OUTSIDE_ROOT = "symlink_outside_root"
NESTED_REPOSITORY = "nested_repository"
NON_UTF8_NAME = "non_utf8_name"  # reported, but the file is still catalogued under a readable name
VANISHED_DURING_SCAN = "vanished_during_scan"
CHANGED_WHILE_HASHING = "changed_while_hashing"


# (size, mtime_ns, ctime_ns, ino, mode): what a stat must still say for a file to count as unchanged.
StatTuple = tuple[int, int, int, int, int]
_INO_WRAP = 1 << 64


def signed_ino(ino: int) -> int:
    """st_ino is unsigned 64-bit; PostgreSQL's bigint is signed."""
    return ino - _INO_WRAP if ino >= 1 << 63 else ino


@dataclass(slots=True)
class ScannedFile:
    """A file as the walk saw it. ``path`` is readable (non-UTF-8 bytes as ``\\xNN``); ``fs_path`` opens it."""

    repo: str
    path: str
    fs_path: str  # absolute, surrogate-escaped like os.scandir gives it
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    mode: int
    raw_path: bytes | None = None  # the repo-relative name as bytes, only when it is not valid UTF-8

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


@dataclass(frozen=True, slots=True)
class ScanProblem:
    reason: str
    path: str
    message: str


@dataclass
class ScanResult:
    files: list[ScannedFile] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    complete_repos: set[str] = field(default_factory=set)  # repos walked to the end (safe to infer deletions)
    seen: dict[str, set[str]] = field(default_factory=dict)  # with ``known``: every path walked, per repo
    unchanged: int = 0  # with ``known``: files whose stat matched and were therefore not listed
    seconds: float = 0.0

    def counts(self) -> Counter[str]:
        return Counter(p.reason for p in self.problems)

    def report(self, reason: str, path: str, message: str) -> None:
        self.problems.append(ScanProblem(reason, path, message))


def readable_name(name: str) -> tuple[str, bool]:
    """A name that is valid UTF-8 text, and whether the original was not (bytes become ``\\xNN``)."""
    if name.isascii():
        return name, False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace"), True
    return name, False


class IgnoreRules:
    """One .gitignore (or exclude list), with a single combined regex to rule out most paths at C speed."""

    __slots__ = ("any_match", "spec")

    def __init__(self, lines: Iterable[str]) -> None:
        self.spec = pathspec.GitIgnoreSpec.from_lines(list(lines))
        # Every pattern is anchored (^...) and pathspec applies it with search(); named groups repeat
        # across patterns, so they become plain groups in the alternation.
        parts = [
            _NAMED_GROUP.sub("(?:", regex.pattern)
            for p in self.spec.patterns
            if (regex := getattr(p, "regex", None)) is not None
        ]
        self.any_match = re.compile("|".join(f"(?:{x})" for x in parts)).search if parts else None

    def verdict(self, rel: str) -> bool | None:
        """True: ignored; False: re-included by a negation; None: no pattern speaks about it."""
        if self.any_match is None or self.any_match(rel) is None:
            return None
        return self.spec.check_file(rel).include


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_IgnoreChain = tuple[tuple[str, IgnoreRules], ...]


def _ignored(chain: _IgnoreChain, rel: str) -> bool:
    # The deepest .gitignore with an opinion decides, as in git.
    for base, rules in reversed(chain):
        verdict = rules.verdict(rel[len(base) :] if base else rel)
        if verdict is not None:
            return verdict
    return False


def _load_ignore(path: str) -> IgnoreRules | None:
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
    except OSError:
        return None
    return IgnoreRules(lines) if any(ln.strip() and not ln.startswith("#") for ln in lines) else None


def _root_chain(root: RepoRoot, excludes: Iterable[str]) -> _IgnoreChain:
    chain: list[tuple[str, IgnoreRules]] = []
    patterns = list(excludes)
    if patterns:
        chain.append(("", IgnoreRules(patterns)))
    info_exclude = _load_ignore(os.path.join(root.path, ".git", "info", "exclude"))
    if info_exclude is not None:
        chain.append(("", info_exclude))
    return tuple(chain)


def check_symlink(full: str, root_real: str, rel: str, result: ScanResult) -> bool:
    """Whether a symlink may be catalogued (as its target text): not a loop and not leaving the root."""
    try:
        os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            result.report(SYMLINK_LOOP, rel, f"{rel}: symlink loop ({os.readlink(full)!r}); remove or fix the link")
            return False
        # A dangling link inside the root is still a file of the repository, as git sees it.
    target = os.path.realpath(full)
    if target != root_real and not target.startswith(root_real + os.sep):
        result.report(
            SYMLINK_OUTSIDE_ROOT,
            rel,
            f"{rel}: symlink points outside the repository ({os.readlink(full)!r}); not followed, not catalogued",
        )
        return False
    return True


def walk_repository(
    root: RepoRoot,
    excludes: Iterable[str],
    result: ScanResult,
    *,
    deadline: float | None = None,
    known: Mapping[str, StatTuple] | None = None,
) -> None:
    """Append the root's files to ``result``; report problems there. Stops early past ``deadline``.

    With ``known`` (path → stat of the last scan), files whose stat still matches are only counted
    (``result.unchanged``) and remembered in ``result.seen``: a warm walk allocates almost nothing.
    """
    root_path = str(root.path)
    if not os.path.isdir(root_path):
        what = "is not a directory" if os.path.exists(root_path) else "does not exist"
        result.report(
            MISSING_ROOT,
            root.name,
            f"repository root {root_path} {what}; fix SSOT_REPO_ROOTS (other roots are still scanned)",
        )
        return
    root_real = os.path.realpath(root_path)
    root_len = len(os.fsencode(root_path)) + 1
    stack: list[tuple[str, str, _IgnoreChain, bool]] = [(root_path, "", _root_chain(root, excludes), False)]
    files = result.files
    repo = root.name
    seen = result.seen.setdefault(repo, set())
    unchanged = 0
    while stack:
        if deadline is not None and time.monotonic() > deadline:
            return
        directory, rel_dir, chain, odd_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            result.report(
                UNREADABLE,
                rel_dir or ".",
                f"{rel_dir or '.'}: cannot list directory ({exc.strerror}); check its permissions",
            )
            continue
        if rel_dir and any(e.name == ".git" for e in entries):
            result.report(
                NESTED_REPOSITORY,
                rel_dir,
                f"{rel_dir}: a nested git repository; add it to SSOT_REPO_ROOTS to catalog it",
            )
            continue
        for entry in entries:
            if entry.name == ".gitignore":
                spec = _load_ignore(entry.path)
                if spec is not None:
                    chain = (*chain, (rel_dir, spec))
                break
        for entry in entries:
            name = entry.name
            if name == ".git":
                continue
            shown, odd_name = readable_name(name)
            odd = odd_dir or odd_name
            rel = rel_dir + shown
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _ignored(chain, rel + "/"):
                        stack.append((entry.path, rel + "/", chain, odd))
                    continue
                if _ignored(chain, rel):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                result.report(VANISHED_DURING_SCAN, rel, f"{rel}: deleted while the scan ran; the next scan settles it")
                continue
            except OSError as exc:
                result.report(UNREADABLE, rel, f"{rel}: cannot stat ({exc.strerror}); check its permissions")
                continue
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                if not check_symlink(entry.path, root_real, rel, result):
                    continue
            elif not stat.S_ISREG(mode):
                result.report(SPECIAL_FILE, rel, f"{rel}: a FIFO, socket or device; skipped")
                continue
            if known is not None:
                seen.add(rel)
                ino = st.st_ino
                if known.get(rel) == (
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ctime_ns,
                    ino - _INO_WRAP if ino >= 1 << 63 else ino,
                    mode,
                ):
                    unchanged += 1
                    continue
            raw = None
            if odd:
                raw = os.fsencode(entry.path)[root_len:]
                result.report(
                    NON_UTF8_NAME, rel, f"{rel}: file name is not valid UTF-8; catalogued as {rel!r} (rename it to fix)"
                )
            files.append(
                ScannedFile(repo, rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode, raw)
            )
        result.unchanged += unchanged
        unchanged = 0
    result.complete_repos.add(repo)


def scan_roots(
    config: CatalogConfig,
    *,
    deadline: float | None = None,
    known: Mapping[str, Mapping[str, StatTuple]] | None = None,
) -> ScanResult:
    """Walk every configured root (stat only); with ``known``, list only files whose stat differs."""
    started = time.monotonic()
    result = ScanResult()
    for root in config.roots:
        walk_repository(
            root, config.excludes, result, deadline=deadline, known=None if known is None else known.get(root.name, {})
        )
    result.seconds = time.monotonic() - started
    return result


def stat_paths(wanted: Iterable[tuple[RepoRoot, str, bytes | None]], result: ScanResult) -> set[tuple[str, str]]:
    """Stat just these (root, readable path, raw path) into ``result``; return the (repo, path) that are gone."""
    gone: set[tuple[str, str]] = set()
    for root, rel, raw in wanted:
        full = (
            os.fsdecode(os.path.join(os.fsencode(root.path), raw))
            if raw
            else os.path.join(str(root.path), *rel.split("/"))
        )
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            gone.add((root.name, rel))
            continue
        except OSError as exc:
            result.report(UNREADABLE, rel, f"{rel}: cannot stat ({exc.strerror}); check its permissions")
            continue
        if stat.S_ISLNK(st.st_mode):
            if not check_symlink(full, os.path.realpath(str(root.path)), rel, result):
                continue
        elif not stat.S_ISREG(st.st_mode):
            result.report(SPECIAL_FILE, rel, f"{rel}: a FIFO, socket or device; skipped")
            continue
        result.files.append(
            ScannedFile(root.name, rel, full, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode, raw)
        )
    return gone


def is_excluded(
    config: CatalogConfig, root: RepoRoot, rel: str, cache: dict[str, IgnoreRules | None] | None = None
) -> bool:
    """Whether a repo-relative path is left out by the excludes or any .gitignore on its way down.

    ``cache`` (gitignore path → rules) saves re-reading the same .gitignore files for many paths.
    """
    chain = list(_root_chain(root, config.excludes))
    parts = rel.split("/")
    if ".git" in parts:
        return True
    prefix = ""
    for i, part in enumerate(parts):
        ignore_file = os.path.join(str(root.path), *parts[:i], ".gitignore")
        if cache is None:
            spec = _load_ignore(ignore_file)
        else:
            if ignore_file not in cache:
                cache[ignore_file] = _load_ignore(ignore_file)
            spec = cache[ignore_file]
        if spec is not None:
            chain.append((prefix, spec))
        last = i == len(parts) - 1
        if _ignored(tuple(chain), prefix + part + ("" if last else "/")):
            return True
        prefix += part + "/"
    return False


def stat_candidates(
    config: CatalogConfig,
    root: RepoRoot,
    candidates: Iterable[str],
    known: Mapping[str, StatTuple],
    result: ScanResult,
) -> set[str] | None:
    """Stat only the paths git says may differ from the ledger (``known``: their stats of the last scan).

    Files whose stat differs from ``known`` (or that are new) go to ``result.files``; matching ones are
    counted in ``result.unchanged``; problems are reported in ``result``. Returns the catalogued paths that
    are gone (deleted, now ignored, or now a directory), or None when a ``.gitignore`` changed since the last
    scan: which other files it includes or ignores only a walk can tell.
    """
    paths = sorted({p.rstrip("/") for p in candidates} - {""})
    ignore_files = [rel for rel in paths if rel.rsplit("/", 1)[-1] == ".gitignore"]
    if any(_lstat_tuple(os.path.join(root.path, *rel.split("/"))) != known.get(rel) for rel in ignore_files):
        return None
    root_real = os.path.realpath(root.path)
    ignore_cache: dict[str, IgnoreRules | None] = {}
    gone: set[str] = set()
    for rel in paths:
        if is_excluded(config, root, rel, ignore_cache):
            if rel in known:
                gone.add(rel)  # as a walk would no longer see it
            continue
        full = os.path.join(root.path, *rel.split("/"))
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            if rel in known:
                gone.add(rel)
            continue
        except OSError as exc:
            result.report(UNREADABLE, rel, f"{rel}: cannot stat ({exc.strerror}); check its permissions")
            continue
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if os.path.lexists(os.path.join(full, ".git")):
                result.report(
                    NESTED_REPOSITORY, rel, f"{rel}: a nested git repository; add it to SSOT_REPO_ROOTS to catalog it"
                )
            elif rel in known:
                gone.add(rel)  # a file replaced by a directory (git lists the files inside on their own)
            continue
        if stat.S_ISLNK(mode):
            if not check_symlink(full, root_real, rel, result):
                continue
        elif not stat.S_ISREG(mode):
            result.report(SPECIAL_FILE, rel, f"{rel}: a FIFO, socket or device; skipped")
            continue
        if known.get(rel) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, signed_ino(st.st_ino), mode):
            result.unchanged += 1
            continue
        result.files.append(
            ScannedFile(root.name, rel, full, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, mode)
        )
    return gone


def _lstat_tuple(full: str) -> StatTuple | None:
    try:
        st = os.lstat(full)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, signed_ino(st.st_ino), st.st_mode)
