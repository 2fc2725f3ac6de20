"""Embedders and vector stores: semantic recall over transcripts, conversations and files.

Nothing heavy is imported here: the MiniLM model, pgvector and Pinecone load only when used.
"""

from ssot_pipelines.vectors.cache import CachedEmbedder, content_hash
from ssot_pipelines.vectors.embedder import (
    DIMENSION,
    Embedder,
    default_embedder_kind,
    embedder_from_env,
    make_embedder,
)
from ssot_pipelines.vectors.hashing import HashingEmbedder
from ssot_pipelines.vectors.minilm import MiniLMEmbedder, minilm_missing_parts
from ssot_pipelines.vectors.pgvector_store import PgVectorStore
from ssot_pipelines.vectors.pinecone_store import PineconeStore
from ssot_pipelines.vectors.store import InvalidVectorItem, VectorHit, VectorItem, VectorStore

__all__ = [
    "DIMENSION",
    "CachedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "InvalidVectorItem",
    "MiniLMEmbedder",
    "PgVectorStore",
    "PineconeStore",
    "VectorHit",
    "VectorItem",
    "VectorStore",
    "content_hash",
    "default_embedder_kind",
    "embedder_from_env",
    "make_embedder",
    "minilm_missing_parts",
]
