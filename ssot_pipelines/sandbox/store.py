"""Sandbox state: every object as a JSON record in memory, written through to SQLite on commit.

Keeping the working set in memory makes queries over tens of thousands of rows cheap; SQLite (WAL) is
the durable copy so a restart on the same file sees the same workspace, ids included.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .ids import new_id
from .richtext import text_item

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind TEXT NOT NULL, seq INTEGER NOT NULL,
                                    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

ROOT_TITLE = "SecondBrain"


class Store:
    """All objects keyed by id; mutate only inside ``transaction()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _claim(self.path)
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self.objects: dict[str, Record] = {}
        self.rows: dict[str, list[str]] = {}
        self._dirty: set[str] = set()
        self._depth = 0
        self._seq = 0
        self._load()
        self.root_page_id = self._meta_or_create("root_page_id", self._create_root_page)
        self.bot_user_id = self._meta_or_create("bot_user_id", new_id)
        self.person_user_id = self._meta_or_create("person_user_id", new_id)

    def _load(self) -> None:
        self.objects.clear()
        self.rows.clear()
        for _id, data, seq in self._conn.execute("SELECT id, data, seq FROM objects ORDER BY seq"):
            rec = json.loads(data)
            self.objects[_id] = rec
            self._seq = max(self._seq, seq)
            self._index(rec)

    def _index(self, rec: Record) -> None:
        if rec["kind"] == "page" and rec["parent"]["type"] == "data_source_id":
            self.rows.setdefault(rec["parent"]["data_source_id"], []).append(rec["id"])

    def _meta_or_create(self, key: str, create: Any) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row:
            return str(row[0])
        value = str(create())
        self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

    def _create_root_page(self) -> str:
        with self.transaction():
            now = time.time()
            page = {
                "id": new_id(),
                "kind": "page",
                "parent": {"type": "workspace", "workspace": True},
                "props": {"title": [text_item(ROOT_TITLE)]},
                "children": [],
                "created": now,
                "edited": now,
                "in_trash": False,
            }
            self.insert(page)
        return str(page["id"])

    # -- access -------------------------------------------------------------------------------------

    def get(self, object_id: str, kind: str | None = None) -> Record | None:
        rec = self.objects.get(object_id)
        if rec is None or (kind is not None and rec["kind"] != kind):
            return None
        return rec

    def insert(self, rec: Record) -> Record:
        self._seq += 1
        rec["seq"] = self._seq
        self.objects[rec["id"]] = rec
        self._index(rec)
        self._dirty.add(rec["id"])
        return rec

    def touch(self, rec: Record) -> None:
        """Mark a record changed so the commit persists it; call it before mutating (see transaction)."""
        self._dirty.add(rec["id"])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Serialise a mutation; on success persist every touched record, on failure restore from disk."""
        with self.lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                # Most failures are validation errors raised before any change; only a partly applied
                # mutation needs the (costly) reload of the last committed state.
                if self._dirty and self._depth == 1:
                    self._dirty.clear()
                    self._load()
                raise
            else:
                if self._depth == 1:  # nested transactions (bulk seeding) commit once, at the outermost
                    self._flush()
            finally:
                self._depth -= 1

    def _flush(self) -> None:
        if not self._dirty:
            return
        rows = [(i, r["kind"], r["seq"], json.dumps(r)) for i in self._dirty if (r := self.objects.get(i))]
        self._dirty.clear()
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT OR REPLACE INTO objects (id, kind, seq, data) VALUES (?, ?, ?, ?)", rows)
        self._conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._conn.close()
            self._lock_file.close()


def _claim(path: Path) -> IO[bytes]:
    """Hold an exclusive lock on ``path``: two servers caching one file in memory would diverge."""
    handle = open(path.with_name(path.name + ".lock"), "wb")  # noqa: SIM115  (held until close())
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(f"{path} is already served by another Notion sandbox") from None
    return handle
