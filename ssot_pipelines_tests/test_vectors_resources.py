"""The vector and embedder resources, used from a materialized Dagster asset."""

from typing import Any

import dagster as dg

from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.vectors import CachedEmbedder, VectorItem
from ssot_pipelines.vectors.pgvector_store import PgVectorStore
from ssot_pipelines.vectors.pinecone_store import PineconeStore
from ssot_pipelines_tests.pinecone_fake import PineconeFake

NOTES = ["rotate the Notion token every 90 days", "the drift sensor runs every five minutes"]


@dg.asset
def indexed_notes(
    context: dg.AssetExecutionContext, vectors: VectorsResource, embedder: EmbedderResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    model = embedder.embedder()
    store = vectors.store()
    store.upsert(
        "notes",
        [
            VectorItem(f"note:{i}", v, t, {"n": i})
            for i, (t, v) in enumerate(zip(NOTES, model.embed(NOTES), strict=True))
        ],
    )
    best = store.query("notes", model.embed(["drift sensor runs every five minutes"])[0], top_k=1)[0]
    return dg.MaterializeResult(
        metadata={"count": store.count("notes"), "best": best.id, "store": type(store).__name__}
    )


def materialize(resources: dict[str, Any]) -> dict[str, Any]:
    result = dg.materialize([indexed_notes], resources=resources)
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("indexed_notes")[0].metadata.items()}


def test_without_a_pinecone_key_vectors_go_to_pgvector(ledger_url: str) -> None:
    meta = materialize(
        {"vectors": VectorsResource(postgres_url=ledger_url), "embedder": EmbedderResource(kind="hashing")}
    )
    assert meta == {"count": 2, "best": "note:1", "store": "PgVectorStore"}
    assert PgVectorStore(ledger_url).count("notes") == 2


def test_with_a_pinecone_key_vectors_go_to_pinecone(ledger_url: str) -> None:
    fake = PineconeFake("pc-key-abcdef").start()
    try:
        resources = {
            "vectors": VectorsResource(
                pinecone_api_key="pc-key-abcdef", pinecone_host=fake.host, postgres_url=ledger_url
            ),
            "embedder": EmbedderResource(kind="hashing"),
        }
        assert materialize(resources) == {"count": 2, "best": "note:1", "store": "PineconeStore"}
        assert len(fake.namespaces["notes"]) == 2
    finally:
        fake.stop()


def test_empty_key_means_pgvector_and_store_is_reused(ledger_url: str) -> None:
    resource = VectorsResource(pinecone_api_key="", postgres_url=ledger_url)
    assert isinstance(resource.store(), PgVectorStore) and resource.store() is resource.store()
    with_key = VectorsResource(pinecone_api_key="pcsk_hidden_key", pinecone_host="http://127.0.0.1:1")
    assert isinstance(with_key.store(), PineconeStore)
    assert "pcsk_hidden_key" not in repr(with_key) + str(with_key) + repr(with_key.store())


def test_embedder_resource_wraps_the_ledger_cache_when_given_a_connection(ledger_url: str) -> None:
    from ssot_pipelines.ledger import connect

    with connect(ledger_url, autocommit=True) as conn:
        model = EmbedderResource(kind="hashing").embedder(conn)
        assert isinstance(model, CachedEmbedder) and model.name == "hashing-v1"
        model.embed(NOTES)
        model.embed(NOTES)
        assert (model.stats.hits, model.stats.misses) == (2, 2)
