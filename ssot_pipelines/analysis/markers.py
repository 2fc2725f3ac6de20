"""The built-in ``markers`` analyzer: TODO, FIXME, HACK and XXX comments in a repository's text files.

Each marker comment becomes a finding like a linter's (tool ``markers``, rule ``markers:TODO`` ...), so it
goes through the same normalizer, matcher and lifecycle: it keeps its identity when the code around it
moves, is fixed when the comment goes, and reopens when it comes back.

A marker counts only inside a comment (in Python files, outside strings): right after a comment leader
(``#``, ``//``, ``/*``, ``*`` at the start of a block-comment line, ``<!--``, ``--``, ``;``, ``%``,
``REM``), in upper case, as a whole word, optionally as ``@TODO`` or ``TODO(name)``. Binary files (a NUL
byte in the first 8 KiB), files larger than ``MAX_FILE_BYTES`` and symbolic links are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity

FORMAT = "markers"
TOOL = "markers"
MAX_FILE_BYTES = 2 * 1024 * 1024  # larger files are data or generated code, not where people leave notes
_SNIFF_BYTES = 8192
TAGS: dict[str, Severity] = {"FIXME": "minor", "HACK": "minor", "XXX": "minor", "TODO": "info"}
_LEADER = r"(?:#+|//+|/\*+|<!--|--|;+|%+|^\s*\*+|^\s*REM\b)"
_MARKER = re.compile(
    _LEADER + r"[ \t]*(?:[-*][ \t]+)?@?(?P<tag>" + "|".join(TAGS) + r")\b(?P<who>\([^)]*\))?[ \t]*[:\-]?[ \t]*"
    r"(?P<text>.*)$"
)
_CLOSERS = re.compile(r"\s*(?:\*+/|-->)\s*$")
_ANY_TAG = re.compile("|".join(TAGS))
_TAGGED_LINE = re.compile(r"^.*(?:" + "|".join(TAGS) + r").*$", re.MULTILINE)
# Python strings (any prefix, triple-quoted first) or a comment: matching strings is what skips them.
_TRIPLE = r"'''(?:\\.|[^\\])*?'''" + "|" + r'"""(?:\\.|[^\\])*?"""'
_SINGLE = r"'(?:\\.|[^'\\\n])*'" + "|" + r'"(?:\\.|[^"\\\n])*"'
_PYTHON_TOKENS = re.compile(
    r"(?P<string>(?:[rRbBuUfFtT]{1,2})?(?:" + _TRIPLE + "|" + _SINGLE + r"))|(?P<comment>#[^\n]*)", re.DOTALL
)


def marker_findings(repo_root: Path, files: list[str]) -> ParsedReport:
    """Scan ``files`` (repo-relative) under ``repo_root``; every readable text file counts as analysed."""
    findings: list[RawFinding] = []
    analyzed: set[str] = set()
    for path in files:
        text = _read_text(repo_root / path)
        if text is None:
            continue
        analyzed.add(path)
        for number, line in _comment_lines(path, text):
            found = scan_line(line)
            if found is not None:
                tag, message = found
                findings.append(
                    RawFinding(
                        tool=TOOL,
                        rule_id=tag,
                        path=path,
                        line=number,
                        message=message,
                        severity=TAGS[tag],
                        native_severity=tag,
                    )
                )
    return ParsedReport(FORMAT, findings, analyzed)


def _comment_lines(path: str, text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) pairs worth scanning: only lines holding a tag at all, and in Python files only
    comments, so a "# TODO" inside a string (or docstring) is no marker. Whole-text regexes keep it fast."""
    if not _ANY_TAG.search(text):
        return
    if path.endswith((".py", ".pyi")):
        for match in _PYTHON_TOKENS.finditer(text):
            if match.lastgroup == "comment" and _ANY_TAG.search(match.group()):
                yield text.count("\n", 0, match.start()) + 1, match.group()
        return
    for match in _TAGGED_LINE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group()


def scan_line(line: str) -> tuple[str, str] | None:
    """``(tag, message)`` when ``line`` holds a marker comment, else None."""
    if not any(tag in line for tag in TAGS):  # the common case, without the regex
        return None
    match = _MARKER.search(line)
    if match is None:
        return None
    tag = match["tag"]
    text = _CLOSERS.sub("", match["text"]).strip()
    who = match["who"] or ""
    return tag, f"{tag}{who}: {text}" if text else f"{tag}{who} comment"


def _read_text(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")
