"""Connections to the ledger database and its versioned migrations."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ssot_pipelines.services.embedded import embedded_postgres_url
from ssot_pipelines.settings import ConfigurationError, env, redact

LEDGER_SCHEMA = "ssot"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_MIGRATION_LOCK = 0x55_07_1EDE  # advisory lock id: one migrator at a time


def resolve_postgres_url(url: str | None = None) -> str:
    """``url`` or ``POSTGRES_URL`` when set (checked to answer), else the embedded PostgreSQL."""
    url = url or env("POSTGRES_URL")
    if url is None:
        return embedded_postgres_url()
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        raise ConfigurationError(
            f"POSTGRES_URL is set but PostgreSQL does not answer ({redact(str(exc).strip(), url)}). "
            "Check the host, port, database and credentials in POSTGRES_URL, or unset it to use the "
            "embedded PostgreSQL."
        ) from None
    return url


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[dict[str, Any]]:
    """A connection whose rows are dicts and whose search_path starts with the ledger schema."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        raise ConfigurationError(
            f"cannot connect to the ledger PostgreSQL ({redact(str(exc).strip(), url)}); "
            "check POSTGRES_URL or unset it for the embedded default"
        ) from None
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}")
        cur.execute(f"SET search_path TO {LEDGER_SCHEMA}, public")
    if not autocommit:
        conn.commit()
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """All packaged migrations as (version, name, sql), in order."""
    found = []
    for entry in resources.files("ssot_pipelines.ledger.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {[n for _, n, _ in found]}")
    return found


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return the names applied."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_SCHEMA}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            r[0] if isinstance(r, tuple) else r["version"]
            for r in conn.execute(f"SELECT version FROM {LEDGER_SCHEMA}.schema_migrations").fetchall()
        }
        for version, name, sql in migrations():
            if version in done:
                continue
            conn.execute(sql)  # type: ignore[arg-type]  # packaged SQL, not user input
            conn.execute(
                f"INSERT INTO {LEDGER_SCHEMA}.schema_migrations (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(name)
    return applied
