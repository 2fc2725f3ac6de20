"""Settings from the environment (and an optional env file), with the embedded defaults' locations."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

NOTION_VERSION_DEFAULT = "2025-09-03"
# The Notion API versions this project speaks (reference/notion-2026.md §2); the sandbox speaks the same.
SUPPORTED_NOTION_VERSIONS = ("2025-09-03", "2026-03-11", "2026-12-01")
SANDBOX_PORT_DEFAULT = 8765
SANDBOX_TOKEN_FILE = "sandbox-token"  # in SSOT_HOME, mode 0600: the local sandbox's random API token


class ConfigurationError(RuntimeError):
    """A configured value is wrong or its service is unreachable; the message names the variable and the fix."""


def notion_version(value: str | None) -> str:
    """The NOTION_VERSION to send: ``value`` (default 2025-09-03) when this project supports it.

    Raises ConfigurationError naming the variable and the supported values otherwise."""
    chosen = (value or "").strip() or NOTION_VERSION_DEFAULT
    if chosen not in SUPPORTED_NOTION_VERSIONS:
        raise ConfigurationError(
            f"NOTION_VERSION={chosen!r} is not a Notion API version this project supports; set it to one of "
            f"{', '.join(SUPPORTED_NOTION_VERSIONS)} (or unset it for {NOTION_VERSION_DEFAULT})."
        )
    return chosen


def notion_spare_blocks() -> bool:
    """``NOTION_SPARE_BLOCKS``: the Notion workspace is a Free one with several members (1,000 blocks in its
    lifetime), so page bodies spend no block an edit can avoid from the first sync on."""
    value = (env("NOTION_SPARE_BLOCKS") or "0").strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigurationError(f"NOTION_SPARE_BLOCKS={value!r} is not a yes/no value: set it to 1 or 0.")
    return value in ("1", "true", "yes")


def env(name: str, default: str | None = None) -> str | None:
    """An environment variable, with empty strings treated as unset."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


_WARNED_ENV_FILES: set[Path] = set()


def load_env_file(path: str | os.PathLike[str] | None = None) -> None:
    """Load KEY=VALUE lines from ``SSOT_ENV_FILE`` (or ``.env``) without overriding the environment.

    A file that other users can read or write is still loaded, with one warning line on stderr that
    names it and the ``chmod 600`` that fixes it.
    """
    candidate = Path(path or env("SSOT_ENV_FILE") or ".env")
    if not candidate.is_file():
        return
    warning = env_file_warning(candidate)
    if warning and candidate.resolve() not in _WARNED_ENV_FILES:
        _WARNED_ENV_FILES.add(candidate.resolve())
        print(f"ssot: warning: {warning}", file=sys.stderr)
    for raw in candidate.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip().strip('"').strip("'")
        os.environ.setdefault(key, value)


def env_file_warning(path: Path) -> str | None:
    """Why ``path`` (an env file, which holds secrets) is unsafe, with the fix; None when private."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return None
    can = "read" if mode & 0o044 else "write"
    return (
        f"{path} holds secrets but other users can {can} it (mode {mode:03o}); run `chmod 600 {shlex.quote(str(path))}`"
    )


def ssot_home() -> Path:
    """The project data directory for the embedded services and local journals (``SSOT_HOME``).

    Created private to its owner (0700): it holds the ledger's data, journals and the sandbox's token.
    """
    home = Path(env("SSOT_HOME") or Path.cwd() / ".ssot").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def sandbox_token_path(home: Path | None = None) -> Path:
    """Where the local sandbox of ``home`` (default ``SSOT_HOME``) keeps its API token."""
    return (home if home is not None else ssot_home()) / SANDBOX_TOKEN_FILE


def sandbox_token(home: Path | None = None) -> str:
    """The local sandbox's API token for ``home`` (default ``SSOT_HOME``): random, made on first use.

    The sandbox accepts it on every request and every client of the embedded sandbox reads it here, so
    it is never a public constant; the file is mode 0600, so other users of the machine cannot use it.
    """
    return private_token(sandbox_token_path(home))


def private_token(path: Path) -> str:
    """The token in ``path``, creating it (random, mode 0600) if missing; safe when processes race."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(f"ssot-sandbox-{secrets.token_urlsafe(32)}\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # a concurrent creator's token wins
                os.link(fresh, path)  # atomic, and never overwrites
        finally:
            fresh.unlink(missing_ok=True)
    return _read_private(path)


def _read_private(path: Path) -> str:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"{path} is not a regular file; remove it and a new sandbox token is made")
    if info.st_uid != os.getuid():
        raise ConfigurationError(f"{path} belongs to another user; set SSOT_HOME to a directory of your own")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o600)  # readable by others means usable by others: close it before use
    token = path.read_text(encoding="ascii", errors="replace").strip()
    if not token:
        raise ConfigurationError(f"{path} is empty; remove it and a new sandbox token is made")
    return token


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
