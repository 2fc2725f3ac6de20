"""ruff ``check --output-format=json``: an array; absolute paths, 1-based rows and columns, no real severity."""

from __future__ import annotations

import re
from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport, RawFinding, Severity
from ssot_pipelines.analysis.importers.errors import ReportFormatError, require

FORMAT = "ruff json"
# A rule code is its linter's prefix (letters) then digits: S608 is flake8-bandit, SIM108 flake8-simplify,
# SLF001 flake8-self, SLOT000 flake8-slots, F401 Pyflakes, FURB118 refurb, PLE0101 Pylint errors.
_CODE = re.compile(r"^(?P<family>[A-Z]+)(?P<number>[0-9]+)$")
_CRITICAL_FAMILIES = frozenset({"S"})  # flake8-bandit: security problems
_MAJOR_FAMILIES = frozenset({"F", "PLE"})  # Pyflakes (undefined names, unused imports...) and Pylint errors


def looks_like(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "filename" in data[0]
        and "location" in data[0]
    )


def rule_family(code: str) -> str:
    """The linter a ruff code belongs to, matched whole: ``S`` for S608, never for SIM108 or SLF001."""
    match = _CODE.match(code)
    return match["family"] if match else code


def severity_for(code: str) -> Severity:
    """ruff says "error" for everything, so the rule family decides (reference §2.2).

    flake8-bandit (``S``) is critical; Pyflakes (``F``), pycodestyle's runtime errors (``E9``: the file
    cannot be parsed or read) and Pylint errors (``PLE``) are major; a syntax error is a blocker; the rest,
    style and refactoring advice, is minor. Families are compared whole, not as prefixes.
    """
    if code == "invalid-syntax":
        return "blocker"
    family = rule_family(code)
    if family in _CRITICAL_FAMILIES:
        return "critical"
    if family in _MAJOR_FAMILIES or (family == "E" and code.startswith("E9")):
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
        findings.append(
            RawFinding(
                tool="ruff",
                rule_id=rule,
                path=str(require(source, FORMAT, item, where, "filename", str)),
                line=int(row),  # type: ignore[call-overload]
                end_line=end_row,
                col=column if isinstance(column, int) else None,
                message=str(require(source, FORMAT, item, where, "message", str)),
                severity=severity_for(rule),
                native_severity=str(item.get("severity") or "error"),
            )
        )
    return ParsedReport(FORMAT, findings, {f.path for f in findings})
