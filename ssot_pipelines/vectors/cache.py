"""The embedding cache in the ledger: an embedder wrapper that embeds only text it has not seen."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ssot_pipelines.vectors.embedder import Embedder

_LOOKUP_BATCH = 1000


def _as_real(vector: Sequence[float]) -> list[float]:
    packed = struct.pack(f"{len(vector)}f", *vector)
    return list(struct.unpack(f"{len(vector)}f", packed))


def content_hash(embedder_name: str, text: str) -> str:
    """The cache key: sha256 of the embedder's name and the text (the name changes when the model does)."""
    return hashlib.sha256(f"{embedder_name}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0  # texts answered from the cache
    misses: int = 0  # distinct texts that had to be embedded


class CachedEmbedder:
    """Wraps an embedder with the ``ssot.embedding_cache`` table; same name and dimension as the inner one.

    New vectors are written inside ``conn.transaction()``: on an autocommit connection they are durable at
    once; inside a caller's open transaction they become durable when the caller commits.
    """

    def __init__(self, inner: Embedder, conn: psycopg.Connection[Any]) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.conn = conn
        self.stats = CacheStats()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text; only texts missing from the cache reach the inner embedder."""
        keys = [content_hash(self.name, text) for text in texts]
        found = self._lookup(sorted(set(keys)))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self.stats.hits += len(keys) - sum(1 for k in keys if k in missing)
        self.stats.misses += len(missing)
        if missing:
            fresh = self.inner.embed(list(missing.values()))
            # Rounded to real[] precision now, so a text's vector is identical whether it was cached or not.
            new = {key: _as_real(vector) for key, vector in zip(missing, fresh, strict=True)}
            self._store(new)
            found.update(new)
        return [found[key] for key in keys]

    def _lookup(self, keys: list[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        with self.conn.transaction(), self.conn.cursor() as cur:
            for start in range(0, len(keys), _LOOKUP_BATCH):
                batch = keys[start : start + _LOOKUP_BATCH]
                cur.execute(
                    "SELECT content_hash, vector FROM embedding_cache WHERE content_hash = ANY(%s) AND dimension = %s",
                    (batch, self.dimension),
                )
                for row in cur.fetchall():
                    key, vector = (row["content_hash"], row["vector"]) if isinstance(row, dict) else row
                    found[key] = _as_real(vector)
        return found

    def _store(self, vectors: dict[str, list[float]]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embedding_cache (content_hash, embedder, dimension, vector) "
                "VALUES (%s, %s, %s, %s::real[]) ON CONFLICT (content_hash) DO NOTHING",
                [(key, self.name, self.dimension, vector) for key, vector in vectors.items()],
            )
