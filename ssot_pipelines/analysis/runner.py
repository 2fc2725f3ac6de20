"""Run the configured linters on a repository and hand their reports to the importers.

The repository is untrusted input. File names come from ``git ls-files`` and may look like options
(``--init-hook=...`` runs code in pylint), so every tool gets ``--`` before its files and every name
that starts with ``-`` is passed as ``./name``: pylint pre-processes some options before its argument
parser and ignores ``--``, so the ``./`` form is what keeps such a name a file. No shell is ever used.

The linters read the repository's own configuration (``pyproject.toml``, ``setup.cfg``, ``.pylintrc``,
``mypy.ini``, ``ruff.toml``), which can load plugins and run code (pylint ``init-hook`` and
``load-plugins``, mypy ``plugins``). ``isolated_config=True`` runs them without it.
"""

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

LINTERS = ("ruff", "pylint", "mypy")
MARKERS = "markers"  # built in: TODO/FIXME/HACK/XXX comments (analysis/markers.py)
DEFAULT_TOOLS = (*LINTERS, MARKERS)
_EXCLUDED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".ssot"}


@dataclass
class LinterRun:
    tool: str
    report: ParsedReport
    analyzed: list[str]  # repo-relative files given to the tool: the run's scope
    exit_code: int


def configured_tools() -> list[str]:
    """``SSOT_ANALYSIS_TOOLS`` (comma-separated), default ruff,pylint,mypy,markers."""
    return parse_tools(env("SSOT_ANALYSIS_TOOLS") or ",".join(DEFAULT_TOOLS), "SSOT_ANALYSIS_TOOLS")


def parse_tools(raw: str, source: str) -> list[str]:
    """A comma-separated tool list checked against the analyzers ssot can run (``source`` names it)."""
    tools = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    unknown = sorted(set(tools) - set(DEFAULT_TOOLS))
    if unknown or not tools:
        raise ConfigurationError(
            f"{source} names {unknown or 'no tool'}; the analyzers ssot can run are {', '.join(DEFAULT_TOOLS)}"
        )
    return tools


def python_files(repo_root: Path) -> list[str]:
    """Repo-relative POSIX paths of the Python files to analyse (git's view when it is a repository)."""
    return repository_files(repo_root, "*.py")


def repository_files(repo_root: Path, pattern: str | None = None, *, tracked_only: bool = False) -> list[str]:
    """Repo-relative POSIX paths of the regular files git lists (tracked, plus untracked but not ignored
    unless ``tracked_only``), matching the git pathspec ``pattern``; outside git, a walk of the tree."""
    command = ["git", "-C", str(repo_root), "ls-files", "-z", "--cached"]
    if not tracked_only:
        command += ["--others", "--exclude-standard"]
    command += ["--", pattern] if pattern else []
    try:
        out = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
        names = {os.fsdecode(raw) for raw in out.split(b"\0") if raw}
        files = sorted(n for n in names if (repo_root / n).is_file() and not (repo_root / n).is_symlink())
        if files or (repo_root / ".git").exists():
            return files
    except (OSError, subprocess.SubprocessError):
        pass
    suffix = pattern.removeprefix("*") if pattern and pattern.startswith("*.") else None
    found = []
    for dirpath, dirnames, filenames in os.walk(repo_root):
        dirnames[:] = [d for d in dirnames if d not in _EXCLUDED_DIRS]
        for name in filenames:
            path = Path(dirpath, name)
            if (suffix is None or name.endswith(suffix)) and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(repo_root).as_posix())
    return sorted(found)


def _executable(tool: str) -> str | None:
    beside_python = Path(sys.executable).parent / tool
    return str(beside_python) if beside_python.exists() else shutil.which(tool)


def available_tools(tools: list[str]) -> list[str]:
    return [t for t in tools if t == MARKERS or _executable(t) is not None]


_COMMANDS = {
    "ruff": (["check", "--output-format=json", "--no-cache", "--exit-zero"], "ruff", {0, 1}),
    "pylint": (["--output-format=json2", "--exit-zero", "--persistent=n"], "pylint-json2", set(range(0, 32))),
    "mypy": (["-O", "json", "--no-error-summary", "--ignore-missing-imports"], "mypy", {0, 1, 2}),
}
# Each tool's own switch for "read no configuration file": ruff's --isolated, an empty rcfile for pylint
# (it then reads neither pylintrc nor pyproject.toml/setup.cfg), and mypy's documented empty --config-file.
_ISOLATED = {
    "ruff": ["--isolated"],
    "pylint": ["--rcfile=" + os.devnull],
    "mypy": ["--config-file="],
}


def file_argument(path: str) -> str:
    """A repo-relative path as a command-line argument that no tool can take for an option."""
    return f"./{path}" if path.startswith("-") else path


def linter_command(tool: str, executable: str, files: list[str], *, isolated_config: bool = False) -> list[str]:
    """The argument vector for ``tool``: options, then ``--``, then the files (never through a shell)."""
    arguments, _, _ = _COMMANDS[tool]
    config = _ISOLATED[tool] if isolated_config else []
    return [executable, *arguments, *config, "--", *(file_argument(f) for f in files)]


def run_linter(
    tool: str, repo_root: Path, files: list[str], timeout: float = 900, *, isolated_config: bool = False
) -> LinterRun:
    """Run ``tool`` on ``files``; a crash (not findings) raises with the tool's own error text.

    ``isolated_config``: ignore the repository's configuration files (see the module docstring).
    """
    executable = _executable(tool)
    if executable is None:
        raise ConfigurationError(f"{tool} is not installed; install it or remove it from SSOT_ANALYSIS_TOOLS")
    _, report_format, ok_codes = _COMMANDS[tool]
    if not files:
        return LinterRun(tool, ParsedReport(report_format, []), [], 0)
    done = subprocess.run(
        linter_command(tool, executable, files, isolated_config=isolated_config),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
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
