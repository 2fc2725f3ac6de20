"""ESLint ``-f json`` (an array of file results) and ``-f json-with-metadata`` ({results, metadata})."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

FORMAT = "eslint json"
_SEVERITY: dict[int, Severity] = {2: "major", 1: "minor"}
# Messages ESLint itself reports without a rule (ruleId null). Only a `fatal` one is a parse error; the
# others are about directives and configuration, reported at the level the user configured
# (linterOptions.reportUnusedDisableDirectives, reportUnusedInlineConfigs: "warn" by default).
_CORE_MESSAGES = (
    ("Unused eslint-disable directive", "unused-disable-directive"),
    ("Unused eslint-enable directive", "unused-enable-directive"),
    ("Unused inline config", "unused-inline-config"),
    ("File ignored", "file-ignored"),
)


def looks_like(data: Any) -> bool:
    if isinstance(data, dict) and "results" in data and "metadata" in data:
        return True
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "filePath" in data[0]
        and "messages" in data[0]
    )


def parse(data: Any, source: str) -> ParsedReport:
    results = data["results"] if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise ReportFormatError(source, "'results' is not an array", FORMAT)
    findings: list[RawFinding] = []
    analyzed: set[str] = set()
    for index, result in enumerate(results):
        where = f"file result #{index + 1}"
        if not isinstance(result, dict):
            raise ReportFormatError(source, f"{where} is not an object", FORMAT)
        path = str(require(source, FORMAT, result, where, "filePath", str))
        analyzed.add(path)  # ESLint lists clean files too: this is the run's real scope
        messages = require(source, FORMAT, result, where, "messages", list)
        suppressed = require(source, FORMAT, result, where, "suppressedMessages", list, optional=True) or []
        assert isinstance(messages, list) and isinstance(suppressed, list)
        for n, message in enumerate(messages):
            findings.append(_finding(message, path, source, f"{where} message #{n + 1}", None))
        for n, message in enumerate(suppressed):
            findings.append(_finding(message, path, source, f"{where} suppressed #{n + 1}", "accepted"))
    return ParsedReport(FORMAT, findings, analyzed)


def _finding(item: Any, path: str, source: str, where: str, status: Any) -> RawFinding:
    if not isinstance(item, dict):
        raise ReportFormatError(source, f"{where} is not an object", FORMAT)
    fatal = bool(item.get("fatal"))
    rule = require(source, FORMAT, item, where, "ruleId", str, optional=True)
    level = require(source, FORMAT, item, where, "severity", int)
    if level not in (0, 1, 2):
        raise ReportFormatError(source, f"{where} has severity {level!r} (ESLint uses 1 or 2)", FORMAT)
    line = require(source, FORMAT, item, where, "line", int, optional=True)
    column = require(source, FORMAT, item, where, "column", int, optional=True)
    end_line = require(source, FORMAT, item, where, "endLine", int, optional=True)
    severity: Severity = "blocker" if fatal else _SEVERITY.get(int(level), "info")  # type: ignore[call-overload]
    text = str(require(source, FORMAT, item, where, "message", str))
    return RawFinding(
        tool="eslint",
        rule_id=str(rule) if rule else core_rule(text, fatal=fatal),
        path=path,
        line=line if isinstance(line, int) else None,
        end_line=end_line if isinstance(end_line, int) else None,
        col=column if isinstance(column, int) else None,
        message=text,
        severity=severity,
        native_severity="fatal" if fatal else {2: "error", 1: "warn"}.get(int(level), "off"),  # type: ignore[call-overload]
        tool_status=status,
    )


def core_rule(message: str, *, fatal: bool) -> str:
    """The rule name for a message ESLint reports without ``ruleId``."""
    if fatal:
        return "parse-error"
    for prefix, name in _CORE_MESSAGES:
        if message.startswith(prefix):
            return name
    return "core"
