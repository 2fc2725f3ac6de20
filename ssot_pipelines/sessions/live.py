"""The Redis layer: each live session as a stream trimmed by age, with a sliding 24-hour TTL.

Redis is a cache of what is active now, never the log: events reach it only after PostgreSQL committed
them, and ``evt:<id>`` guards (SET NX) make a repeated push add nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from ssot_pipelines.sessions.store import Connection

DAY_SECONDS = 86_400
ACTIVE_SET = "sess:active"
PUSH_BATCH = 500


def stream_key(session_id: str) -> str:
    return f"sess:{{{session_id}}}:events"


def push_live(conn: Connection, client: redis.Redis, *, batch: int = PUSH_BATCH) -> int:
    """Push committed events not yet in Redis; events older than 24 h are marked done without pushing."""
    cutoff = datetime.now(UTC) - timedelta(seconds=DAY_SECONDS)
    conn.execute("UPDATE session_events SET live_pushed = true WHERE NOT live_pushed AND ts < %s", (cutoff,))
    conn.commit()
    pushed = 0
    while True:
        rows = conn.execute(
            "SELECT event_id, seq, session_id, kind, ts, raw FROM session_events WHERE NOT live_pushed "
            "ORDER BY seq LIMIT %s",
            (batch,),
        ).fetchall()
        conn.commit()
        if not rows:
            return pushed
        pushed += _push(client, rows)
        conn.execute(
            "UPDATE session_events SET live_pushed = true WHERE event_id = ANY(%s)", ([r["event_id"] for r in rows],)
        )
        conn.commit()


# Atomic per event: the guard, the stream entry, the TTL and the active-set score, or none of them.
_PUSH_ONE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*', 'event_id', ARGV[3], 'kind', ARGV[4], 'ts', ARGV[5],
             'raw', ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
  return 1
end
return 0
"""


def _push(client: redis.Redis, rows: list[dict[str, Any]]) -> int:
    min_id = int((time.time() - DAY_SECONDS) * 1000)
    script = client.register_script(_PUSH_ONE)
    pipe = client.pipeline(transaction=False)
    for row in rows:
        script(
            keys=[f"evt:{row['event_id']}", stream_key(row["session_id"]), ACTIVE_SET],
            args=[
                DAY_SECONDS,
                min_id,
                row["event_id"],
                row["kind"],
                row["ts"].isoformat(),
                row["raw"],
                row["ts"].timestamp(),
                row["session_id"],
            ],
            client=pipe,
        )
    pipe.zremrangebyscore(ACTIVE_SET, "-inf", time.time() - DAY_SECONDS)
    results = pipe.execute()
    return sum(1 for r in results[:-1] if r == 1)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def active_sessions(client: redis.Redis) -> list[tuple[str, float]]:
    """Sessions with an event in the last 24 h, most recent first, as (session_id, last event epoch)."""
    found: Any = client.zrevrangebyscore(ACTIVE_SET, "+inf", time.time() - DAY_SECONDS, withscores=True)
    return [(_text(member), float(score)) for member, score in found]


def recent_events(client: redis.Redis, session_id: str, count: int = 20) -> list[dict[str, str]]:
    """The newest ``count`` events of a live session, oldest first."""
    entries: Any = client.xrevrange(stream_key(session_id), count=count)
    return [{_text(k): _text(v) for k, v in (fields or {}).items()} for _id, fields in reversed(entries or [])]
