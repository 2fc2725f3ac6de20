"""ruff ``check --output-format=json``: an array; absolute paths, 1-based rows and columns, no real severity."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

FORMAT = "ruff json"


def looks_like(data: Any) -> bool:
    return (isinstance(data, list) and bool(data) and isinstance(data[0], dict)
            and "filename" in data[0] and "location" in data[0])


def severity_for(code: str) -> Severity:
    """ruff says "error" for everything, so the rule family decides (reference §2.2)."""
    if code == "invalid-syntax":
        return "blocker"
    if code.startswith("S"):
        return "critical"
    if code.startswith(("F", "E9", "PLE")):
        return "major"
    return "minor"


def parse(data: list[Any], source: str) -> ParsedReport:
    findings = []
    for index, item in enumerate(data):
        where = f"finding #{index + 1}"
        if not isinstance(item, dict):
            raise ReportFormatError(source, f"{where} is not an object", FORMAT)
        code = require(source, FORMAT, item, where, "code", str, optional=True)
        rule = str(code) if code else "invalid-syntax"  # older ruff wrote code:null for syntax errors
        location = require(source, FORMAT, item, where, "location", dict)
        assert isinstance(location, dict)
        row = require(source, FORMAT, location, f"{where} location", "row", int)
        column = require(source, FORMAT, location, f"{where} location", "column", int, optional=True)
        end = item.get("end_location")
        end_row = end.get("row") if isinstance(end, dict) and isinstance(end.get("row"), int) else None
        findings.append(RawFinding(
            tool="ruff",
            rule_id=rule,
            path=str(require(source, FORMAT, item, where, "filename", str)),
            line=int(row),  # type: ignore[call-overload]
            end_line=end_row,
            col=column if isinstance(column, int) else None,
            message=str(require(source, FORMAT, item, where, "message", str)),
            severity=severity_for(rule),
            native_severity=str(item.get("severity") or "error"),
        ))
    return ParsedReport(FORMAT, findings, {f.path for f in findings})
