"""The Claude Code hook configuration for ``ssot-hook``, and merging it into a settings.json idempotently."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PreCompact",
    "PostCompact",
    "Stop",
    "SubagentStop",
    "SessionEnd",
)
# No matcher on SessionStart: every source (startup, resume, clear, compact, fork) is logged and bridged.
MATCHERS = {"PreToolUse": "*", "PostToolUse": "*"}
HOOK_TIMEOUT_SECONDS = 10  # ssot-hook returns in milliseconds; the cap only bounds a stuck disk
_MARKERS = ("ssot-hook", "ssot_pipelines.sessions.hook")


class SettingsError(ValueError):
    """The settings file cannot be merged (not JSON, or hooks of an unexpected shape); it is left untouched."""


def hook_command(ssot_home: Path | None = None, *, console_script: bool = False) -> str:
    """The command line Claude Code runs for every hook event.

    Default: ``SSOT_HOME=<abs> PYTHONPATH=<package root> <python> -S -c '...main()'``. ``-S`` skips the
    site-packages set-up (``.pth`` files, editable-install finders), which is most of an interpreter's start
    time; the hook's hot path needs only the stdlib, and it loads site-packages itself when it needs the
    ledger for the bridged context. ``console_script``: the plain ``<venv>/bin/ssot-hook`` instead.
    """
    import ssot_pipelines

    home = (ssot_home or Path(os.environ.get("SSOT_HOME") or Path.cwd() / ".ssot")).expanduser().resolve()
    script = Path(sys.prefix) / "bin" / "ssot-hook"
    if console_script and script.exists():
        return f"SSOT_HOME={shlex.quote(str(home))} {shlex.quote(str(script))}"
    root = Path(ssot_pipelines.__file__).resolve().parent.parent
    code = "from ssot_pipelines.sessions.hook import main; main()"
    return (
        f"SSOT_HOME={shlex.quote(str(home))} PYTHONPATH={shlex.quote(str(root))} "
        f"{shlex.quote(sys.executable)} -S -c {shlex.quote(code)}"
    )


def hook_settings(command: str) -> dict[str, Any]:
    """The ``hooks`` block to paste into ``~/.claude/settings.json``."""
    hooks: dict[str, Any] = {}
    for event in HOOK_EVENTS:
        entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECONDS}]}
        if event in MATCHERS:
            entry = {"matcher": MATCHERS[event], **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def _is_ours(handler: Any) -> bool:
    return isinstance(handler, dict) and any(m in str(handler.get("command", "")) for m in _MARKERS)


def merge(settings: dict[str, Any], command: str) -> tuple[dict[str, Any], int]:
    """``settings`` with our hooks set (replacing earlier ssot-hook handlers); returns (settings, changes)."""
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError('"hooks" in the settings is not an object; fix it by hand, then run this again')
    changes = 0
    for event, [wanted] in hook_settings(command)["hooks"].items():
        entries = hooks.setdefault(event, [])
        if not isinstance(entries, list):
            raise SettingsError(f'"hooks.{event}" is not a list; fix it by hand, then run this again')
        ours = [e for e in entries if isinstance(e, dict) and any(_is_ours(h) for h in e.get("hooks", []))]
        if ours == [wanted]:
            continue
        kept = []
        for e in entries:
            if e in ours:
                rest = [h for h in e.get("hooks", []) if not _is_ours(h)]
                if rest:  # the user grouped other handlers with ours: keep theirs
                    kept.append({**e, "hooks": rest})
            else:
                kept.append(e)
        hooks[event] = [*kept, wanted]
        changes += 1
    return settings, changes


def install(path: Path, command: str) -> int:
    """Merge the hooks into the settings file at ``path`` (created if missing); returns events changed."""
    settings: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            settings = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise SettingsError(f"{path} is not valid JSON ({exc}); fix it, then run this again") from None
        if not isinstance(settings, dict):
            raise SettingsError(f"{path} does not hold a JSON object; fix it, then run this again")
    merged, changes = merge(settings, command)
    if changes:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".ssot-tmp")
        tmp.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # atomic: the assistant never reads a half-written file
    return changes
