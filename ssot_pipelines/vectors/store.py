"""The vector-store contract shared by pgvector and Pinecone, and the metadata and filter rules both obey.

Metadata follows Pinecone's rules everywhere (values are strings, numbers, booleans or lists of strings),
so code that works against pgvector on a laptop also works against Pinecone in production.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MAX_ID_LENGTH = 512


@dataclass(frozen=True)
class VectorItem:
    """One vector to store: a deterministic id (e.g. ``f"{session_id}:{chunk_no}"``), its text and metadata."""

    id: str
    vector: list[float]
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorHit:
    """One query result; ``score`` is the cosine similarity (1 = same direction)."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    """Namespaced vectors with text and metadata. Upserts by id are idempotent."""

    dimension: int

    def upsert(self, namespace: str, items: Sequence[VectorItem]) -> int:
        """Insert or replace ``items`` by id; returns how many were written."""
        ...

    def query(
        self, namespace: str, vector: Sequence[float], top_k: int = 10, filter: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The ``top_k`` nearest items by cosine similarity, best first, among those matching ``filter``."""
        ...

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, VectorItem]:
        """The stored items for those ids that exist."""
        ...

    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        """Remove those ids (ids that do not exist are ignored)."""
        ...

    def count(self, namespace: str) -> int:
        """How many items the namespace holds."""
        ...


class InvalidVectorItem(ValueError):
    """An item or filter the stores cannot hold (bad id, dimension, metadata value or filter operator)."""


def check_items(items: Sequence[VectorItem], dimension: int) -> None:
    """Raise InvalidVectorItem for the first item no store could accept."""
    seen: set[str] = set()
    for item in items:
        check_id(item.id)
        if item.id in seen:
            raise InvalidVectorItem(f"id {item.id!r} appears twice in one upsert")
        seen.add(item.id)
        check_vector(item.vector, dimension, f"vector for {item.id!r}")
        clean_metadata(item.id, item.metadata)


def check_vector(vector: Sequence[float], dimension: int, what: str = "query vector") -> None:
    """Raise InvalidVectorItem for a vector of the wrong width, with NaN/inf, or all zeros.

    An all-zero vector (e.g. a hashing embedding of text without words) has no direction: cosine is
    undefined, pgvector would score it NaN and Pinecone refuses it, so callers must skip such items.
    """
    if len(vector) != dimension:
        raise InvalidVectorItem(f"{what} has {len(vector)} dimensions; the store holds {dimension}")
    if not all(math.isfinite(x) for x in vector):
        raise InvalidVectorItem(f"{what} contains NaN or infinity")
    if not any(vector):
        raise InvalidVectorItem(f"{what} is all zeros (text with nothing to embed); skip it")


def check_id(item_id: str) -> None:
    if not item_id or len(item_id) > MAX_ID_LENGTH or "\x00" in item_id:
        raise InvalidVectorItem(f"vector ids must be 1-{MAX_ID_LENGTH} characters without NUL: {item_id[:80]!r}")


def clean_metadata(item_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata with None values dropped (None means absent); InvalidVectorItem for other types."""
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if not isinstance(key, str) or key.startswith("ssot_"):
            raise InvalidVectorItem(f"metadata key {key!r} of {item_id!r}: keys are strings not starting ssot_")
        if isinstance(value, bool | str | int) or (isinstance(value, float) and math.isfinite(value)):
            clean[key] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            clean[key] = list(value)
        else:
            raise InvalidVectorItem(
                f"metadata {key!r} of {item_id!r} is a {type(value).__name__}; values must be strings, "
                "numbers, booleans or lists of strings"
            )
    return clean


COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
LOGICAL = ("$and", "$or")


def check_filter(filter: Mapping[str, Any]) -> None:
    """Raise InvalidVectorItem unless ``filter`` uses only the operators both stores support.

    ``{"kind": "file"}`` means ``$eq``; ``{"tags": "x"}`` also matches a list that contains ``"x"``;
    ``$in``/``$nin`` take lists; ``$and``/``$or`` take lists of filters.
    """
    for key, condition in filter.items():
        if key in LOGICAL:
            if not isinstance(condition, list) or not condition:
                raise InvalidVectorItem(f"{key} takes a non-empty list of filters")
            for sub in condition:
                if not isinstance(sub, Mapping):
                    raise InvalidVectorItem(f"{key} takes a list of filters, got {sub!r}")
                check_filter(sub)
        elif key.startswith("$"):
            raise InvalidVectorItem(f"unknown filter operator {key}; use {', '.join(COMPARISONS + LOGICAL)}")
        elif isinstance(condition, Mapping):
            for op, operand in condition.items():
                if op not in COMPARISONS:
                    raise InvalidVectorItem(f"unknown filter operator {op} on {key!r}")
                if op in ("$in", "$nin") and not isinstance(operand, list):
                    raise InvalidVectorItem(f"{op} on {key!r} takes a list")
                if op in ("$gt", "$gte", "$lt", "$lte") and (
                    isinstance(operand, bool) or not isinstance(operand, int | float)
                ):
                    raise InvalidVectorItem(f"{op} on {key!r} takes a number")
                if op == "$exists" and not isinstance(operand, bool):
                    raise InvalidVectorItem(f"$exists on {key!r} takes true or false")
