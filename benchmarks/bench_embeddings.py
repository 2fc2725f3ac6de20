"""Embedding and vector-store figures: model load time, texts/second, pgvector upsert and query latency.

Run: ``.venv/bin/python benchmarks/bench_embeddings.py`` (uses POSTGRES_URL or the embedded PostgreSQL,
in a throwaway database that is dropped afterwards). Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url  # noqa: E402
from ssot_pipelines.vectors import (  # noqa: E402
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    VectorItem,
    minilm_missing_parts,
)
from ssot_pipelines.vectors.pgvector_store import PgVectorStore  # noqa: E402

SNIPPETS = 1_000
STORE_VECTORS = 10_000
QUERIES = 200


def snippets(n: int) -> list[str]:
    """Realistic inputs: 12-line windows of this repository's code, SQL and docs, plus transcript-like turns."""
    sources = sorted(p for p in ROOT.rglob("*") if p.suffix in {".py", ".sql", ".md"} and ".venv" not in p.parts)
    windows: list[str] = []
    for path in sources:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        windows.extend("\n".join(lines[i : i + 12]) for i in range(0, len(lines), 12) if any(lines[i : i + 12]))
    rng = random.Random(42)
    turns = [
        "user: why did the sync archive {n} rows? assistant: the mass-deletion guard held them back",
        "user: run the tests for module_{n} assistant: 3 failed in test_sync_{n}.py, fixing the fixture",
        "assistant: I'll add a migration 0{n}_add_index.sql so the ledger query stops scanning",
    ]
    while len(windows) < n:
        windows.append(rng.choice(turns).format(n=rng.randint(1, 9999)))
    rng.shuffle(windows)
    return windows[:n]


def throughput(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def bench_embedders(texts: list[str]) -> None:
    chars = sum(len(t) for t in texts)
    print(f"inputs: {len(texts)} snippets, mean {chars / len(texts):.0f} characters")
    missing = minilm_missing_parts()
    if missing:
        print(f"MiniLM: not installed ({', '.join(missing)})")
    else:
        minilm = MiniLMEmbedder()
        started = time.perf_counter()
        minilm.load()
        print(f"MiniLM int8 ONNX load: {time.perf_counter() - started:.2f} s")
        minilm.embed(texts[:8])  # first run allocates onnxruntime's buffers
        print(f"MiniLM int8 ONNX: {throughput(minilm, texts):.0f} texts/s (on {os.cpu_count()} CPUs)")
    print(f"hashing: {throughput(HashingEmbedder(), texts):.0f} texts/s")


def bench_pgvector(texts: list[str]) -> None:
    server_url = resolve_postgres_url()
    name = f"ssot_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        with connect(url) as conn:
            migrate(conn)
            conn.commit()
            cached = CachedEmbedder(HashingEmbedder(), conn)
            cached.embed(texts)
            conn.commit()
            started = time.perf_counter()
            cached.embed(texts)
            print(f"embedding cache, all {len(texts)} hits: {len(texts) / (time.perf_counter() - started):.0f} texts/s")

        rng = random.Random(7)
        items = []
        for i in range(STORE_VECTORS):
            vector = [rng.gauss(0.0, 1.0) for _ in range(384)]
            items.append(VectorItem(f"chunk:{i}", vector, texts[i % len(texts)], {"kind": ("file", "session")[i % 2]}))
        store = PgVectorStore(url)
        store.count("bench")  # extension, table and indexes: not part of the upsert figure
        started = time.perf_counter()
        for start in range(0, len(items), 1_000):
            store.upsert("bench", items[start : start + 1_000])
        elapsed = time.perf_counter() - started
        print(
            f"pgvector upsert {STORE_VECTORS} vectors (HNSW maintained): {elapsed:.2f} s, "
            f"{STORE_VECTORS / elapsed:.0f} vectors/s"
        )
        started = time.perf_counter()
        store.upsert("bench", items[:1_000])
        print(f"pgvector re-upsert 1000 unchanged ids: {time.perf_counter() - started:.2f} s")

        for label, flt in (("top-10 query", None), ("top-10 query, filter kind=session", {"kind": "session"})):
            latencies = []
            for q in range(QUERIES):
                probe = [rng.gauss(0.0, 1.0) for _ in range(384)]
                started = time.perf_counter()
                store.query("bench", probe, top_k=10, filter=flt)
                latencies.append((time.perf_counter() - started) * 1000)
                del q
            latencies.sort()
            print(
                f"pgvector {label} over {STORE_VECTORS}: median {statistics.median(latencies):.2f} ms, "
                f"p95 {latencies[int(0.95 * len(latencies))]:.2f} ms"
            )
        store.close()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    texts = snippets(SNIPPETS)
    bench_embedders(texts)
    bench_pgvector(texts)


if __name__ == "__main__":
    main()
