"""Read a report of any supported format: detect the format, validate the whole report, return findings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssot_pipelines.analysis.findings import ParsedReport
from ssot_pipelines.analysis.importers import eslint, mypy, pylint, ruff, sarif, sonar
from ssot_pipelines.analysis.importers.errors import SUPPORTED_FORMATS, ReportFormatError

FORMAT_NAMES = ("pylint-json2", "pylint-json", "ruff", "mypy", "eslint", "sarif", "sonarqube")
_EMPTY_ARRAY_FORMATS = {"pylint-json": pylint.JSON, "ruff": ruff.FORMAT, "eslint": eslint.FORMAT}

__all__ = ["FORMAT_NAMES", "ParsedReport", "ReportFormatError", "parse_report", "read_report"]


def read_report(path: Path, report_format: str | None = None) -> ParsedReport:
    """Parse the report file at ``path``; ``report_format`` (one of FORMAT_NAMES) skips detection."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportFormatError(str(path), "the file is not UTF-8 text") from None
    except OSError as exc:
        raise ReportFormatError(str(path), f"the file cannot be read ({exc.strerror})") from None
    return parse_report(text, str(path), report_format)


def parse_report(text: str, source: str, report_format: str | None = None) -> ParsedReport:
    """Parse report ``text`` (named ``source`` in errors); the whole report is validated or nothing is."""
    try:
        return _parse_report(text, source, report_format)
    except RecursionError:
        raise ReportFormatError(source, "its JSON nests too deeply to be a report") from None


def _parse_report(text: str, source: str, report_format: str | None) -> ParsedReport:
    if report_format is not None and report_format not in FORMAT_NAMES:
        raise ReportFormatError(source, f"unknown format {report_format!r}", ", ".join(FORMAT_NAMES))
    stripped = text.strip()
    if not stripped:
        raise ReportFormatError(source, "the file is empty")
    if report_format == "mypy":
        return mypy.parse(text, source)
    try:
        data: Any = json.loads(stripped)
    except json.JSONDecodeError as exc:
        first_line = stripped.splitlines()[0]
        first = _json_or_none(first_line)
        if report_format is None and (
            mypy.looks_like(first) or (first is None and "\n" in stripped and _any_mypy_line(stripped))
        ):
            return mypy.parse(text, source)
        raise ReportFormatError(
            source,
            f"it is not complete JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "it looks truncated or malformed",
        ) from None
    if report_format is not None:
        return _parse_as(report_format, data, source, text)
    return _detect_and_parse(data, source, text)


def _parse_as(report_format: str, data: Any, source: str, text: str) -> ParsedReport:
    if isinstance(data, list) and not data and report_format in _EMPTY_ARRAY_FORMATS:
        return ParsedReport(_EMPTY_ARRAY_FORMATS[report_format], [])
    checks: dict[str, tuple[Callable[[Any], bool], Callable[[Any, str], ParsedReport], str]] = {
        "pylint-json2": (pylint.looks_like_json2, pylint.parse_json2, pylint.JSON2),
        "pylint-json": (pylint.looks_like_json, pylint.parse_json, pylint.JSON),
        "ruff": (ruff.looks_like, ruff.parse, ruff.FORMAT),
        "eslint": (eslint.looks_like, eslint.parse, eslint.FORMAT),
        "sarif": (sarif.looks_like, sarif.parse, sarif.FORMAT),
        "sonarqube": (sonar.looks_like, sonar.parse, sonar.FORMAT),
    }
    looks, parse, name = checks[report_format]
    if not looks(data):
        raise ReportFormatError(source, f"it does not have the shape of a {name} report", name)
    return parse(data, source)


def _detect_and_parse(data: Any, source: str, text: str) -> ParsedReport:
    if isinstance(data, dict):
        if sarif.looks_like(data):
            return sarif.parse(data, source)
        if pylint.looks_like_json2(data):
            return pylint.parse_json2(data, source)
        if sonar.looks_like(data):
            return sonar.parse(data, source)
        if eslint.looks_like(data):
            return eslint.parse(data, source)
        if mypy.looks_like(data):
            return mypy.parse(text, source)
        raise ReportFormatError(source, f"a JSON object with keys {sorted(data)[:8]} is no known report")
    if isinstance(data, list):
        if not data:
            raise ReportFormatError(
                source,
                "it is an empty array, which ruff, ESLint and legacy pylint all write for a clean "
                "run, so the tool cannot be told",
                "the format named explicitly (--format ruff|eslint|pylint-json)",
            )
        if ruff.looks_like(data):
            return ruff.parse(data, source)
        if eslint.looks_like(data):
            return eslint.parse(data, source)
        if pylint.looks_like_json(data):
            return pylint.parse_json(data, source)
        first = data[0]
        keys = sorted(first)[:8] if isinstance(first, dict) else type(first).__name__
        raise ReportFormatError(source, f"an array whose first item ({keys}) matches no known format")
    raise ReportFormatError(source, f"the top-level JSON value is a {type(data).__name__}", SUPPORTED_FORMATS)


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _any_mypy_line(text: str) -> bool:
    return any(mypy.looks_like(_json_or_none(line)) for line in text.splitlines()[:50] if line.startswith("{"))
