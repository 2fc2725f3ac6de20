"""mypy ``-O json``: JSON Lines, 0-based columns; notes fold into the error before them."""

from __future__ import annotations

import json
import re
from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

FORMAT = "mypy -O json (one JSON object per line)"
# Some mypy versions print blocking syntax errors as plain text even with -O json (reference §2.3).
_TEXT_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<sev>error|note): (?P<msg>.*?)"
    r"(?:  \[(?P<code>[\w-]+)\])?$"
)
_SUMMARY = re.compile(r"^(Found \d+ errors?|Success: no issues found)")


def looks_like(first_object: Any) -> bool:
    return isinstance(first_object, dict) and {"file", "line", "message", "severity"} <= first_object.keys()


def parse(text: str, source: str) -> ParsedReport:
    findings: list[RawFinding] = []
    notes: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReportFormatError(
                    source, f"line {number} is not complete JSON ({exc.msg}); the report looks truncated", FORMAT
                ) from None
            _add(findings, _from_object(item, source, number))
            continue
        match = _TEXT_LINE.match(line)
        if match:
            _add(
                findings,
                RawFinding(
                    tool="mypy",
                    rule_id=match["code"] or "syntax",
                    path=match["file"],
                    line=int(match["line"]),
                    col=int(match["col"]) + 1 if match["col"] else None,
                    message=match["msg"],
                    severity="blocker" if match["code"] in (None, "syntax") else "major",
                    native_severity=match["sev"],
                )
                if match["sev"] == "error"
                else _note(match["file"], int(match["line"]), match["msg"]),
            )
        elif _SUMMARY.match(line):
            continue
        else:
            notes.append(f"line {number} ignored: {line[:120]}")
    return ParsedReport(FORMAT, findings, {f.path for f in findings}, notes)


def _note(path: str, line: int, message: str) -> RawFinding:
    return RawFinding(
        tool="mypy", rule_id="note", path=path, line=line, message=message, severity="info", native_severity="note"
    )


def _add(findings: list[RawFinding], finding: RawFinding) -> None:
    """Notes are follow-ups of the error before them: fold them into its hint."""
    if finding.native_severity == "note":
        if findings and findings[-1].path == finding.path:
            previous = findings[-1]
            previous.hint = f"{previous.hint}\n{finding.message}" if previous.hint else finding.message
        return
    findings.append(finding)


def _from_object(item: Any, source: str, number: int) -> RawFinding:
    where = f"line {number}"
    if not isinstance(item, dict):
        raise ReportFormatError(source, f"{where} is not a JSON object", FORMAT)
    severity = str(require(source, FORMAT, item, where, "severity", str))
    code = require(source, FORMAT, item, where, "code", str, optional=True)
    column = require(source, FORMAT, item, where, "column", int, optional=True)
    end_line = require(source, FORMAT, item, where, "end_line", int, optional=True)
    hint = require(source, FORMAT, item, where, "hint", str, optional=True)
    rule = str(code) if code else "misc"
    return RawFinding(
        tool="mypy",
        rule_id=rule,
        path=str(require(source, FORMAT, item, where, "file", str)),
        line=int(require(source, FORMAT, item, where, "line", int)),  # type: ignore[call-overload]
        end_line=end_line if isinstance(end_line, int) else None,
        col=column + 1 if isinstance(column, int) and column >= 0 else None,  # mypy columns are 0-based
        message=str(require(source, FORMAT, item, where, "message", str)),
        hint=hint if isinstance(hint, str) else None,
        severity="blocker" if rule == "syntax" else ("info" if severity == "note" else "major"),
        native_severity=severity,
    )
