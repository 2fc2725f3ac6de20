"""Catalog events (added, changed, deleted, renamed) for drift recomputation and tech-debt linking.

Written to the ledger's outbox in the same transaction as the file state, then published to a Redis
stream (``SSOT_CATALOG_EVENTS_STREAM``, default ``ssot:catalog:events``, trimmed to about
``SSOT_CATALOG_EVENTS_MAXLEN`` entries). A Redis outage loses nothing: unpublished events wait in the
outbox and go out on the next run. Consumers read with ``XREAD``/``XREADGROUP``; each entry's fields are
``kind``, ``repo``, ``key``, ``path``, ``sha`` and, for renames, ``old_key``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis

PUBLISH_BATCH = 1000
OUTBOX_RETENTION_DAYS = 30


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    kind: str  # added | changed | deleted | renamed
    repo: str
    key: str
    path: str
    sha: str | None = None
    old_key: str | None = None

    def fields(self) -> dict[str, str]:
        out = {"kind": self.kind, "repo": self.repo, "key": self.key, "path": self.path}
        if self.sha:
            out["sha"] = self.sha
        if self.old_key:
            out["old_key"] = self.old_key
        return out


def queue_events(conn: psycopg.Connection[Any], events: Iterable[CatalogEvent]) -> int:
    """Add events to the outbox (inside the caller's transaction)."""
    count = 0
    with conn.cursor() as cur, cur.copy("COPY catalog_events (kind, repo, key, path, sha, old_key) FROM STDIN") as copy:
        for e in events:
            copy.write_row((e.kind, e.repo, e.key, e.path, e.sha, e.old_key))
            count += 1
    return count


@dataclass
class PublishOutcome:
    published: int = 0
    pending: int = 0
    error: str | None = None


def publish_pending(
    conn: psycopg.Connection[Any], client: redis.Redis, stream: str, *, maxlen: int = 100_000
) -> PublishOutcome:
    """Publish the outbox in order; on a Redis error stop, keep the rest for the next run."""
    outcome = PublishOutcome()
    while True:
        rows = conn.execute(
            "SELECT id, kind, repo, key, path, sha, old_key FROM catalog_events WHERE published_at IS NULL"
            " ORDER BY id LIMIT %s",
            (PUBLISH_BATCH,),
        ).fetchall()
        conn.commit()
        if not rows:
            break
        try:
            pipe = client.pipeline(transaction=False)
            for r in rows:
                event = CatalogEvent(r["kind"], r["repo"], r["key"], r["path"], r["sha"], r["old_key"])
                pipe.xadd(stream, event.fields(), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
        except redis.RedisError as exc:
            outcome.error = (
                f"catalog events not published ({type(exc).__name__}); they stay in the ledger "
                "and go out on the next run once Redis answers (check REDIS_URL)"
            )
            break
        conn.execute("UPDATE catalog_events SET published_at = now() WHERE id = ANY(%s)", ([r["id"] for r in rows],))
        conn.commit()
        outcome.published += len(rows)
    left = conn.execute("SELECT count(*) AS n FROM catalog_events WHERE published_at IS NULL").fetchone()
    conn.execute(
        "DELETE FROM catalog_events WHERE published_at < now() - make_interval(days => %s)", (OUTBOX_RETENTION_DAYS,)
    )
    conn.commit()
    outcome.pending = int(left["n"]) if left else 0
    return outcome
