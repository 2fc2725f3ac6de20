"""Shared by the benchmarks: the package on sys.path and a throwaway, migrated ledger database."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url  # noqa: E402


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (socket or host, same options)."""
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


@contextmanager
def throwaway_ledger(prefix: str, server_url: str | None = None) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    """A fresh ledger database (on ``server_url``, POSTGRES_URL or the embedded PostgreSQL), dropped after."""
    server = server_url or resolve_postgres_url()
    name = f"ssot_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    url = database_url(server, name)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conn = connect(url)
    try:
        migrate(conn)
        conn.commit()
        yield url, conn
    finally:
        conn.close()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
