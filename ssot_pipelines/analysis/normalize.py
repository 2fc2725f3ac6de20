"""Raw findings → normalized findings: repo-relative paths, tool-qualified rules, identity hashes."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from ssot_pipelines.analysis.findings import Finding, RawFinding

BLOCK_RADIUS = 5  # Sonar's BlockRecognizer hashes the lines L-5..L+5
CONTEXT_RADIUS = 2
_MASK_NUMBERS = re.compile(r"(?<![A-Za-z_])\d+(?![A-Za-z_])")


def file_catalog_key(path: str, repo: str) -> str:
    """The File Catalog key of a repo-relative POSIX path: ``<repo>/<path>`` (catalog.state.file_key)."""
    return f"{repo}/{path}" if repo else path


def catalogued_keys(conn: Any, keys: Iterable[str]) -> set[str]:
    """The subset of ``keys`` that are File Catalog rows.

    A relation to a row the catalog does not have would stay unresolved, and the sync engine does not
    update a row while one of its relations is unresolved; so such relations are left empty instead.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    rows = conn.execute("SELECT key FROM catalog_files WHERE key = ANY(%s)", (wanted,)).fetchall()
    return {r["key"] for r in rows}


def repo_relative(path: str, repo_root: Path | None) -> str:
    """A report's path as repo-relative POSIX; paths outside the repository are kept absolute."""
    posix = path.replace("\\", "/")
    candidate = PurePosixPath(posix)
    if repo_root is not None and candidate.is_absolute():
        root = PurePosixPath(repo_root.resolve().as_posix())
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            return candidate.as_posix()
    return PurePosixPath(posix.removeprefix("./")).as_posix()


def storable(text: str) -> str:
    """``text`` as PostgreSQL can store it: NUL and lone UTF-16 surrogates written as visible escapes.

    A report is the tool's word and is kept whole, but PostgreSQL text cannot hold NUL and UTF-8 cannot
    encode a lone surrogate; ``\\x00`` and ``\\udXXX`` keep what was there readable instead.
    """
    if text.isascii() and "\0" not in text:  # nearly every finding: nothing to do, and cheap to tell
        return text
    if "\0" in text:
        text = text.replace("\0", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def line_hash(text: str) -> str:
    """Sonar's line checksum: md5 of the line without spaces and tabs; an empty line hashes to ""."""
    stripped = text.replace(" ", "").replace("\t", "").rstrip("\r\n")
    return hashlib.md5(stripped.encode("utf-8")).hexdigest() if stripped else ""


def normalize_message(message: str) -> str:
    """The message with numbers masked and whitespace folded, so "line 12" and "line 14" compare equal."""
    return " ".join(_MASK_NUMBERS.sub("#", message.strip()).split())


@dataclass
class SourceFile:
    """The lines of one analysed file with their hashes and the symbol spans used as scopes."""

    lines: list[str]
    hashes: list[str]
    scopes: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, qualified name)
    _starts: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> SourceFile | None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        lines = text.splitlines()
        source = cls(lines, [line_hash(line) for line in lines])
        if path.suffix == ".py":
            source.scopes = _python_scopes(lines)
            source._starts = [s for s, _, _ in source.scopes]
        return source

    def hash_at(self, line: int | None) -> str:
        return self.hashes[line - 1] if line is not None and 0 < line <= len(self.hashes) else ""

    def block_hash(self, line: int | None) -> str:
        if line is None or not 0 < line <= len(self.hashes):
            return ""
        window = self.hashes[max(0, line - 1 - BLOCK_RADIUS) : line + BLOCK_RADIUS]
        return hashlib.md5("\n".join(window).encode()).hexdigest()

    def context(self, line: int | None) -> str:
        if line is None or not 0 < line <= len(self.lines):
            return ""
        first = max(1, line - CONTEXT_RADIUS)
        last = min(len(self.lines), line + CONTEXT_RADIUS)
        return "\n".join(f"{n:>5} {'>' if n == line else ' '} {self.lines[n - 1]}" for n in range(first, last + 1))

    def scope_at(self, line: int | None) -> str:
        """The innermost def/class containing ``line``."""
        if line is None or not self.scopes:
            return ""
        best = ""
        for start, end, name in self.scopes[: bisect.bisect_right(self._starts, line)]:
            if start <= line <= end:
                best = name  # scopes are sorted by start, so a later match is nested deeper
        return best


_DEFINITION = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")


def _python_scopes(lines: list[str]) -> list[tuple[int, int, str]]:
    """Spans of def/class blocks by indentation: a line scan, since parsing every file costs too much.

    A block ends before the first non-blank, non-comment line indented no deeper than its header.
    """
    spans: list[tuple[int, int, str]] = []
    open_blocks: list[tuple[int, int, str]] = []  # (indent, start line, qualified name)
    last_code_line = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while open_blocks and indent <= open_blocks[-1][0] and not stripped.startswith((")", "]", "}")):
            _, start, name = open_blocks.pop()
            spans.append((start, last_code_line, name))
        match = _DEFINITION.match(line)
        if match:
            prefix = f"{open_blocks[-1][2]}." if open_blocks else ""
            open_blocks.append((indent, number, prefix + match["name"]))
        last_code_line = number
    spans.extend((start, last_code_line, name) for _, start, name in open_blocks)
    spans.sort()
    return spans


class Normalizer:
    """Normalizes findings against the files of one repository checkout, reading each file once."""

    def __init__(self, repo_root: Path | None) -> None:
        self.repo_root = repo_root.resolve() if repo_root is not None else None
        self._files: dict[str, SourceFile | None] = {}

    def source(self, path: str) -> SourceFile | None:
        if path not in self._files:
            self._files[path] = (
                SourceFile.read(self.repo_root / path)
                if self.repo_root is not None and not PurePosixPath(path).is_absolute()
                else None
            )
        return self._files[path]

    def path(self, raw_path: str) -> str:
        return repo_relative(raw_path, self.repo_root)

    def normalize(self, raw: RawFinding) -> Finding:
        raw = _storable_finding(raw)
        path = self.path(raw.path)
        source = self.source(path)
        hashed = source.hash_at(raw.line) if source else ""
        if not hashed and raw.line_hash:
            hashed = raw.line_hash
        elif not hashed and raw.snippet:
            hashed = line_hash(raw.snippet.splitlines()[0] if raw.snippet.splitlines() else "")
        return Finding(
            tool=raw.tool,
            rule=f"{raw.tool}:{raw.rule_id}",
            path=path,
            line=raw.line,
            end_line=raw.end_line,
            col=raw.col,
            message=raw.message,
            message_norm=normalize_message(raw.message),
            native_severity=raw.native_severity,
            severity=raw.severity,
            line_hash=hashed,
            block_hash=source.block_hash(raw.line) if source else "",
            scope=raw.scope or (source.scope_at(raw.line) if source else ""),
            external_id=raw.external_id,
            fingerprints=dict(raw.fingerprints),
            context=storable(source.context(raw.line) if source else (raw.snippet or "")),
            hint=raw.hint,
            tool_status=raw.tool_status,
        )

    def normalize_all(self, raws: Iterable[RawFinding]) -> list[Finding]:
        return [self.normalize(r) for r in raws]


def _storable_finding(raw: RawFinding) -> RawFinding:
    """``raw`` with every text field made storable (see ``storable``); the same object when already so."""
    texts = [
        raw.tool,
        raw.rule_id,
        raw.path,
        raw.message,
        raw.native_severity,
        raw.hint,
        raw.scope,
        raw.external_id,
        raw.snippet,
        raw.line_hash,
        *raw.fingerprints,
        *raw.fingerprints.values(),
    ]
    if all(t is None or storable(t) is t for t in texts):
        return raw
    fingerprints = {storable(k): storable(v) for k, v in raw.fingerprints.items()}
    fixed = replace(
        raw,
        tool=storable(raw.tool),
        rule_id=storable(raw.rule_id),
        path=storable(raw.path),
        message=storable(raw.message),
        native_severity=_maybe(raw.native_severity),
        hint=_maybe(raw.hint),
        scope=storable(raw.scope),
        external_id=_maybe(raw.external_id),
        snippet=_maybe(raw.snippet),
        line_hash=_maybe(raw.line_hash),
        fingerprints=fingerprints,
    )
    return fixed


def _maybe(text: str | None) -> str | None:
    return None if text is None else storable(text)
