"""SARIF 2.1.0 from any tool: rules by id or index, URIs relative to a base id, levels, suppressions."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlparse

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity, ToolStatus
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require
from ssot_pipelines.analysis.importers.ruff import severity_for as ruff_severity

FORMAT = "SARIF 2.1.0"
_NOT_PROBLEMS = ("pass", "notApplicable")  # results that record a check, not a finding
_LEVEL: dict[str, Severity] = {"error": "major", "warning": "minor", "note": "info", "none": "info"}


def looks_like(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "runs" in data
        and ("version" in data or "sarif" in str(data.get("$schema", "")).lower())
    )


def parse(data: dict[str, Any], source: str) -> ParsedReport:
    version = data.get("version")
    if version != "2.1.0":
        raise ReportFormatError(source, f"SARIF version {version!r} is not supported", FORMAT)
    runs = data["runs"]
    if not isinstance(runs, list):
        raise ReportFormatError(source, "'runs' is not an array", FORMAT)
    findings: list[RawFinding] = []
    analyzed: set[str] = set()
    for r, run in enumerate(runs):
        where = f"run #{r + 1}"
        if not isinstance(run, dict):
            raise ReportFormatError(source, f"{where} is not an object", FORMAT)
        driver = (run.get("tool") or {}).get("driver") if isinstance(run.get("tool"), dict) else None
        if not isinstance(driver, dict) or not isinstance(driver.get("name"), str):
            raise ReportFormatError(source, f"{where} has no tool.driver.name", FORMAT)
        tool = _tool_name(driver["name"])
        rules = _rules(run, driver)
        bases = _uri_bases(run)
        artifacts: list[Any] = run["artifacts"] if isinstance(run.get("artifacts"), list) else []
        for artifact in artifacts:
            location = artifact.get("location") if isinstance(artifact, dict) else None
            if isinstance(location, dict) and isinstance(location.get("uri"), str):
                analyzed.add(_resolve_uri(location, bases, artifacts))
        results = require(source, FORMAT, run, where, "results", list, optional=True) or []
        assert isinstance(results, list)
        for n, result in enumerate(results):
            finding = _finding(result, source, f"{where} result #{n + 1}", tool, rules, bases, artifacts)
            if finding is not None:
                findings.append(finding)
                analyzed.add(finding.path)
    return ParsedReport(FORMAT, findings, analyzed)


def _tool_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", name.strip().lower()) or "sarif"


def _rules(run: dict[str, Any], driver: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [r for r in driver.get("rules") or [] if isinstance(r, dict)]
    extensions = (run.get("tool") or {}).get("extensions") or []
    for extension in extensions:  # Qodana puts its rules in tool.extensions[].rules
        if isinstance(extension, dict):
            rules.extend(r for r in extension.get("rules") or [] if isinstance(r, dict))
    return rules


def _uri_bases(run: dict[str, Any]) -> dict[str, str]:
    bases: dict[str, str] = {}
    for name, value in (run.get("originalUriBaseIds") or {}).items():
        if isinstance(value, dict) and isinstance(value.get("uri"), str):
            bases[name] = value["uri"]
    return bases


def _resolve_uri(location: dict[str, Any], bases: dict[str, str], artifacts: list[Any]) -> str:
    uri = location.get("uri")
    index = location.get("index")
    if not isinstance(uri, str) and isinstance(index, int) and 0 <= index < len(artifacts):
        artifact_location = (artifacts[index] or {}).get("location") or {}
        uri = artifact_location.get("uri")
        location = {**artifact_location, **{k: v for k, v in location.items() if k != "index"}}
    if not isinstance(uri, str):
        return ""
    base_id = location.get("uriBaseId")
    if isinstance(base_id, str) and base_id in bases and not urlparse(uri).scheme:
        base = bases[base_id]
        uri = base + uri if base.endswith("/") else f"{base}/{uri}"
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return unquote(uri)


def _finding(
    result: Any,
    source: str,
    where: str,
    tool: str,
    rules: list[dict[str, Any]],
    bases: dict[str, str],
    artifacts: list[Any],
) -> RawFinding | None:
    if not isinstance(result, dict):
        raise ReportFormatError(source, f"{where} is not an object", FORMAT)
    if result.get("kind") in _NOT_PROBLEMS:
        return None
    rule = _rule_for(result, rules)
    rule_id = result.get("ruleId") or (result.get("rule") or {}).get("id") or (rule or {}).get("id")
    if not isinstance(rule_id, str):
        raise ReportFormatError(source, f"{where} has no ruleId, rule.id or ruleIndex", FORMAT)
    message = _message(result, rule, source, where)
    locations = result.get("locations") or []
    physical = (locations[0] or {}).get("physicalLocation") if locations and isinstance(locations[0], dict) else None
    path, line, col, end_line, snippet = "", None, None, None, None
    if isinstance(physical, dict):
        artifact = physical.get("artifactLocation") or {}
        path = _resolve_uri(artifact, bases, artifacts) if isinstance(artifact, dict) else ""
        region = physical.get("region") or {}
        if isinstance(region, dict):
            line = region.get("startLine") if isinstance(region.get("startLine"), int) else None
            col = region.get("startColumn") if isinstance(region.get("startColumn"), int) else None
            end_line = region.get("endLine") if isinstance(region.get("endLine"), int) else None
            snippet_obj = region.get("snippet")
            if isinstance(snippet_obj, dict) and isinstance(snippet_obj.get("text"), str):
                snippet = snippet_obj["text"]
    if not path:
        raise ReportFormatError(source, f"{where} has no physical location with a file URI", FORMAT)
    level = _level(result, rule)
    severity = ruff_severity(rule_id) if tool == "ruff" else _LEVEL[level]
    security = ((rule or {}).get("properties") or {}).get("security-severity")
    try:
        score = float(security) if security is not None else None
    except (TypeError, ValueError):
        score = None
    if score is not None and level != "none":
        severity = "blocker" if score >= 9.0 else "critical" if score >= 7.0 else "major" if score >= 4.0 else "minor"
    fingerprints = {f"fingerprints.{k}": str(v) for k, v in (result.get("fingerprints") or {}).items()}
    fingerprints.update({f"partial.{k}": str(v) for k, v in (result.get("partialFingerprints") or {}).items()})
    logical = [loc.get("logicalLocations") for loc in locations if isinstance(loc, dict)]
    scope = ""
    for group in logical:
        if isinstance(group, list) and group and isinstance(group[0], dict):
            scope = str(group[0].get("fullyQualifiedName") or group[0].get("name") or "")
            break
    guid = result.get("guid")
    return RawFinding(
        tool=tool,
        rule_id=rule_id,
        path=path,
        line=line,
        end_line=end_line,
        col=col,
        message=message,
        severity=severity,
        native_severity=level,
        scope=scope,
        external_id=guid if isinstance(guid, str) else None,
        fingerprints=fingerprints,
        snippet=snippet,
        tool_status=_suppression(result),
    )


def _rule_for(result: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any] | None:
    index = result.get("ruleIndex")
    if index is None and isinstance(result.get("rule"), dict):
        index = result["rule"].get("index")
    if isinstance(index, int) and 0 <= index < len(rules):
        return rules[index]
    rule_id = result.get("ruleId")
    return next((r for r in rules if r.get("id") == rule_id), None)


def _message(result: dict[str, Any], rule: dict[str, Any] | None, source: str, where: str) -> str:
    message = result.get("message")
    if not isinstance(message, dict):
        raise ReportFormatError(source, f"{where} has no message object", FORMAT)
    if isinstance(message.get("text"), str):
        return str(message["text"])
    template = ((rule or {}).get("messageStrings") or {}).get(message.get("id"), {}).get("text")
    if isinstance(template, str):
        arguments = [str(a) for a in message.get("arguments") or []]
        return re.sub(r"\{(\d+)\}", lambda m: arguments[int(m[1])] if int(m[1]) < len(arguments) else m[0], template)
    raise ReportFormatError(source, f"{where} message has neither text nor a known message id", FORMAT)


def _level(result: dict[str, Any], rule: dict[str, Any] | None) -> str:
    kind = result.get("kind", "fail")
    if kind != "fail":
        return "none"
    level = result.get("level") or ((rule or {}).get("defaultConfiguration") or {}).get("level") or "warning"
    return level if level in _LEVEL else "warning"


def _suppression(result: dict[str, Any]) -> ToolStatus | None:
    for suppression in result.get("suppressions") or []:
        if isinstance(suppression, dict) and suppression.get("status", "accepted") == "accepted":
            return "accepted"
    return None
