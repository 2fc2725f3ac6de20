"""pgvector specifics: semantic recall with MiniLM, setup on first use, and a server without pgvector."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ssot_pipelines.ledger import connect, migrate
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors import MiniLMEmbedder, VectorItem, minilm_missing_parts
from ssot_pipelines.vectors.pgvector_store import PgVectorStore

DOCS = {
    "migration": "ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT ''; -- schema migration 0042, "
    "run with alembic upgrade head before deploying",
    "css": ".sidebar { display: flex; gap: 12px; color: var(--muted); } .sidebar a:hover { color: #0055ff }",
    "retry": "Retry the Notion request after the Retry-After header when the API answers 429 Too Many Requests",
    "hook": "The SessionStart hook prints nothing and always exits 0 so Claude Code never blocks",
}


@pytest.mark.skipif(bool(minilm_missing_parts()), reason="MiniLM not installed")
def test_semantic_query_about_database_migration_finds_the_migration_not_the_css(ledger_url: str) -> None:
    embedder = MiniLMEmbedder()
    store = PgVectorStore(ledger_url)
    vectors = embedder.embed(list(DOCS.values()))
    store.upsert("chunks", [VectorItem(k, v, t, {"doc": k}) for (k, t), v in zip(DOCS.items(), vectors, strict=True)])
    hits = store.query("chunks", embedder.embed(["how do we change the database schema?"])[0], top_k=4)
    assert hits[0].id == "migration"
    assert hits[-1].id in {"css", "hook"}
    rate = store.query("chunks", embedder.embed(["we are being rate limited by the API"])[0], top_k=1)
    assert rate[0].id == "retry"
    store.close()


def test_table_and_hnsw_index_are_created_on_first_use(ledger_url: str) -> None:
    with psycopg.connect(ledger_url) as conn:
        assert conn.execute("SELECT to_regclass('ssot.vectors')").fetchone() == (None,)
    store = PgVectorStore(ledger_url)
    assert store.count("anything") == 0
    with psycopg.connect(ledger_url) as conn:
        indexes = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'ssot' AND tablename = 'vectors'"
            )
        }
    assert "hnsw" in indexes["vectors_embedding_hnsw"] and "vector_cosine_ops" in indexes["vectors_embedding_hnsw"]
    store.close()


def test_a_table_of_another_dimension_is_refused_with_the_fix(ledger_url: str) -> None:
    PgVectorStore(ledger_url).count("x")
    with pytest.raises(ConfigurationError, match=r"384-dimensional vectors but the embedder makes 768.*SSOT_EMBEDDER"):
        PgVectorStore(ledger_url, dimension=768).count("x")


def test_top_k_beyond_the_default_search_width_returns_all_matches(ledger_url: str) -> None:
    import random

    rng = random.Random(7)
    store = PgVectorStore(ledger_url)
    items = []
    for i in range(300):
        v = [rng.gauss(0, 1) for _ in range(384)]
        items.append(VectorItem(f"v{i}", v, f"text {i}", {"even": i % 2 == 0}))
    store.upsert("bulk", items)
    assert len(store.query("bulk", items[0].vector, top_k=100)) == 100
    filtered = store.query("bulk", items[0].vector, top_k=100, filter={"even": True})
    assert len(filtered) == 100 and all(h.metadata["even"] for h in filtered)
    store.close()


PG15 = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def plain_postgres15() -> Iterator[str]:
    """Debian's PostgreSQL 15 (no pgvector), run as the postgres user on a private unix socket."""
    if not (PG15 / "initdb").exists() or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs Debian's PostgreSQL 15 and root to start it as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="pg15-"))
    shutil.chown(base, "postgres")
    data = base / "data"
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(PG15 / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_pg,
            str(PG15 / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            f"-k {base} -c listen_addresses=''",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/postgres?host={base}"
    finally:
        subprocess.run([*as_pg, str(PG15 / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_without_pgvector_gets_the_fix_while_the_cache_migration_still_applies(
    plain_postgres15: str,
) -> None:
    with connect(plain_postgres15) as conn:
        assert "0400_embedding_cache.sql" in migrate(conn)
        conn.commit()
    with pytest.raises(ConfigurationError) as caught:
        PgVectorStore(plain_postgres15).count("chunks")
    message = str(caught.value)
    for must in ("no pgvector extension", "embedded PostgreSQL", "install pgvector", "PINECONE_API_KEY"):
        assert must in message
