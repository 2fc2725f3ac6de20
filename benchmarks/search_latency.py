"""``ssot search`` latency over 100,000 transcript chunks: hybrid (pgvector + full-text) and full-text only.

Run: ``.venv/bin/python benchmarks/search_latency.py [--chunks 100000] [--queries 100]``. Builds a throwaway
ledger (POSTGRES_URL or the embedded PostgreSQL, which has pgvector) with ``--chunks`` one-paragraph session
chunks of 40 random words from a 5,000-word vocabulary, embedded with the *hashing* embedder (MiniLM would
take hours on a laptop CPU just to generate the data; the query path is the same), in 1,000 sessions. Then it
times ``UnifiedSearch.search`` (limit 10, five paragraphs of context, every kind asked; only sessions hold
data) for ``--queries`` random 5-word queries, first with pgvector and then full-text only. Prints the median
and p99 per mode. Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from ledger_db import throwaway_ledger
from sessions_common import percentile

from ssot_pipelines.search.engine import UnifiedSearch
from ssot_pipelines.sessions.recall import NAMESPACE
from ssot_pipelines.vectors import HashingEmbedder, VectorItem
from ssot_pipelines.vectors.pgvector_store import PgVectorStore


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnoprstuvwy"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(13)
    words = vocabulary(rng)
    embedder = HashingEmbedder()
    per_session = max(1, args.chunks // args.sessions)
    with throwaway_ledger("search") as (url, conn):
        store = PgVectorStore(url)
        store.count(NAMESPACE)  # creates the table and its indexes
        # Loading 100,000 vectors into a live HNSW index takes most of an hour on two busy cores: drop it for
        # the load and build it once afterwards (the same DDL the store uses), as a bulk import would.
        conn.execute("DROP INDEX IF EXISTS vectors_embedding_hnsw")
        conn.commit()
        started = time.monotonic()
        made = 0
        for s in range(args.sessions):
            key = f"bench-{s:05d}#1"
            texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(per_session)]
            with conn.cursor() as cur:
                with cur.copy("COPY session_paragraphs (session_key, paragraph_no, text) FROM STDIN") as copy:
                    for i, text in enumerate(texts):
                        copy.write_row((key, i, text))
                with cur.copy(
                    "COPY session_chunks (chunk_id, session_key, chunk_no, first_paragraph, last_paragraph,"
                    " text_sha) FROM STDIN"
                ) as copy:
                    for i in range(len(texts)):
                        copy.write_row((f"{key}:{i}", key, i, i, i, "x"))
            conn.commit()
            vectors = embedder.embed(texts)
            store.upsert(
                NAMESPACE,
                [
                    VectorItem(
                        f"{key}:{i}",
                        v,
                        t,
                        {"session_key": key, "chunk_no": i, "first_paragraph": i, "last_paragraph": i},
                    )
                    for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
                ],
            )
            made += len(texts)
        print(f"generated {made} chunks (hashing embedder) in {time.monotonic() - started:.0f}s", flush=True)
        started = time.monotonic()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE INDEX vectors_embedding_hnsw ON vectors USING hnsw (embedding vector_cosine_ops)")
        conn.commit()
        print(f"built the HNSW index in {time.monotonic() - started:.0f}s", flush=True)
        queries = [" ".join(rng.choice(words) for _ in range(5)) for _ in range(args.queries)]
        for mode, engine in (
            ("pgvector + full-text", UnifiedSearch(conn, store, embedder)),
            ("full-text only", UnifiedSearch(conn, None, None)),
        ):
            engine.search(queries[0], limit=10)  # warm-up: not timed
            timings = []
            for q in queries:
                t0 = time.perf_counter()
                engine.search(q, limit=10)
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"{mode:22} {made} chunks, {len(queries)} queries: median {statistics.median(timings):.0f} ms, "
                f"p99 {percentile(timings, 0.99):.0f} ms",
                flush=True,
            )
        store.close()


if __name__ == "__main__":
    main()
