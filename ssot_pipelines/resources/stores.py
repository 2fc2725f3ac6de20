"""The ledger PostgreSQL and Redis as Dagster resources; empty values mean the embedded defaults."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import redis
from pydantic import Field, PrivateAttr

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url
from ssot_pipelines.notion.setup import resolve_redis_url


class PostgresResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """The ledger database. ``url`` empty: the embedded PostgreSQL under SSOT_HOME."""

    url: str = Field(default="", repr=False, description="POSTGRES_URL (may hold a password)")
    _resolved: str | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        if self._resolved is None:
            self._resolved = resolve_postgres_url(self.url or None)
        return self._resolved

    def connect(self) -> psycopg.Connection[dict[str, Any]]:
        """A migrated ledger connection (the caller closes it)."""
        conn = connect(self.resolved_url())
        migrate(conn)
        conn.commit()
        return conn


class RedisResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """Redis for live streams, the shared Notion pacer and sensor signals. Empty: embedded Redis."""

    url: str = Field(default="", repr=False, description="REDIS_URL (may hold a password)")
    _resolved: str | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        if self._resolved is None:
            self._resolved = resolve_redis_url(self.url or None)
        return self._resolved

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.resolved_url(), socket_timeout=5)
