"""Embedders: MiniLM (real int8 ONNX model, offline), the hashing embedder, the choice from the environment
and the embedding cache in the ledger."""

from __future__ import annotations

import math
from typing import Any

import psycopg
import pytest

from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors import (
    CachedEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
    embedder_from_env,
    minilm_missing_parts,
)

needs_minilm = pytest.mark.skipif(
    bool(minilm_missing_parts()), reason=f"MiniLM parts missing: {minilm_missing_parts()}"
)

MIGRATION = "Add a database migration that creates the users table and backfills the email column"
CSS = "button.primary { color: #fff; background-color: #0055ff; border-radius: 4px; padding: 8px }"
COOKING = "Simmer the tomato sauce with garlic and basil for twenty minutes"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


@needs_minilm
def test_minilm_puts_a_schema_change_question_next_to_the_migration_not_the_css() -> None:
    embedder = MiniLMEmbedder()
    query, migration, css, cooking = embedder.embed(
        ["how do I write a database schema migration?", MIGRATION, CSS, COOKING]
    )
    assert cosine(query, migration) > 0.4
    assert cosine(query, migration) > cosine(query, css) + 0.3
    assert cosine(query, migration) > cosine(query, cooking) + 0.3


@needs_minilm
def test_minilm_vectors_are_384d_unit_length_and_deterministic() -> None:
    embedder = MiniLMEmbedder()
    first = embedder.embed([MIGRATION, ""])
    assert [len(v) for v in first] == [384, 384]
    assert [norm(v) for v in first] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert MiniLMEmbedder().embed([MIGRATION])[0] == pytest.approx(first[0], abs=1e-6)
    assert embedder.embed([]) == []


@needs_minilm
def test_minilm_sees_the_end_of_a_long_file() -> None:
    """A file far longer than one 256-token window still changes vector when only its tail changes."""
    body = "\n".join(f"def handler_{i}(request):\n    return render(request, 'page_{i}.html')" for i in range(80))
    before, after = MiniLMEmbedder().embed([body, body + "\n\nclass PaymentGateway:\n    def charge(self): ..."])
    assert cosine(before, after) < 0.9999


def test_importing_the_vector_layer_loads_no_model_or_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ssot_pipelines.vectors, ssot_pipelines.resources.vectors; "
        "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'pinecone', 'pgvector') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hashing_embedder_is_deterministic_normalised_and_ranks_near_duplicates_first() -> None:
    embedder = HashingEmbedder()
    texts = [MIGRATION, CSS, COOKING]
    vectors = embedder.embed(texts)
    assert vectors == HashingEmbedder().embed(texts)
    assert [len(v) for v in vectors] == [384] * 3
    assert [norm(v) for v in vectors] == pytest.approx([1.0] * 3)
    near = embedder.embed(["Add a DB migration that creates the users table and backfills email"])[0]
    scores = [cosine(near, v) for v in vectors]
    assert scores[0] > 0.6 and scores[0] > max(scores[1:]) + 0.4
    # identifiers meet their words: camelCase is split
    ident, words = embedder.embed(["parseConfigFile", "parse config file"])
    assert cosine(ident, words) > 0.5
    assert embedder.embed(["!!!"])[0] == [0.0] * 384


def test_embedder_from_env_honours_ssot_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSOT_EMBEDDER", "hashing")
    assert embedder_from_env().name == "hashing-v1"
    monkeypatch.setenv("SSOT_EMBEDDER", "word2vec")
    with pytest.raises(ConfigurationError, match=r"SSOT_EMBEDDER='word2vec'.*minilm, hashing"):
        embedder_from_env()
    monkeypatch.delenv("SSOT_EMBEDDER")
    expected = "hashing-v1" if minilm_missing_parts() else "all-MiniLM-L6-v2-int8"
    assert embedder_from_env().name == expected


def test_explicit_minilm_without_its_tokenizer_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("SSOT_EMBEDDER", "minilm")
    monkeypatch.setenv("SSOT_MINILM_TOKENIZER", str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError, match=r"tokenizer\.json.*SSOT_EMBEDDER=hashing"):
        embedder_from_env()


def test_cache_embeds_unchanged_text_once_across_connections(ledger_url: str) -> None:
    from ssot_pipelines.ledger import connect

    texts = [MIGRATION, CSS, MIGRATION, COOKING]
    with connect(ledger_url) as conn:
        first = CachedEmbedder(HashingEmbedder(), conn)
        vectors = first.embed(texts)
        conn.commit()
        assert (first.stats.hits, first.stats.misses) == (0, 3)  # the repeated text is embedded once
    with connect(ledger_url) as conn:
        second = CachedEmbedder(HashingEmbedder(), conn)
        assert second.embed(texts) == vectors
        assert second.embed([CSS, "new text"])[0] == vectors[1]
        assert (second.stats.hits, second.stats.misses) == (5, 1)
        rows = conn.execute(
            "SELECT embedder, dimension, count(*) AS n FROM embedding_cache GROUP BY embedder, dimension"
        ).fetchall()
        assert rows == [{"embedder": "hashing-v1", "dimension": 384, "n": 4}]
    assert vectors[0] == pytest.approx(HashingEmbedder().embed([MIGRATION])[0], abs=1e-6)


@needs_minilm
def test_cache_keys_on_the_embedder_so_models_never_mix(ledger_url: str) -> None:
    from ssot_pipelines.ledger import connect

    with connect(ledger_url, autocommit=True) as conn:
        hashed = CachedEmbedder(HashingEmbedder(), conn).embed([MIGRATION])[0]
        semantic = CachedEmbedder(MiniLMEmbedder(), conn)
        assert semantic.embed([MIGRATION])[0] != hashed
        assert semantic.stats.misses == 1


def test_cache_table_needs_no_extension_on_plain_postgres(ledger_url: str) -> None:
    with psycopg.connect(ledger_url) as conn:
        column = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'ssot' "
            "AND table_name = 'embedding_cache' AND column_name = 'vector'"
        ).fetchone()
    assert column == ("ARRAY",)
