-- Embeddings already computed, keyed by sha256(embedder name + text), so unchanged text is never
-- embedded twice (drift scoring re-reads thousands of unchanged files). Plain real[]: no extension needed.
CREATE TABLE IF NOT EXISTS embedding_cache (
    content_hash  text PRIMARY KEY,          -- hex sha256 of embedder name, NUL, text
    embedder      text NOT NULL,
    dimension     integer NOT NULL,
    vector        real[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS embedding_cache_embedder ON embedding_cache (embedder);
