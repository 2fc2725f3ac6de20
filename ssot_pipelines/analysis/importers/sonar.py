"""SonarQube ``GET /api/issues/search`` responses, with the older (severity/type) and newer (impacts) fields."""

from __future__ import annotations

from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity, ToolStatus
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

FORMAT = "SonarQube api/issues/search response"
_LEGACY: dict[str, Severity] = {
    "BLOCKER": "blocker",
    "CRITICAL": "critical",
    "MAJOR": "major",
    "MINOR": "minor",
    "INFO": "info",
}
_IMPACT: dict[str, Severity] = {
    "BLOCKER": "blocker",
    "HIGH": "critical",
    "MEDIUM": "major",
    "LOW": "minor",
    "INFO": "info",
}
_RANK = {s: i for i, s in enumerate(("blocker", "critical", "major", "minor", "info"))}
_GONE_RESOLUTIONS = {"FIXED", "REMOVED"}
_TRIAGE: dict[str, ToolStatus] = {
    "WONTFIX": "wont_fix",
    "FALSE-POSITIVE": "false_positive",
    "ACCEPTED": "accepted",
    "FALSE_POSITIVE": "false_positive",
}


def looks_like(data: Any) -> bool:
    return isinstance(data, dict) and "issues" in data and ("paging" in data or "components" in data or "total" in data)


def parse(data: dict[str, Any], source: str) -> ParsedReport:
    issues = data["issues"]
    if not isinstance(issues, list):
        raise ReportFormatError(source, "'issues' is not an array", FORMAT)
    paths: dict[str, str] = {}
    for component in data.get("components") or []:
        if (
            isinstance(component, dict)
            and isinstance(component.get("key"), str)
            and isinstance(component.get("path"), str)
        ):
            paths[component["key"]] = component["path"]
    findings: list[RawFinding] = []
    analyzed: set[str] = set(paths.values())
    for index, issue in enumerate(issues):
        where = f"issue #{index + 1}"
        if not isinstance(issue, dict):
            raise ReportFormatError(source, f"{where} is not an object", FORMAT)
        key = str(require(source, FORMAT, issue, where, "key", str))
        component = str(require(source, FORMAT, issue, where, "component", str))
        rule = str(require(source, FORMAT, issue, where, "rule", str))
        path = paths.get(component) or component.partition(":")[2] or component
        analyzed.add(path)
        status = str(issue.get("status") or "OPEN").upper()
        resolution = str(issue.get("resolution") or "").upper()
        issue_status = str(issue.get("issueStatus") or issue.get("simpleStatus") or "").upper()
        if status == "CLOSED" or resolution in _GONE_RESOLUTIONS or issue_status == "FIXED":
            continue  # Sonar says it is gone: leaving it out lets the lifecycle mark it fixed
        line = issue.get("line")
        text_range: dict[str, Any] = issue["textRange"] if isinstance(issue.get("textRange"), dict) else {}
        if not isinstance(line, int):
            line = text_range.get("startLine") if isinstance(text_range.get("startLine"), int) else None
        findings.append(
            RawFinding(
                tool="sonarqube",
                rule_id=rule,
                path=path,
                line=line,
                end_line=text_range.get("endLine") if isinstance(text_range.get("endLine"), int) else None,
                col=text_range["startOffset"] + 1 if isinstance(text_range.get("startOffset"), int) else None,
                message=str(require(source, FORMAT, issue, where, "message", str, optional=True) or ""),
                severity=_severity(issue, source, where),
                native_severity=str(issue.get("severity") or ""),
                external_id=key,
                line_hash=issue["hash"] if isinstance(issue.get("hash"), str) else None,
                tool_status=_TRIAGE.get(resolution) or _TRIAGE.get(issue_status),
            )
        )
    report = ParsedReport(FORMAT, findings, analyzed)
    paging: dict[str, Any] = data["paging"] if isinstance(data.get("paging"), dict) else {}
    total = paging.get("total", data.get("total"))
    if isinstance(total, int) and total > len(issues):
        report.partial = True
        report.notes.append(f"one page of {total} issues: import marks nothing fixed; import every page")
    return report


def _severity(issue: dict[str, Any], source: str, where: str) -> Severity:
    impacts = issue.get("impacts")
    if isinstance(impacts, list) and impacts:
        found = [_IMPACT.get(str(i.get("severity", "")).upper()) for i in impacts if isinstance(i, dict)]
        known = [s for s in found if s is not None]
        if known:
            return min(known, key=_RANK.__getitem__)
    legacy = issue.get("severity")
    if isinstance(legacy, str) and legacy.upper() in _LEGACY:
        return _LEGACY[legacy.upper()]
    raise ReportFormatError(source, f"{where} has neither impacts[].severity nor a known severity", FORMAT)
