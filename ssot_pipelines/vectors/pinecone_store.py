"""Vectors in Pinecone (SDK ``pinecone`` 10.2.0, REST data plane): the production store.

Pinecone keeps at most 40 KB of metadata per vector, so the full text stays in the ledger and Pinecone gets
a preview of it (complete when it fits) in ``ssot_text``, with ``ssot_text_complete`` saying which.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from ssot_pipelines.settings import ConfigurationError, redact
from ssot_pipelines.vectors.embedder import DIMENSION
from ssot_pipelines.vectors.store import (
    MAX_ID_LENGTH,
    InvalidVectorItem,
    VectorHit,
    VectorItem,
    check_filter,
    check_id,
    check_items,
    check_vector,
    clean_metadata,
)

MAX_METADATA_BYTES = 40 * 1024
MAX_BATCH_VECTORS = 1000
MAX_BATCH_BYTES = 2 * 1024 * 1024
_BATCH_MARGIN = 64 * 1024  # room for the request envelope and the SDK's own encoding
_FETCH_BATCH = 100  # ids travel in the query string of a GET
_TEXT_KEY = "ssot_text"
_COMPLETE_KEY = "ssot_text_complete"
# Pinecone ids are ASCII: every other character (file paths are often not ASCII) is percent-encoded.
_ID_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")

T = TypeVar("T")


def to_pinecone_id(item_id: str) -> str:
    encoded = urllib.parse.quote(item_id, safe=_ID_SAFE)
    if len(encoded) > MAX_ID_LENGTH:
        raise InvalidVectorItem(f"id {item_id[:80]!r} is longer than {MAX_ID_LENGTH} ASCII characters encoded")
    return encoded


def from_pinecone_id(pinecone_id: str) -> str:
    return urllib.parse.unquote(pinecone_id)


def _fit_text(text: str, metadata: dict[str, Any]) -> tuple[str, bool]:
    """The longest prefix of ``text`` that keeps the metadata under Pinecone's 40 KB, and whether it is all."""
    budget = MAX_METADATA_BYTES - len(json.dumps(metadata).encode()) - 256
    if budget <= 0:
        raise InvalidVectorItem(f"metadata is over Pinecone's {MAX_METADATA_BYTES} bytes before any text")
    encoded = json.dumps(text).encode()
    if len(encoded) <= budget:
        return text, True
    # JSON escaping makes byte counts uneven, so shrink until it fits rather than computing a cut.
    cut = min(len(text), budget)
    while cut > 0 and len(json.dumps(text[:cut]).encode()) > budget:
        cut = int(cut * 0.9)
    return text[:cut], False


class PineconeStore:
    """A Pinecone index (dense, cosine, 384-d). Namespaces map to Pinecone namespaces.

    Construction is cheap; the first operation checks the key, host and dimension and fails fast with
    a ConfigurationError naming PINECONE_API_KEY / PINECONE_INDEX / PINECONE_HOST. The key never appears
    in any message.
    """

    def __init__(
        self,
        api_key: str,
        index_name: str = "ssot",
        host: str | None = None,
        *,
        dimension: int = DIMENSION,
        timeout: float = 10.0,
        max_retries: int = 2,
    ) -> None:
        if not api_key:
            raise ConfigurationError("PINECONE_API_KEY is empty; set it, or unset it to use pgvector")
        self.dimension = dimension
        self.index_name = index_name
        self.host = host
        self._api_key = api_key
        self._timeout = timeout
        self._max_retries = max_retries
        self._index: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PineconeStore(index_name={self.index_name!r}, host={self.host!r})"

    def _where(self) -> str:
        return f"PINECONE_HOST={self.host}" if self.host else f"PINECONE_INDEX={self.index_name}"

    def _translate(self, exc: Exception) -> Exception:
        """A ConfigurationError that names the setting to fix, for the errors that mean a wrong setting."""
        from pinecone.errors import (
            ForbiddenError,
            NotFoundError,
            PineconeConnectionError,
            PineconeTimeoutError,
            UnauthorizedError,
        )

        detail = redact(str(exc), self._api_key)
        if isinstance(exc, UnauthorizedError | ForbiddenError):
            return ConfigurationError(
                f"Pinecone rejected PINECONE_API_KEY for {self._where()} ({detail}). Set PINECONE_API_KEY to "
                "a valid key for that project, or unset it to use pgvector."
            )
        if isinstance(exc, NotFoundError) and self._index is None:
            return ConfigurationError(
                f"Pinecone has no index {self.index_name!r} ({detail}). Create it (dense, dimension "
                f"{self.dimension}, metric cosine) or set PINECONE_INDEX / PINECONE_HOST to an existing one."
            )
        if isinstance(exc, PineconeConnectionError | PineconeTimeoutError | OSError):
            return ConfigurationError(
                f"Pinecone at {self._where()} does not answer ({detail}). Check PINECONE_HOST (or "
                "PINECONE_INDEX) and the network, or unset PINECONE_API_KEY to use pgvector."
            )
        return exc

    def _call(self, operation: Callable[[], T]) -> T:
        from pinecone.errors import PineconeError

        try:
            return operation()
        except (PineconeError, OSError) as exc:
            translated = self._translate(exc)
            if translated is not exc:
                raise translated from None
            if self._api_key in str(exc):
                raise RuntimeError(redact(str(exc), self._api_key)) from None
            raise

    def _data_plane(self) -> Any:
        with self._lock:
            if self._index is not None:
                return self._index
            from pinecone import Pinecone, RetryConfig

            client = Pinecone(
                api_key=self._api_key, timeout=self._timeout, retry_config=RetryConfig(max_retries=self._max_retries)
            )
            index = self._call(
                lambda: client.index(host=self.host) if self.host else client.index(name=self.index_name)
            )
            stats = self._call(index.describe_index_stats)
            if stats.dimension is not None and stats.dimension != self.dimension:
                raise ConfigurationError(
                    f"Pinecone index at {self._where()} has dimension {stats.dimension} but the embedder "
                    f"makes {self.dimension}; point PINECONE_INDEX / PINECONE_HOST at a {self.dimension}-d "
                    "cosine index or change SSOT_EMBEDDER"
                )
            if stats.metric is not None and stats.metric != "cosine":
                raise ConfigurationError(
                    f"Pinecone index at {self._where()} uses metric {stats.metric!r}; scores here assume cosine. "
                    "Point PINECONE_INDEX / PINECONE_HOST at a cosine index."
                )
            self._index = index
            return index

    def check(self) -> None:
        """Connect now and verify key, host and dimension (operations otherwise do it on first use)."""
        self._data_plane()

    def upsert(self, namespace: str, items: Sequence[VectorItem]) -> int:
        """Insert or replace by id, in requests of at most 1000 vectors and 2 MB; returns vectors written."""
        check_items(items, self.dimension)
        records = []
        for item in items:
            metadata = clean_metadata(item.id, item.metadata)
            text, complete = _fit_text(item.text, metadata)
            metadata[_TEXT_KEY] = text
            metadata[_COMPLETE_KEY] = complete
            records.append({"id": to_pinecone_id(item.id), "values": list(item.vector), "metadata": metadata})
        index = self._data_plane()
        written = 0
        for batch in _batches(records):
            response = self._call(partial(index.upsert, vectors=batch, namespace=namespace))
            written += int(response.upserted_count)
        return written

    def query(
        self, namespace: str, vector: Sequence[float], top_k: int = 10, filter: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The ``top_k`` most cosine-similar items, best first; ``text`` is the stored preview."""
        check_vector(vector, self.dimension)
        if filter:
            check_filter(filter)
        index = self._data_plane()
        response = self._call(
            lambda: index.query(
                top_k=top_k, vector=list(vector), namespace=namespace, filter=filter or None, include_metadata=True
            )
        )
        hits = []
        for match in response.matches:
            metadata = dict(match.metadata or {})
            text = str(metadata.pop(_TEXT_KEY, ""))
            metadata.pop(_COMPLETE_KEY, None)
            hits.append(VectorHit(from_pinecone_id(match.id), float(match.score), text, metadata))
        return hits

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, VectorItem]:
        """The stored items among ``ids`` (text as stored: see ``ssot_text_complete`` in the module doc)."""
        index = self._data_plane()
        found: dict[str, VectorItem] = {}
        encoded = [to_pinecone_id(i) for i in ids]
        for start in range(0, len(encoded), _FETCH_BATCH):
            batch = encoded[start : start + _FETCH_BATCH]
            response = self._call(partial(index.fetch, ids=batch, namespace=namespace))
            for pinecone_id, stored in response.vectors.items():
                metadata = dict(stored.metadata or {})
                text = str(metadata.pop(_TEXT_KEY, ""))
                metadata.pop(_COMPLETE_KEY, None)
                item_id = from_pinecone_id(pinecone_id)
                found[item_id] = VectorItem(item_id, [float(x) for x in stored.values], text, metadata)
        return found

    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        """Remove ``ids`` from the namespace."""
        for item_id in ids:
            check_id(item_id)
        if not ids:
            return
        index = self._data_plane()
        encoded = [to_pinecone_id(i) for i in ids]
        for start in range(0, len(encoded), MAX_BATCH_VECTORS):
            batch = encoded[start : start + MAX_BATCH_VECTORS]
            self._call(partial(index.delete, ids=batch, namespace=namespace))

    def count(self, namespace: str) -> int:
        """How many vectors the namespace holds (Pinecone's stats are eventually consistent)."""
        index = self._data_plane()
        stats = self._call(index.describe_index_stats)
        summary = stats.namespaces.get(namespace)
        return int(summary.vector_count) if summary is not None else 0


def _batches(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for record in records:
        record_size = len(json.dumps(record).encode())
        if batch and (len(batch) >= MAX_BATCH_VECTORS or size + record_size > MAX_BATCH_BYTES - _BATCH_MARGIN):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record_size
    if batch:
        yield batch
