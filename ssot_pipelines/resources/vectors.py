"""Dagster resources for the vector layer: the vector store (Pinecone or pgvector) and the embedder."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.embedder import Embedder, default_embedder_kind, make_embedder
from ssot_pipelines.vectors.store import VectorStore


class VectorsResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """Pinecone when ``pinecone_api_key`` is set (env ``PINECONE_API_KEY``), else pgvector in the ledger.

    ``postgres_url`` None means ``ssot_pipelines.ledger.resolve_postgres_url()`` (``POSTGRES_URL`` or the
    embedded PostgreSQL). The store is built once per resource instance and its connection closed after
    the step.
    """

    # repr=False: the key and a URL with a password must not show when the resource is printed or logged.
    pinecone_api_key: str | None = Field(default=None, repr=False, description="PINECONE_API_KEY")
    pinecone_index: str = Field(default="ssot", description="PINECONE_INDEX")
    pinecone_host: str | None = Field(default=None, description="PINECONE_HOST (skips the index lookup)")
    postgres_url: str | None = Field(default=None, repr=False, description="None: the ledger's PostgreSQL")

    _store: Any = PrivateAttr(default=None)

    def store(self) -> VectorStore:
        """The configured vector store (connects on first use, not here)."""
        if self._store is None:
            self._store = self._build()
        store: VectorStore = self._store
        return store

    def _build(self) -> VectorStore:
        if self.pinecone_api_key:
            from ssot_pipelines.vectors.pinecone_store import PineconeStore

            return PineconeStore(self.pinecone_api_key, self.pinecone_index or "ssot", self.pinecone_host or None)
        from ssot_pipelines.ledger import resolve_postgres_url
        from ssot_pipelines.vectors.pgvector_store import PgVectorStore

        return PgVectorStore(self.postgres_url or resolve_postgres_url())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        close = getattr(self._store, "close", None)
        if close is not None:
            close()


class EmbedderResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """The embedder named by ``kind`` (env ``SSOT_EMBEDDER``): ``minilm`` (default) or ``hashing``.

    An empty ``kind`` means MiniLM when its packages are installed, else hashing.
    """

    kind: str = Field(default="minilm", description="SSOT_EMBEDDER: minilm | hashing")

    def embedder(self, ledger: psycopg.Connection[Any] | None = None) -> Embedder:
        """The embedder; given a ledger connection, wrapped with the embedding cache in that ledger."""
        inner = make_embedder(self.kind or default_embedder_kind())
        return CachedEmbedder(inner, ledger) if ledger is not None else inner
