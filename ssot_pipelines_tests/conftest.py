"""Shared fixtures: a real PostgreSQL, a real Redis and the Notion sandbox over HTTP. No mocks."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ssot_pipelines.ledger import connect, migrate
from ssot_pipelines.services.embedded import (
    embedded_postgres_url,
    embedded_redis_url,
    stop_embedded_postgres,
    stop_embedded_redis,
)

_counter = itertools.count()


@pytest.fixture(scope="session")
def test_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ssot_home")
    os.environ["SSOT_HOME"] = str(home)
    # Empty means "not configured" (the embedded defaults), exactly as definitions.py leaves unset variables.
    for var in (
        "NOTION_TOKEN",
        "NOTION_PARENT_PAGE_ID",
        "NOTION_BASE_URL",
        "POSTGRES_URL",
        "REDIS_URL",
        "PINECONE_API_KEY",
        "PINECONE_HOST",
        "SLACK_WEBHOOK_URL",
    ):
        os.environ[var] = ""
    return home


@pytest.fixture(scope="session")
def postgres_server_url(test_home: Path) -> Iterator[str]:
    """The embedded PostgreSQL 18 (with pgvector) under the test home, stopped after the session."""
    yield embedded_postgres_url(test_home / "postgres")
    stop_embedded_postgres(test_home / "postgres")


@pytest.fixture(scope="session")
def _template_db(postgres_server_url: str) -> str:
    name = f"ssot_template_{os.getpid()}"
    with psycopg.connect(postgres_server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    with connect(_with_db(postgres_server_url, name)) as conn:
        migrate(conn)
        conn.commit()
    return name


def _with_db(url: str, db: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + db
    return f"{base}?{query}" if query else base


@pytest.fixture
def ledger_url(postgres_server_url: str, _template_db: str) -> str:
    """A fresh, migrated ledger database for one test."""
    name = f"ssot_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template_db}"')
    return _with_db(postgres_server_url, name)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    conn = connect(ledger_url)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def redis_dir(test_home: Path) -> Iterator[Path]:
    yield test_home / "redis"
    stop_embedded_redis(test_home / "redis")


@pytest.fixture
def redis_url(redis_dir: Path) -> str:
    """The embedded Redis, flushed for this test (restarted if a previous test stopped it)."""
    import redis

    url = embedded_redis_url(redis_dir)
    redis.Redis.from_url(url).flushall()
    return url


@pytest.fixture
def stop_redis(redis_dir: Path) -> Any:
    """A callable that stops the embedded Redis, to prove outages lose nothing."""
    return lambda: stop_embedded_redis(redis_dir)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Any]:
    """A fresh Notion sandbox on a free loopback port; rate limit lifted unless a test sets one."""
    from ssot_pipelines.sandbox import SandboxServer
    from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN

    server = SandboxServer(
        tmp_path / f"notion-{uuid.uuid4().hex[:8]}.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
