"""The finding types shared by importers, the matcher and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["blocker", "critical", "major", "minor", "info"]
SEVERITY_ORDER: tuple[Severity, ...] = ("blocker", "critical", "major", "minor", "info")
ToolStatus = Literal["accepted", "false_positive", "wont_fix"]


@dataclass
class RawFinding:
    """One finding as a report states it, coordinates already 1-based, the path not yet repo-relative."""

    tool: str
    rule_id: str
    path: str
    line: int | None
    message: str
    severity: Severity
    native_severity: str | None = None
    end_line: int | None = None
    col: int | None = None
    hint: str | None = None
    scope: str = ""  # enclosing symbol when the tool names it (pylint ``obj``, SARIF logical location)
    external_id: str | None = None  # the tool's own stable id (Sonar key, SARIF guid)
    fingerprints: dict[str, str] = field(default_factory=dict)
    snippet: str | None = None
    line_hash: str | None = None  # when the tool supplies Sonar's line checksum
    tool_status: ToolStatus | None = None


@dataclass
class ParsedReport:
    """A whole report, validated: its findings and the files it says were analysed."""

    report_format: str
    findings: list[RawFinding]
    analyzed_paths: set[str] = field(default_factory=set)  # as written in the report
    notes: list[str] = field(default_factory=list)  # tolerated oddities, e.g. mypy plain-text lines
    partial: bool = False  # one page of a larger result: absent issues prove nothing, so none is fixed

    @property
    def tools(self) -> list[str]:
        return sorted({f.tool for f in self.findings})


@dataclass
class Finding:
    """A normalized finding: tool-qualified rule, repo-relative POSIX path, identity hashes."""

    tool: str
    rule: str
    path: str
    line: int | None
    end_line: int | None
    col: int | None
    message: str
    message_norm: str
    native_severity: str | None
    severity: Severity
    line_hash: str
    block_hash: str
    scope: str
    external_id: str | None
    fingerprints: dict[str, str]
    context: str
    hint: str | None
    tool_status: ToolStatus | None
