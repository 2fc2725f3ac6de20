"""Which transcript files capture may read: regular files, after resolving symlinks, inside the roots.

A hook event is untrusted input: its ``transcript_path`` could name any file the user can read (a
prompt-injected agent could point it at ``~/.ssh``). So a transcript is read only when it is a regular
file whose real path lies inside a configured transcript root: ``$CLAUDE_CONFIG_DIR/projects`` (default
``~/.claude/projects``), ``$CODEX_HOME/sessions`` and ``$CODEX_HOME/archived_sessions`` (default
``~/.codex``), and the directories listed in ``SSOT_TRANSCRIPT_ROOTS`` (separated by ``:``). Anything
else is refused unread, with the reason. ``ssot import --allow-outside-roots`` lifts the roots (never
the regular-file rule) for paths a person typed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

ROOTS_ENV = "SSOT_TRANSCRIPT_ROOTS"


def transcript_roots() -> list[Path]:
    """The configured transcript roots, in order: Claude Code's, Codex's, then ``SSOT_TRANSCRIPT_ROOTS``."""
    claude = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude").expanduser() / "projects"
    codex_home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()
    extra = [Path(p).expanduser() for p in (os.environ.get(ROOTS_ENV) or "").split(os.pathsep) if p.strip()]
    return [claude, codex_home / "sessions", codex_home / "archived_sessions", *extra]


class TranscriptGate:
    """Decides, per file, whether capture may read it; remembers nothing but the roots."""

    def __init__(self, roots: list[Path] | None = None, *, allow_outside_roots: bool = False) -> None:
        self.roots = [Path(os.path.realpath(r)) for r in (roots if roots is not None else transcript_roots())]
        self.allow_outside_roots = allow_outside_roots

    def inside(self, real: Path) -> bool:
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def admit(self, path: Path) -> tuple[Path | None, str | None]:
        """(the real path to read, None) or (None, why it is refused). Nothing is read to decide."""
        try:
            real = Path(os.path.realpath(path))
            via = f" (a symlink to {printable(str(real))})" if real != Path(os.path.abspath(path)) else ""
            if not self.allow_outside_roots and not self.inside(real):
                return None, (
                    f"outside the transcript roots{via}; add its folder to {ROOTS_ENV}"
                    " or pass --allow-outside-roots to `ssot import`"
                )
            mode = os.stat(real).st_mode
            str(real).encode("utf-8")  # the ledger keys files by their path: it must be text
        except UnicodeEncodeError:
            return None, "its file name is not valid UTF-8 (the ledger keys transcripts by path): rename it"
        except ValueError as exc:  # NUL, or a lone surrogate the file system cannot encode
            return None, f"not a usable file name ({exc})"
        except OSError as exc:
            return None, f"cannot be read: {exc.strerror or exc}"
        if not stat.S_ISREG(mode):
            return None, f"not a regular file{via}"
        return real, None


def printable(text: str) -> str:
    """A path as text that can always be printed and stored (odd characters escaped, NUL shown as \\x00)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
