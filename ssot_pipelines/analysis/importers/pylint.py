"""pylint ``--output-format=json2`` (an object with messages and statistics) and legacy ``json`` (an array)."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

JSON2 = "pylint json2"
JSON = "pylint json"
_SEVERITY: dict[str, Severity] = {
    "fatal": "blocker",
    "error": "major",
    "warning": "minor",
    "refactor": "info",
    "convention": "info",
    "info": "info",
}


def looks_like_json2(data: Any) -> bool:
    return isinstance(data, dict) and "messages" in data and "statistics" in data


def looks_like_json(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "message-id" in data[0]


def parse_json2(data: dict[str, Any], source: str) -> ParsedReport:
    messages = data["messages"]
    if not isinstance(messages, list):
        raise ReportFormatError(source, "'messages' is not an array", JSON2)
    findings = [_finding(m, source, JSON2, i, "messageId") for i, m in enumerate(messages)]
    return ParsedReport(JSON2, findings, {f.path for f in findings})


def parse_json(data: list[Any], source: str) -> ParsedReport:
    findings = [_finding(m, source, JSON, i, "message-id") for i, m in enumerate(data)]
    return ParsedReport(JSON, findings, {f.path for f in findings})


def _finding(item: Any, source: str, fmt: str, index: int, id_field: str) -> RawFinding:
    where = f"message #{index + 1}"
    if not isinstance(item, dict):
        raise ReportFormatError(source, f"{where} is not an object", fmt)
    kind = str(require(source, fmt, item, where, "type", str))
    if kind not in _SEVERITY:
        raise ReportFormatError(source, f"{where} has unknown type {kind!r}", fmt)
    symbol = str(require(source, fmt, item, where, "symbol", str))
    path = item.get("absolutePath") or require(source, fmt, item, where, "path", str)
    line = require(source, fmt, item, where, "line", int)
    column = require(source, fmt, item, where, "column", int, optional=True)
    end_line = require(source, fmt, item, where, "endLine", int, optional=True)
    message_id = require(source, fmt, item, where, id_field, str, optional=True)
    return RawFinding(
        tool="pylint",
        rule_id=symbol,
        path=str(path),
        line=int(line),  # type: ignore[call-overload]
        end_line=end_line if isinstance(end_line, int) else None,
        col=column + 1 if isinstance(column, int) else None,  # pylint columns are 0-based
        message=str(require(source, fmt, item, where, "message", str)),
        severity=_SEVERITY[kind],
        native_severity=kind,
        scope=str(item.get("obj") or ""),
        fingerprints={"pylint.messageId": message_id} if isinstance(message_id, str) else {},
    )
