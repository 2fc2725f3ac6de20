"""What kind of file this is (from the ``identify`` library) and a short preview of a text file."""

from __future__ import annotations

import io
import os

from identify import identify

SYMLINK_TYPE = "symlink"
# identify's tags that say how a file is stored rather than what it is.
_GENERIC = frozenset(
    {
        "text",
        "binary",
        "file",
        "executable",
        "non-executable",
        "symlink",
        "directory",
        "socket",
        "unicode",
        "plain-text",
    }
)
# Broad families: used only when nothing more specific is known (png beats image).
_FAMILIES = frozenset({"image", "audio", "video", "archive", "font", "zip", "gzip", "shell", "xml", "json"})


def is_text(head: bytes) -> bool:
    """identify's text/binary rule, applied to the first bytes already read for hashing."""
    return bool(identify.is_text(io.BytesIO(head)))


def describe(path: str, head: bytes, *, max_lines: int, max_chars: int) -> tuple[str, str | None]:
    """(type, preview) of a regular file from its first bytes."""
    text = is_text(head)
    return (file_type(path, head, text=text), preview(head, max_lines=max_lines, max_chars=max_chars, text=text))


def _pick(tags: set[str]) -> str | None:
    specific = tags - _GENERIC
    if not specific:
        return None
    narrow = specific - _FAMILIES
    return sorted(narrow or specific)[0]


def file_type(path: str, head: bytes | None, *, is_symlink: bool = False, text: bool | None = None) -> str:
    """A language or kind: identify's tag for the name, else the shebang's interpreter, else text/binary."""
    if is_symlink:
        return SYMLINK_TYPE
    name = os.path.basename(path)
    picked = _pick(set(identify.tags_from_filename(name)))
    if picked:
        return picked
    if head is None:
        return "unknown"
    if head.startswith(b"#!"):
        try:
            command = identify.parse_shebang(io.BytesIO(head))
        except (ValueError, UnicodeDecodeError):
            command = ()
        if command:
            picked = _pick(set(identify.tags_from_interpreter(command[0])))
            if picked:
                return picked
    return "text" if (is_text(head) if text is None else text) else "binary"


def preview(head: bytes, *, max_lines: int = 20, max_chars: int = 1500, text: bool | None = None) -> str | None:
    """The first lines of a text file (None for binaries); decoded leniently, never longer than asked."""
    if not head or not (is_text(head) if text is None else text):
        return None
    limit = max_chars * 4  # UTF-8: at most 4 bytes a character
    decoded = head[:limit].decode("utf-8", "replace")
    if len(head) > limit:
        decoded = decoded.removesuffix("\ufffd")  # a character cut by the limit, not a bad byte
    lines = decoded.splitlines(keepends=True)[:max_lines]
    out = "".join(lines)[:max_chars]
    return out.rstrip("\n") or None
