"""Settings from the environment (and an optional env file), with the embedded defaults' locations."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NOTION_VERSION_DEFAULT = "2025-09-03"
SANDBOX_TOKEN = "sandbox-token"  # the only token the local sandbox accepts by default; not a secret
SANDBOX_PORT_DEFAULT = 8765


class ConfigurationError(RuntimeError):
    """A configured value is wrong or its service is unreachable; the message names the variable and the fix."""


def env(name: str, default: str | None = None) -> str | None:
    """An environment variable, with empty strings treated as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def load_env_file(path: str | os.PathLike[str] | None = None) -> None:
    """Load KEY=VALUE lines from ``SSOT_ENV_FILE`` (or ``.env``) without overriding the environment."""
    candidate = Path(path or env("SSOT_ENV_FILE") or ".env")
    if not candidate.is_file():
        return
    for raw in candidate.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip().strip('"').strip("'")
        os.environ.setdefault(key, value)


def ssot_home() -> Path:
    """The project data directory for the embedded services and local journals (``SSOT_HOME``)."""
    home = Path(env("SSOT_HOME") or Path.cwd() / ".ssot").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass(frozen=True)
class Secret:
    """A string that never shows itself in repr, str or logs."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each secret (and credentials in URLs) with ***."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return _redact_url_passwords(text)


def _redact_url_passwords(text: str) -> str:
    import re

    return re.sub(r"(\w+://[^:/@\s]*:)([^@\s]+)(@)", r"\1***\3", text)
