"""The append-only local journal that makes every hook event durable before ``ssot-hook`` returns.

Stdlib only: the hook imports this on its hot path.

Layout: ``<journal dir>/<yyyymmdd>.jsonl`` (UTC day), one JSON object per line::

    {"v":1,"id":"hook:<32 hex>","received_at":"2026-11-24T02:46:05.123456Z","tool":"claude-code",
     "stdin":"<exact input>"}

``stdin`` is the hook's input text exactly as received (``stdin_b64`` when it was not UTF-8), so the
ledger can keep the original bytes. Each line is written by one ``write()`` under an exclusive ``flock``
on an ``O_APPEND`` descriptor and fsync'd, so concurrent hooks never interleave and an acknowledged
event survives a crash.
"""

from __future__ import annotations

import fcntl
import os
import time

# The C string encoder json.dumps itself uses (CPython); importing all of json costs the hook several ms.
from _json import encode_basestring as _json_string

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the hook ~2 ms

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RECORD_PREFIX = b'{"v":1,'
JOURNAL_ID_FILE = "journal-id"
_READ_BLOCK = 8 * 1024 * 1024


def journal_dir() -> str:
    """``SSOT_JOURNAL_DIR``, else ``$SSOT_HOME/journal`` (``SSOT_HOME`` defaults to ``./.ssot``)."""
    explicit = os.environ.get("SSOT_JOURNAL_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    home = os.environ.get("SSOT_HOME") or os.path.join(os.getcwd(), ".ssot")
    return os.path.join(os.path.expanduser(home), "journal")


def journal_id(directory: str | os.PathLike[str] | None = None) -> str:
    """The stable identity of a journal directory, from its ``journal-id`` file (created on first use).

    The ledger keys its checkpoints by it, so several machines or journal directories can ship to one
    ledger without sharing offsets. The file is written whole under a temporary name and linked into
    place, so a reader never sees it half written and two creators agree on one id.
    """
    directory = os.fspath(directory or journal_dir())
    path = os.path.join(directory, JOURNAL_ID_FILE)
    try:
        with open(path, encoding="ascii") as fh:
            found = fh.read().strip()
        if found:
            return found
    except FileNotFoundError:
        pass
    os.makedirs(directory, exist_ok=True)
    new = "journal-" + os.urandom(12).hex()
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (new + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process got there first: then its id is the id
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    with open(path, encoding="ascii") as fh:
        found = fh.read().strip()
    if not found:
        raise OSError(f"{path} is empty: delete it and the journal gets a new identity on its next drain")
    return found


def new_event_id() -> str:
    """A random id given at receipt: hook inputs carry no timestamp, so identical inputs must stay distinct."""
    return "hook:" + os.urandom(16).hex()


def encode_record(
    data: bytes, *, tool: str = "claude-code", event_id: str | None = None, received_at: float | None = None
) -> bytes:
    """One journal line (with its newline) for a hook input; ``received_at`` is epoch seconds."""
    now = time.time() if received_at is None else received_at
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"
    head = (
        f'{{"v":1,"id":{_json_string(event_id or new_event_id())},"received_at":"{when}","tool":{_json_string(tool)},'
    )
    try:
        body = '"stdin":' + _json_string(data.decode("utf-8"))
    except UnicodeDecodeError:
        import base64

        body = '"stdin_b64":"' + base64.b64encode(data).decode("ascii") + '"'
    return (head + body + "}\n").encode("utf-8", "surrogatepass")


def segment_path(directory: str | os.PathLike[str], when: float | None = None) -> Path:
    from pathlib import Path

    day = time.strftime("%Y%m%d", time.gmtime(time.time() if when is None else when))
    return Path(directory) / f"{day}.jsonl"


def append(line: bytes, directory: str | os.PathLike[str] | None = None) -> str:
    """Append one encoded record durably (flock + single write + fsync); returns the segment written."""
    directory = os.fspath(directory or journal_dir())
    path = os.path.join(directory, time.strftime("%Y%m%d", time.gmtime()) + ".jsonl")
    created = not os.path.exists(path)
    if created:
        os.makedirs(directory, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        _lock(fd)
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the flock
    if created:
        # The new file's directory entry must be durable too.
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


LOCK_WAIT_SECONDS = 2.0


def _lock(fd: int) -> None:
    """Take the segment's exclusive lock, waiting at most LOCK_WAIT_SECONDS.

    A hook must never hang the assistant: if a writer stalls with the lock held, write anyway. A single
    ``write()`` on an ``O_APPEND`` descriptor of a local file still lands whole, at the end.
    """
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.001)


class JournalRecord:
    """A journal line: its parsed record, and the byte offset just past it."""

    __slots__ = ("end_offset", "record")

    def __init__(self, record: dict[str, object], end_offset: int) -> None:
        self.record = record
        self.end_offset = end_offset


class JournalScan:
    """What reading a segment found beyond good records: bad lines (end offset, bytes), and the unread tail."""

    # Plain classes, not dataclasses: importing dataclasses costs the hook ~7 ms.
    __slots__ = ("incomplete_tail_bytes", "malformed")

    def __init__(self) -> None:
        self.malformed: list[tuple[int, bytes]] = []
        self.incomplete_tail_bytes = 0


def segments(directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """The journal's segments, oldest first."""
    from pathlib import Path

    root = Path(directory or journal_dir())
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.jsonl") if p.is_file())


class CompleteLines:
    """The complete lines of a file from ``offset`` on, each with the offset just past it.

    A last line without its newline is left for later (a writer may be mid-way) and measured in ``tail``;
    ``bytes_read`` counts what was read. Shared by the journal drain and the transcript importer.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.bytes_read = 0
        self.tail = 0

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            pending = b""
            position = self.offset
            while block := fh.read(_READ_BLOCK):
                self.bytes_read += len(block)
                pending += block
                start = 0
                while (nl := pending.find(b"\n", start)) >= 0:
                    yield pending[start:nl], position + nl + 1
                    start = nl + 1
                position += start
                pending = pending[start:]
            self.tail = len(pending)


def read_records(path: Path, offset: int, scan: JournalScan, *, limit: int | None = None) -> Iterator[JournalRecord]:
    """Records from ``offset`` on. A last line without its newline is not consumed (a writer may be mid-way).

    A line that does not parse (a write torn by a crash, then another record appended to it) is split at
    the record prefix so the intact record behind it is still read; unreadable bytes go to ``scan.malformed``.
    """
    produced = 0
    lines = CompleteLines(path, offset)
    for line, end in lines:
        for rec in _parse_line(line, end, scan):
            yield rec
            produced += 1
        if limit is not None and produced >= limit:
            return
    scan.incomplete_tail_bytes = lines.tail


def _parse_line(line: bytes, end: int, scan: JournalScan) -> Iterator[JournalRecord]:
    import json

    if not line.strip():
        return
    try:
        record = json.loads(line)
        if isinstance(record, dict) and "id" in record:
            yield JournalRecord(record, end)
            return
    except (ValueError, RecursionError):
        pass
    cut = line.rfind(RECORD_PREFIX, 1)
    if cut > 0:
        scan.malformed.append((end, line[:cut]))
        yield from _parse_line(line[cut:], end, scan)
        return
    scan.malformed.append((end, line))


def hook_input(record: dict[str, object]) -> bytes:
    """The exact bytes the hook received."""
    if "stdin_b64" in record:
        import base64

        return base64.b64decode(str(record["stdin_b64"]))
    return str(record.get("stdin", "")).encode("utf-8")
