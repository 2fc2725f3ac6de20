"""Run the configured linters on a repository and hand their reports to the importers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ssot_pipelines.analysis.findings import ParsedReport
from ssot_pipelines.analysis.importers import ReportFormatError, parse_report
from ssot_pipelines.settings import ConfigurationError, env

DEFAULT_TOOLS = ("ruff", "pylint", "mypy")
_EXCLUDED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".ssot"}


@dataclass
class LinterRun:
    tool: str
    report: ParsedReport
    analyzed: list[str]  # repo-relative files given to the tool: the run's scope
    exit_code: int


def configured_tools() -> list[str]:
    """``SSOT_ANALYSIS_TOOLS`` (comma-separated), default ruff,pylint,mypy."""
    raw = env("SSOT_ANALYSIS_TOOLS") or ",".join(DEFAULT_TOOLS)
    tools = [t.strip() for t in raw.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(DEFAULT_TOOLS))
    if unknown:
        raise ConfigurationError(
            f"SSOT_ANALYSIS_TOOLS names {unknown}; the linters ssot can run are {', '.join(DEFAULT_TOOLS)}"
        )
    return tools


def python_files(repo_root: Path) -> list[str]:
    """Repo-relative POSIX paths of the Python files to analyse (git's view when it is a repository)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_root), "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout
        files = sorted(line for line in out.splitlines() if line and (repo_root / line).is_file())
        if files or (repo_root / ".git").exists():
            return files
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for dirpath, dirnames, filenames in os.walk(repo_root):
        dirnames[:] = [d for d in dirnames if d not in _EXCLUDED_DIRS]
        for name in filenames:
            if name.endswith(".py"):
                found.append(Path(dirpath, name).relative_to(repo_root).as_posix())
    return sorted(found)


def _executable(tool: str) -> str | None:
    beside_python = Path(sys.executable).parent / tool
    return str(beside_python) if beside_python.exists() else shutil.which(tool)


def available_tools(tools: list[str]) -> list[str]:
    return [t for t in tools if _executable(t) is not None]


_COMMANDS = {
    "ruff": (["check", "--output-format=json", "--no-cache", "--exit-zero"], "ruff", {0, 1}),
    "pylint": (["--output-format=json2", "--exit-zero", "--persistent=n"], "pylint-json2", set(range(0, 32))),
    "mypy": (["-O", "json", "--no-error-summary", "--ignore-missing-imports"], "mypy", {0, 1, 2}),
}


def run_linter(tool: str, repo_root: Path, files: list[str], timeout: float = 900) -> LinterRun:
    """Run ``tool`` on ``files``; a crash (not findings) raises with the tool's own error text."""
    executable = _executable(tool)
    if executable is None:
        raise ConfigurationError(f"{tool} is not installed; install it or remove it from SSOT_ANALYSIS_TOOLS")
    arguments, report_format, ok_codes = _COMMANDS[tool]
    if not files:
        return LinterRun(tool, ParsedReport(report_format, []), [], 0)
    done = subprocess.run([executable, *arguments, *files], cwd=repo_root, capture_output=True, text=True,
                          timeout=timeout, check=False)
    text = done.stdout.strip()
    if done.returncode not in ok_codes or (not text and done.returncode != 0):
        raise RuntimeError(f"{tool} failed with exit code {done.returncode}: {done.stderr.strip()[-2000:]}")
    if not text or text == "[]":
        report = ParsedReport(report_format, [])
    else:
        try:
            report = parse_report(text, f"{tool} output", report_format)
        except ReportFormatError as exc:
            if tool == "mypy" and done.returncode == 2:  # a blocking error mypy printed as plain text
                raise RuntimeError(f"mypy stopped: {text[-2000:]}") from exc
            raise
    return LinterRun(tool, report, files, done.returncode)
