"""Shared by the session benchmarks: a throwaway ledger database on POSTGRES_URL or the embedded server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url  # noqa: E402


@contextmanager
def throwaway_ledger() -> Iterator[str]:
    """A migrated database dropped afterwards; yields its URL."""
    server_url = resolve_postgres_url()
    name = f"ssot_bench_sessions_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        with connect(url) as conn:
            migrate(conn)
            conn.commit()
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
