"""Vectors in PostgreSQL with pgvector: the default store, in the ledger database."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ssot_pipelines.ledger import LEDGER_SCHEMA, connect
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors.embedder import DIMENSION
from ssot_pipelines.vectors.store import (
    VectorHit,
    VectorItem,
    check_filter,
    check_id,
    check_items,
    check_vector,
    clean_metadata,
)

TABLE = f"{LEDGER_SCHEMA}.vectors"
_SETUP_LOCK = 0x55_07_0400  # advisory lock: two processes creating the extension at once would collide
_UPSERT_BATCH = 500

NO_PGVECTOR = (
    "the PostgreSQL server used for vectors has no pgvector extension (CREATE EXTENSION vector is not "
    "available there; Debian's PostgreSQL 15 does not ship it). Fix one of: unset POSTGRES_URL to use the "
    "embedded PostgreSQL, which includes pgvector; install pgvector on that server (e.g. build it from "
    "source with postgresql-server-dev-15, then `make install`); or set PINECONE_API_KEY (with "
    "PINECONE_INDEX or PINECONE_HOST) to keep vectors in Pinecone."
)


class PgVectorStore:
    """``ssot.vectors(namespace, id, embedding vector(N), text, metadata jsonb)`` with an HNSW cosine index.

    The extension, table and indexes are created on first use. Full texts are stored: nothing is cut.
    """

    def __init__(self, conn_url: str, *, dimension: int = DIMENSION) -> None:
        self.dimension = dimension
        self._url = conn_url
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._iterative_scan = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                conn = connect(self._url, autocommit=True)
                try:
                    self._setup(conn)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
            return self._conn

    def _setup(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        from pgvector.psycopg import register_vector

        available = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        if available is None:
            raise ConfigurationError(NO_PGVECTOR)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.errors.InsufficientPrivilege:
                raise ConfigurationError(
                    "pgvector is installed on the PostgreSQL server but this user may not create the "
                    "extension; ask a superuser to run `CREATE EXTENSION vector` in the ledger database, "
                    "or set PINECONE_API_KEY to use Pinecone."
                ) from None
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " namespace text NOT NULL, id text NOT NULL,"
                f" embedding vector({self.dimension}) NOT NULL,"
                " text text NOT NULL, metadata jsonb NOT NULL DEFAULT '{}'::jsonb,"
                " updated_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (namespace, id))"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS vectors_embedding_hnsw ON {TABLE} USING hnsw (embedding vector_cosine_ops)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS vectors_metadata ON {TABLE} USING gin (metadata jsonb_path_ops)")
            row = conn.execute(
                "SELECT a.atttypmod AS width, e.extversion AS version FROM pg_attribute a, pg_extension e "
                "WHERE a.attrelid = %s::regclass AND a.attname = 'embedding' AND e.extname = 'vector'",
                (TABLE,),
            ).fetchone()
        assert row is not None
        if row["width"] != self.dimension:
            raise ConfigurationError(
                f"{TABLE} holds {row['width']}-dimensional vectors but the embedder makes {self.dimension}; "
                f"use a matching embedder (SSOT_EMBEDDER) or move the old table aside"
            )
        major, minor = (int(part) for part in str(row["version"]).split(".")[:2])
        # Iterative scans (pgvector 0.8) keep filtered HNSW queries from returning fewer than top_k rows.
        self._iterative_scan = (major, minor) >= (0, 8)
        register_vector(conn)

    def upsert(self, namespace: str, items: Sequence[VectorItem]) -> int:
        """Insert or replace by (namespace, id); returns how many were written."""
        import numpy as np

        check_items(items, self.dimension)
        rows = [
            (
                namespace,
                item.id,
                np.asarray(item.vector, dtype=np.float32),
                item.text.replace("\x00", "\ufffd"),  # PostgreSQL text cannot hold NUL
                Jsonb(clean_metadata(item.id, item.metadata)),
            )
            for item in items
        ]
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            for start in range(0, len(rows), _UPSERT_BATCH):
                cur.executemany(
                    f"INSERT INTO {TABLE} (namespace, id, embedding, text, metadata) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (namespace, id) DO UPDATE SET "
                    "embedding = EXCLUDED.embedding, text = EXCLUDED.text, metadata = EXCLUDED.metadata, "
                    "updated_at = now()",
                    rows[start : start + _UPSERT_BATCH],
                )
        return len(rows)

    def query(
        self, namespace: str, vector: Sequence[float], top_k: int = 10, filter: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The ``top_k`` most cosine-similar items, best first (approximate: HNSW)."""
        import numpy as np

        check_vector(vector, self.dimension)
        if top_k < 1:
            return []
        where, params = _compile_filter(filter) if filter else ("TRUE", [])
        query_vector = np.asarray(vector, dtype=np.float32)
        conn = self._connection()
        with conn.transaction():
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(min(1000, max(40, top_k))),))
            if self._iterative_scan:
                conn.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
            rows = conn.execute(
                f"SELECT id, 1 - (embedding <=> %s) AS score, text, metadata FROM {TABLE} "
                f"WHERE namespace = %s AND ({where}) ORDER BY embedding <=> %s LIMIT %s",
                [query_vector, namespace, *params, query_vector, top_k],
            ).fetchall()
        return [VectorHit(r["id"], float(r["score"]), r["text"], dict(r["metadata"])) for r in rows]

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, VectorItem]:
        """The stored items among ``ids``."""
        if not ids:
            return {}
        rows = (
            self._connection()
            .execute(
                f"SELECT id, embedding, text, metadata FROM {TABLE} WHERE namespace = %s AND id = ANY(%s)",
                (namespace, list(ids)),
            )
            .fetchall()
        )
        return {r["id"]: VectorItem(r["id"], _as_list(r["embedding"]), r["text"], dict(r["metadata"])) for r in rows}

    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        """Remove ``ids`` from the namespace."""
        for item_id in ids:
            check_id(item_id)
        if ids:
            self._connection().execute(
                f"DELETE FROM {TABLE} WHERE namespace = %s AND id = ANY(%s)", (namespace, list(ids))
            )

    def count(self, namespace: str) -> int:
        """How many items the namespace holds."""
        row = (
            self._connection()
            .execute(f"SELECT count(*) AS n FROM {TABLE} WHERE namespace = %s", (namespace,))
            .fetchone()
        )
        return int(row["n"]) if row else 0


def _compile_filter(filter: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """SQL over ``metadata`` for a filter, with its parameters (keys are parameters too, never SQL)."""
    check_filter(filter)
    parts: list[str] = []
    params: list[Any] = []
    for key, condition in filter.items():
        if key in ("$and", "$or"):
            compiled = [_compile_filter(sub) for sub in condition]
            parts.append("(" + (" AND " if key == "$and" else " OR ").join(sql for sql, _ in compiled) + ")")
            for _, sub_params in compiled:
                params.extend(sub_params)
            continue
        ops = condition if isinstance(condition, Mapping) else {"$eq": condition}
        for op, operand in ops.items():
            sql, op_params = _compile_comparison(key, op, operand)
            parts.append(sql)
            params.extend(op_params)
    return " AND ".join(parts) or "TRUE", params


def _equals(key: str, value: Any) -> tuple[str, list[Any]]:
    if isinstance(value, str):
        # A string also matches a list of strings that contains it, as in Pinecone.
        return "(metadata @> %s OR metadata @> %s)", [Jsonb({key: value}), Jsonb({key: [value]})]
    return "metadata @> %s", [Jsonb({key: value})]


def _compile_comparison(key: str, op: str, operand: Any) -> tuple[str, list[Any]]:
    if op == "$eq":
        return _equals(key, operand)
    if op == "$ne":
        sql, params = _equals(key, operand)
        return f"NOT {sql}", params
    if op in ("$in", "$nin"):
        if not operand:
            return ("FALSE" if op == "$in" else "TRUE"), []
        pieces = [_equals(key, value) for value in operand]
        sql = "(" + " OR ".join(p for p, _ in pieces) + ")"
        params = [param for _, ps in pieces for param in ps]
        return (sql if op == "$in" else f"NOT {sql}"), params
    if op == "$exists":
        return ("metadata ? %s" if operand else "NOT metadata ? %s"), [key]
    symbol = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
    # CASE, not AND: PostgreSQL may evaluate AND operands in any order, and a cast of a string would fail.
    return (
        f"(CASE WHEN jsonb_typeof(metadata -> %s) = 'number' THEN (metadata ->> %s)::numeric {symbol} %s "
        "ELSE false END)",
        [key, key, operand],
    )


def _as_list(embedding: Any) -> list[float]:
    # pgvector's adapter returns a numpy array in some versions and its own Vector type in others.
    values = embedding.to_list() if hasattr(embedding, "to_list") else embedding.tolist()
    return [float(x) for x in values]
