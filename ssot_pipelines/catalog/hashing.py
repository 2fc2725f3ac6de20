"""Git blob SHA-1 of a file, streamed so memory stays flat however large the file is.

Equal to ``git hash-object --no-filters`` (and to ``git hash-object`` wherever no clean filter or
``core.autocrlf`` conversion applies). A symlink's blob is its target text, as git stores it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

CHUNK = 1 << 20
HEAD_BYTES = 8192  # enough for the preview and the text/binary check


class FileChangedWhileHashing(RuntimeError):
    """The file's size or timestamps moved while it was read: the digest would describe no real version."""


class NotARegularFile(RuntimeError):
    """The path became a FIFO, socket, device or directory after the walk saw a file."""


@dataclass(frozen=True, slots=True)
class BlobDigest:
    sha: str
    size: int
    head: bytes  # the first HEAD_BYTES bytes (for symlinks: the target)
    mtime_ns: int
    ctime_ns: int
    ino: int
    mode: int


def blob_sha_of_bytes(data: bytes) -> str:
    """The git blob SHA of in-memory content."""
    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


def hash_symlink(path: str) -> BlobDigest:
    target = os.readlink(os.fsencode(path))
    st = os.lstat(path)
    return BlobDigest(
        blob_sha_of_bytes(target), len(target), target, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode
    )


def hash_file(path: str, buffer: bytearray | None = None) -> BlobDigest:
    """Stream a regular file through SHA-1 with git's blob header; raise if it changes under us."""
    # O_NONBLOCK: a path swapped for a FIFO since the walk must not hang the scan.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise NotARegularFile(path)
        size = before.st_size
        h = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        if size <= HEAD_BYTES:
            data = os.read(fd, size + 1)
            h.update(data)
            head, read = data, len(data)
        else:
            buf = buffer if buffer is not None else bytearray(CHUNK)
            view = memoryview(buf)
            head = b""
            read = 0
            with open(fd, "rb", buffering=0, closefd=False) as fh:
                while True:
                    n = fh.readinto(view)
                    if not n:
                        break
                    if not head:
                        head = bytes(view[: min(n, HEAD_BYTES)])
                    h.update(view[:n])
                    read += n
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (
        read != size
        or after.st_size != size
        or after.st_mtime_ns != before.st_mtime_ns
        or after.st_ctime_ns != before.st_ctime_ns
    ):
        raise FileChangedWhileHashing(path)
    return BlobDigest(h.hexdigest(), size, head, before.st_mtime_ns, before.st_ctime_ns, before.st_ino, before.st_mode)


def hash_path(path: str, *, is_symlink: bool, attempts: int = 3, buffer: bytearray | None = None) -> BlobDigest:
    """Hash a file or symlink, retrying a file that changed while it was read."""
    if is_symlink:
        return hash_symlink(path)
    for _ in range(attempts - 1):
        try:
            return hash_file(path, buffer)
        except FileChangedWhileHashing:
            continue
    return hash_file(path, buffer)
