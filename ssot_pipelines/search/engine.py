"""Hybrid search: vector similarity and PostgreSQL full-text, fused with reciprocal rank fusion (RRF), with
exact identifiers first.

Each kind of record is asked through its own package's ``search_queries`` module (this package writes no SQL
on another package's tables): ``fulltext_refs``, ``exact_refs``, ``describe`` and, for the kinds with recall
vectors (sessions, Slack), ``VECTOR_NAMESPACE``/``vector_ref``. Refs are the unit both rankings share (a
recall chunk for transcripts and conversations, a file key, an issue id, a task or activity id), so RRF adds
up the evidence of both lists for the same unit. A ref matching the query as an exact identifier (a session
id, a file path, a rule code, a task id) ranks above every fused result.

Vectors come from the configured store (pgvector by default, Pinecone when configured). When the store is
pgvector on a PostgreSQL without the extension, search goes on with full-text only and says so once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ssot_pipelines.search.model import CONTEXT, KINDS, Doc, Hit, or_tsquery
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors import Embedder, VectorStore

log = logging.getLogger(__name__)

RRF_K = 60  # the constant of Cormack et al. (2009); dampens the weight of the first few ranks
EXACT_BONUS = 1.0  # more than any RRF sum (at most 2 / (RRF_K + 1)), so exact matches always come first
CANDIDATES = 50  # per list and kind: enough for the fused top N
# A vector store always returns its top k, related or not. Below this cosine a neighbour is noise (MiniLM and
# the hashing embedder both score unrelated texts well under it), and counting it would let kinds with
# vectors outrank a full-text match of a kind without them.
MIN_SIMILARITY = 0.2


def source(kind: str) -> ModuleType:
    """The ``search_queries`` module of ``kind``'s package (imported when first searched)."""
    import importlib

    package = {"sessions": "sessions", "slack": "slack", "files": "catalog", "tech_debt": "analysis", "tasks": "tasks"}[
        kind
    ]
    return importlib.import_module(f"ssot_pipelines.{package}.search_queries")


@dataclass
class SearchResult:
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)


class UnifiedSearch:
    """One search front over the ledger and the vector store; keeps the "no vectors" note to say it once."""

    def __init__(
        self,
        conn: Any,
        store: VectorStore | None,
        embedder: Embedder | None,
        *,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.store = store
        self.embedder = embedder
        self.on_note = on_note
        self.vectors_unavailable: str | None = None
        self._indexed = False

    def _note(self, text: str, notes: list[str]) -> None:
        notes.append(text)
        if self.on_note is not None:
            self.on_note(text)

    def _without_vectors(self, exc: ConfigurationError, notes: list[str]) -> None:
        """Note (once per UnifiedSearch) that vectors are unavailable; search goes on with full-text only."""
        self.vectors_unavailable = str(exc)
        self._note(f"vector search unavailable, using full-text only: {exc}", notes)

    def _vector_refs(self, kind: str, module: ModuleType, vector: list[float] | None, limit: int) -> list[str]:
        namespace = getattr(module, "VECTOR_NAMESPACE", None)
        if namespace is None or vector is None or self.store is None:
            return []
        return [
            module.vector_ref(h.id, h.metadata)
            for h in self.store.query(namespace, vector, top_k=limit)
            if h.score >= MIN_SIMILARITY
        ]

    def search(
        self, query: str, kinds: Sequence[str] = KINDS, *, limit: int = 10, around: int = CONTEXT
    ) -> SearchResult:
        """The ``limit`` best hits for ``query`` among ``kinds``, each with ``around`` units of context."""
        notes: list[str] = []
        text = query.strip()
        if not text:
            return SearchResult([], notes)
        modules = {kind: source(kind) for kind in kinds}
        if not self._indexed:
            for module in modules.values():
                ensure = getattr(module, "ensure_fulltext_index", None)
                if ensure is not None:
                    ensure(self.conn)
            self._indexed = True
        vector: list[float] | None = None
        wants_vectors = any(hasattr(m, "VECTOR_NAMESPACE") for m in modules.values())
        if wants_vectors and self.store is not None and self.embedder is not None and not self.vectors_unavailable:
            try:
                [vector] = self.embedder.embed([text])
                if not any(vector):
                    vector = None  # nothing to embed (punctuation only): full-text and exact still apply
            except ConfigurationError as exc:
                self._without_vectors(exc, notes)
                vector = None
        tsquery = or_tsquery(text)
        scores: dict[tuple[str, str], float] = {}
        reasons: dict[tuple[str, str], list[str]] = {}
        for kind, module in modules.items():
            exact = module.exact_refs(self.conn, text)
            for rank, ref in enumerate(exact):
                self._add(scores, reasons, (kind, ref), EXACT_BONUS + 1.0 / (RRF_K + rank + 1), "exact")
            lists = [("fulltext", module.fulltext_refs(self.conn, tsquery, CANDIDATES) if tsquery else [])]
            if vector is not None:
                try:
                    lists.append(("vector", self._vector_refs(kind, module, vector, CANDIDATES)))
                except ConfigurationError as exc:  # pgvector missing on the configured PostgreSQL
                    self._without_vectors(exc, notes)
                    vector = None
            for why, refs in lists:
                for rank, ref in enumerate(refs):
                    self._add(scores, reasons, (kind, ref), 1.0 / (RRF_K + rank + 1), why)
        ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        hits: list[Hit] = []
        for (kind, ref), score in ordered:
            if len(hits) >= limit:
                break
            doc: Doc | None = modules[kind].describe(self.conn, ref, around)
            if doc is None:  # the vector index can lag behind the ledger: a chunk that is gone is skipped
                continue
            hits.append(Hit(doc, score, reasons[(kind, ref)]))
        self._attach_urls(hits)
        return SearchResult(hits, notes)

    @staticmethod
    def _add(
        scores: dict[tuple[str, str], float],
        reasons: dict[tuple[str, str], list[str]],
        key: tuple[str, str],
        score: float,
        why: str,
    ) -> None:
        scores[key] = scores.get(key, 0.0) + score
        if why not in reasons.setdefault(key, []):
            reasons[key].append(why)

    def _attach_urls(self, hits: list[Hit]) -> None:
        from ssot_pipelines.notion.desired import last_target, page_urls

        by_db: dict[str, list[Hit]] = {}
        for hit in hits:
            by_db.setdefault(hit.doc.database, []).append(hit)
        for database, group in by_db.items():
            target = last_target(self.conn, database)
            if target is None:
                continue
            urls = page_urls(self.conn, target, database, [h.doc.notion_key for h in group])
            for hit in group:
                hit.notion_url = urls.get(hit.doc.notion_key)
        self.conn.commit()


def parse_kinds(text: str | None) -> list[str]:
    """``--in sessions,slack`` as a list; ValueError naming the unknown kind and the valid ones."""
    if not text:
        return list(KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"--in {text!r}: unknown kind {', '.join(unknown) or '(none)'}; use a comma-separated "
            f"list of {', '.join(KINDS)}"
        )
    return list(dict.fromkeys(kinds))
